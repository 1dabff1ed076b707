/* UTF-8 validation for x86 without SSSE3 (no pshufb, so no table lookups):
 * SSE2 skips ASCII 16 bytes at a time and the scalar DFA takes the rest. */
#include "utf8.h"

#if WSF_ARCH_X86
#include <emmintrin.h>

/* How far the DFA runs before looking for ASCII again.  The stretch doubles
 * (up to 4 KiB) each time the look finds no ASCII block to skip, so text
 * that is mostly non-ASCII is not re-tested every few bytes. */
#define WSF_U8_STRETCH_MIN 64
#define WSF_U8_STRETCH_MAX 4096

ptrdiff_t wsf_utf8_sse2(uint32_t *state, const unsigned char *d, size_t n) {
    size_t i = 0, stretch = WSF_U8_STRETCH_MIN;
    uint32_t st = *state;
    while (i < n) {
        size_t end;
        ptrdiff_t r;
        if (st == WSF_U8_ACCEPT) {
            size_t from = i;
            while (i + 16 <= n) {
                int mask = _mm_movemask_epi8(_mm_loadu_si128((const __m128i *)(d + i)));
                if (mask) {
                    unsigned k = 0;
                    while (!((mask >> k) & 1))
                        k++;
                    i += k;
                    break;
                }
                i += 16;
            }
            if (i - from >= 16)
                stretch = WSF_U8_STRETCH_MIN;
            else if (stretch < WSF_U8_STRETCH_MAX)
                stretch *= 2;
        }
        end = n - i > stretch ? i + stretch : n;
        r = wsf_utf8_scalar_from(&st, d, i, end);
        if (r >= 0) {
            *state = st;
            return r;
        }
        i = end;
    }
    *state = st;
    return -1;
}

#endif
