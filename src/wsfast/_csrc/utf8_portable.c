/* The portable UTF-8 kernel (8 bytes at a time over ASCII, the DFA
 * elsewhere), which is also the scalar validator every other level falls back
 * on for chunk edges and exact error positions; and the UTF-8 kernel of every
 * level.  Compiled everywhere, with no ISA flags. */
#include "utf8.h"

#define F WSF_UTF8_FAILED
#define N1 WSF_U8_NEED1
#define N2 WSF_U8_NEED2
#define N3 WSF_U8_NEED3

/* Which state a byte at a code point boundary leads to.  80..BF (a lone
 * continuation), C0 and C1 (always overlong) and F5..FF (beyond U+10FFFF)
 * cannot start anything, so the byte itself is the impossible one. */
const uint8_t wsf_u8_lead[256] = {
    /* 00..7F */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 80..BF */
    F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F,
    F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F, F,
    /* C0..DF */
    F, F, N1, N1, N1, N1, N1, N1, N1, N1, N1, N1, N1, N1, N1, N1,
    N1, N1, N1, N1, N1, N1, N1, N1, N1, N1, N1, N1, N1, N1, N1, N1,
    /* E0..EF */
    WSF_U8_E0, N2, N2, N2, N2, N2, N2, N2, N2, N2, N2, N2, N2, WSF_U8_ED, N2, N2,
    /* F0..FF */
    WSF_U8_F0, N3, N3, N3, WSF_U8_F4, F, F, F, F, F, F, F, F, F, F, F,
};

/*                                         ACC   N1    N2    E0    ED    N3    F0    F4 */
const uint8_t wsf_u8_lo[WSF_U8_NSTATES] = {0x00, 0x80, 0x80, 0xA0, 0x80, 0x80, 0x90, 0x80};
const uint8_t wsf_u8_span[WSF_U8_NSTATES] = {0x00, 0x3F, 0x3F, 0x1F, 0x1F, 0x3F, 0x2F, 0x0F};
const uint8_t wsf_u8_next[WSF_U8_NSTATES] = {0, 0, N1, N1, N1, N2, N2, N2};

#undef F
#undef N1
#undef N2
#undef N3

static inline int wsf_u8_bad(uint32_t st, unsigned char c) {
    return (unsigned char)(c - wsf_u8_lo[st]) > wsf_u8_span[st];
}

ptrdiff_t wsf_utf8_scalar_from(uint32_t *state, const unsigned char *d, size_t i, size_t n) {
    uint32_t st = *state;
    while (st != WSF_U8_ACCEPT && i < n) {
        st = wsf_u8_step(st, d[i]);
        if (st == WSF_UTF8_FAILED)
            goto fail;
        i++;
    }
    while (i < n) {
        unsigned char c;
        /* ASCII runs, two words then one at a time (memcpy: no alignment
         * assumed). */
        while (i + 16 <= n) {
            uint64_t w0, w1;
            memcpy(&w0, d + i, 8);
            memcpy(&w1, d + i + 8, 8);
            if ((w0 | w1) & UINT64_C(0x8080808080808080))
                break;
            i += 16;
        }
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, d + i, 8);
            if (w & UINT64_C(0x8080808080808080))
                break;
            i += 8;
        }
        if (i == n)
            break;
        c = d[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        st = wsf_u8_lead[c];
        if (st == WSF_UTF8_FAILED)
            goto fail;
        i++;
        if (i + 3 <= n) {
            /* The whole code point is here: no bounds checks.  Only the
             * second byte has a range of its own; the rest are 80..BF. */
            if (wsf_u8_bad(st, d[i]))
                goto fail;
            st = wsf_u8_next[st];
            i++;
            while (st != WSF_U8_ACCEPT) {
                if ((unsigned char)(d[i] - 0x80) > 0x3F)
                    goto fail;
                st = wsf_u8_next[st];
                i++;
            }
            continue;
        }
        /* The input ends inside or just after this code point. */
        while (st != WSF_U8_ACCEPT && i < n) {
            st = wsf_u8_step(st, d[i]);
            if (st == WSF_UTF8_FAILED)
                goto fail;
            i++;
        }
    }
    *state = st;
    return -1;
fail:
    *state = WSF_UTF8_FAILED;
    return (ptrdiff_t)i;
}

ptrdiff_t wsf_utf8_portable(uint32_t *state, const unsigned char *data, size_t n) {
    return wsf_utf8_scalar_from(state, data, 0, n);
}

#ifndef WSF_HAVE_utf8_portable
#error "build through setup.py: it defines WSF_HAVE_utf8_<level> for every row of wsf_levels.h"
#endif
#define WSF_UNIT utf8
#include "wsf_dispatch.h"
