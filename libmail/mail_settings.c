/*
 * mail_settings.c: the settings table and the checks and getters built on
 * it. Values stay text in struct mail_conf (so "dsync config" prints them
 * as written); they are parsed once by mail_settings_check, which makes
 * every later parse in a getter infallible.
 *
 * A duration's plain number means seconds: lock_timeout was read as
 * seconds before units existed, and "30" must keep meaning 30 seconds.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>

#include "mail_settings.h"

#define SEC	1000ULL
#define MINUTE	(60 * SEC)
#define HOUR	(60 * MINUTE)
#define DAY	(24 * HOUR)

#define STR	MAIL_SETTING_STR
#define PATH	MAIL_SETTING_PATH
#define BOOL	MAIL_SETTING_BOOL
#define UINT	MAIL_SETTING_UINT
#define DUR	MAIL_SETTING_DURATION
#define SIZE	MAIL_SETTING_SIZE
#define ENUM	MAIL_SETTING_ENUM
#define SECRET	MAIL_SETTING_SECRET
#define REQ	MAIL_SETTING_REQUIRED
#define HOST	MAIL_SETTING_HOSTNAME

/* kind, key, type, default, min, max, enum words, flags */
static const struct mail_setting_def defs[] = {
	{ "", "store", PATH, "/var/lib/dsync/store", 0, 0, NULL, 0 },
	{ "", "node", STR, "", 0, 0, NULL, HOST },
	{ "", "control_socket", PATH, "/run/dsync/control", 0, 0, NULL, 0 },
	{ "", "lock_timeout", DUR, "30s", 0, HOUR, NULL, 0 },
	{ "", "mail_user", STR, "", 0, 0, NULL, 0 },
	{ "", "log", ENUM, "syslog", 0, 0, "stderr, syslog", 0 },
	{ "", "log_level", ENUM, "info", 0, 0, "error, warning, info, debug",
	    0 },
	{ "", "full_sync_interval", DUR, "1d", 0, 365 * DAY, NULL, 0 },
	{ "", "batch_delay", DUR, "3ms", 0, HOUR, NULL, 0 },
	{ "", "retry_min", DUR, "1s", 100, HOUR, NULL, 0 },
	{ "", "retry_max", DUR, "5m", SEC, DAY, NULL, 0 },
	{ "", "replication_timeout", DUR, "10s", 0, HOUR, NULL, 0 },
	{ "", "replication_wait", UINT, "0", 0, 64, NULL, 0 },
	{ "peer", "url", STR, "", 0, 0, NULL, REQ },
	{ "peer", "ssh_command", STR, "", 0, 0, NULL, 0 },
	{ "peer", "identity_file", PATH, "", 0, 0, NULL, 0 },
	{ "peer", "passphrase_file", SECRET, "", 0, 0, NULL, 0 },
	{ "peer", "known_hosts", PATH, "", 0, 0, NULL, 0 },
	{ "peer", "accept_new_host_key", BOOL, "no", 0, 0, NULL, 0 },
	{ "peer", "compress", UINT, "0", 0, 9, NULL, 0 },
	{ "peer", "remote_dsync", STR, "dsync", 0, 0, NULL, 0 },
	{ "peer", "timeout", DUR, "120s", SEC, DAY, NULL, 0 },
	{ "peer", "paused", BOOL, "no", 0, 0, NULL, 0 },
	{ "imap", "listen", STR, "127.0.0.1:1143", 0, 0, NULL, 0 },
	{ "imap", "passdb", STR, "passwd-file:/etc/dsync/passwd", 0, 0, NULL,
	    0 },
	{ "imap", "tls_listen", STR, "", 0, 0, NULL, 0 },
	{ "imap", "tls_cert", PATH, "", 0, 0, NULL, 0 },
	{ "imap", "tls_key", PATH, "", 0, 0, NULL, 0 },
	{ "imap", "plaintext_auth", ENUM, "loopback", 0, 0,
	    "no, loopback, yes", 0 },
	{ "imap", "max_connections", UINT, "20000", 1, 1000000, NULL, 0 },
	{ "imap", "max_line", SIZE, "64K", 1024, 16 * 1024 * 1024, NULL, 0 },
	{ "imap", "max_append", SIZE, "64M", 1024, 1024ULL * 1024 * 1024,
	    NULL, 0 },
	{ "imap", "login_timeout", DUR, "60s", SEC, HOUR, NULL, 0 },
	{ "imap", "idle_timeout", DUR, "30m", MINUTE, DAY, NULL, 0 },
	{ "imap", "auth_failure_delay", DUR, "2s", 0, MINUTE, NULL, 0 },
	{ "imap", "max_auth_failures", UINT, "3", 1, 100, NULL, 0 },
	{ "imap", "create_users", BOOL, "yes", 0, 0, NULL, 0 },
};

