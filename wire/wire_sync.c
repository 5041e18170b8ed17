/*
 * wire_sync.c: encoding and strict decoding of the sync messages.
 */
#include <stdlib.h>
#include <string.h>

#include "mail_hlc.h"
#include "wire_sync.h"

int
wire_clock_cmp(const struct wire_clock *a, const struct wire_clock *b)
{
	if (a->hlc != b->hlc)
		return a->hlc < b->hlc ? -1 : 1;
	if (a->node != b->node)
		return a->node < b->node ? -1 : 1;
	return 0;
}

static void
put_guid(struct mail_buf *b, const struct mail_guid *g)
{
	mail_buf_append(b, g->b, sizeof(g->b));
}

static void
put_clock(struct mail_buf *b, const struct wire_clock *c)
{
	mail_buf_put_le64(b, c->hlc);
	mail_buf_put_le64(b, c->node);
}

static void
put_key(struct mail_buf *b, const struct mail_msg_key *k)
{
	put_guid(b, &k->guid);
	mail_buf_put_le64(b, k->inst_node);
	mail_buf_put_le64(b, k->inst_hlc);
}

static void
get_guid(struct mail_reader *r, struct mail_guid *g)
{
	mail_get_raw(r, g->b, sizeof(g->b));
}

static void
get_clock(struct mail_reader *r, struct wire_clock *c)
{
	c->hlc = mail_get_u64(r);
	c->node = mail_get_u64(r);
}

static void
get_key(struct mail_reader *r, struct mail_msg_key *k)
{
	get_guid(r, &k->guid);
	k->inst_node = mail_get_u64(r);
	k->inst_hlc = mail_get_u64(r);
}

static uint32_t
get_u32v(struct mail_reader *r)
{
	uint64_t v = mail_get_varint(r);

	if (v > UINT32_MAX)
		r->bad = true;
	return (uint32_t)v;
}

static uint16_t
get_u16v(struct mail_reader *r)
{
	uint64_t v = mail_get_varint(r);

	if (v > UINT16_MAX)
		r->bad = true;
	return (uint16_t)v;
}

static bool
get_bool(struct mail_reader *r)
{
	uint8_t v = mail_get_u8(r);

	if (v > 1)
		r->bad = true;
	return v == 1;
}

void
wire_change_encode(const struct wire_change *c, struct mail_buf *b)
{
	mail_buf_put_u8(b, (uint8_t)c->kind);
	switch (c->kind) {
	case WIRE_CH_MAILBOX:
		put_guid(b, &c->mailbox);
		mail_buf_put_varint(b, c->uidvalidity);
		mail_buf_put_varint(b, c->uidnext);
		mail_buf_put_varint(b, c->highestmodseq);
		mail_buf_put_str(b, c->name);
		put_clock(b, &c->name_clock);
		put_clock(b, &c->create_clock);
		mail_buf_put_u8(b, c->deleted);
		mail_buf_put_str(b, c->special_use != NULL ? c->special_use : "");
		put_clock(b, &c->su_clock);
		mail_buf_put_varint(b, c->pvt_mask);
		put_clock(b, &c->pvt_clock);
		mail_buf_put_varint(b, c->n_msgs);
		put_guid(b, &c->merged_into);
		break;
	case WIRE_CH_CONTEXT:
		put_guid(b, &c->mailbox);
		break;
	case WIRE_CH_PUT:
		mail_buf_put_varint(b, c->uid);
		put_key(b, &c->key);
		put_clock(b, &c->uid_clock);
		mail_buf_put_varint(b, c->flags);
		mail_buf_put_varint(b, c->n_keywords);
		for (size_t i = 0; i < c->n_keywords; i++)
			mail_buf_put_str(b, c->keywords[i]);
		put_clock(b, &c->flags_clock);
		mail_buf_put_varint(b, mail_zigzag(c->idate));
		mail_buf_put_varint(b, mail_zigzag(c->sdate));
		mail_buf_put_varint(b, c->size);
		put_guid(b, &c->body);
		mail_buf_put_varint(b, c->modseq);
		break;
	case WIRE_CH_TOMB:
		put_key(b, &c->key);
		mail_buf_put_varint(b, c->modseq);
		break;
	case WIRE_CH_PVT:
		put_key(b, &c->key);
		mail_buf_put_str(b, c->user);
		mail_buf_put_varint(b, c->flags);
		put_clock(b, &c->name_clock);
		break;
	case WIRE_CH_SUB:
		mail_buf_put_str(b, c->name);
		mail_buf_put_u8(b, c->on);
		put_clock(b, &c->name_clock);
		break;
	case WIRE_CH_META:
		put_guid(b, &c->mailbox);
		put_key(b, &c->key);
		mail_buf_put_str(b, c->user);
		mail_buf_put_str(b, c->name);
		mail_buf_put_u8(b, c->has_value);
		if (c->has_value)
			mail_buf_put_bytes(b, c->value, c->value_len);
		put_clock(b, &c->name_clock);
		break;
	case WIRE_CH_ACL:
		put_guid(b, &c->mailbox);
		mail_buf_put_str(b, c->name);
		mail_buf_put_bytes(b, c->value, c->value_len);
		put_clock(b, &c->name_clock);
		break;
	}
}

