/*
 * fuzz_mime.c: libFuzzer target for the mail_mime modules.
 *
 * Parses the input as a message and asks of the tree everything an IMAP
 * FETCH could: BODYSTRUCTURE and BODY (both grammars), the ENVELOPE of
 * every part, a set of section specs with their bytes as IMAP sends them,
 * HEADER.FIELDS filtering and decoded bodies. Beyond the sanitizers it
 * traps when a documented invariant breaks: header and body tile each
 * part, children lie inside their parent's body in order, line counts and
 * vsizes match the bytes, the limits hold, sections stay inside the
 * message, and the IMAP output is balanced.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail_mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* LFs and bare LFs (no CR before them in the whole message) in a range. */
static void
fuzz_count(const uint8_t *msg, size_t off, size_t n, size_t *lfs_r,
    size_t *bare_r)
{
	*lfs_r = *bare_r = 0;
	for (size_t i = off; i < off + n; i++) {
		if (msg[i] != '\n')
			continue;
		(*lfs_r)++;
		if (i == 0 || msg[i - 1] != '\r')
			(*bare_r)++;
	}
}

static void
fuzz_check_part(const uint8_t *msg, size_t len, const struct mail_mime_part *p)
{
	const struct mail_mime_part *c, *prev = NULL;
	size_t lfs, bare;

	if (p->hdr_offset + p->hdr_size != p->body_offset ||
	    p->body_offset + p->body_size > len ||
	    p->depth >= MAIL_MIME_MAX_DEPTH || p->type == NULL ||
	    p->subtype == NULL)
		__builtin_trap();
	fuzz_count(msg, p->hdr_offset, p->hdr_size, &lfs, &bare);
	if (p->hdr_vsize != p->hdr_size + bare)
		__builtin_trap();
	fuzz_count(msg, p->body_offset, p->body_size, &lfs, &bare);
	if (p->body_vsize != p->body_size + bare || p->body_lines != lfs)
		__builtin_trap();
	for (c = p->children; c != NULL; c = c->next) {
		if (c->parent != p || c->depth != p->depth + 1 ||
		    c->hdr_offset < p->body_offset ||
		    c->body_offset + c->body_size >
		    p->body_offset + p->body_size ||
		    (prev != NULL &&
		    prev->body_offset + prev->body_size > c->hdr_offset) ||
		    (p->flags & MAIL_MIME_PART_OPAQUE) != 0)
			__builtin_trap();
		prev = c;
	}
}

/* Parentheses balance outside quoted strings and literals, and a
 * literal's length fits. */
static void
fuzz_check_imap(const struct mail_buf *b)
{
	size_t i = 0, depth = 0, lit;

	while (i < b->len) {
		switch (b->data[i]) {
		case '(':
			depth++;
			break;
		case ')':
			if (depth-- == 0)
				__builtin_trap();
			break;
		case '"':
			for (i++; i < b->len && b->data[i] != '"'; i++) {
				if (b->data[i] == '\\')
					i++;
			}
			if (i >= b->len)
				__builtin_trap();
			break;
		case '{':
			for (lit = 0, i++; i < b->len && b->data[i] >= '0' &&
			    b->data[i] <= '9'; i++)
				lit = lit * 10 + (size_t)(b->data[i] - '0');
			if (b->len - i < 3 || lit > b->len - i - 3)
				__builtin_trap();
			i += 2 + lit;
			break;
		default:
			break;
		}
		i++;
	}
	if (depth != 0)
		__builtin_trap();
}

static void
fuzz_sections(const uint8_t *msg, size_t len,
    const struct mail_mime_part *root, struct mail_buf *b)
{
	static const char *const specs[] = { "", "1", "2", "3", "1.1", "1.2",
	    "2.1", "2.2", "1.1.1", "1.2.1", "3.2.1", "1.MIME", "2.MIME",
	    "1.1.MIME", "1.HEADER", "1.TEXT", "2.HEADER", "1.1.HEADER",
	    "HEADER", "TEXT", "HEADER.FIELDS (From)", "1.HEADER.FIELDS.NOT",
	    "0", "1.", "MIME", "1.X" };
	static const char *const names[] = { "from", "content-type" };
	struct mail_mime_section sec;
	struct mail_err err;

	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		if (mail_mime_section(msg, root, specs[i], &sec, &err) < 0) {
			if (err.code != MAIL_ERR_PARAM &&
			    err.code != MAIL_ERR_NOTFOUND)
				__builtin_trap();
			continue;
		}
		if (sec.offset + sec.size > len || sec.vsize < sec.size)
			__builtin_trap();
		mail_buf_reset(b);
		mail_mime_append_crlf(msg, sec.offset, sec.size, 0, UINT64_MAX,
		    b);
		if (b->len != sec.vsize)
			__builtin_trap();
		mail_buf_reset(b);
		mail_mime_append_crlf(msg, sec.offset, sec.size, sec.vsize / 3,
		    sec.vsize / 2, b);
		/* a window inside the section comes out whole */
		if (b->len != sec.vsize / 2)
			__builtin_trap();
		if (sec.kind == MAIL_MIME_SECTION_HEADER_FIELDS) {
			mail_buf_reset(b);
			mail_mime_header_fields(msg, sec.offset, sec.size,
			    names, 2, i % 2 == 0, b);
			if (b->len < 2)
				__builtin_trap();
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mail_mime_part *root = NULL;
	const struct mail_mime_part *p;
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_err err;
	size_t nparts = 0;

	if (mail_mime_parse(data, size, &root, &err) < 0 || root == NULL ||
	    root->hdr_offset != 0 ||
	    root->body_offset + root->body_size != size)
		__builtin_trap();
	for (p = root; p != NULL;) {
		fuzz_check_part(data, size, p);
		nparts++;
		mail_buf_reset(&b);
		mail_mime_envelope(data, p, &b);
		fuzz_check_imap(&b);
		mail_buf_reset(&b);
		if (mail_mime_decode_body(data, p, &b, &err) < 0 &&
		    err.code != MAIL_ERR_PARAM)
			__builtin_trap();
		if (p->children != NULL)
			p = p->children;
		else {
			while (p != NULL && p->next == NULL)
				p = p->parent;
			if (p != NULL)
				p = p->next;
		}
	}
	if (nparts > MAIL_MIME_MAX_PARTS)
		__builtin_trap();
	for (unsigned int flags = 0; flags < 4; flags++) {
		mail_buf_reset(&b);
		mail_mime_bodystructure(data, root, flags, &b);
		fuzz_check_imap(&b);
	}
	fuzz_sections(data, size, root, &b);
	mail_buf_free(&b);
	mail_mime_free(&root);
	return 0;
}
