/*
 * wire_hello.h: the first frame each side sends, and the negotiation of
 * the protocol version and features from the two HELLOs.
 *
 * HELLO payload (frame type WIRE_MSG_HELLO):
 *   4      "DSYN"
 *   varint lowest protocol version spoken
 *   varint highest protocol version spoken
 *   varint feature bits (enum wire_feature)
 *   u64    node id, little-endian (never 0)
 *   string software name and version, for logs (at most 64 bytes)
 * ERROR payload (frame type WIRE_MSG_ERROR), sent before closing:
 *   varint code (enum mail_err_code), string message (at most 256 bytes)
 */
#ifndef WIRE_HELLO_H
#define WIRE_HELLO_H

#include "mail_buf.h"
#include "mail_err.h"

enum wire_msg_type {
	WIRE_MSG_HELLO = 1,
	WIRE_MSG_ERROR = 2,
};

enum wire_feature {
	WIRE_FEATURE_ZLIB = 0x1,	/* zlib stream compression */
};

#define WIRE_VERSION_MIN	1
#define WIRE_VERSION_MAX	1
#define WIRE_SOFTWARE_MAX	64
#define WIRE_ERROR_MAX		256

struct wire_hello {
	uint32_t version_min, version_max;
	uint64_t features;
	uint64_t node_id;
	char	 software[WIRE_SOFTWARE_MAX + 1];
};

/* Append the HELLO payload for h to out. */
void	wire_hello_encode(const struct wire_hello *h, struct mail_buf *out);
/* Decode a HELLO payload. Returns 0, or -1 with MAIL_ERR_PROTO naming what
 * is wrong (magic, truncation, trailing bytes, versions out of order,
 * node id 0, a NUL in the software name). */
int	wire_hello_decode(const uint8_t *p, size_t n, struct wire_hello *h,
	    struct mail_err *err) WARN_UNUSED;
/* The common version and features of ours and theirs: the highest version
 * both speak and the features both offer. Returns 0, or -1 with
 * MAIL_ERR_PROTO when no version is common or the peer has our node id
 * (a store synced with itself, or a copied store that kept its id). */
int	wire_hello_negotiate(const struct wire_hello *ours,
	    const struct wire_hello *theirs, uint32_t *version_r,
	    uint64_t *features_r, struct mail_err *err) WARN_UNUSED;

/* ERROR payloads. The decoded message is sanitized (control bytes become
 * '?') since it is shown to operators. */
void	wire_error_encode(enum mail_err_code code, const char *msg,
	    struct mail_buf *out);
int	wire_error_decode(const uint8_t *p, size_t n, struct mail_err *peer,
	    struct mail_err *err) WARN_UNUSED;

#endif
