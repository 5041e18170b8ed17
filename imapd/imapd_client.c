/*
 * imapd_client.c: one connection: reading input through the parser,
 * dispatching commands by state, queueing output, timeouts, and closing.
 *
 * Commands run to completion inside the loop callback, so a session's
 * state is simple; what must wait (the delay after a failed login, the
 * flush before TLS or compression starts, IDLE) stops reading input by
 * setting c->input, and the loop's events follow from that and from
 * whether output is queued.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imapd.h"
#include "log.h"
#include "mail_maildir.h"
#include "mail_name.h"

/* Input read per wake-up, and the output above which we stop running
 * commands until the client has read some (a pipelining client that
 * does not read must not make us buffer without bound). */
#define READ_CHUNK		16384
#define OUTPUT_HIGH_WATER	(256 * 1024)

struct cmd_def {
	imapd_cmd_fn *fn;
	unsigned states;	/* bits of 1 << enum imapd_state */
};

#define S_NOAUTH	(1u << IMAPD_NOT_AUTH)
#define S_AUTH		(1u << IMAPD_AUTH)
#define S_SEL		(1u << IMAPD_SELECTED)
#define S_ANY		(S_NOAUTH | S_AUTH | S_SEL)
#define S_LOGGED	(S_AUTH | S_SEL)

static const struct cmd_def cmd_defs[IMAP_CMD_COUNT_] = {
	[IMAP_CMD_CAPABILITY] = { imapd_cmd_capability, S_ANY },
	[IMAP_CMD_NOOP] = { imapd_cmd_noop, S_ANY },
	[IMAP_CMD_LOGOUT] = { imapd_cmd_logout, S_ANY },
	[IMAP_CMD_STARTTLS] = { imapd_cmd_starttls, S_NOAUTH },
	[IMAP_CMD_AUTHENTICATE] = { imapd_cmd_authenticate, S_NOAUTH },
	[IMAP_CMD_LOGIN] = { imapd_cmd_login, S_NOAUTH },
	[IMAP_CMD_ENABLE] = { imapd_cmd_enable, S_LOGGED },
	[IMAP_CMD_ID] = { imapd_cmd_id, S_ANY },
	[IMAP_CMD_COMPRESS] = { imapd_cmd_compress, S_LOGGED },
	[IMAP_CMD_SELECT] = { imapd_cmd_select, S_LOGGED },
	[IMAP_CMD_EXAMINE] = { imapd_cmd_select, S_LOGGED },
	[IMAP_CMD_CREATE] = { imapd_cmd_create, S_LOGGED },
	[IMAP_CMD_DELETE] = { imapd_cmd_delete, S_LOGGED },
	[IMAP_CMD_RENAME] = { imapd_cmd_rename, S_LOGGED },
	[IMAP_CMD_SUBSCRIBE] = { imapd_cmd_subscribe, S_LOGGED },
	[IMAP_CMD_UNSUBSCRIBE] = { imapd_cmd_subscribe, S_LOGGED },
	[IMAP_CMD_LIST] = { imapd_cmd_list, S_LOGGED },
	[IMAP_CMD_LSUB] = { imapd_cmd_list, S_LOGGED },
	[IMAP_CMD_NAMESPACE] = { imapd_cmd_namespace, S_LOGGED },
	[IMAP_CMD_STATUS] = { imapd_cmd_status, S_LOGGED },
	[IMAP_CMD_APPEND] = { imapd_cmd_append, S_LOGGED },
	[IMAP_CMD_IDLE] = { imapd_cmd_idle, S_LOGGED },
	[IMAP_CMD_GETMETADATA] = { imapd_cmd_getmetadata, S_LOGGED },
	[IMAP_CMD_SETMETADATA] = { imapd_cmd_setmetadata, S_LOGGED },
	[IMAP_CMD_CHECK] = { imapd_cmd_check, S_SEL },
	[IMAP_CMD_CLOSE] = { imapd_cmd_close, S_SEL },
	[IMAP_CMD_UNSELECT] = { imapd_cmd_close, S_SEL },
	[IMAP_CMD_EXPUNGE] = { imapd_cmd_expunge, S_SEL },
	[IMAP_CMD_SEARCH] = { imapd_cmd_search, S_SEL },
	[IMAP_CMD_SORT] = { imapd_cmd_sort, S_SEL },
	[IMAP_CMD_THREAD] = { imapd_cmd_thread, S_SEL },
	[IMAP_CMD_FETCH] = { imapd_cmd_fetch, S_SEL },
	[IMAP_CMD_STORE] = { imapd_cmd_store, S_SEL },
	[IMAP_CMD_COPY] = { imapd_cmd_copy, S_SEL },
	[IMAP_CMD_MOVE] = { imapd_cmd_copy, S_SEL },
};

