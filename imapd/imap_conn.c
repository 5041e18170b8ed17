/*
 * imap_conn.c: one client connection's byte stream for imapd (the
 * contract is in imap_conn.h).
 *
 * The layers, from the server down:
 *
 *	plain IMAP bytes	imap_conn_write() queues into conn->out
 *	COMPRESS=DEFLATE	raw deflate (RFC 4978, RFC 1951), z->zout
 *	TLS			OpenSSL over our own socket BIO
 *	socket			non-blocking, send(MSG_NOSIGNAL)
 *
 * Deflate is inside TLS (compress, then encrypt), as RFC 4978 section 4
 * implies for COMPRESS after STARTTLS.
 *
 * Invariants:
 * - Nothing is buffered on behalf of an idle connection: conn->out and
 *   z->zout are freed whenever a flush empties them, the deflate state is
 *   released after every complete flush (see imap_conn_deflate_fill), TLS
 *   runs with SSL_MODE_RELEASE_BUFFERS, and the leftover of compressed
 *   input (z->zin) is freed once inflated. The inflate state stays: the
 *   peer's stream may refer back up to 32 KiB.
 * - Queued output only ever grows at the end and is consumed from the
 *   front after the layer below took it, so a TLS write retried after
 *   WANT_WRITE sees the same bytes (at an address that may have moved:
 *   SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER) and a length that never shrinks.
 * - One read never appends more than max plain bytes, whatever a few
 *   compressed bytes expand to, and reads at most one chunk of compressed
 *   input ahead of what it inflates: a decompression bomb costs the
 *   server only the buffer the caller allowed.
 * - An error from a layer that cannot go on (a TLS alert, a bad deflate
 *   stream) is kept and returned again by later calls on that side.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <zlib.h>

#include "imap_conn.h"
#include "mail_loop.h"

/* Bytes moved per step between layers: one TLS record's plaintext
 * (RFC 8446 5.1), so one SSL_read() drains a record and one SSL_write()
 * fills one. */
#define IMAP_CONN_CHUNK		16384
/* Transport reads of compressed input that inflate to nothing (empty
 * blocks, sync markers) before one imap_conn_read() gives the loop back.
 * The rest stays in the socket, which stays readable. */
#define IMAP_CONN_EMPTY_READS	16
/* Bytes offered to one deflate or inflate call (avail_* are uInt) and
 * to one SSL_write() (an int). */
#define IMAP_CONN_DEFLATE_IN	(1024 * 1024)
#define IMAP_CONN_TLS_WRITE	(1024 * 1024)

/*
 * What OpenSSL holds for one connection, which it does not report (its
 * allocator is process-wide). Measured with mallinfo2() around a server
 * SSL on OpenSSL 3.0 with SSL_MODE_RELEASE_BUFFERS and a P-256 key
 * (tests/unit/imapd/test_imap_conn.c, test_mem_tls): an established idle
 * connection, and one in the middle of its handshake (record buffers,
 * transcript hash, key share). A record buffer is held while a read or
 * write is stopped half way.
 */
#define IMAP_CONN_TLS_IDLE	9000
#define IMAP_CONN_TLS_HANDSHAKE	40000
#define IMAP_CONN_TLS_RECBUF	(IMAP_CONN_CHUNK + 2048)

struct imap_tls_ctx {
	SSL_CTX	*ssl_ctx;
	BIO_METHOD *bio_meth;		/* our socket BIO: send(MSG_NOSIGNAL) */
	unsigned refs;			/* the owner's plus one per conn */
};

/* COMPRESS=DEFLATE state. */
struct imap_conn_z {
	z_stream dout;		/* valid while dout_live */
	z_stream din;		/* next_in points into zin when avail_in */
	struct mail_buf zout;	/* bytes for the transport: output queued
				 * before COMPRESS, then deflate output */
	size_t	 zout_off;	/* prefix of zout already sent */
	struct mail_buf zin;	/* compressed input not yet inflated */
	size_t	 zmem;		/* bytes zlib holds (imap_conn_zalloc) */
	bool	 dout_live;
	bool	 need_sync;	/* deflate took input since its last
				 * completed Z_SYNC_FLUSH */
	bool	 in_more;	/* inflate filled its output: it may hold
				 * more without further input */
	bool	 in_end;	/* the client's stream had its final block */
	bool	 have_peek;	/* peek holds the next plain byte */
	uint8_t	 peek;
};

struct imap_conn {
	int	 fd;
	bool	 rd_eof;	/* EOF reported or due at the next read */
	bool	 tls_established;
	bool	 tls_failed;	/* fatal TLS error: no more I/O, no
				 * close_notify */
	bool	 tls_eof;	/* the BIO read EOF from the socket */
	uint8_t	 hs_want;	/* MAIL_EV_* the handshake waits for */
	uint8_t	 rd_want;	/* MAIL_EV_* a TLS read waits for */
	uint8_t	 wr_want;	/* MAIL_EV_* a TLS write waits for */
	int	 tls_errno;	/* errno of the BIO's last failed call */
	struct mail_buf out;	/* plain output queued */
	size_t	 out_off;	/* prefix of out already passed on */
	SSL	*ssl;
	struct imap_tls_ctx *tls_ctx;	/* our reference while ssl != NULL */
	struct imap_conn_z *z;		/* NULL until COMPRESS */
	struct mail_err *rd_err;	/* sticky read error, or NULL */
	struct mail_err *wr_err;	/* sticky flush error, or NULL */
};

