/*
 * mail_flags.c: system flags and keywords. Keywords are IMAP atoms
 * (RFC 9051 flag-keyword): no SP, CTL, 8-bit, or any of ( ) { % * " \ ].
 * Keywords compare case-sensitively in storage, as Dovecot does.
 */
#include <stdlib.h>
#include <strings.h>

#include "mail_flags.h"

static const struct {
	const char *name;
	uint16_t bit;
} system_flags[] = {
	{ "\\Seen", MAIL_SEEN },
	{ "\\Answered", MAIL_ANSWERED },
	{ "\\Flagged", MAIL_FLAGGED },
	{ "\\Deleted", MAIL_DELETED },
	{ "\\Draft", MAIL_DRAFT },
};

bool
mail_keyword_valid(const char *kw)
{
	size_t n = strlen(kw);

	if (n == 0 || n > MAIL_KEYWORD_MAX_LEN)
		return false;
	for (const unsigned char *p = (const unsigned char *)kw; *p; p++) {
		if (*p <= 0x20 || *p >= 0x7f || strchr("(){%*\"\\]", *p))
			return false;
	}
	return true;
}

int
mail_flag_parse(const char *token, uint16_t *bit_r, struct mail_err *err)
{
	*bit_r = 0;
	if (token[0] == '\\') {
		for (size_t i = 0; i < N_ELEMENTS(system_flags); i++) {
			if (strcasecmp(token, system_flags[i].name) == 0) {
				*bit_r = system_flags[i].bit;
				return 1;
			}
		}
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "unknown system flag '%s'", token);
	}
	if (!mail_keyword_valid(token))
		return mail_err_set(err, MAIL_ERR_PARAM, "invalid keyword '%s'",
		    token);
	return 0;
}

void
mail_flag_list_add_keyword(struct mail_flag_list *l, const char *kw)
{
	size_t i;

	for (i = 0; i < l->n_keywords; i++) {
		int c = strcmp(l->keywords[i], kw);

		if (c == 0)
			return;
		if (c > 0)
			break;
	}
	l->keywords = mail_xgrow(l->keywords, &l->cap, l->n_keywords + 1,
	    sizeof(*l->keywords));
	memmove(&l->keywords[i + 1], &l->keywords[i],
	    (l->n_keywords - i) * sizeof(*l->keywords));
	l->keywords[i] = mail_xstrdup(kw);
	l->n_keywords++;
}

int
mail_flag_list_add(struct mail_flag_list *l, const char *token,
    struct mail_err *err)
{
	uint16_t bit;
	int r = mail_flag_parse(token, &bit, err);

	if (r < 0)
		return -1;
	if (r == 1)
		l->flags |= bit;
	else
		mail_flag_list_add_keyword(l, token);
	return 0;
}

void
mail_flag_list_free(struct mail_flag_list *l)
{
	for (size_t i = 0; i < l->n_keywords; i++)
		free(l->keywords[i]);
	free(l->keywords);
	memset(l, 0, sizeof(*l));
}

void
mail_flags_format(uint16_t flags, struct mail_buf *out)
{
	bool first = true;

	for (size_t i = 0; i < N_ELEMENTS(system_flags); i++) {
		if ((flags & system_flags[i].bit) == 0)
			continue;
		if (!first)
			mail_buf_append(out, " ", 1);
		mail_buf_append_str(out, system_flags[i].name);
		first = false;
	}
}
