/*
 * mail_rec.c: record payload encoding and the untrusting decoder. The same
 * decoder reads our own log, snapshots' embedded data, and (later) bytes
 * from peers, so every length and count is bounded before use.
 */
#include <stdlib.h>

#include "mail_rec.h"
#include "mail_flags.h"
#include "mail_name.h"

static void
put_guid(struct mail_buf *b, const struct mail_guid *g)
{
	mail_buf_append(b, g->b, sizeof(g->b));
}

static void
put_keywords(struct mail_buf *b, char *const *kw, size_t n)
{
	mail_buf_put_varint(b, n);
	for (size_t i = 0; i < n; i++)
		mail_buf_put_str(b, kw[i]);
}

static void
put_uids(struct mail_buf *b, const struct mail_uidset *set)
{
	mail_buf_put_varint(b, set->n);
	for (size_t i = 0; i < set->n; i++) {
		mail_buf_put_varint(b, set->r[i].lo);
		mail_buf_put_varint(b, set->r[i].hi - set->r[i].lo);
	}
}

void
mail_rec_encode(const struct mail_rec *rec, struct mail_buf *b)
{
	switch (rec->type) {
	case MAIL_REC_MAILBOX_CREATE:
		put_guid(b, &rec->mailbox);
		mail_buf_put_varint(b, rec->uidvalidity);
		mail_buf_put_str(b, rec->name);
		break;
	case MAIL_REC_MAILBOX_RENAME:
		put_guid(b, &rec->mailbox);
		mail_buf_put_str(b, rec->name);
		break;
	case MAIL_REC_MAILBOX_DELETE:
		put_guid(b, &rec->mailbox);
		break;
	case MAIL_REC_MAILBOX_ATTR:
		put_guid(b, &rec->mailbox);
		mail_buf_put_str(b, rec->name);
		mail_buf_put_bytes(b, rec->value, rec->value_len);
		break;
	case MAIL_REC_SUBSCRIBE:
		mail_buf_put_str(b, rec->name);
		mail_buf_put_u8(b, rec->on ? 1 : 0);
		break;
	case MAIL_REC_MSG_ADD:
		put_guid(b, &rec->mailbox);
		mail_buf_put_varint(b, rec->uid);
		put_guid(b, &rec->guid);
		mail_buf_put_varint(b, rec->inst_node);
		mail_buf_put_varint(b, rec->inst_hlc);
		mail_buf_put_varint(b, rec->flags);
		put_keywords(b, rec->keywords, rec->n_keywords);
		mail_buf_put_varint(b, mail_zigzag(rec->idate));
		mail_buf_put_varint(b, mail_zigzag(rec->sdate));
		mail_buf_put_varint(b, rec->size);
		put_guid(b, &rec->body);
		break;
	case MAIL_REC_MSG_FLAGS:
		put_guid(b, &rec->mailbox);
		mail_buf_put_u8(b, rec->op);
		mail_buf_put_varint(b, rec->flags);
		mail_buf_put_varint(b, rec->mask);
		put_keywords(b, rec->keywords, rec->n_keywords);
		put_uids(b, &rec->uids);
		break;
	case MAIL_REC_MSG_EXPUNGE:
		put_guid(b, &rec->mailbox);
		put_uids(b, &rec->uids);
		break;
	case MAIL_REC_PVT_FLAGS:
		put_guid(b, &rec->mailbox);
		mail_buf_put_str(b, rec->user);
		mail_buf_put_u8(b, rec->op);
		mail_buf_put_varint(b, rec->flags);
		mail_buf_put_varint(b, rec->mask);
		put_uids(b, &rec->uids);
		break;
	case MAIL_REC_METADATA:
		put_guid(b, &rec->mailbox);
		mail_buf_put_varint(b, rec->uid);
		mail_buf_put_str(b, rec->user != NULL ? rec->user : "");
		mail_buf_put_str(b, rec->name);
		mail_buf_put_u8(b, rec->has_value ? 1 : 0);
		mail_buf_put_bytes(b, rec->value, rec->has_value ?
		    rec->value_len : 0);
		break;
	case MAIL_REC_ACL:
		put_guid(b, &rec->mailbox);
		mail_buf_put_str(b, rec->name);
		mail_buf_put_bytes(b, rec->value, rec->value_len);
		break;
	case MAIL_REC_MSG_PUT:
		put_guid(b, &rec->mailbox);
		mail_buf_put_varint(b, rec->uid);
		put_guid(b, &rec->guid);
		mail_buf_put_varint(b, rec->inst_node);
		mail_buf_put_varint(b, rec->inst_hlc);
		mail_buf_put_varint(b, rec->uid_hlc);
		mail_buf_put_varint(b, rec->uid_node);
		mail_buf_put_varint(b, rec->flags);
		put_keywords(b, rec->keywords, rec->n_keywords);
		mail_buf_put_varint(b, rec->flags_hlc);
		mail_buf_put_varint(b, rec->flags_node);
		mail_buf_put_varint(b, mail_zigzag(rec->idate));
		mail_buf_put_varint(b, mail_zigzag(rec->sdate));
		mail_buf_put_varint(b, rec->size);
		put_guid(b, &rec->body);
		break;
	case MAIL_REC_MSG_TOMB:
		put_guid(b, &rec->mailbox);
		put_guid(b, &rec->guid);
		mail_buf_put_varint(b, rec->inst_node);
		mail_buf_put_varint(b, rec->inst_hlc);
		break;
	}
}

