/*
 * mail_loop.h: the single-threaded, level-triggered epoll event loop (Linux
 * only). It waits on fds, runs one-shot timers kept in a min-heap on
 * CLOCK_MONOTONIC (or a test clock) and runs deferred callbacks before each
 * wait. See STYLE.md section 5 for why we do not use libevent.
 *
 * Callbacks may add and remove fds and timers freely, including the one
 * being dispatched. They must not call mail_loop_run_once(),
 * mail_loop_run() or mail_loop_free() on their own loop.
 */
#ifndef MAIL_LOOP_H
#define MAIL_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "mail_err.h"

struct mail_loop;			/* opaque, defined in mail_loop.c */
struct mail_timer;			/* opaque, defined in mail_loop.c */

#define MAIL_EV_READ	0x1
#define MAIL_EV_WRITE	0x2

/* An fd callback. events: what is ready (MAIL_EV_READ/WRITE), never
 * more than the fd waits for. Errors and hangups report as READ (and also
 * as WRITE while the fd waits for WRITE), so the callback's read (or
 * write) sees them. */
typedef void mail_loop_fd_fn(struct mail_loop *loop, int fd, unsigned events,
    void *ctx);
/* A timer or deferred callback. */
typedef void mail_loop_fn(struct mail_loop *loop, void *ctx);

/* Create a loop on CLOCK_MONOTONIC. Returns 0 and sets *loop_r (caller
 * owns; free with mail_loop_free()), or -1 and fills *err (epoll_create1
 * failed). */
int	mail_loop_new(struct mail_loop **loop_r, struct mail_err *err)
	    WARN_UNUSED;
/* Free the loop: frees pending timers (their handles become invalid) and
 * drops deferred callbacks without running them. Does not close the fds
 * it waited on. NULL-safe; sets *loopp = NULL. */
void	mail_loop_free(struct mail_loop **loopp);

/* Wait on fd (>= 0) for events (MAIL_EV_READ|MAIL_EV_WRITE, or 0 to
 * register it waiting for nothing) and call fn(loop, fd, ready, ctx) while
 * it is ready. The caller keeps owning fd and ctx; remove fd with
 * mail_loop_del_fd() before closing it. Returns 0, or -1 and fills *err
 * (MAIL_ERR_EXISTS if fd is already registered, MAIL_ERR_PARAM for a
 * negative fd, or the epoll_ctl failure, e.g. EPERM for a regular
 * file; with events 0 the fd reaches epoll, and is checked, only when
 * mail_loop_mod_fd() makes it wait for something). */
int	mail_loop_add_fd(struct mail_loop *loop, int fd, unsigned events,
	    mail_loop_fd_fn *fn, void *ctx, struct mail_err *err) WARN_UNUSED;
/* Change what a registered fd waits for. events 0: keep it registered,
 * wait for nothing (not even errors or hangups). Returns 0, or -1 and
 * fills *err (MAIL_ERR_NOTFOUND if fd is not registered, or the epoll_ctl
 * failure). Events already reported for the fd but not yet dispatched are
 * filtered by the new set. */
int	mail_loop_mod_fd(struct mail_loop *loop, int fd, unsigned events,
	    struct mail_err *err) WARN_UNUSED;
/* Stop waiting on fd; its callback is never called again once this
 * returns. Safe from inside any callback, also for an fd whose event is
 * pending in the same batch. Call it before close(fd). An fd that is not
 * registered is ignored. */
void	mail_loop_del_fd(struct mail_loop *loop, int fd);

/* Call fn(loop, ctx) once, at the first iteration where
 * now >= (now when added) + after_ms. Timers with equal deadlines fire in
 * the order they were added. Returns the handle (owned by the loop): it
 * stays valid until the timer's callback returns or the timer is deleted,
 * and is invalid afterwards. Never fails (aborts on OOM). */
struct mail_timer *mail_timer_add(struct mail_loop *loop, uint64_t after_ms,
	    mail_loop_fn *fn, void *ctx);
/* Cancel a pending timer and set *tp = NULL. NULL-safe (tp or *tp).
 * Callable from any callback. From inside the timer's own callback it is
 * allowed and only clears *tp (the timer has fired; this lets the
 * callback tear down the object that holds the handle). After the
 * callback has returned the handle is invalid: do not delete it then. */
void	mail_timer_del(struct mail_timer **tp);

/* Run fn(loop, ctx) once before the next wait, in the order added. A
 * callback deferred from a deferred callback runs before the wait after
 * that (the loop then does not block). Never fails. */
void	mail_loop_defer(struct mail_loop *loop, mail_loop_fn *fn, void *ctx);

/* The loop's monotonic time in ms (CLOCK_MONOTONIC or the test clock),
 * updated each iteration (before waiting and after). */
uint64_t mail_loop_now_ms(struct mail_loop *loop);
/* Tests: read the time from now_fn(ctx) (monotonic ms) instead of
 * CLOCK_MONOTONIC; now_fn NULL restores CLOCK_MONOTONIC. Set it before
 * adding timers. Waits never last longer than until the next timer as
 * this clock sees it, so tests advance the clock and call
 * mail_loop_run_once(loop, 0). */
void	mail_loop_set_clock(struct mail_loop *loop,
	    uint64_t (*now_fn)(void *ctx), void *ctx);

/* One iteration: run the deferred callbacks, wait up to
 * min(max_wait_ms (-1: no limit), time to the next timer) (not at all if
 * more callbacks were deferred, or after mail_loop_stop() inside
 * mail_loop_run()), dispatch
 * the ready fds, then the timers that are due (not those added meanwhile).
 * Returns 0, or -1 and fills *err if epoll_wait failed (EINTR is not a
 * failure). */
int	mail_loop_run_once(struct mail_loop *loop, int max_wait_ms,
	    struct mail_err *err) WARN_UNUSED;
/* Run iterations until mail_loop_stop() is called (also if it was called
 * before, e.g. from a callback of mail_loop_run_once()). Returns 0 after
 * the stop (clearing it), or -1 and fills *err as mail_loop_run_once(). */
int	mail_loop_run(struct mail_loop *loop, struct mail_err *err) WARN_UNUSED;
/* Make mail_loop_run() return after the current iteration. */
void	mail_loop_stop(struct mail_loop *loop);

/* The number of fds registered and of timers pending (tests, leak
 * checks). */
size_t	mail_loop_fd_count(struct mail_loop *loop);
size_t	mail_loop_timer_count(struct mail_loop *loop);

#endif
