/*
 * test_mail_rec.c: record payloads. Every type round-trips; every strict
 * prefix of a payload and every payload with a trailing byte is refused;
 * values the decoder must never accept (bad names, keywords, UID 0,
 * out-of-range numbers, hostile counts) are refused, not trusted.
 */
#include <stdlib.h>
#include <time.h>

#include "mail_rec.h"
#include "mail_flags.h"
#include "mail_name.h"
#include "testlib.h"

/* string literals for the char * fields of struct mail_rec */
#define S(x)	((char *)(uintptr_t)(x))
#define U8(x)	((uint8_t *)(uintptr_t)(x))

static void
guid_fill(struct mail_guid *g, uint8_t seed)
{
	for (size_t i = 0; i < sizeof(g->b); i++)
		g->b[i] = (uint8_t)(seed + i * 17);
}

/* Encode rec's payload into a log record view over payload. */
static void
to_lrec(const struct mail_rec *rec, struct mail_buf *payload,
    struct mail_log_rec *lrec)
{
	mail_buf_reset(payload);
	mail_rec_encode(rec, payload);
	memset(lrec, 0, sizeof(*lrec));
	lrec->type = (uint8_t)rec->type;
	lrec->modseq = rec->modseq;
	lrec->node = rec->node;
	lrec->hlc = rec->hlc;
	lrec->payload = payload->data;
	lrec->payload_len = payload->len;
}

static void
assert_str_eq_or_empty(const char *a, const char *b)
{
	ck_assert_str_eq(a != NULL ? a : "", b != NULL ? b : "");
}

static void
assert_rec_eq(const struct mail_rec *a, const struct mail_rec *b)
{
	ck_assert_int_eq(a->type, b->type);
	ck_assert_uint_eq(a->modseq, b->modseq);
	ck_assert_uint_eq(a->node, b->node);
	ck_assert_uint_eq(a->hlc, b->hlc);
	ck_assert_mem_eq(a->mailbox.b, b->mailbox.b, 16);
	ck_assert_uint_eq(a->uidvalidity, b->uidvalidity);
	assert_str_eq_or_empty(a->name, b->name);
	ck_assert_uint_eq(a->value_len, b->value_len);
	if (a->value_len > 0)
		ck_assert_mem_eq(a->value, b->value, a->value_len);
	ck_assert_int_eq(a->has_value, b->has_value);
	ck_assert_int_eq(a->on, b->on);
	assert_str_eq_or_empty(a->user, b->user);
	ck_assert_uint_eq(a->op, b->op);
	ck_assert_uint_eq(a->flags, b->flags);
	ck_assert_uint_eq(a->mask, b->mask);
	ck_assert_uint_eq(a->n_keywords, b->n_keywords);
	for (size_t i = 0; i < a->n_keywords; i++)
		ck_assert_str_eq(a->keywords[i], b->keywords[i]);
	ck_assert_uint_eq(a->uids.n, b->uids.n);
	for (size_t i = 0; i < a->uids.n; i++) {
		ck_assert_uint_eq(a->uids.r[i].lo, b->uids.r[i].lo);
		ck_assert_uint_eq(a->uids.r[i].hi, b->uids.r[i].hi);
	}
	ck_assert_uint_eq(a->uid, b->uid);
	ck_assert_mem_eq(a->guid.b, b->guid.b, 16);
	ck_assert_mem_eq(a->body.b, b->body.b, 16);
	ck_assert_uint_eq(a->inst_node, b->inst_node);
	ck_assert_uint_eq(a->inst_hlc, b->inst_hlc);
	ck_assert_int_eq(a->idate, b->idate);
	ck_assert_int_eq(a->sdate, b->sdate);
	ck_assert_uint_eq(a->size, b->size);
	ck_assert_uint_eq(a->uid_hlc, b->uid_hlc);
	ck_assert_uint_eq(a->uid_node, b->uid_node);
	ck_assert_uint_eq(a->flags_hlc, b->flags_hlc);
	ck_assert_uint_eq(a->flags_node, b->flags_node);
}

