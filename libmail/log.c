/*
 * log.c: logging for programs, after OpenSMTPD's log.c (see log.h for the
 * line format). Only programs call this; libraries report through
 * struct mail_err and never log.
 *
 * Each message is formatted into a bounded buffer, then copied into the
 * line with control characters escaped: log lines are parsed by people
 * and tools, and a client that could put "\n" into a mailbox name could
 * otherwise append a forged line. Escapes are never split by the cut, and
 * the cut backs off to a UTF-8 character boundary. The whole line is at
 * most LOG_LINE_MAX + 1 bytes, below PIPE_BUF (4096 on Linux), so the one
 * write(2) per line is atomic on a pipe shared with other processes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_ELLIPSIS	"..."

static char log_ident[64];
static bool log_to_syslog;
static bool log_syslog_open;
static enum log_level log_max_level = LOG_LEVEL_INFO;

static const char *const log_level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARNING] = "warning",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

static const int log_syslog_prio[] = {
	[LOG_LEVEL_ERROR] = LOG_ERR,
	[LOG_LEVEL_WARNING] = LOG_WARNING,
	[LOG_LEVEL_INFO] = LOG_INFO,
	[LOG_LEVEL_DEBUG] = LOG_DEBUG,
};

void
log_init(const char *ident, bool to_syslog, enum log_level level)
{
	int saved_errno = errno;

	snprintf(log_ident, sizeof(log_ident), "%s",
	    ident != NULL ? ident : program_invocation_short_name);
	log_max_level = level;
	log_to_syslog = to_syslog;
	if (log_syslog_open) {
		closelog();
		log_syslog_open = false;
	}
	if (to_syslog) {
		/* LOG_NDELAY: connect now, before a chroot hides /dev/log;
		 * openlog() keeps the ident pointer, which is static. */
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
		log_syslog_open = true;
	}
	errno = saved_errno;
}

int
log_level_parse(const char *word, enum log_level *level_r)
{
	for (size_t i = 0; i < sizeof(log_level_names) /
	    sizeof(log_level_names[0]); i++) {
		if (strcmp(word, log_level_names[i]) == 0) {
			*level_r = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

bool
log_level_enabled(enum log_level level)
{
	return level <= log_max_level;
}

static bool
log_is_ctrl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/*
 * Copy src (len bytes) to dst (room for cap bytes) with control
 * characters escaped. If it does not all fit, or more (truncated) is
 * true, the copy is cut to end in "..." within cap. Returns the bytes
 * written.
 */
static size_t
log_sanitize(char *dst, size_t cap, const char *src, size_t len, bool more)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t need = 0, out = 0, i, limit;

	for (i = 0; i < len; i++)
		need += log_is_ctrl(s[i]) ? 4 : 1;
	if (!more && need <= cap)
		limit = cap;
	else if (cap < sizeof(LOG_ELLIPSIS) - 1)
		return 0;
	else
		limit = cap - (sizeof(LOG_ELLIPSIS) - 1);

	for (i = 0; i < len; i++) {
		if (log_is_ctrl(s[i])) {
			if (out + 4 > limit)
				break;
			snprintf(dst + out, 5, "\\x%02x", s[i]);
			out += 4;
		} else {
			if (out + 1 > limit)
				break;
			dst[out++] = (char)s[i];
		}
	}
	if (i < len || more) {
		/* Cut inside a UTF-8 sequence: drop its lead and
		 * continuation bytes (raw bytes only, escapes are ASCII). */
		if (i < len && (s[i] & 0xc0) == 0x80) {
			size_t j = i;

			while (j > 0 && out > 0 && i - j < 3 &&
			    (s[j - 1] & 0xc0) == 0x80) {
				j--;
				out--;
			}
			if (j > 0 && out > 0 && s[j - 1] >= 0xc0)
				out--;
		}
		memcpy(dst + out, LOG_ELLIPSIS, sizeof(LOG_ELLIPSIS) - 1);
		out += sizeof(LOG_ELLIPSIS) - 1;
	}
	return out;
}

/* "2026-11-28T18:40:01.123Z ident[pid]: level: " into buf; returns the
 * length. */
static size_t
log_prefix(char *buf, size_t cap, const char *level)
{
	struct timespec ts;
	struct tm tm;
	size_t n;
	int r;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(buf + n, cap - n, ".%03ldZ %s[%ld]: %s: ",
	    ts.tv_nsec / 1000000, log_ident[0] != '\0' ? log_ident :
	    program_invocation_short_name, (long)getpid(), level);
	if (r < 0)
		return n;
	return (size_t)r < cap - n ? n + (size_t)r : cap - 1;
}

/*
 * Format, sanitize and emit one message. errnum >= 0 appends
 * ": strerror(errnum)". is_fatal logs at level "fatal" regardless of the
 * configured level.
 */
static void __attribute__((format(printf, 4, 0)))
log_vemit(enum log_level level, bool is_fatal, int errnum, const char *fmt,
    va_list ap)
{
	/* raw holds more than fits a line, so a message that vsnprintf()
	 * cut is always cut again (at a character boundary) below */
	char raw[LOG_LINE_MAX + 8], line[LOG_LINE_MAX + 1], suffix[160];
	char errbuf[128];
	const char *word = is_fatal ? "fatal" : log_level_names[level];
	size_t len = 0, suffix_len = 0, raw_len;
	bool more = false;
	ssize_t w;
	int r;

	if (!is_fatal && !log_level_enabled(level))
		return;

	r = vsnprintf(raw, sizeof(raw), fmt, ap);
	if (r < 0) {
		snprintf(raw, sizeof(raw), "(bad log format '%s')", fmt);
		raw_len = strlen(raw);
	} else if ((size_t)r >= sizeof(raw)) {
		raw_len = sizeof(raw) - 1;
		more = true;
	} else
		raw_len = (size_t)r;
	if (errnum >= 0) {
		r = snprintf(suffix, sizeof(suffix), ": %s",
		    strerror_r(errnum, errbuf, sizeof(errbuf)));
		suffix_len = r < 0 ? 0 : (size_t)r < sizeof(suffix) ?
		    (size_t)r : sizeof(suffix) - 1;
	}

	if (log_to_syslog) {
		/* syslog carries time, ident, pid and priority itself */
		if (is_fatal)
			len = (size_t)snprintf(line, sizeof(line), "fatal: ");
	} else
		len = log_prefix(line, sizeof(line), word);
	len += log_sanitize(line + len, LOG_LINE_MAX - len - suffix_len, raw,
	    raw_len, more);
	memcpy(line + len, suffix, suffix_len);
	len += suffix_len;

	if (log_to_syslog) {
		line[len] = '\0';
		syslog(is_fatal ? LOG_CRIT : log_syslog_prio[level], "%s",
		    line);
		return;
	}
	line[len++] = '\n';
	do {
		w = write(STDERR_FILENO, line, len);
	} while (w == -1 && errno == EINTR);
}

#define LOG_BODY(level, is_fatal, errnum)				\
	do {								\
		int saved_errno = errno;				\
		va_list ap;						\
									\
		va_start(ap, fmt);					\
		log_vemit(level, is_fatal, errnum, fmt, ap);		\
		va_end(ap);						\
		errno = saved_errno;					\
	} while (0)

void
log_debug(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_DEBUG, false, -1);
}

void
log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_INFO, false, -1);
}

void
log_warn(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_WARNING, false, saved_errno);
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_WARNING, false, -1);
}

void
log_error(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERROR, false, -1);
}

void
fatal(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERROR, true, saved_errno);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERROR, true, -1);
	exit(1);
}