static void
get_guid(struct mail_reader *r, struct mail_guid *g)
{
	mail_get_raw(r, g->b, sizeof(g->b));
}

static uint8_t *
get_value(struct mail_reader *r, size_t max, size_t *len_r)
{
	size_t n;
	const uint8_t *p = mail_get_bytes(r, max, &n);
	uint8_t *v;

	*len_r = 0;
	if (p == NULL)
		return NULL;
	v = mail_xmalloc(n + 1);
	memcpy(v, p, n);
	v[n] = '\0';
	*len_r = n;
	return v;
}

static void
get_keywords(struct mail_reader *r, struct mail_rec *rec)
{
	uint64_t n = mail_get_varint(r);

	if (n > MAIL_REC_MAX_KEYWORDS) {
		r->bad = true;
		return;
	}
	rec->keywords = mail_xcalloc((size_t)n, sizeof(char *));
	for (uint64_t i = 0; i < n && !r->bad; i++) {
		char *kw = mail_get_strdup(r, MAIL_KEYWORD_MAX_LEN);

		if (kw != NULL && !mail_keyword_valid(kw)) {
			free(kw);
			r->bad = true;
			break;
		}
		if (kw != NULL)
			rec->keywords[rec->n_keywords++] = kw;
	}
}

static void
get_uids(struct mail_reader *r, struct mail_uidset *set)
{
	uint64_t n = mail_get_varint(r);

	if (n > MAIL_REC_MAX_RANGES) {
		r->bad = true;
		return;
	}
	for (uint64_t i = 0, prev_hi = 0; i < n && !r->bad; i++) {
		uint64_t lo = mail_get_varint(r), span = mail_get_varint(r);

		/* the encoder writes a normalized set: ascending, disjoint,
		 * not adjacent. Accepting any order would make each add an
		 * insert in the middle, quadratic for a hostile record. */
		if (lo == 0 || lo > UINT32_MAX || span > UINT32_MAX - lo ||
		    (i > 0 && lo <= prev_hi + 1)) {
			r->bad = true;
			return;
		}
		mail_uidset_add(set, (uint32_t)lo, (uint32_t)(lo + span));
		prev_hi = lo + span;
	}
}

