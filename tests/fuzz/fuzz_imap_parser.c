/*
 * fuzz_imap_parser.c: the IMAP command parser on hostile client bytes.
 *
 * The first 4 bytes choose the options (literal mode, small limits,
 * streaming threshold), whether the "server" refuses every streamed
 * literal and reads raw lines after IDLE/AUTHENTICATE, and the seed of
 * the read sizes; the rest is the client's input. It is parsed in one
 * piece, in reads of pseudo-random sizes, and one byte at a time: the
 * three transcripts (commands in canonical form, errors, continuations,
 * streamed bytes) must be equal. Every command must also survive a round
 * trip: its canonical form parses back to the same canonical form.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_run {
	struct imap_parser_opts o;
	bool	 skip_streams;	/* refuse every streamed literal */
	bool	 raw_lines;	/* read lines after IDLE and AUTHENTICATE */
};

static void
fuzz_fail(const char *what, const struct mail_buf *a, const struct mail_buf *b)
{
	fprintf(stderr, "%s differ:\n--- %zu bytes\n%.*s\n--- %zu bytes\n%.*s\n",
	    what, a->len, (int)a->len, (const char *)a->data, b->len,
	    (int)b->len, (const char *)b->data);
	abort();
}

/* The canonical form of cmd parses back to itself. */
static void
fuzz_round_trip(const struct fuzz_run *run, const struct imap_cmd *cmd)
{
	struct imap_parser_opts o = run->o;
	struct mail_buf a = MAIL_BUF_INIT, b = MAIL_BUF_INIT;
	struct imap_parser *p;
	struct imap_cmd *again = NULL;
	struct mail_err err;
	size_t pos = 0, used;
	enum imap_parse_ret r;

	if (cmd->type == IMAP_CMD_APPEND) {
		for (size_t i = 0; i < cmd->u.append.n_msgs; i++) {
			if (cmd->u.append.msgs[i].streamed)
				return;	/* the body is not ours to write */
		}
	}
	imap_cmd_write(cmd, true, &a);
	/* the canonical text may be longer (macros, quoting) and nest one
	 * list more (FETCH items), never deeper in search keys */
	o.max_line = SIZE_MAX / 8;
	o.max_literal = SIZE_MAX / 8;
	o.max_append = SIZE_MAX / 8;
	o.stream_min = SIZE_MAX;
	o.max_depth += 2;
	o.max_args = o.max_args * 8 + 64;
	o.nonsync = IMAP_NONSYNC_PLUS;
	p = imap_parser_new(&o);
	do {
		r = imap_parser_run(p, a.data + pos, a.len - pos, &used, &again,
		    &err);
		pos += used;
	} while (r == IMAP_PARSE_CONTINUE);
	if (r != IMAP_PARSE_DONE || pos != a.len) {
		fprintf(stderr, "canonical form refused (%d): %s\n%.*s\n", r,
		    r == IMAP_PARSE_ERROR ? err.msg : "", (int)a.len,
		    (const char *)a.data);
		abort();
	}
	imap_cmd_write(again, true, &b);
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		fuzz_fail("round trip", &a, &b);
	imap_cmd_free(&again);
	imap_parser_free(&p);
	mail_buf_free(&a);
	mail_buf_free(&b);
}

struct fuzz_feed {
	const struct fuzz_run *run;
	struct imap_parser *p;
	struct mail_buf in, ev;
	bool	 data_open, stop, check;
	int	 raw;		/* raw lines still to read: 1 one, 2 to DONE */
};

static void
fuzz_event(struct fuzz_feed *f, const char *s, size_t n)
{
	if (f->ev.len > 0)
		mail_buf_append(&f->ev, "\n", 1);
	mail_buf_append(&f->ev, s, n);
}

/* One raw line after IDLE or AUTHENTICATE; false if it needs more. */
static bool
fuzz_raw_line(struct fuzz_feed *f)
{
	const uint8_t *line;
	size_t used, len;
	struct mail_err err;
	enum imap_parse_ret r = imap_parser_read_line(f->p, f->in.data,
	    f->in.len, &used, &line, &len, &err);

	if (r == IMAP_PARSE_MORE)
		return false;
	if (r == IMAP_PARSE_ERROR) {
		mail_buf_printf(&f->ev, "\nLINE ERROR %s", err.msg);
		f->stop = true;
		return false;
	}
	fuzz_event(f, "LINE ", 5);
	mail_buf_append(&f->ev, line, len);
	if (f->raw == 1 || imap_line_is_done(line, len))
		f->raw = 0;
	mail_buf_consume(&f->in, used);
	return true;
}

