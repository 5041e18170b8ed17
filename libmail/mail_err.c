/*
 * mail_err.c: filling struct mail_err. Messages are truncated to fit; the
 * code is what callers act on, the text is for people.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mail_err.h"

int
mail_err_set(struct mail_err *err, enum mail_err_code code, const char *fmt,
    ...)
{
	va_list ap;

	err->code = code;
	err->sys_errno = 0;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

static enum mail_err_code
mail_err_code_of(int errnum)
{
	switch (errnum) {
	case ENOSPC:
	case EDQUOT:
		return MAIL_ERR_NOSPACE;
	case ENOENT:
		return MAIL_ERR_NOTFOUND;
	case EEXIST:
		return MAIL_ERR_EXISTS;
	case EACCES:
	case EPERM:
	case EROFS:
		return MAIL_ERR_PERM;
	case EAGAIN:
	case EINTR:
	case EBUSY:
		return MAIL_ERR_TEMP;
	default:
		return MAIL_ERR_INTERNAL;
	}
}

int
mail_err_sys(struct mail_err *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	size_t len;

	err->code = mail_err_code_of(errnum);
	err->sys_errno = errnum;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	len = strlen(err->msg);
	snprintf(err->msg + len, sizeof(err->msg) - len, ": %s",
	    strerror(errnum));
	return -1;
}

int
mail_err_prefix(struct mail_err *err, const char *fmt, ...)
{
	char prefix[128], old[sizeof(err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
	return -1;
}

void
mail_err_clear(struct mail_err *err)
{
	err->code = MAIL_ERR_NONE;
	err->sys_errno = 0;
	err->msg[0] = '\0';
}