static bool
check_name(char *name, bool mailbox)
{
	struct mail_err err;

	if (name == NULL)
		return false;
	if (mailbox)
		return mail_mailbox_name_check(name, &err) == 0;
	return true;
}

/* The "mergedinto" attribute: a GUID in lowercase hex, not zero. */
static bool
attr_guid_valid(const uint8_t *v, size_t len)
{
	struct mail_guid g;

	if (v == NULL || len != MAIL_GUID_HEX - 1 || v[len] != '\0')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!((v[i] >= '0' && v[i] <= '9') ||
		    (v[i] >= 'a' && v[i] <= 'f')))
			return false;
	}
	return mail_guid_from_hex((const char *)v, &g) == 0 &&
	    !mail_guid_is_zero(&g);
}

/* The "uidnext" attribute: decimal 1..2^32-1 without leading zeros, the
 * only form mail_op_mailbox_set_uidnext() writes. */
static bool
attr_uidnext_valid(const uint8_t *v, size_t len)
{
	uint64_t n = 0;

	if (v == NULL || len == 0 || len > 10 || v[0] == '0')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	return n <= UINT32_MAX;
}

int
mail_rec_decode(const struct mail_log_rec *lrec, struct mail_rec *rec,
    struct mail_err *err)
{
	struct mail_reader r;
	uint64_t v;

