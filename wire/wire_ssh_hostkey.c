/*
 * wire_ssh_hostkey.c: host key verification against OpenSSH known_hosts
 * files, with libssh2's knownhost parser for the lines (plain and hashed
 * "|1|salt|hash" names).
 *
 * The host is looked up as OpenSSH writes it: "host" for port 22,
 * "[host]:port" otherwise (libssh2_knownhost_checkp() with a port would
 * also accept a plain "host" entry for another port, so the name is
 * built here and checked with port -1). Each line is parsed on its own:
 * a line libssh2 cannot parse is skipped instead of hiding the rest of
 * the file, and a mismatch can be reported with its line number.
 * Marker lines (@cert-authority, @revoked) are not supported and skipped.
 *
 * Outcome, in order: a line with this host and this key accepts; a line
 * with this host and another key of the same type means the key CHANGED;
 * a line with this host and a key of another type refuses too (OpenSSH
 * would ask; accepting it would let an attacker pick a key type we have
 * no entry for); otherwise the host is unknown, and accept_new appends
 * "name type base64key" to the (first) known_hosts file.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wire_ssh_hostkey.h"

#define WIRE_SSH_GLOBAL_KNOWN_HOSTS "/etc/ssh/ssh_known_hosts"

/* A host key algorithm in OpenSSH's order of preference. */
struct wire_ssh_keytype {
	const char *alg;	/* host key algorithm (method name) */
	const char *name;	/* key type in known_hosts */
	int	 kh_type;	/* LIBSSH2_KNOWNHOST_KEY_* */
	int	 hk_type;	/* LIBSSH2_HOSTKEY_TYPE_* */
};

static const struct wire_ssh_keytype wire_ssh_keytypes[] = {
	{ "ssh-ed25519", "ssh-ed25519", LIBSSH2_KNOWNHOST_KEY_ED25519,
	  LIBSSH2_HOSTKEY_TYPE_ED25519 },
	{ "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256",
	  LIBSSH2_KNOWNHOST_KEY_ECDSA_256, LIBSSH2_HOSTKEY_TYPE_ECDSA_256 },
	{ "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384",
	  LIBSSH2_KNOWNHOST_KEY_ECDSA_384, LIBSSH2_HOSTKEY_TYPE_ECDSA_384 },
	{ "ecdsa-sha2-nistp521", "ecdsa-sha2-nistp521",
	  LIBSSH2_KNOWNHOST_KEY_ECDSA_521, LIBSSH2_HOSTKEY_TYPE_ECDSA_521 },
	{ "rsa-sha2-512", "ssh-rsa", LIBSSH2_KNOWNHOST_KEY_SSHRSA,
	  LIBSSH2_HOSTKEY_TYPE_RSA },
	{ "rsa-sha2-256", "ssh-rsa", LIBSSH2_KNOWNHOST_KEY_SSHRSA,
	  LIBSSH2_HOSTKEY_TYPE_RSA },
	{ "ssh-rsa", "ssh-rsa", LIBSSH2_KNOWNHOST_KEY_SSHRSA,
	  LIBSSH2_HOSTKEY_TYPE_RSA },
	{ "ssh-dss", "ssh-dss", LIBSSH2_KNOWNHOST_KEY_SSHDSS,
	  LIBSSH2_HOSTKEY_TYPE_DSS },
};

/* What the known_hosts files say about one host and one key. */
struct wire_ssh_known {
	const char *key;	/* the server's key (raw), NULL: only types */
	size_t	 keylen;
	int	 kh_type;	/* its LIBSSH2_KNOWNHOST_KEY_* */
	bool	 match;		/* a line has this very key */
	unsigned types;		/* bit i: a line has wire_ssh_keytypes[i] */
	char	 changed_file[160];	/* first line with another key */
	int	 changed_line;	/* of the same type */
	bool	 changed_same_type;
};

char *
wire_ssh_home_path(const char *rel)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	if (home == NULL || home[0] == '\0') {
		if ((pw = getpwuid(getuid())) == NULL)
			return NULL;
		home = pw->pw_dir;
	}
	return mail_xasprintf("%s/%s", home, rel);
}

/* The name known_hosts files use for the host: "host" or "[host]:port". */
static char *
wire_ssh_known_name(const struct wire_ssh_opts *o)
{
	if (o->port == 0 || o->port == 22)
		return mail_xstrdup(o->host);
	return mail_xasprintf("[%s]:%d", o->host, o->port);
}

/* Base64 (RFC 4648) of n bytes into out (4 * ((n + 2) / 3) + 1 bytes),
 * with or without '=' padding. */
