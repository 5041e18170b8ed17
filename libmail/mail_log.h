/*
 * mail_log.h: the append-only change log of one user. Every change to the
 * user's mailboxes, messages, flags, metadata and ACLs is a record here
 * before anyone can see it; the index snapshot is only a cache of it.
 *
 * File: a 16-byte header ("DSYNCLOG", u32 version, u32 zero), then
 * records, all integers little-endian:
 *
 *   u32 len      whole record, header and checksum included (40..16 MiB)
 *   u8  type     enum mail_rec_type
 *   u8  flags    MAIL_REC_COMMIT on the last record of a transaction
 *   u16 zero
 *   u64 modseq   local modification sequence of the transaction
 *   u64 node     node id where the change was first made
 *   u64 hlc      hybrid logical clock time of the change at that node
 *   ...payload   (len - 40 bytes, see mail_rec.h)
 *   u64 xxh3     XXH3-64 of everything before it
 *
 * A transaction is visible only once its COMMIT record is complete and
 * fsynced. A crash can leave a torn tail, which the next writer cuts.
 */
#ifndef MAIL_LOG_H
#define MAIL_LOG_H

#include <stdbool.h>
#include <sys/types.h>

#include "mail_err.h"
#include "mail_buf.h"
#include "mail_fs.h"

#define MAIL_LOG_MAGIC		"DSYNCLOG"
#define MAIL_LOG_VERSION	1
#define MAIL_LOG_HEADER_SIZE	16
#define MAIL_LOG_REC_HEADER	32
#define MAIL_LOG_REC_MIN	40
#define MAIL_LOG_REC_MAX	(16u * 1024 * 1024)
#define MAIL_REC_COMMIT		0x01

struct mail_log_rec {
	uint8_t	 type;
	uint8_t	 flags;
	uint64_t modseq;
	uint64_t node;
	uint64_t hlc;
	const uint8_t *payload;	/* borrowed from the decoded buffer */
	size_t	 payload_len;
};

/* Append one encoded record to out. payload_len must keep the record
 * within MAIL_LOG_REC_MAX (callers split big changes). */
void	mail_log_encode(struct mail_buf *out, const struct mail_log_rec *rec);
/* Set MAIL_REC_COMMIT on the encoded record at rec and re-seal its
 * checksum. */
void	mail_log_mark_commit(uint8_t *rec);
/* Decode the record at the start of p[0..n). Returns the bytes it
 * occupies, 0 when p holds only part of a record (need more bytes), or
 * -1 with MAIL_ERR_CORRUPT when the bytes can not be a record (bad length,
 * type 0, nonzero reserved field, checksum mismatch). rec->payload points
 * into p. Pure function: safe for fuzzing. */
ssize_t	mail_log_decode(const uint8_t *p, size_t n, struct mail_log_rec *rec,
	    struct mail_err *err);

/* The result of scanning a log file. */
struct mail_log_scan {
	uint64_t end;		/* offset after the last complete commit */
	uint64_t file_size;	/* bytes in the file when read */
	bool	 damaged;	/* bytes after end do not form a valid record;
				 * mid_damage tells whether valid records
				 * follow the damage (not a torn tail) */
	bool	 mid_damage;
	uint64_t damage_off;
};

/* Called with each record of each complete transaction, in order; a
 * nonzero return stops the scan and is returned by mail_log_read. */
typedef int mail_log_rec_fn(void *ctx, const struct mail_log_rec *rec,
    uint64_t offset, struct mail_err *err);

/* Read the log at path from offset start (0 = just after the header) and
 * call fn for every record of every complete transaction. Incomplete or
 * damaged bytes at the end are reported in *scan, not as an error. Returns
 * 0, or -1 for I/O errors, a bad header, or an error from fn. */
int	mail_log_read(const struct mail_fs *fs, const char *path, uint64_t start,
	    mail_log_rec_fn *fn, void *ctx, struct mail_log_scan *scan,
	    struct mail_err *err) WARN_UNUSED;
/* Create a new empty log (header only), durably. Fails with EXISTS. */
int	mail_log_create(const struct mail_fs *fs, const char *path,
	    struct mail_err *err) WARN_UNUSED;
/* The mark of the log at path as of offset end: the checksum that ends
 * the record before end, 0 for an empty log (end at the header), and all
 * ones when the file is shorter than end. Snapshots store it to recognize
 * the log they were made from. Returns 0, or -1 for I/O errors. */
int	mail_log_mark(const struct mail_fs *fs, const char *path, uint64_t end,
	    uint64_t *mark_r, struct mail_err *err) WARN_UNUSED;
/* Append bytes (one or more encoded records ending in a COMMIT) at offset
 * end, which must be the scanned end; bytes beyond it (a torn tail left by
 * a crashed writer) are cut first. fsyncs before returning 0. The caller
 * holds the user's write lock. */
int	mail_log_append(const struct mail_fs *fs, const char *path, uint64_t end,
	    const void *data, size_t len, struct mail_err *err) WARN_UNUSED;

#endif