/* Section kinds ("": the top level) and whether they take a name. */
static const struct {
	const char *kind;
	bool	 named;
} kinds[] = {
	{ "", false },
	{ "peer", true },
	{ "imap", false },
};

const struct mail_setting_def *
mail_settings_defs(size_t *n_r)
{
	*n_r = N_ELEMENTS(defs);
	return defs;
}

const struct mail_setting_def *
mail_settings_find(const char *kind, const char *key)
{
	for (size_t i = 0; i < N_ELEMENTS(defs); i++) {
		if (strcmp(defs[i].kind, kind) == 0 &&
		    strcmp(defs[i].key, key) == 0)
			return &defs[i];
	}
	return NULL;
}

static int
kind_index(const char *kind)
{
	for (size_t i = 0; i < N_ELEMENTS(kinds); i++) {
		if (strcmp(kinds[i].kind, kind) == 0)
			return (int)i;
	}
	return -1;
}

bool
mail_settings_kind_named(const char *kind)
{
	int k = kind_index(kind);

	mail_assert(k >= 0);
	return kinds[k].named;
}

/* Digits, then *end_r points at what follows. At least one digit, no
 * sign, no overflow. */
static bool
parse_digits(const char *s, uint64_t *n_r, const char **end_r)
{
	uint64_t n = 0;

	if (!isdigit((unsigned char)*s))
		return false;
	for (; isdigit((unsigned char)*s); s++) {
		if (__builtin_mul_overflow(n, 10, &n) ||
		    __builtin_add_overflow(n, (uint64_t)(*s - '0'), &n))
			return false;
	}
	*n_r = n;
	*end_r = s;
	return true;
}

/* A number with an optional unit from units (NULL-terminated name and
 * factor pairs; "" is the unit of a plain number). */
static bool
parse_scaled(const char *s, const char *const *names, const uint64_t *mul,
    uint64_t *n_r)
{
	const char *end;
	uint64_t n;

	if (!parse_digits(s, &n, &end))
		return false;
	for (size_t i = 0; names[i] != NULL; i++) {
		if (strcmp(end, names[i]) == 0)
			return !__builtin_mul_overflow(n, mul[i], n_r);
	}
	return false;
}

/* The shortest text for a bound: the largest unit that divides it. */
static void
fmt_scaled(char *buf, size_t size, uint64_t n, const char *const *names,
    const uint64_t *mul, size_t count)
{
	size_t i = count - 1;

	if (n == 0) {
		snprintf(buf, size, "0");
		return;
	}
	while (i > 0 && n % mul[i] != 0)
		i--;
	snprintf(buf, size, "%llu%s", (unsigned long long)(n / mul[i]),
	    names[i]);
}

static const char *const dur_names[] = { "ms", "s", "m", "h", "d", "",
	NULL };
static const uint64_t dur_mul[] = { 1, SEC, MINUTE, HOUR, DAY, SEC };
static const char *const size_names[] = { "", "K", "M", "G", "k", "m", "g",
	NULL };
static const uint64_t size_mul[] = { 1, 1ULL << 10, 1ULL << 20, 1ULL << 30,
	1ULL << 10, 1ULL << 20, 1ULL << 30 };

/* The index of word in a "a, b, c" list, or -1. */
static int
word_index(const char *words, const char *word)
{
	size_t n = strlen(word);
	int i = 0;

	for (const char *p = words; *p != '\0'; i++) {
		size_t len = strcspn(p, ",");

		if (len == n && n > 0 && memcmp(p, word, n) == 0)
			return i;
		p += len;
		p += strspn(p, ", ");
	}
	return -1;
}