static void
wire_ssh_base64(const uint8_t *p, size_t n, bool pad, char *out)
{
	static const char digits[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		size_t left = n - i;

		if (left > 1)
			v |= (uint32_t)p[i + 1] << 8;
		if (left > 2)
			v |= p[i + 2];
		out[o++] = digits[(v >> 18) & 63];
		out[o++] = digits[(v >> 12) & 63];
		if (left > 1)
			out[o++] = digits[(v >> 6) & 63];
		else if (pad)
			out[o++] = '=';
		if (left > 2)
			out[o++] = digits[v & 63];
		else if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
}

static void
wire_ssh_known_changed(struct wire_ssh_known *k, const char *file,
    int lineno, bool same_type)
{
	snprintf(k->changed_file, sizeof(k->changed_file), "%s", file);
	k->changed_line = lineno;
	k->changed_same_type = same_type;
}

/* Look at one parsed line (in kh) for name. */
static void
wire_ssh_known_line(LIBSSH2_KNOWNHOSTS *kh, const char *name,
    const char *file, int lineno, struct wire_ssh_known *k)
{
	int plain = LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW;
	int rc;

	/* a dummy key never matches: MISMATCH says the type is there */
	for (size_t i = 0; i < N_ELEMENTS(wire_ssh_keytypes); i++)
		if (libssh2_knownhost_checkp(kh, name, -1, "?", 1,
		    plain | wire_ssh_keytypes[i].kh_type, NULL) ==
		    LIBSSH2_KNOWNHOST_CHECK_MISMATCH)
			k->types |= 1u << i;
	if (k->key == NULL)
		return;
	rc = libssh2_knownhost_checkp(kh, name, -1, k->key, k->keylen,
	    plain | k->kh_type, NULL);
	if (rc == LIBSSH2_KNOWNHOST_CHECK_MATCH) {
		k->match = true;
	} else if (rc == LIBSSH2_KNOWNHOST_CHECK_MISMATCH) {
		if (!k->changed_same_type)
			wire_ssh_known_changed(k, file, lineno, true);
	} else if (k->changed_line == 0 &&
	    /* key type 0: compare with entries of any type */
	    libssh2_knownhost_checkp(kh, name, -1, k->key, k->keylen, plain,
	    NULL) == LIBSSH2_KNOWNHOST_CHECK_MISMATCH) {
		wire_ssh_known_changed(k, file, lineno, false);
	}
}

/* Scan one known_hosts file; a missing or unreadable file is empty. */
static void
wire_ssh_known_scan(LIBSSH2_SESSION *session, const char *file,
    const char *name, struct wire_ssh_known *k)
{
	LIBSSH2_KNOWNHOSTS *kh;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int lineno = 0;
	FILE *fp;

	if ((fp = fopen(file, "re")) == NULL)
		return;
	while ((len = getline(&line, &cap, fp)) > 0 && !k->match) {
		const char *p = line;

		lineno++;
		p += strspn(p, " \t");
		if (*p == '#' || *p == '@' || *p == '\n' || *p == '\0')
			continue;
		if ((kh = libssh2_knownhost_init(session)) == NULL)
			break;
		if (libssh2_knownhost_readline(kh, line, (size_t)len,
		    LIBSSH2_KNOWNHOST_FILE_OPENSSH) == 0)
			wire_ssh_known_line(kh, name, file, lineno, k);
		libssh2_knownhost_free(kh);
	}
	free(line);
	fclose(fp);
}

/* The files to consult: o->known_hosts, or the user's and the global
 * one. files[0] is where accept_new writes. Returns the count. */
static int
wire_ssh_known_files(const struct wire_ssh_opts *o, char *files[2])
{
	files[0] = files[1] = NULL;
	if (o->known_hosts != NULL) {
		files[0] = mail_xstrdup(o->known_hosts);
		return 1;
	}
	files[0] = wire_ssh_home_path(".ssh/known_hosts");
	files[1] = mail_xstrdup(WIRE_SSH_GLOBAL_KNOWN_HOSTS);
	if (files[0] == NULL) {
		files[0] = files[1];
		files[1] = NULL;
		return 1;
	}
	return 2;
}

static void
wire_ssh_known_scan_all(LIBSSH2_SESSION *session,
    const struct wire_ssh_opts *o, const char *name, struct wire_ssh_known *k)
{
	char *files[2];
	int n = wire_ssh_known_files(o, files);

	for (int i = 0; i < n; i++) {
		wire_ssh_known_scan(session, files[i], name, k);
		free(files[i]);
	}
}

/* Whether libssh2 supports host key algorithm alg. */
static bool
wire_ssh_alg_supported(const char **algs, int n, const char *alg)
{
	for (int i = 0; i < n; i++)
		if (strcmp(algs[i], alg) == 0)
			return true;
	return false;
}

void
wire_ssh_hostkey_prefer(LIBSSH2_SESSION *session,
    const struct wire_ssh_opts *o)
{
	struct wire_ssh_known k;
	char *name = wire_ssh_known_name(o), pref[512] = "";
	const char **algs = NULL;
	int n;

	/* only names libssh2 supports: 1.10 strips others with an
	 * overlapping memcpy */
	if ((n = libssh2_session_supported_algs(session,
	    LIBSSH2_METHOD_HOSTKEY, &algs)) <= 0)
		goto out;
	memset(&k, 0, sizeof(k));
	wire_ssh_known_scan_all(session, o, name, &k);
	/* known types first, then the rest; each in OpenSSH's order */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < N_ELEMENTS(wire_ssh_keytypes); i++) {
			if (((k.types >> i) & 1) != (pass == 0 ? 1u : 0u) ||
			    !wire_ssh_alg_supported(algs, n,
			    wire_ssh_keytypes[i].alg))
				continue;
			if (pref[0] != '\0')
				strlcat(pref, ",", sizeof(pref));
			strlcat(pref, wire_ssh_keytypes[i].alg, sizeof(pref));
		}
	}
	if (pref[0] != '\0')
		(void)libssh2_session_method_pref(session,
		    LIBSSH2_METHOD_HOSTKEY, pref);
