/*
 * mail_name.h: validation of user and mailbox names, the first line of
 * defense against path abuse and unprintable input.
 */
#ifndef MAIL_NAME_H
#define MAIL_NAME_H

#include <stdbool.h>
#include "mail_err.h"

#define MAIL_USER_NAME_MAX	255
#define MAIL_MAILBOX_NAME_MAX	1000	/* bytes, whole hierarchical name */
#define MAIL_MAILBOX_COMPONENT_MAX 255

/* A user name: 1-255 bytes of [A-Za-z0-9._@+=-], not starting with '.'
 * or '-'. Returns 0 or -1 with MAIL_ERR_PARAM. */
int	mail_user_name_check(const char *name, struct mail_err *err)
	    WARN_UNUSED;
/* A mailbox name: valid UTF-8 without control characters, '/'-separated
 * components that are non-empty and not "." or "..", within the length
 * limits. Returns 0 or -1 with MAIL_ERR_PARAM. */
int	mail_mailbox_name_check(const char *name, struct mail_err *err)
	    WARN_UNUSED;
/* "inbox" in any case, alone or as the first component, becomes "INBOX";
 * returns a malloc'ed normalized copy. */
char	*mail_mailbox_name_normalize(const char *name);
/* True for valid UTF-8 (no overlongs, no surrogates) of n bytes. */
bool	mail_utf8_valid(const char *s, size_t n);

#endif
