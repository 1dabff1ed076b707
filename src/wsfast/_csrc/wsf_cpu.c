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

static unsigned wsf_detect(void) {
    unsigned r[4], found = 0;
    int max_leaf;
    wsf_cpuid(0, 0, r);
    max_leaf = (int)r[0];
    if (max_leaf < 1)
        return 0;
    wsf_cpuid(1, 0, r);
    if ((r[3] >> 26) & 1)
        found |= WSF_CPU_SSE2;
    if ((r[2] >> 9) & 1)
        found |= WSF_CPU_SSSE3;
    /* AVX2 also needs the OS to save YMM state: OSXSAVE and AVX in leaf 1,
     * XCR0 bits 1 and 2, then the AVX2 bit of leaf 7. */
    if (((r[2] >> 27) & 1) && ((r[2] >> 28) & 1) && max_leaf >= 7 && (wsf_xgetbv0() & 6) == 6) {
        wsf_cpuid(7, 0, r);
        if ((r[1] >> 5) & 1)
            found |= WSF_CPU_AVX2;
    }
    return found;
}
#elif defined(WSF_ARM64)
/* Advanced SIMD is part of the AArch64 baseline. */
static unsigned wsf_detect(void) { return WSF_CPU_NEON; }
#else
static unsigned wsf_detect(void) { return 0; }
#endif

unsigned wsf_cpu_features(void) {
    /* One word, so that a racing first call can only store the same value. */
    static int cached = -1;
    int found = cached;
    if (found < 0) {
        found = (int)wsf_detect();
        cached = found;
    }
    return (unsigned)found;
}

static const struct {
    const char *name;
    int built;         /* the row's kernel files are compiled for this target */
    unsigned features; /* WSF_CPU_* bits its kernels need */
    int borrows;
} wsf_levels[WSF_LEVEL_COUNT] = {
#define WSF_LEVEL(name, arch, cc_flags, msvc_flags, features, borrows) \
    {#name, WSF_ARCH_##arch, (features), WSF_LEVEL_##borrows},
#include "wsf_levels.h"
};

int wsf_level_supported(int level) {
    if (level < 0 || level >= WSF_LEVEL_COUNT || !wsf_levels[level].built)
        return 0;
    return (wsf_cpu_features() & wsf_levels[level].features) == wsf_levels[level].features;
}

int wsf_level_borrows(int level) {
    if (level < 0 || level >= WSF_LEVEL_COUNT)
        return WSF_LEVEL_portable;
    return wsf_levels[level].borrows;
}

const char *wsf_level_name(int level) {
    if (level < 0 || level >= WSF_LEVEL_COUNT)
        return "unknown";
    return wsf_levels[level].name;
}

int wsf_level_from_name(const char *name) {
    int i;
    for (i = 0; i < WSF_LEVEL_COUNT; i++)
        if (strcmp(name, wsf_levels[i].name) == 0)
            return i;
    return -1;
}
