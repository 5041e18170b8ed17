/*
 * wire_frame.h: the framing of the replication protocol. Every message
 * between two dsync processes is one frame:
 *
 *   varint  length of what follows up to the checksum (type + payload),
 *           LEB128 in its shortest form, at least 1
 *   u8      type
 *   ...     payload (length - 1 bytes)
 *   u64     XXH3-64 of type and payload, little-endian
 *
 * The decoder is a pure function over bytes received so far, so it can be
 * fed at any split point and fuzzed; it refuses a frame whose declared
 * length is over the limit before waiting for (or allocating) its bytes.
 */
#ifndef WIRE_FRAME_H
#define WIRE_FRAME_H

#include <sys/types.h>

#include "mail_buf.h"
#include "mail_err.h"

#define WIRE_FRAME_MAX		(16u * 1024 * 1024)	/* type + payload */
#define WIRE_FRAME_OVERHEAD	(10 + 8)		/* varint + checksum */

struct wire_frame {
	uint8_t	 type;
	const uint8_t *payload;	/* borrowed from the decoded bytes */
	size_t	 len;
};

/* Append a frame of type with len payload bytes to out. len + 1 must be
 * within WIRE_FRAME_MAX (callers split larger data). */
void	wire_frame_encode(struct mail_buf *out, uint8_t type,
	    const void *payload, size_t len);
/* Decode the frame at the start of p[0..n), accepting at most max bytes
 * of type + payload (max <= WIRE_FRAME_MAX). Returns the bytes the frame
 * occupies (f filled, payload pointing into p), 0 when more bytes are
 * needed, or -1 with MAIL_ERR_PROTO (bad varint, empty frame, checksum
 * mismatch) or MAIL_ERR_LIMIT (declared length over max). */
ssize_t	wire_frame_decode(const uint8_t *p, size_t n, size_t max,
	    struct wire_frame *f, struct mail_err *err);

#endif
