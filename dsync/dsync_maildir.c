/*
 * dsync_maildir.c: `dsync -u USER import maildir DIR` and `export maildir
 * DIR`, moving a user between a Maildir++ tree (as Dovecot keeps it) and
 * the store. File formats are in mail_maildir.h.
 *
 * Import keeps what IMAP clients have cached, so that a migrated user's
 * clients need not download anything again: each folder's UIDVALIDITY,
 * mailbox GUID and NEXTUID and each message's UID come from its
 * dovecot-uidlist. Messages the uidlist does not name (delivered since
 * Dovecot last looked) get UIDs from NEXTUID on, in file name order, as
 * Dovecot would give them. Flags come from the file names, keywords from
 * dovecot-keywords, the internal date from the file's mtime and the save
 * date from its ctime (both as Dovecot's maildir driver reports them),
 * the body byte for byte. A message GUID is the uidlist's G field when
 * that is 32 hex digits; otherwise it is the XXH3-128 hash of Dovecot's
 * GUID for the message, which is the G field or else the file's base
 * name. So importing the same tree twice, or on two nodes, gives the
 * same GUIDs.
 *
 * What happens to a folder depends on its mailbox in the store:
 *   - missing, or never used (no message ever, no metadata or ACL; a new
 *     user's INBOX): created (an unused one replaced) with the uidlist's
 *     UIDVALIDITY and GUID; every message keeps its UID;
 *   - used, with the uidlist's UIDVALIDITY (an earlier import of this
 *     tree): messages with a UID at or above the mailbox's UIDNEXT are
 *     added with their UID. A UID below it was imported before: if the
 *     message is still here under its GUID only its flags are brought up
 *     to date, if not it was expunged here and stays so. Messages not in
 *     the uidlist are added unless their GUID is already in the mailbox;
 *   - used, with another UIDVALIDITY or no uidlist: messages whose GUID is
 *     not yet in the mailbox are appended with new UIDs; the mailbox's
 *     UIDVALIDITY stays.
 * This makes an import restartable: after a failure (an unreadable file,
 * a full disk) running it again adds only what is missing, and running it
 * again shortly before the cut-over picks up the latest mail.
 *
 * Everything but the message bodies (folder names, dovecot-uidlist,
 * dovecot-keywords, subscriptions) is read and checked before the first
 * write, so bad metadata stores nothing at all. Bodies go to the store in
 * transactions of IMPORT_BATCH_MSGS messages: the blob store and the log
 * are fsynced once per batch, not once per message.
 *
 * Security: DIR usually belongs to the user being migrated, and import
 * runs as the store's owner. Symbolic links below DIR are never followed
 * (O_NOFOLLOW) and only regular files are read, so a planted link can not
 * copy someone else's files into the user's mailbox.
 *
 * Export writes a Maildir++ tree that Dovecot reads as it is: cur/ files
 * named TIME.M<uid>P<pid>.HOST,S=SIZE,W=VSIZE:2,FLAGS with mtime = the
 * internal date, and per folder dovecot-uidlist (version 3, with G<guid>
 * so Dovecot and a later import keep our GUIDs), dovecot-keywords and
 * dsync-mailbox ("special-use X" and "private-flags X" lines, "-" for
 * none; Dovecot ignores the file, import honors it over the name rule).
 * Message files are written in full and synced once per folder with
 * syncfs() before the uidlist that names them is renamed into place, so
 * a crash never leaves a uidlist naming a missing file.
 *
 * These files talk to the host filesystem of the Maildir, not the store,
 * so they use openat() and friends directly instead of mail_fs_ops.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>

#include "dsync_cli.h"
#include "mail_maildir.h"
#include "mail_name.h"

/* Messages per import transaction: enough to amortize the fsyncs of a
 * commit (segment, index shards, log), few enough that deliveries
 * waiting for the user's lock wait seconds, not minutes. */
#define IMPORT_BATCH_MSGS	5000
#define IMPORT_BATCH_BYTES	((uint64_t)256 * 1024 * 1024)
#define META_FILE_MAX		(16 * 1024 * 1024) /* keywords, subs, ... */
#define SUBS_MAX		100000
#define DSYNC_MAILBOX_FILE	"dsync-mailbox"

/* ---- import: scanning ---- */

struct imp_msg {
	char	*name;		/* file name (malloc'ed) */
	bool	 in_new;	/* in new/, else cur/ */
	size_t	 base_len;
	uint16_t flags;
	uint32_t letters;	/* keyword letter bits from the name */
	const struct mail_maildir_uidlist_rec *rec; /* NULL: not listed */
	bool	 append;	/* import: save with a new UID, after NEXTUID */
};

struct imp_folder {
	char	*dir;		/* "." for the root (INBOX), else ".A.B" */
	char	*name;		/* mailbox name, normalized */
	struct mail_buf uidlist_data;	/* the bytes ul points into */
	struct mail_maildir_uidlist ul;
	bool	 has_uidlist;
	struct mail_maildir_keywords kw;
	char	*special_use;	/* "" for none */
	char	*pvt_flags;	/* NULL: leave the default */
	struct imp_msg *msgs;
	size_t	 n_msgs, cap_msgs;
};

struct imp {
	const char *root;
	int	 root_fd;
	struct imp_folder *folders;
	size_t	 n_folders, cap_folders;
	char	**subs;
	size_t	 n_subs;
	struct mail_user *user;
	struct mail_txn *txn;
	size_t	 txn_msgs;
	uint64_t txn_bytes;
	uint64_t committed;	/* messages in committed batches */
	uint64_t n_imported, n_skipped, n_updated;
	struct mail_buf body;
};

/* Names that get a special-use attribute when no dsync-mailbox file
 * says otherwise (RFC 6154; the spellings common clients create). */
static const struct {
	const char *name, *use;
} imp_special_names[] = {
	{ "Sent", "\\Sent" },
	{ "Sent Items", "\\Sent" },
	{ "Sent Messages", "\\Sent" },
	{ "Drafts", "\\Drafts" },
	{ "Trash", "\\Trash" },
	{ "Deleted Items", "\\Trash" },
	{ "Deleted Messages", "\\Trash" },
	{ "Junk", "\\Junk" },
	{ "Spam", "\\Junk" },
	{ "Archive", "\\Archive" },
	{ "Archives", "\\Archive" },
};

static void
imp_warn(const char *fmt, ...) PRINTF_LIKE(1, 2);