int
mail_settings_parse(const struct mail_setting_def *d, const char *v,
    uint64_t *num_r, struct mail_err *err)
{
	static const char *const bools[] = { "no", "yes", "false", "true",
		"off", "on", "0", "1" };
	char lo[32], hi[32];
	const char *end;
	uint64_t n = 0;
	char *q;

	*num_r = 0;
	for (const char *p = v; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 && *p != '\t')
			return mail_err_set(err, MAIL_ERR_PARAM,
			    "'%s' must not contain control characters",
			    d->key);
	}
	/* only -o can give such a value; refusing it keeps every checked
	 * configuration printable by "dsync config" */
	if ((q = mail_conf_quote(v)) == NULL)
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "'%s' can not both start with '\"' and need quotes",
		    d->key);
	free(q);
	if ((d->flags & MAIL_SETTING_REQUIRED) != 0 && *v == '\0')
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "'%s' must not be empty", d->key);
	switch (d->type) {
	case MAIL_SETTING_STR:
		return 0;
	case MAIL_SETTING_PATH:
	case MAIL_SETTING_SECRET:
		if (v[0] == '/' || (v[0] == '\0' && d->def[0] == '\0'))
			return 0;
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "'%s' must be an absolute path%s, not '%.64s'", d->key,
		    d->def[0] == '\0' ? " or empty" : "", v);
	case MAIL_SETTING_BOOL:
		for (size_t i = 0; i < N_ELEMENTS(bools); i++) {
			if (strcasecmp(v, bools[i]) == 0) {
				*num_r = i % 2;
				return 0;
			}
		}
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "'%s' must be yes or no (true/false, on/off, 1/0), not "
		    "'%.64s'", d->key, v);
	case MAIL_SETTING_UINT:
		if (!parse_digits(v, &n, &end) || *end != '\0' || n < d->min ||
		    n > d->max)
			return mail_err_set(err, MAIL_ERR_PARAM,
			    "'%s' must be a number in %llu..%llu, not '%.64s'",
			    d->key, (unsigned long long)d->min,
			    (unsigned long long)d->max, v);
		*num_r = n;
		return 0;
	case MAIL_SETTING_DURATION:
		if (!parse_scaled(v, dur_names, dur_mul, &n) || n < d->min ||
		    n > d->max) {
			fmt_scaled(lo, sizeof(lo), d->min, dur_names, dur_mul,
			    5);
			fmt_scaled(hi, sizeof(hi), d->max, dur_names, dur_mul,
			    5);
			return mail_err_set(err, MAIL_ERR_PARAM,
			    "'%s' must be a duration in %s..%s (seconds, or "
			    "a number with ms, s, m, h or d), not '%.64s'",
			    d->key, lo, hi, v);
		}
		*num_r = n;
		return 0;
	case MAIL_SETTING_SIZE:
		if (!parse_scaled(v, size_names, size_mul, &n) ||
		    n < d->min || n > d->max) {
			fmt_scaled(lo, sizeof(lo), d->min, size_names,
			    size_mul, 4);
			fmt_scaled(hi, sizeof(hi), d->max, size_names,
			    size_mul, 4);
			return mail_err_set(err, MAIL_ERR_PARAM,
			    "'%s' must be a size in %s..%s (bytes, or a "
			    "number with K, M or G), not '%.64s'", d->key, lo,
			    hi, v);
		}
		*num_r = n;
		return 0;
	case MAIL_SETTING_ENUM: {
		int i = word_index(d->words, v);

		if (i < 0)
			return mail_err_set(err, MAIL_ERR_PARAM,
			    "'%s' must be one of %s, not '%.64s'", d->key,
			    d->words, v);
		*num_r = (uint64_t)i;
		return 0;
	}
	}
	return mail_err_set(err, MAIL_ERR_INTERNAL, "'%s' has no type", d->key);
}

/* Where an entry came from, put in front of err's message: "PATH:LINE"
 * or, for -o, "-o KEY" with KEY as -o takes it ("kind.name.key"). */
static int
entry_fail(const struct mail_conf *c, const struct mail_conf_section *s,
    const struct mail_conf_entry *e, struct mail_err *err)
{
	if (!e->overridden)
		return mail_err_prefix(err, "%s:%u", c->path, e->line);
	if (s->kind[0] == '\0')
		return mail_err_prefix(err, "-o %s", e->key);
	return mail_err_prefix(err, "-o %s.%s%s%s", s->kind, s->name,
	    s->name[0] != '\0' ? "." : "", e->key);
}

static const struct mail_conf_entry *
entry_find(const struct mail_conf_section *s, const char *key)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->entries[i].key, key) == 0)
			return &s->entries[i];
	}
	return NULL;
}

static int
check_section(const struct mail_conf *c, const struct mail_conf_section *s,
    struct mail_err *err)
{
	int k = kind_index(s->kind);
	uint64_t n;