out:
	if (algs != NULL)
		libssh2_free(session, algs);
	free(name);
}

/* Append "name type key" to file (creating it, and ~/.ssh for the
 * default file). */
static int
wire_ssh_known_add(const char *file, bool is_default, const char *name,
    const char *type, const char *key, size_t keylen, struct mail_err *err)
{
	char *b64 = mail_xmalloc(4 * ((keylen + 2) / 3) + 1), *line, *dir, last;
	int fd = -1, ret = -1;
	size_t len;
	struct stat st;

	if (is_default) {
		dir = mail_xstrdup(file);
		if (strrchr(dir, '/') != NULL) {
			*strrchr(dir, '/') = '\0';
			(void)mkdir(dir, 0700);
		}
		free(dir);
	}
	wire_ssh_base64((const uint8_t *)key, keylen, true, b64);
	line = mail_xasprintf("\n%s %s %s\n", name, type, b64);
	if ((fd = open(file, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC,
	    0644)) < 0) {
		mail_err_sys(err, errno, "record host key in '%s'", file);
		goto out;
	}
	/* start on a new line unless the file already ends with one */
	len = strlen(line);
	if (fstat(fd, &st) == 0 && (st.st_size == 0 ||
	    (pread(fd, &last, 1, st.st_size - 1) == 1 && last == '\n'))) {
		memmove(line, line + 1, len);
		len--;
	}
	if (write(fd, line, len) != (ssize_t)len) {
		mail_err_sys(err, errno, "record host key in '%s'", file);
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		mail_err_sys(err, errno, "record host key in '%s'", file);
		goto out;
	}
	fd = -1;
	ret = 0;
out:
	if (fd != -1)
		close(fd);
	free(line);
	free(b64);
	return ret;
}

static const struct wire_ssh_keytype *
wire_ssh_keytype_of(int hk_type)
{
	for (size_t i = 0; i < N_ELEMENTS(wire_ssh_keytypes); i++)
		if (wire_ssh_keytypes[i].hk_type == hk_type)
			return &wire_ssh_keytypes[i];
	return NULL;
}

int
wire_ssh_hostkey_verify(LIBSSH2_SESSION *session,
    const struct wire_ssh_opts *o, struct mail_err *err)
{
	const struct wire_ssh_keytype *kt;
	const char *key, *hash;
	char *name = wire_ssh_known_name(o), *files[2], fp[64];
	struct wire_ssh_known k;
	size_t keylen;
	int type, n, ret = -1;

	n = wire_ssh_known_files(o, files);
	if ((key = libssh2_session_hostkey(session, &keylen, &type)) == NULL ||
	    (kt = wire_ssh_keytype_of(type)) == NULL) {
		mail_err_set(err, MAIL_ERR_PERM,
		    "'%s' offers a host key of an unsupported type", name);
		goto out;
	}
	hash = libssh2_hostkey_hash(session, LIBSSH2_HOSTKEY_HASH_SHA256);
	strlcpy(fp, "SHA256:", sizeof(fp));
	if (hash != NULL)
		wire_ssh_base64((const uint8_t *)hash, 32, false, fp + 7);
	memset(&k, 0, sizeof(k));
	k.key = key;
	k.keylen = keylen;
	k.kh_type = kt->kh_type;
	wire_ssh_known_scan_all(session, o, name, &k);
	if (k.match) {
		ret = 0;
	} else if (k.changed_line != 0 && k.changed_same_type) {
		mail_err_set(err, MAIL_ERR_PERM,
		    "host key of '%s' CHANGED: it offers %s %s, which does not match '%s' line %d (an attack, or a reinstalled host: then delete that line)",
		    name, kt->name, fp, k.changed_file, k.changed_line);
	} else if (k.changed_line != 0) {
		mail_err_set(err, MAIL_ERR_PERM,
		    "host key of '%s' changed type: it offers %s %s, '%s' line %d has a key of another type",
		    name, kt->name, fp, k.changed_file, k.changed_line);
	} else if (!o->accept_new) {
		mail_err_set(err, MAIL_ERR_PERM,
		    "host key of '%s' is not known: %s %s is not in '%s' (and accepting new host keys is off)",
		    name, kt->name, fp, files[0]);
	} else {
		ret = wire_ssh_known_add(files[0], o->known_hosts == NULL,
		    name, kt->name, key, keylen, err);
	}
out:
	for (int i = 0; i < n; i++)
		free(files[i]);
	free(name);
	return ret;
}
