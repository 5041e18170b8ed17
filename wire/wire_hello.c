/*
 * wire_hello.c: HELLO and ERROR payloads, and version negotiation. The
 * decoders take bytes from an unauthenticated peer: every field is
 * bounded, and one end check rejects trailing bytes.
 */
#include <inttypes.h>

#include "wire_hello.h"

#define HELLO_MAGIC	"DSYN"

void
wire_hello_encode(const struct wire_hello *h, struct mail_buf *out)
{
	mail_buf_append(out, HELLO_MAGIC, 4);
	mail_buf_put_varint(out, h->version_min);
	mail_buf_put_varint(out, h->version_max);
	mail_buf_put_varint(out, h->features);
	mail_buf_put_le64(out, h->node_id);
	mail_buf_put_str(out, h->software);
}

int
wire_hello_decode(const uint8_t *p, size_t n, struct wire_hello *h,
    struct mail_err *err)
{
	struct mail_reader r;
	uint8_t magic[4];
	uint64_t vmin, vmax;
	const uint8_t *sw;
	size_t sw_len;

	memset(h, 0, sizeof(*h));
	mail_reader_init(&r, p, n);
	mail_get_raw(&r, magic, sizeof(magic));
	vmin = mail_get_varint(&r);
	vmax = mail_get_varint(&r);
	h->features = mail_get_varint(&r);
	h->node_id = mail_get_u64(&r);
	sw = mail_get_bytes(&r, WIRE_SOFTWARE_MAX, &sw_len);
	if (!mail_reader_end(&r))
		return mail_err_set(err, MAIL_ERR_PROTO, "malformed HELLO");
	if (memcmp(magic, HELLO_MAGIC, 4) != 0)
		return mail_err_set(err, MAIL_ERR_PROTO,
		    "peer does not speak the dsync protocol");
	if (vmin == 0 || vmin > vmax || vmax > UINT32_MAX)
		return mail_err_set(err, MAIL_ERR_PROTO,
		    "HELLO with bad protocol versions %" PRIu64 "..%" PRIu64,
		    vmin, vmax);
	if (h->node_id == 0)
		return mail_err_set(err, MAIL_ERR_PROTO, "HELLO with node id 0");
	if (memchr(sw, '\0', sw_len) != NULL)
		return mail_err_set(err, MAIL_ERR_PROTO,
		    "HELLO with a NUL in the software name");
	h->version_min = (uint32_t)vmin;
	h->version_max = (uint32_t)vmax;
	memcpy(h->software, sw, sw_len);
	h->software[sw_len] = '\0';
	return 0;
}

int
wire_hello_negotiate(const struct wire_hello *ours,
    const struct wire_hello *theirs, uint32_t *version_r,
    uint64_t *features_r, struct mail_err *err)
{
	uint32_t lo = ours->version_min > theirs->version_min ?
	    ours->version_min : theirs->version_min;
	uint32_t hi = ours->version_max < theirs->version_max ?
	    ours->version_max : theirs->version_max;

	if (lo > hi)
		return mail_err_set(err, MAIL_ERR_PROTO,
		    "no common protocol version: we speak %u..%u, the peer "
		    "%u..%u", ours->version_min, ours->version_max,
		    theirs->version_min, theirs->version_max);
	if (ours->node_id == theirs->node_id)
		return mail_err_set(err, MAIL_ERR_PROTO,
		    "the peer has this store's node id %016" PRIx64
		    " (the same store, or a copy of it)", ours->node_id);
	*version_r = hi;
	*features_r = ours->features & theirs->features;
	return 0;
}

void
wire_error_encode(enum mail_err_code code, const char *msg,
    struct mail_buf *out)
{
	size_t n = strlen(msg);

	mail_buf_put_varint(out, (uint64_t)code);
	mail_buf_put_bytes(out, msg, n > WIRE_ERROR_MAX ? WIRE_ERROR_MAX : n);
}

int
wire_error_decode(const uint8_t *p, size_t n, struct mail_err *peer,
    struct mail_err *err)
{
	struct mail_reader r;
	uint64_t code;
	const uint8_t *msg;
	size_t len;

	mail_reader_init(&r, p, n);
	code = mail_get_varint(&r);
	msg = mail_get_bytes(&r, WIRE_ERROR_MAX, &len);
	if (!mail_reader_end(&r))
		return mail_err_set(err, MAIL_ERR_PROTO, "malformed ERROR");
	/* an unknown code from a newer peer is still an error */
	if (code > MAIL_ERR_PARAM)
		code = MAIL_ERR_INTERNAL;
	mail_err_clear(peer);
	peer->code = (enum mail_err_code)code;
	for (size_t i = 0; i < len && i + 1 < sizeof(peer->msg); i++)
		peer->msg[i] = msg[i] < 0x20 || msg[i] == 0x7f ? '?' :
		    (char)msg[i];
	peer->msg[len < sizeof(peer->msg) ? len : sizeof(peer->msg) - 1] =
	    '\0';
	return 0;
}
