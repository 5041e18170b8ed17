/*
 * mail_loop.c: a small single-threaded, level-triggered epoll loop, in the
 * spirit of Redis ae.c + ae_epoll.c, with libuv's timer min-heap.
 *
 * Invariants:
 * - fds[fd] describes fd while fds[fd].used. An fd that waits for nothing
 *   (events 0) is kept out of the epoll set altogether, because epoll
 *   reports EPOLLERR and EPOLLHUP even for an empty event mask, which
 *   would make a level-triggered loop spin.
 * - Every registration gets a fresh generation number, stored in the
 *   upper 32 bits of epoll_event.data next to the fd. A batch returned by
 *   epoll_wait is dispatched only to entries that are still used with the
 *   same generation, so after mail_loop_del_fd() (and even after the fd
 *   number is closed, reused and registered again in the same batch) a
 *   stale event never reaches a callback.
 * - heap[] is a binary min-heap of pending timers ordered by (deadline,
 *   seq); seq grows with every mail_timer_add(), so equal deadlines fire
 *   in insertion order. Each timer knows its heap index, which makes
 *   deletion O(log n). A timer whose callback is running has left the
 *   heap and has index TIMER_FIRING; it is freed when the callback
 *   returns.
 * - Deferred callbacks live in two arrays that swap each iteration, so a
 *   callback deferred while running the others waits for the next
 *   iteration instead of starving the loop.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>

#include "mail_loop.h"

/* epoll events fetched per wait; level-triggered, so the rest come next */
#define MAIL_LOOP_BATCH	64
#define TIMER_FIRING	SIZE_MAX

struct mail_loop_fd {
	mail_loop_fd_fn *fn;
	void		*ctx;
	unsigned	 events;	/* MAIL_EV_* waited for */
	uint32_t	 gen;		/* registration generation, see above */
	bool		 used;
	bool		 in_epoll;	/* events != 0 */
};

struct mail_timer {
	struct mail_loop *loop;
	uint64_t	 deadline;	/* loop clock, ms */
	uint64_t	 seq;		/* tiebreak: insertion order */
	size_t		 idx;		/* in loop->heap, or TIMER_FIRING */
	mail_loop_fn	*fn;
	void		*ctx;
};

struct mail_loop_defer {
	mail_loop_fn	*fn;
	void		*ctx;
};

struct mail_loop {
	int		 epfd;
	uint64_t	 now;		/* ms, never goes backwards */
	uint64_t	 (*now_fn)(void *ctx);
	void		*now_ctx;

	struct mail_loop_fd *fds;	/* indexed by fd */
	size_t		 fds_cap;
	size_t		 nfds_used;
	uint32_t	 next_gen;

	struct mail_timer **heap;
	size_t		 nheap, heap_cap;
	uint64_t	 next_seq;

	struct mail_loop_defer *defer, *defer_run;
	size_t		 ndefer, defer_cap, defer_run_cap;

	bool		 stop;		/* set by mail_loop_stop() */
	bool		 in_run;	/* inside mail_loop_run() */
	bool		 running;	/* inside run_once: no recursion */
	struct epoll_event events[MAIL_LOOP_BATCH];
};

