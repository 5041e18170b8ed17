/*
 * mail_snapshot.h: the index snapshot of a user: mail_state serialized,
 * with the log offset it covers. Only a cache: a missing, stale or damaged
 * snapshot is rebuilt from the log, so it is written without fsync.
 */
#ifndef MAIL_SNAPSHOT_H
#define MAIL_SNAPSHOT_H

#include "mail_state.h"
#include "mail_fs.h"

/* Serialize st (covering the log up to log_end) to path, atomically.
 * log_mark identifies the log it was built from (the checksum of the
 * record ending at log_end), so a snapshot of another log (restored or
 * salvaged) is never taken for this one's. */
int	mail_snapshot_write(const struct mail_fs *fs, const char *path,
	    const struct mail_state *st, uint64_t log_end, uint64_t log_mark,
	    struct mail_err *err) WARN_UNUSED;
/* Load path into a new state (caller frees) and the log offset it covers.
 * Returns 0, or -1: MAIL_ERR_NOTFOUND when there is no snapshot,
 * MAIL_ERR_CORRUPT when it is damaged or from another build (callers
 * then replay the whole log). */
int	mail_snapshot_read(const struct mail_fs *fs, const char *path,
	    struct mail_state **st_r, uint64_t *log_end_r, uint64_t *log_mark_r,
	    struct mail_err *err) WARN_UNUSED;

#endif