static void client_event(struct mail_loop *loop, int fd, unsigned events,
    void *ctx);
static void client_process(struct imapd_client *c);
static void run_queue_del(struct imapd_client *c);

/* ---- output ---- */

void
imapd_client_write(struct imapd_client *c, const void *p, size_t n)
{
	imap_conn_write(c->conn, p, n);
}

void
imapd_client_printf(struct imapd_client *c, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatalx("out of memory");
	imap_conn_write(c->conn, s, (size_t)n);
	free(s);
}

/* Queue "prefix text\r\n" with text from fmt. */
static void
client_vline(struct imapd_client *c, const char *prefix, const char *fmt,
    va_list ap)
{
	char *s;

	if (vasprintf(&s, fmt, ap) < 0)
		fatalx("out of memory");
	imapd_client_printf(c, "%s%s\r\n", prefix, s);
	free(s);
}

void
imapd_client_reply(struct imapd_client *c, const char *tag,
    const char *status, const char *fmt, ...)
{
	char *prefix = mail_xasprintf("%s %s ", tag, status);
	va_list ap;

	va_start(ap, fmt);
	client_vline(c, prefix, fmt, ap);
	va_end(ap);
	free(prefix);
}

void
imapd_client_bye(struct imapd_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	client_vline(c, "* BYE ", fmt, ap);
	va_end(ap);
	c->closing = true;
	c->input = IMAPD_IN_NONE;
}

void
imapd_reply_err(struct imapd_client *c, const char *tag,
    const struct mail_err *err)
{
	const char *code = "";

	switch (err->code) {
	case MAIL_ERR_NOTFOUND:
		code = "[NONEXISTENT] ";
		break;
	case MAIL_ERR_EXISTS:
		code = "[ALREADYEXISTS] ";
		break;
	case MAIL_ERR_PERM:
		code = "[NOPERM] ";
		break;
	case MAIL_ERR_NOSPACE:
		code = "[OVERQUOTA] ";
		break;
	case MAIL_ERR_LIMIT:
		code = "[LIMIT] ";
		break;
	case MAIL_ERR_TEMP:
		code = "[INUSE] ";
		break;
	case MAIL_ERR_PARAM:
	case MAIL_ERR_PROTO:
		code = "[CANNOT] ";
		break;
	case MAIL_ERR_CORRUPT:
	case MAIL_ERR_INTERNAL:
	default:
		code = "[SERVERBUG] ";
		log_error("%s: %s", c->user != NULL ? c->user->name : c->peer,
		    err->msg);
		break;
	}
	imapd_client_reply(c, tag, "NO", "%s%s", code, err->msg);
}

/* ---- strings and mailbox names ---- */

static bool
atom_char(unsigned char ch)
{
	if (ch <= ' ' || ch >= 0x7f)
		return false;
	return strchr("(){%*\"\\]", ch) == NULL;
}

void
imapd_put_string(struct mail_buf *out, const char *s, size_t len)
{
	bool atom = len > 0 && len < 256, quoted = len < 1024;

	for (size_t i = 0; i < len && (atom || quoted); i++) {
		unsigned char ch = (unsigned char)s[i];

		if (!atom_char(ch))
			atom = false;
		if (ch == '\r' || ch == '\n' || ch == 0 || ch >= 0x80)
			quoted = false;
	}
	/* "NIL" as an atom would read as NIL */
	if (atom && !(len == 3 && strncasecmp(s, "NIL", 3) == 0)) {
		mail_buf_append(out, s, len);
	} else if (quoted) {
		mail_buf_append(out, "\"", 1);
		for (size_t i = 0; i < len; i++) {
			if (s[i] == '"' || s[i] == '\\')
				mail_buf_append(out, "\\", 1);
			mail_buf_append(out, &s[i], 1);
		}
		mail_buf_append(out, "\"", 1);
	} else {
		mail_buf_printf(out, "{%zu}\r\n", len);
		mail_buf_append(out, s, len);
	}
}

