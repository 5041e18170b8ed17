/*
 * imap_thread.c: THREAD=ORDEREDSUBJECT, THREAD=REFERENCES (RFC 5256 3)
 * and THREAD=REFS.
 *
 * Nodes (messages and the dummies that stand for referenced but absent
 * messages) live in one array and point at each other by index; no step
 * recurses, since a crafted References field can build a chain as long
 * as the mailbox has IDs.
 *
 * Message-IDs are resolved without a hash table: every ID (each
 * message's own and every reference) goes into one array that is sorted,
 * so equal IDs are adjacent, take one node, and the lowest sequence
 * number among messages claiming an ID gets it (RFC 5256 REFERENCES step
 * 1). Sorting keeps the cost O(m log m) whatever the IDs are.
 *
 * Step 1 must not create loops: before making A the parent of B it asks
 * whether A is a descendant of B. B has no parent at that point (either
 * it never had one, or step 1.C just cut it), so the question is whether
 * the root of A's tree is B. Walking up from A costs the depth of the
 * tree, which a crafted mailbox makes as deep as it likes, so the forest
 * is mirrored in a link-cut tree (Sleator and Tarjan), where finding a
 * root, linking a root under a node and cutting a node from its parent
 * take O(log m) amortized. Only those three operations are needed, so the
 * tree is never re-rooted and needs no reversal flags.
 *
 * REFS is not in an RFC: draft-ietf-morg-inthread describes it as
 * REFERENCES without step 5 (no grouping by subject) whose threads are
 * ordered by their most recent message. Ties between those dates are
 * broken as Dovecot 2.3 breaks them (imap_thread_newest_cmp()), so
 * clients see the same order from both; tests/tools/imap-xcheck checks
 * all three algorithms against Dovecot on generated mailboxes.
 */
#include <stdlib.h>
#include <string.h>

#include "mail_header.h"
#include "imap_sort.h"
#include "imap_thread.h"
#include "imap_text_private.h"

#define NONE	SIZE_MAX

struct imap_thread_msg {
	int64_t	 date;		/* sent date (RFC 5256 2.2) */
	uint32_t seq, num;	/* num: what the response shows */
	bool	 refwd;		/* its subject marks a reply/forward */
	size_t	 subj_off, subj_len;	/* base subject sort key in pool */
	size_t	 ref_start, n_refs;	/* its references in refs[] */
};

struct imap_thread_node {
	size_t	 msg;		/* index into msgs, or NONE: a dummy */
	size_t	 parent;
	size_t	 first, last;	/* children */
	size_t	 next;		/* next sibling */
	/* link-cut tree: splay children and splay-or-path parent */
	size_t	 lc[2], lp;
	bool	 orphan;	/* at the top: its thread's root is a
				 * message not in the mailbox (a dummy that
				 * pruning removed or kept) */
	size_t	 rank;		/* a dummy, or an orphan: when its (root's)
				 * ID was first met, reading the messages
				 * in order */
};

/* One Message-ID occurrence, for resolving IDs to nodes. */
struct imap_thread_id {
	size_t	 off, len;	/* in pool */
	size_t	 owner;		/* the message whose Message-ID this is, or
				 * NONE for a reference */
	size_t	 slot;		/* < n: message slot's own ID; else
				 * n + index into refs[] */
	size_t	 rank;		/* the order it was met in */
};

struct imap_thread_ctx {
	enum imap_thread_alg alg;
	const struct imap_msg_info *info;
	size_t	 n;
	struct imap_thread_msg *msgs;
	struct mail_buf pool;		/* ID strings and subject keys */
	struct imap_thread_id *ids;
	size_t	 n_ids, ids_cap;
	size_t	 n_refs;		/* references of all messages */
	size_t	*slot_node;		/* n + n_refs */
	struct imap_thread_node *nodes;
	size_t	 n_nodes, nodes_cap;
	size_t	*top;			/* the root's children */
	size_t	 n_top;
	size_t	*tmp;			/* scratch for sorting siblings */
};

/* ---- gathering ---- */

/* Append the next valid Message-ID in *pp to pool and advance *pp past
 * it: the bytes between '<' and '>' without whitespace, holding an '@'
 * (RFC 5322 3.6.4 msg-id; comments and quoting are kept as they are).
 * Returns false at the end. */