/* Decode must refuse with MAIL_ERR_CORRUPT and leave nothing to free. */
static void
assert_refused(const struct mail_log_rec *lrec, const char *what)
{
	struct mail_rec out;
	struct mail_err err;

	mail_err_clear(&err);
	ck_assert_msg(mail_rec_decode(lrec, &out, &err) == -1,
	    "%s: accepted", what);
	ck_assert_int_eq(err.code, MAIL_ERR_CORRUPT);
	ck_assert_ptr_null(out.name);
	ck_assert_ptr_null(out.value);
	ck_assert_ptr_null(out.user);
	ck_assert_ptr_null(out.keywords);
}

/* Round trip, then refuse every strict prefix and a trailing byte. */
static void
check_rec(const struct mail_rec *in)
{
	struct mail_buf payload = MAIL_BUF_INIT, edited = MAIL_BUF_INIT;
	struct mail_log_rec lrec, cut;
	struct mail_rec out;
	struct mail_err err;

	to_lrec(in, &payload, &lrec);
	if (mail_rec_decode(&lrec, &out, &err) < 0)
		ck_abort_msg("type %d: %s", in->type, err.msg);
	assert_rec_eq(in, &out);
	mail_rec_free(&out);
	ck_assert_ptr_null(out.name);
	for (size_t n = 0; n < payload.len; n++) {
		/* an exact-size copy, so ASan sees over-reads */
		uint8_t *p = mail_xmalloc(n + 1);

		memcpy(p, payload.data, n);
		cut = lrec;
		cut.payload = p;
		cut.payload_len = n;
		assert_refused(&cut, "prefix");
		free(p);
	}
	mail_buf_append(&edited, payload.data, payload.len);
	mail_buf_put_u8(&edited, 0);
	cut = lrec;
	cut.payload = edited.data;
	cut.payload_len = edited.len;
	assert_refused(&cut, "trailing byte");
	mail_buf_free(&payload);
	mail_buf_free(&edited);
}

static void
rec_init(struct mail_rec *rec, enum mail_rec_type type)
{
	memset(rec, 0, sizeof(*rec));
	rec->type = type;
	rec->modseq = 42;
	rec->node = 0xfeedface12345678ull;
	rec->hlc = 0x0123456789abcdefull;
	guid_fill(&rec->mailbox, 3);
}


