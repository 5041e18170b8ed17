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