void
imapd_put_mailbox(struct imapd_client *c, struct mail_buf *out,
    const char *name)
{
	struct mail_buf enc = MAIL_BUF_INIT;
	struct mail_err err;

	if (c->utf8 || mail_maildir_mutf7_encode(name, strlen(name), &enc,
	    &err) < 0) {
		imapd_put_string(out, name, strlen(name));
	} else {
		imapd_put_string(out, (const char *)enc.data, enc.len);
	}
	mail_buf_free(&enc);
}

char *
imapd_mailbox_arg(struct imapd_client *c, const char *tag,
    const struct imap_str *arg)
{
	struct mail_buf dec = MAIL_BUF_INIT;
	struct mail_err err;
	char *name, *norm;
	bool ascii = true;

	if (arg->data == NULL || memchr(arg->data, 0, arg->len) != NULL) {
		imapd_client_reply(c, tag, "BAD", "Invalid mailbox name");
		return NULL;
	}
	for (size_t i = 0; i < arg->len; i++) {
		if ((unsigned char)arg->data[i] >= 0x80)
			ascii = false;
	}
	/* A client that did not enable UTF-8 speaks modified UTF-7; one
	 * that sends 8-bit anyway means UTF-8 (RFC 9755 leniency). */
	if (!c->utf8 && ascii && memchr(arg->data, '&', arg->len) != NULL) {
		if (mail_maildir_mutf7_decode(arg->data, arg->len, &dec,
		    &err) < 0) {
			mail_buf_free(&dec);
			imapd_client_reply(c, tag, "NO",
			    "[CANNOT] Mailbox name is not valid modified "
			    "UTF-7");
			return NULL;
		}
		mail_buf_append(&dec, "", 1);
		name = (char *)dec.data;
	} else {
		name = mail_xstrndup(arg->data, arg->len);
	}
	norm = mail_mailbox_name_normalize(name);
	free(name);
	if (mail_mailbox_name_check(norm, &err) < 0) {
		imapd_client_reply(c, tag, "NO", "[CANNOT] %s", err.msg);
		free(norm);
		return NULL;
	}
	return norm;
}

/* ---- lifecycle ---- */

static void
timeout_fired(struct mail_loop *loop, void *ctx)
{
	struct imapd_client *c = ctx;

	(void)loop;
	c->timer = NULL;
	log_info("%s: %s timed out", c->peer,
	    c->state == IMAPD_NOT_AUTH ? "login" : "idle session");
	imapd_client_bye(c, "%s", c->state == IMAPD_NOT_AUTH ?
	    "Login timed out" : "Disconnected for inactivity");
	imapd_client_update(c);
}

void
imapd_client_timer_rearm(struct imapd_client *c)
{
	uint64_t ms = c->state == IMAPD_NOT_AUTH ?
	    c->d->set.login_timeout_ms : c->d->set.idle_timeout_ms;

	/* the login timeout counts from the connection, not the last
	 * byte: a client may not stay unauthenticated by trickling */
	if (c->state == IMAPD_NOT_AUTH && c->timer != NULL)
		return;
	mail_timer_del(&c->timer);
	c->timer = mail_timer_add(c->d->loop, ms, timeout_fired, c);
}