static size_t
imap_conn_min(size_t a, size_t b)
{
	return a < b ? a : b;
}

/*
 * Errors.
 */

/* A socket error. A peer that went away is MAIL_ERR_TEMP ("peer away"),
 * not an internal failure. Returns -1. */
static int
imap_conn_sys_err(struct mail_err *err, int errnum, const char *what)
{
	(void)mail_err_sys(err, errnum, "%s", what);
	switch (errnum) {
	case ECONNRESET:
	case ECONNABORTED:
	case EPIPE:
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case ENETUNREACH:
		err->code = MAIL_ERR_TEMP;
		break;
	default:
		break;
	}
	return -1;
}

/* Remember err as the sticky error of one side. The first one stays. */
static void
imap_conn_keep_err(struct mail_err **slotp, const struct mail_err *err)
{
	if (*slotp != NULL)
		return;
	*slotp = mail_xmalloc(sizeof(**slotp));
	**slotp = *err;
}

/* Return the sticky error of one side into err. Returns -1. */
static int
imap_conn_sticky(const struct mail_err *kept, struct mail_err *err)
{
	*err = *kept;
	return -1;
}

/* The reason for the oldest error on OpenSSL's queue (the root cause;
 * later entries are the callers that passed it on), then clear the
 * queue, which is shared by every connection of the thread. */
static void
imap_tls_reason(char *buf, size_t size)
{
	unsigned long e = ERR_get_error();
	const char *r;

	if (e == 0)
		snprintf(buf, size, "unknown error");
	else if (ERR_SYSTEM_ERROR(e))
		snprintf(buf, size, "%s", strerror(ERR_GET_REASON(e)));
	else if ((r = ERR_reason_error_string(e)) != NULL)
		snprintf(buf, size, "%s", r);
	else
		ERR_error_string_n(e, buf, size);
	ERR_clear_error();
}

/*
 * The TLS context.
 */

/* The socket BIO. OpenSSL's own writes with write(2), which raises
 * SIGPIPE on a closed socket; a library must not depend on the program
 * ignoring it. It also keeps errno and EOF for the error messages and
 * answers BIO_CTRL_EOF, which OpenSSL asks to tell a peer's EOF from an
 * error. */
static int
imap_conn_bio_write(BIO *bio, const char *p, int n)
{
	struct imap_conn *conn = BIO_get_data(bio);
	ssize_t ret;

	BIO_clear_retry_flags(bio);
	do
		ret = send(conn->fd, p, (size_t)n, MSG_NOSIGNAL);
	while (ret < 0 && errno == EINTR);
	if (ret >= 0)
		return (int)ret;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		BIO_set_retry_write(bio);
	else
		conn->tls_errno = errno;
	return -1;
}

static int
imap_conn_bio_read(BIO *bio, char *p, int n)
{
	struct imap_conn *conn = BIO_get_data(bio);
	ssize_t ret;

	BIO_clear_retry_flags(bio);
	do
		ret = read(conn->fd, p, (size_t)n);
	while (ret < 0 && errno == EINTR);
	if (ret > 0)
		return (int)ret;
	if (ret == 0) {
		conn->tls_eof = true;
		return 0;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		BIO_set_retry_read(bio);
	else
		conn->tls_errno = errno;
	return -1;
}

static long
imap_conn_bio_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
	struct imap_conn *conn = BIO_get_data(bio);

	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;		/* we buffer nothing */
	case BIO_CTRL_EOF:
		return conn != NULL && conn->tls_eof;
	default:
		return 0;
	}
}

static int
imap_conn_bio_create(BIO *bio)
{
	BIO_set_init(bio, 1);
	return 1;
}

/* An encrypted key must fail at once, not prompt on the terminal. */
static int
imap_tls_no_passwd(char *buf, int size, int rwflag, void *arg)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)arg;
	return 0;
}

static void
imap_tls_ctx_unref(struct imap_tls_ctx **ctxp)
{
	struct imap_tls_ctx *ctx = *ctxp;

	if (ctx == NULL)
		return;
	*ctxp = NULL;
	mail_assert(ctx->refs > 0);
	if (--ctx->refs > 0)
		return;
	SSL_CTX_free(ctx->ssl_ctx);
	BIO_meth_free(ctx->bio_meth);
	free(ctx);
}

int
imap_tls_ctx_new(const char *cert_file, const char *key_file,
    struct imap_tls_ctx **ctx_r, struct mail_err *err)
{
	struct imap_tls_ctx *ctx;
	char why[200];
	int idx;

