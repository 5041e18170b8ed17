/*
 * imapd_auth.c: the commands of any state and of login: CAPABILITY, NOOP,
 * LOGOUT, ID, ENABLE, STARTTLS, COMPRESS, LOGIN and AUTHENTICATE (PLAIN
 * and LOGIN, with SASL-IR).
 *
 * A failed login is answered only after auth_failure_delay, and the
 * connection reads nothing meanwhile; after max_auth_failures it is
 * closed. Passwords never reach a log.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imapd.h"
#include "log.h"
#include "mail_name.h"

void
imapd_cmd_capability(struct imapd_client *c, struct imap_cmd *cmd)
{
	struct mail_buf b = MAIL_BUF_INIT;

	mail_buf_append_str(&b, "* CAPABILITY ");
	imapd_capabilities(c, &b);
	mail_buf_append_str(&b, "\r\n");
	imapd_client_write(c, b.data, b.len);
	mail_buf_free(&b);
	imapd_cmd_ok(c, cmd, "Capability completed");
}

void
imapd_cmd_noop(struct imapd_client *c, struct imap_cmd *cmd)
{
	imapd_cmd_ok(c, cmd, "%s completed", imap_cmd_type_name(cmd->type));
}

void
imapd_cmd_check(struct imapd_client *c, struct imap_cmd *cmd)
{
	imapd_cmd_noop(c, cmd);
}

void
imapd_cmd_logout(struct imapd_client *c, struct imap_cmd *cmd)
{
	imapd_client_write(c, "* BYE Logging out\r\n", 19);
	imapd_client_reply(c, cmd->tag, "OK", "Logout completed");
	imapd_client_cmd_done(c);
	c->closing = true;
	c->input = IMAPD_IN_NONE;
}

void
imapd_cmd_id(struct imapd_client *c, struct imap_cmd *cmd)
{
	/* the client's ID is logged once, for operators chasing a client
	 * bug; values are escaped by the logger */
	if (cmd->u.id.n > 0 && log_level_enabled(LOG_LEVEL_DEBUG)) {
		struct mail_buf b = MAIL_BUF_INIT;

		for (size_t i = 0; i < cmd->u.id.n && i < 30; i++) {
			const struct imap_str *v = &cmd->u.id.values[i];

			mail_buf_printf(&b, "%s%.*s=%.*s", i > 0 ? ", " : "",
			    (int)cmd->u.id.keys[i].len, cmd->u.id.keys[i].data,
			    v->data != NULL ? (int)v->len : 3,
			    v->data != NULL ? v->data : "NIL");
		}
		log_debug("%s: ID %.*s", c->peer, (int)b.len,
		    (const char *)b.data);
		mail_buf_free(&b);
	}
	imapd_client_printf(c, "* ID (\"name\" \"imapd\" \"vendor\" "
	    "\"dsync\" \"support-url\" \"man:imapd(8)\")\r\n");
	imapd_cmd_ok(c, cmd, "ID completed");
}

void
imapd_cmd_enable(struct imapd_client *c, struct imap_cmd *cmd)
{
	struct mail_buf b = MAIL_BUF_INIT;

	mail_buf_append_str(&b, "* ENABLED");
	for (size_t i = 0; i < cmd->u.enable.n; i++) {
		const char *cap = cmd->u.enable.caps[i];
		bool *flag = NULL;

		if (strcasecmp(cap, "CONDSTORE") == 0)
			flag = &c->condstore;
		else if (strcasecmp(cap, "QRESYNC") == 0)
			flag = &c->qresync;
		else if (strcasecmp(cap, "UTF8=ACCEPT") == 0)
			flag = &c->utf8;
		else if (strcasecmp(cap, "IMAP4rev2") == 0)
			flag = &c->rev2;
		if (flag == NULL || *flag)
			continue;	/* unknown or enabled before: not listed */
		*flag = true;
		if (flag == &c->qresync)
			c->condstore = true;
		if (flag == &c->rev2)
			c->utf8 = true;
		mail_buf_append(&b, " ", 1);
		mail_buf_append_str(&b, cap);
	}
	mail_buf_append_str(&b, "\r\n");
	imapd_client_write(c, b.data, b.len);
	mail_buf_free(&b);
	imapd_cmd_ok(c, cmd, "Enabled");
}

void
imapd_cmd_starttls(struct imapd_client *c, struct imap_cmd *cmd)
{
	if (c->d->tls == NULL) {
		imapd_cmd_reply(c, cmd, "NO", "TLS is not configured");
		return;
	}
	if (imap_conn_is_tls(c->conn)) {
		imapd_cmd_reply(c, cmd, "BAD", "TLS is already active");
		return;
	}
	imapd_cmd_ok(c, cmd, "Begin TLS negotiation now");
	/* commands pipelined after STARTTLS were sent in the clear: they
	 * are dropped, not run under TLS (RFC 9051 11.1) */
	mail_buf_reset(&c->in);
	c->start_tls = true;
	imapd_client_set_input(c, IMAPD_IN_NONE);
}

