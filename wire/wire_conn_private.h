/*
 * wire_conn_private.h: what the transports (wire_conn_fd.c,
 * wire_conn_ssh.c) share with the buffering and compression layer
 * (wire_conn.c). A transport embeds struct wire_conn as its first member
 * and implements the ops table with non-blocking calls.
 */
#ifndef WIRE_CONN_PRIVATE_H
#define WIRE_CONN_PRIVATE_H

#include <poll.h>
#include <sys/types.h>
#include <zlib.h>

#include "wire_conn.h"

/* A transport call would block: wait (wire_conn_wait) and retry. */
#define WIRE_IO_AGAIN	(-2)

struct wire_conn_ops {
	/* Read up to cap bytes without blocking: bytes read (> 0), 0 at EOF,
	 * WIRE_IO_AGAIN, or -1 with err filled. */
	ssize_t	(*read)(struct wire_conn *c, void *buf, size_t cap,
		    struct mail_err *err);
	/* Write without blocking: bytes taken (> 0), WIRE_IO_AGAIN, or -1. */
	ssize_t	(*write)(struct wire_conn *c, const void *buf, size_t len,
		    struct mail_err *err);
	/* Fill pfd[0..2) with what to poll to make progress on input (if
	 * want_in) and output (if want_out); returns the number used. */
	int	(*pollfds)(struct wire_conn *c, bool want_in, bool want_out,
		    struct pollfd *pfd);
	/* Tell the peer no more output follows. 0 or -1. */
	int	(*shutdown)(struct wire_conn *c, struct mail_err *err);
	/* Wait for the peer to finish (wire_conn_drain, exit status) and
	 * release the transport's resources, even on failure. 0 or -1. */
	int	(*finish)(struct wire_conn *c, struct mail_err *err);
	/* Release everything at once, killing or dropping the peer. */
	void	(*abort)(struct wire_conn *c);
};

/* Bytes in data[pos..len) are pending. */
struct wire_iobuf {
	uint8_t	*data;
	size_t	 pos, len, cap;
};

struct wire_conn {
	const struct wire_conn_ops *ops;
	char	 name[96];	/* the peer in messages: "'cat'" */
	struct wire_iobuf in;	/* received, not yet read (raw bytes) */
	struct wire_iobuf out;	/* written, not yet sent (raw bytes) */
	bool	 eof;		/* the transport reported EOF */
	bool	 shut;		/* our output is shut down */
	bool	 compress;	/* zin and zout are live */
	bool	 zin_end;	/* the peer ended its zlib stream */
	bool	 zdirty;	/* deflated since the last sync flush */
	int	 timeout_ms;	/* 0: none */
	z_stream zin, zout;
	uint64_t raw_in, raw_out, plain_in, plain_out;
};

/* Set up the common part; name is formatted into c->name. */
void	wire_conn_init(struct wire_conn *c, const struct wire_conn_ops *ops,
	    const char *fmt, ...) PRINTF_LIKE(3, 4);
/* Poll until the transport can make progress on input (if want_in and
 * no EOF yet) or output (if want_out), honouring the timeout. 0 or -1
 * (MAIL_ERR_TEMP "timed out"). */
int	wire_conn_wait(struct wire_conn *c, bool want_in, bool want_out,
	    struct mail_err *err) WARN_UNUSED;
/* Read and discard input until EOF (for finish: a peer blocked writing to
 * us could not exit). 0 or -1. */
int	wire_conn_drain(struct wire_conn *c, struct mail_err *err) WARN_UNUSED;
/* Describe a wait status as "exited with status N" / "killed by signal
 * N (NAME)" into buf. */
void	wire_conn_describe_status(int status, char *buf, size_t size);

#endif
