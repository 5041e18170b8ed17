/*
 * imap_conn.h: one client connection's byte stream for imapd: a
 * non-blocking socket, optionally under TLS (OpenSSL; implicit TLS or
 * STARTTLS) and optionally under COMPRESS=DEFLATE (RFC 4978, raw deflate
 * with a sync flush per flush). The server reads and writes plain IMAP
 * bytes; the layers in between are this module's business.
 *
 * Output is queued by imap_conn_write() and sent by imap_conn_flush(); the
 * queue holds no memory once it is empty, so an idle connection costs only
 * its struct (and TLS/zlib state when those are on).
 *
 * With TLS, what the socket must wait for is not always what the caller
 * wants (a TLS read may need to write, and the reverse):
 * imap_conn_events() says what to wait for.
 */
#ifndef IMAP_CONN_H
#define IMAP_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "mail_buf.h"
#include "mail_err.h"

struct imap_conn;			/* opaque, defined in imap_conn.c */
struct imap_tls_ctx;			/* opaque: a server certificate */

/* Load a PEM certificate chain and its private key for a server context
 * (TLS 1.2 and later). Returns 0 and sets *ctx_r (free with
 * imap_tls_ctx_free()), or -1 naming the file and OpenSSL's reason. */
int	imap_tls_ctx_new(const char *cert_file, const char *key_file,
	    struct imap_tls_ctx **ctx_r, struct mail_err *err) WARN_UNUSED;
void	imap_tls_ctx_free(struct imap_tls_ctx **ctxp);

/* A connection over fd (a connected, non-blocking socket; the conn owns
 * it and closes it in imap_conn_free()). Never fails (aborts on OOM). */
struct imap_conn *imap_conn_new(int fd);
void	imap_conn_free(struct imap_conn **connp);
int	imap_conn_fd(const struct imap_conn *conn);

/* Read what is available, up to max bytes, appending plain bytes to in.
 * Returns the bytes appended (> 0), 0 if nothing is available now (wait
 * for imap_conn_events()), IMAP_CONN_EOF when the peer closed the stream
 * cleanly, or -1 on errors (a TLS alert, a bad deflate stream, a reset),
 * with err filled. */
#define IMAP_CONN_EOF	(-2)
ssize_t	imap_conn_read(struct imap_conn *conn, struct mail_buf *in,
	    size_t max, struct mail_err *err) WARN_UNUSED;
/* True if plain bytes are buffered inside a layer (TLS records, inflate
 * output) that a read would return without the socket being readable.
 * Callers that stop reading at max must check this before waiting. */
bool	imap_conn_input_pending(const struct imap_conn *conn);

/* Queue n bytes of output. Never fails; errors show at flush. */
void	imap_conn_write(struct imap_conn *conn, const void *p, size_t n);
/* Bytes queued and not yet handed to the socket (for back-pressure). */
size_t	imap_conn_output_pending(const struct imap_conn *conn);
/* Send queued output (through deflate with a sync flush, and TLS). Returns
 * 1 when all of it is out, 0 if the socket is full (wait for
 * imap_conn_events()), or -1 on error. */
int	imap_conn_flush(struct imap_conn *conn, struct mail_err *err)
	    WARN_UNUSED;

/* The MAIL_EV_READ/MAIL_EV_WRITE events the socket must wait for, given
 * whether the caller wants to read (want_read) and whether output is
 * queued. */
unsigned imap_conn_events(const struct imap_conn *conn, bool want_read);

/* Start TLS as a server: for implicit TLS right after accept(), for
 * STARTTLS after the tagged OK has been flushed and before any further
 * input is read (input the client sent before the handshake must be
 * dropped by the caller: RFC 3501 6.2.1). The handshake proceeds inside
 * imap_conn_read()/imap_conn_flush(). Returns 0, or -1 (already TLS). */
int	imap_conn_start_tls(struct imap_conn *conn, struct imap_tls_ctx *ctx,
	    struct mail_err *err) WARN_UNUSED;
bool	imap_conn_is_tls(const struct imap_conn *conn);
/* True once the TLS handshake has completed. */
bool	imap_conn_tls_established(const struct imap_conn *conn);

/* Start COMPRESS=DEFLATE: output queued after this call is compressed,
 * and input read after it is inflated. Call after the tagged OK has been
 * queued uncompressed and flushed. Returns 0, or -1 (already on). */
int	imap_conn_start_deflate(struct imap_conn *conn, struct mail_err *err)
	    WARN_UNUSED;
bool	imap_conn_is_compressed(const struct imap_conn *conn);

/* Bytes of heap this connection holds now (struct, queue, TLS and zlib
 * state as far as known), for the memory figures. */
size_t	imap_conn_mem_used(const struct imap_conn *conn);

#endif
