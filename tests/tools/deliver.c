/*
 * deliver.c: a delivery agent for benchmarks that must deliver faster
 * than one `dsync save` process per message allows on a small machine
 * (each costs ~3 ms of CPU, mostly exec and startup). It stays running and
 * saves, for each "USER FILE" line on stdin, FILE into USER's INBOX with
 * exactly what `dsync save` does (one transaction, fsynced before the
 * answer), and prints the same "uid N guid HEX" line (or "error WHAT").
 *
 *   deliver STORE < lines
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail_ops.h"
#include "mail_store.h"

#define DELIVER_USERS_MAX	4096

struct deliver {
	struct mail_store *store;
	char	*names[DELIVER_USERS_MAX];
	struct mail_user *users[DELIVER_USERS_MAX];
	size_t	 n;
};

static struct mail_user *
user_get(struct deliver *d, const char *name, struct mail_err *err)
{
	for (size_t i = 0; i < d->n; i++) {
		if (strcmp(d->names[i], name) == 0)
			return d->users[i];
	}
	if (d->n == DELIVER_USERS_MAX) {
		mail_err_set(err, MAIL_ERR_LIMIT, "more than %d users",
		    DELIVER_USERS_MAX);
		return NULL;
	}
	if (mail_user_open(d->store, name, false, &d->users[d->n], err) < 0)
		return NULL;
	d->names[d->n] = mail_xstrdup(name);
	return d->users[d->n++];
}

static int
save_one(struct deliver *d, const char *user, const char *path,
    uint32_t *uid_r, struct mail_guid *guid_r, struct mail_err *err)
{
	struct mail_buf msg = MAIL_BUF_INIT;
	struct mail_save_opts so;
	struct mail_flag_list flags;
	struct mail_user *u;
	struct mail_txn *t = NULL;
	struct mail_mailbox *mb;
	int ret = -1;

	memset(&so, 0, sizeof(so));
	memset(&flags, 0, sizeof(flags));
	so.flags = &flags;
	if ((u = user_get(d, user, err)) == NULL ||
	    mail_fs_read_file(mail_fs_posix(), path, &msg, 64 << 20, err) < 0 ||
	    mail_txn_begin(u, &t, err) < 0)
		goto out;
	mb = mail_state_mailbox_by_name(mail_user_state(u), "INBOX");
	if (mb == NULL) {
		mail_err_set(err, MAIL_ERR_NOTFOUND, "no INBOX for '%s'", user);
		goto out;
	}
	if (mail_op_save(t, mb, msg.data, msg.len, &so, uid_r, guid_r,
	    err) < 0 || mail_txn_commit(&t, err) < 0)
		goto out;
	ret = 0;
out:
	mail_txn_rollback(&t);
	mail_buf_free(&msg);
	return ret;
}

int
main(int argc, char **argv)
{
	struct deliver d;
	struct mail_err err;
	char line[8192];

	if (argc != 2) {
		fprintf(stderr, "usage: deliver STORE < 'USER FILE' lines\n");
		return 2;
	}
	memset(&d, 0, sizeof(d));
	if (mail_store_open(argv[1], NULL, &d.store, &err) < 0) {
		fprintf(stderr, "deliver: %s\n", err.msg);
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		char *sp = strchr(line, ' '), *nl = strchr(line, '\n');
		char hex[MAIL_GUID_HEX];
		struct mail_guid guid;
		uint32_t uid;

		if (sp == NULL || nl == NULL) {
			printf("error malformed line\n");
			continue;
		}
		*sp = '\0';
		*nl = '\0';
		if (save_one(&d, line, sp + 1, &uid, &guid, &err) < 0)
			printf("error %s\n", err.msg);
		else
			printf("uid %u guid %s\n", uid,
			    mail_guid_to_hex(&guid, hex));
	}
	for (size_t i = 0; i < d.n; i++) {
		mail_user_close(&d.users[i]);
		free(d.names[i]);
	}
	mail_store_close(&d.store);
	return 0;
}