void
imapd_cmd_compress(struct imapd_client *c, struct imap_cmd *cmd)
{
	if (strcasecmp(cmd->u.compress.mechanism, "DEFLATE") != 0) {
		imapd_cmd_reply(c, cmd, "NO", "Unknown compression mechanism");
		return;
	}
	if (imap_conn_is_compressed(c->conn)) {
		imapd_cmd_reply(c, cmd, "NO", "[COMPRESSIONACTIVE] "
		    "Compression is already active");
		return;
	}
	imapd_cmd_ok(c, cmd, "DEFLATE active");
	c->start_deflate = true;
	imapd_client_set_input(c, IMAPD_IN_NONE);
}

/* ---- login ---- */

static void
login_failed_now(struct mail_loop *loop, void *ctx)
{
	struct imapd_client *c = ctx;

	(void)loop;
	c->delay = NULL;
	c->auth_failures++;
	imapd_client_reply(c, c->auth_tag, "NO", "[AUTHENTICATIONFAILED] "
	    "Authentication failed");
	free(c->auth_tag);
	c->auth_tag = NULL;
	if (c->auth_failures >= c->d->set.max_auth_failures)
		imapd_client_bye(c, "Too many failed logins");
	else
		imapd_client_set_input(c, IMAPD_IN_COMMAND);
	imapd_client_update(c);
}

/* Answer tag with NO after the failure delay. Takes tag. */
static void
login_failed(struct imapd_client *c, char *tag, const char *user)
{
	log_info("%s: login as \"%s\" failed", c->peer, user);
	free(c->auth_tag);
	c->auth_tag = tag;
	imapd_client_set_input(c, IMAPD_IN_NONE);
	c->delay = mail_timer_add(c->d->loop, c->d->set.auth_failure_delay_ms,
	    login_failed_now, c);
}

/* Check user and password (in a worker thread; the session reads
 * nothing meanwhile); imapd_login_checked() answers tag. Takes tag. */
static void
login(struct imapd_client *c, char *tag, const char *user, size_t user_len,
    const char *pw, size_t pw_len)
{
	imapd_passdb_reload(c->d);
	free(c->auth_tag);
	c->auth_tag = tag;
	imapd_client_set_input(c, IMAPD_IN_NONE);
	imapd_authwork_submit(c, user, user_len, pw, pw_len);
}

void
imapd_login_checked(struct imapd_client *c, const char *user, int result,
    const struct mail_err *verr)
{
	struct imapd *d = c->d;
	struct mail_err err;
	struct mail_buf caps = MAIL_BUF_INIT;
	char *tag = c->auth_tag;

	c->auth_tag = NULL;
	if (result < 0) {
		log_error("%s: checking a password: %s", c->peer, verr->msg);
		imapd_client_reply(c, tag, "NO", "[UNAVAILABLE] "
		    "Authentication is unavailable");
		goto out;
	}
	if (result == 0 || mail_user_name_check(user, &err) < 0) {
		login_failed(c, tag, user);
		imapd_client_update(c);
		return;
	}
	if (imapd_user_get(d, user, &c->user, &err) < 0) {
		log_error("%s: user \"%s\": %s", c->peer, user, err.msg);
		imapd_client_reply(c, tag, "NO", "[UNAVAILABLE] "
		    "Mailbox store is unavailable");
		goto out;
	}
	imapd_user_attach(c->user, c);
	c->state = IMAPD_AUTH;
	mail_timer_del(&c->timer);
	imapd_client_timer_rearm(c);
	log_info("%s: logged in as \"%s\"", c->peer, user);
	imapd_capabilities(c, &caps);
	imapd_client_reply(c, tag, "OK", "[CAPABILITY %.*s] Logged in",
	    (int)caps.len, (const char *)caps.data);
	mail_buf_free(&caps);
out:
	free(tag);
	imapd_client_set_input(c, IMAPD_IN_COMMAND);
	imapd_client_update(c);
}

/* Whether a password may be sent on this connection; answers NO if not. */
static bool
plaintext_ok(struct imapd_client *c, const char *tag)
{
	if (c->secure)
		return true;
	imapd_client_reply(c, tag, "NO", "[PRIVACYREQUIRED] Plaintext "
	    "authentication is disabled: use STARTTLS or the TLS port");
	return false;
}

void
imapd_cmd_login(struct imapd_client *c, struct imap_cmd *cmd)
{
	if (plaintext_ok(c, cmd->tag)) {
		login(c, mail_xstrdup(cmd->tag), cmd->u.login.user.data,
		    cmd->u.login.user.len, cmd->u.login.password.data,
		    cmd->u.login.password.len);
	}
	imapd_client_cmd_done(c);
}

static void
auth_end(struct imapd_client *c)
{
	free(c->auth_mech);
	c->auth_mech = NULL;
	if (c->auth_user != NULL)
		imap_passwd_secret_free(&c->auth_user);
}

