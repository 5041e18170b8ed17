/*
 * wire_conn.c: buffering, compression and the blocking API on top of the
 * non-blocking transports (wire_conn_fd.c, wire_conn_ssh.c).
 *
 * Invariants: c->in holds raw bytes from the transport that the caller
 * has not read; while compressing they are inflated straight into the
 * caller's buffer, so a small compressed input can never inflate into an
 * unbounded buffer of ours. c->out holds raw bytes for the transport:
 * first whatever was written before compression started, then deflate
 * output. Every wait for output also drains input (wire_conn_fill), which
 * is what keeps two peers that both write before reading from
 * deadlocking.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "wire_conn_private.h"

#define WIRE_CONN_OUT_MAX	(256 * 1024)	/* auto-flush above this */
#define WIRE_CONN_CHUNK		(64 * 1024)	/* one transport read */
#define WIRE_CONN_FILL_MAX	(1024 * 1024)	/* read per fill, then write */

/* Make room for n more bytes at b->data + b->len. */
static void
wire_iobuf_reserve(struct wire_iobuf *b, size_t n)
{
	if (b->pos == b->len)
		b->pos = b->len = 0;
	if (b->cap - b->len >= n)
		return;
	if (b->pos > 0) {
		memmove(b->data, b->data + b->pos, b->len - b->pos);
		b->len -= b->pos;
		b->pos = 0;
		if (b->cap - b->len >= n)
			return;
	}
	b->data = mail_xgrow(b->data, &b->cap, b->len + n, 1);
}

