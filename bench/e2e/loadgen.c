/* WebSocket echo load generator for bench/e2e (compiled by run.py with gcc).
 *
 *   loadgen run  PORT [options]   measure one cell, print one JSON object
 *   loadgen idle PORT [options]   open --conns connections for a memory probe,
 *                                 stepping on stdin lines (see idle_mode)
 *   loadgen echo PORT             a minimal C echo server: the ceiling this
 *                                 client can drive, to show it is not the
 *                                 bottleneck of any server it measures
 *
 * Options: --conns N  --inflight K  --size BYTES  --json (1 KiB JSON text
 * instead of binary)  --deflate (offer permessage-deflate as Chromium does and
 * send compressed frames)  --warmup S  --duration S  --server-pid PID.
 *
 * Loopback only: every socket is bound or connected to 127.0.0.1.
 *
 * Why it looks like this: a Python client is slower than the fastest servers
 * measured, so this one does nothing per message that it can do in advance.
 * Frames are built once, masked with their own random keys and, with
 * --deflate, compressed once as a browser would send them: the 64 messages of
 * the pool in order through one raw-deflate stream (zlib level 6, memLevel 8,
 * Chromium's settings) with context takeover, at the window the server agreed,
 * each ending with a sync flush; each message's own fresh stream when the
 * server asked for client_no_context_takeover.  Every connection then sends
 * the pool from its first message, in order and round again: the first
 * message never refers to anything before it, so each lap is valid for an
 * inflater that kept its window.  Per message it copies
 * a ready frame into the connection's output buffer and walks the echoed
 * frame's header.  One clock read per epoll wake-up stamps every message sent
 * and received in it.  Connection 0's echoes are checked against what was
 * sent (inflated when compressed), so a server that answers wrongly fails the
 * cell instead of scoring.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define POOL 64
#define MAX_EVENTS 256

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stdout, "{\"error\": \"");
    vfprintf(stdout, fmt, ap);
    fprintf(stdout, "\"}\n");
    va_end(ap);
    fflush(stdout);
    exit(3);
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void) { /* xorshift64*: reproducible payloads and keys */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

/* ------------------------------------------------------------ SHA-1, base64 */
/* Only to check Sec-WebSocket-Accept (RFC 6455 §4.2.2) and, in echo mode, to
 * compute it: a handshake the client does not verify proves nothing. */
typedef struct { uint32_t h[5]; } sha1_t;

static uint32_t rol(uint32_t x, int s) { return (x << s) | (x >> (32 - s)); }

static void sha1_block(sha1_t *c, const uint8_t *p) {
    uint32_t w[80], a, b, cc, d, e, f, k, t;
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 80; i++) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    a = c->h[0]; b = c->h[1]; cc = c->h[2]; d = c->h[3]; e = c->h[4];
    for (int i = 0; i < 80; i++) {
        if (i < 20) { f = (b & cc) | (~b & d); k = 0x5A827999; }
        else if (i < 40) { f = b ^ cc ^ d; k = 0x6ED9EBA1; }
        else if (i < 60) { f = (b & cc) | (b & d) | (cc & d); k = 0x8F1BBCDC; }
        else { f = b ^ cc ^ d; k = 0xCA62C1D6; }
        t = rol(a, 5) + f + e + k + w[i];
        e = d; d = cc; cc = rol(b, 30); b = a; a = t;
    }
    c->h[0] += a; c->h[1] += b; c->h[2] += cc; c->h[3] += d; c->h[4] += e;
}

static void sha1(const uint8_t *data, size_t len, uint8_t out[20]) {
    sha1_t c = {{0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0}};
    size_t i;
    for (i = 0; i + 64 <= len; i += 64) sha1_block(&c, data + i);
    /* the last partial block, 0x80, zeros, and the bit length: 1 or 2 blocks */
    uint8_t tail[128] = {0};
    size_t rest = len - i, total = rest + 9 <= 64 ? 64 : 128;
    memcpy(tail, data + i, rest);
    tail[rest] = 0x80;
    uint64_t bits = (uint64_t)len * 8;
    for (int j = 0; j < 8; j++) tail[total - 1 - j] = (uint8_t)(bits >> (8 * j));
    sha1_block(&c, tail);
    if (total == 128) sha1_block(&c, tail + 64);
    for (int j = 0; j < 5; j++) {
        out[4 * j] = (uint8_t)(c.h[j] >> 24); out[4 * j + 1] = (uint8_t)(c.h[j] >> 16);
        out[4 * j + 2] = (uint8_t)(c.h[j] >> 8); out[4 * j + 3] = (uint8_t)c.h[j];
    }
}

