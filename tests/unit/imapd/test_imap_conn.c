/*
 * test_imap_conn.c: the connection byte stream of imapd over real
 * sockets. Plain: reads bounded by max, partial writes through a small
 * send buffer (with writes while a flush is half done), EOF after data,
 * half-close, reset, a closed peer (no SIGPIPE), the queue freed when
 * empty. COMPRESS: a peer using zlib directly both ways, every flush
 * decodable at once, output queued before COMPRESS sent as is, one byte
 * at a time, a decompression bomb read in max-sized pieces, corrupt and
 * finished streams. TLS: a self-signed P-256 certificate made at test
 * time, an OpenSSL client verifying it, implicit TLS and STARTTLS, TLS
 * 1.2 and 1.3, TLS 1.1 refused, plaintext and HTTP clients refused with
 * a clear error, every TLS byte delivered alone, large transfers both ways that fill the sockets, bytes
 * left in the TLS record and in inflate (input pending), close_notify
 * both ways, a client that hangs up mid-handshake, renegotiation
 * refused, TLS with COMPRESS. Memory: the struct of an idle plain
 * connection, an idle TLS connection after its handshake (client in a
 * child process so only the server's heap counts) and a compressed one,
 * measured with mallinfo2() and compared with imap_conn_mem_used()
 * (IMAP_CONN_MEM_REPORT=1 prints the figures; under ASan or valgrind
 * only the estimates are checked).
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <zlib.h>

#include "imap_conn.h"
#include "mail_loop.h"
#include "testlib.h"

/*
 * Sockets and data.
 */

static void
sock_pair(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, sv), 0);
}

/* A loopback TCP connection: sv[0] the server's end, sv[1] the
 * client's, both non-blocking. */
static void
tcp_pair(int sv[2])
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int l;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), 0);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(l, 4), 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&a, &alen), 0);
	ck_assert_int_ge(sv[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC,
	    0), 0);
	ck_assert_int_eq(connect(sv[1], (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_ge(sv[0] = accept4(l, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC), 0);
	ck_assert_int_eq(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
	close(l);
}

static void
small_bufs(int fd, int size)
{
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size,
	    sizeof(size)), 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size,
	    sizeof(size)), 0);
}

static void
wait_fd(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	ck_assert_int_eq(poll(&p, 1, 10000), 1);
}

/* Letters in lines, from a seed: compressible, yet a lost or misplaced
 * chunk shows. */
static void
fill_text(uint8_t *p, size_t n, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = i % 64 == 63 ? '\n' : (uint8_t)('a' + (x >> 16) % 26);
	}
}

/* All byte values, from a seed: incompressible. */
static void
fill_bin(uint8_t *p, size_t n, uint32_t seed)
{
	uint32_t x = seed | 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

/* Blocking-style helpers for the test's end of a socket. */
static void
peer_send(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	ssize_t r;

	while (n > 0) {
		r = send(fd, b, n, MSG_NOSIGNAL);
		if (r < 0 && errno == EAGAIN) {
			wait_fd(fd, POLLOUT);
			continue;
		}
		ck_assert_int_gt(r, 0);
		b += r;
		n -= (size_t)r;
	}
}

/* Append what the socket has now (after waiting for some) to b. */
static size_t
peer_recv(int fd, struct mail_buf *b)
{
	uint8_t tmp[65536];
	size_t total = 0;
	ssize_t r;

	wait_fd(fd, POLLIN);
	while ((r = read(fd, tmp, sizeof(tmp))) > 0) {
		mail_buf_append(b, tmp, (size_t)r);
		total += (size_t)r;
	}
	return total;
}

static ssize_t
srv_read(struct imap_conn *conn, struct mail_buf *in, size_t max)
{
	struct mail_err err;
	ssize_t r;

	mail_err_clear(&err);
	r = imap_conn_read(conn, in, max, &err);
	ck_assert_msg(r != -1, "read: %s", err.msg);
	return r;
}

static int
srv_flush(struct imap_conn *conn)
{
	struct mail_err err;
	int r;

	mail_err_clear(&err);
	r = imap_conn_flush(conn, &err);
	ck_assert_msg(r != -1, "flush: %s", err.msg);
	return r;
}

/*
 * The zlib peer (RFC 4978: raw deflate, a sync flush per message).
 */

struct zpeer {
	z_stream d;
	z_stream i;
};

static void
zpeer_init(struct zpeer *z)
{
	memset(z, 0, sizeof(*z));
	ck_assert_int_eq(deflateInit2(&z->d, 6, Z_DEFLATED, -15, 8,
	    Z_DEFAULT_STRATEGY), Z_OK);
	ck_assert_int_eq(inflateInit2(&z->i, -15), Z_OK);
}

static void
zpeer_end(struct zpeer *z)
{
	deflateEnd(&z->d);
	inflateEnd(&z->i);
}

static void
zpeer_deflate(struct zpeer *z, const void *p, size_t n, int flush,
    struct mail_buf *out)
{
	z->d.next_in = (Bytef *)(uintptr_t)p;
	z->d.avail_in = (uInt)n;
	do {
		mail_buf_reserve(out, 65536);
		z->d.next_out = out->data + out->len;
		z->d.avail_out = 65536;
		ck_assert_int_ne(deflate(&z->d, flush), Z_STREAM_ERROR);
		out->len = (size_t)(z->d.next_out - out->data);
	} while (z->d.avail_out == 0 || z->d.avail_in > 0);
}

/* Inflate all of p; every byte must decode now (the sender flushed). */
static void
zpeer_inflate(struct zpeer *z, const void *p, size_t n, struct mail_buf *out)
{
	int rc;

	z->i.next_in = (Bytef *)(uintptr_t)p;
	z->i.avail_in = (uInt)n;
	do {
		mail_buf_reserve(out, 65536);
		z->i.next_out = out->data + out->len;
		z->i.avail_out = 65536;
		rc = inflate(&z->i, Z_SYNC_FLUSH);
		ck_assert_msg(rc == Z_OK || rc == Z_BUF_ERROR, "inflate %d",
		    rc);
		out->len = (size_t)(z->i.next_out - out->data);
	} while (z->i.avail_out == 0 || z->i.avail_in > 0);
}

/*
 * TLS: a certificate made now, and a client.
 */

static char *tmpdir;
static char cert_path[512], key_path[512];
static struct imap_tls_ctx *tls;

static void
write_cert(const char *dir, const char *name, EVP_PKEY *key, char *cpath,
    char *kpath, size_t size)
{
	X509 *x;
	X509_NAME *n;
	FILE *f;

	ck_assert_ptr_nonnull(x = X509_new());
	ck_assert_int_eq(X509_set_version(x, 2), 1);
	ck_assert_int_eq(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	ck_assert_int_eq(X509_set_pubkey(x, key), 1);
	n = X509_get_subject_name(x);
	ck_assert_int_eq(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)"localhost", -1, -1, 0), 1);
	ck_assert_int_eq(X509_set_issuer_name(x, n), 1);
	ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);
	snprintf(cpath, size, "%s/%s.crt", dir, name);
	snprintf(kpath, size, "%s/%s.key", dir, name);
	ck_assert_ptr_nonnull(f = fopen(cpath, "w"));
	ck_assert_int_eq(PEM_write_X509(f, x), 1);
	fclose(f);
	ck_assert_ptr_nonnull(f = fopen(kpath, "w"));
	ck_assert_int_eq(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL,
	    NULL), 1);
	fclose(f);
	X509_free(x);
}

static void
tls_setup(void)
{
	struct mail_err err;
	EVP_PKEY *key;

	tmpdir = testlib_tmpdir();
	ck_assert_ptr_nonnull(key = EVP_EC_gen("P-256"));
	write_cert(tmpdir, "server", key, cert_path, key_path,
	    sizeof(cert_path));
	EVP_PKEY_free(key);
	if (imap_tls_ctx_new(cert_path, key_path, &tls, &err) < 0)
		ck_abort_msg("tls ctx: %s", err.msg);
}

static void
tls_teardown(void)
{
	imap_tls_ctx_free(&tls);
	ck_assert_ptr_null(tls);
	testlib_rmdir_r(tmpdir);
	free(tmpdir);
}

/* A client that trusts our certificate and checks the name. version:
 * 0 for any, else the only protocol version it offers. */
static SSL *
client_new(int fd, int version)
{
	SSL_CTX *c;
	SSL *ssl;

	ck_assert_ptr_nonnull(c = SSL_CTX_new(TLS_client_method()));
	ck_assert_int_eq(SSL_CTX_load_verify_locations(c, cert_path, NULL), 1);
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (version != 0) {
		if (version < TLS1_2_VERSION) {
			/* OpenSSL 3 allows TLS < 1.2 at level 0 only. */
			SSL_CTX_set_security_level(c, 0);
			ck_assert_int_eq(SSL_CTX_set_cipher_list(c,
			    "DEFAULT@SECLEVEL=0"), 1);
		}
		ck_assert_int_eq(SSL_CTX_set_min_proto_version(c, version), 1);
		ck_assert_int_eq(SSL_CTX_set_max_proto_version(c, version), 1);
	}
	ck_assert_ptr_nonnull(ssl = SSL_new(c));
	SSL_CTX_free(c);		/* the SSL keeps its reference */
	ck_assert_int_eq(SSL_set_fd(ssl, fd), 1);
	ck_assert_int_eq(SSL_set1_host(ssl, "localhost"), 1);
	SSL_set_connect_state(ssl);
	return ssl;
}

