/*
 * mail_settings.h: the typed schema of the configuration file that dsync,
 * dsyncd and imapd share (man/dsync.conf.5). One table says which section
 * kinds and keys exist, their types, bounds and defaults, so every program
 * refuses the same mistakes with the same "FILE:LINE: ..." message, and
 * reads values through getters that apply the defaults.
 *
 * Adding a setting is one line in the table in mail_settings.c (and its
 * paragraph in the man page).
 */
#ifndef MAIL_SETTINGS_H
#define MAIL_SETTINGS_H

#include <stdbool.h>
#include <stdint.h>

#include "mail_conf.h"
#include "mail_err.h"

enum mail_setting_type {
	MAIL_SETTING_STR,	/* any text without control characters */
	MAIL_SETTING_PATH,	/* absolute; empty only where the default is */
	MAIL_SETTING_BOOL,	/* yes/no, true/false, on/off, 1/0 */
	MAIL_SETTING_UINT,	/* min..max */
	MAIL_SETTING_DURATION,	/* ms; a plain number is seconds; units ms,
				 * s, m, h, d; min..max in ms */
	MAIL_SETTING_SIZE,	/* bytes; suffixes K, M, G (1024-based) */
	MAIL_SETTING_ENUM,	/* one of words */
	MAIL_SETTING_SECRET,	/* a PATH whose file holds a secret: its mode
				 * is checked when it is read */
};

#define MAIL_SETTING_REQUIRED	0x1	/* the section needs it, not empty */
#define MAIL_SETTING_HOSTNAME	0x2	/* the default is the host name */

struct mail_setting_def {
	const char *kind;	/* section kind; "" for the top level */
	const char *key;
	enum mail_setting_type type;
	const char *def;	/* the default, as text ("" for HOSTNAME) */
	uint64_t min, max;	/* UINT, DURATION (ms), SIZE (bytes) */
	const char *words;	/* ENUM: the allowed words, "a, b, c" */
	unsigned flags;		/* MAIL_SETTING_* */
};

/* Every setting, in the man page's order; static storage. Sets *n_r. */
const struct mail_setting_def *mail_settings_defs(size_t *n_r);
/* The definition of key in sections of kind ("" top level), or NULL. */
const struct mail_setting_def *mail_settings_find(const char *kind,
	    const char *key);
/* Whether sections of kind take a name ("peer NAME {"); kind must exist. */
bool	mail_settings_kind_named(const char *kind);

/* Parse value as def says and check its bounds. Returns 0 and sets *num_r
 * (BOOL 0/1, UINT, DURATION in ms, SIZE in bytes, ENUM the word's index;
 * 0 for text types), or -1 with MAIL_ERR_PARAM and "'KEY' must be
 * WHAT IS ALLOWED, not 'VALUE'" (no file:line: the caller adds it). */
int	mail_settings_parse(const struct mail_setting_def *def,
	    const char *value, uint64_t *num_r, struct mail_err *err)
	    WARN_UNUSED;

/* Check a whole configuration against the table: unknown section kinds
 * and keys, bad values, a section missing its name or a required key, or
 * with a name it must not have. Returns 0, or -1 with MAIL_ERR_PARAM and
 * "PATH:LINE: ..." ("-o KEY: ..." for a value given with -o). Duplicate
 * keys and sections are refused earlier by mail_conf_parse. */
int	mail_settings_check(const struct mail_conf *conf, struct mail_err *err)
	    WARN_UNUSED;

/*
 * Getters: the value of key in sec (a section of conf; NULL for the top
 * level), or its default. With sec NULL, key may be "kind.key" to read an
 * unnamed section that may be absent ("imap.listen"). Only for a conf
 * that passed mail_settings_check: a key not in the table, or a numeric
 * getter for a key of another type, is a programmer error (mail_assert).
 * mail_settings_str gives the text of a setting of any type, as written;
 * it is borrowed from conf or static storage, valid until conf is freed.
 */
const char *mail_settings_str(const struct mail_conf *conf,
	    const struct mail_conf_section *sec, const char *key);
bool	mail_settings_bool(const struct mail_conf *conf,
	    const struct mail_conf_section *sec, const char *key);
uint64_t mail_settings_uint(const struct mail_conf *conf,
	    const struct mail_conf_section *sec, const char *key);
uint64_t mail_settings_duration_ms(const struct mail_conf *conf,
	    const struct mail_conf_section *sec, const char *key);
uint64_t mail_settings_size(const struct mail_conf *conf,
	    const struct mail_conf_section *sec, const char *key);

/* The default of def as text (for HOSTNAME: the host name, in static
 * storage). */
const char *mail_settings_default(const struct mail_setting_def *def);
/* Whether value (NULL: not set) means the default: equal as text, or for
 * numbers, booleans and words, equal once parsed ("30" and "30s"). */
bool	mail_settings_is_default(const struct mail_setting_def *def,
	    const char *value);

/* Read the first line (without "\n" or "\r\n") of the secret file path
 * into buf (size bytes, NUL-terminated). The file must be a regular file
 * owned by the running user or root and not accessible by group or others
 * (mode & 077 == 0), as ssh does for keys. Returns 0, or -1 with err:
 * MAIL_ERR_PERM (owner, mode), MAIL_ERR_NOTFOUND, MAIL_ERR_PARAM (not a
 * regular file, empty, first line longer than size - 1); buf is then
 * zeroed. The caller explicit_bzero()s buf when done. */
int	mail_settings_read_secret(const char *path, char *buf, size_t size,
	    struct mail_err *err) WARN_UNUSED;

#endif
