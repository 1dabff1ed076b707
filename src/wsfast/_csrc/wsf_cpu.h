/* Run-time choice of SIMD kernels.
 *
 * Every kernel file is compiled with its own ISA flags; which one *runs* is
 * decided here from what the CPU and the OS report, never from how the build
 * machine was configured.  Levels are ordered within an architecture: a
 * higher level may use everything a lower one does.
 */
#ifndef WSF_CPU_H
#define WSF_CPU_H

#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#define WSF_X86 1
#endif
#if defined(__aarch64__) || defined(_M_ARM64) || defined(_M_ARM64EC)
#define WSF_ARM64 1
#endif

enum wsf_level {
    WSF_PORTABLE = 0,
    WSF_SSE2 = 1,
    WSF_SSSE3 = 2,
    WSF_AVX2 = 3,
    WSF_NEON = 4,
    WSF_LEVEL_COUNT = 5
};

/* 1 if this CPU (and OS, for AVX state) can run kernels of `level` and this
 * build contains them. */
int wsf_level_supported(int level);

/* The fastest supported level. */
int wsf_level_best(void);

/* "portable", "sse2", "ssse3", "avx2", "neon". */
const char *wsf_level_name(int level);

/* The level for a name, or -1. */
int wsf_level_from_name(const char *name);

#endif
