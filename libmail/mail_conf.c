/*
 * mail_conf.c: the configuration file parser. Line-based and strict: any
 * line that is not a comment, an assignment, a section start or "}" is an
 * error naming the file and line, so a typo never silently changes what
 * the daemon does.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include "mail_conf.h"
#include "mail_buf.h"
#include "mail_fs.h"

struct mail_conf *
mail_conf_new(void)
{
	struct mail_conf *c = mail_xcalloc(1, sizeof(*c));

	c->path = mail_xstrdup("");
	c->sections = mail_xgrow(NULL, &c->cap, 1, sizeof(*c->sections));
	memset(&c->sections[0], 0, sizeof(c->sections[0]));
	c->sections[0].kind = mail_xstrdup("");
	c->sections[0].name = mail_xstrdup("");
	c->n = 1;
	return c;
}

void
mail_conf_free(struct mail_conf **confp)
{
	struct mail_conf *c = *confp;

	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++) {
		struct mail_conf_section *s = &c->sections[i];

		for (size_t k = 0; k < s->n; k++) {
			free(s->entries[k].key);
			free(s->entries[k].value);
		}
		free(s->entries);
		free(s->kind);
		free(s->name);
	}
	free(c->sections);
	free(c->path);
	free(c);
	*confp = NULL;
}

static bool
is_ident(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' &&
		    s[i] != '-' && s[i] != '.')
			return false;
	}
	return true;
}

static struct mail_conf_entry *
section_find(struct mail_conf_section *s, const char *key, size_t klen)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strlen(s->entries[i].key) == klen &&
		    memcmp(s->entries[i].key, key, klen) == 0)
			return &s->entries[i];
	}
	return NULL;
}

/* Set key, replacing an earlier value (only -o does that: the parser
 * refuses a key set twice). */
static void
section_set(struct mail_conf_section *s, const char *key, size_t klen,
    const char *val, size_t vlen, unsigned line, bool overridden)
{
	struct mail_conf_entry *e = section_find(s, key, klen);

	if (e == NULL) {
		s->entries = mail_xgrow(s->entries, &s->cap, s->n + 1,
		    sizeof(*s->entries));
		e = &s->entries[s->n++];
		e->key = mail_xstrndup(key, klen);
	} else {
		free(e->value);
	}
	e->value = mail_xstrndup(val, vlen);
	e->line = line;
	e->overridden = overridden;
}

static void
trim(const char **p, size_t *n)
{
	while (*n > 0 && isspace((unsigned char)**p)) {
		(*p)++;
		(*n)--;
	}
	while (*n > 0 && isspace((unsigned char)(*p)[*n - 1]))
		(*n)--;
}

int
mail_conf_parse(const char *path, const char *text, size_t len,
    struct mail_conf **conf_r, struct mail_err *err)
{
	struct mail_conf *c = mail_conf_new();
	size_t cur = 0;		/* current section index */
	unsigned lineno = 0;
	const char *p = text, *end = text + len;

	free(c->path);
	c->path = mail_xstrdup(path);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line = p, *eq;
		size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		bool quoted = false;

