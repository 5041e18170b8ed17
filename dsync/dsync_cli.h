/*
 * dsync_cli.h: shared state and helpers of the dsync command-line tool.
 *
 * Exit status (CLI.md): 0 done, 1 error (one line on stderr), 2 usage
 * error, 75 temporary failure worth retrying (EX_TEMPFAIL).
 */
#ifndef DSYNC_CLI_H
#define DSYNC_CLI_H

#include <stdbool.h>

#include "mail_err.h"
#include "mail_conf.h"
#include "mail_store.h"
#include "mail_ops.h"

#define DSYNC_EXIT_OK		0
#define DSYNC_EXIT_ERROR	1
#define DSYNC_EXIT_USAGE	2
#define DSYNC_EXIT_TEMPFAIL	75

struct dsync_ctx {
	struct mail_conf *conf;
	const char *store_path;
	const char *user;	/* -u */
	bool	 all_users;	/* -A */
	struct mail_store *store;
};

/* The whole program: parses global options and runs one command. */
int	dsync_main(int argc, char **argv);

/* Print "dsync: MESSAGE" for err and return the exit status for it. */
int	dsync_fail(const struct mail_err *err);
/* Print "dsync: usage error: ..." and return DSYNC_EXIT_USAGE. */
int	dsync_usage(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* Open ctx->store (error if no store path was given). Returns 0 or an
 * exit status. */
int	dsync_open_store(struct dsync_ctx *ctx);
/* Require -u (and not -A). Returns 0 or DSYNC_EXIT_USAGE. */
int	dsync_need_user(const struct dsync_ctx *ctx, const char *cmd);
/* Consume leading "-u USER", "-uUSER" and "-A" from argv. */
void	dsync_take_user_opts(struct dsync_ctx *ctx, int *argc, char ***argv);
/* Take the sub-command word after the command (and -u/-A on either side
 * of it); argv[0] becomes the sub-command. Returns it, or NULL when there
 * is none. */
const char *dsync_take_subcommand(struct dsync_ctx *ctx, int *argc,
	    char ***argv);
/* Write all of buf to stdout; returns 0 or an exit status. */
int	dsync_write_out(const void *data, size_t len);

/* A resolved mailbox reference: "NAME" (the acting user's), "shared/
 * OWNER/NAME" or "public/NAME". */
struct dsync_mbox {
	struct mail_user *owner;	/* opened user that holds it */
	char	*name;			/* name inside the owner's tree */
	const char *actor;		/* acting user */
};
/* Resolve ref for the acting user; opens the owner (public: created if
 * create is set). Does not require the mailbox to exist. */
int	dsync_mbox_resolve(struct dsync_ctx *ctx, const char *ref, bool create,
	    struct dsync_mbox *m, struct mail_err *err) WARN_UNUSED;
/* The mailbox in m's owner's current state, or NULL with NOTFOUND. */
struct mail_mailbox *dsync_mbox_get(struct dsync_mbox *m,
	    struct mail_err *err);
void	dsync_mbox_free(struct dsync_mbox *m);

/* Commands: each gets argv starting at its own name. */
int	dsync_cmd_init(struct dsync_ctx *ctx, int argc, char **argv);
int	dsync_cmd_user(struct dsync_ctx *ctx, int argc, char **argv);
int	dsync_cmd_mailbox(struct dsync_ctx *ctx, int argc, char **argv);
int	dsync_cmd_save(struct dsync_ctx *ctx, int argc, char **argv);
int	dsync_cmd_fetch(struct dsync_ctx *ctx, int argc, char **argv);
int	dsync_cmd_flags(struct dsync_ctx *ctx, int argc, char **argv);
int	dsync_cmd_expunge(struct dsync_ctx *ctx, int argc, char **argv);
int	dsync_cmd_copy(struct dsync_ctx *ctx, int argc, char **argv);
int	dsync_cmd_metadata(struct dsync_ctx *ctx, int argc, char **argv);
int	dsync_cmd_acl(struct dsync_ctx *ctx, int argc, char **argv);
int	dsync_cmd_dump(struct dsync_ctx *ctx, int argc, char **argv);
int	dsync_cmd_check(struct dsync_ctx *ctx, int argc, char **argv);
int	dsync_cmd_import(struct dsync_ctx *ctx, int argc, char **argv);
int	dsync_cmd_export(struct dsync_ctx *ctx, int argc, char **argv);
int	dsync_cmd_verify(struct dsync_ctx *ctx, int argc, char **argv);
int	dsync_cmd_config(struct dsync_ctx *ctx, int argc, char **argv);
int	dsync_cmd_replicator(struct dsync_ctx *ctx, int argc, char **argv);
/* Ask dsyncd to answer once n peers have user's changes up to modseq;
 * warns on stderr (the message is stored either way) when they do not in
 * replication_timeout or dsyncd can not be asked. */
void	dsync_wait_replicated(struct dsync_ctx *ctx, const char *user,
	    uint64_t modseq, unsigned long n);

/* Maildir import/export (dsync_maildir.c). */
int	dsync_maildir_import(struct dsync_ctx *ctx, const char *dir);
int	dsync_maildir_export(struct dsync_ctx *ctx, const char *dir);

#endif