static bool
key_is_zero(const struct mail_msg_key *k)
{
	return mail_guid_is_zero(&k->guid) && k->inst_node == 0 &&
	    k->inst_hlc == 0;
}

/* Strings in changes: bounded, no NUL, not empty where a name is due. */
static char *
get_name(struct mail_reader *r, bool may_be_empty)
{
	char *s = mail_get_strdup(r, WIRE_NAME_MAX);

	if (s != NULL && !may_be_empty && s[0] == '\0')
		r->bad = true;
	return s;
}

static void
decode_put(struct mail_reader *r, struct wire_change *c)
{
	uint64_t n;

	c->uid = get_u32v(r);
	if (c->uid == 0)
		r->bad = true;
	get_key(r, &c->key);
	get_clock(r, &c->uid_clock);
	c->flags = get_u16v(r);
	n = mail_get_varint(r);
	if (n > WIRE_KEYWORDS_MAX) {
		r->bad = true;
		n = 0;
	}
	if (n > 0)
		c->keywords = mail_xcalloc(n, sizeof(char *));
	for (uint64_t i = 0; i < n && !r->bad; i++) {
		c->keywords[i] = get_name(r, false);
		c->n_keywords++;
	}
	get_clock(r, &c->flags_clock);
	c->idate = mail_unzigzag(mail_get_varint(r));
	c->sdate = mail_unzigzag(mail_get_varint(r));
	c->size = mail_get_varint(r);
	get_guid(r, &c->body);
	c->modseq = mail_get_varint(r);
}

int
wire_change_decode(struct mail_reader *r, struct wire_change *c,
    struct mail_err *err)
{
	size_t len;
	const uint8_t *v;

	memset(c, 0, sizeof(*c));
	if (r->left == 0 && !r->bad)
		return 0;
	c->kind = mail_get_u8(r);
	switch (c->kind) {
	case WIRE_CH_MAILBOX:
		get_guid(r, &c->mailbox);
		c->uidvalidity = get_u32v(r);
		c->uidnext = get_u32v(r);
		c->highestmodseq = mail_get_varint(r);
		c->name = get_name(r, false);
		get_clock(r, &c->name_clock);
		get_clock(r, &c->create_clock);
		c->deleted = get_bool(r);
		c->special_use = get_name(r, true);
		get_clock(r, &c->su_clock);
		c->pvt_mask = get_u16v(r);
		get_clock(r, &c->pvt_clock);
		c->n_msgs = get_u32v(r);
		get_guid(r, &c->merged_into);
		if (c->uidvalidity == 0 || c->uidnext == 0 ||
		    mail_guid_cmp(&c->merged_into, &c->mailbox) == 0)
			r->bad = true;
		break;
	case WIRE_CH_CONTEXT:
		get_guid(r, &c->mailbox);
		break;
	case WIRE_CH_PUT:
		decode_put(r, c);
		break;
	case WIRE_CH_TOMB:
		get_key(r, &c->key);
		c->modseq = mail_get_varint(r);
		break;
	case WIRE_CH_PVT:
		get_key(r, &c->key);
		c->user = get_name(r, false);
		c->flags = get_u16v(r);
		get_clock(r, &c->name_clock);
		break;
	case WIRE_CH_SUB:
		c->name = get_name(r, false);
		c->on = get_bool(r);
		get_clock(r, &c->name_clock);
		break;
	case WIRE_CH_META:
		get_guid(r, &c->mailbox);
		get_key(r, &c->key);
		c->user = get_name(r, true);
		c->name = get_name(r, false);
		c->has_value = get_bool(r);
		if (c->has_value) {
			v = mail_get_bytes(r, WIRE_META_VALUE_MAX, &len);
			if (v != NULL) {
				c->value = mail_xmalloc(len + 1);
				memcpy(c->value, v, len);
				c->value[len] = '\0';
				c->value_len = len;
			}
		}
		get_clock(r, &c->name_clock);
		if (!key_is_zero(&c->key) && mail_guid_is_zero(&c->mailbox))
			r->bad = true;
		break;
	case WIRE_CH_ACL:
		get_guid(r, &c->mailbox);
		c->name = get_name(r, false);
		c->value = (uint8_t *)get_name(r, true);
		c->value_len = c->value != NULL ? strlen((char *)c->value) : 0;
		get_clock(r, &c->name_clock);
		break;
	default: {
		unsigned kind = c->kind;

		wire_change_free(c);
		return mail_err_set(err, MAIL_ERR_PROTO,
		    "unknown change kind %u", kind);
	}
	}
	if (r->bad) {
		unsigned kind = c->kind;

		wire_change_free(c);
		return mail_err_set(err, MAIL_ERR_PROTO,
		    "malformed change of kind %u", kind);
	}
	return 1;
}