/*
 * A pump: the test's peer and the server conn, both non-blocking,
 * stepped in turn around poll() until a condition holds.
 */

struct peer {
	int	 fd;
	SSL	*ssl;			/* NULL: plain socket */
	bool	 hs_done, eof, failed;
	char	 why[256];
	struct mail_buf tx;		/* bytes to send (compressed already) */
	size_t	 tx_off;
	struct mail_buf rx;		/* bytes received */
	size_t	 rbudget;		/* max bytes read per step; 0: all */
};

struct srv {
	struct imap_conn *conn;
	struct mail_buf in;
	size_t	 max;			/* per imap_conn_read() */
	size_t	 max_seen;		/* the largest read returned */
	bool	 eof, failed;
	struct mail_err err;
};

static void
peer_fail(struct peer *p, const char *what, int e)
{
	p->failed = true;
	snprintf(p->why, sizeof(p->why), "%s: ssl error %d: %s", what, e,
	    ERR_reason_error_string(ERR_peek_error()) != NULL ?
	    ERR_reason_error_string(ERR_peek_error()) : strerror(errno));
	ERR_clear_error();
}

static void
peer_step(struct peer *p)
{
	uint8_t buf[16384];
	size_t got = 0, n;
	ssize_t r;
	int e;

	if (p->failed)
		return;
	if (p->ssl != NULL && !p->hs_done) {
		if ((r = SSL_do_handshake(p->ssl)) != 1) {
			e = SSL_get_error(p->ssl, (int)r);
			if (e != SSL_ERROR_WANT_READ &&
			    e != SSL_ERROR_WANT_WRITE)
				peer_fail(p, "client handshake", e);
			return;
		}
		p->hs_done = true;
	}
	while (p->tx_off < p->tx.len) {
		n = p->tx.len - p->tx_off;
		if (p->ssl != NULL) {
			r = SSL_write(p->ssl, p->tx.data + p->tx_off,
			    (int)(n > 65536 ? 65536 : n));
			if (r <= 0) {
				e = SSL_get_error(p->ssl, (int)r);
				if (e != SSL_ERROR_WANT_READ &&
				    e != SSL_ERROR_WANT_WRITE)
					peer_fail(p, "client write", e);
				break;
			}
		} else {
			r = send(p->fd, p->tx.data + p->tx_off, n,
			    MSG_NOSIGNAL);
			if (r < 0) {
				ck_assert_int_eq(errno, EAGAIN);
				break;
			}
		}
		p->tx_off += (size_t)r;
	}
	while (!p->eof && (p->rbudget == 0 || got < p->rbudget)) {
		n = sizeof(buf);
		if (p->rbudget != 0 && p->rbudget - got < n)
			n = p->rbudget - got;
		if (p->ssl != NULL) {
			r = SSL_read(p->ssl, buf, (int)n);
			if (r <= 0) {
				e = SSL_get_error(p->ssl, (int)r);
				if (e == SSL_ERROR_ZERO_RETURN)
					p->eof = true;
				else if (e != SSL_ERROR_WANT_READ &&
				    e != SSL_ERROR_WANT_WRITE)
					peer_fail(p, "client read", e);
				break;
			}
		} else {
			r = read(p->fd, buf, n);
			if (r == 0)
				p->eof = true;
			if (r <= 0)
				break;
		}
		mail_buf_append(&p->rx, buf, (size_t)r);
		got += (size_t)r;
	}
}

static void
srv_step(struct srv *s)
{
	ssize_t r;

	if (s->failed)
		return;
	while (!s->eof) {
		r = imap_conn_read(s->conn, &s->in, s->max, &s->err);
		if (r == 0)
			break;
		if (r == IMAP_CONN_EOF) {
			s->eof = true;
			break;
		}
		if (r < 0) {
			s->failed = true;
			return;
		}
		ck_assert_uint_le((size_t)r, s->max);
		if ((size_t)r > s->max_seen)
			s->max_seen = (size_t)r;
	}
	if ((imap_conn_output_pending(s->conn) > 0 ||
	    !imap_conn_tls_established(s->conn)) &&
	    imap_conn_flush(s->conn, &s->err) < 0)
		s->failed = true;
}

typedef bool pump_done_fn(struct srv *s, struct peer *p, size_t arg);

static void
pump(struct srv *s, struct peer *p, pump_done_fn *done, size_t arg)
{
	struct pollfd pf[2];
	unsigned ev;
	time_t end = time(NULL) + 60;

	for (;;) {
		peer_step(p);
		srv_step(s);
		if (done(s, p, arg))
			return;
		ck_assert_msg(!p->failed, "peer: %s", p->why);
		ck_assert_msg(!s->failed, "server: %s", s->err.msg);
		ck_assert_msg(time(NULL) < end, "pump timed out");
		ev = imap_conn_events(s->conn, !s->eof);
		pf[0].fd = imap_conn_fd(s->conn);
		pf[0].events = (short)((ev & MAIL_EV_READ ? POLLIN : 0) |
		    (ev & MAIL_EV_WRITE ? POLLOUT : 0));
		pf[1].fd = p->fd;
		pf[1].events = (short)(POLLIN |
		    (p->tx_off < p->tx.len ? POLLOUT : 0));
		/* A short timeout: the peer's budget and the server's max
		 * leave data behind without the sockets changing state. */
		(void)poll(pf, 2, 5);
	}
}

static bool
done_srv_has(struct srv *s, struct peer *p, size_t n)
{
	(void)p;
	return s->in.len >= n;
}

static bool
done_peer_has(struct srv *s, struct peer *p, size_t n)
{
	(void)s;
	return p->rx.len >= n;
}

static bool
done_both(struct srv *s, struct peer *p, size_t n)
{
	return s->in.len >= n && p->rx.len >= n &&
	    imap_conn_output_pending(s->conn) == 0;
}

static bool
done_established(struct srv *s, struct peer *p, size_t n)
{
	(void)n;
	return imap_conn_tls_established(s->conn) && p->hs_done;
}

static bool
done_srv_failed(struct srv *s, struct peer *p, size_t n)
{
	(void)p;
	(void)n;
	return s->failed;
}

static bool
done_srv_eof(struct srv *s, struct peer *p, size_t n)
{
	(void)p;
	(void)n;
	return s->eof;
}

static void
srv_init(struct srv *s, int fd, size_t max)
{
	memset(s, 0, sizeof(*s));
	s->conn = imap_conn_new(fd);
	s->max = max;
}

static void
srv_free(struct srv *s)
{
	imap_conn_free(&s->conn);
	ck_assert_ptr_null(s->conn);
	mail_buf_free(&s->in);
}

static void
peer_free(struct peer *p)
{
	SSL_free(p->ssl);
	mail_buf_free(&p->tx);
	mail_buf_free(&p->rx);
	close(p->fd);
}

/* Implicit TLS over a loopback TCP connection, handshake done. */
static void
tls_start(struct srv *s, struct peer *p, size_t max, int version)
{
	struct mail_err err;
	int sv[2];

	tcp_pair(sv);
	srv_init(s, sv[0], max);
	memset(p, 0, sizeof(*p));
	p->fd = sv[1];
	p->ssl = client_new(sv[1], version);
	if (imap_conn_start_tls(s->conn, tls, &err) < 0)
		ck_abort_msg("start tls: %s", err.msg);
	pump(s, p, done_established, 0);
}

/*
 * Plain.
 */

START_TEST(test_plain_basic)
{
	struct mail_buf in = MAIL_BUF_INIT, got = MAIL_BUF_INIT;
	struct imap_conn *conn;
	size_t base;
	int sv[2];

	sock_pair(sv);
	conn = imap_conn_new(sv[0]);
	ck_assert_int_eq(imap_conn_fd(conn), sv[0]);
	ck_assert(!imap_conn_is_tls(conn));
	ck_assert(!imap_conn_tls_established(conn));
	ck_assert(!imap_conn_is_compressed(conn));
	base = imap_conn_mem_used(conn);
	ck_assert_uint_le(base, 256);
	ck_assert_uint_eq(imap_conn_events(conn, true), MAIL_EV_READ);
	ck_assert_uint_eq(imap_conn_events(conn, false), 0);
	ck_assert_int_eq(srv_read(conn, &in, 1024), 0);
	ck_assert(!imap_conn_input_pending(conn));

	peer_send(sv[1], "a1 NOOP\r\n", 9);
	ck_assert_int_eq(srv_read(conn, &in, 1024), 9);
	ck_assert_mem_eq(in.data, "a1 NOOP\r\n", 9);
	/* the buffer grows by what arrived, not by max */
	ck_assert_uint_lt(in.cap, 64);
	ck_assert_int_eq(srv_read(conn, &in, 1024), 0);

	imap_conn_write(conn, "* OK ", 5);
	imap_conn_write(conn, "a1 OK done\r\n", 12);
	ck_assert_uint_eq(imap_conn_output_pending(conn), 17);
	ck_assert_uint_eq(imap_conn_events(conn, false), MAIL_EV_WRITE);
	ck_assert_uint_eq(imap_conn_events(conn, true),
	    MAIL_EV_READ | MAIL_EV_WRITE);
	ck_assert_uint_gt(imap_conn_mem_used(conn), base);
	ck_assert_int_eq(srv_flush(conn), 1);
	ck_assert_uint_eq(imap_conn_output_pending(conn), 0);
	ck_assert_uint_eq(imap_conn_mem_used(conn), base);
	ck_assert_int_eq(srv_flush(conn), 1);	/* nothing queued */
	peer_recv(sv[1], &got);
	ck_assert_uint_eq(got.len, 17);
	ck_assert_mem_eq(got.data, "* OK a1 OK done\r\n", 17);

	imap_conn_free(&conn);
	ck_assert_ptr_null(conn);
	imap_conn_free(&conn);			/* NULL-safe */
	/* the fd was closed: the peer sees EOF */
	ck_assert_int_eq(read(sv[1], got.data, 1), 0);
	close(sv[1]);
	mail_buf_free(&in);
	mail_buf_free(&got);
}
END_TEST

