/*
 * dsync_backup_chain.h: a full backup and its incrementals read as one
 * (dsync_backup_chain.c), for import, verify and export --list.
 */
#ifndef DSYNC_BACKUP_CHAIN_H
#define DSYNC_BACKUP_CHAIN_H

#include "dsync_backup.h"
#include "dsync_sync.h"

/* One user's section in one file. */
struct dsync_bk_section {
	struct wire_backup_user user;
	uint64_t user_off, changes_off, end_off;
	bool	 damaged;		/* found cut short (salvage) */
};

struct dsync_bk_cfile {
	struct dsync_bk_file *bf;
	struct dsync_bk_section *sections;
	size_t	 n_sections, cap_sections;
	bool	 damaged;		/* read with --salvage, not intact */
	bool	 salvage;		/* skip damage when reading it */
};

struct dsync_bk_chain {
	struct dsync_bk_cfile *files;
	size_t	 n_files;
	bool	 streaming;		/* one file from a pipe: no sections
					 * known, read it in order */
	/* the last block inflated, for neighbouring bodies */
	struct wire_backup_zip *z;
	struct wire_backup_block blk;
	struct dsync_bk_cfile *blk_file;
	uint64_t blk_off, blk_next;
};

enum dsync_bk_open_flags {
	DSYNC_BK_SALVAGE = 1,		/* read damaged files whole, skipping
					 * damage; else they are refused */
	DSYNC_BK_NEED_INDEX = 2,	/* no pipe */
	DSYNC_BK_ANY_FIRST = 4,		/* the first may be an incremental */
};
/* Open paths[0..n) as a chain: the first a full backup, each next one
 * made from the one before. A pipe is allowed as the only file unless
 * DSYNC_BK_NEED_INDEX. */
int	dsync_bk_chain_open(char **paths, size_t n, unsigned flags,
	    struct dsync_bk_chain **chain_r, struct mail_err *err)
	    WARN_UNUSED;
void	dsync_bk_chain_close(struct dsync_bk_chain **chp);
/* The user names of all files, sorted, each once (the array is the
 * caller's; the names are borrowed from the chain). */
char	**dsync_bk_chain_users(const struct dsync_bk_chain *ch, size_t *n_r);

/* A user's sections to apply in order: from the last full one on
 * (continuity checked); none if the user is gone at the end. */
struct dsync_bk_usec {
	struct dsync_bk_cfile *file;
	struct dsync_bk_section *sec;
};
int	dsync_bk_chain_user(const struct dsync_bk_chain *ch, const char *user,
	    struct dsync_bk_usec **v_r, size_t *n_r, struct mail_err *err)
	    WARN_UNUSED;
/* Call fn for each change of a section, in order, until it returns 1
 * (stop, not an error) or -1. */
int	dsync_bk_section_changes(struct dsync_bk_cfile *cf,
	    const struct dsync_bk_section *sec, dsync_emit_fn *fn, void *ctx,
	    struct mail_err *err) WARN_UNUSED;
/* The body with hash h, from the newest file that holds it, checked
 * against its hash. NOTFOUND if no file has it. */
int	dsync_bk_chain_body(struct dsync_bk_chain *ch, const struct mail_guid *h,
	    struct mail_buf *out, struct mail_err *err) WARN_UNUSED;

/* export --list (dsync_cmd_verify.c; dsync_cmd_export.c dispatches) */
int	dsync_cmd_export_list(struct dsync_ctx *ctx, const char *path,
	    const char *mailbox);

#endif