START_TEST(test_roundtrip_all_types)
{
	struct mail_rec rec;
	static const uint8_t bin[] = { 0, 1, 2, 0xff, '\n', 0 };
	char *kw3[] = { S("$Forwarded"), S("Junk"), S("a.b-c_d") };

	rec_init(&rec, MAIL_REC_MAILBOX_CREATE);
	rec.uidvalidity = 1700000000;
	rec.name = S("INBOX/Sub/\xc3\xa4rger");
	check_rec(&rec);
	rec.uidvalidity = UINT32_MAX;
	check_rec(&rec);

	rec_init(&rec, MAIL_REC_MAILBOX_RENAME);
	rec.name = S("Archive/2024");
	check_rec(&rec);

	rec_init(&rec, MAIL_REC_MAILBOX_DELETE);
	check_rec(&rec);

	rec_init(&rec, MAIL_REC_MAILBOX_ATTR);
	rec.name = S("specialuse");
	rec.value = U8("\\Sent");
	rec.value_len = 5;
	check_rec(&rec);
	rec.name = S("pvtflags");
	rec.value = U8("");
	rec.value_len = 0;
	check_rec(&rec);

	rec_init(&rec, MAIL_REC_SUBSCRIBE);
	memset(&rec.mailbox, 0, sizeof(rec.mailbox));	/* not encoded */
	rec.name = S("Lists/dev");
	rec.on = true;
	check_rec(&rec);
	rec.on = false;
	check_rec(&rec);

	rec_init(&rec, MAIL_REC_MSG_ADD);
	rec.uid = 1;
	guid_fill(&rec.guid, 99);
	guid_fill(&rec.body, 7);
	rec.inst_node = UINT64_MAX;
	rec.inst_hlc = 12345;
	rec.flags = MAIL_SEEN | MAIL_DRAFT;
	rec.keywords = kw3;
	rec.n_keywords = 3;
	rec.idate = -2208988800;	/* 1900, before the epoch */
	rec.sdate = 1700000000;
	rec.size = (uint64_t)5 * 1024 * 1024 * 1024;
	check_rec(&rec);
	rec.uid = UINT32_MAX - 1;
	rec.flags = MAIL_FLAGS_ALL;
	rec.n_keywords = 0;
	rec.keywords = NULL;
	rec.idate = INT64_MIN;
	rec.sdate = INT64_MAX;
	check_rec(&rec);

	for (uint8_t op = MAIL_FLAGS_ADD; op <= MAIL_FLAGS_REPLACE; op++) {
		rec_init(&rec, MAIL_REC_MSG_FLAGS);
		rec.op = op;
		rec.flags = MAIL_FLAGGED;
		rec.mask = MAIL_FLAGS_ALL & ~MAIL_SEEN;
		rec.keywords = kw3;
		rec.n_keywords = 2;
		mail_uidset_add(&rec.uids, 1, 5);
		mail_uidset_add(&rec.uids, 9, 9);
		mail_uidset_add(&rec.uids, 100, UINT32_MAX);
		check_rec(&rec);
		mail_uidset_free(&rec.uids);

		rec_init(&rec, MAIL_REC_PVT_FLAGS);
		rec.user = S("bob@example.org");
		rec.op = op;
		rec.flags = MAIL_SEEN;
		rec.mask = MAIL_SEEN;
		mail_uidset_add(&rec.uids, 3, 3);
		check_rec(&rec);
		mail_uidset_free(&rec.uids);
	}

	rec_init(&rec, MAIL_REC_MSG_EXPUNGE);
	for (uint32_t u = 1; u < 3000; u += 3)
		mail_uidset_add(&rec.uids, u, u + 1);
	check_rec(&rec);
	mail_uidset_free(&rec.uids);
	/* an empty set is legal */
	check_rec(&rec);

	rec_init(&rec, MAIL_REC_METADATA);
	rec.uid = 0;
	rec.user = S("");
	rec.name = S("/shared/comment");
	rec.has_value = true;
	rec.value = (uint8_t *)(uintptr_t)bin;
	rec.value_len = sizeof(bin);
	check_rec(&rec);
	rec.uid = 17;
	rec.user = S("alice");
	rec.name = S("/private/vendor/x");
	rec.has_value = false;
	rec.value = NULL;
	rec.value_len = 0;
	check_rec(&rec);
	/* server level: zero mailbox GUID */
	memset(&rec.mailbox, 0, sizeof(rec.mailbox));
	rec.uid = 0;
	check_rec(&rec);

	rec_init(&rec, MAIL_REC_ACL);
	rec.name = S("anyone");
	rec.value = U8("lrswipkxtea");
	rec.value_len = 11;
	check_rec(&rec);
	rec.value = U8("");
	rec.value_len = 0;
	check_rec(&rec);

	rec_init(&rec, MAIL_REC_MSG_PUT);
	rec.uid = 17;
	guid_fill(&rec.guid, 99);
	guid_fill(&rec.body, 7);
	rec.inst_node = UINT64_MAX;
	rec.inst_hlc = 12345;
	rec.uid_hlc = 0x0123456789abcdefull;
	rec.uid_node = 3;
	rec.flags = MAIL_SEEN | MAIL_DRAFT;
	rec.keywords = kw3;
	rec.n_keywords = 3;
	rec.flags_hlc = UINT64_MAX;
	rec.flags_node = UINT64_MAX - 1;
	rec.idate = -2208988800;
	rec.sdate = 1700000000;
	rec.size = (uint64_t)5 * 1024 * 1024 * 1024;
	check_rec(&rec);
	rec.uid = UINT32_MAX - 1;
	rec.flags = MAIL_FLAGS_ALL;
	rec.n_keywords = 0;
	rec.keywords = NULL;
	rec.uid_hlc = rec.uid_node = rec.flags_hlc = rec.flags_node = 0;
	rec.idate = INT64_MIN;
	rec.sdate = INT64_MAX;
	check_rec(&rec);

	rec_init(&rec, MAIL_REC_MSG_TOMB);
	guid_fill(&rec.guid, 42);
	rec.inst_node = 0xfeedface;
	rec.inst_hlc = UINT64_MAX;
	check_rec(&rec);
	rec.inst_node = rec.inst_hlc = 0;
	check_rec(&rec);
}
END_TEST