static bool
imap_thread_next_id(const char **pp, struct mail_buf *pool, size_t *off_r,
    size_t *len_r)
{
	const char *p = *pp, *q;
	size_t start;
	bool at;

	while ((p = strchr(p, '<')) != NULL) {
		start = pool->len;
		at = false;
		for (q = p + 1; *q != '\0' && *q != '>' && *q != '<'; q++) {
			if (*q == ' ' || *q == '\t' || *q == '\r' ||
			    *q == '\n')
				continue;
			at |= *q == '@';
			mail_buf_append(pool, q, 1);
		}
		if (*q == '>' && at && pool->len - start >= 3) {
			*off_r = start;
			*len_r = pool->len - start;
			*pp = q + 1;
			return true;
		}
		mail_buf_truncate(pool, start);
		if (*q == '\0')
			break;
		p = *q == '<' ? q : q + 1;
	}
	*pp = strchr(*pp, '\0');
	return false;
}

static void
imap_thread_add_id(struct imap_thread_ctx *ctx, size_t off, size_t len,
    size_t owner, size_t slot)
{
	struct imap_thread_id *id;

	ctx->ids = mail_xgrow(ctx->ids, &ctx->ids_cap, ctx->n_ids + 1,
	    sizeof(*ctx->ids));
	id = &ctx->ids[ctx->n_ids++];
	id->off = off;
	id->len = len;
	id->owner = owner;
	id->slot = slot;
	id->rank = ctx->n_ids - 1;
}

/* Read what threading needs of message i. */
static int
imap_thread_gather(struct imap_thread_ctx *ctx, size_t i,
    const struct imap_search_env *env, bool use_uid,
    struct imap_text_conv *conv, struct mail_err *err)
{
	const struct imap_msg_info *info = &ctx->info[i];
	struct imap_thread_msg *m = &ctx->msgs[i];
	struct mail_buf key = MAIL_BUF_INIT;
	struct mail_headers *h;
	const uint8_t *data = NULL;
	const char *v, *p;
	size_t len = 0, off, idlen;
	char *base;

	m->seq = info->seq;
	m->num = use_uid ? info->uid : info->seq;
	if (env->body == NULL)
		return mail_err_set(err, MAIL_ERR_INTERNAL, "thread of uid "
		    "%u needs the message but no body callback is set",
		    info->uid);
	if (env->body(env->body_ctx, info->uid, &data, &len, err) < 0)
		return -1;
	h = imap_text_headers(data, data != NULL ? len : 0);
	m->date = imap_text_sent_date(h, info->idate);

	v = mail_header_get(h, "Subject");
	base = imap_sort_base_subject(conv, v != NULL ? v : "", &m->refwd);
	imap_text_sortkey((const uint8_t *)base, strlen(base), &key);
	free(base);
	m->subj_off = ctx->pool.len;
	m->subj_len = key.len;
	mail_buf_append(&ctx->pool, key.data, key.len);
	mail_buf_free(&key);

	m->ref_start = ctx->n_refs;
	m->n_refs = 0;
	if (ctx->alg != IMAP_THREAD_ORDEREDSUBJECT) {
		if ((v = mail_header_get(h, "Message-ID")) != NULL &&
		    imap_thread_next_id(&v, &ctx->pool, &off, &idlen))
			imap_thread_add_id(ctx, off, idlen, i, i);
		/* Step 1.A: the References, or else the first ID of
		 * In-Reply-To. */
		if ((p = mail_header_get(h, "References")) != NULL) {
			while (imap_thread_next_id(&p, &ctx->pool, &off,
			    &idlen)) {
				imap_thread_add_id(ctx, off, idlen, NONE,
				    ctx->n + ctx->n_refs++);
				m->n_refs++;
			}
		}
		if (m->n_refs == 0 &&
		    (p = mail_header_get(h, "In-Reply-To")) != NULL &&
		    imap_thread_next_id(&p, &ctx->pool, &off, &idlen)) {
			imap_thread_add_id(ctx, off, idlen, NONE,
			    ctx->n + ctx->n_refs++);
			m->n_refs++;
		}
	}
	mail_headers_free(&h);
	return 0;
}

/* ---- nodes ---- */

static size_t
imap_thread_new_node(struct imap_thread_ctx *ctx, size_t msg)
{
	struct imap_thread_node *x;

	ctx->nodes = mail_xgrow(ctx->nodes, &ctx->nodes_cap, ctx->n_nodes + 1,
	    sizeof(*ctx->nodes));
	x = &ctx->nodes[ctx->n_nodes];
	x->msg = msg;
	x->parent = x->first = x->last = x->next = NONE;
	x->lc[0] = x->lc[1] = x->lp = NONE;
	x->orphan = msg == NONE;
	x->rank = NONE;
	return ctx->n_nodes++;
}

