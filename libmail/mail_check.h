/*
 * mail_check.h: verifying a store, and repairing what can be repaired.
 */
#ifndef MAIL_CHECK_H
#define MAIL_CHECK_H

#include "mail_store.h"

struct mail_check_result {
	uint64_t users, mailboxes, messages;
	uint64_t problems;	/* damage found (and not repaired) */
	uint64_t repaired;	/* damage repaired */
	struct mail_buf report;	/* one line per finding */
};

/* Check every user of the store: log framing and records, modseq order,
 * the snapshot against a replay of the log, and every message body
 * against its hash. With repair: cut torn tails, salvage damaged logs
 * (dropping only the damaged transactions), rewrite snapshots, reindex
 * bodies, remove leftovers of interrupted user creation or deletion.
 * Returns 0 when the check ran (see res->problems), -1 when it could not
 * run. Free res->report with mail_buf_free. */
int	mail_store_check(struct mail_store *store, bool repair,
	    struct mail_check_result *res, struct mail_err *err) WARN_UNUSED;

#endif
