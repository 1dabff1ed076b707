/* Streaming UTF-8 validation (RFC 3629), shared by every kernel variant.
 *
 * A kernel validates data[0:n] continuing from *state and returns -1 when
 * every byte can still begin valid UTF-8, else the index of the earliest
 * impossible byte.  The state is a small DFA state number so that a code
 * point split across calls is checked byte by byte, as soon as each byte
 * arrives; 0 means "at a code point boundary".  After an error *state is
 * WSF_UTF8_FAILED, and from that state every byte is impossible.
 *
 * The SIMD kernels only ever *detect* that a block holds an error; the exact
 * byte is always found by the scalar DFA below, re-run from the last code
 * point boundary before that block, so every variant reports the same index.
 */
#ifndef WSF_UTF8_H
#define WSF_UTF8_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "wsf_cpu.h"

/* DFA states.  Each state other than ACCEPT names the range the next byte
 * must fall in and the state that follows it. */
enum {
    WSF_U8_ACCEPT = 0,
    WSF_U8_NEED1 = 1,  /* 80..BF, then ACCEPT */
    WSF_U8_NEED2 = 2,  /* 80..BF, then NEED1 */
    WSF_U8_E0 = 3,     /* A0..BF (no overlong 3-byte form) */
    WSF_U8_ED = 4,     /* 80..9F (no surrogate) */
    WSF_U8_NEED3 = 5,  /* 80..BF, then NEED2 */
    WSF_U8_F0 = 6,     /* 90..BF (no overlong 4-byte form) */
    WSF_U8_F4 = 7,     /* 80..8F (nothing above U+10FFFF) */
    WSF_U8_NSTATES = 8
};
#define WSF_UTF8_FAILED 0xFFu

typedef ptrdiff_t wsf_utf8_kernel_fn(uint32_t *state, const unsigned char *data, size_t n);
typedef wsf_utf8_kernel_fn *wsf_utf8_fn;

/* wsf_utf8_<level> for every row of wsf_levels.h; only those with a
 * utf8_<level>.c are defined. */
#define WSF_LEVEL(name, arch, cc_flags, msvc_flags, features, borrows) wsf_utf8_kernel_fn wsf_utf8_##name;
#include "wsf_levels.h"

/* The kernel to run at `level` (its own, or the one the level borrows), or
 * NULL when this build or this CPU cannot run that level. */
wsf_utf8_fn wsf_utf8_kernel(int level);

/* The DFA tables (utf8_portable.c). */
extern const uint8_t wsf_u8_lead[256];          /* ACCEPT + byte -> state, FAILED if impossible */
extern const uint8_t wsf_u8_lo[WSF_U8_NSTATES];   /* smallest allowed next byte */
extern const uint8_t wsf_u8_span[WSF_U8_NSTATES]; /* hi - lo */
extern const uint8_t wsf_u8_next[WSF_U8_NSTATES];

/* One DFA step; returns the new state or WSF_UTF8_FAILED. */
static inline uint32_t wsf_u8_step(uint32_t st, unsigned char c) {
    if (st == WSF_U8_ACCEPT)
        return wsf_u8_lead[c];
    if (st >= WSF_U8_NSTATES || (unsigned char)(c - wsf_u8_lo[st]) > wsf_u8_span[st])
        return WSF_UTF8_FAILED;
    return wsf_u8_next[st];
}

/* Scalar validation of data[i:n] from *state; same contract as a kernel, the
 * returned index counted from data.  Used by every variant for chunk edges and
 * to pin down an error that a SIMD block reported. */
ptrdiff_t wsf_utf8_scalar_from(uint32_t *state, const unsigned char *data, size_t i, size_t n);

/* Finish a pending code point from a previous call: runs the DFA over at most
 * three bytes.  Returns -1 and sets *pos to the first byte after it, or the
 * index of an impossible byte. */
static inline ptrdiff_t wsf_u8_head(uint32_t *state, const unsigned char *data, size_t n,
                                    size_t *pos) {
    uint32_t st = *state;
    size_t i = 0;
    while (st != WSF_U8_ACCEPT && i < n) {
        st = wsf_u8_step(st, data[i]);
        if (st == WSF_UTF8_FAILED) {
            *state = WSF_UTF8_FAILED;
            return (ptrdiff_t)i;
        }
        i++;
    }
    *state = st;
    *pos = i;
    return -1;
}

/* The start of the code point that is unfinished at data[end], given that
 * data[start:end] passed the block checks and start is a boundary: a lead
 * byte among the last three that needs more bytes than remain. */