static int
imap_thread_id_cmp(const void *pa, const void *pb, void *arg)
{
	const struct imap_thread_id *a = pa, *b = pb;
	const uint8_t *pool = arg;
	int r;

	r = memcmp(pool + a->off, pool + b->off,
	    a->len < b->len ? a->len : b->len);
	if (r != 0)
		return r;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	/* owners first, lowest sequence (index) first; references last */
	if (a->owner != b->owner)
		return a->owner < b->owner ? -1 : 1;
	return (a->slot > b->slot) - (a->slot < b->slot);
}

/* Step 1.A: a node for every distinct ID, owned by the first message
 * giving it as its Message-ID (else a dummy); later messages with the
 * same ID and messages without one get a node of their own. */
static void
imap_thread_resolve(struct imap_thread_ctx *ctx)
{
	struct imap_thread_id *ids = ctx->ids;
	size_t i, j, node, owner;

	ctx->slot_node = mail_xcalloc(ctx->n + ctx->n_refs,
	    sizeof(*ctx->slot_node));
	for (i = 0; i < ctx->n + ctx->n_refs; i++)
		ctx->slot_node[i] = NONE;
	if (ctx->n_ids > 1)
		qsort_r(ids, ctx->n_ids, sizeof(*ids), imap_thread_id_cmp,
		    ctx->pool.data);
	for (i = 0; i < ctx->n_ids; i = j) {
		for (j = i + 1; j < ctx->n_ids && ids[j].len == ids[i].len &&
		    memcmp(ctx->pool.data + ids[j].off,
		    ctx->pool.data + ids[i].off, ids[i].len) == 0; j++)
			;
		owner = ids[i].owner;
		node = imap_thread_new_node(ctx, owner);
		for (size_t k = i; k < j; k++) {
			if (ids[k].rank < ctx->nodes[node].rank)
				ctx->nodes[node].rank = ids[k].rank;
			if (ids[k].owner == NONE || ids[k].owner == owner)
				ctx->slot_node[ids[k].slot] = node;
			else
				ctx->slot_node[ids[k].slot] =
				    imap_thread_new_node(ctx, ids[k].owner);
		}
	}
	for (i = 0; i < ctx->n; i++) {
		if (ctx->slot_node[i] == NONE)
			ctx->slot_node[i] = imap_thread_new_node(ctx, i);
	}
}

/* ---- the link-cut tree ---- */

static bool
imap_thread_lct_is_root(const struct imap_thread_node *t, size_t x)
{
	size_t p = t[x].lp;

	return p == NONE || (t[p].lc[0] != x && t[p].lc[1] != x);
}

static void
imap_thread_lct_rotate(struct imap_thread_node *t, size_t x)
{
	size_t y = t[x].lp, z = t[y].lp, b;
	int dx = t[y].lc[1] == x;

	if (!imap_thread_lct_is_root(t, y))
		t[z].lc[t[z].lc[1] == y] = x;
	t[x].lp = z;
	b = t[x].lc[!dx];
	t[y].lc[dx] = b;
	if (b != NONE)
		t[b].lp = y;
	t[x].lc[!dx] = y;
	t[y].lp = x;
}

static void
imap_thread_lct_splay(struct imap_thread_node *t, size_t x)
{
	size_t y, z;

	while (!imap_thread_lct_is_root(t, x)) {
		y = t[x].lp;
		if (!imap_thread_lct_is_root(t, y)) {
			z = t[y].lp;
			if ((t[z].lc[0] == y) == (t[y].lc[0] == x))
				imap_thread_lct_rotate(t, y);
			else
				imap_thread_lct_rotate(t, x);
		}
		imap_thread_lct_rotate(t, x);
	}
}

/* Make the path from x's tree root to x preferred; x ends up at the top
 * of its splay tree with the shallower nodes on its left. */
static void
imap_thread_lct_access(struct imap_thread_node *t, size_t x)
{
	size_t last = NONE;

	for (size_t y = x; y != NONE; y = t[y].lp) {
		imap_thread_lct_splay(t, y);
		t[y].lc[1] = last;
		last = y;
	}
	imap_thread_lct_splay(t, x);
}

static size_t
imap_thread_lct_root(struct imap_thread_node *t, size_t x)
{
	imap_thread_lct_access(t, x);
	while (t[x].lc[0] != NONE)
		x = t[x].lc[0];
	imap_thread_lct_splay(t, x);	/* keeps the amortized bound */
	return x;
}

