/*
 * dsync_sync_util.c: conversions between libmail's state and wire
 * changes, shared by the brain and the server.
 */
#include <string.h>

#include "dsync_sync.h"

void
dsync_hello_init(struct wire_hello *h, uint64_t node)
{
	memset(h, 0, sizeof(*h));
	h->version_min = WIRE_VERSION_MIN;
	h->version_max = WIRE_VERSION_MAX;
	h->features = WIRE_FEATURE_ZLIB;
	h->node_id = node;
	strcpy(h->software, "dsync " DSYNC_VERSION);
}

void
dsync_mailbox_header(const struct mail_mailbox *mb, struct wire_change *c)
{
	memset(c, 0, sizeof(*c));
	c->kind = WIRE_CH_MAILBOX;
	c->mailbox = mb->guid;
	c->uidvalidity = mb->uidvalidity;
	c->uidnext = mb->uidnext;
	c->highestmodseq = mb->highestmodseq;
	c->name = mb->name;
	c->name_clock.hlc = mb->name_hlc;
	c->name_clock.node = mb->name_node;
	c->create_clock.hlc = mb->create_hlc;
	c->create_clock.node = mb->create_node;
	c->deleted = mb->deleted;
	c->special_use = mb->special_use;
	c->su_clock.hlc = mb->su_hlc;
	c->su_clock.node = mb->su_node;
	c->pvt_mask = mb->pvt_mask;
	c->pvt_clock.hlc = mb->pvt_hlc;
	c->pvt_clock.node = mb->pvt_node;
	c->n_msgs = (uint32_t)mb->n_msgs;
	c->merged_into = mb->merged_into;
}

void
dsync_put_of(const struct mail_mailbox *mb, const struct mail_msg *m,
    struct wire_change *c)
{
	static char *kw[MAIL_MAILBOX_MAX_KEYWORDS];
	size_t n = 0;

	memset(c, 0, sizeof(*c));
	c->kind = WIRE_CH_PUT;
	c->uid = m->uid;
	mail_msg_key_of(m, &c->key);
	c->uid_clock.hlc = m->uid_hlc;
	c->uid_clock.node = m->uid_node;
	c->flags = m->flags;
	for (size_t i = 0; i < mb->n_keywords && i < 64; i++) {
		if ((m->keywords & ((uint64_t)1 << i)) != 0)
			kw[n++] = mb->keywords[i];
	}
	c->keywords = kw;
	c->n_keywords = n;
	c->flags_clock.hlc = m->flags_hlc;
	c->flags_clock.node = m->flags_node;
	c->idate = m->idate;
	c->sdate = m->sdate;
	c->size = m->size;
	c->body = m->body;
	c->modseq = m->modseq;
}
static void
clock_set(struct wire_clock *c, uint64_t hlc, uint64_t node)
{
	c->hlc = hlc;
	c->node = node;
}

static int
list_meta(const struct mail_guid *mailbox, const struct mail_mailbox *mb,
    const struct mail_meta *m, size_t n, uint64_t since, bool msg_level,
    dsync_emit_fn *emit, void *ctx, struct mail_err *err)
{
	for (size_t i = 0; i < n; i++) {
		struct wire_change c;
		struct mail_msg *msg = NULL;

		if (m[i].modseq <= since || (m[i].uid != 0) != msg_level)
			continue;
		if (msg_level &&
		    (msg = mail_mailbox_msg(mb, m[i].uid)) == NULL)
			continue;
		memset(&c, 0, sizeof(c));
		c.kind = WIRE_CH_META;
		if (mailbox != NULL)
			c.mailbox = *mailbox;
		if (msg != NULL)
			mail_msg_key_of(msg, &c.key);
		c.user = m[i].user;
		c.name = m[i].key;
		c.has_value = m[i].has_value;
		c.value = m[i].value;
		c.value_len = m[i].value_len;
		clock_set(&c.name_clock, m[i].hlc, m[i].node);
		if (emit(ctx, &c, err) < 0)
			return -1;
	}
	return 0;
}

