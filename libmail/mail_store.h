/*
 * mail_store.h: a store directory, its users, and write transactions.
 *
 * Layout of a store:
 *   dsync-store          "dsync-store 1", "node_id HEX", "compress N"
 *   blobs/               message bodies (mail_blob.h)
 *   users/NAME/log       the user's change log (mail_log.h)
 *   users/NAME/index     snapshot of the state (mail_snapshot.h), a cache
 *   users/NAME/lock      flock()ed by writers
 *   users/.public/       the public namespace, owned by no user
 *
 * Several processes may use a store at once. Readers take no lock: they
 * load the snapshot and replay the log tail up to the last complete
 * transaction. Writers of one user are serialized by the user's lock; the
 * blob store has its own lock.
 */
#ifndef MAIL_STORE_H
#define MAIL_STORE_H

#include "mail_state.h"
#include "mail_blob.h"
#include "mail_fs.h"

#define MAIL_STORE_VERSION	1
#define MAIL_PUBLIC_USER	".public"

struct mail_store;
struct mail_user;
struct mail_txn;

/* Create a new store at path (the directory may exist but must not hold a
 * store). Returns 0, or -1 (MAIL_ERR_EXISTS if a store is there). */
int	mail_store_init(const char *path, int compress_level,
	    struct mail_err *err) WARN_UNUSED;
/* Open the store at path. fs may be NULL for the real filesystem.
 * Returns 0 and sets *store_r (close with mail_store_close), or -1. */
int	mail_store_open(const char *path, const struct mail_fs *fs,
	    struct mail_store **store_r, struct mail_err *err) WARN_UNUSED;
void	mail_store_close(struct mail_store **storep);
uint64_t mail_store_node_id(const struct mail_store *store);
const char *mail_store_path(const struct mail_store *store);
struct mail_blobs *mail_store_blobs(struct mail_store *store);
const struct mail_fs *mail_store_fs(const struct mail_store *store);
/* How long writers wait for a lock before MAIL_ERR_TEMP (default 30 s). */
void	mail_store_set_lock_timeout(struct mail_store *store, int ms);

/* Add a user with an empty INBOX. MAIL_ERR_EXISTS if present. */
int	mail_store_user_add(struct mail_store *store, const char *name,
	    struct mail_err *err) WARN_UNUSED;
/* Delete a user and all their mail (bodies shared with others stay). */
int	mail_store_user_del(struct mail_store *store, const char *name,
	    struct mail_err *err) WARN_UNUSED;
/* The users, sorted; *names_r is a malloc'ed array of malloc'ed strings.
 * The internal public-namespace owner is not listed. */
int	mail_store_user_list(struct mail_store *store, char ***names_r,
	    size_t *n_r, struct mail_err *err) WARN_UNUSED;
void	mail_store_user_list_free(char **names, size_t n);

/* Load a user's state. MAIL_ERR_NOTFOUND for an unknown user. With
 * create (only for MAIL_PUBLIC_USER) the user is created if missing. */
int	mail_user_open(struct mail_store *store, const char *name, bool create,
	    struct mail_user **user_r, struct mail_err *err) WARN_UNUSED;
void	mail_user_close(struct mail_user **userp);
const char *mail_user_name(const struct mail_user *user);
struct mail_store *mail_user_store(const struct mail_user *user);
/* The current state. Borrowed; valid until the next refresh, transaction
 * operation or close. */
struct mail_state *mail_user_state(const struct mail_user *user);
/* Apply log records written by others since the last load. */
int	mail_user_refresh(struct mail_user *user, struct mail_err *err)
	    WARN_UNUSED;
const char *mail_user_log_path(const struct mail_user *user);
/* Offset just after the last transaction applied to the state. */
uint64_t mail_user_log_end(const struct mail_user *user);
/* Rebuild the state from the whole log, ignoring the snapshot, and
 * optionally rewrite the snapshot. */
int	mail_user_rebuild(struct mail_user *user, bool write_snapshot,
	    struct mail_err *err) WARN_UNUSED;

/* Begin a write transaction: takes the user's lock (waiting up to the
 * store's lock timeout, then MAIL_ERR_TEMP) and refreshes the state.
 * Refuses (MAIL_ERR_CORRUPT) when the log is damaged other than at its
 * tail. */
int	mail_txn_begin(struct mail_user *user, struct mail_txn **txn_r,
	    struct mail_err *err) WARN_UNUSED;
/* Add a record to the transaction and apply it to the user's state at
 * once (so later steps of the transaction see it). modseq, node and hlc
 * are filled in unless rec->node is set (a change replicated from
 * elsewhere, which keeps its origin). */
int	mail_txn_add(struct mail_txn *txn, struct mail_rec *rec,
	    struct mail_err *err) WARN_UNUSED;
/* Store a body in the blob store as part of this transaction; the body is
 * durable before the log records that refer to it. Sets *hash_r. */
int	mail_txn_put_body(struct mail_txn *txn, const void *data, size_t len,
	    struct mail_guid *hash_r, struct mail_err *err) WARN_UNUSED;
/* The HLC time the next record will get: above every clock the state
 * holds (mail_state.hlc), those from other nodes included, so that a
 * local change always wins last-writer-wins against what is here. */
uint64_t mail_txn_next_hlc(struct mail_txn *txn);
/* The modseq of this transaction. */
uint64_t mail_txn_modseq(const struct mail_txn *txn);
struct mail_user *mail_txn_user(const struct mail_txn *txn);
/* Make the transaction durable (bodies, then log, each fsynced), release
 * the lock and free it. On failure nothing of it is visible and the
 * user's state is reloaded from disk. Sets *txnp = NULL either way. */
int	mail_txn_commit(struct mail_txn **txnp, struct mail_err *err)
	    WARN_UNUSED;
/* Drop the transaction: nothing is written; the state is reloaded. */
void	mail_txn_rollback(struct mail_txn **txnp);

#endif
