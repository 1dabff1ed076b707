/* SSE2 masking kernel (x86): 16 bytes a vector, four vectors a round.
 * The ssse3 level borrows it (wsf_levels.h): SSSE3 adds nothing to a plain XOR. */
#include "mask.h"

#if WSF_ARCH_X86
#include <emmintrin.h>

void wsf_mask_sse2(uint8_t *dst, const uint8_t *src, size_t n, uint32_t key) {
    size_t i = 0;
    if (n >= 16) {
        /* x86 is little-endian: lane bytes keep the key's memory order. */
        const __m128i k = _mm_set1_epi32((int)key);
        for (; i + 64 <= n; i += 64) {
            __m128i a = _mm_loadu_si128((const __m128i *)(src + i));
            __m128i b = _mm_loadu_si128((const __m128i *)(src + i + 16));
            __m128i c = _mm_loadu_si128((const __m128i *)(src + i + 32));
            __m128i d = _mm_loadu_si128((const __m128i *)(src + i + 48));
            _mm_storeu_si128((__m128i *)(dst + i), _mm_xor_si128(a, k));
            _mm_storeu_si128((__m128i *)(dst + i + 16), _mm_xor_si128(b, k));
            _mm_storeu_si128((__m128i *)(dst + i + 32), _mm_xor_si128(c, k));
            _mm_storeu_si128((__m128i *)(dst + i + 48), _mm_xor_si128(d, k));
        }
        for (; i + 16 <= n; i += 16) {
            __m128i a = _mm_loadu_si128((const __m128i *)(src + i));
            _mm_storeu_si128((__m128i *)(dst + i), _mm_xor_si128(a, k));
        }
    }
    wsf_mask_tail(dst + i, src + i, n - i, key);
}

#else
typedef int wsf_mask_sse2_absent; /* ISO C wants a non-empty unit */
#endif