int
dsync_list_user(const struct mail_state *st, uint64_t since,
    dsync_emit_fn *emit, void *ctx, struct mail_err *err)
{
	for (size_t i = 0; i < st->n_mailboxes; i++) {
		struct mail_mailbox *mb = st->mailboxes[i];
		struct wire_change c;

		dsync_mailbox_header(mb, &c);
		if (emit(ctx, &c, err) < 0)
			return -1;
		for (size_t j = 0; j < mb->n_acl; j++) {
			memset(&c, 0, sizeof(c));
			c.kind = WIRE_CH_ACL;
			c.mailbox = mb->guid;
			c.name = mb->acl[j].identifier;
			c.value = (uint8_t *)mb->acl[j].rights;
			c.value_len = strlen(mb->acl[j].rights);
			clock_set(&c.name_clock, mb->acl[j].hlc,
			    mb->acl[j].node);
			if (emit(ctx, &c, err) < 0)
				return -1;
		}
		if (list_meta(&mb->guid, mb, mb->meta, mb->n_meta, since,
		    false, emit, ctx, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < st->n_subs; i++) {
		struct wire_change c;

		memset(&c, 0, sizeof(c));
		c.kind = WIRE_CH_SUB;
		c.name = st->subs[i].name;
		c.on = st->subs[i].on;
		clock_set(&c.name_clock, st->subs[i].hlc, st->subs[i].node);
		if (emit(ctx, &c, err) < 0)
			return -1;
	}
	if (list_meta(NULL, NULL, st->meta, st->n_meta, since, false,
	    emit, ctx, err) < 0)
		return -1;
	return 0;
}

int
dsync_list_msgs(const struct mail_mailbox *mb, uint64_t since,
    dsync_emit_fn *emit, void *ctx, struct mail_err *err)
{
	struct wire_change c;

	memset(&c, 0, sizeof(c));
	c.kind = WIRE_CH_CONTEXT;
	c.mailbox = mb->guid;
	if (emit(ctx, &c, err) < 0)
		return -1;
	for (size_t i = 0; i < mb->n_msgs; i++) {
		if (mb->msgs[i].modseq <= since)
			continue;
		dsync_put_of(mb, &mb->msgs[i], &c);
		if (emit(ctx, &c, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < mb->n_tombs; i++) {
		if (mb->tombs[i].modseq <= since)
			continue;
		memset(&c, 0, sizeof(c));
		c.kind = WIRE_CH_TOMB;
		c.key = mb->tombs[i].key;
		c.modseq = mb->tombs[i].modseq;
		if (emit(ctx, &c, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < mb->n_pvt; i++) {
		const struct mail_pvt_user *pu = &mb->pvt[i];

		for (size_t j = 0; j < pu->n; j++) {
			struct mail_msg *msg;

			if (pu->v[j].modseq <= since ||
			    (msg = mail_mailbox_msg(mb, pu->v[j].uid)) == NULL)
				continue;
			memset(&c, 0, sizeof(c));
			c.kind = WIRE_CH_PVT;
			mail_msg_key_of(msg, &c.key);
			c.user = pu->user;
			c.flags = pu->v[j].flags;
			clock_set(&c.name_clock, pu->v[j].hlc, pu->v[j].node);
			if (emit(ctx, &c, err) < 0)
				return -1;
		}
	}
	if (list_meta(&mb->guid, mb, mb->meta, mb->n_meta, since, true,
	    emit, ctx, err) < 0)
		return -1;
	return 0;
}


int
dsync_send_body(struct wire_io *io, uint8_t type, const struct mail_guid *h,
    const uint8_t *data, size_t len, struct mail_err *err)
{
	struct mail_buf b = MAIL_BUF_INIT;
	struct wire_body_chunk c;
	size_t off = 0;
	int ret;

	do {
		c.hash = *h;
		c.total = len;
		c.offset = off;
		c.data = data + off;
		c.len = len - off < WIRE_BODY_CHUNK ? len - off :
		    WIRE_BODY_CHUNK;
		mail_buf_reset(&b);
		wire_body_encode(&c, &b);
		ret = wire_io_send(io, type, b.data, b.len, err);
		off += c.len;
	} while (ret == 0 && off < len);
	mail_buf_free(&b);
	return ret;
}
