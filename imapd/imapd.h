/*
 * imapd.h: the IMAP server's process-wide state, its users, its clients
 * and the selected-mailbox views, shared by the imapd_*.c files.
 *
 * One process serves every connection on one mail_loop. Users are shared:
 * all sessions of one user use one struct imapd_user (one mail_user, one
 * inotify watch), so a change is read from the log once and then reported
 * to every session that has the mailbox selected.
 */
#ifndef IMAPD_H
#define IMAPD_H

#include <stdbool.h>
#include <inttypes.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "mail_conf.h"
#include "mail_loop.h"
#include "mail_ops.h"
#include "mail_store.h"
#include "mail_uidset.h"
#include "mail_watch.h"
#include "imap_conn.h"
#include "imap_parser.h"
#include "imap_passwd.h"

#define IMAPD_SEP	'/'		/* the hierarchy separator */

enum imapd_plaintext {
	IMAPD_PLAINTEXT_NO = 0,
	IMAPD_PLAINTEXT_LOOPBACK,
	IMAPD_PLAINTEXT_YES,
};

struct imapd_settings {
	char	*passdb_path;
	enum imapd_plaintext plaintext_auth;
	uint64_t max_connections;
	uint64_t max_line, max_append;
	uint64_t login_timeout_ms, idle_timeout_ms;
	uint64_t auth_failure_delay_ms;
	uint64_t max_auth_failures;
	bool	 create_users;
};

struct imapd_listener {
	struct imapd *d;
	int	 fd;
	bool	 tls;			/* implicit TLS */
	char	*name;			/* "127.0.0.1:1143" */
};

struct imapd_user {
	char	*name;
	int	 watch_id;		/* -1: not watched */
	struct mail_user *mu;		/* NULL while no session uses it */
	unsigned refs;
	struct imapd_client *sessions;	/* logged-in clients of this user */
};

struct imapd {
	struct mail_loop *loop;
	struct mail_conf *conf;
	struct imapd_settings set;
	struct mail_store *store;
	struct mail_watch *watch;
	struct imapd_passdb *passdb;	/* the current passwd-file */
	struct imapd_authwork *authwork;	/* password check threads */
	struct imap_tls_ctx *tls;	/* NULL: no TLS configured */
	struct imapd_listener *listeners;
	size_t	 n_listeners;
	struct imapd_user **users;	/* by watch id (index = id) and */
	size_t	 n_users, cap_users;	/* unwatched ones after them */
	struct imapd_client *clients;	/* every connection */
	size_t	 n_clients;
	uint64_t next_client_id;
	struct imapd_client *run_queue;	/* input to run without an event */
	int	 signal_fd;
	bool	 stopping;
};

/* A selected mailbox as one session sees it: message sequence numbers
 * are positions in `uids` (sorted ranges, so a mailbox with few gaps
 * costs a few bytes). Changes by others are reported by comparing it
 * with the mailbox's live messages. */
struct imapd_view {
	struct mail_guid guid;
	uint32_t uidvalidity;
	bool	 readonly;
	struct mail_uidset uids;	/* the session's messages */
	uint32_t n;			/* their number: sequence 1..n */
	uint64_t modseq;		/* flag changes up to here reported */
	size_t	 n_keywords;		/* mailbox keywords in FLAGS sent */
	struct mail_uidset saved;	/* SEARCH SAVE result ("$") */
	bool	 gone;			/* the mailbox was deleted */
	bool	 maybe_gone;		/* changes came while EXPUNGE could
					 * not be sent: compare at the next
					 * chance */
};

enum imapd_state {
	IMAPD_NOT_AUTH = 0,
	IMAPD_AUTH,
	IMAPD_SELECTED,
	IMAPD_LOGOUT,
};

/* What the client's input is for right now. */
enum imapd_input {
	IMAPD_IN_COMMAND = 0,	/* commands through the parser */
	IMAPD_IN_IDLE,		/* waiting for DONE */
	IMAPD_IN_AUTH,		/* an AUTHENTICATE response line */
	IMAPD_IN_NONE,		/* not reading (a delay, TLS start) */
};

struct imapd_append;		/* an APPEND in progress (imapd_append.c) */
struct imapd_auth_job;		/* a password check (imapd_authwork.c) */

