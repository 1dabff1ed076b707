/* The zlib work of permessage-deflate for one back end: included once per
 * back end by zstream.h, with
 *
 *     ZS        the back end's stream type
 *     ZCALL(f)  the back end's function f (deflate, inflateResetKeep, ...)
 *     ZNAME(f)  the name this instantiation gives to its function f
 *
 * Both back ends take the same calls with the same meaning and return codes
 * (zlib-ng's native API is zlib's with fixed-width counters), so one text
 * serves both and they cannot drift apart.
 */

/* Make the stream *s (zeroed, at its final address: the back end keeps a
   pointer back to it).  Returns Z_OK or the back end's error. */
static int ZNAME(init)(ZS *s, int deflating, int level, int mem_level, int wbits) {
    s->zalloc = wsf_zalloc;
    s->zfree = wsf_zfree;
    if (deflating)
        return (int)ZCALL(deflateInit2)(s, level, Z_DEFLATED, -wbits, mem_level, Z_DEFAULT_STRATEGY);
    return (int)ZCALL(inflateInit2)(s, -wbits);
}

static void ZNAME(end)(ZS *s, int deflating) {
    if (deflating) ZCALL(deflateEnd)(s); else ZCALL(inflateEnd)(s);
}

static int ZNAME(reset)(ZS *s, int deflating) {
    return (int)(deflating ? ZCALL(deflateReset)(s) : ZCALL(inflateReset)(s));
}

/* Point the stream at the call's input and output; refill() then gives it
   their first steps. */
static void ZNAME(point)(ZS *s, const unsigned char *src, unsigned char *dst) {
    s->next_in = (unsigned char *)src;
    s->next_out = dst;
    s->avail_in = 0;
    s->avail_out = 0;
}

/* Give the stream the next step of input and of room, when it has used up the last. */
static void ZNAME(refill)(ZS *s, Py_ssize_t *in_left, Py_ssize_t *out_left) {
    if (s->avail_in == 0 && *in_left) {
        s->avail_in = (uint32_t)(*in_left < WSF_STEP ? *in_left : WSF_STEP);
        *in_left -= s->avail_in;
    }
    if (s->avail_out == 0 && *out_left) {
        s->avail_out = (uint32_t)(*out_left < WSF_STEP ? *out_left : WSF_STEP);
        *out_left -= s->avail_out;
    }
}

/* Deflate src[0:n], then sync-flush, into dst[0:cap].  *done is set once
   the flush is complete; otherwise the room ran out: call again with
   src + *used, n - *used (maybe 0) and more room.  Returns Z_OK or the
   back end's error. */
static int ZNAME(deflate_run)(ZS *s, const unsigned char *src, Py_ssize_t n, Py_ssize_t *used,
                              unsigned char *dst, Py_ssize_t cap, Py_ssize_t *produced, int *done) {
    Py_ssize_t in_left = n, out_left = cap;
    int flush, ret = Z_OK;
    *done = 0;
    ZNAME(point)(s, src, dst);
    for (;;) {
        ZNAME(refill)(s, &in_left, &out_left);
        if (s->avail_out == 0) break;
        flush = in_left ? Z_NO_FLUSH : Z_SYNC_FLUSH;
        ret = (int)ZCALL(deflate)(s, flush);
        if (ret == Z_BUF_ERROR) ret = Z_OK;  /* no progress possible: the checks below decide */
        if (ret != Z_OK) break;
        /* The flush is complete when it left output room unused. */
        if (flush == Z_SYNC_FLUSH && s->avail_in == 0 && s->avail_out != 0) { *done = 1; break; }
    }
    *used = (Py_ssize_t)(s->next_in - src);
    *produced = (Py_ssize_t)(s->next_out - dst);
    return ret;
}

/* Inflate src[0:n] into dst[0:cap]; *ended carries "the stream hit its
   final block" across calls: what comes next starts a new stream that keeps
   the window (inflateResetKeep).  Returns Z_OK or the back end's error. */
static int ZNAME(inflate_run)(ZS *s, int *ended, const unsigned char *src, Py_ssize_t n,
                              Py_ssize_t *used, unsigned char *dst, Py_ssize_t cap,
                              Py_ssize_t *produced) {
    Py_ssize_t in_left = n, out_left = cap;
    int ret = Z_OK;
    ZNAME(point)(s, src, dst);
    for (;;) {
        ZNAME(refill)(s, &in_left, &out_left);
        if (*ended) {
            if (s->avail_in == 0) break;
            ZCALL(inflateResetKeep)(s);
            *ended = 0;
        }
        if (s->avail_out == 0) break;
        /* Called even without input: a previous call that filled its room
           may have left output inside the stream (the rest of a match whose
           bits it had already read). */
        ret = (int)ZCALL(inflate)(s, Z_NO_FLUSH);
        if (ret == Z_STREAM_END) { *ended = 1; ret = Z_OK; continue; }
        if (ret == Z_BUF_ERROR) { ret = Z_OK; break; }  /* no progress possible */
        if (ret != Z_OK) break;
        /* inflate stops with room to spare only when it needs more input. */
        if (s->avail_in == 0 && in_left == 0 && s->avail_out != 0) break;
    }
    *used = (Py_ssize_t)(s->next_in - src);
    *produced = (Py_ssize_t)(s->next_out - dst);
    return ret;
}

/* What stays pending inside the stream after the input ran out: a call with
   no input still drains it, which the loop above skips. */
static int ZNAME(inflate_drain)(ZS *s, unsigned char *dst, Py_ssize_t cap, Py_ssize_t *produced) {
    int ret;
    s->next_in = NULL;
    s->avail_in = 0;
    s->next_out = dst;
    s->avail_out = (uint32_t)(cap < WSF_STEP ? cap : WSF_STEP);
    ret = (int)ZCALL(inflate)(s, Z_NO_FLUSH);
    *produced = (Py_ssize_t)(s->next_out - dst);
    return (ret == Z_BUF_ERROR || ret == Z_STREAM_END) ? Z_OK : ret;
}

/* The end of a message (RFC 7692 §7.2.2): the tail 00 00 ff ff, then a final
   empty stored block.  The stream ends right there, with no output, only if
   the message ended on a block boundary.  One byte of room: any output at
   all already means a wrong end.  Returns 0 when the end is right, 1 when it
   is not, or the back end's (negative) error. */
static int ZNAME(inflate_end_message)(ZS *s) {
    unsigned char scratch[1];
    int ret;
    s->next_in = (unsigned char *)wsf_tail_probe;
    s->avail_in = sizeof(wsf_tail_probe);
    s->next_out = scratch;
    s->avail_out = 1;
    ret = (int)ZCALL(inflate)(s, Z_NO_FLUSH);
    if (ret == Z_STREAM_END && s->avail_in == 0 && s->avail_out == 1) return 0;
    if (ret == Z_STREAM_END || ret == Z_OK || ret == Z_BUF_ERROR) return 1;
    return ret;
}

/* Room for the compressed message: the back end's own bound for these
   settings, plus the sync flush's empty stored block and pending bits.
   Should it ever fall short, the caller grows the result and resumes. */
static Py_ssize_t ZNAME(deflate_bound)(ZS *s, Py_ssize_t n) {
    if ((unsigned long long)n < 0x7fffffffULL)
        return (Py_ssize_t)ZCALL(deflateBound)(s, (unsigned long)n) + 16;
    return n + (n >> 3) + (n >> 5) + 64;
}