static void b64(const uint8_t *in, size_t n, char *out) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[o] = 0;
}

static void accept_value(const char *key, char out[29]) {
    char buf[128];
    uint8_t digest[20];
    int n = snprintf(buf, sizeof buf, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    sha1((const uint8_t *)buf, (size_t)n, digest);
    b64(digest, 20, out);
}

/* Value of header NAME in an HTTP head (case-insensitive name), or NULL.
 * Copies at most cap-1 bytes of the value into out. */
static const char *header(const char *head, const char *name, char *out, size_t cap) {
    size_t nl = strlen(name);
    const char *p = strstr(head, "\r\n");
    while (p && p[2] != '\r') {
        p += 2;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ' || *v == '\t') v++;
            const char *end = strstr(v, "\r\n");
            size_t len = end ? (size_t)(end - v) : strlen(v);
            if (len >= cap) len = cap - 1;
            memcpy(out, v, len);
            out[len] = 0;
            return out;
        }
        p = strstr(p, "\r\n");
    }
    return NULL;
}

/* -------------------------------------------------------------- payloads */
typedef struct {
    uint8_t *frame;     /* the whole masked frame as sent */
    size_t frame_len;
    uint8_t *payload;   /* what the echo must carry (before compression) */
    size_t payload_len;
} msg_t;

static msg_t pool[POOL];

/* JSON as an app would exchange, exactly `size` bytes (out holds size + 1). */
static size_t make_json(char *out, size_t size, int seed) {
    size_t n = (size_t)snprintf(out, size + 1, "{\"type\":\"update\",\"seq\":%d,\"user\":{\"id\":%d,\"name\":\"user-%d\",\"roles\":[\"reader\",\"writer\"]},\"items\":[",
                                seed, 1000 + seed * 7, seed);
    for (int i = 0; n + 120 < size && i < 8; i++)
        n += (size_t)snprintf(out + n, size + 1 - n, "%s{\"sku\":\"SKU-%05d\",\"qty\":%d,\"price\":%d.%02d,\"tags\":[\"blue\",\"large\"]}",
                              i ? "," : "", (int)(rng() % 100000), (int)(rng() % 20), (int)(rng() % 500), (int)(rng() % 100));
    n += (size_t)snprintf(out + n, size + 1 - n, "],\"note\":\"");
    while (n + 2 < size) out[n++] = "abcdefghij klmnopqrstuvwxyz"[rng() % 27];
    out[n++] = '"';
    out[n++] = '}';
    return n;
}

/* The payload of one compressed message: `data` through `z`, sync-flushed,
 * the 00 00 ff ff tail removed (RFC 7692 §7.2.1).  `z` keeps its window for
 * the next message unless the caller resets it. */
static uint8_t *compress_one(z_stream *z, const uint8_t *data, size_t len, size_t *out_len) {
    size_t cap = deflateBound(z, len) + 16;
    uint8_t *out = malloc(cap);
    z->next_in = (uint8_t *)data; z->avail_in = (uInt)len;
    z->next_out = out; z->avail_out = (uInt)cap;
    if (deflate(z, Z_SYNC_FLUSH) != Z_OK || z->avail_in) die("deflate");
    size_t n = cap - z->avail_out;
    if (n < 4 || memcmp(out + n - 4, "\x00\x00\xff\xff", 4)) die("deflate tail");
    *out_len = n - 4;
    return out;
}