static inline size_t wsf_u8_rewind(const unsigned char *data, size_t start, size_t end) {
    if (end >= start + 1 && data[end - 1] >= 0xC0)
        return end - 1;
    if (end >= start + 2 && data[end - 2] >= 0xE0)
        return end - 2;
    if (end >= start + 3 && data[end - 3] >= 0xF0)
        return end - 3;
    return end;
}


/* ---- The lookup algorithm of Keiser & Lemire (2021), shared by the SIMD
 * kernels.  Each byte is classified by three 16-entry tables indexed by the
 * high nibble of the previous byte, the low nibble of the previous byte and
 * the high nibble of the byte itself; an error class survives the AND only
 * if all three nibbles allow it.  One bit per class of bad two-byte pair: */
#define WSF_U8_TOO_SHORT 0x01   /* lead byte, then no continuation */
#define WSF_U8_TOO_LONG 0x02    /* ASCII, then a continuation */
#define WSF_U8_OVERLONG3 0x04   /* E0 80..9F */
#define WSF_U8_TOO_LARGE 0x08   /* F4 90..BF, F5..FF 90..BF */
#define WSF_U8_SURROGATE 0x10   /* ED A0..BF */
#define WSF_U8_OVERLONG2 0x20   /* C0/C1 then a continuation */
#define WSF_U8_OVERLONG4 0x40   /* F0 80..8F, and F5..FF 80..8F */
#define WSF_U8_TWO_CONTS 0x80   /* continuation, continuation: fine only as
                                   byte 3 or 4, which prev2/prev3 decide */
#define WSF_U8_ANY (WSF_U8_TOO_SHORT | WSF_U8_TOO_LONG | WSF_U8_TWO_CONTS)

/* Indexed by the previous byte's high nibble. */
#define WSF_U8_TABLE_PREV_HI                                                     \
    WSF_U8_TOO_LONG, WSF_U8_TOO_LONG, WSF_U8_TOO_LONG, WSF_U8_TOO_LONG,          \
    WSF_U8_TOO_LONG, WSF_U8_TOO_LONG, WSF_U8_TOO_LONG, WSF_U8_TOO_LONG,          \
    WSF_U8_TWO_CONTS, WSF_U8_TWO_CONTS, WSF_U8_TWO_CONTS, WSF_U8_TWO_CONTS,      \
    WSF_U8_TOO_SHORT | WSF_U8_OVERLONG2,                                         \
    WSF_U8_TOO_SHORT,                                                            \
    WSF_U8_TOO_SHORT | WSF_U8_OVERLONG3 | WSF_U8_SURROGATE,                      \
    WSF_U8_TOO_SHORT | WSF_U8_TOO_LARGE | WSF_U8_OVERLONG4

/* Indexed by the previous byte's low nibble. */
#define WSF_U8_TABLE_PREV_LO                                                     \
    WSF_U8_ANY | WSF_U8_OVERLONG3 | WSF_U8_OVERLONG2 | WSF_U8_OVERLONG4,         \
    WSF_U8_ANY | WSF_U8_OVERLONG2,                                               \
    WSF_U8_ANY, WSF_U8_ANY,                                                      \
    WSF_U8_ANY | WSF_U8_TOO_LARGE,                                               \
    WSF_U8_ANY | WSF_U8_TOO_LARGE | WSF_U8_OVERLONG4,                            \
    WSF_U8_ANY | WSF_U8_TOO_LARGE | WSF_U8_OVERLONG4,                            \
    WSF_U8_ANY | WSF_U8_TOO_LARGE | WSF_U8_OVERLONG4,                            \
    WSF_U8_ANY | WSF_U8_TOO_LARGE | WSF_U8_OVERLONG4,                            \
    WSF_U8_ANY | WSF_U8_TOO_LARGE | WSF_U8_OVERLONG4,                            \
    WSF_U8_ANY | WSF_U8_TOO_LARGE | WSF_U8_OVERLONG4,                            \
    WSF_U8_ANY | WSF_U8_TOO_LARGE | WSF_U8_OVERLONG4,                            \
    WSF_U8_ANY | WSF_U8_TOO_LARGE | WSF_U8_OVERLONG4,                            \
    WSF_U8_ANY | WSF_U8_TOO_LARGE | WSF_U8_OVERLONG4 | WSF_U8_SURROGATE,         \
    WSF_U8_ANY | WSF_U8_TOO_LARGE | WSF_U8_OVERLONG4,                            \
    WSF_U8_ANY | WSF_U8_TOO_LARGE | WSF_U8_OVERLONG4

/* Indexed by the current byte's high nibble. */
#define WSF_U8_CONT_8                                                            \
    (WSF_U8_TOO_LONG | WSF_U8_TWO_CONTS | WSF_U8_OVERLONG2 | WSF_U8_OVERLONG3 |  \
     WSF_U8_OVERLONG4)