START_TEST(test_plain_read_max)
{
	struct mail_buf in = MAIL_BUF_INIT;
	struct imap_conn *conn;
	uint8_t data[1000];
	ssize_t r;
	int sv[2];

	sock_pair(sv);
	conn = imap_conn_new(sv[0]);
	fill_text(data, sizeof(data), 1);
	peer_send(sv[1], data, sizeof(data));
	for (int i = 0; i < 10; i++) {
		ck_assert_int_eq(srv_read(conn, &in, 100), 100);
		ck_assert_uint_eq(in.len, (size_t)(i + 1) * 100);
	}
	ck_assert_mem_eq(in.data, data, sizeof(data));
	ck_assert_int_eq(srv_read(conn, &in, 100), 0);

	/* Reading into spare room, and past it. */
	mail_buf_reset(&in);
	mail_buf_reserve(&in, 40000);
	peer_send(sv[1], data, sizeof(data));
	ck_assert_int_eq(srv_read(conn, &in, 300), 300);
	ck_assert_int_eq(r = srv_read(conn, &in, 1 << 20), 700);
	ck_assert_mem_eq(in.data, data, sizeof(data));
	imap_conn_free(&conn);
	close(sv[1]);
	mail_buf_free(&in);
}
END_TEST

/* A small send buffer and a slow reader: flush returns 0 many times,
 * more output is queued while a flush is half done, and every byte
 * arrives once, in order. */
START_TEST(test_plain_partial_writes)
{
	const size_t total = 2 * 1024 * 1024, step = 300000;
	struct mail_buf got = MAIL_BUF_INIT;
	struct imap_conn *conn;
	uint8_t *data;
	size_t queued = 0, zeros = 0, base, prev;
	int sv[2], r;

	sock_pair(sv);
	small_bufs(sv[0], 4096);
	small_bufs(sv[1], 4096);
	conn = imap_conn_new(sv[0]);
	base = imap_conn_mem_used(conn);
	data = mail_xmalloc(total);
	fill_bin(data, total, 7);
	imap_conn_write(conn, data, step);
	queued = step;
	prev = imap_conn_output_pending(conn);
	for (;;) {
		r = srv_flush(conn);
		ck_assert_uint_le(imap_conn_output_pending(conn), prev);
		if (r == 1 && queued == total)
			break;
		if (r == 0) {
			zeros++;
			ck_assert(imap_conn_events(conn, false) &
			    MAIL_EV_WRITE);
		}
		if (queued < total) {
			size_t n = total - queued < step ? total - queued :
			    step;

			imap_conn_write(conn, data + queued, n);
			queued += n;
		}
		prev = imap_conn_output_pending(conn);
		peer_recv(sv[1], &got);
	}
	ck_assert_uint_gt(zeros, 10);
	while (got.len < total)
		peer_recv(sv[1], &got);
	ck_assert_uint_eq(got.len, total);
	ck_assert(memcmp(got.data, data, total) == 0);
	ck_assert_uint_eq(imap_conn_output_pending(conn), 0);
	ck_assert_uint_eq(imap_conn_mem_used(conn), base);
	imap_conn_free(&conn);
	close(sv[1]);
	free(data);
	mail_buf_free(&got);
}
END_TEST

START_TEST(test_plain_eof)
{
	struct mail_buf in = MAIL_BUF_INIT, got = MAIL_BUF_INIT;
	struct imap_conn *conn;
	uint8_t *data;
	int sv[2];

	/* Data, then a half-close: the data, then EOF (again and again),
	 * and the server can still answer. */
	sock_pair(sv);
	conn = imap_conn_new(sv[0]);
	peer_send(sv[1], "a LOGOUT\r\n", 10);
	ck_assert_int_eq(shutdown(sv[1], SHUT_WR), 0);
	ck_assert_int_eq(srv_read(conn, &in, 100), 10);
	ck_assert_int_eq(srv_read(conn, &in, 100), IMAP_CONN_EOF);
	ck_assert_int_eq(srv_read(conn, &in, 100), IMAP_CONN_EOF);
	ck_assert(!imap_conn_input_pending(conn));
	imap_conn_write(conn, "* BYE\r\n", 7);
	ck_assert_int_eq(srv_flush(conn), 1);
	peer_recv(sv[1], &got);
	ck_assert_uint_eq(got.len, 7);
	imap_conn_free(&conn);
	close(sv[1]);

	/* Exactly a full read of data and then EOF in one call: the data
	 * first, the EOF at the next call. */
	sock_pair(sv);
	conn = imap_conn_new(sv[0]);
	data = mail_xcalloc(1, 16384);
	mail_buf_reset(&in);
	peer_send(sv[1], data, 16384);
	close(sv[1]);
	ck_assert_int_eq(srv_read(conn, &in, 100000), 16384);
	ck_assert_int_eq(srv_read(conn, &in, 100000), IMAP_CONN_EOF);
	imap_conn_free(&conn);
	free(data);
	mail_buf_free(&in);
	mail_buf_free(&got);
}
END_TEST

START_TEST(test_plain_reset)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct mail_buf in = MAIL_BUF_INIT;
	struct imap_conn *conn;
	struct mail_err err;
	int sv[2];

	tcp_pair(sv);
	conn = imap_conn_new(sv[0]);
	ck_assert_int_eq(setsockopt(sv[1], SOL_SOCKET, SO_LINGER, &lg,
	    sizeof(lg)), 0);
	close(sv[1]);				/* RST */
	wait_fd(sv[0], POLLIN);
	ck_assert_int_eq(imap_conn_read(conn, &in, 100, &err), -1);
	ck_assert_str_eq(err.msg, "read from client: Connection reset by peer");
	ck_assert_int_eq(err.code, MAIL_ERR_TEMP);
	ck_assert_int_eq(err.sys_errno, ECONNRESET);
	/* the error stays */
	mail_err_clear(&err);
	ck_assert_int_eq(imap_conn_read(conn, &in, 100, &err), -1);
	ck_assert_int_eq(err.sys_errno, ECONNRESET);
	ck_assert(!imap_conn_input_pending(conn));
	imap_conn_free(&conn);
	mail_buf_free(&in);
}
END_TEST

/* A peer that is gone: EPIPE as an error, never SIGPIPE (which would
 * kill this test). */
START_TEST(test_plain_closed_peer)
{
	struct imap_conn *conn;
	struct mail_err err;
	int sv[2];

	sock_pair(sv);
	conn = imap_conn_new(sv[0]);
	close(sv[1]);
	imap_conn_write(conn, "* OK\r\n", 6);
	ck_assert_int_eq(imap_conn_flush(conn, &err), -1);
	ck_assert_str_eq(err.msg, "write to client: Broken pipe");
	ck_assert_int_eq(err.code, MAIL_ERR_TEMP);
	mail_err_clear(&err);
	ck_assert_int_eq(imap_conn_flush(conn, &err), -1);
	ck_assert_int_eq(err.sys_errno, EPIPE);
	imap_conn_free(&conn);
}
END_TEST

/*
 * COMPRESS=DEFLATE.
 */