static size_t put_header(uint8_t *h, int fin_op, size_t len, const uint8_t key[4]) {
    size_t n = 0;
    h[n++] = (uint8_t)fin_op;
    if (len < 126) h[n++] = 0x80 | (uint8_t)len;
    else if (len < 65536) { h[n++] = 0x80 | 126; h[n++] = len >> 8; h[n++] = len & 255; }
    else { h[n++] = 0x80 | 127; for (int i = 7; i >= 0; i--) h[n++] = (uint8_t)(len >> (8 * i)); }
    memcpy(h + n, key, 4);
    return n + 4;
}

static size_t pool_wire_bytes; /* the pool's frames, all 64: the bytes a lap sends */

static void build_pool(size_t size, int json, int deflate_on, int wbits, int no_context) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflate_on && deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -wbits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        die("deflateInit2");
    pool_wire_bytes = 0;
    for (int i = 0; i < POOL; i++) {
        msg_t *m = &pool[i];
        m->payload = malloc(size + 1);
        if (json) {
            m->payload_len = make_json((char *)m->payload, size, i);
        } else {
            for (size_t j = 0; j < size; j++) m->payload[j] = (uint8_t)rng();
            m->payload_len = size;
        }
        const uint8_t *wire = m->payload;
        size_t wire_len = m->payload_len;
        uint8_t *compressed = NULL;
        if (deflate_on) {
            if (no_context) deflateReset(&z);
            wire = compressed = compress_one(&z, m->payload, m->payload_len, &wire_len);
        }
        uint8_t key[4];
        uint32_t r = (uint32_t)rng();
        memcpy(key, &r, 4);
        m->frame = malloc(wire_len + 14);
        int first = 0x80 | (json ? 1 : 2) | (deflate_on ? 0x40 : 0);
        size_t h = put_header(m->frame, first, wire_len, key);
        for (size_t j = 0; j < wire_len; j++) m->frame[h + j] = wire[j] ^ key[j & 3];
        m->frame_len = h + wire_len;
        pool_wire_bytes += m->frame_len;
        free(compressed);
    }
    if (deflate_on) deflateEnd(&z);
}

/* ------------------------------------------------------------ connections */
typedef struct {
    int fd;
    uint8_t *rx; size_t rx_len, rx_cap;
    uint8_t *tx; size_t tx_len, tx_off, tx_cap;
    uint64_t *sent_at; int q_head, q_len, q_cap;  /* FIFO of send times */
    int *sent_idx;                                 /* pool index per queued message */
    int next;                                      /* next pool index to send */
    int want_out;
    uint8_t *msg; size_t msg_len, msg_cap;          /* connection 0: reassembled echo */
    int msg_rsv1;
} conn_t;

static struct {
    int port, conns, inflight, json, deflate, server_pid;
    size_t size;
    double warmup, duration;
} opt = {0, 8, 4, 0, 0, 0, 32, 1.0, 3.0};

static int agreed_server_no_ctx, agreed_client_no_ctx;
static int agreed_client_wbits = 15;
static z_stream inflater;
static int inflater_ready;

static void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

static void loopback(struct sockaddr_in *a, int port) {
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static void send_all(int fd, const void *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) { if (errno == EINTR) continue; die("write: %s", strerror(errno)); }
        p = (const char *)p + w; n -= (size_t)w;
    }
}

