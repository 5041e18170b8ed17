/*
 * test_mail_loop.c: the epoll loop reports fd readiness, never calls a
 * deleted fd's callback (not even for an event pending in the same
 * batch), fires timers in (deadline, insertion) order on a test clock,
 * runs deferred callbacks in order, stops, and keeps its timer heap
 * consistent through 10,000 random adds and deletes.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "mail_loop.h"
#include "testlib.h"

static uint64_t
test_clock(void *ctx)
{
	return *(const uint64_t *)ctx;
}

static struct mail_loop *
new_loop(uint64_t *clock)
{
	struct mail_loop *loop;
	struct mail_err err;

	ck_assert_int_eq(mail_loop_new(&loop, &err), 0);
	if (clock != NULL)
		mail_loop_set_clock(loop, test_clock, clock);
	return loop;
}

static void
run_once(struct mail_loop *loop, int max_wait_ms)
{
	struct mail_err err;

	ck_assert_int_eq(mail_loop_run_once(loop, max_wait_ms, &err), 0);
}

/* fd readiness */

struct fd_rec {
	int		 calls;
	int		 last_fd;
	unsigned	 last_events;
};

static void
fd_record(struct mail_loop *loop, int fd, unsigned events, void *ctx)
{
	struct fd_rec *r = ctx;

	(void)loop;
	r->calls++;
	r->last_fd = fd;
	r->last_events = events;
}

