/* AVX2 masking kernel (x86): 32 bytes a vector, four vectors a round.
 * Only run where wsf_cpu_features() reports AVX2 (wsf_mask_kernel). */
#include "mask.h"

#if WSF_ARCH_X86
#include <immintrin.h>

/* From this size on, a few scalar bytes first align the stores to 32 bytes,
 * so that no store is split across two cache lines.  Measured on Zen 3 (in
 * place, misaligned start): 64 KiB takes 0.8 us aligned against 1.25 us not,
 * 4 KiB 50 ns against 56; at 1 KiB it is a wash and at 512 B the prologue
 * loses (13 ns against 10).  docs/masking.md. */
#ifndef WSF_AVX2_ALIGN_FROM
#define WSF_AVX2_ALIGN_FROM 2048
#endif

void wsf_mask_avx2(uint8_t *dst, const uint8_t *src, size_t n, uint32_t key) {
    size_t i = 0;
    if (n >= 32) {
        __m256i k;
        if (n >= WSF_AVX2_ALIGN_FROM) {
            size_t head = (size_t)(-(uintptr_t)dst & 31);
            if (head) {
                wsf_mask_tail(dst, src, head, key);
                key = wsf_mask_key_advance(key, head);
                i = head;
            }
        }
        k = _mm256_set1_epi32((int)key);
        for (; i + 128 <= n; i += 128) {
            __m256i a = _mm256_loadu_si256((const __m256i *)(src + i));
            __m256i b = _mm256_loadu_si256((const __m256i *)(src + i + 32));
            __m256i c = _mm256_loadu_si256((const __m256i *)(src + i + 64));
            __m256i d = _mm256_loadu_si256((const __m256i *)(src + i + 96));
            _mm256_storeu_si256((__m256i *)(dst + i), _mm256_xor_si256(a, k));
            _mm256_storeu_si256((__m256i *)(dst + i + 32), _mm256_xor_si256(b, k));
            _mm256_storeu_si256((__m256i *)(dst + i + 64), _mm256_xor_si256(c, k));
            _mm256_storeu_si256((__m256i *)(dst + i + 96), _mm256_xor_si256(d, k));
        }
        for (; i + 32 <= n; i += 32) {
            __m256i a = _mm256_loadu_si256((const __m256i *)(src + i));
            _mm256_storeu_si256((__m256i *)(dst + i), _mm256_xor_si256(a, k));
        }
        if (i + 16 <= n) {
            __m128i a = _mm_loadu_si128((const __m128i *)(src + i));
            _mm_storeu_si128((__m128i *)(dst + i),
                             _mm_xor_si128(a, _mm256_castsi256_si128(k)));
            i += 16;
        }
    }
    /* The key already belongs to dst[i] when i is past an aligning head:
     * every step since was a multiple of 4. */
    wsf_mask_tail(dst + i, src + i, n - i, key);
}

#else
typedef int wsf_mask_avx2_absent; /* ISO C wants a non-empty unit */
#endif
