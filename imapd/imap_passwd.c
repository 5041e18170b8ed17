/*
 * imap_passwd.c: the passwd-file password database and SASL PLAIN.
 *
 * The database is one private copy of the file (text, len + 1 bytes,
 * NUL-terminated) cut up in place: every ':' that ends a field, every
 * line end and every space between extra fields becomes a NUL, and the
 * entries point into it. So there is exactly one copy of the hashes and
 * PLAIN passwords to wipe, and freeing is one explicit_bzero() and a few
 * free()s. Users are kept sorted by name (bytes, then line) for binary
 * search and for finding duplicates after the parse.
 *
 * Reading the file: open, fstat, read exactly st_size bytes into a buffer
 * allocated once (mail_fs_read_file() grows its buffer by realloc, which
 * would leave copies of the secrets in freed memory). The fstat of the
 * same fd is the identity the reload check compares against stat(path),
 * so a change between the stat and the read makes the next check read
 * the file again rather than miss an edit.
 *
 * Timing (see imap_passwd.h): PLAIN compares run over the candidate's
 * length only; an unknown or locked user is checked against a stand-in
 * entry of the file's most common hash class and the result discarded.
 */
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "imap_passwd.h"
#include "mail_fs.h"

enum imap_pw_method {
	IMAP_PW_M_NONE = 0,
	IMAP_PW_M_SHA256,		/* $5$ */
	IMAP_PW_M_SHA512,		/* $6$ */
	IMAP_PW_M_BCRYPT,		/* $2a$, $2b$, $2y$ */
	IMAP_PW_M_YESCRYPT,		/* $y$ */
};

struct imap_pw_user {
	struct imap_passwd_entry pub;
	size_t	 user_len;
	const char *secret;		/* PLAIN text or crypt hash; NULL when
					 * locked; points into db->text */
	size_t	 secret_len;
	size_t	 extra_idx;		/* first of pub.n_extra in db->extras */
};

struct imap_passwd {
	char	*name;			/* path or label, for messages */
	char	*text;			/* the file, cut up in place */
	size_t	 text_size;		/* bytes to wipe */
	struct imap_pw_user *users;	/* sorted by name */
	size_t	 n, cap;
	const char **extras;		/* every entry's items, NULL after
					 * each entry's */
	size_t	 n_extras, cap_extras;
	const struct imap_pw_user *stand_in; /* NULL: nothing to verify */

	bool	 from_file;		/* identity below is valid */
	bool	 racy;			/* modified too recently to trust the
					 * identity: reread on next check */
	dev_t	 dev;
	ino_t	 ino;
	off_t	 size;
	struct timespec mtime, ctime;
};

/* Distinct hash classes counted when choosing the stand-in; users of
 * further classes are not counted (a file with more than this many
 * distinct costs gets no timing promise anyway). */
#define IMAP_PW_MAX_CLASSES	16
#define IMAP_PW_CLASS_SIZE	48

static const char imap_pw_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* ---- small helpers ---- */

static bool
imap_pw_is_crypt64(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '/';
}

/* The number of leading crypt-alphabet characters of s[0..n). */
static size_t
imap_pw_span64(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && imap_pw_is_crypt64(s[i]))
		i++;
	return i;
}

static size_t
imap_pw_span_digits(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	return i;
}

/*
 * Equal in time that depends on cand_len only: the loop always runs over
 * the whole candidate and reads stored[i] while i < stored_len, else
 * stored[0] (stored is NUL-terminated, so stored[0] exists even when
 * empty), with the index chosen by a mask rather than a branch. Neither
 * where the first difference is nor the stored length shows in the time.
 */