void
imapd_client_accept(struct imapd *d, int fd, bool tls,
    const struct sockaddr_storage *sa)
{
	struct imapd_client *c;
	struct imap_parser_opts po;
	struct mail_err err;
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	c = mail_xcalloc(1, sizeof(*c));
	c->d = d;
	c->id = ++d->next_client_id;
	c->conn = imap_conn_new(fd);
	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		port = ntohs(s4->sin_port);
		c->loopback = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
		snprintf(c->peer, sizeof(c->peer), "%s:%u", host, port);
	} else if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		port = ntohs(s6->sin6_port);
		c->loopback = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr) ||
		    (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) &&
		    s6->sin6_addr.s6_addr[12] == 127);
		snprintf(c->peer, sizeof(c->peer), "[%s]:%u", host, port);
	} else {
		snprintf(c->peer, sizeof(c->peer), "local");
		c->loopback = true;
	}
	imap_parser_opts_default(&po);
	po.max_line = d->set.max_line;
	po.max_append = d->set.max_append;
	c->parser = imap_parser_new(&po);
	c->listener_tls = tls;
	c->secure = d->set.plaintext_auth == IMAPD_PLAINTEXT_YES ||
	    (d->set.plaintext_auth == IMAPD_PLAINTEXT_LOOPBACK && c->loopback);
	c->next = d->clients;
	if (d->clients != NULL)
		d->clients->prev = c;
	d->clients = c;
	d->n_clients++;
	if (mail_loop_add_fd(d->loop, fd, MAIL_EV_READ, client_event, c,
	    &err) < 0) {
		log_error("%s: %s", c->peer, err.msg);
		imapd_client_free(c);
		return;
	}
	c->ev = MAIL_EV_READ;
	if (tls) {
		if (imap_conn_start_tls(c->conn, d->tls, &err) < 0) {
			log_error("%s: %s", c->peer, err.msg);
			imapd_client_free(c);
			return;
		}
		c->secure = true;
	}
	if (d->n_clients > d->set.max_connections) {
		log_warnx("%s: refused: max_connections (%" PRIu64 ") reached",
		    c->peer, d->set.max_connections);
		imapd_client_bye(c, "[UNAVAILABLE] Too many connections");
		imapd_client_update(c);
		return;
	}
	log_debug("%s: connected%s", c->peer, tls ? " (TLS)" : "");
	{
		struct mail_buf caps = MAIL_BUF_INIT;

		imapd_capabilities(c, &caps);
		imapd_client_printf(c, "* OK [CAPABILITY %.*s] imapd ready\r\n",
		    (int)caps.len, (const char *)caps.data);
		mail_buf_free(&caps);
	}
	imapd_client_timer_rearm(c);
	imapd_client_update(c);
}

void
imapd_client_free(struct imapd_client *c)
{
	struct imapd *d = c->d;

	if (c->state == IMAPD_SELECTED)
		imapd_view_close(c);
	if (c->user != NULL) {
		imapd_user_detach(c->user, c);
		imapd_user_put(d, &c->user);
	}
	imapd_append_free(c);
	imapd_authwork_cancel(c);
	if (c->resume_free != NULL)
		c->resume_free(c);
	if (c->queued)
		run_queue_del(c);
	mail_loop_del_fd(d->loop, imap_conn_fd(c->conn));
	mail_timer_del(&c->timer);
	mail_timer_del(&c->delay);
	imap_cmd_free(&c->cmd);
	imap_parser_free(&c->parser);
	imap_conn_free(&c->conn);
	mail_buf_free(&c->in);
	free(c->idle_tag);
	free(c->auth_tag);
	free(c->auth_mech);
	free(c->auth_user);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		d->clients = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	d->n_clients--;
	free(c);
}

static void
run_queued(struct mail_loop *loop, void *ctx)
{
	struct imapd *d = ctx;
	struct imapd_client *c;

	while ((c = d->run_queue) != NULL) {
		d->run_queue = c->run_next;
		c->queued = false;
		client_event(loop, imap_conn_fd(c->conn), 0, c);
	}
}

static void
run_queue_add(struct imapd_client *c)
{
	struct imapd *d = c->d;

	if (c->queued)
		return;
	if (d->run_queue == NULL)
		mail_loop_defer(d->loop, run_queued, d);
	c->queued = true;
	c->run_next = d->run_queue;
	d->run_queue = c;
}

static void
run_queue_del(struct imapd_client *c)
{
	for (struct imapd_client **p = &c->d->run_queue; *p != NULL;
	    p = &(*p)->run_next) {
		if (*p == c) {
			*p = c->run_next;
			break;
		}
	}
	c->queued = false;
}

/* Decide what the socket waits for; close a client whose goodbye is
 * out. May free c: callers return right after. */