/* A big metadata value (1 MiB, the limit) and 64 keywords. */
START_TEST(test_roundtrip_limits)
{
	struct mail_rec rec;
	char *kws[MAIL_REC_MAX_KEYWORDS];
	uint8_t *big = mail_xmalloc(MAIL_METADATA_VALUE_MAX);
	struct mail_buf payload = MAIL_BUF_INIT;
	struct mail_log_rec lrec;
	struct mail_rec out;
	struct mail_err err;

	for (size_t i = 0; i < MAIL_METADATA_VALUE_MAX; i++)
		big[i] = (uint8_t)(i * 13);
	rec_init(&rec, MAIL_REC_METADATA);
	rec.user = S("");
	rec.name = S("/shared/big");
	rec.has_value = true;
	rec.value = big;
	rec.value_len = MAIL_METADATA_VALUE_MAX;
	to_lrec(&rec, &payload, &lrec);
	ck_assert_int_eq(mail_rec_decode(&lrec, &out, &err), 0);
	assert_rec_eq(&rec, &out);
	mail_rec_free(&out);
	/* one byte over */
	rec.value_len = MAIL_METADATA_VALUE_MAX + 1;
	big = mail_xrealloc(big, MAIL_METADATA_VALUE_MAX + 1);
	rec.value = big;
	to_lrec(&rec, &payload, &lrec);
	assert_refused(&lrec, "value over the limit");
	free(big);

	for (size_t i = 0; i < MAIL_REC_MAX_KEYWORDS; i++)
		kws[i] = mail_xasprintf("kw%zu", i);
	rec_init(&rec, MAIL_REC_MSG_FLAGS);
	rec.keywords = kws;
	rec.n_keywords = MAIL_REC_MAX_KEYWORDS;
	mail_uidset_add(&rec.uids, 1, 1);
	to_lrec(&rec, &payload, &lrec);
	ck_assert_int_eq(mail_rec_decode(&lrec, &out, &err), 0);
	assert_rec_eq(&rec, &out);
	mail_rec_free(&out);
	mail_uidset_free(&rec.uids);
	for (size_t i = 0; i < MAIL_REC_MAX_KEYWORDS; i++)
		free(kws[i]);
	mail_buf_free(&payload);
}
END_TEST

/* Encode rec and expect the decoder to refuse it. */
static void
refuse(const struct mail_rec *rec, const char *what)
{
	struct mail_buf payload = MAIL_BUF_INIT;
	struct mail_log_rec lrec;

	to_lrec(rec, &payload, &lrec);
	assert_refused(&lrec, what);
	mail_buf_free(&payload);
}

START_TEST(test_bad_names)
{
	static const char *const bad[] = { "", "a//b", "..", "a/../b", ".",
	    "a/", "/a", "x\x01y", "tab\there", "del\x7f", "bad\xc3", "\xff",
	    "\xc0\xaf", "wild*", "100%" };
	struct mail_rec rec;
	char *long_name = mail_xmalloc(MAIL_MAILBOX_NAME_MAX + 2);

	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		rec_init(&rec, MAIL_REC_MAILBOX_CREATE);
		rec.uidvalidity = 1;
		rec.name = (char *)(uintptr_t)bad[i];
		refuse(&rec, bad[i]);
		rec_init(&rec, MAIL_REC_MAILBOX_RENAME);
		rec.name = (char *)(uintptr_t)bad[i];
		refuse(&rec, bad[i]);
		rec_init(&rec, MAIL_REC_SUBSCRIBE);
		rec.name = (char *)(uintptr_t)bad[i];
		rec.on = true;
		refuse(&rec, bad[i]);
	}
	/* over the length limit */
	for (size_t i = 0; i <= MAIL_MAILBOX_NAME_MAX; i++)
		long_name[i] = (i % 100 == 99) ? '/' : 'x';
	long_name[MAIL_MAILBOX_NAME_MAX + 1] = '\0';
	rec_init(&rec, MAIL_REC_MAILBOX_RENAME);
	rec.name = long_name;
	refuse(&rec, "1001 bytes");
	free(long_name);
}
END_TEST

