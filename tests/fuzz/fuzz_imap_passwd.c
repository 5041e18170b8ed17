/*
 * fuzz_imap_passwd.c: the passwd-file parser, the SASL PLAIN decoder and
 * base64 on hostile bytes. The same input is used three ways:
 *
 *  1. As a passwd file. It parses or fails with a "fuzz:LINE: " message.
 *     A parsed database must find every user by name, list them sorted,
 *     and, for files without crypt hashes (hashing is libcrypt's business
 *     and slow), accept each PLAIN user's password as an independent
 *     reading of the line gives it and refuse it with a byte added or
 *     for another name.
 *  2. As a decoded PLAIN response: on success the three fields joined by
 *     NULs are the input; the base64 path agrees with the raw one.
 *  3. As base64 text: what decodes re-encodes to the same text (strict,
 *     canonical decoding), and every input survives encode + decode.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_passwd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The password of the PLAIN user on 1-based line lineno, read straight
 * from the text: the second ':'-separated field minus "{PLAIN}" or
 * "{CLEARTEXT}". Sets *pw and *len (borrowed from data). */
static void
fuzz_plain_password(const uint8_t *data, size_t size, unsigned lineno,
    const char **pw, size_t *len)
{
	const char *p = (const char *)data, *end = p + size, *nl, *c, *c2;
	size_t n;

	for (unsigned i = 1; i < lineno; i++) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			abort();
		p = nl + 1;
	}
	nl = memchr(p, '\n', (size_t)(end - p));
	n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
	if (n > 0 && p[n - 1] == '\r')
		n--;
	if ((c = memchr(p, ':', n)) == NULL)
		abort();
	c++;
	c2 = memchr(c, ':', n - (size_t)(c - p));
	n = c2 != NULL ? (size_t)(c2 - c) : n - (size_t)(c - p);
	if (n >= 7 && strncasecmp(c, "{PLAIN}", 7) == 0) {
		c += 7;
		n -= 7;
	} else if (n >= 11 && strncasecmp(c, "{CLEARTEXT}", 11) == 0) {
		c += 11;
		n -= 11;
	} else {
		abort();
	}
	*pw = c;
	*len = n;
}

static void
fuzz_passwd(const uint8_t *data, size_t size)
{
	struct imap_passwd *db = NULL;
	struct mail_err err;
	bool any_crypt = false;
	size_t n;

	if (imap_passwd_parse("fuzz", data, size, &db, &err) < 0) {
		if (db != NULL || (err.code != MAIL_ERR_PARAM &&
		    err.code != MAIL_ERR_LIMIT) ||
		    strncmp(err.msg, "fuzz:", 5) != 0)
			abort();
		return;
	}
	n = imap_passwd_count(db);
	for (size_t i = 0; i < n; i++) {
		const struct imap_passwd_entry *e = imap_passwd_entry(db, i);
		size_t ulen = strlen(e->user);

		if (ulen == 0 || ulen > IMAP_PASSWD_MAX_USER ||
		    strchr(e->user, ':') != NULL ||
		    imap_passwd_lookup(db, e->user, ulen) != e ||
		    e->extra[e->n_extra] != NULL)
			abort();
		if (i > 0) {
			const char *prev = imap_passwd_entry(db, i - 1)->user;
			size_t plen = strlen(prev);
			int r = memcmp(prev, e->user,
			    plen < ulen ? plen : ulen);

			if (r > 0 || (r == 0 && plen >= ulen))
				abort();	/* not strictly sorted */
		}
		if (e->scheme == IMAP_PASSWD_CRYPT)
			any_crypt = true;
	}
	for (size_t i = 0; i < n && !any_crypt; i++) {
		const struct imap_passwd_entry *e = imap_passwd_entry(db, i);
		size_t ulen = strlen(e->user), pwlen;
		const char *pw;
		char more[IMAP_PASSWD_MAX_PASSWORD + 1];
		int r;

		if (e->scheme != IMAP_PASSWD_PLAIN) {
			if (imap_passwd_verify(db, e->user, ulen, "x", 1,
			    &err) != 0)
				abort();
			continue;
		}
		fuzz_plain_password(data, size, e->line, &pw, &pwlen);
		r = imap_passwd_verify(db, e->user, ulen, pw, pwlen, &err);
		if (r != 1)
			abort();
		if (pwlen < sizeof(more)) {
			memcpy(more, pw, pwlen);
			more[pwlen] = 'x';
			if (imap_passwd_verify(db, e->user, ulen, more,
			    pwlen + 1, &err) != 0)
				abort();
		}
		/* one byte short of the name: another user, or nobody */
		r = imap_passwd_verify(db, e->user, ulen - 1, pw, pwlen, &err);
		if (r < 0 || (r == 1 && imap_passwd_lookup(db, e->user,
		    ulen - 1) == NULL))
			abort();
	}
	imap_passwd_free(&db);
}

