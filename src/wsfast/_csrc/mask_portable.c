/* The portable masking kernel, and the masking kernel of every level.
 *
 * Plain C for any CPU: eight bytes at a time through memcpy, which compilers
 * turn into single (unaligned-safe) loads and stores, so no alignment is
 * assumed and no strict-aliasing rule is bent.  Compilers may auto-vectorise
 * the main loop; that is fine, it only ever runs the baseline instruction set.
 */
#include "mask.h"

void wsf_mask_portable(uint8_t *dst, const uint8_t *src, size_t n, uint32_t key) {
    uint64_t k8 = ((uint64_t)key << 32) | key;
    size_t i = 0;
    /* Four independent words per round keep several loads in flight. */
    for (; i + 32 <= n; i += 32) {
        uint64_t a, b, c, d;
        memcpy(&a, src + i, 8);
        memcpy(&b, src + i + 8, 8);
        memcpy(&c, src + i + 16, 8);
        memcpy(&d, src + i + 24, 8);
        a ^= k8;
        b ^= k8;
        c ^= k8;
        d ^= k8;
        memcpy(dst + i, &a, 8);
        memcpy(dst + i + 8, &b, 8);
        memcpy(dst + i + 16, &c, 8);
        memcpy(dst + i + 24, &d, 8);
    }
    /* i is a multiple of 4, so the key needs no rotation. */
    wsf_mask_tail(dst + i, src + i, n - i, key);
}

#ifndef WSF_HAVE_mask_portable
#error "build through setup.py: it defines WSF_HAVE_mask_<level> for every row of wsf_levels.h"
#endif
#define WSF_UNIT mask
#include "wsf_dispatch.h"
