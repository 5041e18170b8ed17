/*
 * log.h: logging for programs (dsync, dsyncd, imapd). Libraries never log
 * (STYLE.md sections 1 and 7); this is the one exception to the prefix
 * rule, like OpenSMTPD's log.c.
 *
 * Lines go to syslog (facility LOG_MAIL, with the pid) or to stderr as
 *	2026-11-28T18:40:01.123Z ident[pid]: level: message
 * (UTC time; level is error, warning, info, debug or fatal). Messages are
 * sanitized first: control characters (bytes < 0x20 and 0x7f) become
 * "\xNN", so a peer-supplied string cannot forge log lines, and a line
 * longer than LOG_LINE_MAX bytes is cut and ends in "...". Each stderr
 * line is one write(2) of less than PIPE_BUF bytes, so lines of
 * concurrent processes do not interleave. No log_* call changes errno.
 * Not thread-safe (the programs are single-threaded).
 */
#ifndef LOG_H
#define LOG_H

#include <stdbool.h>

/* The longest line written, without the newline. */
#define LOG_LINE_MAX	2000

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* ident: the program name (copied; at most 63 bytes are kept). to_syslog:
 * log to syslog, else to stderr. level: the least important level shown.
 * Can be called again to switch. Before the first call lines go to stderr
 * at level info, with the name the program was started as. */
void	log_init(const char *ident, bool to_syslog, enum log_level level);
/* Parse "error", "warning", "info" or "debug" into *level_r. Returns 0,
 * or -1 for any other word (*level_r untouched). */
int	log_level_parse(const char *word, enum log_level *level_r);
/* Whether a message at level would be shown: lets callers skip building
 * an expensive debug message. */
bool	log_level_enabled(enum log_level level);

/* Log at one level. log_warn() appends ": strerror(errno)"; log_warnx()
 * and log_error() do not. */
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Log at level "fatal" (always shown; syslog LOG_CRIT) and exit(1).
 * fatal() appends ": strerror(errno)", fatalx() does not. For programmer
 * errors and failures at startup only. */
void	fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
