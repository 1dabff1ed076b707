#include "wsf_cpu.h"

#include <string.h>

#if defined(WSF_X86)
#if defined(_MSC_VER)
#include <intrin.h>
static void wsf_cpuid(int leaf, int sub, unsigned regs[4]) {
    int r[4];
    __cpuidex(r, leaf, sub);
    regs[0] = (unsigned)r[0]; regs[1] = (unsigned)r[1];
    regs[2] = (unsigned)r[2]; regs[3] = (unsigned)r[3];
}
static uint64_t wsf_xgetbv0(void) { return (uint64_t)_xgetbv(0); }
#else
#include <cpuid.h>
static void wsf_cpuid(int leaf, int sub, unsigned regs[4]) {
    regs[0] = regs[1] = regs[2] = regs[3] = 0;
    __cpuid_count(leaf, sub, regs[0], regs[1], regs[2], regs[3]);
}
static uint64_t wsf_xgetbv0(void) {
    /* Spelled as bytes so that no -mxsave flag is needed for this file. */
    uint32_t eax, edx;
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}
#endif

static int wsf_x86_features(void) {
    static int cached = -1;
    unsigned r[4];
    int max_leaf, level = WSF_PORTABLE;
    if (cached >= 0)
        return cached;
    wsf_cpuid(0, 0, r);
    max_leaf = (int)r[0];
    if (max_leaf >= 1) {
        wsf_cpuid(1, 0, r);
        int sse2 = (r[3] >> 26) & 1;
        int ssse3 = (r[2] >> 9) & 1;
        int osxsave = (r[2] >> 27) & 1;
        int avx = (r[2] >> 28) & 1;
        if (sse2)
            level = WSF_SSE2;
        if (sse2 && ssse3)
            level = WSF_SSSE3;
        /* AVX2 also needs the OS to save YMM state (XCR0 bits 1 and 2). */
        if (level == WSF_SSSE3 && osxsave && avx && max_leaf >= 7 &&
            (wsf_xgetbv0() & 6) == 6) {
            wsf_cpuid(7, 0, r);
            if ((r[1] >> 5) & 1)
                level = WSF_AVX2;
        }
    }
    cached = level;
    return level;
}
#endif

int wsf_level_supported(int level) {
    switch (level) {
    case WSF_PORTABLE:
        return 1;
#if defined(WSF_X86)
    case WSF_SSE2:
    case WSF_SSSE3:
    case WSF_AVX2:
        return wsf_x86_features() >= level;
#endif
#if defined(WSF_ARM64)
    case WSF_NEON:
        return 1; /* Advanced SIMD is part of the AArch64 baseline. */
#endif
    default:
        return 0;
    }
}

int wsf_level_best(void) {
    static const int order[] = {WSF_AVX2, WSF_NEON, WSF_SSSE3, WSF_SSE2};
    size_t i;
    for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
        if (wsf_level_supported(order[i]))
            return order[i];
    return WSF_PORTABLE;
}

static const char *const wsf_names[WSF_LEVEL_COUNT] = {
    "portable", "sse2", "ssse3", "avx2", "neon"};

const char *wsf_level_name(int level) {
    if (level < 0 || level >= WSF_LEVEL_COUNT)
        return "unknown";
    return wsf_names[level];
}

int wsf_level_from_name(const char *name) {
    int i;
    for (i = 0; i < WSF_LEVEL_COUNT; i++)
        if (strcmp(name, wsf_names[i]) == 0)
            return i;
    return -1;
}
