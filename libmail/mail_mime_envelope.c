/*
 * mail_mime_envelope.c: the IMAP ENVELOPE of a message (RFC 3501 7.4.2,
 * RFC 9051 7.5.2) from its header: date, subject, in-reply-to and
 * message-id unfolded but otherwise as they are, and the six address
 * fields parsed from RFC 5322 address lists into (name adl mailbox host)
 * quadruples.
 *
 * The address parser is a lexer (struct mime_alex) and a few functions
 * over it with one token of look-ahead. It takes RFC 5322 with its
 * obsolete syntax (routes, comments, quoted local parts, groups) and
 * recovers from common breakage: a missing comma between addresses, an
 * addr-spec used as display name, words without any address. It never
 * fails and never recurses.
 */
#include <string.h>

#include "mail_mime_private.h"

/* ---- the address lexer ---- */

enum mime_atok {
	MIME_ATOK_END,
	MIME_ATOK_WORD,		/* atom, quoted string or domain literal */
	MIME_ATOK_SPECIAL,	/* one of < > @ , ; : */
};

/*
 * The address lexer. Atoms are taken loosely: '.' and 8-bit bytes are
 * part of them (obs-phrase, obs-local-part, raw UTF-8), and so are stray
 * ')', ']' and '\'. Comments are skipped, but the last one's text is kept
 * for the name of a bare addr-spec ("a@b (Name)").
 */
struct mime_alex {
	const char *p;
	const char *tok_start;	/* where the current token starts */
	enum mime_atok tok;
	char	 special;
	bool	 gap;		/* whitespace or a comment before it */
	bool	 quoted;	/* the word was a quoted string */
	bool	 pushed;	/* mime_alex_unget() was called */
	struct mail_buf word;	/* a word's text, quoting resolved */
	struct mail_buf comment; /* the last comment's text */
	size_t	 ncomments;
};

/* Read the comment at lx->p (at '('), keeping its text. */
static void
mime_alex_comment(struct mime_alex *lx)
{
	mail_buf_truncate(&lx->comment, 0);
	lx->p = mail_mime_comment(lx->p, &lx->comment);
	lx->ncomments++;
}

static enum mime_atok
mime_alex_next(struct mime_alex *lx)
{
	const char *p;

	if (lx->pushed) {
		lx->pushed = false;
		return lx->tok;
	}
	lx->gap = false;
	for (;;) {
		while (MAIL_MIME_IS_SPACE(*lx->p)) {
			lx->p++;
			lx->gap = true;
		}
		if (*lx->p != '(')
			break;
		mime_alex_comment(lx);
		lx->gap = true;
	}
	mail_buf_truncate(&lx->word, 0);
	lx->quoted = false;
	p = lx->tok_start = lx->p;
	if (*p == '\0')
		return lx->tok = MIME_ATOK_END;
	if (strchr("<>@,;:", *p) != NULL) {
		lx->special = *p;
		lx->p = p + 1;
		return lx->tok = MIME_ATOK_SPECIAL;
	}
	if (*p == '"') {
		p = mail_mime_quoted(p, &lx->word);
		lx->quoted = true;
	} else if (*p == '[') {
		/* domain literal, kept with its brackets */
		do {
			mail_buf_put_u8(&lx->word, (uint8_t)*p);
		} while (*p++ != ']' && *p != '\0');
	} else {
		/* Everything up to what starts another token; the first
		 * byte is always taken, so the lexer moves on. */
		do {
			mail_buf_put_u8(&lx->word, (uint8_t)*p++);
		} while (*p != '\0' && !MAIL_MIME_IS_SPACE(*p) &&
		    strchr("(<>@,;:\"[", *p) == NULL);
	}
	lx->p = p;
	return lx->tok = MIME_ATOK_WORD;
}

static void
mime_alex_unget(struct mime_alex *lx)
{
	lx->pushed = true;
}

static bool
mime_alex_is(const struct mime_alex *lx, enum mime_atok t, char special)
{
	return lx->tok == t && (t != MIME_ATOK_SPECIAL || lx->special == special);
}

/* A buffer's text as a C string ("" before anything was added). */
static const char *
mime_buf_str(const struct mail_buf *b)
{
	return b->data != NULL ? (const char *)b->data : "";
}

/* ---- address lists ---- */