void
wire_change_free(struct wire_change *c)
{
	free(c->name);
	free(c->special_use);
	for (size_t i = 0; i < c->n_keywords; i++)
		free(c->keywords[i]);
	free(c->keywords);
	free(c->user);
	free(c->value);
	memset(c, 0, sizeof(*c));
}

static int
check_clock(uint64_t hlc, uint64_t now_ms, const char *what,
    struct mail_err *err)
{
	if (mail_hlc_ms(hlc) > now_ms + WIRE_MAX_CLOCK_AHEAD_MS)
		return mail_err_set(err, MAIL_ERR_PROTO,
		    "peer's %s time is %llu s ahead of ours: fix its clock",
		    what, (unsigned long long)
		    ((mail_hlc_ms(hlc) - now_ms) / 1000));
	return 0;
}

int
wire_change_check_clocks(const struct wire_change *c, uint64_t now_ms,
    struct mail_err *err)
{
	if (check_clock(c->name_clock.hlc, now_ms, "change", err) < 0 ||
	    check_clock(c->create_clock.hlc, now_ms, "create", err) < 0 ||
	    check_clock(c->su_clock.hlc, now_ms, "attribute", err) < 0 ||
	    check_clock(c->pvt_clock.hlc, now_ms, "attribute", err) < 0 ||
	    check_clock(c->uid_clock.hlc, now_ms, "UID", err) < 0 ||
	    check_clock(c->flags_clock.hlc, now_ms, "flag", err) < 0 ||
	    check_clock(c->key.inst_hlc, now_ms, "message", err) < 0)
		return -1;
	return 0;
}

void
wire_head_encode(const struct wire_head *h, struct mail_buf *b)
{
	mail_buf_put_le64(b, h->log_id);
	mail_buf_put_varint(b, h->modseq);
	mail_buf_put_u8(b, h->has_state);
	mail_buf_put_varint(b, h->state_mine);
	mail_buf_put_varint(b, h->state_peer);
	mail_buf_put_le64(b, h->state_peer_log);
	mail_buf_put_u8(b, h->created);
}

int
wire_head_decode(const uint8_t *p, size_t n, struct wire_head *h,
    struct mail_err *err)
{
	struct mail_reader r;

	mail_reader_init(&r, p, n);
	h->log_id = mail_get_u64(&r);
	h->modseq = mail_get_varint(&r);
	h->has_state = get_bool(&r);
	h->state_mine = mail_get_varint(&r);
	h->state_peer = mail_get_varint(&r);
	h->state_peer_log = mail_get_u64(&r);
	h->created = get_bool(&r);
	if (!mail_reader_end(&r))
		return mail_err_set(err, MAIL_ERR_PROTO, "malformed HEAD");
	return 0;
}

void
wire_state_encode(const struct wire_state *s, struct mail_buf *b)
{
	mail_buf_put_le64(b, s->peer_node);
	mail_buf_put_varint(b, s->mine);
	mail_buf_put_varint(b, s->peer);
	mail_buf_put_le64(b, s->peer_log);
}

int
wire_state_decode(const uint8_t *p, size_t n, struct wire_state *s,
    struct mail_err *err)
{
	struct mail_reader r;