/* Make c (which has no parent) a child of p, unless p is in c's tree
 * (which would close a loop). Returns whether it did. */
static bool
imap_thread_link(struct imap_thread_ctx *ctx, size_t p, size_t c)
{
	struct imap_thread_node *t = ctx->nodes;

	if (imap_thread_lct_root(t, p) == c)
		return false;
	imap_thread_lct_access(t, c);	/* c is its path's top: no left */
	t[c].lp = p;
	t[c].parent = p;
	return true;
}

static void
imap_thread_cut(struct imap_thread_ctx *ctx, size_t c)
{
	struct imap_thread_node *t = ctx->nodes;
	size_t l;

	imap_thread_lct_access(t, c);
	if ((l = t[c].lc[0]) != NONE) {
		t[l].lp = NONE;
		t[c].lc[0] = NONE;
	}
	t[c].parent = NONE;
}

/* Step 1.B and 1.C for every message, in sequence order. */
static void
imap_thread_link_all(struct imap_thread_ctx *ctx)
{
	const size_t *refs = ctx->slot_node + ctx->n;

	for (size_t i = 0; i < ctx->n; i++) {
		const struct imap_thread_msg *m = &ctx->msgs[i];
		const size_t *r = refs + m->ref_start;
		size_t self = ctx->slot_node[i];

		/* 1.B: each reference the child of the one before it,
		 * unless it has a parent already or a loop would form */
		for (size_t k = 1; k < m->n_refs; k++) {
			if (ctx->nodes[r[k]].parent == NONE &&
			    r[k - 1] != r[k])
				(void)imap_thread_link(ctx, r[k - 1], r[k]);
		}
		/* 1.C: the message is the child of its last reference,
		 * the link it may have (from another message's truncated
		 * References) broken first; without references it now
		 * has no parent */
		if (ctx->nodes[self].parent != NONE)
			imap_thread_cut(ctx, self);
		if (m->n_refs > 0)
			(void)imap_thread_link(ctx, r[m->n_refs - 1], self);
	}
}

/* ---- children and sorting ---- */

static void
imap_thread_add_child(struct imap_thread_ctx *ctx, size_t p, size_t c)
{
	struct imap_thread_node *t = ctx->nodes;

	t[c].parent = p;
	t[c].next = NONE;
	if (t[p].first == NONE)
		t[p].first = c;
	else
		t[t[p].last].next = c;
	t[p].last = c;
}

/* The message that stands for node x when sorting: x, or a dummy's first
 * child (RFC 5256 REFERENCES steps 4 and 6). NONE for a childless
 * dummy, which pruning removes. */
static size_t
imap_thread_rep(const struct imap_thread_ctx *ctx, size_t x)
{
	while (x != NONE && ctx->nodes[x].msg == NONE)
		x = ctx->nodes[x].first;
	return x == NONE ? NONE : ctx->nodes[x].msg;
}

struct imap_thread_sortkey {
	int64_t	 date;
	uint32_t seq;
};

static struct imap_thread_sortkey
imap_thread_key(const struct imap_thread_ctx *ctx, size_t x)
{
	struct imap_thread_sortkey k = { INT64_MAX, UINT32_MAX };
	size_t m = imap_thread_rep(ctx, x);

	if (m != NONE) {
		k.date = ctx->msgs[m].date;
		k.seq = ctx->msgs[m].seq;
	}
	return k;
}

static int
imap_thread_key_cmp(struct imap_thread_sortkey a, struct imap_thread_sortkey b)
{
	if (a.date != b.date)
		return a.date < b.date ? -1 : 1;
	return (a.seq > b.seq) - (a.seq < b.seq);
}

static int
imap_thread_node_cmp(const void *pa, const void *pb, void *arg)
{
	const struct imap_thread_ctx *ctx = arg;
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	int r;

	r = imap_thread_key_cmp(imap_thread_key(ctx, a),
	    imap_thread_key(ctx, b));
	return r != 0 ? r : (a > b) - (a < b);
}

/* Sort the children of p by sent date (then sequence number). */
static void
imap_thread_sort_children(struct imap_thread_ctx *ctx, size_t p)
{
	struct imap_thread_node *t = ctx->nodes;
	size_t n = 0, c;

	for (c = t[p].first; c != NONE; c = t[c].next)
		ctx->tmp[n++] = c;
	if (n < 2)
		return;
	qsort_r(ctx->tmp, n, sizeof(*ctx->tmp), imap_thread_node_cmp, ctx);
	t[p].first = t[p].last = NONE;
	for (size_t i = 0; i < n; i++)
		imap_thread_add_child(ctx, p, ctx->tmp[i]);
}

