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
 * imap_conn_events() says what to wait for. On any event, call
 * imap_conn_read() if input is wanted and imap_conn_flush() if output is
 * queued; both drive the TLS handshake, so while it runs
 * (!imap_conn_tls_established()) call at least one of them.
 *
 * Errors: a -1 from a read or flush is final for that side (later calls
 * return the same error); after a read error the caller may still try to
 * flush a last response (e.g. BYE after bad compressed input), unless
 * TLS itself failed. Messages name the cause: "TLS handshake failed:
 * wrong version number (not a TLS client?)", "read from client:
 * Connection reset by peer" (code MAIL_ERR_TEMP when the peer went
 * away, MAIL_ERR_PROTO for bad TLS or deflate data).
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

/* Load a PEM certificate chain (leaf first) and its private key (not
 * encrypted) for a server context: TLS 1.2 and later, forward-secret
 * ciphers, no renegotiation, no server session cache (session tickets
 * resume). Returns 0 and sets *ctx_r (free with imap_tls_ctx_free()), or
 * -1 (MAIL_ERR_PARAM) naming the file and OpenSSL's reason, also when
 * the key does not match the certificate. */
int	imap_tls_ctx_new(const char *cert_file, const char *key_file,
	    struct imap_tls_ctx **ctx_r, struct mail_err *err) WARN_UNUSED;
/* Drop the caller's reference. Connections started with the context
 * hold their own, so it may be freed (e.g. replaced after a certificate
 * reload) while they live. NULL-safe; sets *ctxp = NULL. */
void	imap_tls_ctx_free(struct imap_tls_ctx **ctxp);

/* A connection over fd (a connected, non-blocking socket; the conn owns
 * it and closes it in imap_conn_free()). Never fails (aborts on OOM). */
struct imap_conn *imap_conn_new(int fd);
/* Free the connection and close its fd; queued output is dropped. With
 * TLS, sends close_notify first, best effort (one non-blocking try).
 * NULL-safe; sets *connp = NULL. */
void	imap_conn_free(struct imap_conn **connp);
int	imap_conn_fd(const struct imap_conn *conn);

/* Read what is available, up to max (> 0) bytes, appending plain bytes
 * to in (grown only by what arrives, not by max). Returns the bytes
 * appended (> 0), 0 if nothing is available now (wait for
 * imap_conn_events()), IMAP_CONN_EOF when the peer closed the stream
 * (TLS: close_notify or a plain TCP close), or -1 on errors (a TLS
 * alert, a bad deflate stream, a reset), with err filled. Bytes that
 * arrived before an EOF or error are returned first; the EOF or error
 * comes at the next call. However much a compressed input expands, one
 * call appends at most max bytes. */
#define IMAP_CONN_EOF	(-2)
ssize_t	imap_conn_read(struct imap_conn *conn, struct mail_buf *in,
	    size_t max, struct mail_err *err) WARN_UNUSED;
/* True if plain bytes are buffered inside a layer (TLS records, inflate
 * output) that a read would return without the socket being readable.
 * Callers that stop reading at max must check this before waiting. */
bool	imap_conn_input_pending(const struct imap_conn *conn);

/* Queue n bytes of output (copied). Never fails; errors show at flush. */
void	imap_conn_write(struct imap_conn *conn, const void *p, size_t n);
/* Bytes queued and not yet handed to the socket (for back-pressure;
 * with COMPRESS, plain bytes not yet compressed plus compressed ones not
 * yet sent). 0 once a flush returned 1. */
size_t	imap_conn_output_pending(const struct imap_conn *conn);
/* Send queued output (through deflate with a sync flush, and TLS). Returns
 * 1 when all of it is out (the queue's memory is freed then), 0 if the
 * socket is full or the TLS handshake is not done (wait for
 * imap_conn_events()), or -1 on error. Never blocks, never raises
 * SIGPIPE. */
int	imap_conn_flush(struct imap_conn *conn, struct mail_err *err)
	    WARN_UNUSED;

/* The MAIL_EV_READ/MAIL_EV_WRITE events the socket must wait for, given
 * whether the caller wants to read (want_read) and whether output is
 * queued. During the TLS handshake, the handshake's direction whatever
 * want_read is. Check imap_conn_input_pending() before waiting. */
unsigned imap_conn_events(const struct imap_conn *conn, bool want_read);

/* Start TLS as a server: for implicit TLS right after accept(), for
 * STARTTLS after the tagged OK has been flushed and before any further
 * input is read (input the client sent before the handshake must be
 * dropped by the caller: RFC 3501 6.2.1). Output must not be queued
 * (asserted). The conn takes a reference on ctx. The handshake proceeds
 * inside imap_conn_read()/imap_conn_flush(). Returns 0, or -1
 * (MAIL_ERR_PARAM) if TLS or COMPRESS is already on. */
int	imap_conn_start_tls(struct imap_conn *conn, struct imap_tls_ctx *ctx,
	    struct mail_err *err) WARN_UNUSED;
bool	imap_conn_is_tls(const struct imap_conn *conn);
/* True once the TLS handshake has completed. */
bool	imap_conn_tls_established(const struct imap_conn *conn);

/* Start COMPRESS=DEFLATE: output queued after this call is compressed,
 * and input read after it is inflated. Call after the tagged OK has been
 * queued uncompressed and flushed (output still queued at this call goes
 * out uncompressed, ahead of the compressed stream). Returns 0, or -1
 * (MAIL_ERR_PARAM) if already on. */
int	imap_conn_start_deflate(struct imap_conn *conn, struct mail_err *err)
	    WARN_UNUSED;
bool	imap_conn_is_compressed(const struct imap_conn *conn);

/* Bytes of heap this connection holds now (struct, queues, zlib state
 * exactly; OpenSSL's state as a measured estimate), for the memory
 * figures. */
size_t	imap_conn_mem_used(const struct imap_conn *conn);

#endif
