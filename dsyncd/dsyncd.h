/*
 * dsyncd.h: the replication daemon's parts, shared between its files.
 *
 * One process runs the event loop (dsyncd_main.c): it watches every
 * user's change log, keeps per peer a queue of users with changes, and
 * hands them one at a time to that peer's worker. A worker
 * (dsyncd_worker.c) is a child process that holds the two connections of
 * a sync (a `dsync server` on the local store, and the peer's) open for as
 * long as they work and runs the same brain as `dsync sync` for each user
 * it is given. The brain blocks, so it lives in its own process per peer:
 * a slow or dead peer delays nobody else, and a crash costs one worker.
 */
#ifndef DSYNCD_H
#define DSYNCD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "mail_conf.h"
#include "mail_loop.h"
#include "mail_store.h"
#include "mail_watch.h"

/* What a worker needs to connect; strings borrowed from the config. */
struct dsyncd_peer_conf {
	const char *name;
	const char *url;
	const char *ssh_command;	/* NULL: libssh2 */
	const char *identity;		/* NULL: agent, then default keys */
	const char *passphrase_file;	/* NULL: none */
	const char *known_hosts;	/* NULL: ~/.ssh/known_hosts */
	const char *remote_dsync;
	bool	 accept_new;
	int	 compress;		/* 0: off */
	int	 timeout_ms;
};

enum dsyncd_peer_state {
	DSYNCD_PEER_STARTING,		/* worker connecting */
	DSYNCD_PEER_UP,			/* connected, syncing or idle */
	DSYNCD_PEER_BACKOFF,		/* waiting to retry */
	DSYNCD_PEER_PAUSED,		/* by `dsync replicator pause` */
};

/* A user the daemon knows: its index is its mail_watch id. */
struct dsyncd_user {
	char	*name;
};

struct dsyncd_peer {
	struct dsyncd *d;
	struct dsyncd_peer_conf conf;
	enum dsyncd_peer_state state;
	bool	 paused;
	pid_t	 pid;			/* worker, or 0 */
	int	 fd;			/* our end of its socketpair, or -1 */
	char	*rbuf;			/* worker's partial line */
	size_t	 rlen, rcap;
	/* the queue: users with changes not yet pushed, oldest first */
	uint32_t *queue;		/* ring of user indices */
	size_t	 q_head, q_len, q_cap;
	uint64_t *acked;		/* per user: its local changes up to
					 * this modseq are on the peer */
	uint32_t *changes;		/* per user: log writes seen since it
					 * was queued (consecutive ones the
					 * kernel merged count once) */
	uint64_t n_changes;		/* their sum, with those in flight */
	uint32_t busy_changes;
	bool	*queued;		/* per user */
	bool	*queued_full;		/* per user: compare in full */
	uint64_t *queued_at;		/* per user: ms when queued */
	size_t	 n_users;		/* size of the per-user arrays */
	bool	 all_queued, all_full;	/* every user (both sides) */
	uint64_t all_queued_at;
	/* in flight */
	int64_t	 busy_user;		/* user index, -1 none, -2 all */
	bool	 busy_full;
	uint64_t busy_since, busy_queued_at;
	/* history */
	uint64_t backoff_ms;
	struct mail_timer *retry_timer;	/* restart the worker */
	struct mail_timer *batch_timer;	/* dispatch after batch_delay */
	struct mail_timer *full_timer;
	uint64_t n_syncs, n_failures;
	uint64_t last_sync_ms, last_full_ms;	/* wall clock, 0: never */
	uint64_t up_since_ms;
	char	*last_error;
	uint64_t last_error_ms;
	uint64_t remote_node;
};

