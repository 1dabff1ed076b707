/* The SIMD levels, one row each.  The only list of them: the C dispatch
 * (wsf_cpu.c, the <unit>_portable.c files), setup.py (which kernel files to
 * compile, with which flags) and the tests all read these rows.
 *
 *   WSF_LEVEL(name, arch, cc_flags, msvc_flags, features, borrows)
 *
 * name        what WSFAST_SIMD, wsfast.SIMD and `python -m wsfast --simd` call
 *             the level; also the suffix of its kernel files: <unit>_<name>.c
 *             defines wsf_<unit>_<name>.
 * arch        ANY, X86 or ARM64: the target the kernel files are compiled for
 *             (on any other target a file of this level is not compiled).
 * cc_flags    what gcc and clang need to emit the level's instructions; never
 *             -march=native.  msvc_flags: the same for MSVC.
 * features    the CPU features (WSF_CPU_* in wsf_cpu.h) the kernels use; the
 *             level is offered only where wsf_cpu.c detects all of them.
 * borrows     the level whose kernel a unit runs at this level when it has no
 *             <unit>_<name>.c of its own (SSSE3 adds nothing to a plain XOR,
 *             so masking at ssse3 runs the sse2 kernel).  A chain of borrows
 *             ends at portable, which every unit has.
 *
 * Rows go from the least preferred to the most preferred: the level chosen at
 * import is the last row the CPU can run.  Adding a level is a row here and a
 * kernel file per unit that gains one; a level that needs a CPU feature the
 * detector does not know yet also needs that bit in wsf_cpu.h and wsf_cpu.c.
 *
 * Include this file after defining WSF_LEVEL; it undefines it at the end.
 * setup.py parses the rows with a regular expression: one row per line,
 * string literals for the flags, no other macros here.
 */
WSF_LEVEL(portable, ANY,   "",        "",           0,                                          portable)
WSF_LEVEL(sse2,     X86,   "-msse2",  "",           WSF_CPU_SSE2,                               portable)
WSF_LEVEL(ssse3,    X86,   "-mssse3", "",           WSF_CPU_SSE2 | WSF_CPU_SSSE3,               sse2)
WSF_LEVEL(avx2,     X86,   "-mavx2",  "/arch:AVX2", WSF_CPU_SSE2 | WSF_CPU_SSSE3 | WSF_CPU_AVX2, ssse3)
WSF_LEVEL(neon,     ARM64, "",        "",           WSF_CPU_NEON,                               portable)

#undef WSF_LEVEL