	if (k < 0) {
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "%s:%u: unknown section '%s' (known: peer, imap)", c->path,
		    s->line, s->kind);
	}
	if (kinds[k].named && s->name[0] == '\0')
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "%s:%u: section '%s' needs a name ('%s NAME {')", c->path,
		    s->line, s->kind, s->kind);
	if (!kinds[k].named && s->name[0] != '\0')
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "%s:%u: section '%s' takes no name, not '%s'", c->path,
		    s->line, s->kind, s->name);
	for (size_t i = 0; i < s->n; i++) {
		const struct mail_conf_entry *e = &s->entries[i];
		const struct mail_setting_def *d;

		d = mail_settings_find(s->kind, e->key);
		if (d == NULL) {
			mail_err_set(err, MAIL_ERR_PARAM,
			    "unknown %s%ssetting '%s'", s->kind,
			    s->kind[0] != '\0' ? " " : "", e->key);
			return entry_fail(c, s, e, err);
		}
		if (mail_settings_parse(d, e->value, &n, err) < 0)
			return entry_fail(c, s, e, err);
	}
	for (size_t i = 0; i < N_ELEMENTS(defs); i++) {
		if ((defs[i].flags & MAIL_SETTING_REQUIRED) != 0 &&
		    strcmp(defs[i].kind, s->kind) == 0 &&
		    entry_find(s, defs[i].key) == NULL)
			return mail_err_set(err, MAIL_ERR_PARAM,
			    "%s:%u: section '%s%s%s' has no '%s'", c->path,
			    s->line, s->kind, s->name[0] != '\0' ? " " : "",
			    s->name, defs[i].key);
	}
	return 0;
}

int
mail_settings_check(const struct mail_conf *c, struct mail_err *err)
{
	const struct mail_conf_section *top = &c->sections[0];
	const struct mail_conf_entry *e;
	uint64_t lo, hi;

	for (size_t i = 0; i < c->n; i++) {
		if (check_section(c, &c->sections[i], err) < 0)
			return -1;
	}
	/* backoff grows from retry_min to retry_max: the other way round
	 * is a mistake worth naming, not something to clamp quietly */
	lo = mail_settings_duration_ms(c, NULL, "retry_min");
	hi = mail_settings_duration_ms(c, NULL, "retry_max");
	if (lo > hi) {
		mail_err_set(err, MAIL_ERR_PARAM,
		    "'retry_min' (%s) must not be more than 'retry_max' (%s)",
		    mail_settings_str(c, NULL, "retry_min"),
		    mail_settings_str(c, NULL, "retry_max"));
		if ((e = entry_find(top, "retry_min")) == NULL)
			e = entry_find(top, "retry_max");
		return entry_fail(c, top, e, err);
	}
	return 0;
}

const char *
mail_settings_default(const struct mail_setting_def *d)
{
	static char host[256];

	if ((d->flags & MAIL_SETTING_HOSTNAME) == 0)
		return d->def;
	/* cached: the host name is a fact of the process, not state */
	if (host[0] == '\0' &&
	    (gethostname(host, sizeof(host) - 1) < 0 || host[0] == '\0'))
		snprintf(host, sizeof(host), "localhost");
	return host;
}

bool
mail_settings_is_default(const struct mail_setting_def *d, const char *v)
{
	const char *def = mail_settings_default(d);
	struct mail_err err;
	uint64_t a, b;

	if (v == NULL || strcmp(v, def) == 0)
		return true;
	if (d->type == MAIL_SETTING_STR || d->type == MAIL_SETTING_PATH ||
	    d->type == MAIL_SETTING_SECRET)
		return false;
	return mail_settings_parse(d, v, &a, &err) == 0 &&
	    mail_settings_parse(d, def, &b, &err) == 0 && a == b;
}

/* The definition and text value (or default) of key; see the header for
 * "kind.key". */
static const struct mail_setting_def *
lookup(const struct mail_conf *c, const struct mail_conf_section *sec,
    const char *key, const char **value_r)
{
	const char *dot = sec == NULL ? strchr(key, '.') : NULL;
	const struct mail_setting_def *d = NULL;
	const char *v = NULL;

	if (dot != NULL) {
		for (size_t i = 0; i < N_ELEMENTS(defs) && d == NULL; i++) {
			if (strlen(defs[i].kind) == (size_t)(dot - key) &&
			    memcmp(defs[i].kind, key, (size_t)(dot - key)) == 0 &&
			    strcmp(defs[i].key, dot + 1) == 0)
				d = &defs[i];
		}
		mail_assert(d != NULL && !mail_settings_kind_named(d->kind));
		sec = mail_conf_section(c, d->kind, "");
	} else {
		if (sec == NULL)
			sec = &c->sections[0];
		d = mail_settings_find(sec->kind, key);
		mail_assert(d != NULL);
	}
	if (sec != NULL)
		v = mail_conf_get(c, sec, d->key);
	*value_r = v != NULL ? v : mail_settings_default(d);
	return d;
}