/* Blocking connect and handshake; leftover bytes after the head go to rx. */
static void open_conn(conn_t *c, int idx) {
    struct sockaddr_in a;
    loopback(&a, opt.port);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0) die("socket: %s", strerror(errno));
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0) die("connect %d: %s", idx, strerror(errno));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    uint8_t raw[16];
    for (int i = 0; i < 16; i++) raw[i] = (uint8_t)rng();
    char key[32], want[29], req[512];
    b64(raw, 16, key);
    accept_value(key, want);
    int n = snprintf(req, sizeof req,
                     "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
                     opt.port, key, opt.deflate ? "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" : "");
    send_all(c->fd, req, (size_t)n);
    char head[4096];
    size_t got = 0;
    char *end = NULL;
    while (!end) {
        if (got == sizeof head - 1) die("handshake response too long");
        ssize_t r = read(c->fd, head + got, sizeof head - 1 - got);
        if (r <= 0) die("handshake %d: connection closed", idx);
        got += (size_t)r;
        head[got] = 0;
        end = strstr(head, "\r\n\r\n");
    }
    if (strncmp(head, "HTTP/1.1 101", 12)) die("handshake %d: not 101", idx);
    char val[512];
    if (!header(head, "Sec-WebSocket-Accept", val, sizeof val) || strcmp(val, want)) die("handshake %d: bad Sec-WebSocket-Accept", idx);
    const char *ext = header(head, "Sec-WebSocket-Extensions", val, sizeof val);
    if (opt.deflate) {
        if (!ext || !strstr(ext, "permessage-deflate")) die("permessage-deflate not negotiated");
        agreed_server_no_ctx = strstr(ext, "server_no_context_takeover") != NULL;
        agreed_client_no_ctx = strstr(ext, "client_no_context_takeover") != NULL;
        const char *w = strstr(ext, "client_max_window_bits=");
        agreed_client_wbits = w ? atoi(w + 23) : 15;
        if (agreed_client_wbits < 9) die("client_max_window_bits=%d is below what zlib can write", agreed_client_wbits);
    } else if (ext && *ext) {
        die("server agreed to an extension nobody offered: %s", ext);
    }
    c->rx_cap = opt.size * 4 + 65536;
    c->rx = malloc(c->rx_cap);
    size_t rest = got - (size_t)(end + 4 - head);
    memcpy(c->rx, end + 4, rest);
    c->rx_len = rest;
    c->q_cap = opt.inflight + 1;
    c->sent_at = calloc((size_t)c->q_cap, sizeof *c->sent_at);
    c->sent_idx = calloc((size_t)c->q_cap, sizeof *c->sent_idx);
    c->next = opt.deflate ? 0 : idx % POOL; /* a compressed lap starts at its first message */
}

static void queue_msg(conn_t *c, uint64_t t) {
    msg_t *m = &pool[c->next];
    if (c->tx_len + m->frame_len > c->tx_cap) {
        if (c->tx_off) { memmove(c->tx, c->tx + c->tx_off, c->tx_len - c->tx_off); c->tx_len -= c->tx_off; c->tx_off = 0; }
        if (c->tx_len + m->frame_len > c->tx_cap) {
            c->tx_cap = (c->tx_len + m->frame_len) * 2;
            c->tx = realloc(c->tx, c->tx_cap);
        }
    }
    memcpy(c->tx + c->tx_len, m->frame, m->frame_len);
    c->tx_len += m->frame_len;
    int slot = (c->q_head + c->q_len) % c->q_cap;
    c->sent_at[slot] = t;
    c->sent_idx[slot] = c->next;
    c->q_len++;
    c->next = (c->next + 1) % POOL;
}

/* Connection 0's echo must equal what was sent (inflated when compressed). */
static void check_echo(conn_t *c, int idx) {
    msg_t *m = &pool[idx];
    const uint8_t *got = c->msg;
    size_t got_len = c->msg_len;
    static uint8_t *plain;
    static size_t plain_cap;
    if (c->msg_rsv1) {
        if (!opt.deflate) die("compressed echo without permessage-deflate");
        if (!inflater_ready) {
            if (inflateInit2(&inflater, -15) != Z_OK) die("inflateInit2");
            inflater_ready = 1;
        }
        if (plain_cap < m->payload_len + 64) { plain_cap = m->payload_len + 64; plain = realloc(plain, plain_cap); }
        static const uint8_t tail[4] = {0, 0, 0xff, 0xff};
        if (c->msg_len + 4 > c->msg_cap) { c->msg_cap = c->msg_len + 4; c->msg = realloc(c->msg, c->msg_cap); }
        memcpy(c->msg + c->msg_len, tail, 4);
        inflater.next_in = c->msg; inflater.avail_in = (uInt)(c->msg_len + 4);
        inflater.next_out = plain; inflater.avail_out = (uInt)plain_cap;
        int rc = inflate(&inflater, Z_SYNC_FLUSH);
        if ((rc != Z_OK && rc != Z_BUF_ERROR) || inflater.avail_in) die("echo does not inflate");
        got = plain;
        got_len = plain_cap - inflater.avail_out;
        if (agreed_server_no_ctx) inflateReset(&inflater);
    }
    if (got_len != m->payload_len || memcmp(got, m->payload, got_len)) die("echo differs from the message sent");
}

