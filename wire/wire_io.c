/*
 * wire_io.c: frames over a connection.
 */
#include <stdlib.h>
#include <string.h>

#include "wire_io.h"

struct wire_io {
	struct wire_conn *conn;
	struct mail_buf in;	/* received bytes; in.data[in_off..] unread */
	size_t	 in_off;
	size_t	 consumed;	/* bytes of the frame last returned */
	struct mail_buf out;
};

struct wire_io *
wire_io_new(struct wire_conn *conn)
{
	struct wire_io *io = mail_xcalloc(1, sizeof(*io));

	io->conn = conn;
	return io;
}

void
wire_io_free(struct wire_io **iop)
{
	struct wire_io *io = *iop;

	if (io == NULL)
		return;
	mail_buf_free(&io->in);
	mail_buf_free(&io->out);
	free(io);
	*iop = NULL;
}

struct wire_conn *
wire_io_conn(struct wire_io *io)
{
	return io->conn;
}

int
wire_io_send(struct wire_io *io, uint8_t type, const void *payload, size_t len,
    struct mail_err *err)
{
	int ret;

	if (len + 1 > WIRE_FRAME_MAX)
		return mail_err_set(err, MAIL_ERR_LIMIT,
		    "frame of %zu bytes over the limit", len);
	mail_buf_reset(&io->out);
	wire_frame_encode(&io->out, type, payload, len);
	ret = wire_conn_write(io->conn, io->out.data, io->out.len, err);
	if (io->out.cap > 1024 * 1024)
		mail_buf_free(&io->out);
	return ret;
}

int
wire_io_flush(struct wire_io *io, struct mail_err *err)
{
	return wire_conn_flush(io->conn, err);
}

/* Read more bytes into io->in. */
static int
fill(struct wire_io *io, struct mail_err *err)
{
	size_t n;

	if (io->in_off > 0 && io->in_off == io->in.len) {
		mail_buf_reset(&io->in);
		io->in_off = 0;
	} else if (io->in_off > 1024 * 1024 || io->in_off > io->in.len / 2) {
		mail_buf_consume(&io->in, io->in_off);
		io->in_off = 0;
	}
	mail_buf_reserve(&io->in, 256 * 1024);
	if (wire_conn_read(io->conn, io->in.data + io->in.len,
	    io->in.cap - io->in.len, &n, err) < 0)
		return -1;
	if (n == 0)
		return mail_err_set(err, MAIL_ERR_TEMP,
		    "connection closed by peer");
	io->in.len += n;
	return 0;
}

int
wire_io_recv(struct wire_io *io, struct wire_frame *f, struct mail_err *err)
{
	ssize_t used;

	io->in_off += io->consumed;
	io->consumed = 0;
	for (;;) {
		used = wire_frame_decode(io->in.data + io->in_off,
		    io->in.len - io->in_off, WIRE_FRAME_MAX, f, err);
		if (used < 0)
			return mail_err_prefix(err, "from peer");
		if (used > 0)
			break;
		if (fill(io, err) < 0)
			return -1;
	}
	io->consumed = (size_t)used;
	if (f->type == WIRE_MSG_ERROR) {
		struct mail_err peer;

		if (wire_error_decode(f->payload, f->len, &peer, err) < 0)
			return -1;
		*err = peer;
		return mail_err_prefix(err, "peer");
	}
	return 0;
}

int
wire_io_expect(struct wire_io *io, uint8_t type, struct wire_frame *f,
    struct mail_err *err)
{
	if (wire_io_recv(io, f, err) < 0)
		return -1;
	if (f->type != type)
		return mail_err_set(err, MAIL_ERR_PROTO,
		    "peer sent message type %u where %u was due",
		    (unsigned)f->type, (unsigned)type);
	return 0;
}

void
wire_io_send_error(struct wire_io *io, const struct mail_err *why)
{
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_err ignored;

	wire_error_encode(why->code, why->msg, &b);
	if (wire_io_send(io, WIRE_MSG_ERROR, b.data, b.len, &ignored) == 0)
		(void)!wire_io_flush(io, &ignored);
	mail_buf_free(&b);
}

static int
not_hello(struct wire_io *io, struct mail_err *err)
{
	char shown[41];
	size_t n = 0;

	for (size_t i = io->in_off; i < io->in.len && n < sizeof(shown) - 1;
	    i++) {
		uint8_t c = io->in.data[i];

		if (c == '\n' || c == '\r')
			break;
		shown[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	shown[n] = '\0';
	return mail_err_set(err, MAIL_ERR_PROTO,
	    "peer did not answer with a dsync HELLO (it sent \"%s\"): "
	    "not a dsync server?", shown);
}

int
wire_io_hello(struct wire_io *io, const struct wire_hello *ours,
    struct wire_hello *theirs, uint32_t *version_r, uint64_t *features_r,
    struct mail_err *err)
{
	struct mail_buf b = MAIL_BUF_INIT;
	struct wire_frame f;
	int ret;

	wire_hello_encode(ours, &b);
	ret = wire_io_send(io, WIRE_MSG_HELLO, b.data, b.len, err);
	mail_buf_free(&b);
	if (ret < 0 || wire_io_flush(io, err) < 0)
		return -1;
	/* A HELLO frame is shorter than 128 bytes: a one-byte length, then
	 * type 1. Anything else (a shell's error message, an SSH banner) is
	 * refused at once instead of waiting for a frame that never ends. */
	while (io->in.len - io->in_off < 2) {
		if (fill(io, err) < 0)
			return -1;
	}
	if (io->in.data[io->in_off] >= 0x80 ||
	    io->in.data[io->in_off + 1] != WIRE_MSG_HELLO)
		return not_hello(io, err);
	if (wire_io_recv(io, &f, err) < 0)
		return -1;
	if (wire_hello_decode(f.payload, f.len, theirs, err) < 0)
		return mail_err_prefix(err, "peer's HELLO");
	return wire_hello_negotiate(ours, theirs, version_r, features_r, err);
}

int
wire_io_start_compress(struct wire_io *io, int level, struct mail_err *err)
{
	io->in_off += io->consumed;
	io->consumed = 0;
	if (io->in_off != io->in.len)
		return mail_err_set(err, MAIL_ERR_PROTO,
		    "peer sent data before compression was agreed");
	return wire_conn_start_compress(io->conn, level, err);
}
