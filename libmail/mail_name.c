/*
 * mail_name.c: user and mailbox name rules. User names become directory
 * names, so their alphabet is strict. Mailbox names never touch the
 * filesystem (mailboxes are stored by GUID), but they are shown to IMAP
 * clients and operators, so they must be printable UTF-8.
 */
#include <string.h>
#include <strings.h>

#include "mail_name.h"

int
mail_user_name_check(const char *name, struct mail_err *err)
{
	size_t n = strlen(name);

	if (n == 0)
		return mail_err_set(err, MAIL_ERR_PARAM, "empty user name");
	if (n > MAIL_USER_NAME_MAX)
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "user name longer than %d bytes", MAIL_USER_NAME_MAX);
	if (name[0] == '.' || name[0] == '-')
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "invalid user name '%.64s': must not start with '%c'", name,
		    name[0]);
	for (const char *p = name; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("._@+=-", *p))
			continue;
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "invalid character in user name '%.64s'", name);
	}
	return 0;
}

bool
mail_utf8_valid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i];
		size_t len;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			len = 2;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		/* reject overlongs, surrogates and beyond U+10FFFF */
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

int
mail_mailbox_name_check(const char *name, struct mail_err *err)
{
	size_t n = strlen(name);
	const char *comp = name;

	if (n == 0)
		return mail_err_set(err, MAIL_ERR_PARAM, "empty mailbox name");
	if (n > MAIL_MAILBOX_NAME_MAX)
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "mailbox name longer than %d bytes", MAIL_MAILBOX_NAME_MAX);
	if (!mail_utf8_valid(name, n))
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "mailbox name is not valid UTF-8");
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return mail_err_set(err, MAIL_ERR_PARAM,
			    "control character in mailbox name '%.64s'", name);
	}
	/* IMAP wildcards in a name could never be LISTed back unambiguously */
	if (strpbrk(name, "*%") != NULL)
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "mailbox name '%.64s' contains a wildcard", name);
	for (;;) {
		const char *end = strchr(comp, '/');
		size_t len = end != NULL ? (size_t)(end - comp) : strlen(comp);

		if (len == 0)
			return mail_err_set(err, MAIL_ERR_PARAM,
			    "empty component in mailbox name '%.64s'", name);
		if ((len == 1 && comp[0] == '.') ||
		    (len == 2 && comp[0] == '.' && comp[1] == '.'))
			return mail_err_set(err, MAIL_ERR_PARAM,
			    "'.' or '..' component in mailbox name '%.64s'",
			    name);
		if (len > MAIL_MAILBOX_COMPONENT_MAX)
			return mail_err_set(err, MAIL_ERR_PARAM,
			    "mailbox name component longer than %d bytes",
			    MAIL_MAILBOX_COMPONENT_MAX);
		if (end == NULL)
			break;
		comp = end + 1;
	}
	return 0;
}

char *
mail_mailbox_name_normalize(const char *name)
{
	char *s = mail_xstrdup(name);

	if (strncasecmp(s, "INBOX", 5) == 0 && (s[5] == '\0' || s[5] == '/'))
		memcpy(s, "INBOX", 5);
	return s;
}