	memset(rec, 0, sizeof(*rec));
	rec->type = lrec->type;
	rec->modseq = lrec->modseq;
	rec->node = lrec->node;
	rec->hlc = lrec->hlc;
	mail_reader_init(&r, lrec->payload, lrec->payload_len);
	switch (lrec->type) {
	case MAIL_REC_MAILBOX_CREATE:
		get_guid(&r, &rec->mailbox);
		v = mail_get_varint(&r);
		rec->uidvalidity = (uint32_t)v;
		rec->name = mail_get_strdup(&r, MAIL_MAILBOX_NAME_MAX);
		if (v == 0 || v > UINT32_MAX || !check_name(rec->name, true))
			r.bad = true;
		break;
	case MAIL_REC_MAILBOX_RENAME:
		get_guid(&r, &rec->mailbox);
		rec->name = mail_get_strdup(&r, MAIL_MAILBOX_NAME_MAX);
		if (!check_name(rec->name, true))
			r.bad = true;
		break;
	case MAIL_REC_MAILBOX_DELETE:
		get_guid(&r, &rec->mailbox);
		break;
	case MAIL_REC_MAILBOX_ATTR:
		get_guid(&r, &rec->mailbox);
		rec->name = mail_get_strdup(&r, 64);
		rec->value = get_value(&r, 1024, &rec->value_len);
		if (rec->name != NULL && strcmp(rec->name, "uidnext") == 0 &&
		    !attr_uidnext_valid(rec->value, rec->value_len))
			r.bad = true;
		if (rec->name != NULL &&
		    strcmp(rec->name, "mergedinto") == 0 &&
		    !attr_guid_valid(rec->value, rec->value_len))
			r.bad = true;
		break;
	case MAIL_REC_SUBSCRIBE:
		rec->name = mail_get_strdup(&r, MAIL_MAILBOX_NAME_MAX);
		v = mail_get_u8(&r);
		rec->on = v == 1;
		if (v > 1 || !check_name(rec->name, true))
			r.bad = true;
		break;
	case MAIL_REC_MSG_ADD:
	case MAIL_REC_MSG_PUT:
		get_guid(&r, &rec->mailbox);
		v = mail_get_varint(&r);
		rec->uid = (uint32_t)v;
		/* UIDNEXT is uid + 1 and must fit */
		if (v == 0 || v > UINT32_MAX - 1)
			r.bad = true;
		get_guid(&r, &rec->guid);
		rec->inst_node = mail_get_varint(&r);
		rec->inst_hlc = mail_get_varint(&r);
		if (lrec->type == MAIL_REC_MSG_PUT) {
			rec->uid_hlc = mail_get_varint(&r);
			rec->uid_node = mail_get_varint(&r);
		}
		v = mail_get_varint(&r);
		rec->flags = (uint16_t)v;
		if (v & ~(uint64_t)MAIL_FLAGS_ALL)
			r.bad = true;
		get_keywords(&r, rec);
		if (lrec->type == MAIL_REC_MSG_PUT) {
			rec->flags_hlc = mail_get_varint(&r);
			rec->flags_node = mail_get_varint(&r);
		}
		rec->idate = mail_unzigzag(mail_get_varint(&r));
		rec->sdate = mail_unzigzag(mail_get_varint(&r));
		rec->size = mail_get_varint(&r);
		get_guid(&r, &rec->body);
		break;
	case MAIL_REC_MSG_FLAGS:
	case MAIL_REC_PVT_FLAGS:
		get_guid(&r, &rec->mailbox);
		if (lrec->type == MAIL_REC_PVT_FLAGS) {
			rec->user = mail_get_strdup(&r, 255);
			if (rec->user == NULL)
				r.bad = true;
		}
		rec->op = mail_get_u8(&r);
		v = mail_get_varint(&r);
		rec->flags = (uint16_t)v;
		if (rec->op > MAIL_FLAGS_REPLACE || (v & ~(uint64_t)MAIL_FLAGS_ALL))
			r.bad = true;
		v = mail_get_varint(&r);
		rec->mask = (uint16_t)v;
		if (v & ~(uint64_t)MAIL_FLAGS_ALL)
			r.bad = true;
		if (lrec->type == MAIL_REC_MSG_FLAGS)
			get_keywords(&r, rec);
		get_uids(&r, &rec->uids);
		break;
	case MAIL_REC_MSG_EXPUNGE:
		get_guid(&r, &rec->mailbox);
		get_uids(&r, &rec->uids);
		break;
	case MAIL_REC_METADATA:
		get_guid(&r, &rec->mailbox);
		v = mail_get_varint(&r);
		rec->uid = (uint32_t)v;
		if (v > UINT32_MAX)
			r.bad = true;
		rec->user = mail_get_strdup(&r, 255);
		rec->name = mail_get_strdup(&r, MAIL_METADATA_KEY_MAX);
		v = mail_get_u8(&r);
		rec->has_value = v == 1;
		if (v > 1 || rec->name == NULL || rec->user == NULL)
			r.bad = true;
		rec->value = get_value(&r, MAIL_METADATA_VALUE_MAX,
		    &rec->value_len);
		break;
	case MAIL_REC_ACL:
		get_guid(&r, &rec->mailbox);
		rec->name = mail_get_strdup(&r, 255);
		rec->value = get_value(&r, 64, &rec->value_len);
		if (rec->name == NULL || rec->value == NULL)
			r.bad = true;
		break;
	case MAIL_REC_MSG_TOMB:
		get_guid(&r, &rec->mailbox);
		get_guid(&r, &rec->guid);
		rec->inst_node = mail_get_varint(&r);
		rec->inst_hlc = mail_get_varint(&r);
		break;
	default:
		return mail_err_set(err, MAIL_ERR_CORRUPT,
		    "unknown log record type %u", lrec->type);
	}
	if (!mail_reader_end(&r)) {
		mail_rec_free(rec);
		return mail_err_set(err, MAIL_ERR_CORRUPT,
		    "malformed log record of type %u", lrec->type);
	}
	return 0;
}

void
mail_rec_free(struct mail_rec *rec)
{
	free(rec->name);
	free(rec->value);
	free(rec->user);
	for (size_t i = 0; i < rec->n_keywords; i++)
		free(rec->keywords[i]);
	free(rec->keywords);
	mail_uidset_free(&rec->uids);
	rec->name = NULL;
	rec->value = NULL;
	rec->user = NULL;
	rec->keywords = NULL;
	rec->n_keywords = 0;
}