/* Parses complete frames in rx; returns the number of whole messages. */
static int parse_rx(conn_t *c, int check, uint64_t t, uint32_t *lat, size_t *nlat, size_t lat_cap, int record) {
    size_t p = 0;
    int done = 0;
    while (c->rx_len - p >= 2) {
        uint8_t b0 = c->rx[p], b1 = c->rx[p + 1];
        if (b1 & 0x80) die("masked frame from the server");
        size_t hl = 2, len = b1 & 127;
        if (len == 126) { if (c->rx_len - p < 4) break; len = (size_t)c->rx[p + 2] << 8 | c->rx[p + 3]; hl = 4; }
        else if (len == 127) {
            if (c->rx_len - p < 10) break;
            len = 0;
            for (int i = 0; i < 8; i++) len = len << 8 | c->rx[p + 2 + i];
            hl = 10;
        }
        if (c->rx_len - p < hl + len) {
            if (hl + len > c->rx_cap) { c->rx_cap = (hl + len) * 2; c->rx = realloc(c->rx, c->rx_cap); }
            break;
        }
        int op = b0 & 15, fin = b0 >> 7;
        if (op == 8) die("server closed the connection (close frame)");
        if (op < 8) {
            if (check) {
                if (op != 0) { c->msg_len = 0; c->msg_rsv1 = (b0 & 0x40) != 0; }
                if (c->msg_len + len + 4 > c->msg_cap) { c->msg_cap = (c->msg_len + len + 4) * 2; c->msg = realloc(c->msg, c->msg_cap); }
                memcpy(c->msg + c->msg_len, c->rx + p + hl, len);
                c->msg_len += len;
            }
            if (fin) {
                if (!c->q_len) die("echo of a message never sent");
                int slot = c->q_head;
                if (check) check_echo(c, c->sent_idx[slot]);
                if (record && *nlat < lat_cap) lat[(*nlat)++] = (uint32_t)(t - c->sent_at[slot] > 0xffffffffu ? 0xffffffffu : t - c->sent_at[slot]);
                c->q_head = (c->q_head + 1) % c->q_cap;
                c->q_len--;
                done++;
            }
        }
        p += hl + len;
    }
    if (p) { memmove(c->rx, c->rx + p, c->rx_len - p); c->rx_len -= p; }
    return done;
}

static int flush_tx(conn_t *c) { /* 1 when everything queued was written */
    while (c->tx_off < c->tx_len) {
        ssize_t w = write(c->fd, c->tx + c->tx_off, c->tx_len - c->tx_off);
        if (w < 0) {
            if (errno == EAGAIN) return 0;
            if (errno == EINTR) continue;
            die("write: %s", strerror(errno));
        }
        c->tx_off += (size_t)w;
    }
    c->tx_off = c->tx_len = 0;
    return 1;
}

static void watch(int ep, conn_t *c, int idx, int out) {
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.u32 = (uint32_t)idx};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = out;
}

static int read_conn(conn_t *c) { /* bytes read; dies on EOF */
    if (c->rx_cap - c->rx_len < 65536) { c->rx_cap *= 2; c->rx = realloc(c->rx, c->rx_cap); }
    ssize_t r = read(c->fd, c->rx + c->rx_len, c->rx_cap - c->rx_len);
    if (r == 0) die("server closed the connection");
    if (r < 0) { if (errno == EAGAIN || errno == EINTR) return 0; die("read: %s", strerror(errno)); }
    c->rx_len += (size_t)r;
    return (int)r;
}