static uint64_t
mail_loop_clock(struct mail_loop *loop)
{
	struct timespec ts;

	if (loop->now_fn != NULL)
		return loop->now_fn(loop->now_ctx);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
mail_loop_update_now(struct mail_loop *loop)
{
	uint64_t t = mail_loop_clock(loop);

	/* a test clock might step back; timers must not see that */
	if (t > loop->now)
		loop->now = t;
}

int
mail_loop_new(struct mail_loop **loop_r, struct mail_err *err)
{
	struct mail_loop *loop;
	int epfd;

	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return mail_err_sys(err, errno, "epoll_create1");
	loop = mail_xcalloc(1, sizeof(*loop));
	loop->epfd = epfd;
	loop->next_gen = 1;
	mail_loop_update_now(loop);
	*loop_r = loop;
	return 0;
}

void
mail_loop_free(struct mail_loop **loopp)
{
	struct mail_loop *loop = *loopp;

	if (loop == NULL)
		return;
	mail_assert(!loop->running);
	for (size_t i = 0; i < loop->nheap; i++)
		free(loop->heap[i]);
	free(loop->heap);
	free(loop->fds);
	free(loop->defer);
	free(loop->defer_run);
	close(loop->epfd);
	free(loop);
	*loopp = NULL;
}

/* fds */

static uint32_t
mail_loop_epoll_events(unsigned events)
{
	return ((events & MAIL_EV_READ) != 0 ? EPOLLIN : 0) |
	    ((events & MAIL_EV_WRITE) != 0 ? EPOLLOUT : 0);
}

/* Bring the epoll set in line with f->in_epoll -> events. */
static int
mail_loop_ctl(struct mail_loop *loop, int fd, struct mail_loop_fd *f,
    unsigned events, struct mail_err *err)
{
	struct epoll_event ev = { 0 };
	int op;

	if (events == 0) {
		if (f->in_epoll &&
		    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL) == -1)
			return mail_err_sys(err, errno, "epoll_ctl del fd %d",
			    fd);
		f->in_epoll = false;
		return 0;
	}
	op = f->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	ev.events = mail_loop_epoll_events(events);
	ev.data.u64 = ((uint64_t)f->gen << 32) | (uint32_t)fd;
	if (epoll_ctl(loop->epfd, op, fd, &ev) == -1)
		return mail_err_sys(err, errno, "epoll_ctl %s fd %d",
		    op == EPOLL_CTL_ADD ? "add" : "mod", fd);
	f->in_epoll = true;
	return 0;
}

static struct mail_loop_fd *
mail_loop_fd_get(struct mail_loop *loop, int fd)
{
	if (fd < 0 || (size_t)fd >= loop->fds_cap || !loop->fds[fd].used)
		return NULL;
	return &loop->fds[fd];
}

int
mail_loop_add_fd(struct mail_loop *loop, int fd, unsigned events,
    mail_loop_fd_fn *fn, void *ctx, struct mail_err *err)
{
	struct mail_loop_fd *f;
	size_t old_cap = loop->fds_cap;

	if (fd < 0)
		return mail_err_set(err, MAIL_ERR_PARAM, "bad fd %d", fd);
	if (mail_loop_fd_get(loop, fd) != NULL)
		return mail_err_set(err, MAIL_ERR_EXISTS,
		    "fd %d already in the loop", fd);
	loop->fds = mail_xgrow(loop->fds, &loop->fds_cap, (size_t)fd + 1,
	    sizeof(*loop->fds));
	if (loop->fds_cap > old_cap)
		memset(&loop->fds[old_cap], 0,
		    (loop->fds_cap - old_cap) * sizeof(*loop->fds));
	f = &loop->fds[fd];
	memset(f, 0, sizeof(*f));
	/* 0 is never a generation, so a zeroed entry never matches */
	f->gen = loop->next_gen++;
	if (loop->next_gen == 0)
		loop->next_gen = 1;
	if (mail_loop_ctl(loop, fd, f, events, err) < 0) {
		f->gen = 0;
		return -1;
	}
	f->fn = fn;
	f->ctx = ctx;
	f->events = events;
	f->used = true;
	loop->nfds_used++;
	return 0;
}

int
mail_loop_mod_fd(struct mail_loop *loop, int fd, unsigned events,
    struct mail_err *err)
{
	struct mail_loop_fd *f = mail_loop_fd_get(loop, fd);

	if (f == NULL)
		return mail_err_set(err, MAIL_ERR_NOTFOUND,
		    "fd %d not in the loop", fd);
	if (mail_loop_ctl(loop, fd, f, events, err) < 0)
		return -1;
	f->events = events;
	return 0;
}

