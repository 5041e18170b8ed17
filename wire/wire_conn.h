/*
 * wire_conn.h: the byte-stream transports of the replication protocol.
 *
 * A connection is a bidirectional byte stream to the peer: two fds (the
 * server's stdin/stdout, a socketpair), a spawned child's pipes (local:,
 * or the system ssh), or a libssh2 exec channel (ssh://). All of them are
 * driven the same way: non-blocking I/O and poll(), so that a write that
 * waits for the peer keeps reading what the peer sends meanwhile into an
 * input buffer. Two peers that both write a lot before reading therefore
 * never deadlock; the price is that input received during a flush is
 * buffered without a limit (the protocol bounds what a peer may send
 * ahead).
 *
 * Output is buffered until wire_conn_flush() (or ~256 KiB accumulate).
 * After both sides agreed, wire_conn_start_compress() turns both
 * directions into one zlib stream each.
 *
 * SIGPIPE never kills the process: sockets are written with MSG_NOSIGNAL,
 * pipes with SIGPIPE blocked for the duration of the write (a SIGPIPE this
 * write raised is consumed), so a vanished peer is an error
 * ("peer closed the connection", MAIL_ERR_TEMP). A program that waits for
 * children must not ignore SIGCHLD (wire_conn_close() reaps its child).
 */
#ifndef WIRE_CONN_H
#define WIRE_CONN_H

#include <stdbool.h>

#include "mail_err.h"

struct wire_conn; /* opaque, defined in wire_conn_private.h */

/* Wrap two fds (the same fd twice for a socket). Does not spawn. Takes
 * ownership: closed at close or abort. Sockets are used with MSG_DONTWAIT;
 * other fds (pipes) are set O_NONBLOCK meanwhile and get their flags
 * back before they are closed, so no other process may use the same open
 * file description while it is wrapped. Pipes are enlarged to 1 MiB where
 * the system allows it (as are those of wire_conn_spawn()). Never fails. */
struct wire_conn *wire_conn_from_fds(int rfd, int wfd);

/* fork+exec argv[0] (searched in PATH) with its stdin and stdout on pipes;
 * stderr is inherited, SIGPIPE reset to the default in the child. Returns
 * 0 and sets *conn_r (caller closes), or -1 (exec failures such as a
 * missing program are reported here). */
int	wire_conn_spawn(char *const argv[], struct wire_conn **conn_r,
	    struct mail_err *err) WARN_UNUSED;

struct wire_ssh_opts {
	const char *user;	 /* NULL: $USER, else the passwd entry */
	const char *host;	 /* name or address (IPv6 without []) */
	int	 port;		 /* 0: 22 */
	const char *command;	 /* remote command line */
	const char *known_hosts; /* NULL: ~/.ssh/known_hosts (plus the
				  * read-only /etc/ssh/ssh_known_hosts) */
	bool	 accept_new;	 /* unknown host: append its key to
				  * known_hosts instead of refusing; a
				  * changed key is always refused */
	const char *identity;	 /* private key file; NULL: ssh-agent, then
				  * ~/.ssh/id_ed25519, id_ecdsa, id_rsa */
	const char *passphrase;	 /* of identity; NULL: it has none */
	int	 connect_timeout_ms; /* each step of connecting; 0: 15000 */
};

/* Connect with libssh2, check the host key against known_hosts, log in
 * with a public key and start o->command on an exec channel. Returns 0
 * and sets *conn_r (caller closes), or -1 with MAIL_ERR_TEMP (host
 * unreachable, timeout, connection lost), MAIL_ERR_PERM (host key
 * unknown or changed, login refused, command refused: the message names
 * the host, the key type, its SHA256 fingerprint and the known_hosts
 * file and line), MAIL_ERR_NOTFOUND (identity file missing) or
 * MAIL_ERR_PARAM. */
int	wire_conn_ssh(const struct wire_ssh_opts *o, struct wire_conn **conn_r,
	    struct mail_err *err) WARN_UNUSED;