	*ctx_r = NULL;
	ERR_clear_error();
	ctx = mail_xcalloc(1, sizeof(*ctx));
	ctx->refs = 1;
	if ((ctx->ssl_ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		imap_tls_reason(why, sizeof(why));
		(void)mail_err_set(err, MAIL_ERR_INTERNAL,
		    "create TLS context: %s", why);
		goto fail;
	}
	if ((idx = BIO_get_new_index()) == -1 ||
	    (ctx->bio_meth = BIO_meth_new(idx | BIO_TYPE_SOURCE_SINK,
	    "imap_conn socket")) == NULL ||
	    BIO_meth_set_write(ctx->bio_meth, imap_conn_bio_write) != 1 ||
	    BIO_meth_set_read(ctx->bio_meth, imap_conn_bio_read) != 1 ||
	    BIO_meth_set_ctrl(ctx->bio_meth, imap_conn_bio_ctrl) != 1 ||
	    BIO_meth_set_create(ctx->bio_meth, imap_conn_bio_create) != 1) {
		imap_tls_reason(why, sizeof(why));
		(void)mail_err_set(err, MAIL_ERR_INTERNAL,
		    "create TLS socket BIO: %s", why);
		goto fail;
	}

	/*
	 * TLS 1.2 is the floor (RFC 8996 retired 1.0 and 1.1; RFC 8314 asks
	 * mail servers for 1.2). For 1.2, forward-secret AEAD suites first,
	 * then forward-secret CBC ones for old clients, in our order; the
	 * TLS 1.3 suites are OpenSSL's defaults. No renegotiation at all
	 * (a client-initiated one is a cheap way to burn server CPU). The
	 * server session cache is off: in TLS 1.2 it would keep every
	 * session in memory (up to 20480 by default); stateless tickets
	 * still resume sessions. An unexpected EOF (no close_notify) is an
	 * EOF: many IMAP clients just close the socket after LOGOUT, and
	 * every IMAP command and response is self-delimiting, so a
	 * truncation cannot pass for a complete one.
	 */
	if (SSL_CTX_set_min_proto_version(ctx->ssl_ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx->ssl_ctx,
	    "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:"
	    "ECDHE+AES:!aNULL:!eNULL:!MD5:!SHA1") != 1 ||
	    SSL_CTX_set_dh_auto(ctx->ssl_ctx, 1) != 1) {
		imap_tls_reason(why, sizeof(why));
		(void)mail_err_set(err, MAIL_ERR_INTERNAL,
		    "set TLS parameters: %s", why);
		goto fail;
	}
	SSL_CTX_set_options(ctx->ssl_ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* RELEASE_BUFFERS frees the ~34 KiB of record buffers whenever
	 * they are empty: most connections are idle most of the time. The
	 * other two match how imap_conn_flush() retries (see the top). */
	SSL_CTX_set_mode(ctx->ssl_ctx, SSL_MODE_RELEASE_BUFFERS |
	    SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(ctx->ssl_ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_default_passwd_cb(ctx->ssl_ctx, imap_tls_no_passwd);

	if (SSL_CTX_use_certificate_chain_file(ctx->ssl_ctx, cert_file) != 1) {
		imap_tls_reason(why, sizeof(why));
		(void)mail_err_set(err, MAIL_ERR_PARAM,
		    "load certificate chain '%s': %s", cert_file, why);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx->ssl_ctx, key_file,
	    SSL_FILETYPE_PEM) != 1) {
		imap_tls_reason(why, sizeof(why));
		(void)mail_err_set(err, MAIL_ERR_PARAM,
		    "load private key '%s': %s", key_file, why);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx->ssl_ctx) != 1) {
		imap_tls_reason(why, sizeof(why));
		(void)mail_err_set(err, MAIL_ERR_PARAM,
		    "private key '%s' does not match certificate '%s': %s",
		    key_file, cert_file, why);
		goto fail;
	}
	*ctx_r = ctx;
	return 0;
fail:
	imap_tls_ctx_unref(&ctx);
	return -1;
}

void
imap_tls_ctx_free(struct imap_tls_ctx **ctxp)
{
	imap_tls_ctx_unref(ctxp);
}

/*
 * The connection.
 */

struct imap_conn *
imap_conn_new(int fd)
{
	struct imap_conn *conn;

	mail_assert(fd >= 0);
	conn = mail_xcalloc(1, sizeof(*conn));
	conn->fd = fd;
	conn->hs_want = MAIL_EV_READ;	/* a server waits for ClientHello */
	conn->rd_want = MAIL_EV_READ;
	conn->wr_want = MAIL_EV_WRITE;
	return conn;
}

static voidpf
imap_conn_zalloc(voidpf opaque, uInt items, uInt size)
{
	struct imap_conn_z *z = opaque;
	size_t n;
	max_align_t *p;

	/* A size header in front of each block makes what zlib holds
	 * exact in imap_conn_mem_used(). */
	if (__builtin_mul_overflow((size_t)items, (size_t)size, &n) ||
	    n > SIZE_MAX - sizeof(*p))
		return Z_NULL;
	p = mail_xmalloc(sizeof(*p) + n);
	*(size_t *)p = n;
	z->zmem += n;
	return p + 1;
}

static void
imap_conn_zfree(voidpf opaque, voidpf ptr)
{
	struct imap_conn_z *z = opaque;
	max_align_t *p = ptr;

	if (p == NULL)
		return;
	p--;
	z->zmem -= *(size_t *)p;
	free(p);
}

static void
imap_conn_deflate_end(struct imap_conn_z *z)
{
	if (z->dout_live) {
		(void)deflateEnd(&z->dout);
		z->dout_live = false;
	}
}

void
imap_conn_free(struct imap_conn **connp)
{
	struct imap_conn *conn = *connp;

	if (conn == NULL)
		return;
	*connp = NULL;
	if (conn->ssl != NULL) {
		/* close_notify, best effort: one non-blocking try; a full
		 * socket or a dead peer just means the alert is lost.
		 * After a fatal error OpenSSL forbids SSL_shutdown(). */
		if (conn->tls_established && !conn->tls_failed) {
			ERR_clear_error();
			(void)SSL_shutdown(conn->ssl);
			ERR_clear_error();
		}
		SSL_free(conn->ssl);
		imap_tls_ctx_unref(&conn->tls_ctx);
	}
	if (conn->z != NULL) {
		imap_conn_deflate_end(conn->z);
		(void)inflateEnd(&conn->z->din);
		mail_buf_free(&conn->z->zout);
		mail_buf_free(&conn->z->zin);
		free(conn->z);
	}
	mail_buf_free(&conn->out);
	free(conn->rd_err);
	free(conn->wr_err);
	(void)close(conn->fd);
	free(conn);
}

int
imap_conn_fd(const struct imap_conn *conn)
{
	return conn->fd;
}

/*
 * TLS I/O: each returns > 0 bytes, 0 (blocked: see the *_want fields),
 * IMAP_CONN_EOF (reads) or -1.
 */

/* A failed TLS call: name the reason, mark the session dead (OpenSSL
 * allows no further I/O on it), keep the error for both sides. */
static int
imap_conn_tls_fail(struct imap_conn *conn, int ssl_err, const char *what,
    struct mail_err *err)
{
	char why[200];
	unsigned long e;
	const char *hint = "";

	if (ssl_err == SSL_ERROR_SYSCALL && conn->tls_errno != 0) {
		ERR_clear_error();
		(void)imap_conn_sys_err(err, conn->tls_errno, what);
	} else {
		if (ssl_err == SSL_ERROR_SSL) {
			/* Bytes that are no TLS record: say so, since the
			 * likely cause is a client speaking plain IMAP (or
			 * HTTP) to the TLS port. */
			e = ERR_peek_error();
			if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
			    (ERR_GET_REASON(e) == SSL_R_WRONG_VERSION_NUMBER ||
			    ERR_GET_REASON(e) == SSL_R_HTTP_REQUEST ||
			    ERR_GET_REASON(e) == SSL_R_HTTPS_PROXY_REQUEST))
				hint = " (not a TLS client?)";
			imap_tls_reason(why, sizeof(why));
		} else {
			/* SYSCALL without errno, or close_notify during the
			 * handshake: the peer hung up. */
			ERR_clear_error();
			snprintf(why, sizeof(why), "connection closed by peer");
		}
		(void)mail_err_set(err, MAIL_ERR_PROTO, "%s: %s%s", what, why,
		    hint);
	}
	conn->tls_failed = true;
	imap_conn_keep_err(&conn->rd_err, err);
	imap_conn_keep_err(&conn->wr_err, err);
	return -1;
}

static int
imap_conn_tls_handshake(struct imap_conn *conn, struct mail_err *err)
{
	int ret, e;

	ERR_clear_error();
	if ((ret = SSL_do_handshake(conn->ssl)) == 1) {
		conn->tls_established = true;
		return 1;
	}
	switch ((e = SSL_get_error(conn->ssl, ret))) {
	case SSL_ERROR_WANT_READ:
		conn->hs_want = MAIL_EV_READ;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		conn->hs_want = MAIL_EV_WRITE;
		return 0;
	default:
		return imap_conn_tls_fail(conn, e, "TLS handshake failed", err);
	}
}

static ssize_t
imap_conn_tls_recv(struct imap_conn *conn, uint8_t *p, size_t n,
    struct mail_err *err)
{
	int ret, e;