void
mail_loop_del_fd(struct mail_loop *loop, int fd)
{
	struct mail_loop_fd *f = mail_loop_fd_get(loop, fd);

	if (f == NULL)
		return;
	/* Fails only if fd was closed already, which removed it anyway
	 * (unless a dup of it lives on; the generation check then keeps
	 * its events away from callbacks). */
	if (f->in_epoll)
		(void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	memset(f, 0, sizeof(*f));
	loop->nfds_used--;
}

size_t
mail_loop_fd_count(struct mail_loop *loop)
{
	return loop->nfds_used;
}

/* timers: a binary min-heap on (deadline, seq) */

static bool
mail_timer_less(const struct mail_timer *a, const struct mail_timer *b)
{
	if (a->deadline != b->deadline)
		return a->deadline < b->deadline;
	return a->seq < b->seq;
}

static void
mail_heap_set(struct mail_loop *loop, size_t i, struct mail_timer *t)
{
	loop->heap[i] = t;
	t->idx = i;
}

static void
mail_heap_up(struct mail_loop *loop, size_t i)
{
	struct mail_timer *t = loop->heap[i];

	while (i > 0 && mail_timer_less(t, loop->heap[(i - 1) / 2])) {
		mail_heap_set(loop, i, loop->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	mail_heap_set(loop, i, t);
}

static void
mail_heap_down(struct mail_loop *loop, size_t i)
{
	struct mail_timer *t = loop->heap[i];
	size_t c;

	while ((c = 2 * i + 1) < loop->nheap) {
		if (c + 1 < loop->nheap &&
		    mail_timer_less(loop->heap[c + 1], loop->heap[c]))
			c++;
		if (!mail_timer_less(loop->heap[c], t))
			break;
		mail_heap_set(loop, i, loop->heap[c]);
		i = c;
	}
	mail_heap_set(loop, i, t);
}

static void
mail_heap_remove(struct mail_loop *loop, struct mail_timer *t)
{
	size_t i = t->idx;
	struct mail_timer *last = loop->heap[--loop->nheap];

	if (last != t) {
		/* the moved element may belong above or below slot i */
		mail_heap_set(loop, i, last);
		mail_heap_down(loop, i);
		mail_heap_up(loop, last->idx);
	}
}

struct mail_timer *
mail_timer_add(struct mail_loop *loop, uint64_t after_ms, mail_loop_fn *fn,
    void *ctx)
{
	struct mail_timer *t = mail_xmalloc(sizeof(*t));
	uint64_t now = mail_loop_clock(loop);

	/* The time of the add, not of the iteration: a timer added after a
	 * slow callback must not fire early. */
	if (now < loop->now)
		now = loop->now;
	t->loop = loop;
	if (__builtin_add_overflow(now, after_ms, &t->deadline))
		t->deadline = UINT64_MAX;
	t->seq = loop->next_seq++;
	t->fn = fn;
	t->ctx = ctx;
	loop->heap = mail_xgrow(loop->heap, &loop->heap_cap, loop->nheap + 1,
	    sizeof(*loop->heap));
	loop->heap[loop->nheap++] = t;
	mail_heap_up(loop, loop->nheap - 1);
	return t;
}

void
mail_timer_del(struct mail_timer **tp)
{
	struct mail_timer *t = tp == NULL ? NULL : *tp;

	if (t == NULL)
		return;
	*tp = NULL;
	/* fired and inside its callback: mail_loop_fire_timers() frees it */
	if (t->idx == TIMER_FIRING)
		return;
	mail_heap_remove(t->loop, t);
	free(t);
}

size_t
mail_loop_timer_count(struct mail_loop *loop)
{
	return loop->nheap;
}

static void
mail_loop_fire_timers(struct mail_loop *loop)
{
	/* Timers added by these callbacks wait for the next iteration, even
	 * with after_ms 0, so a timer that re-adds itself cannot starve the
	 * fds. They sort after every timer due now anyway (their deadline is
	 * >= now and their seq is larger), so stopping at the first one is
	 * exact. */
	uint64_t seq_limit = loop->next_seq;
	struct mail_timer *t;

	while (loop->nheap > 0) {
		t = loop->heap[0];
		if (t->deadline > loop->now || t->seq >= seq_limit)
			break;
		mail_heap_remove(loop, t);
		t->idx = TIMER_FIRING;
		t->fn(loop, t->ctx);
		free(t);
	}
}

/* deferred callbacks */

void
mail_loop_defer(struct mail_loop *loop, mail_loop_fn *fn, void *ctx)
{
	loop->defer = mail_xgrow(loop->defer, &loop->defer_cap,
	    loop->ndefer + 1, sizeof(*loop->defer));
	loop->defer[loop->ndefer].fn = fn;
	loop->defer[loop->ndefer].ctx = ctx;
	loop->ndefer++;
}

static void
mail_loop_run_defers(struct mail_loop *loop)
{
	struct mail_loop_defer *run = loop->defer;
	size_t n = loop->ndefer, cap = loop->defer_cap;

	/* swap: new deferrals go to the (empty) other array meanwhile */
	loop->defer = loop->defer_run;
	loop->defer_cap = loop->defer_run_cap;
	loop->ndefer = 0;
	loop->defer_run = run;
	loop->defer_run_cap = cap;
	for (size_t i = 0; i < n; i++)
		run[i].fn(loop, run[i].ctx);
}

/* the loop */

uint64_t
mail_loop_now_ms(struct mail_loop *loop)
{
	return loop->now;
}

void
mail_loop_set_clock(struct mail_loop *loop, uint64_t (*now_fn)(void *ctx),
    void *ctx)
{
	loop->now_fn = now_fn;
	loop->now_ctx = ctx;
	/* a different clock may be behind: restart from it */
	loop->now = 0;
	mail_loop_update_now(loop);
}

static int
mail_loop_timeout(struct mail_loop *loop, int max_wait_ms)
{
	uint64_t left;

	/* A stop only matters to mail_loop_run(): a program that drives
	 * run_once() itself keeps blocking normally. */
	if (loop->ndefer > 0 || (loop->stop && loop->in_run))
		return 0;
	if (loop->nheap == 0)
		return max_wait_ms < 0 ? -1 : max_wait_ms;
	left = loop->heap[0]->deadline > loop->now ?
	    loop->heap[0]->deadline - loop->now : 0;
	if (max_wait_ms >= 0 && (uint64_t)max_wait_ms < left)
		return max_wait_ms;
	return left > INT_MAX ? INT_MAX : (int)left;
}

static void
mail_loop_dispatch(struct mail_loop *loop, int n)
{
	const struct epoll_event *ev;
	struct mail_loop_fd *f;
	unsigned ready;
	uint32_t gen;
	int fd;

	for (int i = 0; i < n; i++) {
		ev = &loop->events[i];
		fd = (int)(uint32_t)ev->data.u64;
		gen = (uint32_t)(ev->data.u64 >> 32);
		/* deleted (or deleted and re-added) by an earlier callback */
		if ((f = mail_loop_fd_get(loop, fd)) == NULL || f->gen != gen)
			continue;
		ready = 0;
		if ((ev->events & EPOLLIN) != 0)
			ready |= MAIL_EV_READ;
		if ((ev->events & EPOLLOUT) != 0)
			ready |= MAIL_EV_WRITE;
		/* the next read() or write() reports the error or EOF */
		if ((ev->events & (EPOLLERR | EPOLLHUP)) != 0)
			ready |= MAIL_EV_READ | MAIL_EV_WRITE;
		/* an earlier callback may have changed what fd waits for */
		ready &= f->events;
		if (ready == 0)
			continue;
		/* f may move (fds[] grows) during the call: not used after */
		f->fn(loop, fd, ready, f->ctx);
	}
}

int
mail_loop_run_once(struct mail_loop *loop, int max_wait_ms,
    struct mail_err *err)
{
	int n, ret = 0;

	mail_assert(!loop->running);
	loop->running = true;
	mail_loop_run_defers(loop);
	mail_loop_update_now(loop);
	n = epoll_wait(loop->epfd, loop->events, MAIL_LOOP_BATCH,
	    mail_loop_timeout(loop, max_wait_ms));
	if (n == -1) {
		if (errno != EINTR) {
			ret = mail_err_sys(err, errno, "epoll_wait");
			goto out;
		}
		n = 0;
	}
	mail_loop_update_now(loop);
	mail_loop_dispatch(loop, n);
	mail_loop_fire_timers(loop);
out:
	loop->running = false;
	return ret;
}

int
mail_loop_run(struct mail_loop *loop, struct mail_err *err)
{
	int ret = 0;

	loop->in_run = true;
	while (!loop->stop) {
		if ((ret = mail_loop_run_once(loop, -1, err)) < 0)
			break;
	}
	loop->stop = false;
	loop->in_run = false;
	return ret;
}

void
mail_loop_stop(struct mail_loop *loop)
{
	loop->stop = true;
}
