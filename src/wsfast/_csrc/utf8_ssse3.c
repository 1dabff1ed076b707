/* UTF-8 validation for x86 with SSSE3: the nibble lookups are pshufb.
 * Compiled with -mssse3; only run after wsf_cpu says the CPU has it. */
#include "utf8.h"

#if WSF_ARCH_X86
#include <tmmintrin.h>

typedef __m128i wsf_vec;
#define WSF_VEC_BYTES 16

static inline wsf_vec v_load(const unsigned char *p) { return _mm_loadu_si128((const __m128i *)p); }
static inline wsf_vec v_load_tail(const unsigned char *d, size_t i, size_t n) {
    /* One load ending at n, shifted down: no store-to-load stall from
     * assembling the bytes in memory. */
    return _mm_shuffle_epi8(v_load(d + n - 16),
                            _mm_loadu_si128((const __m128i *)(wsf_u8_tail_shuffle + 16 - (n - i))));
}
static inline wsf_vec v_zero(void) { return _mm_setzero_si128(); }
static inline wsf_vec v_or(wsf_vec a, wsf_vec b) { return _mm_or_si128(a, b); }
static inline int v_is_ascii(wsf_vec v) { return _mm_movemask_epi8(v) == 0; }
static inline int v_any(wsf_vec v) {
    return _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_setzero_si128())) != 0xFFFF;
}

static inline wsf_vec v_check(wsf_vec cur, wsf_vec prev) {
    const __m128i nib = _mm_set1_epi8(0x0F);
    const __m128i t_prev_hi = _mm_setr_epi8(WSF_U8_TABLE_PREV_HI);
    const __m128i t_prev_lo = _mm_setr_epi8(WSF_U8_TABLE_PREV_LO);
    const __m128i t_cur_hi = _mm_setr_epi8(WSF_U8_TABLE_CUR_HI);
    __m128i p1 = _mm_alignr_epi8(cur, prev, 15);
    __m128i p2 = _mm_alignr_epi8(cur, prev, 14);
    __m128i p3 = _mm_alignr_epi8(cur, prev, 13);
    /* No byte-wise shift exists: shift 16-bit lanes and mask. */
    __m128i pairs = _mm_and_si128(
        _mm_and_si128(_mm_shuffle_epi8(t_prev_hi, _mm_and_si128(_mm_srli_epi16(p1, 4), nib)),
                      _mm_shuffle_epi8(t_prev_lo, _mm_and_si128(p1, nib))),
        _mm_shuffle_epi8(t_cur_hi, _mm_and_si128(_mm_srli_epi16(cur, 4), nib)));
    /* Third byte of a 3- or 4-byte sequence (prev2 >= E0) or fourth
     * (prev3 >= F0): a saturating subtract leaves the top bit set exactly
     * then.  Those positions must be continuations, i.e. exactly TWO_CONTS. */
    __m128i must = _mm_or_si128(_mm_subs_epu8(p2, _mm_set1_epi8((char)(0xE0 - 0x80))),
                                _mm_subs_epu8(p3, _mm_set1_epi8((char)(0xF0 - 0x80))));
    return _mm_xor_si128(pairs, _mm_and_si128(must, _mm_set1_epi8((char)0x80)));
}

static inline wsf_vec v_incomplete(wsf_vec v) {
    const __m128i max = _mm_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                      (char)0xEF, (char)0xDF, (char)0xBF);
    return _mm_subs_epu8(v, max);
}

#define WSF_U8_DRIVER wsf_utf8_ssse3
#include "utf8.h"

#endif