static void
imap_thread_sort_top(struct imap_thread_ctx *ctx)
{
	if (ctx->n_top > 1)
		qsort_r(ctx->top, ctx->n_top, sizeof(*ctx->top),
		    imap_thread_node_cmp, ctx);
}

/* ---- steps 2 and 3 ---- */

/* Step 2: child lists from the parent links; the parentless nodes are
 * the root's children. Step 3: prune dummies. */
static void
imap_thread_build_and_prune(struct imap_thread_ctx *ctx)
{
	struct imap_thread_node *t = ctx->nodes;
	size_t *order, n_order = 0, n_roots, x, c, nc, keep = 0;

	for (x = 0; x < ctx->n_nodes; x++) {
		if (t[x].parent != NONE)
			imap_thread_add_child(ctx, t[x].parent, x);
	}
	order = mail_xcalloc(ctx->n_nodes + 1, sizeof(*order));
	ctx->top = mail_xcalloc(ctx->n_nodes * 2 + 1, sizeof(*ctx->top));
	for (x = 0; x < ctx->n_nodes; x++) {
		if (t[x].parent == NONE)
			order[n_order++] = x;
	}
	n_roots = n_order;
	/* breadth first, so that reversed, children come before their
	 * parents */
	for (size_t i = 0; i < n_order; i++) {
		for (c = t[order[i]].first; c != NONE; c = t[c].next)
			order[n_order++] = c;
	}
	/* Below the root a dummy gives way to its children (or vanishes
	 * if it has none). Bottom up, so those children were pruned
	 * already: no dummy is left below the top level. */
	for (size_t i = n_order; i-- > 0;) {
		x = order[i];
		c = t[x].first;
		t[x].first = t[x].last = NONE;
		for (; c != NONE; c = nc) {
			nc = t[c].next;
			if (t[c].msg != NONE) {
				imap_thread_add_child(ctx, x, c);
				continue;
			}
			for (size_t g = t[c].first, ng; g != NONE; g = ng) {
				ng = t[g].next;
				imap_thread_add_child(ctx, x, g);
			}
			/* gone: it must not claim its children later */
			t[c].first = t[c].last = NONE;
		}
	}
	/* At the top a dummy stays if it has two or more children; one
	 * child takes its place. */
	for (size_t i = 0; i < n_roots; i++) {
		x = order[i];
		if (t[x].msg == NONE) {
			if (t[x].first == NONE)
				continue;
			if (t[x].first == t[x].last) {
				c = t[x].first;
				t[c].parent = NONE;
				t[c].orphan = true;
				t[c].rank = t[x].rank;
				t[x].first = t[x].last = NONE;
				ctx->top[keep++] = c;
				continue;
			}
		}
		ctx->top[keep++] = x;
	}
	ctx->n_top = keep;
	free(order);
}

/* ---- step 5: grouping by subject ---- */

static int
imap_thread_subj_cmp(const struct imap_thread_ctx *ctx, size_t a, size_t b)
{
	const struct imap_thread_msg *ma = &ctx->msgs[a], *mb = &ctx->msgs[b];
	int r;

	r = memcmp(ctx->pool.data + ma->subj_off, ctx->pool.data + mb->subj_off,
	    ma->subj_len < mb->subj_len ? ma->subj_len : mb->subj_len);
	if (r != 0)
		return r;
	return (ma->subj_len > mb->subj_len) - (ma->subj_len < mb->subj_len);
}

/* tmp holds positions in top[]: order them by thread subject, then by
 * position. */
static int
imap_thread_pos_cmp(const void *pa, const void *pb, void *arg)
{
	const struct imap_thread_ctx *ctx = arg;
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	int r;

	r = imap_thread_subj_cmp(ctx, imap_thread_rep(ctx, ctx->top[a]),
	    imap_thread_rep(ctx, ctx->top[b]));
	return r != 0 ? r : (a > b) - (a < b);
}

static bool
imap_thread_is_dummy(const struct imap_thread_ctx *ctx, size_t x)
{
	return ctx->nodes[x].msg == NONE;
}

static bool
imap_thread_is_refwd(const struct imap_thread_ctx *ctx, size_t x)
{
	return !imap_thread_is_dummy(ctx, x) &&
	    ctx->msgs[ctx->nodes[x].msg].refwd;
}

