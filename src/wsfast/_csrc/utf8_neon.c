/* UTF-8 validation for arm64: the nibble lookups are vqtbl1q_u8.  Advanced
 * SIMD is part of the AArch64 baseline, so no flags are needed. */
#include "utf8.h"

#if WSF_ARCH_ARM64
#include <arm_neon.h>

typedef uint8x16_t wsf_vec;
#define WSF_VEC_BYTES 16

static inline wsf_vec v_load(const unsigned char *p) { return vld1q_u8(p); }
static inline wsf_vec v_load_tail(const unsigned char *d, size_t i, size_t n) {
    /* One load ending at n, shifted down (see utf8_ssse3.c). */
    return vqtbl1q_u8(v_load(d + n - 16), vld1q_u8(wsf_u8_tail_shuffle + 16 - (n - i)));
}
static inline wsf_vec v_zero(void) { return vdupq_n_u8(0); }
static inline wsf_vec v_or(wsf_vec a, wsf_vec b) { return vorrq_u8(a, b); }
static inline int v_is_ascii(wsf_vec v) { return vmaxvq_u8(v) < 0x80; }
static inline int v_any(wsf_vec v) { return vmaxvq_u8(v) != 0; }

static const uint8_t wsf_u8_t_prev_hi[16] = {WSF_U8_TABLE_PREV_HI};
static const uint8_t wsf_u8_t_prev_lo[16] = {WSF_U8_TABLE_PREV_LO};
static const uint8_t wsf_u8_t_cur_hi[16] = {WSF_U8_TABLE_CUR_HI};
static const uint8_t wsf_u8_incomplete_max[16] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                                  0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xEF, 0xDF, 0xBF};

static inline wsf_vec v_check(wsf_vec cur, wsf_vec prev) {
    const uint8x16_t nib = vdupq_n_u8(0x0F);
    uint8x16_t p1 = vextq_u8(prev, cur, 15);
    uint8x16_t p2 = vextq_u8(prev, cur, 14);
    uint8x16_t p3 = vextq_u8(prev, cur, 13);
    uint8x16_t pairs = vandq_u8(
        vandq_u8(vqtbl1q_u8(vld1q_u8(wsf_u8_t_prev_hi), vshrq_n_u8(p1, 4)),
                 vqtbl1q_u8(vld1q_u8(wsf_u8_t_prev_lo), vandq_u8(p1, nib))),
        vqtbl1q_u8(vld1q_u8(wsf_u8_t_cur_hi), vshrq_n_u8(cur, 4)));
    /* See utf8_ssse3.c: positions that must be continuation bytes 3 and 4. */
    uint8x16_t must = vorrq_u8(vqsubq_u8(p2, vdupq_n_u8(0xE0 - 0x80)),
                               vqsubq_u8(p3, vdupq_n_u8(0xF0 - 0x80)));
    return veorq_u8(pairs, vandq_u8(must, vdupq_n_u8(0x80)));
}

static inline wsf_vec v_incomplete(wsf_vec v) {
    return vqsubq_u8(v, vld1q_u8(wsf_u8_incomplete_max));
}

#define WSF_U8_DRIVER wsf_utf8_neon
#include "utf8.h"

#endif