		p = nl != NULL ? nl + 1 : end;
		lineno++;
		if (memchr(line, '\0', n) != NULL)
			goto bad_nul;
		/* a comment starts at the first '#' outside double quotes:
		 * a quoted value keeps its '#', and a commented-out line
		 * stays a comment even when it holds a quoted value */
		for (size_t i = 0; i < n; i++) {
			if (line[i] == '"') {
				quoted = !quoted;
			} else if (line[i] == '#' && !quoted) {
				n = i;
				break;
			}
		}
		trim(&line, &n);
		if (n == 0)
			continue;
		if (n == 1 && line[0] == '}') {
			if (cur == 0) {
				mail_err_set(err, MAIL_ERR_PARAM,
				    "%s:%u: '}' without a section", path,
				    lineno);
				goto fail;
			}
			cur = 0;
			continue;
		}
		if (line[n - 1] == '{') {
			const char *k = line, *sp;
			size_t kn = n - 1, nn = 0;
			const char *name = "";
			struct mail_conf_section *s;

			trim(&k, &kn);
			sp = memchr(k, ' ', kn);
			if (sp == NULL)
				sp = memchr(k, '\t', kn);
			if (sp != NULL) {
				name = sp + 1;
				nn = kn - (size_t)(name - k);
				kn = (size_t)(sp - k);
				trim(&name, &nn);
			}
			if (cur != 0) {
				mail_err_set(err, MAIL_ERR_PARAM,
				    "%s:%u: sections do not nest", path,
				    lineno);
				goto fail;
			}
			if (!is_ident(k, kn) || (nn > 0 && !is_ident(name, nn))) {
				mail_err_set(err, MAIL_ERR_PARAM,
				    "%s:%u: bad section header", path, lineno);
				goto fail;
			}
			for (size_t i = 1; i < c->n; i++) {
				if (strlen(c->sections[i].kind) == kn &&
				    memcmp(c->sections[i].kind, k, kn) == 0 &&
				    strlen(c->sections[i].name) == nn &&
				    memcmp(c->sections[i].name, name, nn) == 0) {
					mail_err_set(err, MAIL_ERR_PARAM,
					    "%s:%u: section '%.*s%s%.*s' "
					    "defined twice (first at line %u)",
					    path, lineno, (int)kn, k,
					    nn > 0 ? " " : "", (int)nn, name,
					    c->sections[i].line);
					goto fail;
				}
			}
			c->sections = mail_xgrow(c->sections, &c->cap, c->n + 1,
			    sizeof(*c->sections));
			s = &c->sections[c->n];
			memset(s, 0, sizeof(*s));
			s->kind = mail_xstrndup(k, kn);
			s->name = mail_xstrndup(name, nn);
			s->line = lineno;
			cur = c->n++;
			continue;
		}
		eq = memchr(line, '=', n);
		if (eq == NULL) {
			mail_err_set(err, MAIL_ERR_PARAM,
			    "%s:%u: expected 'key = value'", path, lineno);
			goto fail;
		} else {
			const char *k = line, *v = eq + 1;
			size_t kn = (size_t)(eq - line);
			size_t vn = n - kn - 1;
			const struct mail_conf_entry *dup;

			trim(&k, &kn);
			trim(&v, &vn);
			if (!is_ident(k, kn)) {
				mail_err_set(err, MAIL_ERR_PARAM,
				    "%s:%u: bad key '%.*s'", path, lineno,
				    (int)kn, k);
				goto fail;
			}
			dup = section_find(&c->sections[cur], k, kn);
			if (dup != NULL) {
				/* a silent "last one wins" hides typos and
				 * merge leftovers: name both lines */
				mail_err_set(err, MAIL_ERR_PARAM,
				    "%s:%u: '%.*s' set twice (first at line "
				    "%u)", path, lineno, (int)kn, k, dup->line);
				goto fail;
			}
			if (vn > 0 && v[0] == '"') {
				if (vn < 2 || v[vn - 1] != '"' ||
				    memchr(v + 1, '"', vn - 2) != NULL) {
					mail_err_set(err, MAIL_ERR_PARAM,
					    "%s:%u: unbalanced quotes", path,
					    lineno);
					goto fail;
				}
				v++;
				vn -= 2;
			}
			section_set(&c->sections[cur], k, kn, v, vn, lineno,
			    false);
		}
	}
	if (cur != 0) {
		mail_err_set(err, MAIL_ERR_PARAM,
		    "%s: section '%s' starting at line %u is not closed", path,
		    c->sections[cur].kind, c->sections[cur].line);
		goto fail;
	}
	*conf_r = c;
	return 0;
bad_nul:
	mail_err_set(err, MAIL_ERR_PARAM, "%s:%u: NUL byte", path, lineno);
