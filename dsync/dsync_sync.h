/*
 * dsync_sync.h: the sync engine of dsync sync/backup and dsync server.
 *
 * The brain (dsync_brain.c) talks to two servers (dsync_server.c), one
 * per location, over the wire protocol; for a plain path it spawns a
 * local `dsync -s PATH server` so that every location is handled the
 * same way. dsync_sync_util.c converts between libmail's state and the
 * wire's changes.
 */
#ifndef DSYNC_SYNC_H
#define DSYNC_SYNC_H

#include <stdlib.h>

#include "dsync_cli.h"
#include "wire_conn.h"
#include "wire_hello.h"
#include "wire_io.h"
#include "wire_sync.h"

#ifndef DSYNC_VERSION
#define DSYNC_VERSION "0.1"
#endif

/* qsort() that accepts an empty (NULL) array. */
static inline void
dsync_sort(void *v, size_t n, size_t size, int (*cmp)(const void *,
    const void *))
{
	if (n > 1)
		qsort(v, n, size, cmp);
}

/* Our HELLO with node id. */
void	dsync_hello_init(struct wire_hello *h, uint64_t node);

/* Fill c (strings borrowed from mb) with mb's header. */
void	dsync_mailbox_header(const struct mail_mailbox *mb,
	    struct wire_change *c);
/* Fill c with message m of mb as a PUT. The keyword array is borrowed
 * from a buffer that the next call reuses. */
void	dsync_put_of(const struct mail_mailbox *mb, const struct mail_msg *m,
	    struct wire_change *c);

/* What a server lists, for the sync protocol and for backups: each
 * change of the state goes to emit (strings borrowed for the call). */
typedef int dsync_emit_fn(void *ctx, const struct wire_change *c,
    struct mail_err *err);
/* Mailbox headers with their ACLs and metadata, subscriptions and
 * server metadata (metadata changed after since only). */
int	dsync_list_user(const struct mail_state *st, uint64_t since,
	    dsync_emit_fn *emit, void *ctx, struct mail_err *err) WARN_UNUSED;
/* A CONTEXT for mb, then its messages, tombstones, private flags and
 * message metadata changed after since. */
int	dsync_list_msgs(const struct mail_mailbox *mb, uint64_t since,
	    dsync_emit_fn *emit, void *ctx, struct mail_err *err) WARN_UNUSED;

/* Send the body data[0..len) with hash h as type (BODY or BODY_PUT)
 * frames of at most WIRE_BODY_CHUNK bytes each. */
int	dsync_send_body(struct wire_io *io, uint8_t type,
	    const struct mail_guid *h, const uint8_t *data, size_t len,
	    struct mail_err *err) WARN_UNUSED;

/* One location being synced. */
struct dsync_peer {
	char	*label;			/* as given on the command line */
	struct wire_conn *conn;
	struct wire_io *io;
	uint64_t node;
	uint64_t features;
	uint64_t msgs_in, bytes_in;	/* messages and body bytes it got */
	uint64_t changes_in;		/* changes to messages it had */
	uint64_t synced_mark;		/* after dsync_brain_user: its changes
					 * up to this modseq (of the user just
					 * synced) are on the other side */
};

struct dsync_sync_opts {
	bool	 backup;		/* one-way: b becomes equal to a */
	bool	 progress;		/* a progress line on stderr */
	bool	 full;			/* compare everything, whatever the
					 * sync state says */
	int	 compress;		/* zlib level, 0: none */
};

/* Connect to location (a path, local:PATH or ssh://...). */
struct dsync_connect_opts {
	const char *ssh_command;	/* through the system ssh */
	const char *identity;		/* -i */
	const char *passphrase;		/* of identity, or NULL */
	const char *known_hosts;
	const char *remote_dsync;	/* remote binary, default "dsync" */
	const char *local_dsync;	/* for paths and local:, default this
					 * very binary */
	bool	 accept_new;
	int	 timeout_ms;
};
int	dsync_peer_connect(const char *location,
	    const struct dsync_connect_opts *o, uint64_t our_node,
	    struct dsync_peer **peer_r, struct mail_err *err) WARN_UNUSED;
/* Say BYE and close (checks the server's exit status). */
int	dsync_peer_close(struct dsync_peer **peerp, struct mail_err *err)
	    WARN_UNUSED;
/* Drop the connection after an error. */
void	dsync_peer_abort(struct dsync_peer **peerp);
/* The users of a, or of both a and b (b may be NULL), sorted, each once
 * (free with mail_store_user_list_free). */
int	dsync_peer_users(struct dsync_peer *a, struct dsync_peer *b,
	    char ***v_r, size_t *n_r, struct mail_err *err) WARN_UNUSED;

/* Sync user between a and b (two-way, or a to b with opts->backup). */
int	dsync_brain_user(struct dsync_peer *a, struct dsync_peer *b,
	    const char *user, const struct dsync_sync_opts *opts,
	    struct mail_err *err) WARN_UNUSED;
/* The users of a location, sorted (malloc'ed array of strings). */
int	dsync_brain_users(struct dsync_peer *p, char ***names_r, size_t *n_r,
	    struct mail_err *err) WARN_UNUSED;
/* Ask both to compress the stream (when both offer it). */
int	dsync_brain_compress(struct dsync_peer *p, int level,
	    struct mail_err *err) WARN_UNUSED;

int	dsync_cmd_sync(struct dsync_ctx *ctx, int argc, char **argv);
int	dsync_cmd_server(struct dsync_ctx *ctx, int argc, char **argv);

#endif