/* One address list being written: "(" addresses ")" or NIL. */
struct mime_addrs {
	struct mail_buf out;
	size_t	 n;
	bool	 in_group;
};

static void
mime_addr_emit(struct mime_addrs *a, const char *name, const char *adl,
    const char *mailbox, const char *host)
{
	if (a->n++ == 0)
		mail_buf_put_u8(&a->out, '(');
	mail_buf_put_u8(&a->out, '(');
	mail_mime_put_nstr(&a->out, name != NULL && *name != '\0' ? name : NULL);
	mail_buf_put_u8(&a->out, ' ');
	mail_mime_put_nstr(&a->out, adl);
	mail_buf_put_u8(&a->out, ' ');
	mail_mime_put_nstr(&a->out, mailbox);
	mail_buf_put_u8(&a->out, ' ');
	mail_mime_put_nstr(&a->out, host);
	mail_buf_put_u8(&a->out, ')');
}

/* RFC 3501 7.4.2: a NIL host means group syntax, so a missing part gets a
 * placeholder (Dovecot's words). */
static void
mime_addr_mailbox(struct mime_addrs *a, const char *name, const char *adl,
    const char *local, const char *domain)
{
	mime_addr_emit(a, name, adl, *local != '\0' ? local :
	    "MISSING_MAILBOX", *domain != '\0' ? domain : "MISSING_DOMAIN");
}

static void
mime_addr_group_end(struct mime_addrs *a)
{
	if (a->in_group)
		mime_addr_emit(a, NULL, NULL, NULL, NULL);
	a->in_group = false;
}

/* Words up to the next non-word, concatenated ("a . b" is "a.b"). Leaves
 * the token after them current. */
static void
mime_addr_words(struct mime_alex *lx, struct mail_buf *out)
{
	while (mime_alex_next(lx) == MIME_ATOK_WORD)
		mail_buf_append(out, lx->word.data, lx->word.len);
}

/* A domain: words up to the next non-word or whitespace ("a@b c@d" lacks
 * a comma, it is not the domain "bc"). Leaves the token after it current. */
static void
mime_addr_domain(struct mime_alex *lx, struct mail_buf *out)
{
	bool first = true;

	while (mime_alex_next(lx) == MIME_ATOK_WORD && (first || !lx->gap)) {
		mail_buf_append(out, lx->word.data, lx->word.len);
		first = false;
	}
}

/* Skip to the ',' or ';' that ends an address and leave it unread. */
static void
mime_addr_skip(struct mime_alex *lx)
{
	while (!mime_alex_is(lx, MIME_ATOK_END, 0) &&
	    !mime_alex_is(lx, MIME_ATOK_SPECIAL, ',') &&
	    !mime_alex_is(lx, MIME_ATOK_SPECIAL, ';'))
		mime_alex_next(lx);
	mime_alex_unget(lx);
}

/* The end of an address: pass the current token if it is a '>' (the
 * angle-addr's or a stray one), then skip to the ',' or ';'. */
static void
mime_addr_finish(struct mime_alex *lx)
{
	if (!mime_alex_is(lx, MIME_ATOK_SPECIAL, '>'))
		mime_alex_unget(lx);
	mime_alex_next(lx);
	mime_addr_skip(lx);
}

/*
 * angle-addr after its '<': an optional obsolete route ("@a,@b:"), the
 * local part, '@' and the domain, up to '>'; then the rest of the address
 * is skipped. A route without its ':' was a domain after all ("<@b>").
 */