START_TEST(test_bad_values)
{
	char *badkw[] = { S("ok"), S("has space") };
	char *badkw2[] = { S("\\Seen") };
	char *badkw3[] = { S("") };
	char *badkw4[] = { S("br]acket") };
	char *many[MAIL_REC_MAX_KEYWORDS + 1];
	struct mail_rec rec;

	rec_init(&rec, MAIL_REC_MAILBOX_CREATE);
	rec.name = S("A");
	rec.uidvalidity = 0;
	refuse(&rec, "uidvalidity 0");

	rec_init(&rec, MAIL_REC_MAILBOX_ATTR);
	rec.name = S("mergedinto");
	rec.value = U8("0000000000000000000000000000000");
	rec.value_len = 31;
	refuse(&rec, "mergedinto of 31 digits");
	rec.value = U8("00000000000000000000000000000000");
	rec.value_len = 32;
	refuse(&rec, "mergedinto zero");
	rec.value = U8("0000000000000000000000000000000A");
	refuse(&rec, "mergedinto in uppercase");

	rec_init(&rec, MAIL_REC_MSG_ADD);
	rec.uid = 0;
	refuse(&rec, "uid 0");
	rec.uid = UINT32_MAX;
	refuse(&rec, "uid 2^32-1");
	rec.uid = 5;
	rec.flags = 0x20;
	refuse(&rec, "unknown flag bit");
	rec.flags = 0;
	rec.keywords = badkw;
	rec.n_keywords = 2;
	refuse(&rec, "keyword with a space");
	rec.keywords = badkw2;
	rec.n_keywords = 1;
	refuse(&rec, "system flag as keyword");
	rec.keywords = badkw3;
	refuse(&rec, "empty keyword");
	rec.keywords = badkw4;
	refuse(&rec, "keyword with ]");
	for (size_t i = 0; i <= MAIL_REC_MAX_KEYWORDS; i++)
		many[i] = mail_xasprintf("k%zu", i);
	rec.keywords = many;
	rec.n_keywords = MAIL_REC_MAX_KEYWORDS + 1;
	refuse(&rec, "65 keywords");

	rec_init(&rec, MAIL_REC_MSG_PUT);
	rec.uid = 0;
	refuse(&rec, "put: uid 0");
	rec.uid = UINT32_MAX;
	refuse(&rec, "put: uid 2^32-1");
	rec.uid = 5;
	rec.flags = 0x20;
	refuse(&rec, "put: unknown flag bit");
	rec.flags = 0;
	rec.keywords = badkw;
	rec.n_keywords = 2;
	refuse(&rec, "put: keyword with a space");
	rec.keywords = badkw2;
	rec.n_keywords = 1;
	refuse(&rec, "put: system flag as keyword");
	rec.keywords = many;
	rec.n_keywords = MAIL_REC_MAX_KEYWORDS + 1;
	refuse(&rec, "put: 65 keywords");

	rec_init(&rec, MAIL_REC_MSG_FLAGS);
	mail_uidset_add(&rec.uids, 1, 1);
	rec.keywords = badkw;
	rec.n_keywords = 2;
	refuse(&rec, "flags: bad keyword");
	rec.keywords = many;
	rec.n_keywords = MAIL_REC_MAX_KEYWORDS + 1;
	refuse(&rec, "flags: 65 keywords");
	rec.n_keywords = 0;
	rec.op = 3;
	refuse(&rec, "op 3");
	rec.op = MAIL_FLAGS_ADD;
	rec.mask = 0x40;
	refuse(&rec, "mask bit");
	rec.mask = 0;
	rec.flags = 0x100;
	refuse(&rec, "flags bit");
	mail_uidset_free(&rec.uids);
	for (size_t i = 0; i <= MAIL_REC_MAX_KEYWORDS; i++)
		free(many[i]);

	/* UID 0 inside a set */
	rec_init(&rec, MAIL_REC_MSG_EXPUNGE);
	mail_uidset_add(&rec.uids, 0, 3);
	refuse(&rec, "expunge uid 0");
	mail_uidset_free(&rec.uids);
	rec_init(&rec, MAIL_REC_PVT_FLAGS);
	rec.user = S("bob");
	mail_uidset_add(&rec.uids, 0, 0);
	refuse(&rec, "pvt uid 0");
	mail_uidset_free(&rec.uids);
}
END_TEST