static void server_cpu(double *seconds) {
    *seconds = -1;
    if (!opt.server_pid) return;
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", opt.server_pid);
    FILE *f = fopen(path, "r");
    if (!f) return;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return;
    unsigned long ut = 0, st = 0;
    /* after ')': state(3) ... utime is field 14, stime 15 */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) return;
    *seconds = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static conn_t *open_all(void) {
    conn_t *cs = calloc((size_t)opt.conns, sizeof *cs);
    for (int i = 0; i < opt.conns; i++) open_conn(&cs[i], i);
    return cs;
}

static void close_all(conn_t *cs) {
    /* A masked Close 1000, then the socket: servers see a clean end. */
    static const uint8_t close_frame[] = {0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8};
    for (int i = 0; i < opt.conns; i++) {
        if (write(cs[i].fd, close_frame, sizeof close_frame) < 0) { /* gone already: nothing to tell */ }
        shutdown(cs[i].fd, SHUT_WR);
    }
    usleep(100000);
    for (int i = 0; i < opt.conns; i++) close(cs[i].fd);
}

static void run_mode(void) {
    conn_t *cs = open_all(); /* the pool's compression follows what was agreed */
    build_pool(opt.size, opt.json, opt.deflate, agreed_client_wbits, agreed_client_no_ctx);
    int ep = epoll_create1(0);
    uint64_t t = now_ns();
    for (int i = 0; i < opt.conns; i++) {
        set_nonblock(cs[i].fd);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
        for (int k = 0; k < opt.inflight; k++) queue_msg(&cs[i], t);
        if (!flush_tx(&cs[i])) watch(ep, &cs[i], i, 1);
    }
    size_t lat_cap = 16u << 20, nlat = 0;
    uint32_t *lat = malloc(lat_cap * sizeof *lat);
    uint64_t start = now_ns(), warm_end = start + (uint64_t)(opt.warmup * 1e9), end = warm_end + (uint64_t)(opt.duration * 1e9);
    uint64_t count = 0, bytes = 0, wakeups = 0;
    double srv0 = -1, srv1 = -1, cli0 = 0, cli1 = 0;
    uint64_t t0 = 0, t1 = 0;
    int measuring = 0;
    struct epoll_event evs[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(ep, evs, MAX_EVENTS, 1000);
        t = now_ns();
        if (n == 0) die("no progress for 1 s (server stalled)");
        if (!measuring && t >= warm_end) {
            measuring = 1; t0 = t; server_cpu(&srv0); cli0 = self_cpu();
        }
        if (measuring && t >= end) {
            t1 = t; server_cpu(&srv1); cli1 = self_cpu();
            break;
        }
        wakeups++;
        for (int e = 0; e < n; e++) {
            int i = (int)evs[e].data.u32;
            conn_t *c = &cs[i];
            if (evs[e].events & EPOLLIN) {
                int r = read_conn(c);
                int got = parse_rx(c, i == 0, t, lat, &nlat, lat_cap, measuring);
                if (measuring) { count += (uint64_t)got; bytes += (uint64_t)r; }
                for (int k = 0; k < got; k++) queue_msg(c, t);
            }
            if (evs[e].events & (EPOLLERR | EPOLLHUP)) die("connection %d failed", i);
            int flushed = flush_tx(c);
            if (flushed == c->want_out) watch(ep, c, i, !flushed);
        }
    }
    close_all(cs);
    double secs = (double)(t1 - t0) / 1e9;
    qsort(lat, nlat, sizeof *lat, cmp_u32);
    double p50 = nlat ? lat[nlat / 2] / 1e3 : -1, p99 = nlat ? lat[(size_t)((double)nlat * 0.99)] / 1e3 : -1;
    double srv = srv0 >= 0 && srv1 >= 0 ? srv1 - srv0 : -1;
    printf("{\"messages\": %llu, \"seconds\": %.6f, \"msgs_per_s\": %.1f, \"p50_us\": %.1f, \"p99_us\": %.1f, "
           "\"server_cpu_s\": %.3f, \"server_cpu_us_per_msg\": %.3f, \"client_cpu_s\": %.3f, \"client_cpu_share\": %.3f, "
           "\"rx_bytes\": %llu, \"wakeups\": %llu, \"deflate\": %d, \"server_no_context_takeover\": %d, "
           "\"client_no_context_takeover\": %d, \"client_max_window_bits\": %d, "
           "\"frame_bytes_to_server\": %.1f, \"frame_bytes_to_client\": %.1f}\n",
           (unsigned long long)count, secs, count / secs, p50, p99, srv, srv >= 0 && count ? srv * 1e6 / (double)count : -1,
           cli1 - cli0, (cli1 - cli0) / secs, (unsigned long long)bytes, (unsigned long long)wakeups, opt.deflate,
           agreed_server_no_ctx, agreed_client_no_ctx, agreed_client_wbits,
           (double)pool_wire_bytes / POOL, count ? (double)bytes / (double)count : -1.0);
}