#define WSF_U8_CONT_9                                                            \
    (WSF_U8_TOO_LONG | WSF_U8_TWO_CONTS | WSF_U8_OVERLONG2 | WSF_U8_OVERLONG3 |  \
     WSF_U8_TOO_LARGE)
#define WSF_U8_CONT_AB                                                           \
    (WSF_U8_TOO_LONG | WSF_U8_TWO_CONTS | WSF_U8_OVERLONG2 | WSF_U8_SURROGATE |  \
     WSF_U8_TOO_LARGE)
#define WSF_U8_TABLE_CUR_HI                                                      \
    WSF_U8_TOO_SHORT, WSF_U8_TOO_SHORT, WSF_U8_TOO_SHORT, WSF_U8_TOO_SHORT,      \
    WSF_U8_TOO_SHORT, WSF_U8_TOO_SHORT, WSF_U8_TOO_SHORT, WSF_U8_TOO_SHORT,      \
    WSF_U8_CONT_8, WSF_U8_CONT_9, WSF_U8_CONT_AB, WSF_U8_CONT_AB,                \
    WSF_U8_TOO_SHORT, WSF_U8_TOO_SHORT, WSF_U8_TOO_SHORT, WSF_U8_TOO_SHORT

/* Shuffle indices that move the last r bytes of a 16-byte vector to its
 * front and zero the rest (an index with the top bit set selects zero for
 * pshufb and vqtbl1q alike): load 16 entries from offset 16 - r. */
static const uint8_t wsf_u8_tail_shuffle[32] = {
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80};

#endif /* WSF_UTF8_H */

/* ---- The block driver, instantiated once per SIMD kernel file.  The file
 * defines wsf_vec, WSF_VEC_BYTES and the inline operations v_load, v_zero,
 * v_load_tail (d[i:n] then zeros, for n - i < WSF_VEC_BYTES <= n),
 * v_or, v_is_ascii (no byte >= 0x80), v_any (some bit set), v_check (the
 * error bits of a block given the block before it) and v_incomplete (a lead
 * byte in the last three that needs more bytes than the block has), then
 * defines WSF_U8_DRIVER to the kernel's name and includes this header again.
 *
 * Blocks are checked two at a time; a pair that is all ASCII costs one OR and
 * one test.  A failed pair is not decoded further: the scalar DFA re-runs from
 * the last code point boundary before it and finds the exact byte. */
#if defined(WSF_U8_DRIVER) && !defined(WSF_U8_DRIVER_DONE)
#define WSF_U8_DRIVER_DONE
/* Inputs shorter than one block: the DFA, unless the file names a narrower
 * kernel. */
#ifndef WSF_U8_SHORT
#define WSF_U8_SHORT(state, d, n) wsf_utf8_scalar_from(state, d, 0, n)
#endif
ptrdiff_t WSF_U8_DRIVER(uint32_t *state, const unsigned char *d, size_t n) {
    const size_t B = WSF_VEC_BYTES;
    size_t start = 0, i;
    ptrdiff_t r;
    wsf_vec prev, inc, a, b;

    if (n < B)
        return WSF_U8_SHORT(state, d, n);
    r = wsf_u8_head(state, d, n, &start);
    if (r >= 0)
        return r;
    prev = inc = v_zero(); /* before `start`, as if ASCII: it is a boundary */
    for (i = start; i + 2 * B <= n; i += 2 * B) {
        a = v_load(d + i);
        b = v_load(d + i + B);
        if (v_is_ascii(v_or(a, b))) {
            if (v_any(inc))
                goto rescan;
        } else {
            if (v_any(v_or(v_check(a, prev), v_check(b, a))))
                goto rescan;
            inc = v_incomplete(b);
        }
        prev = b;
    }
    if (i + B <= n) {
        a = v_load(d + i);
        if (v_any(v_check(a, prev)))
            goto rescan;
        prev = a;
        i += B;
    }
    if (i < n) {
        /* The last partial block, zero-filled (v_load_tail shuffles it out of
         * the last B bytes of the input, never reading outside it).  Zeros
         * are ASCII, so a code point left unfinished at n shows as an error,
         * which the rescan tells apart from a real one. */
        if (v_any(v_check(v_load_tail(d, i, n), prev)))
            goto rescan;
        *state = WSF_U8_ACCEPT;
        return -1;
    }
    *state = WSF_U8_ACCEPT;
    i = wsf_u8_rewind(d, start, n);
    return i < n ? wsf_utf8_scalar_from(state, d, i, n) : -1;
rescan:
    *state = WSF_U8_ACCEPT;
    return wsf_utf8_scalar_from(state, d, wsf_u8_rewind(d, start, i), n);
}
#endif