START_TEST(test_deflate_out)
{
	static const char *const lines[] = {
		"* 1 FETCH (FLAGS (\\Seen) UID 1)\r\n",
		"* 2 FETCH (FLAGS (\\Seen) UID 2)\r\n",
		"a2 OK FETCH completed\r\n",
	};
	struct mail_buf raw = MAIL_BUF_INIT, plain = MAIL_BUF_INIT;
	struct mail_buf want = MAIL_BUF_INIT;
	struct imap_conn *conn;
	struct mail_err err;
	struct zpeer zp;
	size_t idle;
	int sv[2];

	sock_pair(sv);
	conn = imap_conn_new(sv[0]);
	zpeer_init(&zp);
	ck_assert_int_eq(imap_conn_start_deflate(conn, &err), 0);
	ck_assert(imap_conn_is_compressed(conn));
	ck_assert_int_eq(imap_conn_start_deflate(conn, &err), -1);
	ck_assert_str_eq(err.msg, "compression is already on");
	ck_assert_int_eq(err.code, MAIL_ERR_PARAM);
	idle = imap_conn_mem_used(conn);

	/* Each flush decodes completely on its own: the sync flush. The
	 * deflate state is released after each one, and the one inflate
	 * stream of the peer goes on across the restarts. */
	for (int round = 0; round < 5; round++) {
		for (size_t i = 0; i < N_ELEMENTS(lines); i++) {
			imap_conn_write(conn, lines[i], strlen(lines[i]));
			mail_buf_append_str(&want, lines[i]);
		}
		ck_assert_uint_gt(imap_conn_output_pending(conn), 0);
		ck_assert_int_eq(srv_flush(conn), 1);
		ck_assert_uint_eq(imap_conn_output_pending(conn), 0);
		ck_assert_uint_eq(imap_conn_mem_used(conn), idle);
		mail_buf_reset(&raw);
		peer_recv(sv[1], &raw);
		zpeer_inflate(&zp, raw.data, raw.len, &plain);
		ck_assert_uint_eq(plain.len, want.len);
		ck_assert_mem_eq(plain.data, want.data, want.len);
		/* ends with the empty stored block of Z_SYNC_FLUSH */
		ck_assert_mem_eq(raw.data + raw.len - 4, "\0\0\xff\xff", 4);
	}
	zpeer_end(&zp);
	imap_conn_free(&conn);
	close(sv[1]);
	mail_buf_free(&raw);
	mail_buf_free(&plain);
	mail_buf_free(&want);
}
END_TEST

/* Output queued before COMPRESS goes out as it is, then the stream. */
START_TEST(test_deflate_prefix)
{
	struct mail_buf raw = MAIL_BUF_INIT, plain = MAIL_BUF_INIT;
	struct imap_conn *conn;
	struct mail_err err;
	struct zpeer zp;
	int sv[2];

	sock_pair(sv);
	conn = imap_conn_new(sv[0]);
	zpeer_init(&zp);
	imap_conn_write(conn, "a1 OK DEFLATE active\r\n", 22);
	ck_assert_int_eq(imap_conn_start_deflate(conn, &err), 0);
	ck_assert_uint_eq(imap_conn_output_pending(conn), 22);
	imap_conn_write(conn, "* 3 EXISTS\r\n", 12);
	ck_assert_int_eq(srv_flush(conn), 1);
	peer_recv(sv[1], &raw);
	ck_assert_uint_gt(raw.len, 22);
	ck_assert_mem_eq(raw.data, "a1 OK DEFLATE active\r\n", 22);
	zpeer_inflate(&zp, raw.data + 22, raw.len - 22, &plain);
	ck_assert_uint_eq(plain.len, 12);
	ck_assert_mem_eq(plain.data, "* 3 EXISTS\r\n", 12);
	zpeer_end(&zp);
	imap_conn_free(&conn);
	close(sv[1]);
	mail_buf_free(&raw);
	mail_buf_free(&plain);
}
END_TEST

/* Commands compressed by the peer, delivered whole and one byte at a
 * time. */
START_TEST(test_deflate_in)
{
	static const char cmds[] = "a1 NOOP\r\na2 SELECT INBOX\r\n"
	    "a3 FETCH 1:* (FLAGS)\r\n";
	struct mail_buf wire = MAIL_BUF_INIT, in = MAIL_BUF_INIT;
	struct imap_conn *conn;
	struct mail_err err;
	struct zpeer zp;
	int sv[2];

	sock_pair(sv);
	conn = imap_conn_new(sv[0]);
	zpeer_init(&zp);
	ck_assert_int_eq(imap_conn_start_deflate(conn, &err), 0);
	zpeer_deflate(&zp, cmds, sizeof(cmds) - 1, Z_SYNC_FLUSH, &wire);
	peer_send(sv[1], wire.data, wire.len);
	ck_assert_int_eq(srv_read(conn, &in, 4096), sizeof(cmds) - 1);
	ck_assert_mem_eq(in.data, cmds, sizeof(cmds) - 1);
	ck_assert(!imap_conn_input_pending(conn));
	ck_assert_int_eq(srv_read(conn, &in, 4096), 0);

	/* again, one compressed byte per read */
	mail_buf_reset(&wire);
	mail_buf_reset(&in);
	zpeer_deflate(&zp, cmds, sizeof(cmds) - 1, Z_SYNC_FLUSH, &wire);
	for (size_t i = 0; i < wire.len; i++) {
		peer_send(sv[1], wire.data + i, 1);
		wait_fd(sv[0], POLLIN);
		ck_assert_int_ge(srv_read(conn, &in, 4096), 0);
	}
	ck_assert_uint_eq(in.len, sizeof(cmds) - 1);
	ck_assert_mem_eq(in.data, cmds, sizeof(cmds) - 1);
	ck_assert_int_eq(srv_read(conn, &in, 4096), 0);
	zpeer_end(&zp);
	imap_conn_free(&conn);
	close(sv[1]);
	mail_buf_free(&wire);
	mail_buf_free(&in);
}
END_TEST

/* 64 MiB of zeros in ~64 KiB of deflate: every read gives at most max,
 * the rest waits inside zlib (input pending), and memory stays small. */
START_TEST(test_deflate_bomb)
{
	const size_t total = 64 * 1024 * 1024, max = 4096;
	struct mail_buf wire = MAIL_BUF_INIT, in = MAIL_BUF_INIT;
	struct imap_conn *conn;
	struct mail_err err;
	struct zpeer zp;
	uint8_t *zeros;
	size_t got = 0, off = 0, peak = 0, reads = 0;
	ssize_t r;
	int sv[2];

	sock_pair(sv);
	conn = imap_conn_new(sv[0]);
	zpeer_init(&zp);
	ck_assert_int_eq(imap_conn_start_deflate(conn, &err), 0);
	zeros = mail_xcalloc(1, 1024 * 1024);
	for (int i = 0; i < 64; i++)
		zpeer_deflate(&zp, zeros, 1024 * 1024, Z_NO_FLUSH, &wire);
	zpeer_deflate(&zp, NULL, 0, Z_SYNC_FLUSH, &wire);
	ck_assert_uint_lt(wire.len, 128 * 1024);
	while (got < total) {
		if (off < wire.len) {
			r = send(sv[1], wire.data + off, wire.len - off,
			    MSG_NOSIGNAL);
			if (r > 0)
				off += (size_t)r;
		}
		if (!imap_conn_input_pending(conn))
			wait_fd(sv[0], POLLIN);
		r = srv_read(conn, &in, max);
		ck_assert_int_ge(r, 0);
		ck_assert_uint_le((size_t)r, max);
		ck_assert_uint_eq(in.len, (size_t)r);
		ck_assert(memcmp(in.data, zeros, in.len) == 0);
		got += (size_t)r;
		reads++;
		mail_buf_reset(&in);
		if (imap_conn_mem_used(conn) > peak)
			peak = imap_conn_mem_used(conn);
	}
	ck_assert_uint_eq(got, total);
	ck_assert_uint_ge(reads, total / max);
	ck_assert(!imap_conn_input_pending(conn));
	/* struct, inflate state and window, one chunk of input at most */
	ck_assert_uint_lt(peak, 96 * 1024);
	ck_assert_uint_le(in.cap, 2 * max);
	zpeer_end(&zp);
	imap_conn_free(&conn);
	close(sv[1]);
	free(zeros);
	mail_buf_free(&wire);
	mail_buf_free(&in);
}
END_TEST

/* Corrupt input: an error naming zlib's reason, kept for later reads,
 * while output (a BYE) still works. */