static bool
imap_pw_ct_equal(const uint8_t *cand, size_t cand_len, const char *stored,
    size_t stored_len)
{
	const uint8_t *s = (const uint8_t *)stored;
	size_t acc = cand_len ^ stored_len;

	for (size_t i = 0; i < cand_len; i++) {
		/* 1 when i < stored_len: both are far below SIZE_MAX / 2 */
		size_t in = (i - stored_len) >> (sizeof(size_t) * 8 - 1);
		size_t idx = i & (0 - in);

		acc |= (size_t)(cand[i] ^ s[idx]);
	}
	return acc == 0;
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing
 * above U+10FFFF. */
static bool
imap_pw_utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		size_t k;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			k = 1, cp = c & 0x1f, min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2, cp = c & 0x0f, min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (n - i <= k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

/* ---- crypt hashes ---- */

/*
 * Check that h (n bytes, NUL-terminated) has the exact shape crypt_rn()
 * produces for a supported method, so that a typo or a truncated hash is
 * an error when the file is read rather than a user who can never log
 * in. Returns the method and writes its cost class (method and cost
 * parameters, no salt: the hashes of one class cost the same to check)
 * to cls; or IMAP_PW_M_NONE with the reason in why. Nothing of the hash
 * but a short method id goes into why.
 *
 *	$5$[rounds=N$]SALT$HASH43	SHA-256 crypt (salt 0..16 chars)
 *	$6$[rounds=N$]SALT$HASH86	SHA-512 crypt
 *	$2a$CC$SALT22HASH31		bcrypt, cost 04..31 (also $2b$, $2y$)
 *	$y$PARAMS$SALT$HASH43		yescrypt
 */
static enum imap_pw_method
imap_pw_crypt_shape(const char *h, size_t n, char *cls, size_t cls_size,
    char *why, size_t why_size)
{
	enum imap_pw_method m;
	const char *p;
	size_t left, k;
	int chk;

	if (n >= 3 && (memcmp(h, "$5$", 3) == 0 || memcmp(h, "$6$", 3) == 0)) {
		unsigned long rounds = 5000;	/* crypt's default */
		size_t want;

		m = h[1] == '5' ? IMAP_PW_M_SHA256 : IMAP_PW_M_SHA512;
		want = m == IMAP_PW_M_SHA256 ? 43 : 86;
		p = h + 3;
		left = n - 3;
		if (left >= 7 && memcmp(p, "rounds=", 7) == 0) {
			p += 7;
			left -= 7;
			k = imap_pw_span_digits(p, left);
			if (k == 0 || k > 9 || p[0] == '0' || k == left ||
			    p[k] != '$') {
				snprintf(why, why_size, "malformed rounds= in "
				    "'$%c$' hash", h[1]);
				return IMAP_PW_M_NONE;
			}
			rounds = strtoul(p, NULL, 10);
			/* crypt clamps rounds below 1000 and writes the
			 * clamped value, so such a hash never matches */
			if (rounds < 1000) {
				snprintf(why, why_size, "rounds=%lu below 1000 "
				    "in '$%c$' hash", rounds, h[1]);
				return IMAP_PW_M_NONE;
			}
			p += k + 1;
			left -= k + 1;
		}
		k = imap_pw_span64(p, left);
		if (k > 16 || k == left || p[k] != '$') {
			snprintf(why, why_size, "malformed salt in '$%c$' hash",
			    h[1]);
			return IMAP_PW_M_NONE;
		}
		p += k + 1;
		left -= k + 1;
		if (left != want || imap_pw_span64(p, left) != left) {
			snprintf(why, why_size, "'$%c$' hash is not %zu "
			    "characters after the salt", h[1], want);
			return IMAP_PW_M_NONE;
		}
		snprintf(cls, cls_size, "$%c$%lu", h[1], rounds);
	} else if (n >= 4 && h[0] == '$' && h[1] == '2' && (h[2] == 'a' ||
	    h[2] == 'b' || h[2] == 'y') && h[3] == '$') {
		m = IMAP_PW_M_BCRYPT;
		if (n != 60 || imap_pw_span_digits(h + 4, 2) != 2 ||
		    h[6] != '$' || imap_pw_span64(h + 7, 53) != 53 ||
		    memcmp(h + 4, "04", 2) < 0 || memcmp(h + 4, "31", 2) > 0) {
			snprintf(why, why_size, "malformed '$2%c$' (bcrypt) "
			    "hash", h[2]);
			return IMAP_PW_M_NONE;
		}
		/* $2a$, $2b$ and $2y$ of one cost cost the same */
		snprintf(cls, cls_size, "$2$%.2s", h + 4);
	} else if (n >= 3 && memcmp(h, "$y$", 3) == 0) {
		size_t kp;

		m = IMAP_PW_M_YESCRYPT;
		p = h + 3;
		left = n - 3;
		kp = imap_pw_span64(p, left);
		if (kp == 0 || kp > 32 || kp == left || p[kp] != '$')
			goto bad_y;
		k = imap_pw_span64(p + kp + 1, left - kp - 1);
		if (k > 86 || kp + 1 + k == left || p[kp + 1 + k] != '$')
			goto bad_y;
		left -= kp + 1 + k + 1;
		if (left != 43 || imap_pw_span64(p + kp + 1 + k + 1, left) !=
		    left)
			goto bad_y;
		snprintf(cls, cls_size, "$y$%.*s", (int)kp, p);
	} else if (n > 0 && h[0] == '$') {
		const char *end = memchr(h + 1, '$', n - 1);
		size_t idlen = end != NULL ? (size_t)(end - h - 1) : 0;

		if (idlen > 0 && idlen <= 8 && imap_pw_span64(h + 1, idlen) ==
		    idlen) {
			snprintf(why, why_size, "crypt method '$%.*s$' is not "
			    "supported%s", (int)idlen, h + 1,
			    idlen == 1 && h[1] == '1' ? " (MD5-crypt is too "
			    "weak)" : "");
		} else {
			snprintf(why, why_size, "password is not a supported "
			    "crypt hash");
		}
		return IMAP_PW_M_NONE;
	} else {
		/* DES crypt, or a plain text password without {PLAIN} */
		snprintf(why, why_size, "password is not {SCHEME}... or a "
		    "supported crypt hash ($5$, $6$, $2y$, $y$; plain text "
		    "needs {PLAIN})");
		return IMAP_PW_M_NONE;
	}
	/* the shape is right; let libcrypt judge the parameters too */
	chk = crypt_checksalt(h);
	if (chk == CRYPT_SALT_INVALID || chk == CRYPT_SALT_METHOD_DISABLED) {
		snprintf(why, why_size, "crypt hash refused by libcrypt");
		return IMAP_PW_M_NONE;
	}
	return m;
bad_y:
	snprintf(why, why_size, "malformed '$y$' (yescrypt) hash");
	return IMAP_PW_M_NONE;
}

/* ---- parsing ---- */

static void imap_pw_set_err(struct mail_err *err, const char *name,
	    unsigned line, const char *fmt, ...) PRINTF_LIKE(4, 5);

static void
imap_pw_set_err(struct mail_err *err, const char *name, unsigned line,
    const char *fmt, ...)
{
	char what[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	mail_err_set(err, MAIL_ERR_PARAM, "%s:%u: %s", name, line, what);
}

/* The password field f (n bytes) of user u: sets u's scheme and secret,
 * or returns -1 with the reason in why. */
static int
imap_pw_parse_password(struct imap_pw_user *u, char *f, size_t n, char *why,
    size_t why_size)
{
	static const struct {
		const char *name;
		enum imap_passwd_scheme scheme;
		enum imap_pw_method method;	/* NONE: any crypt method */
	} schemes[] = {
		{ "PLAIN", IMAP_PASSWD_PLAIN, IMAP_PW_M_NONE },
		{ "CLEARTEXT", IMAP_PASSWD_PLAIN, IMAP_PW_M_NONE },
		{ "CRYPT", IMAP_PASSWD_CRYPT, IMAP_PW_M_NONE },
		{ "SHA256-CRYPT", IMAP_PASSWD_CRYPT, IMAP_PW_M_SHA256 },
		{ "SHA512-CRYPT", IMAP_PASSWD_CRYPT, IMAP_PW_M_SHA512 },
		{ "BLF-CRYPT", IMAP_PASSWD_CRYPT, IMAP_PW_M_BCRYPT },
	};
	static const char *const method_prefix[] = {
		[IMAP_PW_M_SHA256] = "$5$",
		[IMAP_PW_M_SHA512] = "$6$",
		[IMAP_PW_M_BCRYPT] = "$2y$",
	};
	enum imap_pw_method want = IMAP_PW_M_NONE, got;
	const char *scheme_name = NULL;
	char cls[IMAP_PW_CLASS_SIZE];

	if (n > IMAP_PASSWD_MAX_FIELD) {
		snprintf(why, why_size, "password field longer than %d bytes",
		    IMAP_PASSWD_MAX_FIELD);
		return -1;
	}
	/* locked accounts, as /etc/passwd and /etc/shadow write them */
	if (n == 0 || (n == 1 && f[0] == 'x') || f[0] == '*' || f[0] == '!') {
		u->pub.scheme = IMAP_PASSWD_LOCKED;
		u->secret = NULL;
		return 0;
	}
	if (f[0] == '{') {
		const char *close = memchr(f, '}', n);
		size_t nl = close != NULL ? (size_t)(close - f - 1) : 0;
		size_t i;

		/* a scheme name is short and plain; anything else may be a
		 * mistyped password, which must not reach a log */
		for (i = 0; i < nl && i <= 32; i++) {
			char c = f[1 + i];

			if (!((c >= 'A' && c <= 'Z') ||
			    (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			    c == '-' || c == '.' || c == '_'))
				break;
		}
		if (close == NULL || nl == 0 || i != nl) {
			snprintf(why, why_size, "password field starts with "
			    "'{' but not with a {SCHEME} name");
			return -1;
		}
		for (i = 0; i < N_ELEMENTS(schemes); i++) {
			if (strlen(schemes[i].name) == nl &&
			    strncasecmp(schemes[i].name, f + 1, nl) == 0)
				break;
		}
		if (i == N_ELEMENTS(schemes)) {
			snprintf(why, why_size, "password scheme '%.*s' is not "
			    "supported (supported: PLAIN, CLEARTEXT, CRYPT, "
			    "SHA256-CRYPT, SHA512-CRYPT, BLF-CRYPT)", (int)nl,
			    f + 1);
			return -1;
		}
		scheme_name = schemes[i].name;
		u->pub.scheme = schemes[i].scheme;
		want = schemes[i].method;
		f += nl + 2;
		n -= nl + 2;
		if (u->pub.scheme == IMAP_PASSWD_PLAIN) {
			if (n == 0 || n > IMAP_PASSWD_MAX_PASSWORD) {
				snprintf(why, why_size, n == 0 ? "empty {%s} "
				    "password" : "{%s} password longer than "
				    "1024 bytes", scheme_name);
				return -1;
			}
			u->secret = f;
			u->secret_len = n;
			return 0;
		}
	}
	/* a crypt hash, with {CRYPT}, a method's own scheme, or alone */
	u->pub.scheme = IMAP_PASSWD_CRYPT;
	got = imap_pw_crypt_shape(f, n, cls, sizeof(cls), why, why_size);
	if (got == IMAP_PW_M_NONE)
		return -1;
	if (want != IMAP_PW_M_NONE && got != want) {
		snprintf(why, why_size, "scheme %s needs a '%s' hash",
		    scheme_name, method_prefix[want]);
		return -1;
	}
	u->secret = f;
	u->secret_len = n;
	return 0;
}

/* A uid or gid: empty, a decimal number below 2^32 - 1 ((uid_t)-1 means
 * "none"), or a user or group name as useradd accepts it. */
static bool
imap_pw_id_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0)
		return true;
	if (imap_pw_span_digits(s, n) == n)
		return n <= 10 && (n == 1 || s[0] != '0') &&
		    strtoull(s, NULL, 10) < 0xffffffffULL;
	if (n > 32 || !((s[0] >= 'a' && s[0] <= 'z') ||
	    (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		    c == '.' || (c == '$' && i == n - 1)))
			return false;
	}
	return true;
}

/* s for an error message: at most size - 1 bytes, control characters
 * shown as '?' (a file's bytes must not reach a terminal raw). */
static const char *
imap_pw_printable(const char *s, char *buf, size_t size)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < size; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' :
		    s[i];
	buf[i] = '\0';
	return buf;
}

static void
imap_pw_push_extra(struct imap_passwd *db, const char *item)
{
	db->extras = mail_xgrow(db->extras, &db->cap_extras, db->n_extras + 1,
	    sizeof(*db->extras));
	db->extras[db->n_extras++] = item;
}

/* One non-comment line at p (NUL-terminated, without its CR LF, no NUL
 * inside). */
static int
imap_pw_parse_line(struct imap_passwd *db, char *p, unsigned line,
    struct mail_err *err)
{
	char *f[8] = { NULL };		/* user .. shell, then the extra rest */
	size_t nf = 1, ulen;
	struct imap_pw_user *u;
	char why[200], shown[80];
	char *rest;

	f[0] = p;
	/* fields end at ':' but the eighth (extra fields) takes the rest of
	 * the line, colons included: Dovecot joins the remaining fields
	 * with ':' again */
	while (nf < 8) {
		char *c = strchr(f[nf - 1], ':');

		if (c == NULL)
			break;
		*c = '\0';
		f[nf++] = c + 1;
	}
	ulen = strlen(f[0]);
	if (nf == 1) {
		imap_pw_set_err(err, db->name, line, "missing ':' after the "
		    "user name");
		return -1;
	}
	if (ulen == 0) {
		imap_pw_set_err(err, db->name, line, "empty user name");
		return -1;
	}
	if (ulen > IMAP_PASSWD_MAX_USER) {
		imap_pw_set_err(err, db->name, line, "user name longer than "
		    "%d bytes", IMAP_PASSWD_MAX_USER);
		return -1;
	}
	/* control characters cannot be sent in LOGIN's quoted strings and
	 * would garble logs; a blank at either end is a typo, since no
	 * client sends one. Both are refused so that the line is named
	 * now, not a login that fails later. */
	for (size_t i = 0; i < ulen; i++) {
		unsigned char c = (unsigned char)f[0][i];

		if (c < 0x20 || c == 0x7f) {
			imap_pw_set_err(err, db->name, line, "control "
			    "character in user name");
			return -1;
		}
	}
	if (f[0][0] == ' ' || f[0][ulen - 1] == ' ') {
		imap_pw_set_err(err, db->name, line, "user name '%s' has "
		    "leading or trailing blanks", f[0]);
		return -1;
	}

	db->users = mail_xgrow(db->users, &db->cap, db->n + 1,
	    sizeof(*db->users));
	u = &db->users[db->n];
	memset(u, 0, sizeof(*u));
	u->pub.user = f[0];
	u->user_len = ulen;
	u->pub.line = line;
	if (imap_pw_parse_password(u, f[1], strlen(f[1]), why,
	    sizeof(why)) < 0) {
		imap_pw_set_err(err, db->name, line, "user '%s': %s", f[0],
		    why);
		return -1;
	}
	u->pub.uid = nf > 2 ? f[2] : "";
	u->pub.gid = nf > 3 ? f[3] : "";
	u->pub.gecos = nf > 4 ? f[4] : "";
	u->pub.home = nf > 5 ? f[5] : "";
	u->pub.shell = nf > 6 ? f[6] : "";
	/* uid and gid stay text (names are resolved by whoever switches to
	 * them); only their shape is checked here, so that a typo names
	 * its line. Dovecot refuses a relative home only at login. */
	if (!imap_pw_id_valid(u->pub.uid) || !imap_pw_id_valid(u->pub.gid)) {
		bool bad_uid = !imap_pw_id_valid(u->pub.uid);

		imap_pw_set_err(err, db->name, line, "user '%s': bad %s '%s'",
		    f[0], bad_uid ? "uid" : "gid", imap_pw_printable(bad_uid ?
		    u->pub.uid : u->pub.gid, shown, sizeof(shown)));
		return -1;
	}
	if (u->pub.home[0] != '\0' && u->pub.home[0] != '/') {
		imap_pw_set_err(err, db->name, line, "user '%s': home '%s' "
		    "is not an absolute path", f[0], imap_pw_printable(
		    u->pub.home, shown, sizeof(shown)));
		return -1;
	}

	u->extra_idx = db->n_extras;
	rest = nf > 7 ? f[7] : NULL;
	if (rest != NULL && rest[0] == ':') {
		/* Dovecot 1.x: an empty eighth field, then a mail location
		 * that became "userdb_mail=LOCATION"; refused rather than
		 * guessed. Only colons (empty fields) are harmless. */
		if (rest[strspn(rest, ":")] != '\0') {
			imap_pw_set_err(err, db->name, line, "user '%s': "
			    "old-style mail field after an empty field; write "
			    "userdb_mail=... as an extra field", f[0]);
			return -1;
		}
		rest = NULL;
	}
	/* space-separated "key" or "key=value" items */
	while (rest != NULL && *rest != '\0') {
		char *sp;

		if (*rest == ' ') {
			rest++;
			continue;
		}
		if (*rest == '=') {
			imap_pw_set_err(err, db->name, line, "user '%s': extra "
			    "field without a key", f[0]);
			return -1;
		}
		sp = strchr(rest, ' ');
		imap_pw_push_extra(db, rest);
		u->pub.n_extra++;
		if (sp == NULL)
			break;
		*sp = '\0';
		rest = sp + 1;
	}
	imap_pw_push_extra(db, NULL);
	db->n++;
	return 0;
}

static int
imap_pw_user_cmp(const void *a, const void *b)
{
	const struct imap_pw_user *x = a, *y = b;
	size_t n = x->user_len < y->user_len ? x->user_len : y->user_len;
	int r = memcmp(x->pub.user, y->pub.user, n);

	if (r != 0)
		return r;
	if (x->user_len != y->user_len)
		return x->user_len < y->user_len ? -1 : 1;
	return x->pub.line < y->pub.line ? -1 : x->pub.line > y->pub.line;
}

/* The cost class of a usable user ("plain", "$6$5000", "$2$10", ...). */
static void
imap_pw_class(const struct imap_pw_user *u, char *cls, size_t cls_size)
{
	char why[200];

	if (u->pub.scheme == IMAP_PASSWD_PLAIN) {
		snprintf(cls, cls_size, "plain");
		return;
	}
	if (imap_pw_crypt_shape(u->secret, u->secret_len, cls, cls_size, why,
	    sizeof(why)) == IMAP_PW_M_NONE)
		mail_assert(!"hash checked at parse time");
}

/* The stand-in for unknown and locked users: the first user (by name) of
 * the most common cost class; ties go to the class seen first. */
static void
imap_pw_choose_stand_in(struct imap_passwd *db)
{
	struct {
		char	 key[IMAP_PW_CLASS_SIZE];
		size_t	 count;
		const struct imap_pw_user *first;
	} cls[IMAP_PW_MAX_CLASSES];
	size_t n_cls = 0, best = 0;

	for (size_t i = 0; i < db->n; i++) {
		const struct imap_pw_user *u = &db->users[i];
		char key[IMAP_PW_CLASS_SIZE];
		size_t k;

		if (u->pub.scheme == IMAP_PASSWD_LOCKED)
			continue;
		imap_pw_class(u, key, sizeof(key));
		for (k = 0; k < n_cls; k++) {
			if (strcmp(cls[k].key, key) == 0)
				break;
		}
		if (k == n_cls) {
			if (n_cls == IMAP_PW_MAX_CLASSES)
				continue;
			memcpy(cls[k].key, key, sizeof(key));
			cls[k].count = 0;
			cls[k].first = u;
			n_cls++;
		}
		cls[k].count++;
	}
	for (size_t k = 1; k < n_cls; k++) {
		if (cls[k].count > cls[best].count)
			best = k;
	}
	db->stand_in = n_cls > 0 ? cls[best].first : NULL;
}

/* Parse text (len bytes plus a NUL at text[len]), taking it over: on
 * failure it is wiped and freed. */
static int
imap_pw_parse_owned(const char *name, char *text, size_t len,
    struct imap_passwd **db_r, struct mail_err *err)
{
	struct imap_passwd *db = mail_xcalloc(1, sizeof(*db));
	char *p = text, *end = text + len;
	unsigned lineno = 0;

	db->name = mail_xstrdup(name);
	db->text = text;
	db->text_size = len + 1;
	*db_r = NULL;
	if (len > IMAP_PASSWD_MAX_SIZE) {
		mail_err_set(err, MAIL_ERR_LIMIT, "'%s' is larger than %d "
		    "bytes", name, IMAP_PASSWD_MAX_SIZE);
		goto fail;
	}
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *line = p;
		size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);

		p = nl != NULL ? nl + 1 : end;
		lineno++;
		/* a NUL would silently cut the C strings the entries are */
		if (memchr(line, '\0', n) != NULL) {
			imap_pw_set_err(err, name, lineno, "NUL byte");
			goto fail;
		}
		line[n] = '\0';
		/* CRLF files: Dovecot's line reader drops the CR as well */
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		/* '#' counts only first on a line, as in Dovecot (elsewhere
		 * it may be part of a password). Dovecot would read a line of
		 * blanks as a user "   " without a password; it is skipped. */
		if (n == strspn(line, " \t") || line[0] == '#')
			continue;
		if (imap_pw_parse_line(db, line, lineno, err) < 0)
			goto fail;
	}
	mail_qsort(db->users, db->n, sizeof(*db->users), imap_pw_user_cmp);
	/* report the duplicate that comes first in the file: the earliest
	 * second occurrence (ties in name sort by line) */
	{
		const struct imap_pw_user *dup = NULL, *orig = NULL;

		for (size_t i = 1; i < db->n; i++) {
			const struct imap_pw_user *a = &db->users[i - 1];
			const struct imap_pw_user *b = &db->users[i];

			if (a->user_len == b->user_len && memcmp(a->pub.user,
			    b->pub.user, a->user_len) == 0 &&
			    (dup == NULL || b->pub.line < dup->pub.line)) {
				dup = b;
				orig = a;
			}
		}
		if (dup != NULL) {
			imap_pw_set_err(err, name, dup->pub.line, "duplicate "
			    "user '%s' (first at line %u)", dup->pub.user,
			    orig->pub.line);
			goto fail;
		}
	}
	for (size_t i = 0; i < db->n; i++)
		db->users[i].pub.extra = &db->extras[db->users[i].extra_idx];
	imap_pw_choose_stand_in(db);
	*db_r = db;
	return 0;
