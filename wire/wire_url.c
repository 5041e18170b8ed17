/*
 * wire_url.c: parsing peer locations. Strict where a mistake would send
 * data somewhere unexpected: unknown schemes, IPv6 addresses without
 * brackets, passwords, and host or user names that start with '-' (which
 * ssh would take for an option) are refused instead of guessed at.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wire_url.h"

static int
wire_url_bad(struct mail_err *err, const char *s, const char *what)
{
	return mail_err_set(err, MAIL_ERR_PARAM, "bad location '%.100s': %s",
	    s, what);
}

/* Length of a leading "scheme:" name (RFC 3986 3.1), 0 if none. */
static size_t
wire_url_scheme_len(const char *s)
{
	size_t n = 0;

	if (!isalpha((unsigned char)s[0]))
		return 0;
	while (isalnum((unsigned char)s[n]) || s[n] == '+' || s[n] == '-' ||
	    s[n] == '.')
		n++;
	return s[n] == ':' ? n : 0;
}

static bool
wire_url_has_ctrl(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (iscntrl((unsigned char)p[i]))
			return true;
	return false;
}

/* A DNS name or IPv4 address; inside brackets also IPv6 (with a zone). */
static bool
wire_url_host_ok(const char *p, size_t n, bool bracketed)
{
	if (n == 0 || p[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (isalnum(ch) || ch == '.' || ch == '-' || ch == '_')
			continue;
		if (bracketed && (ch == ':' || ch == '%'))
			continue;
		return false;
	}
	return true;
}

/* "65535" -> 65535; -1 unless 1..65535 in plain decimal digits. */
static int
wire_url_port(const char *p, size_t n)
{
	int port = 0;

	if (n == 0 || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)p[i]))
			return -1;
		port = port * 10 + (p[i] - '0');
	}
	return port >= 1 && port <= 65535 ? port : -1;
}

/* The host and port part of an ssh URL: host, [v6], host:port,
 * [v6]:port. */
static int
wire_url_hostport(const char *s, const char *p, size_t n, struct wire_url *u,
    struct mail_err *err)
{
	const char *host = p, *colon, *port;
	size_t hlen;
	bool bracketed = n > 0 && p[0] == '[';

	if (bracketed) {
		const char *close = memchr(p, ']', n);

		if (close == NULL)
			return wire_url_bad(err, s,
			    "missing ']' after IPv6 address");
		host = p + 1;
		hlen = (size_t)(close - host);
		colon = close + 1 < p + n ? close + 1 : NULL;
		if (colon != NULL && *colon != ':')
			return wire_url_bad(err, s,
			    "expected ':' or '/' after ']'");
	} else {
		colon = memchr(p, ':', n);
		hlen = colon != NULL ? (size_t)(colon - p) : n;
		if (colon != NULL &&
		    memchr(colon + 1, ':', (size_t)(p + n - colon - 1)) != NULL)
			return wire_url_bad(err, s,
			    "IPv6 addresses need brackets, as in ssh://[::1]/path");
	}
	if (hlen == 0)
		return wire_url_bad(err, s, "empty host");
	if (!wire_url_host_ok(host, hlen, bracketed))
		return wire_url_bad(err, s, "bad host name");
	if (colon != NULL) {
		port = colon + 1;
		if ((u->port = wire_url_port(port, (size_t)(p + n - port))) < 0)
			return wire_url_bad(err, s, "bad port (want 1..65535)");
	}
	u->host = mail_xstrndup(host, hlen);
	return 0;
}

/* rest: what follows "ssh://". */
static int
wire_url_ssh(const char *s, const char *rest, struct wire_url *u,
    struct mail_err *err)
{
	const char *slash = strchr(rest, '/'), *at, *hp;
	size_t alen;

	alen = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
	if (wire_url_has_ctrl(rest, strlen(rest)))
		return wire_url_bad(err, s, "control character");
	at = memrchr(rest, '@', alen);
	hp = rest;
	if (at != NULL) {
		if (at == rest)
			return wire_url_bad(err, s, "empty user");
		if (memchr(rest, ':', (size_t)(at - rest)) != NULL)
			return wire_url_bad(err, s,
			    "passwords in locations are not supported");
		if (rest[0] == '-')
			return wire_url_bad(err, s, "user starts with '-'");
		u->user = mail_xstrndup(rest, (size_t)(at - rest));
		hp = at + 1;
	}
	if (wire_url_hostport(s, hp, (size_t)(rest + alen - hp), u, err) < 0)
		return -1;
	if (slash == NULL || slash[1] == '\0')
		return wire_url_bad(err, s, "missing path after the host");
	u->path = mail_xstrdup(slash);
	u->kind = WIRE_URL_SSH;
	return 0;
}

int
wire_url_parse(const char *s, struct wire_url *u, struct mail_err *err)
{
	size_t slen = wire_url_scheme_len(s);
	int ret = 0;

	memset(u, 0, sizeof(*u));
	if (s[0] == '\0')
		return wire_url_bad(err, s, "empty location");
	if (slen == 5 && strncasecmp(s, "local", 5) == 0) {
		if (s[6] == '\0')
			return wire_url_bad(err, s,
			    "missing path after 'local:'");
		u->kind = WIRE_URL_LOCAL;
		u->path = mail_xstrdup(s + 6);
	} else if (slen == 3 && strncasecmp(s, "ssh", 3) == 0) {
		if (strncmp(s + 3, "://", 3) != 0)
			return wire_url_bad(err, s,
			    "expected ssh://[user@]host[:port]/path");
		ret = wire_url_ssh(s, s + 6, u, err);
	} else if (slen > 0 && strncmp(s + slen, "://", 3) == 0) {
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "bad location '%.100s': unknown scheme '%.*s' (want a path, local:PATH or ssh://)",
		    s, (int)slen, s);
	} else {
		u->kind = WIRE_URL_PATH;
		u->path = mail_xstrdup(s);
	}
	if (ret < 0)
		wire_url_free(u);
	return ret;
}

void
wire_url_free(struct wire_url *u)
{
	free(u->user);
	free(u->host);
	free(u->path);
	memset(u, 0, sizeof(*u));
}