struct imapd_client {
	struct imapd *d;
	struct imapd_client *prev, *next;	/* all clients */
	struct imapd_client *user_next;		/* sessions of its user */
	uint64_t id;
	struct imap_conn *conn;
	struct imap_parser *parser;
	struct mail_buf in;
	enum imapd_state state;
	enum imapd_input input;
	char	 peer[64];		/* "ip:port" for logs */
	bool	 secure;		/* TLS, or loopback with plaintext
					 * allowed there */
	bool	 loopback;
	bool	 listener_tls;
	unsigned auth_failures;
	struct imapd_user *user;
	/* ENABLEd */
	bool	 utf8;			/* IMAP4rev2 or UTF8=ACCEPT */
	bool	 rev2;
	bool	 condstore, qresync;
	struct imapd_view *view;	/* NULL unless SELECTED */
	struct mail_timer *timer;	/* idle / login timeout */
	struct mail_timer *delay;	/* auth failure delay */
	struct imap_cmd *cmd;		/* the command in progress */
	char	*idle_tag;		/* IDLE's tag while idling */
	char	*auth_tag;		/* AUTHENTICATE in progress */
	char	*auth_mech;
	char	*auth_user;		/* AUTHENTICATE LOGIN: the name */
	struct imapd_auth_job *auth_job; /* a password check running */
	struct imapd_append *append;
	bool	 closing;		/* flush, then close */
	bool	 start_tls;		/* after the flush, start TLS */
	bool	 start_deflate;
	/* a command that produces output in steps (FETCH): called again
	 * when the output queue has drained */
	void	(*resume)(struct imapd_client *c);
	void	*resume_ctx;
	void	(*resume_free)(struct imapd_client *c);
	uint64_t own_modseq;		/* the last change this session made
					 * and reported itself */
	unsigned ev;			/* the events the loop waits for */
	bool	 need_more;		/* the input holds no whole command */
	bool	 queued;		/* on d->run_queue */
	struct imapd_client *run_next;
};

/* ---- imapd_main.c ---- */
/* The text of capabilities for client c (without "CAPABILITY"). */
void	imapd_capabilities(struct imapd_client *c, struct mail_buf *out);

/* ---- imapd_client.c ---- */
void	imapd_client_accept(struct imapd *d, int fd, bool tls,
	    const struct sockaddr_storage *sa);
void	imapd_client_free(struct imapd_client *c);
/* Queue output; imapd_client_printf adds nothing (no CRLF). */
void	imapd_client_write(struct imapd_client *c, const void *p, size_t n);
void	imapd_client_printf(struct imapd_client *c, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Tagged or untagged ("*") status line: "TAG OK text\r\n". */
void	imapd_client_reply(struct imapd_client *c, const char *tag,
	    const char *status, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));
