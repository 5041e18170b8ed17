/*
 * mail_flags.h: IMAP system flags as bits, and keyword validation.
 */
#ifndef MAIL_FLAGS_H
#define MAIL_FLAGS_H

#include <stdbool.h>
#include "mail_err.h"
#include "mail_buf.h"

enum mail_flag {
	MAIL_SEEN = 0x01,
	MAIL_ANSWERED = 0x02,
	MAIL_FLAGGED = 0x04,
	MAIL_DELETED = 0x08,
	MAIL_DRAFT = 0x10,
};
#define MAIL_FLAGS_ALL	0x1f
#define MAIL_KEYWORD_MAX_LEN 128

/* A parsed flag list: system flag bits plus keyword names. */
struct mail_flag_list {
	uint16_t flags;
	char	**keywords;	/* owned, each malloc'ed; sorted, unique */
	size_t	 n_keywords, cap;
};

/* Classify one flag token: "\Seen" etc. (case-insensitive) sets *bit_r to
 * the bit and returns 1; a valid keyword atom returns 0; "\Recent", other
 * backslash names and invalid atoms return -1 with MAIL_ERR_PARAM. */
int	mail_flag_parse(const char *token, uint16_t *bit_r, struct mail_err *err)
	    WARN_UNUSED;
/* Parse a token and add it to the list. Returns 0 or -1. */
int	mail_flag_list_add(struct mail_flag_list *l, const char *token,
	    struct mail_err *err) WARN_UNUSED;
/* Add a keyword that is known valid (from our own log). */
void	mail_flag_list_add_keyword(struct mail_flag_list *l, const char *kw);
void	mail_flag_list_free(struct mail_flag_list *l);
/* Append the system flag names for bits (space-separated, fixed order). */
void	mail_flags_format(uint16_t flags, struct mail_buf *out);
/* True if kw is a valid IMAP flag-keyword atom. */
bool	mail_keyword_valid(const char *kw);

#endif