	if (!conn->tls_established &&
	    (ret = imap_conn_tls_handshake(conn, err)) <= 0)
		return ret;
	ERR_clear_error();
	if ((ret = SSL_read(conn->ssl, p, (int)imap_conn_min(n,
	    IMAP_CONN_CHUNK))) > 0) {
		conn->rd_want = MAIL_EV_READ;
		return ret;
	}
	switch ((e = SSL_get_error(conn->ssl, ret))) {
	case SSL_ERROR_WANT_READ:
		conn->rd_want = MAIL_EV_READ;
		return 0;
	case SSL_ERROR_WANT_WRITE:	/* e.g. answering a KeyUpdate */
		conn->rd_want = MAIL_EV_WRITE;
		return 0;
	case SSL_ERROR_ZERO_RETURN:	/* close_notify, or plain EOF */
		ERR_clear_error();
		return IMAP_CONN_EOF;
	case SSL_ERROR_SYSCALL:
		if (conn->tls_errno == 0) {
			ERR_clear_error();
			return IMAP_CONN_EOF;
		}
		return imap_conn_tls_fail(conn, e, "read from client", err);
	default:
		return imap_conn_tls_fail(conn, e, "TLS read", err);
	}
}

static ssize_t
imap_conn_tls_send(struct imap_conn *conn, const uint8_t *p, size_t n,
    struct mail_err *err)
{
	int ret, e;