/* Finish the command in progress (free it) and go on reading. */
void	imapd_client_cmd_done(struct imapd_client *c);
/* Send BYE and close once it is flushed. */
void	imapd_client_bye(struct imapd_client *c, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Restart the inactivity timer (after login: the idle timeout). */
void	imapd_client_timer_rearm(struct imapd_client *c);
/* Report changes of the selected mailbox, then answer "TAG OK text" and
 * end the command. */
void	imapd_cmd_ok(struct imapd_client *c, struct imap_cmd *cmd,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Answer tag with status and text and end the command. */
void	imapd_cmd_reply(struct imapd_client *c, struct imap_cmd *cmd,
	    const char *status, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));
/* Go back to reading commands (after IDLE, AUTHENTICATE, a delay). */
void	imapd_client_set_input(struct imapd_client *c, enum imapd_input in);
/* Re-arm the loop's events after output or input state changed. */
void	imapd_client_update(struct imapd_client *c);
/* Append s as an IMAP astring/string: atom if it can be one, else quoted,
 * else a literal. */
void	imapd_put_string(struct mail_buf *out, const char *s, size_t len);
/* Append a mailbox name as this client must see it (mUTF-7 unless UTF-8
 * was enabled). */
void	imapd_put_mailbox(struct imapd_client *c, struct mail_buf *out,
	    const char *name);
/* The store name of a mailbox argument (decoded from mUTF-7 for clients
 * without UTF-8, "INBOX" normalized). Returns a malloc'ed name, or NULL
 * after answering NO/BAD to tag. */
char	*imapd_mailbox_arg(struct imapd_client *c, const char *tag,
	    const struct imap_str *arg);
/* Answer a failed store operation: NO with a response code fitting
 * err->code. */
void	imapd_reply_err(struct imapd_client *c, const char *tag,
	    const struct mail_err *err);

/* ---- imapd_authwork.c ---- */
int	imapd_authwork_start(struct imapd *d, struct mail_err *err)
	    WARN_UNUSED;
void	imapd_authwork_stop(struct imapd *d);
/* Read the passdb at start; reload it if it changed. */
int	imapd_passdb_load(struct imapd *d, struct mail_err *err) WARN_UNUSED;
void	imapd_passdb_free(struct imapd *d);
void	imapd_passdb_reload(struct imapd *d);
/* Check user's password in a thread; imapd_login_checked() gets the
 * result in the loop. */
void	imapd_authwork_submit(struct imapd_client *c, const char *user,
	    size_t user_len, const char *password, size_t password_len);
/* Forget c's check (c is going away). */
void	imapd_authwork_cancel(struct imapd_client *c);
/* ---- imapd_auth.c ---- */
/* The result of a password check: imap_passwd_verify()'s return. */
void	imapd_login_checked(struct imapd_client *c, const char *user,
	    int result, const struct mail_err *err);

/* ---- imapd_user.c ---- */
/* Find or make the user, open its store state, take a reference. */
int	imapd_user_get(struct imapd *d, const char *name,
	    struct imapd_user **u_r, struct mail_err *err) WARN_UNUSED;
void	imapd_user_put(struct imapd *d, struct imapd_user **up);
void	imapd_user_attach(struct imapd_user *u, struct imapd_client *c);
void	imapd_user_detach(struct imapd_user *u, struct imapd_client *c);
/* Read what other processes wrote and tell the idling sessions. */
void	imapd_user_refresh(struct imapd *d, struct imapd_user *u);
/* After a change of ours: tell the user's other idling sessions. */
void	imapd_user_changed(struct imapd_user *u, struct imapd_client *except);
/* A write transaction on the user's store state. */
int	imapd_txn_begin(struct imapd_client *c, struct mail_txn **t_r,
	    struct mail_err *err) WARN_UNUSED;
/* Commit, then report to other sessions. */
int	imapd_txn_commit(struct imapd_client *c, struct mail_txn **tp,
	    struct mail_err *err) WARN_UNUSED;
struct mail_state *imapd_state(struct imapd_client *c);
void	imapd_watch_event(struct mail_loop *loop, int fd, unsigned events,
	    void *ctx);

/* ---- imapd_view.c ---- */
/* The selected mailbox (live), or NULL if it is gone. */
struct mail_mailbox *imapd_view_mailbox(struct imapd_client *c);
void	imapd_view_open(struct imapd_client *c, struct mail_mailbox *mb,
	    bool readonly);
void	imapd_view_close(struct imapd_client *c);
/* Report changes: EXISTS, FETCH FLAGS, FLAGS; EXPUNGE/VANISHED only if
 * expunges is true (not during FETCH, STORE, SEARCH). */
void	imapd_view_report(struct imapd_client *c, bool expunges);
/* Resolve a sequence set (uid: a UID set) against the view into UIDs of
 * the session's messages. "$" uses the saved result. Returns false for a
 * sequence number beyond the view (answer BAD). */
bool	imapd_view_resolve(struct imapd_client *c, const struct imap_seqset *set,
	    bool uid, struct mail_uidset *uids_r);
/* The sequence number of uid in the view, or 0. */
uint32_t imapd_view_seq(const struct imapd_view *v, uint32_t uid);
/* The UID at sequence seq (1..n). */
uint32_t imapd_view_uid(const struct imapd_view *v, uint32_t seq);
/* Append a message's flags as "(\Seen kw)" to out. */
void	imapd_put_flags(struct imapd_client *c, const struct mail_mailbox *mb,
	    const struct mail_msg *msg, struct mail_buf *out);
/* Send "* FLAGS" and "* OK [PERMANENTFLAGS ...]". */
void	imapd_view_send_flags(struct imapd_client *c,
	    const struct mail_mailbox *mb);

/* ---- imapd_mailbox.c ---- */
/* The live mailbox arg names, or NULL after answering cmd (NO
 * [NONEXISTENT], or the name's error). */
struct mail_mailbox *imapd_mailbox_find(struct imapd_client *c,
	    struct imap_cmd *cmd, const struct imap_str *arg);
/* True if the selected mailbox may be changed; else answers cmd NO
 * [READ-ONLY]. */
bool	imapd_view_writable(struct imapd_client *c, struct imap_cmd *cmd);
/* Append "* STATUS name (items)\r\n" for mb. */
void	imapd_status_line(struct imapd_client *c, const struct mail_mailbox *mb,
	    unsigned items, struct mail_buf *out);

/* ---- command handlers ---- */
typedef void imapd_cmd_fn(struct imapd_client *c, struct imap_cmd *cmd);
imapd_cmd_fn imapd_cmd_capability, imapd_cmd_noop, imapd_cmd_logout,
    imapd_cmd_login, imapd_cmd_authenticate, imapd_cmd_starttls,
    imapd_cmd_enable, imapd_cmd_id, imapd_cmd_compress, imapd_cmd_select,
    imapd_cmd_create, imapd_cmd_delete, imapd_cmd_rename,
    imapd_cmd_subscribe, imapd_cmd_list, imapd_cmd_namespace,
    imapd_cmd_status, imapd_cmd_append, imapd_cmd_idle,
    imapd_cmd_getmetadata, imapd_cmd_setmetadata, imapd_cmd_check,
    imapd_cmd_close, imapd_cmd_expunge, imapd_cmd_search, imapd_cmd_sort,
    imapd_cmd_thread, imapd_cmd_fetch, imapd_cmd_store, imapd_cmd_copy;
/* AUTHENTICATE's client responses and IDLE's DONE. */
void	imapd_auth_line(struct imapd_client *c, const uint8_t *line,
	    size_t len);
void	imapd_idle_line(struct imapd_client *c, const uint8_t *line,
	    size_t len);
/* APPEND's streamed literal (imapd_append.c). */
void	imapd_append_literal(struct imapd_client *c);
void	imapd_append_data(struct imapd_client *c, const uint8_t *p,
	    size_t n);
void	imapd_append_free(struct imapd_client *c);

#endif