void
imapd_client_update(struct imapd_client *c)
{
	struct mail_err err;
	bool want_read;
	unsigned ev;
	int r;

	if (imap_conn_output_pending(c->conn) > 0) {
		r = imap_conn_flush(c->conn, &err);
		if (r < 0) {
			log_debug("%s: %s", c->peer, err.msg);
			imapd_client_free(c);
			return;
		}
	}
	if (imap_conn_output_pending(c->conn) == 0) {
		if (c->closing) {
			log_debug("%s: closed", c->peer);
			imapd_client_free(c);
			return;
		}
		if (c->start_tls) {
			c->start_tls = false;
			if (imap_conn_start_tls(c->conn, c->d->tls, &err) < 0) {
				log_error("%s: %s", c->peer, err.msg);
				imapd_client_free(c);
				return;
			}
			c->secure = true;
			c->input = IMAPD_IN_COMMAND;
		}
		if (c->start_deflate) {
			c->start_deflate = false;
			if (imap_conn_start_deflate(c->conn, &err) < 0) {
				log_error("%s: %s", c->peer, err.msg);
				imapd_client_free(c);
				return;
			}
			c->input = IMAPD_IN_COMMAND;
			/* what the client sent after the OK is compressed
			 * already: it is still in our buffer raw */
			if (c->in.len > 0) {
				imapd_client_bye(c, "Data sent before "
				    "compression started");
				imapd_client_update(c);
				return;
			}
		}
	}
	want_read = c->input != IMAPD_IN_NONE && !c->closing &&
	    imap_conn_output_pending(c->conn) < OUTPUT_HIGH_WATER;
	ev = imap_conn_events(c->conn, want_read);
	if (ev != c->ev) {
		if (mail_loop_mod_fd(c->d->loop, imap_conn_fd(c->conn), ev,
		    &err) < 0)
			fatalx("%s: %s", c->peer, err.msg);
		c->ev = ev;
	}
	/* input already read, or held inside TLS, would not wake us; nor
	 * would a paused command once its output is out */
	if ((want_read && (imap_conn_input_pending(c->conn) ||
	    (c->in.len > 0 && !c->need_more))) ||
	    (c->resume != NULL && !c->closing &&
	    imap_conn_output_pending(c->conn) < OUTPUT_HIGH_WATER / 4))
		run_queue_add(c);
}

/* ---- input ---- */

void
imapd_client_cmd_done(struct imapd_client *c)
{
	imap_cmd_free(&c->cmd);
}

void
imapd_client_set_input(struct imapd_client *c, enum imapd_input in)
{
	c->input = in;
	c->need_more = false;
}

/* EXPUNGE responses are not allowed during FETCH, STORE and SEARCH
 * (RFC 9051 7.5.1); their UID forms may have them. */
static bool
expunges_allowed(const struct imap_cmd *cmd)
{
	switch (cmd->type) {
	case IMAP_CMD_FETCH:
	case IMAP_CMD_STORE:
	case IMAP_CMD_SEARCH:
	case IMAP_CMD_SORT:
	case IMAP_CMD_THREAD:
		return cmd->uid;
	default:
		return true;
	}
}

static void
cmd_finish(struct imapd_client *c, struct imap_cmd *cmd, const char *status,
    const char *fmt, va_list ap)
{
	char *prefix = mail_xasprintf("%s %s ", cmd->tag, status);

	if (c->state == IMAPD_SELECTED)
		imapd_view_report(c, expunges_allowed(cmd));
	client_vline(c, prefix, fmt, ap);
	free(prefix);
	if (cmd == c->cmd)
		imapd_client_cmd_done(c);
}

void
imapd_cmd_ok(struct imapd_client *c, struct imap_cmd *cmd, const char *fmt,
    ...)
{
	va_list ap;

	va_start(ap, fmt);
	cmd_finish(c, cmd, "OK", fmt, ap);
	va_end(ap);
}

void
imapd_cmd_reply(struct imapd_client *c, struct imap_cmd *cmd,
    const char *status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cmd_finish(c, cmd, status, fmt, ap);
	va_end(ap);
}

static void
parse_error(struct imapd_client *c, const struct mail_err *err)
{
	const char *tag = imap_parser_tag(c->parser);
	const char *code = err->code == MAIL_ERR_LIMIT ?
	    (strstr(err->msg, "literal") != NULL ? "[TOOBIG] " : "[LIMIT] ") :
	    "";

	if (imap_parser_fatal(c->parser)) {
		imapd_client_bye(c, "%s%s", code, err->msg);
		return;
	}
	imapd_client_reply(c, tag != NULL ? tag : "*", "BAD", "%s%s", code,
	    err->msg);
}