static void
wire_iobuf_free(struct wire_iobuf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void
wire_conn_init(struct wire_conn *c, const struct wire_conn_ops *ops,
    const char *fmt, ...)
{
	va_list ap;

	c->ops = ops;
	va_start(ap, fmt);
	vsnprintf(c->name, sizeof(c->name), fmt, ap);
	va_end(ap);
}

static int64_t
wire_conn_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
wire_conn_wait(struct wire_conn *c, bool want_in, bool want_out,
    struct mail_err *err)
{
	struct pollfd pfd[2];
	int64_t start = wire_conn_now_ms(), left;
	int n, r;

	n = c->ops->pollfds(c, want_in && !c->eof, want_out, pfd);
	/* nothing could ever wake us: a caller bug, not a peer's fault */
	mail_assert(n > 0);
	for (;;) {
		left = -1;
		if (c->timeout_ms > 0) {
			left = c->timeout_ms - (wire_conn_now_ms() - start);
			if (left < 0)
				left = 0;
		}
		r = poll(pfd, (nfds_t)n, (int)left);
		if (r > 0)
			break;
		if (r == 0)
			return mail_err_set(err, MAIL_ERR_TEMP,
			    "%s: timed out after %d ms without progress",
			    c->name, c->timeout_ms);
		if (errno != EINTR)
			return mail_err_sys(err, errno, "poll %s", c->name);
	}
	for (int i = 0; i < n; i++)
		if (pfd[i].revents & POLLNVAL)
			return mail_err_set(err, MAIL_ERR_INTERNAL,
			    "%s: fd %d is not open", c->name, pfd[i].fd);
	return 0;
}

/* Move what the transport has ready into c->in without blocking.
 * Returns 1 if anything happened (bytes or EOF), 0 if not, -1. */
static int
wire_conn_fill(struct wire_conn *c, struct mail_err *err)
{
	size_t total = 0;
	ssize_t n;

	while (!c->eof && total < WIRE_CONN_FILL_MAX) {
		wire_iobuf_reserve(&c->in, WIRE_CONN_CHUNK);
		n = c->ops->read(c, c->in.data + c->in.len, WIRE_CONN_CHUNK,
		    err);
		if (n == WIRE_IO_AGAIN)
			return total > 0;
		if (n < 0)
			return -1;
		if (n == 0) {
			c->eof = true;
			return 1;
		}
		c->in.len += (size_t)n;
		c->raw_in += (uint64_t)n;
		total += (size_t)n;
	}
	return 1;
}

/* Send c->out until empty, reading input whenever the transport is full
 * so that a peer blocked on writing to us can go on. */
static int
wire_conn_send(struct wire_conn *c, struct mail_err *err)
{
	ssize_t n;
	int r;

	while (c->out.pos < c->out.len) {
		n = c->ops->write(c, c->out.data + c->out.pos,
		    c->out.len - c->out.pos, err);
		if (n > 0) {
			c->out.pos += (size_t)n;
			c->raw_out += (uint64_t)n;
			continue;
		}
		if (n != WIRE_IO_AGAIN)
			return -1;
		if ((r = wire_conn_fill(c, err)) < 0)
			return -1;
		if (r == 0 && wire_conn_wait(c, true, true, err) < 0)
			return -1;
	}
	c->out.pos = c->out.len = 0;
	return 0;
}

static int
wire_conn_zerr(struct wire_conn *c, const z_stream *z, int rc,
    enum mail_err_code code, const char *what, struct mail_err *err)
{
	return mail_err_set(err, code, "%s: %s: %s (zlib %d)", c->name, what,
	    z->msg != NULL ? z->msg : "failed", rc);
}

/* Deflate len bytes (or just flush with Z_SYNC_FLUSH) into c->out. */
static int
wire_conn_deflate(struct wire_conn *c, const void *buf, size_t len, int flush,
    struct mail_err *err)
{
	z_stream *z = &c->zout;
	int rc;

	z->next_in = (Bytef *)(uintptr_t)buf;
	z->avail_in = (uInt)len;
	do {
		wire_iobuf_reserve(&c->out, WIRE_CONN_CHUNK);
		z->next_out = c->out.data + c->out.len;
		z->avail_out = WIRE_CONN_CHUNK;
		rc = deflate(z, flush);
		if (rc != Z_OK && rc != Z_BUF_ERROR)
			return wire_conn_zerr(c, z, rc, MAIL_ERR_INTERNAL,
			    "deflate", err);
		c->out.len += WIRE_CONN_CHUNK - z->avail_out;
	} while (z->avail_in > 0 || z->avail_out == 0);
	return 0;
}

int
wire_conn_write(struct wire_conn *c, const void *buf, size_t len,
    struct mail_err *err)
{
	const uint8_t *p = buf;
	size_t n;

	mail_assert(!c->shut);
	c->plain_out += len;
	c->zdirty |= c->compress && len > 0;
	/* in slices, so one huge write never doubles its size in memory */
	while (len > 0) {
		n = len < WIRE_CONN_OUT_MAX ? len : WIRE_CONN_OUT_MAX;
		if (c->compress) {
			if (wire_conn_deflate(c, p, n, Z_NO_FLUSH, err) < 0)
				return -1;
		} else {
			wire_iobuf_reserve(&c->out, n);
			memcpy(c->out.data + c->out.len, p, n);
			c->out.len += n;
		}
		p += n;
		len -= n;
		if (c->out.len - c->out.pos >= WIRE_CONN_OUT_MAX &&
		    wire_conn_send(c, err) < 0)
			return -1;
	}
	return 0;
}

int
wire_conn_flush(struct wire_conn *c, struct mail_err *err)
{
	mail_assert(!c->shut);
	/* no empty sync blocks: a flush with nothing new sends nothing */
	if (c->zdirty) {
		if (wire_conn_deflate(c, NULL, 0, Z_SYNC_FLUSH, err) < 0)
			return -1;
		c->zdirty = false;
	}
	return wire_conn_send(c, err);
}

int
wire_conn_shutdown_write(struct wire_conn *c, struct mail_err *err)
{
	if (wire_conn_flush(c, err) < 0)
		return -1;
	c->shut = true;
	return c->ops->shutdown(c, err);
}

/* Inflate buffered input into buf. Returns the bytes produced or -1. */
static ssize_t
wire_conn_inflate(struct wire_conn *c, void *buf, size_t cap,
    struct mail_err *err)
{
	z_stream *z = &c->zin;
	size_t avail = c->in.len - c->in.pos;
	int rc;

	if (c->zin_end) {
		if (avail > 0)
			return mail_err_set(err, MAIL_ERR_PROTO,
			    "%s: data after the end of the compressed stream",
			    c->name);
		return 0;
	}
	z->next_in = c->in.data + c->in.pos;
	z->avail_in = (uInt)(avail < UINT32_MAX ? avail : UINT32_MAX);
	z->next_out = buf;
	z->avail_out = (uInt)(cap < UINT32_MAX ? cap : UINT32_MAX);
	rc = inflate(z, Z_SYNC_FLUSH);
	/* Z_BUF_ERROR: no progress possible now, more input needed */
	if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
		return wire_conn_zerr(c, z, rc, MAIL_ERR_PROTO,
		    "corrupt compressed stream", err);
	c->in.pos = (size_t)(z->next_in - c->in.data);
	if (rc == Z_STREAM_END)
		c->zin_end = true;
	return (ssize_t)((uint8_t *)z->next_out - (uint8_t *)buf);
}

/* Hand buffered input to the caller. Returns bytes (0: none) or -1. */
static ssize_t
wire_conn_take(struct wire_conn *c, void *buf, size_t cap,
    struct mail_err *err)
{
	size_t n = c->in.len - c->in.pos;

	if (c->compress)
		return wire_conn_inflate(c, buf, cap, err);
	if (n == 0)
		return 0;
	if (n > cap)
		n = cap;
	memcpy(buf, c->in.data + c->in.pos, n);
	c->in.pos += n;
	return (ssize_t)n;
}

int
wire_conn_read(struct wire_conn *c, void *buf, size_t cap, size_t *n_r,
    struct mail_err *err)
{
	ssize_t n;
	int r;

	mail_assert(cap > 0);
	*n_r = 0;
	for (;;) {
		if ((n = wire_conn_take(c, buf, cap, err)) < 0)
			return -1;
		if (n > 0) {
			*n_r = (size_t)n;
			c->plain_in += (uint64_t)n;
			return 0;
		}
		if (c->eof)
			return 0;
		if ((r = wire_conn_fill(c, err)) < 0)
			return -1;
		if (r == 0 && wire_conn_wait(c, true, false, err) < 0)
			return -1;
	}
}

int
wire_conn_start_compress(struct wire_conn *c, int level, struct mail_err *err)
{
	int rc;

	if (level < 1 || level > 9)
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "compression level %d is not within 1..9", level);
	if (c->compress)
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "%s: compression is already on", c->name);
	if ((rc = deflateInit(&c->zout, level)) != Z_OK)
		return wire_conn_zerr(c, &c->zout, rc, MAIL_ERR_INTERNAL,
		    "deflateInit", err);
	if ((rc = inflateInit(&c->zin)) != Z_OK) {
		deflateEnd(&c->zout);
		return wire_conn_zerr(c, &c->zin, rc, MAIL_ERR_INTERNAL,
		    "inflateInit", err);
	}
	c->compress = true;
	return 0;
}