static void
mime_addr_angle(struct mime_alex *lx, struct mime_addrs *a, const char *name)
{
	struct mail_buf adl = MAIL_BUF_INIT, local = MAIL_BUF_INIT;
	struct mail_buf domain = MAIL_BUF_INIT;

	mime_alex_next(lx);
	while (mime_alex_is(lx, MIME_ATOK_SPECIAL, '@')) {
		mail_buf_put_u8(&adl, '@');
		mime_addr_words(lx, &adl);
		if (!mime_alex_is(lx, MIME_ATOK_SPECIAL, ','))
			break;
		mail_buf_put_u8(&adl, ',');
		mime_alex_next(lx);
	}
	if (adl.len > 0 && !mime_alex_is(lx, MIME_ATOK_SPECIAL, ':')) {
		mail_buf_append(&domain, adl.data + 1, adl.len - 1);
		mail_buf_truncate(&adl, 0);
	} else {
		if (adl.len > 0)
			mime_alex_next(lx);
		while (mime_alex_is(lx, MIME_ATOK_WORD, 0)) {
			mail_buf_append(&local, lx->word.data, lx->word.len);
			mime_alex_next(lx);
		}
		if (mime_alex_is(lx, MIME_ATOK_SPECIAL, '@'))
			mime_addr_domain(lx, &domain);
	}
	mime_addr_mailbox(a, name, adl.len > 0 ? mime_buf_str(&adl) : NULL,
	    mime_buf_str(&local), mime_buf_str(&domain));
	mime_addr_finish(lx);
	mail_buf_free(&adl);
	mail_buf_free(&local);
	mail_buf_free(&domain);
}

/* The words that start an address: all of them as a phrase (a space
 * where the message had whitespace), and where the last run of words
 * without whitespace between them starts (a local part). */
struct mime_phrase {
	struct mail_buf text;
	size_t	 nwords;
	size_t	 head_len;	/* text before the last run */
	size_t	 tail_off;	/* where the last run starts in text */
	size_t	 comments;	/* lx->ncomments after the first word */
	const char *start;	/* first word in the field value */
	bool	 quoted;	/* the first word was a quoted string */
};

static void
mime_phrase_read(struct mime_alex *lx, struct mime_phrase *ph)
{
	while (mime_alex_next(lx) == MIME_ATOK_WORD) {
		if (ph->nwords == 0) {
			ph->start = lx->tok_start;
			ph->comments = lx->ncomments;
			ph->quoted = lx->quoted;
		}
		if (ph->nwords == 0 || lx->gap) {
			ph->head_len = ph->text.len;
			if (ph->nwords > 0)
				mail_buf_put_u8(&ph->text, ' ');
			ph->tail_off = ph->text.len;
		}
		mail_buf_append(&ph->text, lx->word.data, lx->word.len);
		ph->nwords++;
	}
	if (ph->nwords == 0)
		ph->comments = lx->ncomments;
}

/* addr-spec: local "@" domain, the phrase's last run being the local
 * part. Words before it are a display name a mailer forgot to put in
 * front of "<"; else the name is the last comment after the address. An
 * addr-spec followed by '<' was the display name of what follows. */
static void
mime_addr_spec(struct mime_alex *lx, struct mime_addrs *a,
    struct mime_phrase *ph)
{
	struct mail_buf domain = MAIL_BUF_INIT, name = MAIL_BUF_INIT;
	const char *start = ph->start != NULL ? ph->start : lx->tok_start;
	const char *end;

	mime_addr_domain(lx, &domain);
	if (mime_alex_is(lx, MIME_ATOK_SPECIAL, '<')) {
		end = lx->tok_start;
		while (end > start && MAIL_MIME_IS_SPACE(end[-1]))
			end--;
		mail_buf_append(&name, start, (size_t)(end - start));
		mime_addr_angle(lx, a, mime_buf_str(&name));
		goto out;
	}
	if (ph->head_len > 0)
		mail_buf_append(&name, ph->text.data, ph->head_len);
	else if (lx->ncomments > ph->comments)
		mail_buf_append(&name, lx->comment.data, lx->comment.len);
	mime_addr_mailbox(a, mime_buf_str(&name), NULL,
	    ph->nwords > 0 ? (const char *)ph->text.data + ph->tail_off : "",
	    mime_buf_str(&domain));
	if (mime_alex_is(lx, MIME_ATOK_WORD, 0))
		mime_alex_unget(lx);	/* "a@b c@d": a missing comma */
	else
		mime_addr_skip(lx);
out:
	mail_buf_free(&domain);
	mail_buf_free(&name);
}