	ERR_clear_error();
	/* n only grows between retries (see the top), as OpenSSL needs;
	 * with partial writes one call sends one record anyway. */
	if ((ret = SSL_write(conn->ssl, p, (int)imap_conn_min(n,
	    IMAP_CONN_TLS_WRITE))) > 0) {
		conn->wr_want = MAIL_EV_WRITE;
		return ret;
	}
	switch ((e = SSL_get_error(conn->ssl, ret))) {
	case SSL_ERROR_WANT_WRITE:
		conn->wr_want = MAIL_EV_WRITE;
		return 0;
	case SSL_ERROR_WANT_READ:
		conn->wr_want = MAIL_EV_READ;
		return 0;
	case SSL_ERROR_SYSCALL:
		return imap_conn_tls_fail(conn, e, "write to client", err);
	default:
		return imap_conn_tls_fail(conn, e, "TLS write", err);
	}
}

/*
 * The transport: TLS when on, else the socket itself.
 */

static ssize_t
imap_conn_recv(struct imap_conn *conn, uint8_t *p, size_t n,
    struct mail_err *err)
{
	ssize_t ret;

	if (conn->ssl != NULL)
		return imap_conn_tls_recv(conn, p, n, err);
	do
		ret = read(conn->fd, p, n);
	while (ret < 0 && errno == EINTR);
	if (ret > 0)
		return ret;
	if (ret == 0)
		return IMAP_CONN_EOF;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return 0;
	return imap_conn_sys_err(err, errno, "read from client");
}

static ssize_t
imap_conn_send(struct imap_conn *conn, const uint8_t *p, size_t n,
    struct mail_err *err)
{
	ssize_t ret;