fail:
	mail_conf_free(&c);
	return -1;
}

int
mail_conf_load(const char *path, struct mail_conf **conf_r,
    struct mail_err *err)
{
	struct mail_buf b = MAIL_BUF_INIT;
	int ret;

	if (mail_fs_read_file(mail_fs_posix(), path, &b, MAIL_CONF_MAX_SIZE,
	    err) < 0) {
		mail_buf_free(&b);
		return -1;
	}
	ret = mail_conf_parse(path, b.data != NULL ? (const char *)b.data : "",
	    b.len, conf_r, err);
	mail_buf_free(&b);
	return ret;
}

int
mail_conf_override(struct mail_conf *c, const char *a, struct mail_err *err)
{
	const char *eq = strchr(a, '=');
	const char *key = a, *dot1, *dot2;
	struct mail_conf_section *s = &c->sections[0];
	size_t klen;

	if (eq == NULL || eq == a)
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "option '-o %.64s' is not KEY=VALUE", a);
	klen = (size_t)(eq - a);
	dot1 = memchr(a, '.', klen);
	if (dot1 != NULL) {
		char *kind, *name = NULL;
		const struct mail_conf_section *found;

		dot2 = memchr(dot1 + 1, '.', (size_t)(eq - dot1 - 1));
		kind = mail_xstrndup(a, (size_t)(dot1 - a));
		if (dot2 != NULL) {
			name = mail_xstrndup(dot1 + 1,
			    (size_t)(dot2 - dot1 - 1));
			key = dot2 + 1;
		} else {
			key = dot1 + 1;
		}
		found = mail_conf_section(c, kind, name != NULL ? name : "");
		free(kind);
		free(name);
		if (found == NULL)
			return mail_err_set(err, MAIL_ERR_PARAM,
			    "option '-o %.64s' names no section of the "
			    "configuration", a);
		s = (struct mail_conf_section *)(uintptr_t)found;
		klen = (size_t)(eq - key);
	}
	if (!is_ident(key, klen))
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "option '-o %.64s' has a bad key", a);
	section_set(s, key, klen, eq + 1, strlen(eq + 1), 0, true);
	return 0;
}

const char *
mail_conf_get(const struct mail_conf *c, const struct mail_conf_section *sec,
    const char *key)
{
	if (sec == NULL)
		sec = &c->sections[0];
	for (size_t i = 0; i < sec->n; i++) {
		if (strcmp(sec->entries[i].key, key) == 0)
			return sec->entries[i].value;
	}
	return NULL;
}

const struct mail_conf_section *
mail_conf_section(const struct mail_conf *c, const char *kind,
    const char *name)
{
	for (size_t i = 1; i < c->n; i++) {
		if (strcmp(c->sections[i].kind, kind) == 0 &&
		    (name == NULL || strcmp(c->sections[i].name, name) == 0))
			return &c->sections[i];
	}
	return NULL;
}

/* The parser's view of a value written bare: it runs to the first '#'
 * outside double quotes and loses its leading and trailing blanks, a
 * leading '"' starts a quoted value, and a line ending in '{' starts a
 * section. */
static bool
bare_ok(const char *v, size_t n)
{
	bool quoted = false;

	if (n > 0 && (isspace((unsigned char)v[0]) ||
	    isspace((unsigned char)v[n - 1]) || v[0] == '"' ||
	    v[n - 1] == '{'))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (v[i] == '"')
			quoted = !quoted;
		else if (v[i] == '#' && !quoted)
			return false;
	}
	return true;
}

char *
mail_conf_quote(const char *value)
{
	size_t n = strlen(value);

	if (strchr(value, '\n') != NULL)
		return NULL;
	if (bare_ok(value, n))
		return mail_xstrdup(value);
	if (strchr(value, '"') != NULL)
		return NULL;
	return mail_xasprintf("\"%s\"", value);
}
