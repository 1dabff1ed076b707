/* UTF-8 validation for x86 with AVX2: 32-byte blocks, the same lookups as
 * the SSSE3 kernel per 128-bit lane.  Compiled with -mavx2; only run after
 * wsf_cpu says the CPU and the OS support it. */
#include "utf8.h"

#if WSF_ARCH_X86
#include <immintrin.h>

typedef __m256i wsf_vec;
#define WSF_VEC_BYTES 32

static inline wsf_vec v_load(const unsigned char *p) { return _mm256_loadu_si256((const __m256i *)p); }
static inline __m128i wsf_u8_tail16(const unsigned char *d, size_t r, size_t n) {
    /* The last r (1..16) bytes before n at the front of a 128-bit lane. */
    return _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(d + n - 16)),
                            _mm_loadu_si128((const __m128i *)(wsf_u8_tail_shuffle + 16 - r)));
}
static inline wsf_vec v_load_tail(const unsigned char *d, size_t i, size_t n) {
    /* pshufb cannot cross lanes: build each 128-bit half on its own from
     * loads ending at n (see utf8_ssse3.c for why not a padded copy). */
    size_t r = n - i;
    if (r <= 16)
        return _mm256_inserti128_si256(_mm256_setzero_si256(), wsf_u8_tail16(d, r, n), 0);
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(d + i))),
                                   wsf_u8_tail16(d, r - 16, n), 1);
}
static inline wsf_vec v_zero(void) { return _mm256_setzero_si256(); }
static inline wsf_vec v_or(wsf_vec a, wsf_vec b) { return _mm256_or_si256(a, b); }
static inline int v_is_ascii(wsf_vec v) { return _mm256_movemask_epi8(v) == 0; }
static inline int v_any(wsf_vec v) { return !_mm256_testz_si256(v, v); }


static inline wsf_vec v_check(wsf_vec cur, wsf_vec prev) {
    const __m256i nib = _mm256_set1_epi8(0x0F);
    const __m256i t_prev_hi = _mm256_setr_epi8(WSF_U8_TABLE_PREV_HI, WSF_U8_TABLE_PREV_HI);
    const __m256i t_prev_lo = _mm256_setr_epi8(WSF_U8_TABLE_PREV_LO, WSF_U8_TABLE_PREV_LO);
    const __m256i t_cur_hi = _mm256_setr_epi8(WSF_U8_TABLE_CUR_HI, WSF_U8_TABLE_CUR_HI);
    /* alignr works per 128-bit lane: pair each lane with the lane before it
     * (the previous block's high lane for the low one). */
    __m256i before = _mm256_permute2x128_si256(prev, cur, 0x21);
    __m256i p1 = _mm256_alignr_epi8(cur, before, 15);
    __m256i p2 = _mm256_alignr_epi8(cur, before, 14);
    __m256i p3 = _mm256_alignr_epi8(cur, before, 13);
    __m256i pairs = _mm256_and_si256(
        _mm256_and_si256(
            _mm256_shuffle_epi8(t_prev_hi, _mm256_and_si256(_mm256_srli_epi16(p1, 4), nib)),
            _mm256_shuffle_epi8(t_prev_lo, _mm256_and_si256(p1, nib))),
        _mm256_shuffle_epi8(t_cur_hi, _mm256_and_si256(_mm256_srli_epi16(cur, 4), nib)));
    /* See utf8_ssse3.c: positions that must be continuation bytes 3 and 4. */
    __m256i must = _mm256_or_si256(_mm256_subs_epu8(p2, _mm256_set1_epi8((char)(0xE0 - 0x80))),
                                   _mm256_subs_epu8(p3, _mm256_set1_epi8((char)(0xF0 - 0x80))));
    return _mm256_xor_si256(pairs, _mm256_and_si256(must, _mm256_set1_epi8((char)0x80)));
}

static inline wsf_vec v_incomplete(wsf_vec v) {
    const __m256i max = _mm256_setr_epi8(
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, (char)0xEF, (char)0xDF, (char)0xBF);
    return _mm256_subs_epu8(v, max);
}

/* Under 32 bytes, the 16-byte kernel (every AVX2 CPU has SSSE3). */
#define WSF_U8_SHORT wsf_utf8_ssse3
#define WSF_U8_DRIVER wsf_utf8_avx2
#include "utf8.h"

#endif
