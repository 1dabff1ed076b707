/* NEON masking kernel (arm64, where Advanced SIMD is always present):
 * 16 bytes a vector, four vectors a round. */
#include "mask.h"

#if WSF_ARCH_ARM64
#include <arm_neon.h>

void wsf_mask_neon(uint8_t *dst, const uint8_t *src, size_t n, uint32_t key) {
    size_t i = 0;
    if (n >= 16) {
        /* Built from bytes so that lane order never depends on endianness. */
        uint8_t kb[16];
        uint8x16_t k;
        memcpy(kb, &key, 4);
        memcpy(kb + 4, &key, 4);
        memcpy(kb + 8, kb, 8);
        k = vld1q_u8(kb);
        for (; i + 64 <= n; i += 64) {
            uint8x16_t a = vld1q_u8(src + i);
            uint8x16_t b = vld1q_u8(src + i + 16);
            uint8x16_t c = vld1q_u8(src + i + 32);
            uint8x16_t d = vld1q_u8(src + i + 48);
            vst1q_u8(dst + i, veorq_u8(a, k));
            vst1q_u8(dst + i + 16, veorq_u8(b, k));
            vst1q_u8(dst + i + 32, veorq_u8(c, k));
            vst1q_u8(dst + i + 48, veorq_u8(d, k));
        }
        for (; i + 16 <= n; i += 16)
            vst1q_u8(dst + i, veorq_u8(vld1q_u8(src + i), k));
    }
    wsf_mask_tail(dst + i, src + i, n - i, key);
}

#else
typedef int wsf_mask_neon_absent; /* ISO C wants a non-empty unit */
#endif
