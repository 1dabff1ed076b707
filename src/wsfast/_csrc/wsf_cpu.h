/* Run-time choice of SIMD kernels.
 *
 * Every kernel file is compiled with its own ISA flags; which one *runs* is
 * decided here from what the CPU and the OS report, never from how the build
 * machine was configured.  The levels themselves are the rows of
 * wsf_levels.h; this header turns them into an enum and the queries below.
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

/* WSF_ARCH_<arch> is 1 when the kernel files of that `arch` column are
 * compiled for this target.  A universal (multi-architecture) build compiles
 * no ISA kernel at all; setup.py then defines WSF_NO_ISA_KERNELS. */
#define WSF_ARCH_ANY 1
#if defined(WSF_X86) && !defined(WSF_NO_ISA_KERNELS)
#define WSF_ARCH_X86 1
#else
#define WSF_ARCH_X86 0
#endif
#if defined(WSF_ARM64) && !defined(WSF_NO_ISA_KERNELS)
#define WSF_ARCH_ARM64 1
#else
#define WSF_ARCH_ARM64 0
#endif

/* The CPU features the detector knows (the `features` column).  AVX2 is set
 * only when the OS also saves the YMM registers. */
#define WSF_CPU_SSE2 0x1u
#define WSF_CPU_SSSE3 0x2u
#define WSF_CPU_AVX2 0x4u
#define WSF_CPU_NEON 0x8u

/* WSF_LEVEL_<name>, in the order of the rows. */
enum wsf_level {
#define WSF_LEVEL(name, arch, cc_flags, msvc_flags, features, borrows) WSF_LEVEL_##name,
#include "wsf_levels.h"
    WSF_LEVEL_COUNT
};

/* What this CPU and OS offer, as WSF_CPU_* bits (detected once). */
unsigned wsf_cpu_features(void);

/* 1 if this build has kernels of `level` and this CPU (and OS) can run them. */
int wsf_level_supported(int level);

/* The level a unit without a kernel of its own at `level` runs instead
 * (`level` itself for portable). */
int wsf_level_borrows(int level);

/* The row's name ("portable", "sse2", ...), or "unknown". */
const char *wsf_level_name(int level);

/* The level for a name, or -1. */
int wsf_level_from_name(const char *name);

#endif