static void
fuzz_feed_run(struct fuzz_feed *f)
{
	while (!f->stop) {
		struct imap_cmd *cmd = NULL;
		struct mail_err err;
		size_t used;
		enum imap_parse_ret r;
		char line[400];

		if (f->raw != 0) {
			if (!fuzz_raw_line(f))
				return;
			continue;
		}
		r = imap_parser_run(f->p, f->in.data, f->in.len, &used, &cmd,
		    &err);
		if (used > f->in.len || (r != IMAP_PARSE_DONE && cmd != NULL))
			abort();
		switch (r) {
		case IMAP_PARSE_MORE:
			mail_buf_consume(&f->in, used);
			return;
		case IMAP_PARSE_DONE: {
			struct mail_buf out = MAIL_BUF_INIT;

			imap_cmd_write(cmd, true, &out);
			fuzz_event(f, "DONE ", 5);
			mail_buf_append(&f->ev, out.data, out.len);
			mail_buf_free(&out);
			if (f->check)
				fuzz_round_trip(f->run, cmd);
			if (f->run->raw_lines && cmd->type == IMAP_CMD_IDLE)
				f->raw = 2;
			if (f->run->raw_lines &&
			    cmd->type == IMAP_CMD_AUTHENTICATE)
				f->raw = 1;
			imap_cmd_free(&cmd);
			break;
		}
		case IMAP_PARSE_ERROR:
			snprintf(line, sizeof(line), "ERROR %s %d %s%s",
			    imap_parser_tag(f->p) != NULL ?
			    imap_parser_tag(f->p) : "*", err.code, err.msg,
			    imap_parser_fatal(f->p) ? " FATAL" : "");
			fuzz_event(f, line, strlen(line));
			f->stop = imap_parser_fatal(f->p);
			break;
		case IMAP_PARSE_CONTINUE:
			fuzz_event(f, "CONTINUE", 8);
			break;
		case IMAP_PARSE_LITERAL: {
			const struct imap_stream *st = imap_parser_stream(f->p);

			snprintf(line, sizeof(line), "LITERAL %zu %d %d %u",
			    st->size, st->sync, st->binary, st->msg_index);
			fuzz_event(f, line, strlen(line));
			if (f->run->skip_streams)
				imap_parser_skip_command(f->p);
			break;
		}
		case IMAP_PARSE_LITERAL_DATA:
			if (used == 0)
				abort();
			if (!f->data_open)
				fuzz_event(f, "DATA ", 5);
			mail_buf_append(&f->ev, f->in.data, used);
			break;
		default:
			abort();
		}
		f->data_open = r == IMAP_PARSE_LITERAL_DATA;
		mail_buf_consume(&f->in, used);
		if (imap_parser_mem_used(f->p) > 2 * f->run->o.max_line +
		    (f->run->o.max_literal + 1) * 2 + 65536 +
		    (size_t)f->run->o.max_args * 64)
			abort();	/* holding more than the limits allow */
	}
}

/* The transcript of in read in pieces: step 0 in one piece, step 1 one
 * byte at a time, else pseudo-random sizes from the seed. */
static void
fuzz_transcript(const struct fuzz_run *run, const uint8_t *in, size_t len,
    int step, uint32_t seed, bool check, struct mail_buf *out)
{
	struct fuzz_feed f;
	size_t fed = 0;

	memset(&f, 0, sizeof(f));
	f.run = run;
	f.check = check;
	f.p = imap_parser_new(&run->o);
	while (fed < len && !f.stop) {
		size_t n = len - fed;

		if (step == 1) {
			n = 1;
		} else if (step == 2) {
			seed ^= seed << 13;
			seed ^= seed >> 17;
			seed ^= seed << 5;
			n = 1 + seed % (seed & 0x100 ? 3 : 64);
			if (n > len - fed)
				n = len - fed;
		}
		mail_buf_append(&f.in, in + fed, n);
		fed += n;
		fuzz_feed_run(&f);
	}
	if (!f.stop)
		mail_buf_printf(&f.ev, "\nREST %zu", f.in.len);
	mail_buf_free(&f.in);
	imap_parser_free(&f.p);
	*out = f.ev;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_run run;
	struct mail_buf whole, split, bytes;
	uint32_t seed;

	if (size < 4)
		return 0;
	memset(&run, 0, sizeof(run));
	imap_parser_opts_default(&run.o);
	run.o.nonsync = (enum imap_nonsync)(data[0] & 3) % 3;
	if (data[0] & 4) {
		run.o.max_line = 64 + data[1];
		run.o.max_literal = data[2];
		run.o.max_append = 512;
		run.o.max_depth = 1 + (data[3] & 7);
		run.o.max_args = 1 + data[3] * 2u;
		run.o.max_search_depth = 1 + (data[3] >> 4);
	} else {
		run.o.max_append = 4096;
	}
	run.o.stream_min = data[1] & 0x80 ? SIZE_MAX : data[1] & 0x1f;
	run.skip_streams = (data[0] & 8) != 0;
	run.raw_lines = (data[0] & 16) != 0;
	seed = (uint32_t)data[2] << 8 | data[3] | 1;
	data += 4;
	size -= 4;

	fuzz_transcript(&run, data, size, 0, 0, true, &whole);
	fuzz_transcript(&run, data, size, 2, seed, false, &split);
	if (whole.len != split.len || memcmp(whole.data, split.data,
	    whole.len) != 0)
		fuzz_fail("whole and split transcripts", &whole, &split);
	if (size <= 4096) {
		fuzz_transcript(&run, data, size, 1, 0, false, &bytes);
		if (whole.len != bytes.len || memcmp(whole.data, bytes.data,
		    whole.len) != 0)
			fuzz_fail("whole and bytewise transcripts", &whole,
			    &bytes);
		mail_buf_free(&bytes);
	}
	mail_buf_free(&whole);
	mail_buf_free(&split);
	return 0;
}