/* A PLAIN response in base64 (b64, len bytes). */
static void
auth_plain(struct imapd_client *c, char *tag, const char *b64, size_t len)
{
	struct mail_err err;
	char *authz, *authc, *pw;

	if (imap_passwd_sasl_plain_decode_base64(b64, len, &authz, &authc,
	    &pw, &err) < 0) {
		imapd_client_reply(c, tag, "BAD", "Invalid PLAIN response: %s",
		    err.msg);
		free(tag);
		return;
	}
	if (authz[0] != '\0' && strcmp(authz, authc) != 0) {
		imapd_client_reply(c, tag, "NO", "[AUTHORIZATIONFAILED] "
		    "Proxy authorization is not supported");
		free(tag);
	} else {
		login(c, tag, authc, strlen(authc), pw, strlen(pw));
	}
	free(authz);
	free(authc);
	imap_passwd_secret_free(&pw);
}

/* Decode one base64 line of AUTHENTICATE LOGIN into a new string. */
static char *
auth_decode(const char *b64, size_t len, struct mail_err *err)
{
	size_t max = IMAP_PASSWD_B64_DECODED_MAX(len) + 1;
	uint8_t *out = mail_xmalloc(max);
	ssize_t n = imap_passwd_base64_decode(b64, len, out, max, err);

	if (n < 0 || memchr(out, 0, (size_t)n) != NULL) {
		if (n >= 0)
			mail_err_set(err, MAIL_ERR_PROTO, "NUL in response");
		explicit_bzero(out, max);
		free(out);
		return NULL;
	}
	out[n] = '\0';
	return (char *)out;
}

static void
auth_login_step(struct imapd_client *c, const char *b64, size_t len)
{
	struct mail_err err;
	char *s = auth_decode(b64, len, &err);
	char *tag;

	if (s == NULL) {
		imapd_client_reply(c, c->auth_tag, "BAD", "Invalid base64: %s",
		    err.msg);
		free(c->auth_tag);
		c->auth_tag = NULL;
		auth_end(c);
		imapd_client_set_input(c, IMAPD_IN_COMMAND);
		return;
	}
	if (c->auth_user == NULL) {
		c->auth_user = s;
		imapd_client_write(c, "+ UGFzc3dvcmQ6\r\n", 16);
		imapd_client_set_input(c, IMAPD_IN_AUTH);
		return;
	}
	tag = c->auth_tag;
	c->auth_tag = NULL;
	imapd_client_set_input(c, IMAPD_IN_COMMAND);
	login(c, tag, c->auth_user, strlen(c->auth_user), s, strlen(s));
	imap_passwd_secret_free(&s);
	auth_end(c);
}

void
imapd_cmd_authenticate(struct imapd_client *c, struct imap_cmd *cmd)
{
	const char *mech = cmd->u.authenticate.mechanism;
	const struct imap_str *ir = &cmd->u.authenticate.initial;
	bool has_ir = cmd->u.authenticate.has_initial;

	if (!plaintext_ok(c, cmd->tag)) {
		imapd_client_cmd_done(c);
		return;
	}
	if (strcasecmp(mech, "PLAIN") == 0) {
		if (has_ir) {
			auth_plain(c, mail_xstrdup(cmd->tag), ir->data,
			    ir->len);
		} else {
			c->auth_tag = mail_xstrdup(cmd->tag);
			c->auth_mech = mail_xstrdup("PLAIN");
			imapd_client_write(c, "+ \r\n", 4);
			imapd_client_set_input(c, IMAPD_IN_AUTH);
		}
	} else if (strcasecmp(mech, "LOGIN") == 0) {
		c->auth_tag = mail_xstrdup(cmd->tag);
		c->auth_mech = mail_xstrdup("LOGIN");
		if (has_ir && ir->len > 0 &&
		    !(ir->len == 1 && ir->data[0] == '=')) {
			auth_login_step(c, ir->data, ir->len);
		} else {
			imapd_client_write(c, "+ VXNlcm5hbWU6\r\n", 16);
			imapd_client_set_input(c, IMAPD_IN_AUTH);
		}
	} else {
		imapd_client_reply(c, cmd->tag, "NO", "Unsupported "
		    "authentication mechanism");
	}
	imapd_client_cmd_done(c);
}

void
imapd_auth_line(struct imapd_client *c, const uint8_t *line, size_t len)
{
	char *tag;

	if (len == 1 && line[0] == '*') {
		imapd_client_reply(c, c->auth_tag, "BAD", "Authentication "
		    "cancelled");
		free(c->auth_tag);
		c->auth_tag = NULL;
		auth_end(c);
		imapd_client_set_input(c, IMAPD_IN_COMMAND);
		return;
	}
	if (strcmp(c->auth_mech, "PLAIN") == 0) {
		tag = c->auth_tag;
		c->auth_tag = NULL;
		auth_end(c);
		imapd_client_set_input(c, IMAPD_IN_COMMAND);
		auth_plain(c, tag, (const char *)line, len);
	} else {
		auth_login_step(c, (const char *)line, len);
	}
}
