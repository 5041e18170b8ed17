/*
 * wire_backup.h: the backup file format of `dsync export` and `dsync
 * import` (man/dsync-backup.5 is the full description). A backup is the
 * 8-byte magic followed by wire frames (wire_frame.h: length, type,
 * payload, XXH3-64), so every piece carries its own checksum:
 *
 *   HEADER                          what the file is and which it follows
 *   per user: USER BLOCK* CHANGES* USER_END
 *   INDEX+                          where each user and body is
 *   TRAILER                         fixed size, at the very end
 *
 * CHANGES payloads are the sync protocol's changes (wire_sync.h), exactly
 * what `dsync server` lists, so a restore replays them like a sync would.
 * BLOCKs hold message bodies, each body once per file (single-instance),
 * several small ones or a piece of a big one per block, zlib-compressed
 * as one unit: a reader inflates one block to get at one message.
 *
 * Everything here is pure encoding and strict decoding of bytes that may
 * be damaged: decoders never trust lengths or counts.
 */
#ifndef WIRE_BACKUP_H
#define WIRE_BACKUP_H

#include "mail_buf.h"
#include "mail_err.h"
#include "mail_guid.h"

#define WIRE_BACKUP_MAGIC	"DSYNCBAK"
#define WIRE_BACKUP_MAGIC_LEN	8
#define WIRE_BACKUP_VERSION	1
/* Limits a reader enforces. */
#define WIRE_BACKUP_FRAME_MAX	(8u * 1024 * 1024)	/* type + payload */
#define WIRE_BACKUP_BLOCK_MAX	(4u * 1024 * 1024)	/* inflated block */
#define WIRE_BACKUP_PIECES_MAX	65536
/* What a writer aims at: a block is closed at this many raw bytes. */
#define WIRE_BACKUP_BLOCK_TARGET	(256u * 1024)

enum wire_backup_type {
	WIRE_BK_HEADER = 1,
	WIRE_BK_USER = 2,
	WIRE_BK_BLOCK = 3,
	WIRE_BK_CHANGES = 4,
	WIRE_BK_USER_END = 5,
	WIRE_BK_INDEX = 6,
	WIRE_BK_TRAILER = 7,
};

/* A name for type, for messages ("frame type 9" for unknown ones is the
 * caller's business). */
const char *wire_backup_type_name(unsigned type);

struct wire_backup_header {
	uint32_t version;
	uint64_t node;			/* the source store's node id */
	uint64_t created_ms;		/* unix time in ms */
	struct mail_guid id;		/* this backup's identity */
	struct mail_guid parent;	/* the backup it follows; zero: full */
	bool	 all_users;		/* exported with -A */
	char	*source;		/* "host:/path", owned after decode */
};
void	wire_backup_header_encode(const struct wire_backup_header *h,
	    struct mail_buf *out);
int	wire_backup_header_decode(const uint8_t *p, size_t n,
	    struct wire_backup_header *h, struct mail_err *err) WARN_UNUSED;
void	wire_backup_header_free(struct wire_backup_header *h);

/* A user's section starts with USER. since 0: the section holds the
 * user's whole state; else only what changed after modseq since, which
 * is the modseq of the same user in the parent backup. gone: the user no
 * longer exists at the source (nothing else follows but USER_END). */
struct wire_backup_user {
	char	*name;			/* owned after decode */
	uint64_t log_id;		/* identity of the user's log */
	uint64_t modseq;		/* the state exported is up to this */
	uint64_t since;
	bool	 gone;
};
void	wire_backup_user_encode(const struct wire_backup_user *u,
	    struct mail_buf *out);
int	wire_backup_user_decode(const uint8_t *p, size_t n,
	    struct wire_backup_user *u, struct mail_err *err) WARN_UNUSED;
void	wire_backup_user_free(struct wire_backup_user *u);

/* USER_END: counts of the section, checked by readers. */
struct wire_backup_user_end {
	uint64_t n_changes;		/* changes in its CHANGES frames */
	uint64_t n_bodies;		/* bodies that start in its BLOCKs */
	uint64_t body_bytes;		/* raw bytes in its BLOCKs */
};
void	wire_backup_user_end_encode(const struct wire_backup_user_end *e,
	    struct mail_buf *out);
int	wire_backup_user_end_decode(const uint8_t *p, size_t n,
	    struct wire_backup_user_end *e, struct mail_err *err) WARN_UNUSED;

/* One piece of a body in a block: bytes [offset, offset + len) of the
 * body with hash and total size. A body bigger than a block continues in
 * the following blocks, in order. */
