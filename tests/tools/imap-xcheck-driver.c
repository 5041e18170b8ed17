/*
 * imap-xcheck-driver.c: runs libimapd's SORT or THREAD over a directory
 * of messages, for tests/tools/imap-xcheck (which compares the result
 * with Dovecot's). Not part of the build: the script compiles it against
 * a build directory's libimapd.a and libmail.a.
 *
 * Usage: imap-xcheck-driver DIR sort "CRITERIA..."
 *        imap-xcheck-driver DIR thread ALGORITHM
 *        imap-xcheck-driver DIR search "SEARCH KEYS..."
 * DIR holds 1.eml .. N.eml (message i has sequence number i and UID i)
 * and "idates": N lines of internal dates in unix seconds. Prints the
 * sequence numbers in SORT order, the THREAD response data, or the
 * matching sequence numbers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_search.h"
#include "imap_sort.h"
#include "imap_thread.h"

struct corpus {
	char	**data;
	size_t	*len;
	size_t	 n;
};

static int
corpus_body(void *ctx, uint32_t uid, const uint8_t **data_r, size_t *len_r,
    struct mail_err *err)
{
	struct corpus *c = ctx;

	if (uid == 0 || uid > c->n)
		return mail_err_set(err, MAIL_ERR_NOTFOUND, "no uid %u", uid);
	*data_r = (const uint8_t *)c->data[uid - 1];
	*len_r = c->len[uid - 1];
	return 0;
}

static char *
slurp(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		perror(path);
		exit(1);
	}
	buf = mail_xmalloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		perror(path);
		exit(1);
	}
	buf[n] = '\0';
	fclose(f);
	*len_r = (size_t)n;
	return buf;
}

static const struct {
	const char *name;
	enum imap_sort_key key;
} sort_keys[] = {
	{ "ARRIVAL", IMAP_SORT_ARRIVAL }, { "CC", IMAP_SORT_CC },
	{ "DATE", IMAP_SORT_DATE }, { "FROM", IMAP_SORT_FROM },
	{ "SIZE", IMAP_SORT_SIZE }, { "SUBJECT", IMAP_SORT_SUBJECT },
	{ "TO", IMAP_SORT_TO }, { "DISPLAYFROM", IMAP_SORT_DISPLAYFROM },
	{ "DISPLAYTO", IMAP_SORT_DISPLAYTO },
};

int
main(int argc, char **argv)
{
	struct corpus c = { NULL, NULL, 0 };
	struct imap_msg_info *msgs;
	struct imap_search_env env;
	struct imap_sort_criterion crit[32];
	struct mail_buf out = MAIL_BUF_INIT;
	struct mail_err err;
	char path[4096], *idates, *p, *tok, *save = NULL;
	size_t n_crit = 0, len, *order;
	bool reverse = false;
	FILE *f;

	if (argc != 4) {
		fprintf(stderr, "usage: %s DIR sort|thread ARG\n", argv[0]);
		return 2;
	}
	snprintf(path, sizeof(path), "%s/idates", argv[1]);
	idates = slurp(path, &len);
	for (p = idates; *p != '\0'; p++)
		c.n += *p == '\n';
	c.data = mail_xcalloc(c.n + 1, sizeof(*c.data));
	c.len = mail_xcalloc(c.n + 1, sizeof(*c.len));
	msgs = mail_xcalloc(c.n + 1, sizeof(*msgs));
	p = idates;
	for (size_t i = 0; i < c.n; i++) {
		snprintf(path, sizeof(path), "%s/%zu.eml", argv[1], i + 1);
		c.data[i] = slurp(path, &c.len[i]);
		msgs[i].seq = msgs[i].uid = (uint32_t)(i + 1);
		msgs[i].idate = strtoll(p, &p, 10);
		msgs[i].size = c.len[i];
	}
	memset(&env, 0, sizeof(env));
	env.max_seq = env.max_uid = (uint32_t)c.n;
	env.body = corpus_body;
	env.body_ctx = &c;
	f = stdout;
	if (strcmp(argv[2], "sort") == 0) {
		for (tok = strtok_r(argv[3], " ", &save); tok != NULL;
		    tok = strtok_r(NULL, " ", &save)) {
			size_t k;

			if (strcasecmp(tok, "REVERSE") == 0) {
				reverse = true;
				continue;
			}
			for (k = 0; k < N_ELEMENTS(sort_keys); k++) {
				if (strcasecmp(tok, sort_keys[k].name) == 0)
					break;
			}
			if (k == N_ELEMENTS(sort_keys) || n_crit == 32) {
				fprintf(stderr, "bad criterion '%s'\n", tok);
				return 2;
			}
			crit[n_crit].key = sort_keys[k].key;
			crit[n_crit++].reverse = reverse;
			reverse = false;
		}
		order = mail_xcalloc(c.n + 1, sizeof(*order));
		if (imap_sort(crit, n_crit, msgs, c.n, &env, order, &err) < 0) {
			fprintf(stderr, "sort: %s\n", err.msg);
			return 1;
		}
		for (size_t i = 0; i < c.n; i++)
			fprintf(f, "%s%u", i > 0 ? " " : "",
			    msgs[order[i]].seq);
		fprintf(f, "\n");
		free(order);
	} else if (strcmp(argv[2], "search") == 0) {
		struct imap_parser *parser = imap_parser_new(NULL);
		struct imap_cmd *cmd = NULL;
		char *line = mail_xasprintf("a SEARCH %s\r\n", argv[3]);
		const char *sep = "";
		size_t used;
		bool r;

		if (imap_parser_run(parser, (const uint8_t *)line, strlen(line),
		    &used, &cmd, &err) != IMAP_PARSE_DONE) {
			fprintf(stderr, "search: %s\n", err.msg);
			return 2;
		}
		for (size_t i = 0; i < c.n; i++) {
			if (imap_search_match(cmd->u.search.keys, &env,
			    &msgs[i], &r, &err) < 0) {
				fprintf(stderr, "search: %s\n", err.msg);
				return 1;
			}
			if (r) {
				fprintf(f, "%s%u", sep, msgs[i].seq);
				sep = " ";
			}
		}
		fprintf(f, "\n");
		imap_cmd_free(&cmd);
		imap_parser_free(&parser);
		free(line);
	} else {
		enum imap_thread_alg alg;

		if (strcasecmp(argv[3], "ORDEREDSUBJECT") == 0)
			alg = IMAP_THREAD_ORDEREDSUBJECT;
		else if (strcasecmp(argv[3], "REFERENCES") == 0)
			alg = IMAP_THREAD_REFERENCES;
		else if (strcasecmp(argv[3], "REFS") == 0)
			alg = IMAP_THREAD_REFS;
		else {
			fprintf(stderr, "bad algorithm '%s'\n", argv[3]);
			return 2;
		}
		if (imap_thread(alg, msgs, c.n, &env, false, &out, &err) < 0) {
			fprintf(stderr, "thread: %s\n", err.msg);
			return 1;
		}
		fprintf(f, "%.*s\n", (int)out.len, (const char *)out.data);
		mail_buf_free(&out);
	}
	for (size_t i = 0; i < c.n; i++)
		free(c.data[i]);
	free(c.data);
	free(c.len);
	free(msgs);
	free(idates);
	return 0;
}
