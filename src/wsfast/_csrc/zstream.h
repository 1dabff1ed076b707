/* permessage-deflate's streams over two back ends, for _deflate_c.pyx:
 *
 *   - the system zlib, linked: always there;
 *   - zlib-ng's native API (zng_*), when zlib-ng's Python module (PyPI
 *     `zlib-ng`) is installed: that module carries the library and exports
 *     its functions, which wsf_ng_bind() looks up in it at run time.  No
 *     build step, no second copy of the library, and the wheels stay free
 *     of it; where the module cannot lend them (Windows exports nothing from
 *     an extension module) the system zlib is all there is.
 *
 * A wsf_strm says which back end made it; every call goes to that one.  The
 * loops themselves are in zstream_tpl.h, one text for both.
 */
#include <stdint.h>
#include <string.h>
#include <zlib.h>

/* Bytes the back ends hold through wsf_zalloc, all streams together: how the
   memory of a connection's compressor and inflater is measured (tracemalloc
   sees them too: they come from PyMem_RawMalloc). */
#if defined(_MSC_VER)
#include <intrin.h>
static volatile __int64 wsf_zlib_live = 0;
#define WSF_ADD(v) _InterlockedExchangeAdd64(&wsf_zlib_live, (__int64)(v))
#define WSF_LIVE() ((long long)wsf_zlib_live)
#else
static long long wsf_zlib_live = 0;
#define WSF_ADD(v) __atomic_fetch_add(&wsf_zlib_live, (long long)(v), __ATOMIC_RELAXED)
#define WSF_LIVE() __atomic_load_n(&wsf_zlib_live, __ATOMIC_RELAXED)
#endif
#define WSF_HEAD 16  /* keeps the block 16-byte aligned */

static void *wsf_zalloc(void *opaque, unsigned int items, unsigned int size) {
    size_t n = (size_t)items * size;
    char *p;
    (void)opaque;
    if (size && n / size != items) return NULL;
    p = (char *)PyMem_RawMalloc(n + WSF_HEAD);
    if (p == NULL) return NULL;
    *(size_t *)p = n;
    WSF_ADD(n);
    return p + WSF_HEAD;
}

static void wsf_zfree(void *opaque, void *ptr) {
    char *p;
    (void)opaque;
    if (ptr == NULL) return;
    p = (char *)ptr - WSF_HEAD;
    WSF_ADD(-(long long)*(size_t *)p);
    PyMem_RawFree(p);
}

/* Both back ends count in 32 bits: feed at most this much per call. */
#define WSF_STEP ((Py_ssize_t)1 << 30)

/* Inflated after a message's tail: a final empty stored block, which ends
   the stream at once if and only if the message ended on a block boundary. */
static const unsigned char wsf_tail_probe[9] = {0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff};

/* ---------------------------------------------------------- zlib-ng's API */

/* zlib-ng 2.x's zng_stream (zlib-ng.h), field for field.  Its return codes
   and flush values are zlib's (Z_OK, Z_SYNC_FLUSH...). */
typedef struct {
    const uint8_t *next_in;
    uint32_t avail_in;
    size_t total_in;
    uint8_t *next_out;
    uint32_t avail_out;
    size_t total_out;
    const char *msg;
    void *state;
    void *(*zalloc)(void *opaque, unsigned int items, unsigned int size);
    void (*zfree)(void *opaque, void *ptr);
    void *opaque;
    int data_type;
    uint32_t adler;
    unsigned long reserved;
} wsf_ng_stream;

/* The functions of zlib-ng's native API that wsfast calls. */
#define WSF_NG_FUNCTIONS(X)                                                                        \
    X(int32_t, deflateInit2, (wsf_ng_stream *, int32_t, int32_t, int32_t, int32_t, int32_t))     \
    X(int32_t, deflate, (wsf_ng_stream *, int32_t))                                                \
    X(int32_t, deflateReset, (wsf_ng_stream *))                                                    \
    X(int32_t, deflateEnd, (wsf_ng_stream *))                                                      \
    X(unsigned long, deflateBound, (wsf_ng_stream *, unsigned long))                               \
    X(int32_t, inflateInit2, (wsf_ng_stream *, int32_t))                                           \
    X(int32_t, inflate, (wsf_ng_stream *, int32_t))                                                \
    X(int32_t, inflateReset, (wsf_ng_stream *))                                                    \
    X(int32_t, inflateResetKeep, (wsf_ng_stream *))                                                \
    X(int32_t, inflateEnd, (wsf_ng_stream *))

static struct {
#define WSF_NG_FIELD(ret, name, args) ret (*ng_##name) args;
    WSF_NG_FUNCTIONS(WSF_NG_FIELD)
#undef WSF_NG_FIELD
    const char *version;
} wsf_ng;

#if defined(_WIN32)
static int wsf_ng_bind(const char *path) { (void)path; return -1; }
#else
#include <dlfcn.h>
/* Bind zlib-ng's functions from the shared object at `path` (zlib-ng's
   Python module, already imported, so dlopen only finds it again).  0 on
   success; -1 when the object does not export them all, or is not zlib-ng
   2.x, whose stream layout the struct above copies. */