START_TEST(test_deflate_corrupt)
{
	static const uint8_t bad[] = { 0xff, 0xff, 0xff, 0xff, 0x00 };
	struct mail_buf in = MAIL_BUF_INIT, raw = MAIL_BUF_INIT;
	struct mail_buf plain = MAIL_BUF_INIT;
	struct imap_conn *conn;
	struct mail_err err;
	struct zpeer zp;
	int sv[2];

	sock_pair(sv);
	conn = imap_conn_new(sv[0]);
	zpeer_init(&zp);
	ck_assert_int_eq(imap_conn_start_deflate(conn, &err), 0);
	peer_send(sv[1], bad, sizeof(bad));
	wait_fd(sv[0], POLLIN);
	ck_assert_int_eq(imap_conn_read(conn, &in, 100, &err), -1);
	ck_assert_str_eq(err.msg,
	    "bad compressed data from client: invalid block type");
	ck_assert_int_eq(err.code, MAIL_ERR_PROTO);
	mail_err_clear(&err);
	ck_assert_int_eq(imap_conn_read(conn, &in, 100, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_PROTO);
	ck_assert(!imap_conn_input_pending(conn));
	imap_conn_write(conn, "* BYE bad data\r\n", 16);
	ck_assert_int_eq(srv_flush(conn), 1);
	peer_recv(sv[1], &raw);
	zpeer_inflate(&zp, raw.data, raw.len, &plain);
	ck_assert_uint_eq(plain.len, 16);
	zpeer_end(&zp);
	imap_conn_free(&conn);
	close(sv[1]);
	mail_buf_free(&in);
	mail_buf_free(&raw);
	mail_buf_free(&plain);
}
END_TEST

/* A final block ends the client's stream; anything after it is an error
 * (the data before it still arrives). */
START_TEST(test_deflate_after_end)
{
	struct mail_buf wire = MAIL_BUF_INIT, in = MAIL_BUF_INIT;
	struct imap_conn *conn;
	struct mail_err err;
	struct zpeer zp;
	ssize_t r;
	int sv[2];

	sock_pair(sv);
	conn = imap_conn_new(sv[0]);
	zpeer_init(&zp);
	ck_assert_int_eq(imap_conn_start_deflate(conn, &err), 0);
	zpeer_deflate(&zp, "a1 NOOP\r\n", 9, Z_FINISH, &wire);
	mail_buf_append(&wire, "junk", 4);
	peer_send(sv[1], wire.data, wire.len);
	wait_fd(sv[0], POLLIN);
	r = imap_conn_read(conn, &in, 100, &err);
	ck_assert_int_eq(r, 9);
	ck_assert_mem_eq(in.data, "a1 NOOP\r\n", 9);
	ck_assert_int_eq(imap_conn_read(conn, &in, 100, &err), -1);
	ck_assert_str_eq(err.msg, "client sent data after the end of its "
	    "compressed stream");
	zpeer_end(&zp);
	imap_conn_free(&conn);
	close(sv[1]);
	mail_buf_free(&wire);
	mail_buf_free(&in);
}
END_TEST

/* Megabytes both ways at once through small socket buffers. */
START_TEST(test_deflate_large)
{
	const size_t total = 3 * 1024 * 1024;
	struct mail_buf plain = MAIL_BUF_INIT;
	struct mail_err err;
	struct zpeer zp;
	struct srv s;
	struct peer p;
	uint8_t *up, *down;
	int sv[2];

	sock_pair(sv);
	small_bufs(sv[0], 8192);
	small_bufs(sv[1], 8192);
	srv_init(&s, sv[0], 65536);
	memset(&p, 0, sizeof(p));
	p.fd = sv[1];
	p.rbudget = 5000;
	zpeer_init(&zp);
	ck_assert_int_eq(imap_conn_start_deflate(s.conn, &err), 0);
	up = mail_xmalloc(total);
	down = mail_xmalloc(total);
	fill_text(up, total, 3);
	fill_bin(down, total / 2, 4);
	fill_text(down + total / 2, total / 2, 5);
	zpeer_deflate(&zp, up, total, Z_SYNC_FLUSH, &p.tx);
	imap_conn_write(s.conn, down, total);
	/* the peer's rx holds compressed bytes: pump until all of it
	 * decodes, i.e. until the server's flush completed */
	for (;;) {
		pump(&s, &p, done_srv_has, total);
		if (imap_conn_output_pending(s.conn) == 0)
			break;
	}
	while (p.rx.len > 0 || plain.len < total) {
		zpeer_inflate(&zp, p.rx.data, p.rx.len, &plain);
		mail_buf_reset(&p.rx);
		if (plain.len < total)
			pump(&s, &p, done_peer_has, 1);
	}
	ck_assert_uint_eq(s.in.len, total);
	ck_assert(memcmp(s.in.data, up, total) == 0);
	ck_assert_uint_eq(plain.len, total);
	ck_assert(memcmp(plain.data, down, total) == 0);
	ck_assert_uint_le(s.max_seen, 65536);
	zpeer_end(&zp);
	srv_free(&s);
	peer_free(&p);
	free(up);
	free(down);
	mail_buf_free(&plain);
}
END_TEST

/*
 * TLS.
 */

START_TEST(test_tls_ctx_errors)
{
	struct imap_tls_ctx *ctx = NULL;
	struct mail_err err;
	char other_crt[600], other_key[600], junk[600], enc[600];
	EVP_PKEY *key;
	FILE *f;

	ck_assert_int_eq(imap_tls_ctx_new("/nonexistent/c.pem", key_path,
	    &ctx, &err), -1);
	ck_assert_ptr_null(ctx);
	ck_assert_str_eq(err.msg, "load certificate chain "
	    "'/nonexistent/c.pem': No such file or directory");
	ck_assert_int_eq(err.code, MAIL_ERR_PARAM);

	ck_assert_int_eq(imap_tls_ctx_new(cert_path, "/nonexistent/k.pem",
	    &ctx, &err), -1);
	ck_assert_str_eq(err.msg, "load private key "
	    "'/nonexistent/k.pem': No such file or directory");

	snprintf(junk, sizeof(junk), "%s/junk.pem", tmpdir);
	ck_assert_ptr_nonnull(f = fopen(junk, "w"));
	fputs("not a certificate\n", f);
	fclose(f);
	ck_assert_int_eq(imap_tls_ctx_new(junk, key_path, &ctx, &err), -1);
	ck_assert_msg(strstr(err.msg, junk) != NULL &&
	    strstr(err.msg, "no start line") != NULL, "%s", err.msg);
	ck_assert_int_eq(imap_tls_ctx_new(cert_path, junk, &ctx, &err), -1);
	ck_assert_msg(strncmp(err.msg, "load private key '", 18) == 0,
	    "%s", err.msg);

	/* a key of another certificate */
	ck_assert_ptr_nonnull(key = EVP_EC_gen("P-256"));
	write_cert(tmpdir, "other", key, other_crt, other_key,
	    sizeof(other_crt));
	ck_assert_int_eq(imap_tls_ctx_new(cert_path, other_key, &ctx, &err),
	    -1);
	ck_assert_msg(strstr(err.msg, "key values mismatch") != NULL,
	    "%s", err.msg);
	ck_assert_msg(strstr(err.msg, other_key) != NULL, "%s", err.msg);

	/* an encrypted key fails at once instead of prompting */
	snprintf(enc, sizeof(enc), "%s/enc.key", tmpdir);
	ck_assert_ptr_nonnull(f = fopen(enc, "w"));
	ck_assert_int_eq(PEM_write_PrivateKey(f, key, EVP_aes_128_cbc(),
	    (const unsigned char *)"pw", 2, NULL, NULL), 1);
	fclose(f);
	ck_assert_int_eq(imap_tls_ctx_new(other_crt, enc, &ctx, &err), -1);
	ck_assert_msg(strncmp(err.msg, "load private key '", 18) == 0,
	    "%s", err.msg);
	ck_assert_int_eq(imap_tls_ctx_new(other_crt, other_key, &ctx, &err),
	    0);
	imap_tls_ctx_free(&ctx);
	ck_assert_ptr_null(ctx);
	imap_tls_ctx_free(&ctx);		/* NULL-safe */
	EVP_PKEY_free(key);
}
END_TEST

/* Implicit TLS: the greeting queued before the handshake, data both
 * ways, the client verified our certificate, close_notify at free. */
START_TEST(test_tls_basic)
{
	struct mail_err err;
	struct srv s;
	struct peer p;
	int sv[2];

	tcp_pair(sv);
	srv_init(&s, sv[0], 4096);
	memset(&p, 0, sizeof(p));
	p.fd = sv[1];
	p.ssl = client_new(sv[1], 0);
	ck_assert_int_eq(imap_conn_start_tls(s.conn, tls, &err), 0);
	ck_assert(imap_conn_is_tls(s.conn));
	ck_assert(!imap_conn_tls_established(s.conn));
	/* waiting for ClientHello whatever the caller wants */
	ck_assert_uint_eq(imap_conn_events(s.conn, false), MAIL_EV_READ);
	ck_assert_int_eq(imap_conn_start_tls(s.conn, tls, &err), -1);
	ck_assert_str_eq(err.msg, "TLS is already on");
	ck_assert_int_eq(err.code, MAIL_ERR_PARAM);
	imap_conn_write(s.conn, "* OK ready\r\n", 12);
	ck_assert_int_eq(srv_flush(s.conn), 0);	/* needs ClientHello */
	ck_assert_uint_eq(imap_conn_events(s.conn, true), MAIL_EV_READ);

	pump(&s, &p, done_peer_has, 12);
	ck_assert(imap_conn_tls_established(s.conn));
	ck_assert_mem_eq(p.rx.data, "* OK ready\r\n", 12);
	ck_assert_int_eq(SSL_get_verify_result(p.ssl), X509_V_OK);
	ck_assert_str_eq(SSL_get_version(p.ssl), "TLSv1.3");
	ck_assert_uint_eq(imap_conn_events(s.conn, true), MAIL_EV_READ);

	mail_buf_append_str(&p.tx, "a1 CAPABILITY\r\n");
	pump(&s, &p, done_srv_has, 15);
	ck_assert_mem_eq(s.in.data, "a1 CAPABILITY\r\n", 15);

	imap_conn_free(&s.conn);		/* sends close_notify */
	while (!p.eof) {
		wait_fd(p.fd, POLLIN);
		peer_step(&p);
		ck_assert_msg(!p.failed, "%s", p.why);
	}
	mail_buf_free(&s.in);
	peer_free(&p);
}
END_TEST

START_TEST(test_tls12)
{
	struct srv s;
	struct peer p;

	tls_start(&s, &p, 4096, TLS1_2_VERSION);
	ck_assert_str_eq(SSL_get_version(p.ssl), "TLSv1.2");
	ck_assert_msg(strncmp(SSL_get_cipher_name(p.ssl), "ECDHE-ECDSA-", 12)
	    == 0 && strstr(SSL_get_cipher_name(p.ssl), "GCM") != NULL,
	    "%s", SSL_get_cipher_name(p.ssl));
	mail_buf_append_str(&p.tx, "a1 NOOP\r\n");
	imap_conn_write(s.conn, "* OK\r\n", 6);
	pump(&s, &p, done_peer_has, 6);
	pump(&s, &p, done_srv_has, 9);
	srv_free(&s);
	peer_free(&p);
}
END_TEST

/* TLS 1.2 renegotiation started by the client is refused: the server
 * answers with a no_renegotiation alert and never starts a second
 * handshake, and its side of the connection stays sound. */
START_TEST(test_tls_no_renegotiation)
{
	struct srv s;
	struct peer p;
	int r, e;

	tls_start(&s, &p, 4096, TLS1_2_VERSION);
	ck_assert_int_eq(SSL_renegotiate(p.ssl), 1);
	r = SSL_do_handshake(p.ssl);
	ck_assert_int_le(r, 0);
	for (int i = 0; i < 200 && SSL_renegotiate_pending(p.ssl); i++) {
		srv_step(&s);
		ck_assert_msg(!s.failed, "server: %s", s.err.msg);
		(void)poll(NULL, 0, 5);
		r = SSL_read(p.ssl, (char[16]){ 0 }, 16);
		e = SSL_get_error(p.ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			break;
	}
	/* the server never completed a second handshake */
	ck_assert_int_eq(SSL_num_renegotiations(p.ssl), 1);
	ck_assert(SSL_renegotiate_pending(p.ssl));
	ck_assert(!s.failed);
	/* and said so: OpenSSL's client takes the warning as fatal */
	ck_assert_int_le(SSL_read(p.ssl, (char[16]){ 0 }, 16), 0);
	ck_assert_str_eq(ERR_reason_error_string(ERR_peek_error()),
	    "no renegotiation");
	srv_free(&s);
	ERR_clear_error();
	peer_free(&p);
}
END_TEST

START_TEST(test_tls11_refused)
{
	struct mail_err err;
	struct srv s;
	struct peer p;
	int sv[2];

	tcp_pair(sv);
	srv_init(&s, sv[0], 4096);
	memset(&p, 0, sizeof(p));
	p.fd = sv[1];
	p.ssl = client_new(sv[1], TLS1_1_VERSION);
	ck_assert_int_eq(imap_conn_start_tls(s.conn, tls, &err), 0);
	pump(&s, &p, done_srv_failed, 0);
	ck_assert_str_eq(s.err.msg, "TLS handshake failed: unsupported "
	    "protocol");
	ck_assert_int_eq(s.err.code, MAIL_ERR_PROTO);
	ERR_clear_error();
	srv_free(&s);
	peer_free(&p);
}
END_TEST

/* Plain IMAP or HTTP on the TLS port: a clear error, kept for both
 * sides. */
START_TEST(test_tls_plaintext_client)
{
	static const char *const hello[] = {
		"a1 CAPABILITY\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
	};
	static const char *const why[] = {
		"TLS handshake failed: wrong version number (not a TLS "
		    "client?)",
		"TLS handshake failed: http request (not a TLS client?)",
	};
	struct mail_buf in = MAIL_BUF_INIT;
	struct imap_conn *conn;
	struct mail_err err;
	int sv[2], i = _i;

	tcp_pair(sv);
	conn = imap_conn_new(sv[0]);
	ck_assert_int_eq(imap_conn_start_tls(conn, tls, &err), 0);
	peer_send(sv[1], hello[i], strlen(hello[i]));
	wait_fd(sv[0], POLLIN);
	ck_assert_int_eq(imap_conn_read(conn, &in, 100, &err), -1);
	ck_assert_str_eq(err.msg, why[i]);
	ck_assert_int_eq(err.code, MAIL_ERR_PROTO);
	ck_assert(!imap_conn_tls_established(conn));
	ck_assert_uint_eq(in.len, 0);
	mail_err_clear(&err);
	ck_assert_int_eq(imap_conn_flush(conn, &err), -1);
	ck_assert_str_eq(err.msg, why[i]);
	mail_err_clear(&err);
	ck_assert_int_eq(imap_conn_read(conn, &in, 100, &err), -1);
	ck_assert_str_eq(err.msg, why[i]);
	imap_conn_free(&conn);
	close(sv[1]);
	mail_buf_free(&in);
}
END_TEST

/* A client that hangs up in the middle of the handshake. */
START_TEST(test_tls_handshake_hangup)
{
	struct mail_buf in = MAIL_BUF_INIT;
	struct imap_conn *conn;
	struct mail_err err;
	SSL *c;
	int sv[2];

	tcp_pair(sv);
	conn = imap_conn_new(sv[0]);
	ck_assert_int_eq(imap_conn_start_tls(conn, tls, &err), 0);
	c = client_new(sv[1], 0);
	ck_assert_int_le(SSL_do_handshake(c), 0);	/* ClientHello out */
	wait_fd(sv[0], POLLIN);
	ck_assert_int_eq(srv_read(conn, &in, 100), 0);	/* flight sent */
	ck_assert(!imap_conn_tls_established(conn));
	SSL_free(c);
	close(sv[1]);
	wait_fd(sv[0], POLLIN);
	ck_assert_int_eq(imap_conn_read(conn, &in, 100, &err), -1);
	ck_assert_msg(strncmp(err.msg, "TLS handshake failed: ", 22) == 0,
	    "%s", err.msg);
	ck_assert_msg(strstr(err.msg, "connection closed by peer") != NULL ||
	    strstr(err.msg, "reset by peer") != NULL ||
	    strstr(err.msg, "unexpected eof") != NULL, "%s", err.msg);
	ERR_clear_error();
	imap_conn_free(&conn);
	mail_buf_free(&in);
}
END_TEST

/* Move at most one byte from fd "from" to fd "to". Returns 1 if it
 * did. */
static int
relay_byte(int from, int to)
{
	uint8_t c;

	if (read(from, &c, 1) != 1)
		return 0;
	peer_send(to, &c, 1);
	return 1;
}

/* The handshake and data with every TLS byte delivered alone, both
 * ways: each record arrives in pieces, each read returns 0 until one is
 * complete. */
START_TEST(test_tls_trickle)
{
	struct mail_err err;
	struct srv s;
	struct peer p;
	int a[2], b[2], moved;
	unsigned zeros = 0, rounds = 0;

	sock_pair(a);				/* server conn - relay */
	sock_pair(b);				/* relay - client */
	srv_init(&s, a[0], 4096);
	memset(&p, 0, sizeof(p));
	p.fd = b[1];
	p.ssl = client_new(b[1], 0);
	mail_buf_append_str(&p.tx, "a1 NOOP\r\n");
	ck_assert_int_eq(imap_conn_start_tls(s.conn, tls, &err), 0);
	imap_conn_write(s.conn, "* OK ready\r\n", 12);
	while (s.in.len < 9 || p.rx.len < 12) {
		ck_assert_uint_lt(++rounds, 100000);
		peer_step(&p);
		ck_assert_msg(!p.failed, "peer: %s", p.why);
		moved = relay_byte(b[0], a[1]) + relay_byte(a[1], b[0]);
		if (srv_read(s.conn, &s.in, s.max) == 0)
			zeros++;
		if (imap_conn_output_pending(s.conn) > 0 ||
		    !imap_conn_tls_established(s.conn))
			(void)srv_flush(s.conn);
		if (moved == 0)
			(void)poll(NULL, 0, 1);
	}
	ck_assert_mem_eq(s.in.data, "a1 NOOP\r\n", 9);
	ck_assert_mem_eq(p.rx.data, "* OK ready\r\n", 12);
	ck_assert_uint_gt(zeros, 100);
	srv_free(&s);
	peer_free(&p);
	close(a[1]);
	close(b[0]);
}
END_TEST

/* TLS goes under COMPRESS, never over it. */
START_TEST(test_tls_under_deflate)
{
	struct imap_conn *conn;
	struct mail_err err;
	int sv[2];

	sock_pair(sv);
	conn = imap_conn_new(sv[0]);
	ck_assert_int_eq(imap_conn_start_deflate(conn, &err), 0);
	ck_assert_int_eq(imap_conn_start_tls(conn, tls, &err), -1);
	ck_assert_str_eq(err.msg, "cannot start TLS under COMPRESS");
	ck_assert(!imap_conn_is_tls(conn));
	imap_conn_free(&conn);
	close(sv[1]);
}
END_TEST

/* Megabytes both ways at once: the server's writes hit a full socket
 * (a slow client), its reads are cut at max. */
START_TEST(test_tls_large)
{
	const size_t total = 4 * 1024 * 1024;
	uint8_t *up, *down;
	struct srv s;
	struct peer p;

	tls_start(&s, &p, 65536, 0);
	small_bufs(imap_conn_fd(s.conn), 16384);
	small_bufs(p.fd, 16384);
	up = mail_xmalloc(total);
	down = mail_xmalloc(total);
	fill_bin(up, total, 11);
	fill_bin(down, total, 12);
	mail_buf_append(&p.tx, up, total);
	p.rbudget = 7000;
	/* in pieces, some queued while a flush is half done */
	for (size_t off = 0; off < total; off += total / 8) {
		imap_conn_write(s.conn, down + off, total / 8);
		pump(&s, &p, done_peer_has, off / 2);
	}
	pump(&s, &p, done_both, total);
	ck_assert_uint_eq(s.in.len, total);
	ck_assert(memcmp(s.in.data, up, total) == 0);
	ck_assert_uint_eq(p.rx.len, total);
	ck_assert(memcmp(p.rx.data, down, total) == 0);
	ck_assert_uint_le(s.max_seen, 65536);
	srv_free(&s);
	peer_free(&p);
	free(up);
	free(down);
}
END_TEST

/* One record of 10000 bytes read 100 at a time: after the first read the
 * rest is inside OpenSSL, and the socket is no longer readable. */
START_TEST(test_tls_input_pending)
{
	struct pollfd pf;
	uint8_t data[10000];
	struct srv s;
	struct peer p;
	size_t reads = 0;

	tls_start(&s, &p, 100, 0);
	fill_text(data, sizeof(data), 9);
	ck_assert(!imap_conn_input_pending(s.conn));
	ck_assert_int_eq(SSL_write(p.ssl, data, sizeof(data)), sizeof(data));
	wait_fd(imap_conn_fd(s.conn), POLLIN);
	ck_assert_int_eq(srv_read(s.conn, &s.in, 100), 100);
	ck_assert(imap_conn_input_pending(s.conn));
	pf.fd = imap_conn_fd(s.conn);
	pf.events = POLLIN;
	ck_assert_int_eq(poll(&pf, 1, 0), 0);
	/* the estimate counts the held record buffer */
	ck_assert_uint_gt(imap_conn_mem_used(s.conn), 16384);
	while (imap_conn_input_pending(s.conn)) {
		ck_assert_int_eq(srv_read(s.conn, &s.in, 100), 100);
		reads++;
	}
	ck_assert_uint_eq(reads, 99);
	ck_assert_uint_eq(s.in.len, sizeof(data));
	ck_assert_mem_eq(s.in.data, data, sizeof(data));
	ck_assert_int_eq(srv_read(s.conn, &s.in, 100), 0);
	srv_free(&s);
	peer_free(&p);
}
END_TEST

/* The client ends the session: with close_notify, and by just closing
 * the socket (as many clients do after LOGOUT): both are EOF. */
START_TEST(test_tls_client_close)
{
	struct srv s;
	struct peer p;

	tls_start(&s, &p, 4096, 0);
	mail_buf_append_str(&p.tx, "a9 LOGOUT\r\n");
	pump(&s, &p, done_srv_has, 11);
	ck_assert_int_le(SSL_shutdown(p.ssl), 1);
	pump(&s, &p, done_srv_eof, 0);
	ck_assert_mem_eq(s.in.data, "a9 LOGOUT\r\n", 11);
	ck_assert_int_eq(srv_read(s.conn, &s.in, 100), IMAP_CONN_EOF);
	srv_free(&s);
	peer_free(&p);

	tls_start(&s, &p, 4096, 0);
	mail_buf_append_str(&p.tx, "a9 LOGOUT\r\n");
	pump(&s, &p, done_srv_has, 11);
	close(p.fd);
	p.fd = -1;
	wait_fd(imap_conn_fd(s.conn), POLLIN);
	ck_assert_int_eq(srv_read(s.conn, &s.in, 100), IMAP_CONN_EOF);
	srv_free(&s);
	SSL_free(p.ssl);
	mail_buf_free(&p.tx);
	mail_buf_free(&p.rx);
}
END_TEST

/* STARTTLS: plain first, then the handshake on the same socket. */
START_TEST(test_starttls)
{
	struct mail_err err;
	struct srv s;
	struct peer p;
	int sv[2];

	tcp_pair(sv);
	srv_init(&s, sv[0], 4096);
	memset(&p, 0, sizeof(p));
	p.fd = sv[1];
	peer_send(p.fd, "a1 STARTTLS\r\n", 13);
	wait_fd(sv[0], POLLIN);
	ck_assert_int_eq(srv_read(s.conn, &s.in, 4096), 13);
	imap_conn_write(s.conn, "a1 OK begin TLS\r\n", 17);
	ck_assert_int_eq(srv_flush(s.conn), 1);
	ck_assert_int_eq(imap_conn_start_tls(s.conn, tls, &err), 0);
	mail_buf_reset(&s.in);
	/* the client reads the OK in plain, then starts TLS */
	ck_assert_uint_eq(peer_recv(p.fd, &p.rx), 17);
	mail_buf_reset(&p.rx);
	p.ssl = client_new(p.fd, 0);
	pump(&s, &p, done_established, 0);
	mail_buf_append_str(&p.tx, "a2 CAPABILITY\r\n");
	imap_conn_write(s.conn, "* CAPABILITY IMAP4rev1\r\n", 24);
	pump(&s, &p, done_both, 15);
	ck_assert_mem_eq(s.in.data, "a2 CAPABILITY\r\n", 15);
	ck_assert_mem_eq(p.rx.data, "* CAPABILITY IMAP4rev1\r\n", 24);
	srv_free(&s);
	peer_free(&p);
}
END_TEST

/* COMPRESS inside TLS, megabytes both ways, and bytes left in inflate
 * count as input pending. */
START_TEST(test_tls_deflate)
{
	const size_t total = 2 * 1024 * 1024;
	struct mail_buf plain = MAIL_BUF_INIT, zeros = MAIL_BUF_INIT;
	struct mail_err err;
	struct zpeer zp;
	struct srv s;
	struct peer p;
	uint8_t *up, *down;
	ssize_t r;

	tls_start(&s, &p, 65536, 0);
	small_bufs(imap_conn_fd(s.conn), 16384);
	small_bufs(p.fd, 16384);
	imap_conn_write(s.conn, "a1 OK DEFLATE active\r\n", 22);
	ck_assert_int_eq(imap_conn_start_deflate(s.conn, &err), 0);
	ck_assert_int_eq(imap_conn_start_tls(s.conn, tls, &err), -1);
	zpeer_init(&zp);
	up = mail_xmalloc(total);
	down = mail_xmalloc(total);
	fill_text(up, total, 21);
	fill_text(down, total, 22);
	zpeer_deflate(&zp, up, total, Z_SYNC_FLUSH, &p.tx);
	imap_conn_write(s.conn, down, total);
	p.rbudget = 9000;
	for (;;) {
		pump(&s, &p, done_srv_has, total);
		if (imap_conn_output_pending(s.conn) == 0)
			break;
	}
	ck_assert_uint_ge(p.rx.len, 22);
	ck_assert_mem_eq(p.rx.data, "a1 OK DEFLATE active\r\n", 22);
	mail_buf_consume(&p.rx, 22);
	while (plain.len < total) {
		zpeer_inflate(&zp, p.rx.data, p.rx.len, &plain);
		mail_buf_reset(&p.rx);
		if (plain.len < total)
			pump(&s, &p, done_peer_has, 1);
	}
	ck_assert(memcmp(s.in.data, up, total) == 0);
	ck_assert_uint_eq(plain.len, total);
	ck_assert(memcmp(plain.data, down, total) == 0);

	/* 1 MiB of zeros in one small record: reads of 1000 leave the rest
	 * in inflate */
	mail_buf_reset(&s.in);
	mail_buf_reset(&p.tx);
	p.tx_off = 0;
	mail_buf_reserve(&zeros, 1024 * 1024);
	memset(zeros.data, 0, 1024 * 1024);
	zpeer_deflate(&zp, zeros.data, 1024 * 1024, Z_SYNC_FLUSH, &p.tx);
	ck_assert_int_eq(SSL_write(p.ssl, p.tx.data, (int)p.tx.len),
	    (int)p.tx.len);
	p.tx_off = p.tx.len;
	wait_fd(imap_conn_fd(s.conn), POLLIN);
	ck_assert_int_eq(srv_read(s.conn, &s.in, 1000), 1000);
	ck_assert(imap_conn_input_pending(s.conn));
	while (imap_conn_input_pending(s.conn)) {
		r = srv_read(s.conn, &s.in, 1000);
		ck_assert_int_gt(r, 0);
		ck_assert_int_le(r, 1000);
	}
	ck_assert_uint_eq(s.in.len, 1024 * 1024);
	zpeer_end(&zp);
	srv_free(&s);
	peer_free(&p);
	free(up);
	free(down);
	mail_buf_free(&plain);
	mail_buf_free(&zeros);
}
END_TEST

/*
 * Memory.
 */

/* Bytes malloc'ed: from the heap, and large blocks mmap()ed alone. */
static size_t
heap_used(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

/* Whether mallinfo2() sees our allocations: not under ASan or valgrind,
 * which bring their own malloc. The real-heap checks need it. */
static bool
heap_visible(void)
{
	size_t h0 = heap_used();
	void *volatile p = mail_xmalloc(50000);
	bool seen = heap_used() >= h0 + 50000;

	free(p);
	return seen;
}

static void
mem_report(const char *what, size_t est, size_t real)
{
	if (getenv("IMAP_CONN_MEM_REPORT") != NULL)
		fprintf(stderr, "imap_conn memory: %-34s mem_used %6zu B, "
		    "heap delta %6zu B\n", what, est, real);
}

START_TEST(test_mem_plain)
{
	struct imap_conn *conn;
	size_t h0, h1;
	int sv[2];

	sock_pair(sv);
	h0 = heap_used();
	conn = imap_conn_new(sv[0]);
	imap_conn_write(conn, "* OK\r\n", 6);
	ck_assert_int_eq(srv_flush(conn), 1);
	h1 = heap_used();
	mem_report("idle plain", imap_conn_mem_used(conn), h1 - h0);
	ck_assert_uint_le(imap_conn_mem_used(conn), 256);
	if (heap_visible())
		ck_assert_uint_le(h1 - h0, imap_conn_mem_used(conn) + 64);
	imap_conn_free(&conn);
	close(sv[1]);
}
END_TEST

START_TEST(test_mem_deflate)
{
	struct mail_buf wire = MAIL_BUF_INIT, in = MAIL_BUF_INIT;
	struct mail_buf sink = MAIL_BUF_INIT;
	struct imap_conn *conn;
	struct mail_err err;
	struct zpeer zp;
	uint8_t *text, *bin;
	size_t h0, h1, est;
	int sv[2];

	sock_pair(sv);
	small_bufs(sv[0], 4096);
	zpeer_init(&zp);
	text = mail_xmalloc(20000);
	bin = mail_xmalloc(200000);
	fill_text(text, 20000, 2);
	fill_bin(bin, 200000, 3);
	zpeer_deflate(&zp, text, 20000, Z_SYNC_FLUSH, &wire);
	peer_send(sv[1], wire.data, wire.len);
	mail_buf_reserve(&in, 20000);
	h0 = heap_used();
	conn = imap_conn_new(sv[0]);
	ck_assert_int_eq(imap_conn_start_deflate(conn, &err), 0);
	wait_fd(sv[0], POLLIN);
	ck_assert_int_eq(srv_read(conn, &in, 20000), 20000);
	ck_assert_mem_eq(in.data, text, 20000);
	imap_conn_write(conn, bin, 200000);
	/* while a flush is half done the deflate state is held */
	ck_assert_int_eq(srv_flush(conn), 0);
	est = imap_conn_mem_used(conn);
	mem_report("compressed, flush half done", est, heap_used() - h0);
	ck_assert_uint_gt(est, 256 * 1024);
	while (srv_flush(conn) == 0)
		peer_recv(sv[1], &sink);
	mail_buf_free(&sink);
	/* idle: the inflate state (with its 32 KiB window) only */
	h1 = heap_used();
	est = imap_conn_mem_used(conn);
	mem_report("idle compressed (after I/O)", est, h1 - h0);
	ck_assert_uint_gt(est, 32 * 1024);
	ck_assert_uint_lt(est, 48 * 1024);
	if (heap_visible()) {
		ck_assert_uint_le(h1 - h0, est + 1024);
		ck_assert_uint_ge(h1 - h0, est - 1024);
	}
	imap_conn_free(&conn);
	zpeer_end(&zp);
	close(sv[1]);
	free(text);
	free(bin);
	mail_buf_free(&wire);
	mail_buf_free(&in);
}
END_TEST

/* The TLS client runs in a child so that only the server's allocations
 * are counted. It sends ClientHello, waits for a byte on ctl (the parent
 * measures the handshake half done), finishes, reads the greeting,
 * answers, and waits for the server to close. */
static void
mem_tls_client(int fd, int ctl)
{
	char buf[64];
	SSL *c;
	int r;

	/* A fast server may answer before the first call returns, which
	 * then completes the handshake: both are fine, the server's half
	 * is what the parent measures. */
	c = client_new(fd, 0);
	r = SSL_do_handshake(c);
	if (r != 1 && SSL_get_error(c, r) != SSL_ERROR_WANT_READ)
		_exit(2);
	if (read(ctl, buf, 1) != 1)
		_exit(3);
	(void)fcntl(fd, F_SETFL, 0);
	if (SSL_do_handshake(c) != 1)
		_exit(4);
	if (SSL_read(c, buf, 12) != 12 || SSL_write(c, "x", 1) != 1)
		_exit(5);
	while (SSL_read(c, buf, sizeof(buf)) > 0)
		;
	_exit(0);
}

/* One server connection with a child client; returns the heap deltas
 * and estimates half way through the handshake and when idle after
 * it. */
static void
mem_tls_run(size_t *hs_real, size_t *hs_est, size_t *idle_real,
    size_t *idle_est)
{
	struct mail_buf in = MAIL_BUF_INIT;
	struct imap_conn *conn;
	struct mail_err err;
	int sv[2], ctl[2], st;
	size_t h0;
	pid_t pid;

	tcp_pair(sv);
	ck_assert_int_eq(pipe(ctl), 0);
	ck_assert_int_ge(pid = fork(), 0);
	if (pid == 0) {
		close(sv[0]);
		close(ctl[1]);
		mem_tls_client(sv[1], ctl[0]);
	}
	close(sv[1]);
	close(ctl[0]);
	mail_buf_reserve(&in, 64);
	h0 = heap_used();
	conn = imap_conn_new(sv[0]);
	ck_assert_int_eq(imap_conn_start_tls(conn, tls, &err), 0);
	imap_conn_write(conn, "* OK ready\r\n", 12);
	wait_fd(sv[0], POLLIN);
	ck_assert_int_eq(srv_read(conn, &in, 64), 0);
	ck_assert(!imap_conn_tls_established(conn));
	*hs_real = heap_used() - h0;
	*hs_est = imap_conn_mem_used(conn);
	ck_assert_int_eq(write(ctl[1], "g", 1), 1);
	while (in.len == 0 || imap_conn_output_pending(conn) > 0) {
		wait_fd(sv[0], imap_conn_events(conn, true) & MAIL_EV_WRITE ?
		    POLLOUT : POLLIN);
		ck_assert_int_ge(srv_read(conn, &in, 64), 0);
		if (imap_conn_tls_established(conn))
			(void)srv_flush(conn);
	}
	ck_assert_mem_eq(in.data, "x", 1);
	*idle_real = heap_used() - h0;
	*idle_est = imap_conn_mem_used(conn);
	imap_conn_free(&conn);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "client %d", st);
	close(ctl[1]);
	mail_buf_free(&in);
}

START_TEST(test_mem_tls)
{
	size_t hs_real, hs_est, idle_real, idle_est;

	/* The first connection pays for OpenSSL's one-time setup (method
	 * and cipher fetches, error strings); measure the second. */
	mem_tls_run(&hs_real, &hs_est, &idle_real, &idle_est);
	mem_tls_run(&hs_real, &hs_est, &idle_real, &idle_est);
	mem_report("TLS handshake half done", hs_est, hs_real);
	mem_report("idle TLS 1.3 after handshake", idle_est, idle_real);
	if (heap_visible()) {
		/* the estimates are within a factor 1.5 of the truth */
		ck_assert_uint_le(idle_real, idle_est * 3 / 2);
		ck_assert_uint_ge(idle_real, idle_est * 2 / 3);
		ck_assert_uint_le(hs_real, hs_est * 3 / 2);
		ck_assert_uint_ge(hs_real, hs_est * 2 / 3);
	}
}
END_TEST

Suite *test_imap_conn_suite(void);

Suite *
test_imap_conn_suite(void)
{
	Suite *s = suite_create("imap_conn");
	TCase *tc = tcase_create("plain");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_plain_basic);
	tcase_add_test(tc, test_plain_read_max);
	tcase_add_test(tc, test_plain_partial_writes);
	tcase_add_test(tc, test_plain_eof);
	tcase_add_test(tc, test_plain_reset);
	tcase_add_test(tc, test_plain_closed_peer);
	tcase_add_test(tc, test_mem_plain);
	suite_add_tcase(s, tc);

	tc = tcase_create("deflate");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_deflate_out);
	tcase_add_test(tc, test_deflate_prefix);
	tcase_add_test(tc, test_deflate_in);
	tcase_add_test(tc, test_deflate_bomb);
	tcase_add_test(tc, test_deflate_corrupt);
	tcase_add_test(tc, test_deflate_after_end);
	tcase_add_test(tc, test_deflate_large);
	tcase_add_test(tc, test_mem_deflate);
	suite_add_tcase(s, tc);

	tc = tcase_create("tls");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, tls_setup, tls_teardown);
	tcase_add_test(tc, test_tls_ctx_errors);
	tcase_add_test(tc, test_tls_basic);
	tcase_add_test(tc, test_tls12);
	tcase_add_test(tc, test_tls_no_renegotiation);
	tcase_add_test(tc, test_tls11_refused);
	tcase_add_loop_test(tc, test_tls_plaintext_client, 0, 2);
	tcase_add_test(tc, test_tls_handshake_hangup);
	tcase_add_test(tc, test_tls_trickle);
	tcase_add_test(tc, test_tls_under_deflate);
	tcase_add_test(tc, test_tls_large);
	tcase_add_test(tc, test_tls_input_pending);
	tcase_add_test(tc, test_tls_client_close);
	tcase_add_test(tc, test_starttls);
	tcase_add_test(tc, test_tls_deflate);
	tcase_add_test(tc, test_mem_tls);
	suite_add_tcase(s, tc);
	return s;
}