static uint64_t
get_num(const struct mail_conf *c, const struct mail_conf_section *sec,
    const char *key, enum mail_setting_type type)
{
	const char *v;
	const struct mail_setting_def *d = lookup(c, sec, key, &v);
	struct mail_err err;
	uint64_t n;
	int ret;

	mail_assert(d->type == type);
	ret = mail_settings_parse(d, v, &n, &err);
	mail_assert(ret == 0);	/* mail_settings_check passed */
	return n;
}

const char *
mail_settings_str(const struct mail_conf *c,
    const struct mail_conf_section *sec, const char *key)
{
	const char *v;

	(void)lookup(c, sec, key, &v);
	return v;
}

bool
mail_settings_bool(const struct mail_conf *c,
    const struct mail_conf_section *sec, const char *key)
{
	return get_num(c, sec, key, MAIL_SETTING_BOOL) != 0;
}

uint64_t
mail_settings_uint(const struct mail_conf *c,
    const struct mail_conf_section *sec, const char *key)
{
	return get_num(c, sec, key, MAIL_SETTING_UINT);
}

uint64_t
mail_settings_duration_ms(const struct mail_conf *c,
    const struct mail_conf_section *sec, const char *key)
{
	return get_num(c, sec, key, MAIL_SETTING_DURATION);
}

uint64_t
mail_settings_size(const struct mail_conf *c,
    const struct mail_conf_section *sec, const char *key)
{
	return get_num(c, sec, key, MAIL_SETTING_SIZE);
}

/* Plain open/fstat/read, not mail_fs: this is configuration, not the
 * store, and the checks need the file's owner and mode. */
int
mail_settings_read_secret(const char *path, char *buf, size_t size,
    struct mail_err *err)
{
	struct stat st;
	size_t len = 0, line;
	const char *nl;
	ssize_t n;
	int fd, ret = -1;

	mail_assert(size > 1);
	/* O_NONBLOCK: a FIFO must not hang us before fstat refuses it */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd == -1)
		return mail_err_sys(err, errno, "open secret file '%s'", path);
	if (fstat(fd, &st) < 0) {
		mail_err_sys(err, errno, "stat secret file '%s'", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		mail_err_set(err, MAIL_ERR_PARAM,
		    "secret file '%s' is not a regular file", path);
		goto out;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		mail_err_set(err, MAIL_ERR_PERM,
		    "secret file '%s' is owned by uid %u, not by uid %u or "
		    "root", path, (unsigned)st.st_uid, (unsigned)geteuid());
		goto out;
	}
	/* as ssh does for private keys: a secret others can read (or
	 * replace) is not a secret */
	if ((st.st_mode & 077) != 0) {
		mail_err_set(err, MAIL_ERR_PERM,
		    "secret file '%s' is accessible by group or others "
		    "(mode %04o; chmod 600 it)", path,
		    (unsigned)(st.st_mode & 07777));
		goto out;
	}
	while (len < size - 1) {
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			mail_err_sys(err, errno, "read secret file '%s'",
			    path);
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	nl = memchr(buf, '\n', len);
	if (nl == NULL && st.st_size > (off_t)len) {
		mail_err_set(err, MAIL_ERR_PARAM,
		    "first line of secret file '%s' is longer than %zu bytes",
		    path, size - 1);
		goto out;
	}
	line = nl != NULL ? (size_t)(nl - buf) : len;
	if (line > 0 && buf[line - 1] == '\r')
		line--;
	if (line == 0 || memchr(buf, '\0', line) != NULL) {
		mail_err_set(err, MAIL_ERR_PARAM,
		    "secret file '%s' %s", path, line == 0 ?
		    "starts with an empty line" : "holds a NUL byte");
		goto out;
	}
	/* drop the rest of the file from memory too */
	explicit_bzero(buf + line, size - line);
	ret = 0;
out:
	close(fd);
	if (ret < 0)
		explicit_bzero(buf, size);
	return ret;
}