/* One address or the start of a group; consumes at least one token. */
static void
mime_addr_item(struct mime_alex *lx, struct mime_addrs *a)
{
	struct mime_phrase ph;

	memset(&ph, 0, sizeof(ph));
	mime_phrase_read(lx, &ph);
	if (mime_alex_is(lx, MIME_ATOK_SPECIAL, ':')) {
		mime_addr_group_end(a);
		mime_addr_emit(a, NULL, NULL, mime_buf_str(&ph.text), NULL);
		a->in_group = true;
	} else if (mime_alex_is(lx, MIME_ATOK_SPECIAL, '<')) {
		mime_addr_angle(lx, a, mime_buf_str(&ph.text));
	} else if (mime_alex_is(lx, MIME_ATOK_SPECIAL, '@')) {
		mime_addr_spec(lx, a, &ph);
	} else {
		/* No '@' or '<': one word is a local part without domain;
		 * several, or a quoted string, are a name without address
		 * (as Dovecot reads them). */
		if (ph.nwords == 1 && !ph.quoted)
			mime_addr_mailbox(a, NULL, NULL, mime_buf_str(&ph.text),
			    "");
		else if (ph.nwords > 0)
			mime_addr_mailbox(a, mime_buf_str(&ph.text), NULL, "",
			    "");
		mime_addr_finish(lx);
	}
	mail_buf_free(&ph.text);
}

/* Append the addresses of one field value to a. A group left open at the
 * end of the field is closed. */
static void
mime_addr_list(const char *value, struct mime_addrs *a)
{
	struct mime_alex lx;

	memset(&lx, 0, sizeof(lx));
	lx.p = value;
	for (;;) {
		mime_alex_next(&lx);
		if (lx.tok == MIME_ATOK_END)
			break;
		if (mime_alex_is(&lx, MIME_ATOK_SPECIAL, ','))
			continue;
		if (mime_alex_is(&lx, MIME_ATOK_SPECIAL, ';')) {
			mime_addr_group_end(a);
			continue;
		}
		mime_alex_unget(&lx);
		mime_addr_item(&lx, a);
	}
	mime_addr_group_end(a);
	mail_buf_free(&lx.word);
	mail_buf_free(&lx.comment);
}

static void
mime_put_addrs(struct mail_buf *out, const struct mime_addrs *a)
{
	if (a->n == 0) {
		mail_buf_append_str(out, "NIL");
		return;
	}
	mail_buf_append(out, a->out.data, a->out.len);
	mail_buf_put_u8(out, ')');
}

/* ---- ENVELOPE ---- */

void
mail_mime_envelope(const uint8_t *msg, const struct mail_mime_part *part,
    struct mail_buf *out)
{
	/* RFC 3501 7.4.2 order; the first six are address lists. */
	static const char *const names[] = { "from", "sender", "reply-to",
	    "to", "cc", "bcc", "date", "subject", "in-reply-to",
	    "message-id" };
	struct mime_addrs addrs[6];
	const char *strs[4] = { NULL, NULL, NULL, NULL };
	const struct mail_header_field *f;
	struct mail_headers *h;
	size_t i, k;

	if (msg == NULL)
		msg = mail_mime_empty_msg;
	memset(addrs, 0, sizeof(addrs));
	h = mail_mime_headers(msg, part->hdr_offset,
	    part->hdr_offset + part->hdr_size);
	/* As Dovecot: the last of a repeated text field wins, repeated
	 * address fields add up. */
	for (i = 0; i < mail_header_count(h); i++) {
		f = mail_header_field(h, i);
		if ((f->flags & MAIL_HEADER_FIELD_NO_COLON) != 0)
			continue;
		for (k = 0; k < N_ELEMENTS(names); k++) {
			if (!mail_mime_eq(f->name, names[k]))
				continue;
			if (k < 6)
				mime_addr_list(f->value, &addrs[k]);
			else
				strs[k - 6] = f->value;
		}
	}
	mail_buf_put_u8(out, '(');
	mail_mime_put_nstr(out, strs[0]);
	mail_buf_put_u8(out, ' ');
	mail_mime_put_nstr(out, strs[1]);
	for (k = 0; k < 6; k++) {
		mail_buf_put_u8(out, ' ');
		/* sender and reply-to default to from */
		mime_put_addrs(out, (k == 1 || k == 2) && addrs[k].n == 0 ?
		    &addrs[0] : &addrs[k]);
	}
	mail_buf_put_u8(out, ' ');
	mail_mime_put_nstr(out, strs[2]);
	mail_buf_put_u8(out, ' ');
	mail_mime_put_nstr(out, strs[3]);
	mail_buf_put_u8(out, ')');
	for (k = 0; k < 6; k++)
		mail_buf_free(&addrs[k].out);
	mail_headers_free(&h);
}
