/*
 * mail_conf.h: the configuration file syntax shared by dsync, dsyncd and
 * imapd: "key = value" lines, "#" comments, and named sections
 * "kind name { ... }" (the name is optional: "imap { ... }"). Sections do
 * not nest. Values run to the end of the line, trimmed; a value may be
 * double-quoted to keep leading or trailing blanks or a "#".
 *
 * A key set twice in one section, or a section defined twice, is an error
 * naming both lines.
 *
 * Only the syntax is checked here; which keys exist and what their values
 * may be is mail_settings.h's job.
 */
#ifndef MAIL_CONF_H
#define MAIL_CONF_H

#include <stdbool.h>
#include "mail_err.h"

#define MAIL_CONF_MAX_SIZE	(1024 * 1024)

struct mail_conf_entry {
	char	*key;
	char	*value;
	unsigned line;
	bool	 overridden;	/* set from -o, not from the file */
};

struct mail_conf_section {
	char	*kind;		/* "" for the top level */
	char	*name;		/* "" when unnamed */
	unsigned line;
	struct mail_conf_entry *entries;
	size_t	 n, cap;
};

struct mail_conf {
	char	*path;
	struct mail_conf_section *sections;	/* [0] is the top level */
	size_t	 n, cap;
};

/* Parse text (len bytes) read from path. Returns 0 and sets *conf_r
 * (free with mail_conf_free), or -1 with MAIL_ERR_PARAM and a message
 * "PATH:LINE: what". */
int	mail_conf_parse(const char *path, const char *text, size_t len,
	    struct mail_conf **conf_r, struct mail_err *err) WARN_UNUSED;
/* Read and parse a file. */
int	mail_conf_load(const char *path, struct mail_conf **conf_r,
	    struct mail_err *err) WARN_UNUSED;
/* An empty configuration (no file). */
struct mail_conf *mail_conf_new(void);
void	mail_conf_free(struct mail_conf **confp);
/* Set a top-level key from "KEY=VALUE" (the -o option), replacing a value
 * from the file; "kind.name.key" or "kind.key" addresses an existing
 * section. The entry gets line 0 and overridden. Returns 0 or -1. */
int	mail_conf_override(struct mail_conf *conf, const char *assignment,
	    struct mail_err *err) WARN_UNUSED;
/* The value of key in section sec (NULL: the top level), or NULL. */
const char *mail_conf_get(const struct mail_conf *conf,
	    const struct mail_conf_section *sec, const char *key);
/* Find a section by kind and name (name NULL: the first of that kind). */
const struct mail_conf_section *mail_conf_section(const struct mail_conf *c,
	    const char *kind, const char *name);

/* The text to write after "key = " so that the parser reads value back:
 * value itself, or value in double quotes (blanks at either end, a '#'
 * that would start a comment, a leading '"', a trailing '{'). Returns a malloc'ed string
 * (caller frees), or NULL when no text can say value (a newline; a '"'
 * where quotes are needed). */
char	*mail_conf_quote(const char *value);

#endif
