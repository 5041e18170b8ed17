/*
 * wire_io.h: frames over a connection (wire_conn.h): sending, receiving
 * with the frame limit enforced before buffering, the HELLO exchange,
 * ERROR frames in both directions and the switch to compression.
 */
#ifndef WIRE_IO_H
#define WIRE_IO_H

#include "wire_conn.h"
#include "wire_frame.h"
#include "wire_hello.h"

struct wire_io;

/* Frames over conn (borrowed: the caller closes it after wire_io_free). */
struct wire_io *wire_io_new(struct wire_conn *conn);
void	wire_io_free(struct wire_io **iop);
struct wire_conn *wire_io_conn(struct wire_io *io);

/* Queue a frame; it leaves at the next flush (or when buffers fill). */
int	wire_io_send(struct wire_io *io, uint8_t type, const void *payload,
	    size_t len, struct mail_err *err) WARN_UNUSED;
int	wire_io_flush(struct wire_io *io, struct mail_err *err) WARN_UNUSED;
/* Wait for the next frame. f->payload is valid until the next call. An
 * ERROR frame from the peer becomes -1 with the peer's code and message
 * ("peer: ..."); EOF is MAIL_ERR_TEMP "connection closed by peer". */
int	wire_io_recv(struct wire_io *io, struct wire_frame *f,
	    struct mail_err *err) WARN_UNUSED;
/* Like wire_io_recv, and also fail with MAIL_ERR_PROTO unless the frame
 * has the type wanted. */
int	wire_io_expect(struct wire_io *io, uint8_t type, struct wire_frame *f,
	    struct mail_err *err) WARN_UNUSED;
/* Tell the peer why we stop (best effort; errors ignored). */
void	wire_io_send_error(struct wire_io *io, const struct mail_err *why);

/* Send our HELLO, read theirs and negotiate. */
int	wire_io_hello(struct wire_io *io, const struct wire_hello *ours,
	    struct wire_hello *theirs, uint32_t *version_r,
	    uint64_t *features_r, struct mail_err *err) WARN_UNUSED;
/* Switch both directions to zlib at level; only when nothing received is
 * still buffered (the protocol makes sure: see WIRE_MSG_COMPRESS). */
int	wire_io_start_compress(struct wire_io *io, int level,
	    struct mail_err *err) WARN_UNUSED;

#endif