void
wire_conn_stats(const struct wire_conn *c, uint64_t *raw_in, uint64_t *raw_out,
    uint64_t *in, uint64_t *out)
{
	if (raw_in != NULL)
		*raw_in = c->raw_in;
	if (raw_out != NULL)
		*raw_out = c->raw_out;
	if (in != NULL)
		*in = c->plain_in;
	if (out != NULL)
		*out = c->plain_out;
}

void
wire_conn_set_timeout(struct wire_conn *c, int ms)
{
	c->timeout_ms = ms > 0 ? ms : 0;
}

int
wire_conn_drain(struct wire_conn *c, struct mail_err *err)
{
	int r;

	c->in.pos = c->in.len = 0;
	while (!c->eof) {
		if ((r = wire_conn_fill(c, err)) < 0)
			return -1;
		c->in.pos = c->in.len = 0;
		if (r == 0 && wire_conn_wait(c, true, false, err) < 0)
			return -1;
	}
	return 0;
}

void
wire_conn_describe_status(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exited with status %d",
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "killed by signal %d (%s)",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, size, "ended with wait status %#x", status);
}

static void
wire_conn_free(struct wire_conn *c)
{
	if (c->compress) {
		deflateEnd(&c->zout);
		inflateEnd(&c->zin);
	}
	wire_iobuf_free(&c->in);
	wire_iobuf_free(&c->out);
	free(c); /* the transport's struct, which starts with c */
}

int
wire_conn_close(struct wire_conn **cp, struct mail_err *err)
{
	struct wire_conn *c = *cp;
	struct mail_err shut_err;
	int ret = 0;

	if (c == NULL)
		return 0;
	*cp = NULL;
	/* a failed flush (peer gone) is reported only if the exit status
	 * does not say more */
	if (!c->shut && wire_conn_shutdown_write(c, &shut_err) < 0)
		ret = -1;
	if (c->ops->finish(c, err) < 0)
		ret = 1;
	else if (ret < 0)
		*err = shut_err;
	wire_conn_free(c);
	return ret == 0 ? 0 : -1;
}

void
wire_conn_abort(struct wire_conn **cp)
{
	struct wire_conn *c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	c->ops->abort(c);
	wire_conn_free(c);
}

void
wire_conn_set_name(struct wire_conn *c, const char *name)
{
	snprintf(c->name, sizeof(c->name), "'%s'", name);
}