START_TEST(test_fd_read_write)
{
	struct mail_loop *loop = new_loop(NULL);
	struct fd_rec rd = { 0 }, wr = { 0 };
	struct mail_err err;
	int p[2];
	char c;

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(mail_loop_add_fd(loop, p[0], MAIL_EV_READ,
	    fd_record, &rd, &err), 0);
	ck_assert_int_eq(mail_loop_add_fd(loop, p[1], MAIL_EV_WRITE,
	    fd_record, &wr, &err), 0);
	ck_assert_uint_eq(mail_loop_fd_count(loop), 2);
	/* registering twice is refused */
	ck_assert_int_eq(mail_loop_add_fd(loop, p[0], MAIL_EV_READ,
	    fd_record, &rd, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_EXISTS);
	ck_assert_int_eq(mail_loop_add_fd(loop, -1, MAIL_EV_READ,
	    fd_record, &rd, &err), -1);

	/* an empty pipe: writable, not readable */
	run_once(loop, 0);
	ck_assert_int_eq(rd.calls, 0);
	ck_assert_int_eq(wr.calls, 1);
	ck_assert_int_eq(wr.last_fd, p[1]);
	ck_assert_uint_eq(wr.last_events, MAIL_EV_WRITE);

	/* level-triggered: readable until drained */
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	ck_assert_int_eq(mail_loop_mod_fd(loop, p[1], 0, &err), 0);
	run_once(loop, 1000);
	run_once(loop, 0);
	ck_assert_int_eq(rd.calls, 2);
	ck_assert_int_eq(rd.last_fd, p[0]);
	ck_assert_uint_eq(rd.last_events, MAIL_EV_READ);
	ck_assert_int_eq(wr.calls, 1);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	run_once(loop, 0);
	ck_assert_int_eq(rd.calls, 2);

	/* a hangup reports as READ, so the read sees EOF */
	close(p[1]);
	mail_loop_del_fd(loop, p[1]);	/* closed already: harmless */
	run_once(loop, 1000);
	ck_assert_int_eq(rd.calls, 3);
	ck_assert_uint_eq(rd.last_events, MAIL_EV_READ);
	ck_assert_int_eq(read(p[0], &c, 1), 0);

	mail_loop_del_fd(loop, p[0]);
	mail_loop_del_fd(loop, p[0]);	/* not registered: ignored */
	ck_assert_uint_eq(mail_loop_fd_count(loop), 0);
	run_once(loop, 0);
	ck_assert_int_eq(rd.calls, 3);
	close(p[0]);
	mail_loop_free(&loop);
	ck_assert_ptr_null(loop);
	mail_loop_free(&loop);
}
END_TEST

START_TEST(test_fd_mod_zero_and_back)
{
	struct mail_loop *loop = new_loop(NULL);
	struct fd_rec rd = { 0 };
	struct mail_err err;
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	ck_assert_int_eq(mail_loop_mod_fd(loop, p[0], MAIL_EV_READ, &err),
	    -1);
	ck_assert_int_eq(err.code, MAIL_ERR_NOTFOUND);
	ck_assert_int_eq(mail_loop_add_fd(loop, p[0], MAIL_EV_READ,
	    fd_record, &rd, &err), 0);
	run_once(loop, 0);
	ck_assert_int_eq(rd.calls, 1);

	/* waiting for nothing: not even the hangup wakes it */
	ck_assert_int_eq(mail_loop_mod_fd(loop, p[0], 0, &err), 0);
	close(p[1]);
	for (int i = 0; i < 3; i++)
		run_once(loop, 0);
	run_once(loop, 20);
	ck_assert_int_eq(rd.calls, 1);
	ck_assert_uint_eq(mail_loop_fd_count(loop), 1);
	ck_assert_int_eq(mail_loop_mod_fd(loop, p[0], 0, &err), 0);

	/* and back */
	ck_assert_int_eq(mail_loop_mod_fd(loop, p[0], MAIL_EV_READ, &err), 0);
	run_once(loop, 0);
	ck_assert_int_eq(rd.calls, 2);
	ck_assert_uint_eq(rd.last_events, MAIL_EV_READ);

	/* registered with 0 from the start, then enabled */
	mail_loop_del_fd(loop, p[0]);
	ck_assert_int_eq(mail_loop_add_fd(loop, p[0], 0, fd_record, &rd,
	    &err), 0);
	run_once(loop, 0);
	ck_assert_int_eq(rd.calls, 2);
	ck_assert_int_eq(mail_loop_mod_fd(loop, p[0],
	    MAIL_EV_READ | MAIL_EV_WRITE, &err), 0);
	run_once(loop, 0);
	ck_assert_int_eq(rd.calls, 3);
	/* a read end never becomes writable; the hangup shows as READ
	 * (and WRITE, which the fd waits for too) */
	ck_assert(rd.last_events & MAIL_EV_READ);
	mail_loop_del_fd(loop, p[0]);
	close(p[0]);
	mail_loop_free(&loop);
}
END_TEST

/* two pipes, both readable: whichever callback runs first deletes */

struct batch {
	int		 rfd[2], wfd[2];
	int		 calls[2];
	int		 newfd_calls;
	int		 reused;	/* fd number reused in the batch */
	int		 mode;		/* what the first callback does */
	struct fd_rec	 rec;
};

static void
batch_newfd_cb(struct mail_loop *loop, int fd, unsigned events, void *ctx)
{
	struct batch *b = ctx;

	(void)loop;
	(void)fd;
	(void)events;
	b->newfd_calls++;
}

static void
batch_cb(struct mail_loop *loop, int fd, unsigned events, void *ctx)
{
	struct batch *b = ctx;
	int me = fd == b->rfd[0] ? 0 : 1, other = 1 - me;
	struct mail_err err;
	int p[2];

	(void)events;
	b->calls[me]++;
	switch (b->mode) {
	case 0:		/* delete myself */
		mail_loop_del_fd(loop, fd);
		break;
	case 1:		/* delete the other one, pending in this batch */
		mail_loop_del_fd(loop, b->rfd[other]);
		break;
	case 2:		/* delete both */
		mail_loop_del_fd(loop, fd);
		mail_loop_del_fd(loop, b->rfd[other]);
		break;
	case 3:
		/* delete the other, close it and register a new (empty)
		 * pipe under the same fd number: the pending event of the
		 * old fd must not reach the new callback */
		mail_loop_del_fd(loop, b->rfd[other]);
		close(b->rfd[other]);
		ck_assert_int_eq(pipe(p), 0);
		b->reused = p[0] == b->rfd[other];
		ck_assert_int_eq(mail_loop_add_fd(loop, p[0], MAIL_EV_READ,
		    batch_newfd_cb, b, &err), 0);
		close(b->wfd[other]);
		b->rfd[other] = p[0];
		b->wfd[other] = p[1];
		break;
	}
}

START_TEST(test_del_in_batch)
{
	struct mail_loop *loop;
	struct mail_err err;
	struct batch b;
	int p[2];

	for (int mode = 0; mode < 4; mode++) {
		loop = new_loop(NULL);
		memset(&b, 0, sizeof(b));
		b.mode = mode;
		for (int i = 0; i < 2; i++) {
			ck_assert_int_eq(pipe(p), 0);
			b.rfd[i] = p[0];
			b.wfd[i] = p[1];
			ck_assert_int_eq(write(p[1], "x", 1), 1);
		}
		for (int i = 0; i < 2; i++)
			ck_assert_int_eq(mail_loop_add_fd(loop, b.rfd[i],
			    MAIL_EV_READ, batch_cb, &b, &err), 0);
		/* both are readable, so both come in one batch */
		run_once(loop, 0);
		if (mode == 0) {
			ck_assert_int_eq(b.calls[0], 1);
			ck_assert_int_eq(b.calls[1], 1);
			ck_assert_uint_eq(mail_loop_fd_count(loop), 0);
		} else {
			ck_assert_int_eq(b.calls[0] + b.calls[1], 1);
		}
		if (mode == 1)
			ck_assert_uint_eq(mail_loop_fd_count(loop), 1);
		if (mode == 2)
			ck_assert_uint_eq(mail_loop_fd_count(loop), 0);
		if (mode == 3) {
			ck_assert_int_eq(b.newfd_calls, 0);
			ck_assert_int_eq(b.reused, 1);
			ck_assert_uint_eq(mail_loop_fd_count(loop), 2);
			/* the new pipe works */
			b.mode = -1;
			ck_assert_int_eq(write(b.wfd[b.calls[0] == 1 ? 1 : 0],
			    "y", 1), 1);
			run_once(loop, 0);
			ck_assert_int_eq(b.newfd_calls, 1);
		}
		/* still readable, but deleted ones stay quiet */
		b.mode = -1;
		if (mode != 3) {
			int before = b.calls[0] + b.calls[1];

			run_once(loop, 0);
			ck_assert_int_eq(b.calls[0] + b.calls[1], before +
			    (mode == 1 ? 1 : 0));
		}
		for (int i = 0; i < 2; i++) {
			mail_loop_del_fd(loop, b.rfd[i]);
			close(b.rfd[i]);
			close(b.wfd[i]);
		}
		mail_loop_free(&loop);
	}
}
END_TEST

/* timers */

struct fired {
	int		 ids[64];
	int		 n;
	uint64_t	 at[64];
};

struct tctx {
	struct fired	*f;
	int		 id;
	struct mail_timer *victim;	/* deleted by this timer */
	struct mail_timer **victim_handle;
	struct tctx	*spawn;		/* added by this timer */
	struct mail_timer *self;	/* deleted inside its own callback */
};

static void
timer_cb(struct mail_loop *loop, void *ctx)
{
	struct tctx *t = ctx;

	t->f->at[t->f->n] = mail_loop_now_ms(loop);
	t->f->ids[t->f->n++] = t->id;
	if (t->victim_handle != NULL)
		mail_timer_del(t->victim_handle);
	if (t->spawn != NULL)
		mail_timer_add(loop, 5, timer_cb, t->spawn);
	if (t->self != NULL) {
		mail_timer_del(&t->self);
		ck_assert_ptr_null(t->self);
	}
}

START_TEST(test_timer_order)
{
	static const uint64_t after[] = { 30, 10, 20, 10, 10, 0, 20 };
	/* deadline order, insertion order on ties */
	static const int expect[] = { 5, 1, 3, 4, 2, 6, 0 };
	uint64_t clock = 1000;
	struct mail_loop *loop = new_loop(&clock);
	struct tctx t[N_ELEMENTS(after)];
	struct fired f = { 0 };

	ck_assert_uint_eq(mail_loop_now_ms(loop), 1000);
	for (size_t i = 0; i < N_ELEMENTS(after); i++) {
		t[i] = (struct tctx){ .f = &f, .id = (int)i };
		ck_assert_ptr_nonnull(mail_timer_add(loop, after[i], timer_cb,
		    &t[i]));
	}
	ck_assert_uint_eq(mail_loop_timer_count(loop), N_ELEMENTS(after));
	/* after 0 fires at the next iteration */
	run_once(loop, 0);
	ck_assert_int_eq(f.n, 1);
	ck_assert_int_eq(f.ids[0], 5);
	clock = 1009;
	run_once(loop, 0);
	ck_assert_int_eq(f.n, 1);
	clock = 1010;
	run_once(loop, 0);
	ck_assert_int_eq(f.n, 4);
	ck_assert_uint_eq(mail_loop_now_ms(loop), 1010);
	/* a late iteration fires everything due, still in order */
	clock = 5000;
	run_once(loop, 0);
	ck_assert_int_eq(f.n, (int)N_ELEMENTS(after));
	for (size_t i = 0; i < N_ELEMENTS(expect); i++)
		ck_assert_int_eq(f.ids[i], expect[i]);
	ck_assert_uint_eq(mail_loop_timer_count(loop), 0);
	mail_loop_free(&loop);
}
END_TEST

START_TEST(test_timer_del_and_add_from_callback)
{
	uint64_t clock = 0;
	struct mail_loop *loop = new_loop(&clock);
	struct fired f = { 0 };
	struct tctx a = { .f = &f, .id = 1 }, b = { .f = &f, .id = 2 },
	    c = { .f = &f, .id = 3 }, d = { .f = &f, .id = 4 },
	    e = { .f = &f, .id = 5 };
	struct mail_timer *tb, *tnull = NULL;

	/* a at 10 deletes b (due at 10 too, later in the same run) and
	 * adds c 5 ms later; d deletes itself inside its callback */
	a.victim_handle = &tb;
	a.spawn = &c;
	mail_timer_add(loop, 10, timer_cb, &a);
	tb = mail_timer_add(loop, 10, timer_cb, &b);
	d.self = mail_timer_add(loop, 12, timer_cb, &d);
	/* deleted before firing: never fires */
	e.self = mail_timer_add(loop, 1, timer_cb, &e);
	mail_timer_del(&e.self);
	ck_assert_ptr_null(e.self);
	mail_timer_del(&tnull);
	mail_timer_del(NULL);

	clock = 10;
	run_once(loop, 0);
	ck_assert_int_eq(f.n, 1);
	ck_assert_int_eq(f.ids[0], 1);
	ck_assert_ptr_null(tb);
	clock = 14;
	run_once(loop, 0);
	ck_assert_int_eq(f.n, 2);
	ck_assert_int_eq(f.ids[1], 4);
	ck_assert_ptr_null(d.self);
	clock = 15;
	run_once(loop, 0);
	ck_assert_int_eq(f.n, 3);
	ck_assert_int_eq(f.ids[2], 3);
	ck_assert_uint_eq(f.at[2], 15);
	clock = 100;
	run_once(loop, 0);
	ck_assert_int_eq(f.n, 3);
	ck_assert_uint_eq(mail_loop_timer_count(loop), 0);

	/* pending timers are freed with the loop (ASan checks) */
	mail_timer_add(loop, 10, timer_cb, &a);
	mail_timer_add(loop, 20, timer_cb, &b);
	mail_loop_free(&loop);
}
END_TEST

static void
readd_zero(struct mail_loop *loop, void *ctx)
{
	int *n = ctx;

	(*n)++;
	mail_timer_add(loop, 0, readd_zero, n);
}

START_TEST(test_timer_readd_no_starvation)
{
	uint64_t clock = 0;
	struct mail_loop *loop = new_loop(&clock);
	int n = 0;

	/* a timer re-adding itself with 0 fires once per iteration */
	mail_timer_add(loop, 0, readd_zero, &n);
	run_once(loop, 0);
	ck_assert_int_eq(n, 1);
	run_once(loop, 0);
	ck_assert_int_eq(n, 2);
	mail_loop_free(&loop);
}
END_TEST

START_TEST(test_timer_real_clock)
{
	struct mail_loop *loop = new_loop(NULL);
	struct fired f = { 0 };
	struct tctx a = { .f = &f, .id = 1 };
	uint64_t start = mail_loop_now_ms(loop);

	/* no fds: the wait lasts until the timer */
	mail_timer_add(loop, 30, timer_cb, &a);
	while (f.n == 0)
		run_once(loop, -1);
	ck_assert_uint_ge(f.at[0], start + 30);
	ck_assert_uint_lt(f.at[0], start + 3000);
	mail_loop_free(&loop);
}
END_TEST

/* 10,000 timers, random adds and deletes; firing order checks the heap */

#define NRAND 10000

struct rt {
	struct mail_timer *h;
	uint64_t	 deadline;
	int		 state;		/* 0 pending, 1 deleted, 2 fired */
	int		 id;
};

static struct rand_state {
	struct rt	 t[NRAND];
	int		 n;
	uint64_t	 clock;
	uint64_t	 last_deadline;
	int		 last_id;
	int		 fired;
	uint32_t	 seed;
} *rs;

static uint32_t
rnd(void)
{
	/* xorshift32: deterministic across runs */
	rs->seed ^= rs->seed << 13;
	rs->seed ^= rs->seed >> 17;
	rs->seed ^= rs->seed << 5;
	return rs->seed;
}

static void
rand_cb(struct mail_loop *loop, void *ctx)
{
	struct rt *t = ctx;

	(void)loop;
	ck_assert_int_eq(t->state, 0);
	ck_assert_uint_le(t->deadline, rs->clock);
	/* (deadline, insertion) never goes backwards */
	ck_assert(t->deadline > rs->last_deadline ||
	    (t->deadline == rs->last_deadline && t->id > rs->last_id));
	rs->last_deadline = t->deadline;
	rs->last_id = t->id;
	t->state = 2;
	t->h = NULL;
	rs->fired++;
	/* sometimes delete a random other pending timer from here */
	if (rnd() % 4 == 0) {
		struct rt *v = &rs->t[rnd() % (uint32_t)rs->n];

		if (v->state == 0) {
			mail_timer_del(&v->h);
			v->state = 1;
		}
	}
}

START_TEST(test_timer_random)
{
	struct mail_loop *loop;
	int deleted = 0;

	rs = mail_xcalloc(1, sizeof(*rs));
	rs->seed = 0x9e3779b9u;
	rs->last_id = -1;
	loop = new_loop(&rs->clock);
	while (rs->n < NRAND || mail_loop_timer_count(loop) > 0) {
		uint32_t op = rnd() % 8;

		if (op < 5 && rs->n < NRAND) {
			struct rt *t = &rs->t[rs->n];

			t->id = rs->n++;
			/* small range: many equal deadlines */
			t->deadline = rs->clock + rnd() % 500;
			t->h = mail_timer_add(loop, t->deadline - rs->clock,
			    rand_cb, t);
		} else if (op < 7 && rs->n > 0) {
			/* mostly recent ones, which are likely pending */
			uint32_t span = rs->n < 400 ? (uint32_t)rs->n : 400;
			struct rt *t = &rs->t[rs->n - 1 -
			    (int)(rnd() % span)];

			if (t->state == 0) {
				mail_timer_del(&t->h);
				t->state = 1;
			}
		} else {
			rs->clock += rnd() % 10;
			run_once(loop, 0);
			/* nothing due was left behind */
			for (int i = 0; i < rs->n; i++)
				if (rs->t[i].state == 0)
					ck_assert_uint_gt(rs->t[i].deadline,
					    rs->clock);
		}
	}
	for (int i = 0; i < NRAND; i++) {
		ck_assert_int_ne(rs->t[i].state, 0);
		deleted += rs->t[i].state == 1;
	}
	ck_assert_int_eq(rs->fired + deleted, NRAND);
	ck_assert_int_gt(rs->fired, NRAND / 4);
	ck_assert_int_gt(deleted, NRAND / 10);
	mail_loop_free(&loop);
	free(rs);
}
END_TEST

/* defer and stop */

struct dctx {
	int		 order[16];
	int		 n;
};

struct ditem {
	struct dctx	*d;
	int		 id;
	struct ditem	*then;		/* deferred from this callback */
	bool		 stop;
};

static void
defer_cb(struct mail_loop *loop, void *ctx)
{
	struct ditem *it = ctx;

	it->d->order[it->d->n++] = it->id;
	if (it->then != NULL)
		mail_loop_defer(loop, defer_cb, it->then);
	if (it->stop)
		mail_loop_stop(loop);
}

START_TEST(test_defer_order)
{
	uint64_t clock = 0;
	struct mail_loop *loop = new_loop(&clock);
	struct dctx d = { 0 };
	struct ditem it[5];
	struct fired f = { 0 };
	struct tctx t = { .f = &f, .id = 1 };
	struct mail_err err;

	for (int i = 0; i < 5; i++)
		it[i] = (struct ditem){ .d = &d, .id = i + 1 };
	it[1].then = &it[3];
	mail_loop_defer(loop, defer_cb, &it[0]);
	mail_loop_defer(loop, defer_cb, &it[1]);
	mail_loop_defer(loop, defer_cb, &it[2]);
	run_once(loop, -1);
	ck_assert_int_eq(d.n, 3);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(d.order[i], i + 1);
	/* deferred while running the others: the next iteration (the one
	 * above did not block for it, although nothing else is pending) */
	run_once(loop, 0);
	ck_assert_int_eq(d.n, 4);
	ck_assert_int_eq(d.order[3], 4);

	/* stop from a deferred callback: run returns without blocking;
	 * the stop is cleared, so run_once blocks normally afterwards */
	it[4].stop = true;
	mail_loop_defer(loop, defer_cb, &it[4]);
	ck_assert_int_eq(mail_loop_run(loop, &err), 0);
	ck_assert_int_eq(d.order[4], 5);
	mail_timer_add(loop, 1, timer_cb, &t);
	clock = 1;
	run_once(loop, 0);
	ck_assert_int_eq(f.n, 1);
	/* dropped unrun with the loop */
	mail_loop_defer(loop, defer_cb, &it[0]);
	mail_loop_free(&loop);
	ck_assert_int_eq(d.n, 5);
}
END_TEST

static void
stop_cb(struct mail_loop *loop, void *ctx)
{
	int *n = ctx;

	(*n)++;
	mail_loop_stop(loop);
}

static void
drain_cb(struct mail_loop *loop, int fd, unsigned events, void *ctx)
{
	char buf[16];

	(void)events;
	ck_assert_int_gt(read(fd, buf, sizeof(buf)), 0);
	mail_loop_del_fd(loop, fd);
	stop_cb(loop, ctx);
}

START_TEST(test_stop)
{
	struct mail_loop *loop = new_loop(NULL);
	struct mail_err err;
	int n = 0, p[2];

	/* from a timer on the real clock */
	mail_timer_add(loop, 20, stop_cb, &n);
	ck_assert_int_eq(mail_loop_run(loop, &err), 0);
	ck_assert_int_eq(n, 1);
	/* from an fd callback */
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(mail_loop_add_fd(loop, p[0], MAIL_EV_READ, drain_cb,
	    &n, &err), 0);
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	ck_assert_int_eq(mail_loop_run(loop, &err), 0);
	ck_assert_int_eq(n, 2);
	/* before run: returns at once */
	mail_loop_stop(loop);
	ck_assert_int_eq(mail_loop_run(loop, &err), 0);
	close(p[0]);
	close(p[1]);
	mail_loop_free(&loop);
}
END_TEST

Suite *test_mail_loop_suite(void);
Suite *
test_mail_loop_suite(void)
{
	Suite *s = suite_create("mail_loop");
	TCase *tc = tcase_create("fd");

	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_fd_read_write);
	tcase_add_test(tc, test_fd_mod_zero_and_back);
	tcase_add_test(tc, test_del_in_batch);
	suite_add_tcase(s, tc);

	tc = tcase_create("timer");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_timer_order);
	tcase_add_test(tc, test_timer_del_and_add_from_callback);
	tcase_add_test(tc, test_timer_readd_no_starvation);
	tcase_add_test(tc, test_timer_real_clock);
	tcase_add_test(tc, test_timer_random);
	suite_add_tcase(s, tc);

	tc = tcase_create("defer_stop");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_defer_order);
	tcase_add_test(tc, test_stop);
	suite_add_tcase(s, tc);
	return s;
}