/* Through the system ssh: runs
 *   /bin/sh -c '<ssh_command> "$@"' sh [-p PORT] [-l USER] HOST COMMAND
 * so ssh_command may carry options ("ssh -o ProxyJump=x") and the user's
 * ssh_config applies. Only user, host, port and command of o are used.
 * Returns as wire_conn_spawn(). */
int	wire_conn_ssh_command(const char *ssh_command,
	    const struct wire_ssh_opts *o, struct wire_conn **conn_r,
	    struct mail_err *err) WARN_UNUSED;

/* Queue len bytes (compressed once compression started). Nothing is sent
 * before wire_conn_flush() unless ~256 KiB are pending, in which case
 * they are sent now. Returns 0 or -1. */
int	wire_conn_write(struct wire_conn *c, const void *buf, size_t len,
	    struct mail_err *err) WARN_UNUSED;
/* Send everything queued (with compression: after a Z_SYNC_FLUSH, so the
 * peer can decode all of it). Blocks until the transport took it, reading
 * the peer's input meanwhile. Returns 0 or -1. */
int	wire_conn_flush(struct wire_conn *c, struct mail_err *err) WARN_UNUSED;
/* Flush, then signal end of output (the peer reads EOF); writing is not
 * allowed afterwards, reading is. Returns 0 or -1. */
int	wire_conn_shutdown_write(struct wire_conn *c,
	    struct mail_err *err) WARN_UNUSED;
/* Read up to cap (> 0) bytes, blocking until at least one is there.
 * Returns 0 with *n_r > 0, or *n_r == 0 at EOF; -1 on error
 * (MAIL_ERR_PROTO: corrupt compressed stream). */
int	wire_conn_read(struct wire_conn *c, void *buf, size_t cap,
	    size_t *n_r, struct mail_err *err) WARN_UNUSED;

/* Call once both sides agreed, at the same point of both streams: from
 * now on everything written is one zlib stream (level 1..9, Z_SYNC_FLUSH
 * at every flush) and everything read is inflated, including bytes
 * already received but not read yet. Returns 0, or -1 (MAIL_ERR_PARAM:
 * bad level or compression already on). */
int	wire_conn_start_compress(struct wire_conn *c, int level,
	    struct mail_err *err) WARN_UNUSED;

/* Bytes that crossed the transport (raw_*, after compression) and that
 * the caller wrote and read (in, out; before compression). Any pointer
 * may be NULL. */
void	wire_conn_stats(const struct wire_conn *c, uint64_t *raw_in,
	    uint64_t *raw_out, uint64_t *in, uint64_t *out);

/* Limit every wait for the peer (reading, writing, closing) to ms
 * milliseconds without progress; 0: wait forever (the default). A stalled
 * peer then fails with MAIL_ERR_TEMP "... timed out ...". */
void	wire_conn_set_timeout(struct wire_conn *c, int ms);

/* Flush, signal EOF, read and discard what the peer still sends until its
 * EOF, then wait for the spawned child (or the remote command) to exit.
 * Returns 0, or -1 when anything failed; a child or remote command that
 * did not exit 0 is reported with its exit status or signal (and, for
 * ssh, the last line of its stderr), MAIL_ERR_TEMP for status 75
 * (EX_TEMPFAIL) and for ssh's 255 (connection failed), MAIL_ERR_INTERNAL
 * otherwise. NULL-safe; always frees and sets *cp = NULL. */
int	wire_conn_close(struct wire_conn **cp, struct mail_err *err);
/* Drop the connection now (error paths): a spawned child is killed
 * (SIGKILL) and reaped, an ssh session dropped. NULL-safe; sets
 * *cp = NULL. */
void	wire_conn_abort(struct wire_conn **cp);

/* How errors name the peer from now on (quoted), e.g. the location the
 * user gave rather than the command that reaches it. */
void	wire_conn_set_name(struct wire_conn *c, const char *name);

#endif