struct wire_backup_piece {
	struct mail_guid hash;
	uint64_t total;
	uint64_t offset;
	uint32_t len;
};

/* Compression of blocks (the libdeflate handles are kept by the caller
 * for speed; NULL-safe free). */
struct wire_backup_zip;
struct wire_backup_zip *wire_backup_zip_new(int level);
void	wire_backup_zip_free(struct wire_backup_zip **zp);

/* Append a BLOCK payload for pieces v[0..n) whose bytes are raw[0..len)
 * back to back. */
void	wire_backup_block_encode(struct wire_backup_zip *z,
	    const struct wire_backup_piece *v, size_t n, const uint8_t *raw,
	    size_t len, struct mail_buf *out);

/* A decoded block: pieces and the inflated bytes (piece i starts where
 * piece i-1 ended). */
struct wire_backup_block {
	struct wire_backup_piece *v;
	size_t	 n;
	struct mail_buf data;
};
/* Decode and inflate a BLOCK payload into b (reused: its memory is kept
 * for the next call). Checks the sizes and that pieces fit their bodies;
 * a body's hash can only be checked once all its pieces are together. */
int	wire_backup_block_decode(struct wire_backup_zip *z, const uint8_t *p,
	    size_t n, struct wire_backup_block *b, struct mail_err *err)
	    WARN_UNUSED;
/* Only the pieces, without inflating (for listings and verification). */
int	wire_backup_block_pieces(const uint8_t *p, size_t n,
	    struct wire_backup_block *b, struct mail_err *err) WARN_UNUSED;
void	wire_backup_block_free(struct wire_backup_block *b);

/* The index: where each user's section is and in which block each body
 * of this file starts (offsets from the file's start), and the bodies
 * the file relies on from its ancestors (so an incremental export knows
 * what the chain already holds without reading it). */
struct wire_backup_index_user {
	char	*name;
	uint64_t user_off;		/* its USER frame */
	uint64_t changes_off;		/* its first CHANGES (or USER_END) */
	uint64_t end_off;		/* its USER_END frame */
};
struct wire_backup_index_body {
	struct mail_guid hash;
	uint64_t block_off;		/* 0 for an inherited body */
};
struct wire_backup_index {
	struct wire_backup_index_user *users;
	size_t	 n_users, cap_users;
	struct wire_backup_index_body *bodies;	/* own, then inherited */
	size_t	 n_bodies, cap_bodies;
};
/* Append INDEX payloads to out, each at most about max bytes, calling
 * emit for each (out is reset before each). */
int	wire_backup_index_encode(const struct wire_backup_index *ix,
	    size_t max, int (*emit)(void *ctx, const struct mail_buf *payload,
	    struct mail_err *err), void *ctx, struct mail_err *err)
	    WARN_UNUSED;
/* Decode one INDEX payload, appending to ix. */
int	wire_backup_index_decode(const uint8_t *p, size_t n,
	    struct wire_backup_index *ix, struct mail_err *err) WARN_UNUSED;
/* Sort the bodies by hash for wire_backup_index_find. */
void	wire_backup_index_sort(struct wire_backup_index *ix);
const struct wire_backup_index_body *wire_backup_index_find(
	    const struct wire_backup_index *ix, const struct mail_guid *hash);
void	wire_backup_index_free(struct wire_backup_index *ix);

/* TRAILER: a frame of fixed size at the end of the file. digest is the
 * XXH3-64 of the checksums of every frame before it, in order, so a
 * missing, repeated or reordered frame shows. */
struct wire_backup_trailer {
	uint64_t index_off;
	uint64_t n_frames;
	uint64_t digest;
};
#define WIRE_BACKUP_TRAILER_LEN	(1 + 1 + 32 + 8)	/* the whole frame */
void	wire_backup_trailer_encode(const struct wire_backup_trailer *t,
	    struct mail_buf *out);
/* Decode the last WIRE_BACKUP_TRAILER_LEN bytes of a file (the frame,
 * checksum included). */
int	wire_backup_trailer_decode(const uint8_t *p, size_t n,
	    struct wire_backup_trailer *t, struct mail_err *err) WARN_UNUSED;

/* The running digest of frame checksums. */
struct wire_backup_digest {
	uint64_t n_frames;
	uint64_t state;
};
/* Feed one whole encoded frame (as written or read). */
void	wire_backup_digest_add(struct wire_backup_digest *d,
	    const uint8_t *frame, size_t len);

#endif