/* Merge the threads at positions grp[0..n) of top[] (one subject, in
 * top-level order) per steps 5.B and 5.C; merged ones become NONE. */
static void
imap_thread_merge_group(struct imap_thread_ctx *ctx, const size_t *grp,
    size_t n)
{
	size_t tpos = grp[0], tab, cur, d, c, nc;

	/* 5.B: which message the subject table holds */
	for (size_t i = 1; i < n; i++) {
		tab = ctx->top[tpos];
		cur = ctx->top[grp[i]];
		if (!imap_thread_is_dummy(ctx, tab) &&
		    (imap_thread_is_dummy(ctx, cur) ||
		    (imap_thread_is_refwd(ctx, tab) &&
		    !imap_thread_is_refwd(ctx, cur))))
			tpos = grp[i];
	}
	/* 5.C: merge the others into it */
	for (size_t i = 0; i < n; i++) {
		if (grp[i] == tpos)
			continue;
		tab = ctx->top[tpos];
		cur = ctx->top[grp[i]];
		ctx->top[grp[i]] = NONE;
		if (imap_thread_is_dummy(ctx, tab) &&
		    imap_thread_is_dummy(ctx, cur)) {
			for (c = ctx->nodes[cur].first; c != NONE; c = nc) {
				nc = ctx->nodes[c].next;
				imap_thread_add_child(ctx, tab, c);
			}
			ctx->nodes[cur].first = ctx->nodes[cur].last = NONE;
		} else if (imap_thread_is_dummy(ctx, tab) ||
		    (imap_thread_is_refwd(ctx, cur) &&
		    !imap_thread_is_refwd(ctx, tab))) {
			imap_thread_add_child(ctx, tab, cur);
		} else {
			d = imap_thread_new_node(ctx, NONE);
			imap_thread_add_child(ctx, d, tab);
			imap_thread_add_child(ctx, d, cur);
			ctx->nodes[d].parent = NONE;
			ctx->top[tpos] = d;
		}
	}
}

static void
imap_thread_group_subjects(struct imap_thread_ctx *ctx)
{
	size_t n = 0, i, j, m, keep = 0;

	/* Threads whose subject is empty take no part. */
	for (i = 0; i < ctx->n_top; i++) {
		if ((m = imap_thread_rep(ctx, ctx->top[i])) != NONE &&
		    ctx->msgs[m].subj_len > 0)
			ctx->tmp[n++] = i;
	}
	if (n > 1)
		qsort_r(ctx->tmp, n, sizeof(*ctx->tmp), imap_thread_pos_cmp,
		    ctx);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && imap_thread_subj_cmp(ctx,
		    imap_thread_rep(ctx, ctx->top[ctx->tmp[i]]),
		    imap_thread_rep(ctx, ctx->top[ctx->tmp[j]])) == 0; j++)
			;
		if (j - i > 1)
			imap_thread_merge_group(ctx, ctx->tmp + i, j - i);
	}
	for (i = 0; i < ctx->n_top; i++) {
		if (ctx->top[i] != NONE)
			ctx->top[keep++] = ctx->top[i];
	}
	ctx->n_top = keep;
}

/* ---- REFS: threads by their newest message ---- */

struct imap_thread_newest {
	size_t	 node;
	int64_t	 newest;	/* the latest sent date in the thread */
	bool	 orphan;
	size_t	 rank;		/* an orphan's */
	uint32_t seq;		/* of the thread's top message */
};

/*
 * REFS orders threads by their newest message's sent date. Between
 * equal dates, threads whose root is missing from the mailbox (so they
 * began before anything here) come first, in the order their missing
 * root was first referenced; then the thread whose top message has the
 * lower sequence number. Dovecot 2.3 orders ties the same way.
 */
static int
imap_thread_newest_cmp(const void *pa, const void *pb)
{
	const struct imap_thread_newest *a = pa, *b = pb;

	if (a->newest != b->newest)
		return a->newest < b->newest ? -1 : 1;
	if (a->orphan != b->orphan)
		return a->orphan ? -1 : 1;
	if (a->orphan && a->rank != b->rank)
		return a->rank < b->rank ? -1 : 1;
	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	return (a->node > b->node) - (a->node < b->node);
}