	if (conn->ssl != NULL)
		return imap_conn_tls_send(conn, p, n, err);
	do
		ret = send(conn->fd, p, n, MSG_NOSIGNAL);
	while (ret < 0 && errno == EINTR);
	if (ret >= 0)
		return ret;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return 0;
	return imap_conn_sys_err(err, errno, "write to client");
}

/*
 * Reading.
 */

/* Where the next bytes for in go: straight into its spare room when it
 * has enough, else into the caller's stack chunk, appended afterwards.
 * The buffer is never grown ahead of the data (max may be large and
 * mail_buf rounds up to a power of two). */
static uint8_t *
imap_conn_room(struct mail_buf *in, size_t want, uint8_t *stack,
    size_t *n_r)
{
	size_t spare = in->cap > in->len + 1 ? in->cap - in->len - 1 : 0;

	if (spare >= want || spare >= IMAP_CONN_CHUNK) {
		*n_r = imap_conn_min(spare, want);
		return in->data + in->len;
	}
	*n_r = imap_conn_min(want, IMAP_CONN_CHUNK);
	return stack;
}

static void
imap_conn_room_done(struct mail_buf *in, const uint8_t *dst,
    const uint8_t *stack, size_t n)
{
	if (n == 0)
		return;
	if (dst == stack) {
		mail_buf_append(in, stack, n);
		return;
	}
	in->len += n;
	in->data[in->len] = '\0';
}

/* The end of a read that stopped at EOF or an error (ret) after total
 * bytes: report the bytes now and the end at the next call. */
static ssize_t
imap_conn_read_end(struct imap_conn *conn, ssize_t total, ssize_t ret,
    struct mail_err *err)
{
	if (ret == IMAP_CONN_EOF)
		conn->rd_eof = true;
	else
		imap_conn_keep_err(&conn->rd_err, err);
	return total > 0 ? total : ret;
}

/* One inflate call into dst[n]. Sets *got_r. Returns 1 if inflate may
 * go on, 0 if it cannot progress now (input used up, or the stream
 * ended), -1 on bad data. */
static int
imap_conn_inflate_step(struct imap_conn_z *z, uint8_t *dst, size_t n,
    size_t *got_r, struct mail_err *err)
{
	int rc;

	z->din.next_out = dst;
	z->din.avail_out = (uInt)n;
	rc = inflate(&z->din, Z_SYNC_FLUSH);
	*got_r = n - z->din.avail_out;
	z->in_more = z->din.avail_out == 0;
	switch (rc) {
	case Z_OK:
		return 1;
	case Z_BUF_ERROR:			/* no progress possible */
		z->in_more = false;
		return 0;
	case Z_STREAM_END:
		/* A final block (BFINAL) ends the stream for good; RFC 4978
		 * has no way to restart it. */
		z->in_end = true;
		z->in_more = false;
		if (z->din.avail_in > 0)
			return mail_err_set(err, MAIL_ERR_PROTO,
			    "client sent data after the end of its "
			    "compressed stream");
		return 0;
	default:
		return mail_err_set(err, MAIL_ERR_PROTO,
		    "bad compressed data from client: %s",
		    z->din.msg != NULL ? z->din.msg : zError(rc));
	}
}

/*
 * Inflate what din holds into in, at most room bytes. Sets *got_r to the
 * bytes appended, which may be > 0 even on error. Returns 0 or -1.
 *
 * When the output fills up, zlib cannot tell whether more would come
 * (the rest of the input may be only a sync marker). One more byte is
 * inflated into z->peek to find out, so that imap_conn_input_pending()
 * is exact: a caller that trusts it neither waits with input held here
 * nor spins on reads that return nothing.
 */
static int
imap_conn_inflate(struct imap_conn *conn, struct mail_buf *in, size_t room,
    size_t *got_r, struct mail_err *err)
{
	struct imap_conn_z *z = conn->z;
	uint8_t stack[IMAP_CONN_CHUNK], *dst;
	size_t n, got;
	int ret = 1;

	*got_r = 0;
	if (z->have_peek && room > 0) {
		mail_buf_append(in, &z->peek, 1);
		z->have_peek = false;
		*got_r = 1;
	}
	while (ret > 0 && *got_r < room &&
	    (z->din.avail_in > 0 || z->in_more)) {
		dst = imap_conn_room(in, imap_conn_min(room - *got_r,
		    IMAP_CONN_DEFLATE_IN), stack, &n);
		ret = imap_conn_inflate_step(z, dst, n, &got, err);
		imap_conn_room_done(in, dst, stack, got);
		*got_r += got;
	}
	if (ret > 0 && *got_r == room && (z->din.avail_in > 0 || z->in_more)) {
		ret = imap_conn_inflate_step(z, &z->peek, 1, &got, err);
		z->have_peek = got == 1;
	}
	return ret < 0 ? -1 : 0;
}

static ssize_t
imap_conn_read_deflate(struct imap_conn *conn, struct mail_buf *in,
    size_t max, struct mail_err *err)
{
	struct imap_conn_z *z = conn->z;
	uint8_t raw[IMAP_CONN_CHUNK];
	size_t total = 0, got;
	unsigned nreads = 0;
	bool full = false;
	ssize_t ret;

	/* First what an earlier read left inside zlib or in zin. */
	if (imap_conn_inflate(conn, in, max, &got, err) < 0)
		return imap_conn_read_end(conn, (ssize_t)got, -1, err);
	total = got;
	if (z->din.avail_in == 0)
		mail_buf_free(&z->zin);
	for (;;) {
		if (total == max || (nreads > 0 && !full && total > 0) ||
		    nreads == IMAP_CONN_EMPTY_READS)
			return (ssize_t)total;
		ret = imap_conn_recv(conn, raw, sizeof(raw), err);
		if (ret == 0)
			return (ssize_t)total;
		if (ret < 0)
			return imap_conn_read_end(conn, (ssize_t)total, ret,
			    err);
		nreads++;
		full = (size_t)ret == sizeof(raw);
		if (z->in_end) {
			(void)mail_err_set(err, MAIL_ERR_PROTO,
			    "client sent data after the end of its "
			    "compressed stream");
			return imap_conn_read_end(conn, (ssize_t)total, -1,
			    err);
		}
		z->din.next_in = raw;
		z->din.avail_in = (uInt)ret;
		if (imap_conn_inflate(conn, in, max - total, &got, err) < 0)
			return imap_conn_read_end(conn,
			    (ssize_t)(total + got), -1, err);
		total += got;
		/* Output room ran out: keep the rest of the chunk. zin was
		 * empty, since we only read when din had no input. */
		if (z->din.avail_in > 0) {
			mail_buf_reset(&z->zin);
			mail_buf_append(&z->zin, z->din.next_in,
			    z->din.avail_in);
			z->din.next_in = z->zin.data;
		}
	}
}

ssize_t
imap_conn_read(struct imap_conn *conn, struct mail_buf *in, size_t max,
    struct mail_err *err)
{
	uint8_t stack[IMAP_CONN_CHUNK], *dst;
	size_t total = 0, n;
	bool full = true;
	ssize_t ret;