static void
fuzz_sasl(const uint8_t *data, size_t size)
{
	struct mail_buf b64 = MAIL_BUF_INIT;
	struct mail_err err, err2;
	char *z, *c, *p, *z2, *c2, *p2;
	int r, r2;

	r = imap_passwd_sasl_plain_decode(data, size, &z, &c, &p, &err);
	imap_passwd_base64_encode(data, size, &b64);
	r2 = imap_passwd_sasl_plain_decode_base64(b64.len > 0 ?
	    (const char *)b64.data : "", b64.len, &z2, &c2, &p2, &err2);
	if (r != r2 || (r < 0 && err.code != err2.code))
		abort();
	if (r == 0) {
		size_t zl = strlen(z), cl = strlen(c), pl = strlen(p);

		if (zl + cl + pl + 2 != size || cl == 0 || pl == 0 ||
		    memcmp(data, z, zl) != 0 || data[zl] != '\0' ||
		    memcmp(data + zl + 1, c, cl) != 0 ||
		    data[zl + 1 + cl] != '\0' ||
		    memcmp(data + zl + cl + 2, p, pl) != 0 ||
		    strcmp(z, z2) != 0 || strcmp(c, c2) != 0 ||
		    strcmp(p, p2) != 0)
			abort();
		free(z);
		free(c);
		imap_passwd_secret_free(&p);
		free(z2);
		free(c2);
		imap_passwd_secret_free(&p2);
	} else if (z != NULL || c != NULL || p != NULL || z2 != NULL ||
	    c2 != NULL || p2 != NULL) {
		abort();
	}
	mail_buf_free(&b64);
}

static void
fuzz_base64(const uint8_t *data, size_t size)
{
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_err err;
	uint8_t *out = malloc(size / 4 * 3 + 1);
	ssize_t n;

	if (out == NULL)
		abort();
	/* decode, then encode back: the same text */
	n = imap_passwd_base64_decode((const char *)data, size, out,
	    size / 4 * 3, &err);
	if (n >= 0) {
		imap_passwd_base64_encode(out, (size_t)n, &b);
		if (!(size == 1 && data[0] == '=' && b.len == 0) &&
		    (b.len != size || (size > 0 && memcmp(b.data, data,
		    size) != 0)))
			abort();
		mail_buf_reset(&b);
	} else if (err.code != MAIL_ERR_PROTO) {
		abort();
	}
	free(out);

	/* encode, then decode back: the same bytes */
	out = malloc(size + 1);
	if (out == NULL)
		abort();
	imap_passwd_base64_encode(data, size, &b);
	if (b.len != IMAP_PASSWD_B64_ENCODED_LEN(size))
		abort();
	n = imap_passwd_base64_decode(b.len > 0 ? (const char *)b.data : "",
	    b.len, out, size, &err);
	if (n != (ssize_t)size || (size > 0 && memcmp(out, data, size) != 0))
		abort();
	free(out);
	mail_buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_passwd(data, size);
	fuzz_sasl(data, size);
	fuzz_base64(data, size);
	return 0;
}