static void
imap_thread_sort_top_newest(struct imap_thread_ctx *ctx)
{
	struct imap_thread_newest *tn;
	struct imap_thread_sortkey k;
	size_t *stack = ctx->tmp, sp, x;

	tn = mail_xcalloc(ctx->n_top + 1, sizeof(*tn));
	for (size_t i = 0; i < ctx->n_top; i++) {
		tn[i].node = ctx->top[i];
		k = imap_thread_key(ctx, ctx->top[i]);
		tn[i].newest = k.date;
		tn[i].seq = k.seq;
		tn[i].orphan = ctx->nodes[ctx->top[i]].orphan;
		tn[i].rank = ctx->nodes[ctx->top[i]].rank;
		sp = 0;
		stack[sp++] = ctx->top[i];
		while (sp > 0) {
			x = stack[--sp];
			if (ctx->nodes[x].msg != NONE &&
			    ctx->msgs[ctx->nodes[x].msg].date > tn[i].newest)
				tn[i].newest =
				    ctx->msgs[ctx->nodes[x].msg].date;
			for (size_t c = ctx->nodes[x].first; c != NONE;
			    c = ctx->nodes[c].next)
				stack[sp++] = c;
		}
	}
	mail_qsort(tn, ctx->n_top, sizeof(*tn), imap_thread_newest_cmp);
	for (size_t i = 0; i < ctx->n_top; i++)
		ctx->top[i] = tn[i].node;
	free(tn);
}

/* ---- output ---- */

enum imap_thread_item {
	IMAP_THREAD_ITEM_NODE,
	IMAP_THREAD_ITEM_OPEN,
	IMAP_THREAD_ITEM_CLOSE,
	IMAP_THREAD_ITEM_SPACE,
};

/*
 * Write the threads (RFC 5256 5: thread-list). A message with one child
 * continues its thread-members ("1 2"); with more, each child's subtree
 * is a nested thread-list ("1 (2)(3)"); a dummy writes only its nested
 * children. An explicit stack of items to write replaces recursion.
 */
static void
imap_thread_write(struct imap_thread_ctx *ctx, struct mail_buf *out)
{
	struct imap_thread_node *t = ctx->nodes;
	size_t *stack, sp = 0, cap, x, c, nchild;
	size_t item;

	/* each node is pushed once with at most three items around it */
	cap = (ctx->n_nodes + 1) * 4;
	stack = mail_xcalloc(cap, sizeof(*stack));
#define PUSH(kind, node) (stack[sp++] = (node) << 2 | (kind))
	for (size_t i = ctx->n_top; i-- > 0;) {
		PUSH(IMAP_THREAD_ITEM_CLOSE, 0);
		PUSH(IMAP_THREAD_ITEM_NODE, ctx->top[i]);
		PUSH(IMAP_THREAD_ITEM_OPEN, 0);
	}
	while (sp > 0) {
		item = stack[--sp];
		switch (item & 3) {
		case IMAP_THREAD_ITEM_OPEN:
			mail_buf_append(out, "(", 1);
			continue;
		case IMAP_THREAD_ITEM_CLOSE:
			mail_buf_append(out, ")", 1);
			continue;
		case IMAP_THREAD_ITEM_SPACE:
			mail_buf_append(out, " ", 1);
			continue;
		default:
			break;
		}
		x = item >> 2;
		nchild = 0;
		for (c = t[x].first; c != NONE && nchild < 2; c = t[c].next)
			nchild++;
		if (t[x].msg != NONE)
			mail_buf_printf(out, "%u", ctx->msgs[t[x].msg].num);
		if (nchild == 0)
			continue;
		if (nchild == 1) {
			PUSH(IMAP_THREAD_ITEM_NODE, t[x].first);
			if (t[x].msg != NONE)
				PUSH(IMAP_THREAD_ITEM_SPACE, 0);
			continue;
		}
		/* children pushed last first, so they come out in order */
		nchild = 0;
		for (c = t[x].first; c != NONE; c = t[c].next)
			ctx->tmp[nchild++] = c;
		while (nchild-- > 0) {
			PUSH(IMAP_THREAD_ITEM_CLOSE, 0);
			PUSH(IMAP_THREAD_ITEM_NODE, ctx->tmp[nchild]);
			PUSH(IMAP_THREAD_ITEM_OPEN, 0);
		}
		if (t[x].msg != NONE)
			PUSH(IMAP_THREAD_ITEM_SPACE, 0);
	}
#undef PUSH
	mail_assert(sp <= cap);
	free(stack);
}

/* ---- the algorithms ---- */

