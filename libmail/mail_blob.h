/*
 * mail_blob.h: content-addressed message bodies, stored once per store.
 *
 * Bodies are appended to segment files (blobs/seg/NNNNNNNN), optionally
 * zlib-compressed, and found through 256 index shards (blobs/idx/XX, by
 * the first byte of the hash). A copy, move or second delivery of the same
 * bytes costs nothing. Writers take blobs/lock; readers take no lock.
 */
#ifndef MAIL_BLOB_H
#define MAIL_BLOB_H

#include <stdbool.h>
#include "mail_err.h"
#include "mail_buf.h"
#include "mail_fs.h"
#include "mail_guid.h"

#define MAIL_BLOB_MAX_SIZE	((uint64_t)2 * 1024 * 1024 * 1024 - 1)
#define MAIL_BLOB_SEGMENT_MAX	((uint64_t)256 * 1024 * 1024)

struct mail_blobs;

/* Open the blob store under dir (created by mail_blobs_create). level is
 * the zlib level for new bodies (0: store uncompressed). Returns 0 and sets
 * *blobs_r (close with mail_blobs_close), or -1. */
int	mail_blobs_open(const struct mail_fs *fs, const char *dir, int level,
	    struct mail_blobs **blobs_r, struct mail_err *err) WARN_UNUSED;
/* Create the directory layout. */
int	mail_blobs_create(const struct mail_fs *fs, const char *dir,
	    struct mail_err *err) WARN_UNUSED;
void	mail_blobs_close(struct mail_blobs **blobsp);

/* Start a write batch: takes the store-wide blob lock (waits up to
 * timeout_ms, then MAIL_ERR_TEMP). */
int	mail_blobs_begin(struct mail_blobs *b, int timeout_ms,
	    struct mail_err *err) WARN_UNUSED;
/* Store len bytes whose hash is *h (mail_guid_hash of data), unless a body
 * with that hash exists; an existing body is compared byte for byte, and a
 * different body under the same hash is refused (MAIL_ERR_CORRUPT) rather
 * than silently shared. Only inside a batch. */
int	mail_blobs_put(struct mail_blobs *b, const void *data, size_t len,
	    const struct mail_guid *h, struct mail_err *err) WARN_UNUSED;
/* Make the batch durable (fsync segment, then index) and release the lock.
 * Bodies are readable by others only after this. */
int	mail_blobs_commit(struct mail_blobs *b, struct mail_err *err)
	    WARN_UNUSED;
/* Release the lock; bodies written so far stay as unreferenced garbage. */
void	mail_blobs_abort(struct mail_blobs *b);

/* Read and verify the body with hash *h into out (appended, raw bytes).
 * MAIL_ERR_NOTFOUND if unknown, MAIL_ERR_CORRUPT if its bytes do not match
 * the hash. */
int	mail_blobs_get(struct mail_blobs *b, const struct mail_guid *h,
	    struct mail_buf *out, struct mail_err *err) WARN_UNUSED;
/* Append only the header section of the body with hash *h to out: its
 * bytes up to and including the empty line that ends it (the whole
 * message if it has none), reading no more of the stored body than
 * that takes. For searches on header fields, which must not read whole
 * bodies: the hash can not be checked on a part, so the bytes are not
 * verified (a damaged body shows when it is fetched). Errors as
 * mail_blobs_get(). */
int	mail_blobs_get_header(struct mail_blobs *b, const struct mail_guid *h,
	    struct mail_buf *out, struct mail_err *err) WARN_UNUSED;
/* Is a body with this hash indexed? Returns 1, 0, or -1. */
int	mail_blobs_has(struct mail_blobs *b, const struct mail_guid *h,
	    struct mail_err *err) WARN_UNUSED;
/* Rebuild the index shards from the segments (check --repair). Takes the
 * lock. Sets *n_r to the number of bodies found. */
int	mail_blobs_reindex(struct mail_blobs *b, uint64_t *n_r,
	    struct mail_err *err) WARN_UNUSED;

#endif