/* Hand-made payloads the encoder can not produce. */
START_TEST(test_bad_raw)
{
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_log_rec lrec;
	struct mail_guid g;

	guid_fill(&g, 1);
	memset(&lrec, 0, sizeof(lrec));
	/* unknown types */
	for (unsigned t = 14; t < 256; t += 61) {
		lrec.type = (uint8_t)t;
		lrec.payload = g.b;
		lrec.payload_len = 16;
		assert_refused(&lrec, "unknown type");
	}
	lrec.type = 0;
	assert_refused(&lrec, "type 0");
	/* a TOMB of a mailbox GUID alone; a PUT's UID above 2^32 */
	lrec.type = MAIL_REC_MSG_TOMB;
	assert_refused(&lrec, "tomb without a message");
	mail_buf_append(&b, g.b, 16);
	mail_buf_put_varint(&b, (uint64_t)UINT32_MAX + 1);
	mail_buf_append(&b, g.b, 16);
	for (int i = 0; i < 5; i++)
		mail_buf_put_varint(&b, 1);
	mail_buf_put_varint(&b, 0);	/* keywords */
	for (int i = 0; i < 5; i++)
		mail_buf_put_varint(&b, 1);
	mail_buf_append(&b, g.b, 16);
	lrec.type = MAIL_REC_MSG_PUT;
	lrec.payload = b.data;
	lrec.payload_len = b.len;
	assert_refused(&lrec, "put uid 2^32");
	mail_buf_reset(&b);

	/* a UID range that wraps past 2^32 */
	mail_buf_append(&b, g.b, 16);
	mail_buf_put_varint(&b, 1);
	mail_buf_put_varint(&b, 10);
	mail_buf_put_varint(&b, UINT32_MAX);
	lrec.type = MAIL_REC_MSG_EXPUNGE;
	lrec.payload = b.data;
	lrec.payload_len = b.len;
	assert_refused(&lrec, "range wraps");
	/* a UID above 2^32 */
	mail_buf_reset(&b);
	mail_buf_append(&b, g.b, 16);
	mail_buf_put_varint(&b, 1);
	mail_buf_put_varint(&b, (uint64_t)UINT32_MAX + 1);
	mail_buf_put_varint(&b, 0);
	lrec.payload = b.data;
	lrec.payload_len = b.len;
	assert_refused(&lrec, "uid 2^32");
	/* a range count far beyond the bytes present */
	mail_buf_reset(&b);
	mail_buf_append(&b, g.b, 16);
	mail_buf_put_varint(&b, UINT64_MAX);
	lrec.payload = b.data;
	lrec.payload_len = b.len;
	assert_refused(&lrec, "huge range count");
	mail_buf_reset(&b);
	mail_buf_append(&b, g.b, 16);
	mail_buf_put_varint(&b, MAIL_REC_MAX_RANGES);
	lrec.payload = b.data;
	lrec.payload_len = b.len;
	assert_refused(&lrec, "range count, no ranges");

	/* ranges out of order, overlapping or adjacent: not the encoder's
	 * normalized form */
	{
		static const uint64_t pairs[][4] = {
			{ 5, 0, 1, 0 },		/* descending */
			{ 1, 4, 3, 0 },		/* overlapping */
			{ 1, 1, 3, 0 },		/* adjacent: 1:2 then 3 */
			{ 7, 0, 7, 0 },		/* repeated */
		};

		for (size_t i = 0; i < N_ELEMENTS(pairs); i++) {
			mail_buf_reset(&b);
			mail_buf_append(&b, g.b, 16);
			mail_buf_put_varint(&b, 2);
			for (size_t k = 0; k < 4; k++)
				mail_buf_put_varint(&b, pairs[i][k]);
			lrec.type = MAIL_REC_MSG_EXPUNGE;
			lrec.payload = b.data;
			lrec.payload_len = b.len;
			assert_refused(&lrec, "non-normalized ranges");
		}
		/* 1:2 then 4: fine */
		mail_buf_reset(&b);
		mail_buf_append(&b, g.b, 16);
		mail_buf_put_varint(&b, 2);
		mail_buf_put_varint(&b, 1);
		mail_buf_put_varint(&b, 1);
		mail_buf_put_varint(&b, 4);
		mail_buf_put_varint(&b, 0);
		lrec.payload = b.data;
		lrec.payload_len = b.len;
		{
			struct mail_rec out;
			struct mail_err err;

			ck_assert_int_eq(mail_rec_decode(&lrec, &out, &err), 0);
			ck_assert_uint_eq(out.uids.n, 2);
			mail_rec_free(&out);
		}
	}

	/* SUBSCRIBE with on = 2; METADATA with has_value = 2 */
	mail_buf_reset(&b);
	mail_buf_put_str(&b, "INBOX");
	mail_buf_put_u8(&b, 2);
	lrec.type = MAIL_REC_SUBSCRIBE;
	lrec.payload = b.data;
	lrec.payload_len = b.len;
	assert_refused(&lrec, "subscribe on=2");
	mail_buf_reset(&b);
	mail_buf_append(&b, g.b, 16);
	mail_buf_put_varint(&b, 0);
	mail_buf_put_str(&b, "");
	mail_buf_put_str(&b, "/shared/x");
	mail_buf_put_u8(&b, 2);
	mail_buf_put_bytes(&b, "v", 1);
	lrec.type = MAIL_REC_METADATA;
	lrec.payload = b.data;
	lrec.payload_len = b.len;
	assert_refused(&lrec, "has_value=2");
	/* a NUL inside a string */
	mail_buf_reset(&b);
	mail_buf_append(&b, g.b, 16);
	mail_buf_put_bytes(&b, "ab\0cd", 5);
	lrec.type = MAIL_REC_MAILBOX_RENAME;
	lrec.payload = b.data;
	lrec.payload_len = b.len;
	assert_refused(&lrec, "NUL in name");
	/* an overlong varint */
	mail_buf_reset(&b);
	mail_buf_append(&b, g.b, 16);
	for (int i = 0; i < 11; i++)
		mail_buf_put_u8(&b, 0xff);
	mail_buf_put_u8(&b, 0x01);
	lrec.type = MAIL_REC_MSG_EXPUNGE;
	lrec.payload = b.data;
	lrec.payload_len = b.len;
	assert_refused(&lrec, "overlong varint");
	mail_buf_free(&b);
}
END_TEST

