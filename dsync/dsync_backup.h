/*
 * dsync_backup.h: backup files (man/dsync-backup.5) as the commands see
 * them: a writer that counts offsets and the running digest, and a
 * reader that gives frames one by one (from a pipe or a file) or at an
 * offset (files only), with errors that name the file and the offset.
 *
 * dsync_backup_file.c holds both; dsync_cmd_export.c writes backups and
 * lists them, dsync_cmd_import.c restores and verifies them.
 */
#ifndef DSYNC_BACKUP_H
#define DSYNC_BACKUP_H

#include "dsync_cli.h"
#include "wire_backup.h"
#include "wire_frame.h"

/* A set of body hashes (open addressing: hashes are uniform already). */
struct dsync_guid_set {
	struct mail_guid *v;
	bool	*used;
	size_t	 n, cap;
};
bool	dsync_guid_set_has(const struct dsync_guid_set *s,
	    const struct mail_guid *g);
/* Add g; false if it was there already. */
bool	dsync_guid_set_add(struct dsync_guid_set *s, const struct mail_guid *g);
void	dsync_guid_set_free(struct dsync_guid_set *s);

/* ---- writing ---- */

struct dsync_bk_writer {
	int	 fd;
	const char *label;		/* for messages: the file or "stdout" */
	uint64_t off;			/* bytes written so far (logically) */
	struct mail_buf out;		/* not yet written */
	struct mail_buf frame;		/* scratch */
	struct wire_backup_digest digest;
};
/* Start a backup on fd: the magic. */
void	dsync_bk_writer_init(struct dsync_bk_writer *w, int fd,
	    const char *label);
/* Append one frame; *off_r (if not NULL) gets its offset. Writes out
 * in big pieces. */
int	dsync_bk_write(struct dsync_bk_writer *w, uint8_t type,
	    const void *payload, size_t len, uint64_t *off_r,
	    struct mail_err *err) WARN_UNUSED;
/* Write the index and the trailer, flush. */
int	dsync_bk_finish(struct dsync_bk_writer *w,
	    const struct wire_backup_index *ix, struct mail_err *err)
	    WARN_UNUSED;
void	dsync_bk_writer_free(struct dsync_bk_writer *w);

/* ---- reading ---- */

struct dsync_bk_file {
	char	*path;			/* "-" for stdin */
	int	 fd;
	bool	 seekable;
	uint64_t size;			/* seekable files */
	struct wire_backup_header hdr;
	/* the index, when the file is complete (trailer and index read
	 * and checked); bodies sorted by hash */
	bool	 has_index;
	struct wire_backup_trailer trailer;
	struct wire_backup_index ix;
	/* sequential reading */
	struct mail_buf buf;
	size_t	 pos;			/* next frame at buf.data + pos */
	uint64_t buf_off;		/* file offset of buf.data */
	bool	 eof;
	struct wire_backup_digest digest;	/* of frames read in order */
	bool	 digest_ok;		/* read in order from the header */
};
/* Open path ("-": stdin), check the magic and read the HEADER. For a
 * seekable file also try the trailer and index (has_index tells if they
 * were good; *index_err, if not NULL, says why not). */
int	dsync_bk_open(const char *path, struct dsync_bk_file **f_r,
	    struct mail_err *index_err, struct mail_err *err) WARN_UNUSED;
void	dsync_bk_close(struct dsync_bk_file **fp);
/* The next frame in order. Returns 1 (f filled, payload valid until the
 * next call), 0 at the end of the file, -1 on a damaged or truncated
 * frame (err names file and offset). *off_r: where the frame is (or the
 * damage). */
int	dsync_bk_next(struct dsync_bk_file *bf, struct wire_frame *f,
	    uint64_t *off_r, struct mail_err *err) WARN_UNUSED;
/* Continue reading in order at off (seekable files only). */
int	dsync_bk_seek(struct dsync_bk_file *bf, uint64_t off,
	    struct mail_err *err) WARN_UNUSED;
/* After an error at *off: find the next good frame. Tries the frame's
 * own length, then the index's offsets, then a scan for a USER frame.
 * Returns 1 (positioned at a good frame), 0 (nothing more to read). */
int	dsync_bk_resync(struct dsync_bk_file *bf, uint64_t off);

/* "FILE: " prefixed onto err. */
int	dsync_bk_err(const struct dsync_bk_file *bf, struct mail_err *err);

#endif