static int
imap_thread_subject_date_cmp(const void *pa, const void *pb, void *arg)
{
	const struct imap_thread_ctx *ctx = arg;
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	struct imap_thread_sortkey ka = { ctx->msgs[a].date, ctx->msgs[a].seq };
	struct imap_thread_sortkey kb = { ctx->msgs[b].date, ctx->msgs[b].seq };
	int r = imap_thread_subj_cmp(ctx, a, b);

	if (r == 0)
		r = imap_thread_key_cmp(ka, kb);
	return r != 0 ? r : (a > b) - (a < b);
}

/* ORDEREDSUBJECT (RFC 5256 3): sort by base subject, then sent date;
 * each run of one subject is a thread whose first message is the parent
 * of all the others; threads in the order of their first message. */
static void
imap_thread_orderedsubject(struct imap_thread_ctx *ctx)
{
	size_t *idx, i, j, p;

	idx = mail_xcalloc(ctx->n, sizeof(*idx));
	for (i = 0; i < ctx->n; i++) {
		idx[i] = i;
		(void)imap_thread_new_node(ctx, i);	/* node i: message i */
	}
	if (ctx->n > 1)
		qsort_r(idx, ctx->n, sizeof(*idx),
		    imap_thread_subject_date_cmp, ctx);
	ctx->top = mail_xcalloc(ctx->n, sizeof(*ctx->top));
	ctx->n_top = 0;
	for (i = 0; i < ctx->n; i = j) {
		p = idx[i];
		ctx->top[ctx->n_top++] = p;
		for (j = i + 1; j < ctx->n &&
		    imap_thread_subj_cmp(ctx, p, idx[j]) == 0; j++)
			imap_thread_add_child(ctx, p, idx[j]);
	}
	free(idx);
	imap_thread_sort_top(ctx);
}

/* REFERENCES (RFC 5256 3) and REFS. */
static void
imap_thread_references(struct imap_thread_ctx *ctx)
{
	imap_thread_resolve(ctx);				/* 1.A */
	imap_thread_link_all(ctx);				/* 1.B, 1.C */
	imap_thread_build_and_prune(ctx);			/* 2, 3 */
	ctx->tmp = mail_xcalloc(ctx->n_nodes * 2 + 1, sizeof(*ctx->tmp));
	for (size_t i = 0; i < ctx->n_top; i++) {		/* 4 */
		if (imap_thread_is_dummy(ctx, ctx->top[i]))
			imap_thread_sort_children(ctx, ctx->top[i]);
	}
	imap_thread_sort_top(ctx);
	if (ctx->alg == IMAP_THREAD_REFERENCES)
		imap_thread_group_subjects(ctx);		/* 5 */
	for (size_t x = 0; x < ctx->n_nodes; x++)		/* 6 */
		imap_thread_sort_children(ctx, x);
	if (ctx->alg == IMAP_THREAD_REFS)
		imap_thread_sort_top_newest(ctx);
	else
		imap_thread_sort_top(ctx);
}

int
imap_thread(enum imap_thread_alg alg, const struct imap_msg_info *msgs,
    size_t n, const struct imap_search_env *env, bool use_uid,
    struct mail_buf *out, struct mail_err *err)
{
	struct imap_thread_ctx ctx;
	struct imap_text_conv conv;
	int ret = -1;

	if (alg != IMAP_THREAD_ORDEREDSUBJECT &&
	    alg != IMAP_THREAD_REFERENCES && alg != IMAP_THREAD_REFS)
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "unknown threading algorithm %d", (int)alg);
	if (n == 0)
		return 0;
	memset(&ctx, 0, sizeof(ctx));
	ctx.alg = alg;
	ctx.info = msgs;
	ctx.n = n;
	ctx.msgs = mail_xcalloc(n, sizeof(*ctx.msgs));
	imap_text_conv_init(&conv);
	for (size_t i = 0; i < n; i++) {
		if (imap_thread_gather(&ctx, i, env, use_uid, &conv, err) < 0)
			goto out;
	}
	if (alg == IMAP_THREAD_ORDEREDSUBJECT) {
		imap_thread_orderedsubject(&ctx);
		ctx.tmp = mail_xcalloc(ctx.n_nodes + 1, sizeof(*ctx.tmp));
	} else
		imap_thread_references(&ctx);
	imap_thread_write(&ctx, out);
	ret = 0;
out:
	imap_text_conv_free(&conv);
	free(ctx.msgs);
	mail_buf_free(&ctx.pool);
	free(ctx.ids);
	free(ctx.slot_node);
	free(ctx.nodes);
	free(ctx.top);
	free(ctx.tmp);
	return ret;
}
