/*
 * fuzz_imap_search.c: SEARCH, SORT and THREAD on hostile messages.
 *
 * The input is a mailbox: messages separated by the line "\n--MSG--\n"
 * (at most 16; one message when the separator is absent). Every message
 * goes through imap_search_match() with a fixed set of keys covering
 * every text and date key, each key also under NOT, which must give the
 * opposite answer; then the mailbox is sorted by every criterion (the
 * order must be a permutation, the same twice) and threaded with every
 * algorithm (the response must hold every message exactly once, in
 * balanced parentheses), and the base subject of each message's bytes
 * must be valid UTF-8. Nothing may fail: the body callback never does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap_search.h"
#include "imap_sort.h"
#include "imap_thread.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_MSGS	16

static const char *const fuzz_keys[] = {
	"TEXT \"a\"", "BODY \"\xc3\xa4\"", "BODY \"\"", "TEXT x",
	"SUBJECT re", "FROM \"@\"", "TO \"\"", "CC b", "BCC c",
	"HEADER X-Y z", "HEADER Subject \"\"", "SENTON 1-Jan-2020",
	"SENTBEFORE 1-Jan-2000", "SENTSINCE 1-Jan-2000",
	"OR BODY \"\xce\xa3\" SUBJECT \"\xd0\x96\"",
	"BODY \"=?\"", "TEXT \"\\\\\"",
};

struct fuzz_box {
	const uint8_t *msg[FUZZ_MAX_MSGS];
	size_t	 len[FUZZ_MAX_MSGS];
	size_t	 n;
};

static int
fuzz_body(void *ctx, uint32_t uid, const uint8_t **data_r, size_t *len_r,
    struct mail_err *err)
{
	struct fuzz_box *b = ctx;

	(void)err;
	if (uid == 0 || uid > b->n)
		abort();
	*data_r = b->msg[uid - 1];
	*len_r = b->len[uid - 1];
	return 0;
}

static struct imap_cmd *
fuzz_parse(const char *keys)
{
	struct imap_parser *p = imap_parser_new(NULL);
	struct imap_cmd *cmd = NULL;
	struct mail_err err;
	char line[256];
	size_t used;

	snprintf(line, sizeof(line), "a SEARCH %s\r\n", keys);
	if (imap_parser_run(p, (const uint8_t *)line, strlen(line), &used,
	    &cmd, &err) != IMAP_PARSE_DONE || cmd->type != IMAP_CMD_SEARCH) {
		fprintf(stderr, "cannot parse '%s'\n", keys);
		abort();
	}
	imap_parser_free(&p);
	return cmd;
}

static bool
fuzz_utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0, len;

	while (i < n) {
		uint8_t c = s[i];

		if (c < 0x80) {
			i++;
			continue;
		}
		len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
		if (len == 0 || c > 0xf4 || i + len > n)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
		}
		i += len;
	}
	return true;
}

static void
fuzz_search(const struct imap_search_env *env, const struct imap_msg_info *m)
{
	struct mail_err err;
	char not_keys[256];
	bool r1, r2;

	for (size_t k = 0; k < sizeof(fuzz_keys) / sizeof(fuzz_keys[0]); k++) {
		struct imap_cmd *cmd = fuzz_parse(fuzz_keys[k]);
		struct imap_cmd *neg;

		snprintf(not_keys, sizeof(not_keys), "NOT (%s)", fuzz_keys[k]);
		neg = fuzz_parse(not_keys);
		if (imap_search_match(cmd->u.search.keys, env, m, &r1,
		    &err) < 0 || imap_search_match(neg->u.search.keys, env,
		    m, &r2, &err) < 0) {
			fprintf(stderr, "'%s': %s\n", fuzz_keys[k], err.msg);
			abort();
		}
		if (r1 == r2) {
			fprintf(stderr, "'%s' and its NOT agree\n",
			    fuzz_keys[k]);
			abort();
		}
		imap_cmd_free(&cmd);
		imap_cmd_free(&neg);
	}
}

static void
fuzz_sort(const struct imap_search_env *env, const struct imap_msg_info *m,
    size_t n)
{
	struct imap_sort_criterion crit[2];
	size_t order[FUZZ_MAX_MSGS], again[FUZZ_MAX_MSGS];
	bool seen[FUZZ_MAX_MSGS];
	struct mail_err err;

	for (int key = IMAP_SORT_ARRIVAL; key <= IMAP_SORT_DISPLAYTO; key++) {
		crit[0].key = (enum imap_sort_key)key;
		crit[0].reverse = key % 2 == 0;
		crit[1].key = IMAP_SORT_SUBJECT;
		crit[1].reverse = false;
		if (imap_sort(crit, 2, m, n, env, order, &err) < 0 ||
		    imap_sort(crit, 2, m, n, env, again, &err) < 0)
			abort();
		memset(seen, 0, sizeof(seen));
		for (size_t i = 0; i < n; i++) {
			if (order[i] >= n || seen[order[i]] ||
			    order[i] != again[i])
				abort();
			seen[order[i]] = true;
		}
	}
}

static void
fuzz_thread(const struct imap_search_env *env, const struct imap_msg_info *m,
    size_t n)
{
	struct mail_buf out = MAIL_BUF_INIT;
	struct mail_err err;
	unsigned count[FUZZ_MAX_MSGS + 1];
	long depth;

	for (int alg = IMAP_THREAD_ORDEREDSUBJECT; alg <= IMAP_THREAD_REFS;
	    alg++) {
		mail_buf_reset(&out);
		if (imap_thread((enum imap_thread_alg)alg, m, n, env, false,
		    &out, &err) < 0)
			abort();
		memset(count, 0, sizeof(count));
		depth = 0;
		for (size_t i = 0; i < out.len; i++) {
			uint8_t c = out.data[i];

			if (c == '(')
				depth++;
			else if (c == ')') {
				if (--depth < 0)
					abort();
			} else if (c >= '1' && c <= '9') {
				unsigned v = 0;

				while (i < out.len && out.data[i] >= '0' &&
				    out.data[i] <= '9')
					v = v * 10 + (out.data[i++] - '0');
				i--;
				if (v == 0 || v > n)
					abort();
				count[v]++;
			} else if (c != ' ')
				abort();
		}
		if (depth != 0)
			abort();
		for (size_t i = 1; i <= n; i++) {
			if (count[i] != 1)
				abort();
		}
	}
	mail_buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char sep[] = "\n--MSG--\n";
	struct imap_msg_info m[FUZZ_MAX_MSGS];
	struct imap_search_env env;
	struct fuzz_box box;
	const uint8_t *p = data, *end = data + size, *q;
	char *base;

	memset(&box, 0, sizeof(box));
	while (box.n < FUZZ_MAX_MSGS) {
		q = box.n + 1 < FUZZ_MAX_MSGS ? memmem(p, (size_t)(end - p),
		    sep, sizeof(sep) - 1) : NULL;
		box.msg[box.n] = p;
		box.len[box.n] = (size_t)((q != NULL ? q : end) - p);
		box.n++;
		if (q == NULL)
			break;
		p = q + sizeof(sep) - 1;
	}
	memset(&env, 0, sizeof(env));
	env.max_seq = env.max_uid = (uint32_t)box.n;
	env.now = 1700000000;
	env.body = fuzz_body;
	env.body_ctx = &box;
	for (size_t i = 0; i < box.n; i++) {
		memset(&m[i], 0, sizeof(m[i]));
		m[i].seq = m[i].uid = (uint32_t)(i + 1);
		m[i].idate = 1600000000 + (int64_t)(i % 3) * 86400;
		m[i].size = box.len[i];
		fuzz_search(&env, &m[i]);
		base = imap_base_subject((const char *)box.msg[i],
		    box.len[i] < 4096 ? box.len[i] : 4096);
		if (!fuzz_utf8_valid((const uint8_t *)base, strlen(base)))
			abort();
		free(base);
	}
	fuzz_sort(&env, m, box.n);
	fuzz_thread(&env, m, box.n);
	return 0;
}