	mail_reader_init(&r, p, n);
	s->peer_node = mail_get_u64(&r);
	s->mine = mail_get_varint(&r);
	s->peer = mail_get_varint(&r);
	s->peer_log = mail_get_u64(&r);
	if (!mail_reader_end(&r) || s->peer_node == 0)
		return mail_err_set(err, MAIL_ERR_PROTO, "malformed STATE_SET");
	return 0;
}

void
wire_probe_encode(const struct wire_probe *p, struct mail_buf *b)
{
	put_guid(b, &p->mailbox);
	mail_buf_put_varint(b, p->n);
	for (size_t i = 0; i < p->n; i++) {
		mail_buf_put_varint(b, p->v[i].uid);
		put_key(b, &p->v[i].key);
		put_guid(b, &p->v[i].body);
	}
}

int
wire_probe_decode(const uint8_t *p, size_t n, struct wire_probe *pr,
    struct mail_err *err)
{
	struct mail_reader r;
	uint64_t count;

	memset(pr, 0, sizeof(*pr));
	mail_reader_init(&r, p, n);
	get_guid(&r, &pr->mailbox);
	count = mail_get_varint(&r);
	/* Each item takes at least 49 bytes: refuse a count the payload can
	 * not hold before allocating for it. */
	if (count > WIRE_PROBE_MAX || count > r.left / 49)
		return mail_err_set(err, MAIL_ERR_PROTO,
		    "PROBE of %llu items does not fit its frame",
		    (unsigned long long)count);
	pr->v = mail_xcalloc(count + 1, sizeof(*pr->v));
	pr->n = count;
	for (size_t i = 0; i < count; i++) {
		pr->v[i].uid = get_u32v(&r);
		get_key(&r, &pr->v[i].key);
		get_guid(&r, &pr->v[i].body);
	}
	if (!mail_reader_end(&r)) {
		wire_probe_free(pr);
		return mail_err_set(err, MAIL_ERR_PROTO, "malformed PROBE");
	}
	return 0;
}

void
wire_probe_free(struct wire_probe *p)
{
	free(p->v);
	memset(p, 0, sizeof(*p));
}

void
wire_body_encode(const struct wire_body_chunk *c, struct mail_buf *b)
{
	put_guid(b, &c->hash);
	mail_buf_put_varint(b, c->total);
	mail_buf_put_varint(b, c->offset);
	mail_buf_append(b, c->data, c->len);
}

int
wire_body_decode(const uint8_t *p, size_t n, struct wire_body_chunk *c,
    struct mail_err *err)
{
	struct mail_reader r;

	mail_reader_init(&r, p, n);
	get_guid(&r, &c->hash);
	c->total = mail_get_varint(&r);
	c->offset = mail_get_varint(&r);
	if (r.bad)
		return mail_err_set(err, MAIL_ERR_PROTO, "malformed BODY");
	c->data = r.p;
	c->len = r.left;
	if (c->total > WIRE_BODY_MAX)
		return mail_err_set(err, MAIL_ERR_LIMIT,
		    "peer sent a body of %llu bytes, over the limit of %u",
		    (unsigned long long)c->total, WIRE_BODY_MAX);
	if (c->offset > c->total || c->len > c->total - c->offset ||
	    (c->len == 0 && c->total != 0))
		return mail_err_set(err, MAIL_ERR_PROTO,
		    "BODY piece at %llu+%zu outside its body of %llu bytes",
		    (unsigned long long)c->offset, c->len,
		    (unsigned long long)c->total);
	return 0;
}

void
wire_hashes_encode(const struct mail_guid *v, size_t n, struct mail_buf *b)
{
	mail_buf_put_varint(b, n);
	for (size_t i = 0; i < n; i++)
		put_guid(b, &v[i]);
}

int
wire_hashes_decode(const uint8_t *p, size_t n, struct mail_guid **v_r,
    size_t *n_r, struct mail_err *err)
{
	struct mail_reader r;
	uint64_t count;
	struct mail_guid *v;

	mail_reader_init(&r, p, n);
	count = mail_get_varint(&r);
	if (r.bad || count > WIRE_HASHES_MAX || count * 16 != r.left)
		return mail_err_set(err, MAIL_ERR_PROTO, "malformed hash list");
	v = mail_xcalloc(count + 1, sizeof(*v));
	for (size_t i = 0; i < count; i++)
		get_guid(&r, &v[i]);
	*v_r = v;
	*n_r = count;
	return 0;
}