/* Memory probe: the driver reads the server's RSS at each step.
 *   -> "handshaken N"   after every connection's handshake; waits for a line
 *   -> "exchanged N"    after each connection sent one message and got its
 *                       echo (compressed with --deflate); waits for a line
 * then closes everything. */
static void wait_line(void) {
    char line[64];
    if (!fgets(line, sizeof line, stdin)) exit(0);
}

static void idle_mode(void) {
    conn_t *cs = open_all();
    build_pool(opt.size, opt.json, opt.deflate, agreed_client_wbits, agreed_client_no_ctx);
    printf("handshaken %d\n", opt.conns);
    fflush(stdout);
    wait_line();
    for (int i = 0; i < opt.conns; i++) {
        queue_msg(&cs[i], 0);
        while (!flush_tx(&cs[i])) usleep(100);
    }
    for (int i = 0; i < opt.conns; i++) {
        if (inflater_ready) inflateReset(&inflater); /* each connection has its own context */
        while (cs[i].q_len) {
            if (read_conn(&cs[i]) == 0) usleep(100);
            size_t nlat = 0;
            parse_rx(&cs[i], 1, 0, NULL, &nlat, 0, 0);
        }
    }
    printf("exchanged %d\n", opt.conns);
    fflush(stdout);
    wait_line();
    close_all(cs);
}

/* ------------------------------------------------------- reference server */
static void unmask_copy(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4]) {
    uint64_t k8;
    uint32_t k4;
    memcpy(&k4, key, 4);
    k8 = (uint64_t)k4 << 32 | k4;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, src + i, 8);
        v ^= k8;
        memcpy(dst + i, &v, 8);
    }
    for (; i < n; i++) dst[i] = src[i] ^ key[i & 3];
}

typedef struct { int fd, open; uint8_t *rx; size_t len, cap; } echo_conn_t;