	mail_assert(max > 0);
	if (conn->rd_err != NULL)
		return imap_conn_sticky(conn->rd_err, err);
	if (conn->rd_eof)
		return IMAP_CONN_EOF;
	if (conn->z != NULL)
		return imap_conn_read_deflate(conn, in, max, err);
	/* Read on while each read filled what it was offered: the socket
	 * (or the TLS record) may have more. A short read means drained. */
	while (total < max && full) {
		dst = imap_conn_room(in, max - total, stack, &n);
		if (conn->ssl != NULL)	/* one record at most per SSL_read */
			n = imap_conn_min(n, IMAP_CONN_CHUNK);
		ret = imap_conn_recv(conn, dst, n, err);
		if (ret == 0)
			break;
		if (ret < 0)
			return imap_conn_read_end(conn, (ssize_t)total, ret,
			    err);
		imap_conn_room_done(in, dst, stack, (size_t)ret);
		total += (size_t)ret;
		full = (size_t)ret == n;
	}
	return (ssize_t)total;
}

bool
imap_conn_input_pending(const struct imap_conn *conn)
{
	if (conn->rd_err != NULL || conn->rd_eof)
		return false;
	if (conn->z != NULL &&
	    (conn->z->have_peek || conn->z->din.avail_in > 0))
		return true;
	/* SSL_pending() counts decrypted bytes of the current record. With
	 * read-ahead off (the default) OpenSSL holds nothing beyond that
	 * record, so any other input is still in the socket. */
	return conn->ssl != NULL && conn->tls_established &&
	    !conn->tls_failed && SSL_pending(conn->ssl) > 0;
}

/*
 * Writing.
 */

void
imap_conn_write(struct imap_conn *conn, const void *p, size_t n)
{
	/* Drop the sent prefix once it is at least half the buffer: the
	 * memmove is paid for by the bytes sent since the last one. */
	if (conn->out_off > 0 && conn->out_off >= conn->out.len / 2) {
		mail_buf_consume(&conn->out, conn->out_off);
		conn->out_off = 0;
	}
	mail_buf_append(&conn->out, p, n);
}

size_t
imap_conn_output_pending(const struct imap_conn *conn)
{
	size_t n = conn->out.len - conn->out_off;

	if (conn->z != NULL) {
		n += conn->z->zout.len - conn->z->zout_off;
		if (conn->z->need_sync)
			n++;	/* bytes inside deflate, count unknown */
	}
	return n;
}

/*
 * Move plain output through deflate into zout, until zout holds a chunk
 * to send or everything is compressed and sync-flushed: the empty stored
 * block of Z_SYNC_FLUSH ends each flush on a byte boundary with every
 * byte decodable (RFC 4978 section 4).
 *
 * The deflate state (about 256 KiB with windowBits 15, memLevel 8) is
 * created here and released by imap_conn_flush() once a flush completes.
 * The client's inflate does not notice: after a sync flush a new raw
 * deflate stream is just more blocks, which only lose back references
 * into earlier flushes. An idle compressed connection so holds the
 * inflate state only, at the cost of some ratio across responses and of
 * a deflateInit per flush.
 */
static int
imap_conn_deflate_fill(struct imap_conn *conn, struct mail_err *err)
{
	struct imap_conn_z *z = conn->z;
	size_t in_n, space, left;
	bool last;
	int rc;

	while (z->zout.len - z->zout_off < IMAP_CONN_CHUNK &&
	    (conn->out.len > conn->out_off || z->need_sync)) {
		if (!z->dout_live) {
			z->dout.zalloc = imap_conn_zalloc;
			z->dout.zfree = imap_conn_zfree;
			z->dout.opaque = z;
			if ((rc = deflateInit2(&z->dout, Z_DEFAULT_COMPRESSION,
			    Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY)) != Z_OK)
				return mail_err_set(err, MAIL_ERR_INTERNAL,
				    "deflateInit2: %s", zError(rc));
			z->dout_live = true;
		}
		if (z->zout_off > 0 && z->zout_off >= z->zout.len / 2) {
			mail_buf_consume(&z->zout, z->zout_off);
			z->zout_off = 0;
		}
		mail_buf_reserve(&z->zout, IMAP_CONN_CHUNK);
		left = conn->out.len - conn->out_off;
		in_n = imap_conn_min(left, IMAP_CONN_DEFLATE_IN);
		last = in_n == left;
		space = z->zout.cap - z->zout.len - 1;
		z->dout.next_in = conn->out.data + conn->out_off;
		z->dout.avail_in = (uInt)in_n;
		z->dout.next_out = z->zout.data + z->zout.len;
		z->dout.avail_out = (uInt)imap_conn_min(space,
		    IMAP_CONN_DEFLATE_IN);
		rc = deflate(&z->dout, last ? Z_SYNC_FLUSH : Z_NO_FLUSH);
		if (rc != Z_OK && rc != Z_BUF_ERROR)
			return mail_err_set(err, MAIL_ERR_INTERNAL,
			    "deflate: %s", zError(rc));
		conn->out_off += in_n - z->dout.avail_in;
		z->zout.len = (size_t)(z->dout.next_out - z->zout.data);
		z->zout.data[z->zout.len] = '\0';
		if (in_n > z->dout.avail_in)
			z->need_sync = true;
		/* Z_BUF_ERROR with nothing left: the flush was complete. */
		if (last && z->dout.avail_in == 0 &&
		    (z->dout.avail_out > 0 || rc == Z_BUF_ERROR))
			z->need_sync = false;
	}
	if (conn->out_off == conn->out.len) {
		mail_buf_free(&conn->out);
		conn->out_off = 0;
	}
	return 0;
}

int
imap_conn_flush(struct imap_conn *conn, struct mail_err *err)
{
	struct mail_buf *q;
	size_t *offp;
	ssize_t ret;
	int hs;

	if (conn->wr_err != NULL)
		return imap_conn_sticky(conn->wr_err, err);
	if (conn->ssl != NULL && !conn->tls_established &&
	    (hs = imap_conn_tls_handshake(conn, err)) <= 0)
		return hs;
	if (conn->z != NULL) {
		q = &conn->z->zout;
		offp = &conn->z->zout_off;
	} else {
		q = &conn->out;
		offp = &conn->out_off;
	}
	for (;;) {
		if (conn->z != NULL && imap_conn_deflate_fill(conn, err) < 0) {
			imap_conn_keep_err(&conn->wr_err, err);
			return -1;
		}
		if (*offp == q->len)
			break;
		ret = imap_conn_send(conn, q->data + *offp, q->len - *offp,
		    err);
		if (ret < 0) {
			imap_conn_keep_err(&conn->wr_err, err);
			return -1;
		}
		if (ret == 0)
			return 0;
		*offp += (size_t)ret;
	}
	/* Everything is out: hold no memory while idle. */
	mail_buf_free(q);
	*offp = 0;
	if (conn->z != NULL) {
		mail_buf_free(&conn->out);
		conn->out_off = 0;
		imap_conn_deflate_end(conn->z);
	}
	return 1;
}

unsigned
imap_conn_events(const struct imap_conn *conn, bool want_read)
{
	unsigned ev = 0;

	/* A handshake in progress waits for its own direction, whatever
	 * the caller wants: both read and flush drive it. */
	if (conn->ssl != NULL && !conn->tls_established && !conn->tls_failed)
		return conn->hs_want;
	if (want_read)
		ev |= conn->ssl != NULL ? conn->rd_want : MAIL_EV_READ;
	if (imap_conn_output_pending(conn) > 0)
		ev |= conn->ssl != NULL ? conn->wr_want : MAIL_EV_WRITE;
	return ev;
}

/*
 * Layers.
 */

int
imap_conn_start_tls(struct imap_conn *conn, struct imap_tls_ctx *ctx,
    struct mail_err *err)
{
	BIO *bio;
	char why[200];