struct dsyncd {
	struct mail_conf *conf;
	const char *conf_path;
	const char *store_path;
	const char *node_name;
	const char *control_path;
	const char *dsync_path;		/* the dsync binary for local servers */
	struct mail_store *store;
	struct mail_loop *loop;
	struct mail_watch *watch;
	int	 users_fd;		/* inotify on STORE/users */
	int	 signal_fd;
	int	 ctl_fd;
	struct dsyncd_user *users;
	size_t	 n_users, cap_users;
	struct dsyncd_peer *peers;
	size_t	 n_peers;
	uint64_t batch_delay_ms, retry_min_ms, retry_max_ms;
	uint64_t full_interval_ms;
	uint64_t started_ms;
	bool	 stopping;
	struct dsyncd_waiter *waiters;	/* `save --wait-replicated` */
};

/* dsyncd_peer.c: the queues and the workers. */
void	dsyncd_peer_init(struct dsyncd *d, struct dsyncd_peer *p);
void	dsyncd_peer_start(struct dsyncd_peer *p);
/* Queue user (index) for every peer; full: compare everything. */
void	dsyncd_queue_user(struct dsyncd *d, size_t user, bool full);
void	dsyncd_peer_queue_user(struct dsyncd_peer *p, size_t user, bool full);
/* Queue user because its log was written (counted in the lag). */
void	dsyncd_peer_queue_change(struct dsyncd_peer *p, size_t user);
void	dsyncd_peer_queue_all(struct dsyncd_peer *p, bool full);
void	dsyncd_peer_pause(struct dsyncd_peer *p, bool pause);
/* Stop every worker (SIGTERM, then wait). */
void	dsyncd_peers_stop(struct dsyncd *d);
/* A worker exited (from the SIGCHLD handler's reaping). */
void	dsyncd_peer_exited(struct dsyncd *d, pid_t pid, int status);
size_t	dsyncd_peer_queue_len(const struct dsyncd_peer *p);
/* Whether the peer has every change of user's log (its sync state says
 * so, and the log has not grown since): then there is nothing to push. */
bool	dsyncd_peer_has_all(const struct dsyncd_peer *p, size_t user);
/* Age in ms of the oldest change not yet pushed (0: none). */
uint64_t dsyncd_peer_lag_ms(const struct dsyncd_peer *p, uint64_t now_ms);
const char *dsyncd_peer_state_name(const struct dsyncd_peer *p);
struct dsyncd_peer *dsyncd_peer_find(struct dsyncd *d, const char *name);
/* Grow every peer's per-user arrays to d->n_users. */
void	dsyncd_peers_grow(struct dsyncd *d);

/* dsyncd_worker.c: the child's side. Never returns. fd: the socketpair
 * end; store_path, dsync_path: the local side. */
void	dsyncd_worker_main(const struct dsyncd_peer_conf *pc,
	    const char *store_path, const char *dsync_path, int fd)
	    __attribute__((noreturn));

/* dsyncd_ctl.c: the control socket. listen binds it (before the daemon
 * detaches, so that a socket in use is an error on the terminal); start
 * serves it from the loop; close removes it. */
int	dsyncd_ctl_listen(struct dsyncd *d, struct mail_err *err) WARN_UNUSED;
int	dsyncd_ctl_start(struct dsyncd *d, struct mail_err *err) WARN_UNUSED;
void	dsyncd_ctl_close(struct dsyncd *d);
/* A peer acknowledged user's changes: answer the waiters it satisfies. */
void	dsyncd_ctl_acked(struct dsyncd *d, size_t user);
/* How many peers have user's local changes up to modseq. */
size_t	dsyncd_acked_peers(const struct dsyncd *d, size_t user,
	    uint64_t modseq);

/* dsyncd_main.c */
void	dsyncd_scan_users(struct dsyncd *d, bool queue);
int	dsyncd_main(int argc, char **argv);
/* Find user by name; add (and watch) it if add. Returns its index or
 * -1. */
ssize_t	dsyncd_user_find(struct dsyncd *d, const char *name, bool add);
uint64_t dsyncd_wall_ms(void);

#endif