static void echo_mode(void) {
    struct sockaddr_in a;
    loopback(&a, opt.port);
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 1024)) die("bind/listen: %s", strerror(errno));
    set_nonblock(ls);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 0xffffffffu};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    int cap = 4096;
    echo_conn_t *cs = calloc((size_t)cap, sizeof *cs);
    uint8_t *out = malloc(1 << 22);
    size_t out_cap = 1 << 22;
    printf("listening %d\n", opt.port);
    fflush(stdout);
    struct epoll_event evs[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(ep, evs, MAX_EVENTS, -1);
        for (int e = 0; e < n; e++) {
            if (evs[e].data.u32 == 0xffffffffu) {
                int fd;
                while ((fd = accept(ls, NULL, NULL)) >= 0) {
                    if (fd >= cap) { close(fd); continue; }
                    set_nonblock(fd);
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    echo_conn_t *c = &cs[fd];
                    c->fd = fd; c->open = 0; c->len = 0;
                    if (!c->rx) { c->cap = 1 << 18; c->rx = malloc(c->cap); }
                    struct epoll_event cev = {.events = EPOLLIN, .data.u32 = (uint32_t)fd};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                }
                continue;
            }
            echo_conn_t *c = &cs[evs[e].data.u32];
            if (c->cap - c->len < 65536) { c->cap *= 2; c->rx = realloc(c->rx, c->cap); }
            ssize_t r = read(c->fd, c->rx + c->len, c->cap - c->len);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN) continue;
                close(c->fd);
                continue;
            }
            c->len += (size_t)r;
            size_t p = 0, o = 0;
            int closing = 0;
            if (!c->open) {
                c->rx[c->len < c->cap ? c->len : c->cap - 1] = 0;
                char *end = strstr((char *)c->rx, "\r\n\r\n");
                if (!end) continue;
                char key[128], acc[29];
                if (!header((char *)c->rx, "Sec-WebSocket-Key", key, sizeof key)) { close(c->fd); continue; }
                accept_value(key, acc);
                o = (size_t)snprintf((char *)out, out_cap, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", acc);
                p = (size_t)(end + 4 - (char *)c->rx);
                c->open = 1;
            }
            while (c->len - p >= 6) {
                uint8_t *f = c->rx + p;
                size_t hl = 2, len = f[1] & 127;
                if (len == 126) { hl = 4; if (c->len - p < 8) break; len = (size_t)f[2] << 8 | f[3]; }
                else if (len == 127) { hl = 10; if (c->len - p < 14) break; len = 0; for (int i = 0; i < 8; i++) len = len << 8 | f[2 + i]; }
                if (c->len - p < hl + 4 + len) {
                    if (hl + 4 + len > c->cap) { c->cap = (hl + 4 + len) * 2; c->rx = realloc(c->rx, c->cap); f = c->rx + p; }
                    break;
                }
                if (o + len + 10 > out_cap) { out_cap = (o + len + 10) * 2; out = realloc(out, out_cap); }
                uint8_t *key = f + hl, *pl = f + hl + 4;
                out[o++] = f[0];
                if (len < 126) out[o++] = (uint8_t)len;
                else if (len < 65536) { out[o++] = 126; out[o++] = len >> 8; out[o++] = len & 255; }
                else { out[o++] = 127; for (int i = 7; i >= 0; i--) out[o++] = (uint8_t)(len >> (8 * i)); }
                unmask_copy(out + o, pl, len, key);
                o += len;
                if ((f[0] & 15) == 8) closing = 1;
                p += hl + 4 + len;
            }
            if (p) { memmove(c->rx, c->rx + p, c->len - p); c->len -= p; }
            /* Waits out a full socket buffer in place: the load generator
             * always reads, so this ends, and the server stays trivial. */
            size_t w = 0;
            while (w < o) {
                ssize_t k = write(c->fd, out + w, o - w);
                if (k > 0) { w += (size_t)k; continue; }
                if (k < 0 && errno == EAGAIN) {
                    struct pollfd pf = {.fd = c->fd, .events = POLLOUT};
                    poll(&pf, 1, 1000);
                    continue;
                }
                break;
            }
            if (closing) close(c->fd);
        }
    }
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: loadgen run|idle|echo PORT [options]\n"); return 2; }
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) { rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl); }
    opt.port = atoi(argv[2]);
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : "0";
        if (!strcmp(a, "--conns")) { opt.conns = atoi(v); i++; }
        else if (!strcmp(a, "--inflight")) { opt.inflight = atoi(v); i++; }
        else if (!strcmp(a, "--size")) { opt.size = (size_t)atol(v); i++; }
        else if (!strcmp(a, "--warmup")) { opt.warmup = atof(v); i++; }
        else if (!strcmp(a, "--duration")) { opt.duration = atof(v); i++; }
        else if (!strcmp(a, "--server-pid")) { opt.server_pid = atoi(v); i++; }
        else if (!strcmp(a, "--json")) opt.json = 1;
        else if (!strcmp(a, "--deflate")) opt.deflate = 1;
        else { fprintf(stderr, "unknown option %s\n", a); return 2; }
    }
    if (opt.conns < 1 || opt.inflight < 1 || opt.size < 1) { fprintf(stderr, "bad option value\n"); return 2; }
    if (opt.json && opt.size < 256) { fprintf(stderr, "--json needs --size 256 or more\n"); return 2; }
    if (!strcmp(argv[1], "run")) run_mode();
    else if (!strcmp(argv[1], "idle")) idle_mode();
    else if (!strcmp(argv[1], "echo")) echo_mode();
    else { fprintf(stderr, "unknown mode %s\n", argv[1]); return 2; }
    return 0;
}
