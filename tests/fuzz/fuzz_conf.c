/*
 * fuzz_conf.c: a configuration file (mail_conf_parse) checked against the
 * settings table (mail_settings_check). Errors must name the file; a file
 * that passes can be read with every getter without an assertion, and
 * every value it holds can be written back (mail_conf_quote) and parses
 * to the same text.
 */
#include <stdint.h>
#include <stdlib.h>

#include "mail_settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* key = quoted value parses back to value */
static void
roundtrip(const char *value)
{
	char *q = mail_conf_quote(value), *line;
	struct mail_conf *c = NULL;
	struct mail_err err;

	if (q == NULL)
		abort();	/* the parser gave it: it must be writable */
	line = mail_xasprintf("k = %s\n", q);
	if (mail_conf_parse("r", line, strlen(line), &c, &err) < 0 ||
	    strcmp(mail_conf_get(c, NULL, "k"), value) != 0)
		abort();
	mail_conf_free(&c);
	free(line);
	free(q);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct mail_setting_def *defs, *d;
	struct mail_conf *c = NULL;
	struct mail_err err;
	size_t n;

	if (mail_conf_parse("f", (const char *)data, size, &c, &err) < 0) {
		if (strncmp(err.msg, "f:", 2) != 0)
			abort();
		return 0;
	}
	for (size_t i = 0; i < c->n; i++) {
		for (size_t e = 0; e < c->sections[i].n; e++)
			roundtrip(c->sections[i].entries[e].value);
	}
	if (mail_settings_check(c, &err) < 0) {
		if (strncmp(err.msg, "f:", 2) != 0)
			abort();
		mail_conf_free(&c);
		return 0;
	}
	defs = mail_settings_defs(&n);
	for (size_t i = 0; i < c->n; i++) {
		const struct mail_conf_section *s = &c->sections[i];

		for (d = defs; d < defs + n; d++) {
			if (strcmp(d->kind, s->kind) != 0)
				continue;
			(void)mail_settings_str(c, i == 0 ? NULL : s, d->key);
			if (d->type == MAIL_SETTING_BOOL)
				(void)mail_settings_bool(c, s, d->key);
			else if (d->type == MAIL_SETTING_UINT)
				(void)mail_settings_uint(c, s, d->key);
			else if (d->type == MAIL_SETTING_DURATION)
				(void)mail_settings_duration_ms(c, s, d->key);
			else if (d->type == MAIL_SETTING_SIZE)
				(void)mail_settings_size(c, s, d->key);
		}
	}
	mail_conf_free(&c);
	return 0;
}