	if (conn->ssl != NULL)
		return mail_err_set(err, MAIL_ERR_PARAM, "TLS is already on");
	/* TLS under COMPRESS would encrypt compressed bytes the wrong way
	 * round (RFC 4978 section 4 wants COMPRESS over TLS). */
	if (conn->z != NULL)
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "cannot start TLS under COMPRESS");
	/* Queued plaintext would go out encrypted: a caller bug. */
	mail_assert(imap_conn_output_pending(conn) == 0);
	ERR_clear_error();
	if ((conn->ssl = SSL_new(ctx->ssl_ctx)) == NULL ||
	    (bio = BIO_new(ctx->bio_meth)) == NULL) {
		imap_tls_reason(why, sizeof(why));
		SSL_free(conn->ssl);
		conn->ssl = NULL;
		return mail_err_set(err, MAIL_ERR_INTERNAL, "start TLS: %s",
		    why);
	}
	BIO_set_data(bio, conn);
	SSL_set_bio(conn->ssl, bio, bio);	/* takes the one reference */
	SSL_set_accept_state(conn->ssl);
	conn->tls_ctx = ctx;
	ctx->refs++;
	conn->hs_want = MAIL_EV_READ;
	return 0;
}

bool
imap_conn_is_tls(const struct imap_conn *conn)
{
	return conn->ssl != NULL;
}

bool
imap_conn_tls_established(const struct imap_conn *conn)
{
	return conn->tls_established;
}

int
imap_conn_start_deflate(struct imap_conn *conn, struct mail_err *err)
{
	struct imap_conn_z *z;
	int rc;

	if (conn->z != NULL)
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "compression is already on");
	z = mail_xcalloc(1, sizeof(*z));
	z->din.zalloc = imap_conn_zalloc;
	z->din.zfree = imap_conn_zfree;
	z->din.opaque = z;
	/* Raw deflate (no zlib header), any window up to 32 KiB. */
	if ((rc = inflateInit2(&z->din, -15)) != Z_OK) {
		free(z);
		return mail_err_set(err, MAIL_ERR_INTERNAL, "inflateInit2: %s",
		    zError(rc));
	}
	/* Output queued before this call goes out as it is, ahead of the
	 * compressed stream. */
	if (conn->out.len > conn->out_off)
		mail_buf_append(&z->zout, conn->out.data + conn->out_off,
		    conn->out.len - conn->out_off);
	mail_buf_free(&conn->out);
	conn->out_off = 0;
	conn->z = z;
	return 0;
}

bool
imap_conn_is_compressed(const struct imap_conn *conn)
{
	return conn->z != NULL;
}

size_t
imap_conn_mem_used(const struct imap_conn *conn)
{
	size_t n = sizeof(*conn) + conn->out.cap;

	if (conn->rd_err != NULL)
		n += sizeof(*conn->rd_err);
	if (conn->wr_err != NULL)
		n += sizeof(*conn->wr_err);
	if (conn->z != NULL)
		n += sizeof(*conn->z) + conn->z->zout.cap + conn->z->zin.cap +
		    conn->z->zmem;
	if (conn->ssl != NULL) {
		n += conn->tls_established ? IMAP_CONN_TLS_IDLE :
		    IMAP_CONN_TLS_HANDSHAKE;
		/* A record half read or half written keeps its buffer. */
		if (conn->tls_established && !conn->tls_failed &&
		    SSL_pending(conn->ssl) > 0)
			n += IMAP_CONN_TLS_RECBUF;
		if (conn->tls_established && conn->wr_want == MAIL_EV_WRITE &&
		    imap_conn_output_pending(conn) > 0)
			n += IMAP_CONN_TLS_RECBUF;
	}
	return n;
}