static void
dispatch(struct imapd_client *c, struct imap_cmd *cmd)
{
	const struct cmd_def *def = &cmd_defs[cmd->type];

	c->cmd = cmd;
	if (cmd->type == IMAP_CMD_UNKNOWN || def->fn == NULL) {
		imapd_client_reply(c, cmd->tag, "BAD", "Unknown command %s",
		    cmd->name);
	} else if ((def->states & (1u << c->state)) == 0) {
		imapd_client_reply(c, cmd->tag, "BAD", "%s not allowed %s",
		    imap_cmd_type_name(cmd->type),
		    c->state == IMAPD_NOT_AUTH ? "before login" :
		    c->state == IMAPD_AUTH ? "without a selected mailbox" :
		    "after login");
	} else {
		def->fn(c, cmd);
		return;		/* the handler calls imapd_client_cmd_done */
	}
	imapd_client_cmd_done(c);
}

/* Run what the input holds, as long as the state lets us. */
static void
client_process(struct imapd_client *c)
{
	struct imap_cmd *cmd;
	struct mail_err err;
	const uint8_t *line;
	size_t used, len;
	int r;

	while (!c->closing && c->input != IMAPD_IN_NONE &&
	    imap_conn_output_pending(c->conn) < OUTPUT_HIGH_WATER) {
		used = 0;
		if (c->input == IMAPD_IN_IDLE || c->input == IMAPD_IN_AUTH) {
			r = imap_parser_read_line(c->parser, c->in.data,
			    c->in.len, &used, &line, &len, &err);
			if (r == IMAP_PARSE_MORE)
				break;
			if (r == IMAP_PARSE_ERROR) {
				mail_buf_consume(&c->in, used);
				imapd_client_bye(c, "%s", err.msg);
				break;
			}
			/* line points into c->in: handle before consuming */
			if (c->input == IMAPD_IN_IDLE)
				imapd_idle_line(c, line, len);
			else
				imapd_auth_line(c, line, len);
			mail_buf_consume(&c->in, used);
			continue;
		}
		cmd = NULL;
		r = imap_parser_run(c->parser, c->in.data, c->in.len, &used,
		    &cmd, &err);
		if (r == IMAP_PARSE_LITERAL_DATA) {
			imapd_append_data(c, c->in.data, used);
			mail_buf_consume(&c->in, used);
			continue;
		}
		mail_buf_consume(&c->in, used);
		switch (r) {
		case IMAP_PARSE_MORE:
			c->need_more = true;
			return;
		case IMAP_PARSE_ERROR:
			parse_error(c, &err);
			break;
		case IMAP_PARSE_CONTINUE:
			imapd_client_write(c, "+ OK\r\n", 6);
			break;
		case IMAP_PARSE_LITERAL:
			imapd_append_literal(c);
			break;
		case IMAP_PARSE_DONE:
			dispatch(c, cmd);
			break;
		}
	}
}

static void
client_event(struct mail_loop *loop, int fd, unsigned events, void *ctx)
{
	struct imapd_client *c = ctx;
	struct mail_err err;
	ssize_t n;

	(void)loop;
	(void)fd;
	(void)events;
	if (c->resume != NULL && !c->closing &&
	    imap_conn_output_pending(c->conn) < OUTPUT_HIGH_WATER / 4) {
		void (*fn)(struct imapd_client *) = c->resume;

		c->resume = NULL;
		fn(c);
	}
	if (c->input != IMAPD_IN_NONE && !c->closing &&
	    imap_conn_output_pending(c->conn) < OUTPUT_HIGH_WATER) {
		n = imap_conn_read(c->conn, &c->in, READ_CHUNK, &err);
		if (n == IMAP_CONN_EOF) {
			log_debug("%s: disconnected", c->peer);
			imapd_client_free(c);
			return;
		}
		if (n < 0) {
			log_info("%s: %s", c->peer, err.msg);
			imapd_client_free(c);
			return;
		}
		if (n > 0) {
			c->need_more = false;
			imapd_client_timer_rearm(c);
		}
	}
	client_process(c);
	/* an idle connection keeps no input buffer */
	if (c->in.len == 0)
		mail_buf_free(&c->in);
	imapd_client_update(c);
}