/* A hostile record with the most ranges allowed, in descending order,
 * must not cost quadratic time to decode (a record is also what a peer
 * sends). */
START_TEST(test_many_ranges_fast)
{
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_log_rec lrec;
	struct mail_rec out;
	struct mail_err err;
	struct mail_guid g;
	struct timespec t0, t1;
	double secs;
	int r;

	guid_fill(&g, 1);
	mail_buf_append(&b, g.b, 16);
	mail_buf_put_varint(&b, MAIL_REC_MAX_RANGES);
	for (uint32_t i = MAIL_REC_MAX_RANGES; i > 0; i--) {
		mail_buf_put_varint(&b, 2 * (uint64_t)i);
		mail_buf_put_varint(&b, 0);
	}
	memset(&lrec, 0, sizeof(lrec));
	lrec.type = MAIL_REC_MSG_EXPUNGE;
	lrec.payload = b.data;
	lrec.payload_len = b.len;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = mail_rec_decode(&lrec, &out, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_msg(secs < 2.0, "decoding took %.1f s", secs);
	if (r == 0) {
		/* accepted: then it must be the normalized set */
		ck_assert_uint_eq(out.uids.n, MAIL_REC_MAX_RANGES);
		for (size_t i = 1; i < out.uids.n; i++)
			ck_assert_uint_gt(out.uids.r[i].lo, out.uids.r[i - 1].hi);
		mail_rec_free(&out);
	} else {
		ck_assert_int_eq(err.code, MAIL_ERR_CORRUPT);
	}
	/* the encoder's own (ascending) form of the same set decodes */
	mail_buf_reset(&b);
	mail_buf_append(&b, g.b, 16);
	mail_buf_put_varint(&b, MAIL_REC_MAX_RANGES);
	for (uint32_t i = 1; i <= MAIL_REC_MAX_RANGES; i++) {
		mail_buf_put_varint(&b, 2 * (uint64_t)i);
		mail_buf_put_varint(&b, 0);
	}
	lrec.payload = b.data;
	lrec.payload_len = b.len;
	ck_assert_int_eq(mail_rec_decode(&lrec, &out, &err), 0);
	ck_assert_uint_eq(out.uids.n, MAIL_REC_MAX_RANGES);
	ck_assert_uint_eq(mail_uidset_count(&out.uids), MAIL_REC_MAX_RANGES);
	mail_rec_free(&out);
	mail_buf_free(&b);
}
END_TEST

Suite *test_mail_rec_suite(void);
Suite *
test_mail_rec_suite(void)
{
	Suite *s = suite_create("mail_rec");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_roundtrip_all_types);
	tcase_add_test(tc, test_roundtrip_limits);
	tcase_add_test(tc, test_bad_names);
	tcase_add_test(tc, test_bad_values);
	tcase_add_test(tc, test_bad_raw);
	tcase_add_test(tc, test_many_ranges_fast);
	suite_add_tcase(s, tc);
	return s;
}
