/* RFC 6455 section 5.3 masking kernels, one per instruction set.
 *
 * Every kernel has the same contract:
 *
 *     dst[i] = src[i] ^ key_byte[i % 4]   for 0 <= i < n
 *
 * where key_byte is the memory representation of `key` (its bytes in
 * address order, whatever the CPU's endianness).  The caller folds the
 * stream phase into `key` once (wsf_mask_key), so a kernel never needs to
 * know where in the masked stream src[0] sits.  dst may equal src (in place);
 * any other overlap is not allowed.  No alignment is required of either
 * pointer.  Kernels never read or write outside [0, n).
 *
 * A kernel file only has a body when it is compiled for its level's
 * architecture (wsf_levels.h); which kernel runs is wsf_mask_kernel's choice.
 */
#ifndef WSF_MASK_H
#define WSF_MASK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "wsf_cpu.h"

typedef void wsf_mask_kernel_fn(uint8_t *dst, const uint8_t *src, size_t n, uint32_t key);
typedef wsf_mask_kernel_fn *wsf_mask_fn;

/* wsf_mask_<level> for every row of wsf_levels.h; only those with a
 * mask_<level>.c are defined. */
#define WSF_LEVEL(name, arch, cc_flags, msvc_flags, features, borrows) wsf_mask_kernel_fn wsf_mask_##name;
#include "wsf_levels.h"

/* The kernel to run at `level` (its own, or the one the level borrows), or
 * NULL when this build or this CPU cannot run that level. */
wsf_mask_fn wsf_mask_kernel(int level);

/* The key for a stream position: its byte i is mask[(phase + i) % 4]. */
static inline uint32_t wsf_mask_key(const uint8_t mask[4], size_t phase) {
    uint8_t b[4];
    uint32_t key;
    b[0] = mask[phase & 3];
    b[1] = mask[(phase + 1) & 3];
    b[2] = mask[(phase + 2) & 3];
    b[3] = mask[(phase + 3) & 3];
    memcpy(&key, b, 4);
    return key;
}

/* The key once `r` more bytes of the stream have gone by.  Done on bytes, not
 * with a shift, so that it holds on big-endian machines too. */
static inline uint32_t wsf_mask_key_advance(uint32_t key, size_t r) {
    uint8_t b[4];
    memcpy(b, &key, 4);
    return wsf_mask_key(b, r);
}

/* The last few bytes (fewer than one vector) of every kernel: 8, 4, then 1
 * byte at a time.  `key` must already be the key for dst[0]. */
static inline void wsf_mask_tail(uint8_t *dst, const uint8_t *src, size_t n, uint32_t key) {
    uint64_t k8 = ((uint64_t)key << 32) | key; /* same bytes twice, any endianness */
    uint8_t kb[4];
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, src + i, 8);
        w ^= k8;
        memcpy(dst + i, &w, 8);
    }
    if (i + 4 <= n) {
        uint32_t w;
        memcpy(&w, src + i, 4);
        w ^= key;
        memcpy(dst + i, &w, 4);
        i += 4;
    }
    memcpy(kb, &key, 4);
    for (; i < n; i++)
        dst[i] = src[i] ^ kb[i & 3];
}

#endif