fail:
	imap_passwd_free(&db);
	return -1;
}

int
imap_passwd_parse(const char *name, const uint8_t *data, size_t len,
    struct imap_passwd **db_r, struct mail_err *err)
{
	char *text;

	*db_r = NULL;
	if (len > IMAP_PASSWD_MAX_SIZE)
		return mail_err_set(err, MAIL_ERR_LIMIT, "'%s' is larger "
		    "than %d bytes", name, IMAP_PASSWD_MAX_SIZE);
	text = mail_xmalloc(len + 1);
	if (len > 0)
		memcpy(text, data, len);
	text[len] = '\0';
	return imap_pw_parse_owned(name, text, len, db_r, err);
}

/* ---- files and reloading ---- */

static bool
imap_pw_ts_eq(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

static void
imap_pw_set_identity(struct imap_passwd *db, const struct stat *st,
    const struct timespec *read_at)
{
	db->from_file = true;
	db->dev = st->st_dev;
	db->ino = st->st_ino;
	db->size = st->st_size;
	db->mtime = st->st_mtim;
	db->ctime = st->st_ctim;
	/*
	 * Racy-git: file timestamps come from a coarse clock (a jiffy on
	 * Linux, a second or two on some file systems), so an edit that
	 * keeps the size and lands in the same tick as the write we read
	 * leaves the identity unchanged. Until the file is older than that
	 * window, every check reads it again.
	 */
	db->racy = read_at->tv_sec - st->st_mtim.tv_sec <= 2;
}

static bool
imap_pw_same_identity(const struct imap_passwd *db, const struct stat *st)
{
	return db->dev == st->st_dev && db->ino == st->st_ino &&
	    db->size == st->st_size && imap_pw_ts_eq(&db->mtime,
	    &st->st_mtim) && imap_pw_ts_eq(&db->ctime, &st->st_ctim);
}

static bool
imap_pw_str_eq(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

/* Do a and b hold the same users with the same fields and lines? */
static bool
imap_pw_same_content(const struct imap_passwd *a, const struct imap_passwd *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const struct imap_pw_user *x = &a->users[i], *y = &b->users[i];

		if (x->pub.line != y->pub.line || x->pub.scheme !=
		    y->pub.scheme || x->secret_len != y->secret_len ||
		    (x->secret != NULL && memcmp(x->secret, y->secret,
		    x->secret_len) != 0) || !imap_pw_str_eq(x->pub.user,
		    y->pub.user) || !imap_pw_str_eq(x->pub.uid, y->pub.uid) ||
		    !imap_pw_str_eq(x->pub.gid, y->pub.gid) ||
		    !imap_pw_str_eq(x->pub.gecos, y->pub.gecos) ||
		    !imap_pw_str_eq(x->pub.home, y->pub.home) ||
		    !imap_pw_str_eq(x->pub.shell, y->pub.shell) ||
		    x->pub.n_extra != y->pub.n_extra)
			return false;
		for (size_t k = 0; k < x->pub.n_extra; k++) {
			if (!imap_pw_str_eq(x->pub.extra[k], y->pub.extra[k]))
				return false;
		}
	}
	return true;
}

int
imap_passwd_load(const char *path, struct imap_passwd **db_r,
    struct mail_err *err)
{
	const struct mail_fs *fs = mail_fs_posix();
	struct timespec now;
	struct stat st;
	char *text = NULL;
	ssize_t got;
	int fd, ret;

	*db_r = NULL;
	if ((fd = mail_fs_open(fs, path, O_RDONLY | O_CLOEXEC, 0, err)) < 0)
		return -1;
	/* the time of the read, taken before it, for the racy check */
	clock_gettime(CLOCK_REALTIME, &now);
	if (fstat(fd, &st) < 0) {
		mail_err_sys(err, errno, "fstat '%s'", path);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		mail_err_set(err, MAIL_ERR_PARAM, "'%s' is not a regular file",
		    path);
		goto fail;
	}
	if (st.st_size > IMAP_PASSWD_MAX_SIZE) {
		mail_err_set(err, MAIL_ERR_LIMIT, "'%s' is larger than %d "
		    "bytes", path, IMAP_PASSWD_MAX_SIZE);
		goto fail;
	}
	text = mail_xmalloc((size_t)st.st_size + 1);
	got = mail_fs_pread_full(fs, fd, text, (size_t)st.st_size, 0, path,
	    err);
	if (got < 0)
		goto fail;
	/* a file that shrank since the fstat: parse what is there; its new
	 * identity differs, so the next check reads it again */
	text[got] = '\0';
	mail_fs_close(fs, &fd);
	ret = imap_pw_parse_owned(path, text, (size_t)got, db_r, err);
	if (ret == 0)
		imap_pw_set_identity(*db_r, &st, &now);
	return ret;
fail:
	if (text != NULL) {
		explicit_bzero(text, (size_t)st.st_size + 1);
		free(text);
	}
	mail_fs_close(fs, &fd);
	return -1;
}

int
imap_passwd_reload_if_changed(struct imap_passwd **dbp, struct mail_err *err)
{
	struct imap_passwd *old = *dbp, *db = NULL;
	struct stat st;

	if (!old->from_file)
		return 0;
	/* the path, not an fd kept open: editors and "mv new passwd"
	 * replace the file, and what the name points to is what counts */
	if (stat(old->name, &st) < 0)
		return mail_err_sys(err, errno, "stat '%s'", old->name);
	if (!old->racy && imap_pw_same_identity(old, &st))
		return 0;
	if (imap_passwd_load(old->name, &db, err) < 0)
		return -1;
	if (imap_pw_same_content(old, db)) {
		/* reread because it was racy or touched, but it says the
		 * same: keep the old database, so entry pointers stay
		 * valid */
		old->dev = db->dev;
		old->ino = db->ino;
		old->size = db->size;
		old->mtime = db->mtime;
		old->ctime = db->ctime;
		old->racy = db->racy;
		imap_passwd_free(&db);
		return 0;
	}
	imap_passwd_free(dbp);
	*dbp = db;
	return 1;
}

void
imap_passwd_free(struct imap_passwd **dbp)
{
	struct imap_passwd *db = *dbp;

	if (db == NULL)
		return;
	if (db->text != NULL) {
		explicit_bzero(db->text, db->text_size);
		free(db->text);
	}
	free(db->users);
	free(db->extras);
	free(db->name);
	free(db);
	*dbp = NULL;
}

/* ---- lookups and verification ---- */

const char *
imap_passwd_name(const struct imap_passwd *db)
{
	return db->name;
}

size_t
imap_passwd_count(const struct imap_passwd *db)
{
	return db->n;
}

const struct imap_passwd_entry *
imap_passwd_entry(const struct imap_passwd *db, size_t i)
{
	mail_assert(i < db->n);
	return &db->users[i].pub;
}

static const struct imap_pw_user *
imap_pw_find(const struct imap_passwd *db, const char *user, size_t user_len)
{
	size_t lo = 0, hi = db->n;

	/* bytes and length exactly, in the order imap_pw_user_cmp sorts */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct imap_pw_user *u = &db->users[mid];
		size_t n = u->user_len < user_len ? u->user_len : user_len;
		int r = n > 0 ? memcmp(u->pub.user, user, n) : 0;

		if (r == 0 && u->user_len != user_len)
			r = u->user_len < user_len ? -1 : 1;
		if (r == 0)
			return u;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct imap_passwd_entry *
imap_passwd_lookup(const struct imap_passwd *db, const char *user,
    size_t user_len)
{
	const struct imap_pw_user *u = imap_pw_find(db, user, user_len);

	return u != NULL ? &u->pub : NULL;
}

/* Does password match u's secret? 1, 0, or -1 when libcrypt fails. */
static int
imap_pw_check(const struct imap_pw_user *u, const char *password,
    size_t password_len, struct mail_err *err)
{
	char phrase[IMAP_PASSWD_MAX_PASSWORD + 1];
	struct crypt_data *cd;
	const char *out;
	int ret;

	if (u->pub.scheme == IMAP_PASSWD_PLAIN)
		return imap_pw_ct_equal((const uint8_t *)password,
		    password_len, u->secret, u->secret_len) ? 1 : 0;

	/* crypt takes a C string: a password with a NUL still gets hashed
	 * (up to the NUL), so it costs the same, but never matches */
	memcpy(phrase, password, password_len);
	phrase[password_len] = '\0';
	cd = mail_xcalloc(1, sizeof(*cd));	/* ~32 KiB: not on the stack */
	out = crypt_rn(phrase, u->secret, cd, (int)sizeof(*cd));
	if (out == NULL) {
		ret = mail_err_sys(err, errno != 0 ? errno : EINVAL,
		    "crypt_rn");
		err->code = MAIL_ERR_INTERNAL;
	} else {
		ret = imap_pw_ct_equal((const uint8_t *)out, strlen(out),
		    u->secret, u->secret_len) &&
		    memchr(password, '\0', password_len) == NULL ? 1 : 0;
	}
	explicit_bzero(phrase, sizeof(phrase));
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ret;
}

int
imap_passwd_verify(const struct imap_passwd *db, const char *user,
    size_t user_len, const char *password, size_t password_len,
    struct mail_err *err)
{
	const struct imap_pw_user *u, *target;
	int ok;

	/* decided on the length alone, before the user is looked at */
	if (password_len == 0 || password_len > IMAP_PASSWD_MAX_PASSWORD)
		return 0;
	/*
	 * Whatever the user, exactly one check of one entry runs: the user's
	 * own, or the stand-in's for a name that does not exist or cannot
	 * log in. Only the binary search differs between names, by a few
	 * string compares against a hash that takes milliseconds.
	 */
	u = imap_pw_find(db, user, user_len);
	target = u != NULL && u->pub.scheme != IMAP_PASSWD_LOCKED ? u :
	    db->stand_in;
	if (target == NULL)
		return 0;	/* no user can log in: nothing to hide */
	if ((ok = imap_pw_check(target, password, password_len, err)) < 0)
		return -1;
	/* a stand-in's match (someone typed its password with another
	 * name) counts for nothing */
	return target == u && ok == 1 ? 1 : 0;
}

/* ---- base64 and SASL PLAIN ---- */

/*
 * Strict on purpose: a client that sends line breaks, blanks or garbage
 * bits in an AUTHENTICATE response is broken (RFC 9051 6.2.2 says the
 * response is plain BASE64), and one accepted spelling per byte string
 * keeps the decoder easy to test against the encoder.
 */
ssize_t
imap_passwd_base64_decode(const char *in, size_t len, uint8_t *out,
    size_t out_size, struct mail_err *err)
{
	size_t pad = 0, n = 0;

	if (len == 1 && in[0] == '=')
		return 0;		/* SASL's empty response */
	if (len % 4 != 0)
		return mail_err_set(err, MAIL_ERR_PROTO, "base64 length %zu "
		    "is not a multiple of 4", len);
	if (len > 0 && in[len - 1] == '=')
		pad = len > 1 && in[len - 2] == '=' ? 2 : 1;
	if (len / 4 * 3 - pad > out_size)
		return mail_err_set(err, MAIL_ERR_LIMIT, "base64 decodes to "
		    "more than %zu bytes", out_size);
	for (size_t i = 0; i < len; i += 4) {
		bool last = i + 4 == len;
		int v[4];

		for (size_t k = 0; k < 4; k++) {
			if (last && k >= 4 - pad) {
				v[k] = 0;
				continue;
			}
			if ((v[k] = mail_base64_value(in[i + k], '/')) < 0)
				return mail_err_set(err, MAIL_ERR_PROTO,
				    "invalid base64 character at offset %zu",
				    i + k);
		}
		/* canonical: the bits of the last group that no byte uses
		 * must be zero (RFC 4648 3.5 allows refusing them) */
		if (last && ((pad == 1 && (v[2] & 3) != 0) ||
		    (pad == 2 && (v[1] & 15) != 0)))
			return mail_err_set(err, MAIL_ERR_PROTO,
			    "non-canonical base64 padding bits");
		out[n++] = (uint8_t)(v[0] << 2 | v[1] >> 4);
		if (!last || pad < 2)
			out[n++] = (uint8_t)((v[1] & 15) << 4 | v[2] >> 2);
		if (!last || pad < 1)
			out[n++] = (uint8_t)((v[2] & 3) << 6 | v[3]);
	}
	return (ssize_t)n;
}

void
imap_passwd_base64_encode(const void *in, size_t len, struct mail_buf *out)
{
	const uint8_t *p = in;

	mail_buf_reserve(out, IMAP_PASSWD_B64_ENCODED_LEN(len));
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		char q[4];

		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		q[0] = imap_pw_b64[v >> 18];
		q[1] = imap_pw_b64[(v >> 12) & 63];
		q[2] = i + 1 < len ? imap_pw_b64[(v >> 6) & 63] : '=';
		q[3] = i + 2 < len ? imap_pw_b64[v & 63] : '=';
		mail_buf_append(out, q, 4);
	}
}

int
imap_passwd_sasl_plain_decode(const uint8_t *data, size_t len,
    char **authzid_r, char **authcid_r, char **password_r,
    struct mail_err *err)
{
	const uint8_t *nul1, *nul2, *cid, *pw;
	size_t zlen, clen, plen;

	*authzid_r = *authcid_r = *password_r = NULL;
	if (len > IMAP_PASSWD_SASL_PLAIN_MAX)
		return mail_err_set(err, MAIL_ERR_LIMIT, "PLAIN response "
		    "longer than %d bytes", IMAP_PASSWD_SASL_PLAIN_MAX);
	/*
	 * RFC 4616 2: message = [authzid] UTF8NUL authcid UTF8NUL passwd,
	 * authcid and passwd 1*SAFE (so neither is empty and none holds a
	 * NUL). The messages say what is wrong without quoting any of the
	 * bytes: they may be a password sent in the wrong field.
	 */
	if (len == 0 || (nul1 = memchr(data, '\0', len)) == NULL)
		return mail_err_set(err, MAIL_ERR_PROTO, "malformed PLAIN "
		    "response: no NUL separator");
	cid = nul1 + 1;
	if ((nul2 = memchr(cid, '\0', len - (size_t)(cid - data))) == NULL)
		return mail_err_set(err, MAIL_ERR_PROTO, "malformed PLAIN "
		    "response: one NUL separator, not two");
	pw = nul2 + 1;
	zlen = (size_t)(nul1 - data);
	clen = (size_t)(nul2 - cid);
	plen = len - (size_t)(pw - data);
	if (memchr(pw, '\0', plen) != NULL)
		return mail_err_set(err, MAIL_ERR_PROTO, "malformed PLAIN "
		    "response: more than two NUL bytes");
	if (clen == 0)
		return mail_err_set(err, MAIL_ERR_PROTO, "malformed PLAIN "
		    "response: empty authentication identity");
	if (plen == 0)
		return mail_err_set(err, MAIL_ERR_PROTO, "malformed PLAIN "
		    "response: empty password");
	if (zlen > IMAP_PASSWD_MAX_USER || clen > IMAP_PASSWD_MAX_USER)
		return mail_err_set(err, MAIL_ERR_PROTO, "malformed PLAIN "
		    "response: identity longer than %d bytes",
		    IMAP_PASSWD_MAX_USER);
	if (plen > IMAP_PASSWD_MAX_PASSWORD)
		return mail_err_set(err, MAIL_ERR_PROTO, "malformed PLAIN "
		    "response: password longer than %d bytes",
		    IMAP_PASSWD_MAX_PASSWORD);
	if (!imap_pw_utf8_valid(data, zlen) || !imap_pw_utf8_valid(cid, clen))
		return mail_err_set(err, MAIL_ERR_PROTO, "malformed PLAIN "
		    "response: identity is not UTF-8");
	*authzid_r = mail_xstrndup((const char *)data, zlen);
	*authcid_r = mail_xstrndup((const char *)cid, clen);
	/* exact size, no realloc: the only heap copy is the caller's */
	*password_r = mail_xmalloc(plen + 1);
	memcpy(*password_r, pw, plen);
	(*password_r)[plen] = '\0';
	return 0;
}

int
imap_passwd_sasl_plain_decode_base64(const char *b64, size_t len,
    char **authzid_r, char **authcid_r, char **password_r,
    struct mail_err *err)
{
	uint8_t buf[IMAP_PASSWD_SASL_PLAIN_MAX];
	ssize_t n;
	int ret;

	*authzid_r = *authcid_r = *password_r = NULL;
	if (len > IMAP_PASSWD_B64_ENCODED_LEN(IMAP_PASSWD_SASL_PLAIN_MAX))
		return mail_err_set(err, MAIL_ERR_LIMIT, "PLAIN response "
		    "longer than %d bytes", IMAP_PASSWD_SASL_PLAIN_MAX);
	n = imap_passwd_base64_decode(b64, len, buf, sizeof(buf), err);
	ret = n < 0 ? -1 : imap_passwd_sasl_plain_decode(buf, (size_t)n,
	    authzid_r, authcid_r, password_r, err);
	explicit_bzero(buf, sizeof(buf));
	return ret;
}

void
imap_passwd_secret_free(char **sp)
{
	if (*sp == NULL)
		return;
	explicit_bzero(*sp, strlen(*sp));
	free(*sp);
	*sp = NULL;
}