static void
imp_warn(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "dsync: warning: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* "DIR/sub/name" for messages; sub and name may be NULL. Caller frees. */
static char *
imp_path(const struct imp *im, const struct imp_folder *f, const char *sub,
    const char *name)
{
	return mail_xasprintf("%s%s%s%s%s%s%s", im->root,
	    strcmp(f->dir, ".") == 0 ? "" : "/",
	    strcmp(f->dir, ".") == 0 ? "" : f->dir, sub != NULL ? "/" : "",
	    sub != NULL ? sub : "", name != NULL ? "/" : "",
	    name != NULL ? name : "");
}

/* Open a directory below dfd without following a symbolic link. Returns
 * the fd, or -1 with errno set. */
static int
imp_opendir_at(int dfd, const char *name)
{
	return openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
}

/* An openat(O_NOFOLLOW) failure: ELOOP there means a symbolic link,
 * which "too many levels of symbolic links" would not tell an operator. */
static int
imp_open_error(struct mail_err *err, const char *path)
{
	if (errno == ELOOP)
		return mail_err_set(err, MAIL_ERR_PERM,
		    "'%s' is a symbolic link, which import does not follow",
		    path);
	return mail_err_sys(err, errno, "open '%s'", path);
}

/* Read the whole regular file name in dfd into out (appended). Sets
 * *exists_r false (and returns 0) if it does not exist. */
/* Read the regular file open at fd (named path in errors), at most max
 * bytes, into out (appended); *st_r gets its stat. A file that shrinks
 * while read is taken as it is when shrink_ok, else MAIL_ERR_TEMP. */
static int
imp_read_fd(int fd, const char *path, size_t max, struct mail_buf *out,
    struct stat *st_r, bool shrink_ok, struct mail_err *err)
{
	size_t got = 0;

	if (fstat(fd, st_r) < 0)
		return mail_err_sys(err, errno, "stat '%s'", path);
	if (!S_ISREG(st_r->st_mode))
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "'%s' is not a regular file", path);
	if ((uint64_t)st_r->st_size > max)
		return mail_err_set(err, MAIL_ERR_LIMIT,
		    "'%s' is over %zu bytes", path, max);
	/* one read for the whole file in the usual case; the size from
	 * fstat() is a hint: the file may change under us (Dovecot still
	 * running) */
	mail_buf_reserve(out, (size_t)st_r->st_size + 1);
	while (got < (size_t)st_r->st_size) {
		ssize_t r = pread(fd, out->data + out->len + got,
		    (size_t)st_r->st_size - got, (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return mail_err_sys(err, errno, "read '%s'", path);
		if (r == 0) {
			if (shrink_ok)
				break;	/* take what is there */
			return mail_err_set(err, MAIL_ERR_TEMP,
			    "'%s' shrank while read", path);
		}
		got += (size_t)r;
	}
	out->len += got;
	out->data[out->len] = '\0';
	return 0;
}

static int
imp_read_file(int dfd, const char *name, const char *path, size_t max,
    struct mail_buf *out, bool *exists_r, struct mail_err *err)
{
	struct stat st;
	int fd, ret;

	*exists_r = true;
	if ((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (errno == ENOENT) {
			*exists_r = false;
			return 0;
		}
		return imp_open_error(err, path);
	}
	ret = imp_read_fd(fd, path, max, out, &st, true, err);
	close(fd);
	return ret;
}

/* The special-use for a mailbox name by convention; "" for none. */
static const char *
imp_special_use_by_name(const char *name)
{
	for (size_t i = 0; i < N_ELEMENTS(imp_special_names); i++) {
		if (strcasecmp(name, imp_special_names[i].name) == 0)
			return imp_special_names[i].use;
	}
	return "";
}

/* Our own per-folder file written by export: "special-use X" and
 * "private-flags X..." lines, "-" for none. Unknown keys are ignored so
 * that later versions may add some. */
static int
imp_parse_dsync_mailbox(struct imp_folder *f, const struct mail_buf *b,
    const char *path, struct mail_err *err)
{
	const char *s = (const char *)b->data;
	size_t p = 0;

	if (b->len > 0 && memchr(s, '\0', b->len) != NULL)
		return mail_err_set(err, MAIL_ERR_CORRUPT,
		    "'%s' holds a NUL byte", path);
	while (p < b->len) {
		const char *nl = memchr(s + p, '\n', b->len - p);
		size_t end = nl != NULL ? (size_t)(nl - s) : b->len;
		char *line = mail_xstrndup(s + p, end - p);
		char *sp = strchr(line, ' ');
		const char *val = sp != NULL ? sp + 1 : "";
		char **dst = NULL;

		if (sp != NULL)
			*sp = '\0';
		if (strcmp(line, "special-use") == 0)
			dst = &f->special_use;
		else if (strcmp(line, "private-flags") == 0)
			dst = &f->pvt_flags;
		if (dst != NULL) {
			/* checked when applied, by mail_op_mailbox_set() */
			free(*dst);
			*dst = mail_xstrdup(strcmp(val, "-") == 0 ? "" : val);
		}
		free(line);
		p = end + 1;
	}
	return 0;
}

static int
imp_cmp_msg(const void *a, const void *b)
{
	const struct imp_msg *x = a, *y = b;
	size_t n;
	int c;

	/* listed messages first, in UID order, as they must be saved */
	if ((x->rec != NULL) != (y->rec != NULL))
		return x->rec != NULL ? -1 : 1;
	if (x->rec != NULL && x->rec->uid != y->rec->uid)
		return x->rec->uid < y->rec->uid ? -1 : 1;
	/* the rest in base name order, which for Maildir is the delivery
	 * order (names start with the time), as Dovecot assigns UIDs */
	n = x->base_len < y->base_len ? x->base_len : y->base_len;
	if ((c = memcmp(x->name, y->name, n)) != 0)
		return c;
	if (x->base_len != y->base_len)
		return x->base_len < y->base_len ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* List cur/ or new/ of folder f (open as dfd) into f->msgs. A missing
 * directory is empty. */
static int
imp_list_sub(struct imp *im, struct imp_folder *f, int dfd, bool is_new,
    struct mail_err *err)
{
	const char *sub = is_new ? "new" : "cur";
	char *path = imp_path(im, f, sub, NULL);
	struct dirent *de;
	DIR *d = NULL;
	int fd, ret = -1;

	if ((fd = imp_opendir_at(dfd, sub)) < 0) {
		if (errno == ENOENT)
			ret = 0;
		else
			mail_err_sys(err, errno, "open '%s'", path);
		goto out;
	}
	if ((d = fdopendir(fd)) == NULL) {
		mail_err_sys(err, errno, "open '%s'", path);
		close(fd);
		goto out;
	}
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		struct mail_maildir_name mn;
		struct imp_msg *m;

		/* dot files are not messages (Maildir spec, Dovecot), and
		 * "." and ".." are dot files too. Only names are read here;
		 * whether an entry is a regular file is checked when it is
		 * opened, which saves a stat() per message. */
		if (de->d_name[0] == '.') {
			errno = 0;
			continue;
		}
		if (mail_maildir_name_parse(de->d_name, strlen(de->d_name),
		    &mn, err) < 0) {
			mail_err_prefix(err, "'%s'", path);
			goto out;
		}
		f->msgs = mail_xgrow(f->msgs, &f->cap_msgs, f->n_msgs + 1,
		    sizeof(*f->msgs));
		m = &f->msgs[f->n_msgs++];
		memset(m, 0, sizeof(*m));
		m->name = mail_xstrdup(de->d_name);
		m->in_new = is_new;
		m->base_len = mn.base_len;
		m->flags = mn.flags;
		m->letters = mn.keywords;
		/* the uidlist names files by base, so a file renamed for a
		 * flag change since keeps its UID */
		if (f->has_uidlist)
			m->rec = mail_maildir_uidlist_find(&f->ul, m->name,
			    m->base_len);
		errno = 0;
	}
	if (errno != 0) {
		mail_err_sys(err, errno, "read directory '%s'", path);
		goto out;
	}
	ret = 0;
out:
	if (d != NULL)
		closedir(d);
	free(path);
	return ret;
}

/* Read everything about folder dir except the bodies. */
static int
imp_scan_folder(struct imp *im, const char *dir, const char *name,
    struct mail_err *err)
{
	struct imp_folder *f;
	struct mail_buf b = MAIL_BUF_INIT;
	char *path = NULL;
	bool exists;
	int fd = -1, ret = -1;

	im->folders = mail_xgrow(im->folders, &im->cap_folders,
	    im->n_folders + 1, sizeof(*im->folders));
	f = &im->folders[im->n_folders++];
	memset(f, 0, sizeof(*f));
	f->dir = mail_xstrdup(dir);
	f->name = mail_xstrdup(name);
	if ((fd = imp_opendir_at(im->root_fd, dir)) < 0) {
		path = imp_path(im, f, NULL, NULL);
		mail_err_sys(err, errno, "open '%s'", path);
		goto out;
	}

	path = imp_path(im, f, "dovecot-uidlist", NULL);
	if (imp_read_file(fd, "dovecot-uidlist", path, MAIL_MAILDIR_FILE_MAX,
	    &f->uidlist_data, &exists, err) < 0)
		goto out;
	if (exists) {
		if (mail_maildir_uidlist_parse(f->uidlist_data.data,
		    f->uidlist_data.len, &f->ul, err) < 0) {
			mail_err_prefix(err, "'%s'", path);
			goto out;
		}
		f->has_uidlist = true;
	}
	free(path);

	path = imp_path(im, f, "dovecot-keywords", NULL);
	if (imp_read_file(fd, "dovecot-keywords", path, META_FILE_MAX, &b,
	    &exists, err) < 0)
		goto out;
	if (exists && mail_maildir_keywords_parse(b.data, b.len, &f->kw,
	    err) < 0) {
		mail_err_prefix(err, "'%s'", path);
		goto out;
	}
	free(path);

	/* special-use by name applies to top-level folders only: "Lists/
	 * Sent" is some list's archive, not where the client saves */
	mail_buf_reset(&b);
	f->special_use = mail_xstrdup(strchr(name, '/') == NULL ?
	    imp_special_use_by_name(name) : "");
	path = imp_path(im, f, DSYNC_MAILBOX_FILE, NULL);
	if (imp_read_file(fd, DSYNC_MAILBOX_FILE, path, META_FILE_MAX, &b,
	    &exists, err) < 0)
		goto out;
	if (exists && imp_parse_dsync_mailbox(f, &b, path, err) < 0)
		goto out;

	if (imp_list_sub(im, f, fd, false, err) < 0 ||
	    imp_list_sub(im, f, fd, true, err) < 0)
		goto out;
	free(path);
	path = imp_path(im, f, NULL, NULL);
	/* a uidlist line belongs to one file; a second file with the same
	 * base name (a botched restore) is treated as unlisted */
	if (f->n_msgs < 2) {
		ret = 0;	/* qsort() must not see the NULL of no messages */
		goto out;
	}
	mail_qsort(f->msgs, f->n_msgs, sizeof(*f->msgs), imp_cmp_msg);
	for (size_t i = 1; i < f->n_msgs; i++) {
		if (f->msgs[i].rec != NULL &&
		    f->msgs[i].rec == f->msgs[i - 1].rec) {
			imp_warn("'%s' has two files named '%.*s'; the second "
			    "gets a new UID", path, (int)f->msgs[i].base_len,
			    f->msgs[i].name);
			f->msgs[i].rec = NULL;
		}
	}
	mail_qsort(f->msgs, f->n_msgs, sizeof(*f->msgs), imp_cmp_msg);
	ret = 0;
out:
	if (fd != -1)
		close(fd);
	mail_buf_free(&b);
	free(path);
	return ret;
}

static int
imp_cmp_folder(const void *a, const void *b)
{
	return strcmp(((const struct imp_folder *)a)->name,
	    ((const struct imp_folder *)b)->name);
}

/* Find the folders: the root is INBOX, every ".NAME" directory a folder. */
static int
imp_scan(struct imp *im, struct mail_err *err)
{
	struct mail_buf name = MAIL_BUF_INIT, b = MAIL_BUF_INIT;
	struct dirent *de;
	struct stat st;
	DIR *d = NULL;
	char *path;
	bool exists;
	size_t skipped;
	int fd, ret = -1;

	/* every Maildir has cur/ (new/ and tmp/ may be missing after a
	 * careless copy); without it DIR is most likely a typo, and an
	 * import of "nothing" would look like success */
	if (fstatat(im->root_fd, "cur", &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISDIR(st.st_mode))
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "'%s' is not a Maildir: it has no cur/ directory",
		    im->root);
	if (imp_scan_folder(im, ".", "INBOX", err) < 0)
		return -1;
	if ((fd = dup(im->root_fd)) < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return mail_err_sys(err, errno, "open '%s'", im->root);
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		char *norm;
		int r;

		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(im->root_fd, de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			continue;	/* a file, or a link we never follow */
		mail_buf_reset(&name);
		if (mail_maildir_folder_to_name(de->d_name, strlen(de->d_name),
		    &name, err) < 0 ||
		    mail_mailbox_name_check((const char *)name.data, err) < 0) {
			mail_err_prefix(err, "'%s/%s'", im->root, de->d_name);
			goto out;
		}
		/* ".INBOX" would be a second INBOX beside the root; with a
		 * Courier-style "INBOX." namespace the folders are stored
		 * without the prefix, so this is a damaged tree */
		norm = mail_mailbox_name_normalize((const char *)name.data);
		if (strcmp(norm, "INBOX") == 0) {
			free(norm);
			mail_err_set(err, MAIL_ERR_PARAM,
			    "'%s/%s' would be INBOX, which is the Maildir's root",
			    im->root, de->d_name);
			goto out;
		}
		r = imp_scan_folder(im, de->d_name, norm, err);
		free(norm);
		if (r < 0)
			goto out;
	}
	if (errno != 0) {
		mail_err_sys(err, errno, "read directory '%s'", im->root);
		goto out;
	}
	/* sorted, so the import's order (and its output on failure) does
	 * not depend on readdir(); ".A&AOQ-" and ".Aä" (UTF-8) both decode
	 * to "Aä" and would merge silently, so duplicates are errors */
	mail_qsort(im->folders, im->n_folders, sizeof(*im->folders),
	    imp_cmp_folder);
	for (size_t i = 1; i < im->n_folders; i++) {
		if (strcmp(im->folders[i].name, im->folders[i - 1].name) == 0) {
			mail_err_set(err, MAIL_ERR_PARAM, "folders '%s' and "
			    "'%s' in '%s' are both mailbox '%s'",
			    im->folders[i - 1].dir, im->folders[i].dir,
			    im->root, im->folders[i].name);
			goto out;
		}
	}
	path = mail_xasprintf("%s/subscriptions", im->root);
	if (imp_read_file(im->root_fd, "subscriptions", path, META_FILE_MAX,
	    &b, &exists, err) < 0) {
		free(path);
		goto out;
	}
	if (exists && mail_maildir_subscriptions_parse(b.data, b.len,
	    SUBS_MAX, &im->subs, &im->n_subs, &skipped, err) < 0) {
		mail_err_prefix(err, "'%s'", path);
		free(path);
		goto out;
	}
	if (exists && skipped > 0)
		imp_warn("'%s': %zu lines that name no valid mailbox ignored",
		    path, skipped);
	free(path);
	ret = 0;
out:
	if (d != NULL)
		closedir(d);
	mail_buf_free(&name);
	mail_buf_free(&b);
	return ret;
}

static void
imp_free(struct imp *im)
{
	for (size_t i = 0; i < im->n_folders; i++) {
		struct imp_folder *f = &im->folders[i];

		for (size_t k = 0; k < f->n_msgs; k++)
			free(f->msgs[k].name);
		free(f->msgs);
		mail_maildir_uidlist_free(&f->ul);
		mail_buf_free(&f->uidlist_data);
		mail_maildir_keywords_free(&f->kw);
		free(f->dir);
		free(f->name);
		free(f->special_use);
		free(f->pvt_flags);
	}
	free(im->folders);
	mail_maildir_names_free(im->subs, im->n_subs);
	mail_buf_free(&im->body);
	if (im->root_fd != -1)
		close(im->root_fd);
}

/* ---- import: storing ---- */

/* A set of message GUIDs (open addressing; GUIDs are random or hashes,
 * so their first bytes are a good hash). */
struct imp_guidset {
	struct mail_guid *v;
	bool	*used;
	size_t	 cap, n;
};

static void
imp_guidset_add(struct imp_guidset *s, const struct mail_guid *g);

static bool
imp_guidset_has(const struct imp_guidset *s, const struct mail_guid *g)
{
	size_t i;

	if (s->cap == 0)
		return false;
	i = (size_t)mail_get_le64(g->b) & (s->cap - 1);
	while (s->used[i]) {
		if (mail_guid_cmp(&s->v[i], g) == 0)
			return true;
		i = (i + 1) & (s->cap - 1);
	}
	return false;
}

static void
imp_guidset_grow(struct imp_guidset *s)
{
	struct imp_guidset old = *s;

	s->cap = old.cap == 0 ? 64 : old.cap * 2;
	s->v = mail_xcalloc(s->cap, sizeof(*s->v));
	s->used = mail_xcalloc(s->cap, sizeof(*s->used));
	s->n = 0;
	for (size_t i = 0; i < old.cap; i++) {
		if (old.used[i])
			imp_guidset_add(s, &old.v[i]);
	}
	free(old.v);
	free(old.used);
}

static void
imp_guidset_add(struct imp_guidset *s, const struct mail_guid *g)
{
	size_t i;

	if (2 * (s->n + 1) > s->cap)
		imp_guidset_grow(s);
	i = (size_t)mail_get_le64(g->b) & (s->cap - 1);
	while (s->used[i]) {
		if (mail_guid_cmp(&s->v[i], g) == 0)
			return;
		i = (i + 1) & (s->cap - 1);
	}
	s->used[i] = true;
	s->v[i] = *g;
	s->n++;
}

static void
imp_guidset_free(struct imp_guidset *s)
{
	free(s->v);
	free(s->used);
	memset(s, 0, sizeof(*s));
}

/* The message's GUID (see the top of the file). */
static void
imp_msg_guid(const struct imp_msg *m, struct mail_guid *g)
{
	const struct mail_maildir_uidlist_rec *r = m->rec;

	if (r != NULL && r->guid != NULL) {
		char hex[MAIL_GUID_HEX];

		if (r->guid_len == MAIL_GUID_HEX - 1) {
			memcpy(hex, r->guid, r->guid_len);
			hex[r->guid_len] = '\0';
			if (mail_guid_from_hex(hex, g) == 0)
				return;
		}
		mail_guid_hash(r->guid, r->guid_len, g);
		return;
	}
	mail_guid_hash(m->name, m->base_len, g);
}

/* Keyword names of a message, sorted and unique, from its letters. kw
 * names the folder's keywords by letter; letters without a valid name
 * are dropped (and reported once per folder through *warned). */
static void
imp_msg_keywords(const struct imp *im, const struct imp_folder *f,
    uint32_t letters, struct mail_flag_list *fl, bool *warned)
{
	for (unsigned i = 0; i < MAIL_MAILDIR_KEYWORDS; i++) {
		const char *kw = f->kw.names[i];

		if ((letters & ((uint32_t)1 << i)) == 0)
			continue;
		if (kw == NULL || !mail_keyword_valid(kw)) {
			if (!*warned) {
				char *path = imp_path(im, f, NULL, NULL);

				imp_warn("'%s': keyword letter '%c' has %s in "
				    "dovecot-keywords; dropped", path,
				    'a' + i, kw == NULL ? "no name" :
				    "an invalid name");
				free(path);
				*warned = true;
			}
			continue;
		}
		/* keeps the list sorted and unique, as mail_op_save()
		 * wants; two letters with one name count once */
		mail_flag_list_add_keyword(fl, kw);
	}
}

/* Commit the running batch and start the next; mb is looked up again as
 * the state may have moved. */
static int
imp_next_batch(struct imp *im, const struct mail_guid *mbguid,
    struct mail_mailbox **mb, struct mail_err *err)
{
	/* Between batches the user's lock is free for a moment, so a
	 * delivery waiting for it gets in. mail_txn_begin() then replays
	 * its records into the state: mailboxes may have moved in memory. */
	if (mail_txn_commit(&im->txn, err) < 0)
		return -1;
	im->committed = im->n_imported;
	im->txn_msgs = 0;
	im->txn_bytes = 0;
	if (mail_txn_begin(im->user, &im->txn, err) < 0)
		return -1;
	*mb = mail_state_mailbox_by_guid(mail_user_state(im->user), mbguid);
	if (*mb == NULL)
		return mail_err_set(err, MAIL_ERR_TEMP,
		    "a mailbox was deleted during the import");
	return 0;
}

/* Read one message file and save it to mb as uid (0: the next). */
static int
imp_save(struct imp *im, struct imp_folder *f, int cur_fd, int new_fd,
    struct mail_mailbox *mb, const struct imp_msg *m, uint32_t uid,
    const struct mail_guid *guid, struct mail_flag_list *fl,
    struct mail_err *err)
{
	struct mail_save_opts so;
	struct stat st;
	uint32_t uid_r;
	int fd, ret = -1;
	/* only for messages; a format per file costs little next to the
	 * open and read */
	char *path = imp_path(im, f, m->in_new ? "new" : "cur", m->name);

	fd = openat(m->in_new ? new_fd : cur_fd, m->name,
	    O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		imp_open_error(err, path);
		goto out;
	}
	mail_buf_reset(&im->body);
	if (imp_read_fd(fd, path, MAIL_BLOB_MAX_SIZE, &im->body, &st, false,
	    err) < 0)
		goto out;
	/* Dovecot's maildir driver reports the mtime as INTERNALDATE and the
	 * ctime as the save date (maildir_mail_get_save_date); taking the
	 * same keeps searches like SAVEDBEFORE and autoexpunge the same */
	memset(&so, 0, sizeof(so));
	so.flags = fl;
	so.uid = uid;
	so.guid = guid;
	so.idate = (int64_t)st.st_mtime;
	so.sdate = (int64_t)st.st_ctime;
	so.has_idate = so.has_sdate = true;
	if (mail_op_save(im->txn, mb, im->body.data, im->body.len, &so, &uid_r,
	    NULL, err) < 0)
		goto out;
	im->n_imported++;
	im->txn_msgs++;
	im->txn_bytes += im->body.len;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	free(path);
	return ret;
}

/* Bring the flags and keywords of msg up to date (an earlier import). */
static int
imp_refresh_flags(struct imp *im, struct mail_mailbox *mb,
    const struct mail_msg *msg, const struct mail_flag_list *fl,
    struct mail_err *err)
{
	struct mail_uidset set = MAIL_UIDSET_INIT;
	uint64_t want = 0;
	bool same = msg->flags == fl->flags;
	int ret;

	for (size_t i = 0; i < fl->n_keywords && same; i++) {
		int idx = mail_mailbox_keyword_index(mb, fl->keywords[i]);

		if (idx < 0)
			same = false;
		else
			want |= (uint64_t)1 << idx;
	}
	if (same && want == msg->keywords)
		return 0;	/* no record for what did not change */
	/* REPLACE, as the file name holds the whole flag set; keywords of
	 * the store that Maildir has no letter for are dropped with it */
	mail_uidset_add(&set, msg->uid, msg->uid);
	ret = mail_op_flags(im->txn, mb, &set, MAIL_FLAGS_REPLACE, fl, NULL,
	    err);
	mail_uidset_free(&set);
	if (ret == 0)
		im->n_updated++;
	return ret;
}

enum imp_mode {
	IMP_KEEP,	/* new or unused mailbox: every listed UID kept */
	IMP_MATCH,	/* same UIDVALIDITY: UIDs at or above UIDNEXT kept */
	IMP_APPEND,	/* anything else: new UIDs, GUIDs deduplicated */
};

static int
imp_folder(struct imp *im, struct imp_folder *f, struct mail_err *err)
{
	struct mail_state *st = mail_user_state(im->user);
	struct mail_mailbox *mb = mail_state_mailbox_by_name(st, f->name);
	struct imp_guidset have;
	struct mail_guid mbguid;
	enum imp_mode mode;
	bool kw_warned = false;
	int cur_fd = -1, new_fd = -1, dfd = -1, ret = -1;

	memset(&have, 0, sizeof(have));
	/* the three cases at the top of the file */
	if (mb == NULL || mail_mailbox_unused(mb)) {
		struct mail_mailbox_opts o;

		memset(&o, 0, sizeof(o));
		o.replace_unused = true;
		if (f->has_uidlist) {
			o.uidvalidity = f->ul.uidvalidity;
			o.guid = f->ul.has_guid ? &f->ul.guid : NULL;
		}
		if (mail_op_mailbox_create_with(im->txn, f->name,
		    f->special_use, &o, &mb, err) < 0)
			goto out;
		if (f->pvt_flags != NULL && mail_op_mailbox_set(im->txn, mb,
		    "private-flags", f->pvt_flags, err) < 0)
			goto out;
		mode = IMP_KEEP;
	} else {
		mode = f->has_uidlist && f->ul.uidvalidity == mb->uidvalidity ?
		    IMP_MATCH : IMP_APPEND;
		/* only GUIDs from before this run: two files of one name in
		 * this tree are two messages, not one seen twice */
		for (size_t i = 0; i < mb->n_msgs; i++)
			imp_guidset_add(&have, &mb->msgs[i].guid);
		if (mode == IMP_APPEND && f->has_uidlist)
			imp_warn("mailbox '%s' exists with UIDVALIDITY %u, not "
			    "%u: new messages get new UIDs", f->name,
			    mb->uidvalidity, f->ul.uidvalidity);
	}
	mbguid = mb->guid;
	if ((dfd = imp_opendir_at(im->root_fd, f->dir)) < 0 ||
	    ((cur_fd = imp_opendir_at(dfd, "cur")) < 0 && errno != ENOENT) ||
	    ((new_fd = imp_opendir_at(dfd, "new")) < 0 && errno != ENOENT)) {
		char *path = imp_path(im, f, NULL, NULL);

		mail_err_sys(err, errno, "open '%s'", path);
		free(path);
		goto out;
	}
	/* Pass 1: listed messages that keep their UID (ascending), and in
	 * IMP_MATCH those imported before. Everything else is marked to be
	 * appended in pass 2, after NEXTUID: appending earlier would push
	 * UIDNEXT over UIDs still to come. */
	for (size_t i = 0; i < f->n_msgs; i++) {
		struct imp_msg *m = &f->msgs[i];
		struct mail_flag_list fl;
		struct mail_guid guid;
		const struct mail_msg *old;
		uint32_t uid;
		int r;

		m->append = m->rec == NULL || mode == IMP_APPEND;
		if (m->append)
			continue;
		uid = m->rec->uid;
		old = NULL;
		if (mode == IMP_MATCH && uid < mb->uidnext) {
			old = mail_mailbox_msg(mb, uid);
			if (old == NULL) {
				/* imported before, expunged here since */
				im->n_skipped++;
				continue;
			}
		}
		imp_msg_guid(m, &guid);
		if (old != NULL && mail_guid_cmp(&old->guid, &guid) != 0) {
			/* the UID went to another message here */
			m->append = true;
			continue;
		}
		memset(&fl, 0, sizeof(fl));
		fl.flags = m->flags;
		imp_msg_keywords(im, f, m->letters, &fl, &kw_warned);
		if (old != NULL) {
			r = imp_refresh_flags(im, mb, old, &fl, err);
			im->n_skipped++;
		} else {
			r = imp_save(im, f, cur_fd, new_fd, mb, m, uid, &guid,
			    &fl, err);
		}
		mail_flag_list_free(&fl);
		if (r < 0 || ((im->txn_msgs >= IMPORT_BATCH_MSGS ||
		    im->txn_bytes >= IMPORT_BATCH_BYTES) &&
		    imp_next_batch(im, &mbguid, &mb, err) < 0))
			goto out;
	}
	/* unlisted messages get UIDs from NEXTUID on, as in Dovecot */
	if (f->has_uidlist && mode != IMP_APPEND &&
	    mail_op_mailbox_set_uidnext(im->txn, mb, f->ul.nextuid, err) < 0)
		goto out;
	/* Pass 2: new UIDs, skipping GUIDs the mailbox already had */
	for (size_t i = 0; i < f->n_msgs; i++) {
		struct imp_msg *m = &f->msgs[i];
		struct mail_flag_list fl;
		struct mail_guid guid;
		int r;

		if (!m->append)
			continue;
		imp_msg_guid(m, &guid);
		if (imp_guidset_has(&have, &guid)) {
			im->n_skipped++;
			continue;
		}
		memset(&fl, 0, sizeof(fl));
		fl.flags = m->flags;
		imp_msg_keywords(im, f, m->letters, &fl, &kw_warned);
		r = imp_save(im, f, cur_fd, new_fd, mb, m, 0, &guid, &fl, err);
		mail_flag_list_free(&fl);
		if (r < 0 || ((im->txn_msgs >= IMPORT_BATCH_MSGS ||
		    im->txn_bytes >= IMPORT_BATCH_BYTES) &&
		    imp_next_batch(im, &mbguid, &mb, err) < 0))
			goto out;
	}
	ret = 0;
out:
	if (cur_fd >= 0)
		close(cur_fd);
	if (new_fd >= 0)
		close(new_fd);
	if (dfd >= 0)
		close(dfd);
	imp_guidset_free(&have);
	return ret;
}

int
dsync_maildir_import(struct dsync_ctx *ctx, const char *dir)
{
	struct imp im;
	struct mail_err err;
	int ret = DSYNC_EXIT_ERROR;

	memset(&im, 0, sizeof(im));
	im.root = dir;
	if ((im.root_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		mail_err_sys(&err, errno, "open '%s'", dir);
		goto fail;
	}
	/* all metadata is checked before the store is touched */
	if (imp_scan(&im, &err) < 0 ||
	    mail_user_open(ctx->store, ctx->user, false, &im.user, &err) < 0 ||
	    mail_txn_begin(im.user, &im.txn, &err) < 0)
		goto fail;
	for (size_t i = 0; i < im.n_folders; i++) {
		if (imp_folder(&im, &im.folders[i], &err) < 0)
			goto fail;
	}
	/* subscriptions are added, never removed: the store's own ones
	 * (a re-import, a user already at work) stay */
	for (size_t i = 0; i < im.n_subs; i++) {
		if (!mail_state_subscribed(mail_user_state(im.user),
		    im.subs[i]) && mail_op_subscribe(im.txn, im.subs[i], true,
		    &err) < 0)
			goto fail;
	}
	if (mail_txn_commit(&im.txn, &err) < 0)
		goto fail;
	printf("imported %" PRIu64 " messages into %zu mailboxes\n",
	    im.n_imported, im.n_folders);
	if (im.n_skipped > 0)
		printf("skipped %" PRIu64 " messages already in the store "
		    "(flags updated on %" PRIu64 ")\n", im.n_skipped,
		    im.n_updated);
	ret = 0;
	goto out;
fail:
	if (im.committed > 0) {
		/* one line, as the CLI contract asks */
		fprintf(stderr, "dsync: %s (%" PRIu64 " messages were imported "
		    "before this; running the import again continues)\n",
		    err.msg, im.committed);
		ret = err.code == MAIL_ERR_TEMP ? DSYNC_EXIT_TEMPFAIL :
		    DSYNC_EXIT_ERROR;
	} else {
		ret = dsync_fail(&err);
	}
out:
	mail_txn_rollback(&im.txn);
	mail_user_close(&im.user);
	imp_free(&im);
	return ret;
}

/* ---- export ---- */

struct exp {
	const char *root;
	int	 root_fd;
	struct mail_user *user;
	struct mail_blobs *blobs;
	char	 host[64];	/* file name part: no '/', ':' or ',' */
	long	 pid;
	uint64_t n_msgs;
	struct mail_buf body, name, uidlist;
};

/* Create name in dfd with data, mtime (when >= 0 given as has_mtime),
 * not synced: callers sync in batches. */
static int
exp_write_file(int dfd, const char *name, const char *path, const void *data,
    size_t len, bool has_mtime, int64_t mtime, struct mail_err *err)
{
	const uint8_t *p = data;
	int fd, ret = -1;

	/* O_EXCL: DIR started empty, so an existing name is a bug or some
	 * other writer; either way nothing is overwritten */
	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd < 0)
		return mail_err_sys(err, errno, "create '%s'", path);
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			mail_err_sys(err, errno, "write '%s'", path);
			goto out;
		}
		p += w;
		len -= (size_t)w;
	}
	if (has_mtime) {
		/* Dovecot takes INTERNALDATE from the mtime */
		struct timespec ts[2] = { { (time_t)mtime, 0 },
		    { (time_t)mtime, 0 } };

		if (futimens(fd, ts) < 0) {
			mail_err_sys(err, errno, "set times of '%s'", path);
			goto out;
		}
	}
	ret = 0;
out:
	/* close reports delayed write errors on some filesystems (NFS) */
	if (close(fd) < 0 && ret == 0)
		ret = mail_err_sys(err, errno, "close '%s'", path);
	return ret;
}

/* Write name in dfd through a temporary file and a rename, so readers
 * (and a crash) see the old file or the new one. */
static int
exp_write_replace(int dfd, const char *name, const char *path,
    const void *data, size_t len, struct mail_err *err)
{
	char *tmp = mail_xasprintf("%s.dsync-tmp", name);
	int ret = -1;

	(void)unlinkat(dfd, tmp, 0);
	if (exp_write_file(dfd, tmp, path, data, len, false, 0, err) < 0)
		goto out;
	if (renameat(dfd, tmp, dfd, name) < 0) {
		mail_err_sys(err, errno, "rename to '%s'", path);
		(void)unlinkat(dfd, tmp, 0);
		goto out;
	}
	ret = 0;
out:
	free(tmp);
	return ret;
}

/* syncfs(): one flush for all files written into a folder, instead of an
 * fsync per message (which costs a journal commit each). */
static int
exp_sync(int fd, const char *path, struct mail_err *err)
{
	if (syncfs(fd) < 0)
		return mail_err_sys(err, errno, "sync '%s'", path);
	return 0;
}

static int
exp_mkdir(int dfd, const char *name, const char *path, struct mail_err *err)
{
	if (mkdirat(dfd, name, 0700) < 0 && errno != EEXIST)
		return mail_err_sys(err, errno, "create directory '%s'", path);
	return 0;
}

/* Bytes of the message with LF line ends counted as CRLF (Dovecot's
 * virtual size, ",W=" in the name). */
static uint64_t
exp_vsize(const uint8_t *p, size_t len)
{
	uint64_t v = len;
	const uint8_t *nl = p, *end = p + len;

	if (len == 0)
		return 0;	/* p may be NULL */
	while ((nl = memchr(nl, '\n', (size_t)(end - nl))) != NULL) {
		if (nl == p || nl[-1] != '\r')
			v++;
		nl++;
	}
	return v;
}

static int
exp_cmp_mailbox(const void *a, const void *b)
{
	return strcmp((*(struct mail_mailbox *const *)a)->name,
	    (*(struct mail_mailbox *const *)b)->name);
}

static int
exp_mailbox(struct exp *ex, const struct mail_mailbox *mb,
    struct mail_err *err)
{
	bool inbox = strcmp(mb->name, "INBOX") == 0;
	struct mail_buf folder = MAIL_BUF_INIT, text = MAIL_BUF_INIT;
	int kwmap[MAIL_MAILBOX_MAX_KEYWORDS];
	const char *kwnames[MAIL_MAILDIR_KEYWORDS];
	char hex[MAIL_GUID_HEX];
	char *path = NULL, *sub = NULL;
	uint64_t used = 0;
	size_t n_kw = 0, dropped = 0;
	int dfd = -1, cur_fd = -1, ret = -1;

	if (inbox) {
		mail_buf_append_str(&folder, ".");
	} else if (mail_maildir_name_to_folder(mb->name, &folder, err) < 0) {
		goto out;
	}
	path = inbox ? mail_xstrdup(ex->root) : mail_xasprintf("%s/%s",
	    ex->root, (const char *)folder.data);
	if (!inbox && exp_mkdir(ex->root_fd, (const char *)folder.data, path,
	    err) < 0)
		goto out;
	if ((dfd = imp_opendir_at(ex->root_fd, (const char *)folder.data)) <
	    0) {
		mail_err_sys(err, errno, "open '%s'", path);
		goto out;
	}
	sub = mail_xasprintf("%s/cur", path);
	if (exp_mkdir(dfd, "cur", sub, err) < 0 ||
	    exp_mkdir(dfd, "new", sub, err) < 0 ||
	    exp_mkdir(dfd, "tmp", sub, err) < 0)
		goto out;
	/* Maildir++ marks folders (not the root) with this empty file;
	 * Courier and Dovecot use it to tell a folder from the root */
	if (!inbox && exp_write_file(dfd, "maildirfolder", path, "", 0, false,
	    0, err) < 0)
		goto out;
	if ((cur_fd = imp_opendir_at(dfd, "cur")) < 0) {
		mail_err_sys(err, errno, "open '%s'", sub);
		goto out;
	}

	/* Maildir has 26 keyword letters; the mailbox up to 64 keywords.
	 * Letters go to the keywords in use, in table order, so a mailbox
	 * with many stale keyword names still exports all it uses. */
	for (size_t i = 0; i < mb->n_msgs; i++)
		used |= mb->msgs[i].keywords;
	for (size_t k = 0; k < mb->n_keywords; k++) {
		kwmap[k] = -1;
		if ((used & ((uint64_t)1 << k)) == 0)
			continue;
		if (n_kw == MAIL_MAILDIR_KEYWORDS) {
			dropped++;
			continue;
		}
		kwnames[n_kw] = mb->keywords[k];
		kwmap[k] = (int)n_kw++;
	}
	if (dropped > 0)
		imp_warn("mailbox '%s' uses %zu keywords more than Maildir's "
		    "%d; they are not exported", mb->name, dropped,
		    MAIL_MAILDIR_KEYWORDS);

	mail_buf_reset(&ex->uidlist);
	mail_buf_printf(&ex->uidlist, "3 V%u N%u G%s\n", mb->uidvalidity,
	    mb->uidnext, mail_guid_to_hex(&mb->guid, hex));
	for (size_t i = 0; i < mb->n_msgs; i++) {
		const struct mail_msg *m = &mb->msgs[i];
		uint32_t letters = 0;
		size_t base_len;

		for (size_t k = 0; k < mb->n_keywords; k++) {
			if ((m->keywords & ((uint64_t)1 << k)) && kwmap[k] >= 0)
				letters |= (uint32_t)1 << kwmap[k];
		}
		mail_buf_reset(&ex->body);
		if (mail_blobs_get(ex->blobs, &m->body, &ex->body, err) < 0) {
			mail_err_prefix(err, "mailbox '%s' uid %u", mb->name,
			    m->uid);
			goto out;
		}
		/* TIME.M<uid>P<pid>.HOST: unique in the folder by the UID.
		 * S= and W= spare Dovecot a stat() and a read per message
		 * when a client asks for sizes. */
		mail_buf_reset(&ex->name);
		mail_buf_printf(&ex->name, "%" PRId64 ".M%uP%ld.%s,S=%zu,W=%"
		    PRIu64, m->idate > 0 ? m->idate : 0, m->uid, ex->pid,
		    ex->host, ex->body.len, exp_vsize(ex->body.data,
		    ex->body.len));
		base_len = ex->name.len;
		mail_maildir_info_format(m->flags, letters, &ex->name);
		if (exp_write_file(cur_fd, (const char *)ex->name.data, sub,
		    ex->body.data, ex->body.len, true, m->idate, err) < 0)
			goto out;
		mail_buf_printf(&ex->uidlist, "%u G%s :%.*s\n", m->uid,
		    mail_guid_to_hex(&m->guid, hex), (int)base_len,
		    (const char *)ex->name.data);
		ex->n_msgs++;
	}
	/* the messages are durable before the uidlist that names them: a
	 * crash in between leaves files Dovecot numbers anew, never a
	 * uidlist promising files that are not there */
	if (mb->n_msgs > 0 && exp_sync(cur_fd, sub, err) < 0)
		goto out;
	if (exp_write_replace(dfd, "dovecot-uidlist", path, ex->uidlist.data,
	    ex->uidlist.len, err) < 0)
		goto out;
	if (n_kw > 0) {
		for (size_t i = 0; i < n_kw; i++)
			mail_buf_printf(&text, "%zu %s\n", i, kwnames[i]);
		if (exp_write_replace(dfd, "dovecot-keywords", path, text.data,
		    text.len, err) < 0)
			goto out;
	}
	/* written even when it says "nothing special", so that import does
	 * not give "Sent" a \Sent the store never had */
	mail_buf_reset(&text);
	mail_buf_printf(&text, "special-use %s\nprivate-flags ",
	    mb->special_use[0] != '\0' ? mb->special_use : "-");
	if (mb->pvt_mask != 0)
		mail_flags_format(mb->pvt_mask, &text);
	else
		mail_buf_append_str(&text, "-");
	mail_buf_append_str(&text, "\n");
	if (exp_write_replace(dfd, DSYNC_MAILBOX_FILE, path, text.data,
	    text.len, err) < 0)
		goto out;
	ret = 0;
out:
	if (cur_fd >= 0)
		close(cur_fd);
	if (dfd >= 0)
		close(dfd);
	mail_buf_free(&folder);
	mail_buf_free(&text);
	free(path);
	free(sub);
	return ret;
}

/* DIR must not exist (it is created) or be an empty directory: merged
 * into an existing Maildir, our uidlists would replace Dovecot's and
 * give its messages no UIDs, or the same UIDs twice. */
static int
exp_open_root(struct exp *ex, struct mail_err *err)
{
	struct dirent *de;
	DIR *d;
	int fd;

	if (mkdir(ex->root, 0700) < 0 && errno != EEXIST)
		return mail_err_sys(err, errno, "create directory '%s'",
		    ex->root);
	if ((ex->root_fd = open(ex->root, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0)
		return mail_err_sys(err, errno, "open '%s'", ex->root);
	if ((fd = dup(ex->root_fd)) < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return mail_err_sys(err, errno, "open '%s'", ex->root);
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0) {
			closedir(d);
			return mail_err_set(err, MAIL_ERR_EXISTS,
			    "'%s' exists and is not empty", ex->root);
		}
	}
	closedir(d);
	return 0;
}

int
dsync_maildir_export(struct dsync_ctx *ctx, const char *dir)
{
	struct exp ex;
	struct mail_err err;
	struct mail_state *st;
	struct mail_mailbox **mbs = NULL;
	char **subnames = NULL;
	size_t n_mbs = 0, n_subs = 0;
	struct mail_buf subs = MAIL_BUF_INIT;
	int ret = DSYNC_EXIT_ERROR;

	memset(&ex, 0, sizeof(ex));
	ex.root = dir;
	ex.root_fd = -1;
	ex.pid = (long)getpid();
	if (gethostname(ex.host, sizeof(ex.host)) < 0 || ex.host[0] == '\0')
		strlcpy(ex.host, "localhost", sizeof(ex.host));
	ex.host[sizeof(ex.host) - 1] = '\0';
	for (char *p = ex.host; *p != '\0'; p++) {
		/* '/' and ':' would break the name, ',' the size fields */
		if (*p == '/' || *p == ':' || *p == ',' || *p <= ' ' ||
		    *p == 0x7f)
			*p = '_';
	}
	/* the user first: an unknown user must not leave an empty DIR */
	if (mail_user_open(ctx->store, ctx->user, false, &ex.user, &err) < 0 ||
	    exp_open_root(&ex, &err) < 0)
		goto fail;
	ex.blobs = mail_store_blobs(ctx->store);
	st = mail_user_state(ex.user);
	/* live mailboxes and subscriptions only: deleted mailboxes and
	 * unsubscribed names are tombstones for replication */
	mbs = mail_xcalloc(st->n_mailboxes + 1, sizeof(*mbs));
	for (size_t i = 0; i < st->n_mailboxes; i++) {
		if (!st->mailboxes[i]->deleted)
			mbs[n_mbs++] = st->mailboxes[i];
	}
	mail_qsort(mbs, n_mbs, sizeof(*mbs), exp_cmp_mailbox);
	/* The user's state was loaded once, without a lock: the export is
	 * a consistent view as of that moment, even if mail arrives while
	 * it runs. */
	for (size_t i = 0; i < n_mbs; i++) {
		if (exp_mailbox(&ex, mbs[i], &err) < 0)
			goto fail;
	}
	subnames = mail_xcalloc(st->n_subs + 1, sizeof(*subnames));
	for (size_t i = 0; i < st->n_subs; i++) {
		if (st->subs[i].on)
			subnames[n_subs++] = st->subs[i].name;
	}
	if (n_subs > 0) {
		if (mail_maildir_subscriptions_format(subnames, n_subs,
		    &subs, &err) < 0)
			goto fail;
		if (exp_write_replace(ex.root_fd, "subscriptions", dir,
		    subs.data, subs.len, &err) < 0)
			goto fail;
	}
	/* the uidlists, keywords and directories written since the last
	 * folder's sync */
	if (exp_sync(ex.root_fd, dir, &err) < 0)
		goto fail;
	printf("exported %" PRIu64 " messages from %zu mailboxes\n", ex.n_msgs,
	    n_mbs);
	ret = 0;
	goto out;
fail:
	ret = dsync_fail(&err);
out:
	free(mbs);
	free(subnames);
	mail_buf_free(&subs);
	mail_buf_free(&ex.body);
	mail_buf_free(&ex.name);
	mail_buf_free(&ex.uidlist);
	if (ex.root_fd >= 0)
		close(ex.root_fd);
	mail_user_close(&ex.user);
	return ret;
}