static int wsf_ng_bind(const char *path) {
    void *h, *sym;
    const char *(*version)(void);
#ifdef RTLD_NOLOAD
    h = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
#else
    h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
#endif
    if (h == NULL) return -1;
    /* The object stays loaded for the life of the process (Python never
       unloads extension modules), and so does our reference to it. */
    sym = dlsym(h, "zlibng_version");
    if (sym == NULL) return -1;
    memcpy(&version, &sym, sizeof(sym));
    if (version()[0] != '2' || version()[1] != '.') return -1;
#define WSF_NG_LOOKUP(ret, name, args)                                                             \
    sym = dlsym(h, "zng_" #name);                                                                  \
    if (sym == NULL) return -1;                                                                    \
    memcpy(&wsf_ng.ng_##name, &sym, sizeof(sym));
    WSF_NG_FUNCTIONS(WSF_NG_LOOKUP)
#undef WSF_NG_LOOKUP
    wsf_ng.version = version();
    return 0;
}
#endif

static const char *wsf_ng_version(void) { return wsf_ng.version; }

/* ------------------------------------------------- one text, two back ends */

#define ZS z_stream
#define ZCALL(f) f
#define ZNAME(f) wsf_zl_##f
#include "zstream_tpl.h"
#undef ZS
#undef ZCALL
#undef ZNAME

#define ZS wsf_ng_stream
/* ng_ keeps zlib.h's macros (deflateInit2...) from expanding here. */
#define ZCALL(f) wsf_ng.ng_##f
#define ZNAME(f) wsf_ng_##f
#include "zstream_tpl.h"
#undef ZS
#undef ZCALL
#undef ZNAME

/* A stream of either back end; every call goes to the one that made it. */
typedef struct {
    union { z_stream zl; wsf_ng_stream ng; } u;
    int ng;
} wsf_strm;

#define WSF_CALL(s, f, ...) ((s)->ng ? wsf_ng_##f(&(s)->u.ng, __VA_ARGS__) : wsf_zl_##f(&(s)->u.zl, __VA_ARGS__))

/* A stream of back end `ng` (1: zlib-ng, which must be bound), or NULL with
   *err set (Z_MEM_ERROR, Z_STREAM_ERROR...). */
static wsf_strm *wsf_stream_new(int ng, int deflating, int level, int mem_level, int wbits, int *err) {
    wsf_strm *s = (wsf_strm *)PyMem_RawCalloc(1, sizeof(wsf_strm));
    if (s == NULL) { *err = Z_MEM_ERROR; return NULL; }
    s->ng = ng;
    *err = WSF_CALL(s, init, deflating, level, mem_level, wbits);
    if (*err != Z_OK) { PyMem_RawFree(s); return NULL; }
    return s;
}
#define wsf_deflate_new(ng, level, mem_level, wbits, err) wsf_stream_new(ng, 1, level, mem_level, wbits, err)
#define wsf_inflate_new(ng, wbits, err) wsf_stream_new(ng, 0, 0, 0, wbits, err)

static void wsf_stream_free(wsf_strm *s, int deflating) {
    if (s == NULL) return;
    WSF_CALL(s, end, deflating);
    PyMem_RawFree(s);
}
#define wsf_deflate_free(s) wsf_stream_free(s, 1)
#define wsf_inflate_free(s) wsf_stream_free(s, 0)
#define wsf_deflate_reset(s) WSF_CALL(s, reset, 1)
#define wsf_inflate_reset(s) WSF_CALL(s, reset, 0)

static int wsf_deflate_run(wsf_strm *s, const unsigned char *src, Py_ssize_t n, Py_ssize_t *used,
                           unsigned char *dst, Py_ssize_t cap, Py_ssize_t *produced, int *done) {
    return WSF_CALL(s, deflate_run, src, n, used, dst, cap, produced, done);
}

static int wsf_inflate_run(wsf_strm *s, int *ended, const unsigned char *src, Py_ssize_t n,
                           Py_ssize_t *used, unsigned char *dst, Py_ssize_t cap, Py_ssize_t *produced) {
    return WSF_CALL(s, inflate_run, ended, src, n, used, dst, cap, produced);
}

static int wsf_inflate_drain(wsf_strm *s, unsigned char *dst, Py_ssize_t cap, Py_ssize_t *produced) {
    return WSF_CALL(s, inflate_drain, dst, cap, produced);
}

static int wsf_inflate_end_message(wsf_strm *s) {
    return s->ng ? wsf_ng_inflate_end_message(&s->u.ng) : wsf_zl_inflate_end_message(&s->u.zl);
}

static Py_ssize_t wsf_deflate_bound(wsf_strm *s, Py_ssize_t n) { return WSF_CALL(s, deflate_bound, n); }

static const char *wsf_msg(wsf_strm *s) { return s->ng ? s->u.ng.msg : s->u.zl.msg; }
