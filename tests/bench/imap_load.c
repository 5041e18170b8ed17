/*
 * imap_load.c: an IMAP load generator for tests/bench/imap, one process,
 * many connections on one mail_loop (epoll).
 *
 *   imap-load --port P (--user U | --users FILE) --password PW [--host H]
 *             [--clients N] [--duration S] [--mix fetch=40,store=20,...]
 *             [--mailbox M] [--server-pid PID] [--ramp N] [--timeout S]
 *             [--seed N] [--json] [--verbose]
 *   imap-load ... --logins N        connect, LOGIN, LOGOUT, N times
 *   imap-load ... --idle N [--idle-time S] [--deliver]
 *   imap-load --self-test          the response scanner, at every split
 *
 * Three modes:
 * - load (default): each client connects, LOGINs, SELECTs and learns the
 *   mailbox's UIDs (UID SEARCH ALL); once every client is ready, all run
 *   commands drawn from the mix back to back, one in flight per client,
 *   for the duration. Only commands sent and answered inside that window
 *   are counted. "append" is an APPEND of a small message, followed by a
 *   UID STORE +FLAGS.SILENT (\Deleted) ("delete") and a UID EXPUNGE
 *   ("expunge") of that message (UIDPLUS), so mailboxes keep their size.
 * - logins: --clients connections at a time run connect, greeting, LOGIN,
 *   LOGOUT until N logins are done; the server's CPU per login.
 * - idle: N connections LOGIN, SELECT and IDLE; the server's memory (RSS
 *   and PSS per process name, from /proc/PID/smaps_rollup) before and
 *   after, per connection; then they stay idle for --idle-time seconds
 *   and, with --deliver, one more connection APPENDs a message to the
 *   first user's mailbox and we count the idlers that see the EXISTS
 *   within 1 s.
 *
 * Responses are read whole: a line that ends in {n} (or ~{n}) is followed
 * by an n-byte literal and then continues, so a literal never desyncs the
 * stream. Every tagged response is checked: OK counts as done; NO, BAD, an
 * unexpected BYE, a wrong tag, an unexpected continuation or a malformed
 * line count as protocol errors of that command. After a wrong tag or a
 * malformed line the stream cannot be trusted, so the connection is
 * dropped and (in load mode) opened again.
 *
 * Server CPU (--server-pid): the sum over the process and all its
 * descendants of utime + stime + cutime + cstime from /proc/PID/stat,
 * before and after. Children that exit are reaped by a parent in the tree
 * and move into its cutime, so the sum never loses them (Dovecot's
 * per-connection imap and imap-login processes are children of the
 * master).
 *
 * Output: "key value" lines, or with --json one JSON object with the same
 * keys (what tests/bench/imap reads). Exit 0 if the run completed without
 * protocol errors, 1 if it completed with errors (the report is printed
 * anyway) or could not run, 2 on usage errors.
 *
 * One file, longer than our usual aim: a benchmark tool that builds from a
 * single source against libmail, like the other tools in tests/.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "mail_buf.h"
#include "mail_err.h"
#include "mail_loop.h"
#include "mail_util.h"

#define EXIT_USAGE		2
#define LOAD_READ_CHUNK		(64 * 1024)
#define LOAD_LINE_MAX		(4 * 1024 * 1024)	/* one response line */
#define LOAD_LITERAL_MAX	(256 * 1024 * 1024)
#define LOAD_TICK_MS		100
#define LOAD_GRACE_MS		30000	/* in-flight commands after the end */
#define LOAD_FETCH_PARTIAL	4096	/* BODY.PEEK[]<0.4096> */
#define LOAD_SETUP_TRIES	3	/* failed setups in a row before giving up */
#define CMD_OK			(-1)	/* cmd_done(): not an error */

/* What a client's command is; also the rows of the report. */
enum load_kind {
	K_FETCH,
	K_STORE,
	K_APPEND,
	K_SEARCH,
	K_NOOP,
	K_DELETE,		/* UID STORE +FLAGS.SILENT (\Deleted) */
	K_EXPUNGE,		/* UID EXPUNGE of what it appended */
	K_LOGIN,
	K_SELECT,
	K_UIDS,			/* UID SEARCH ALL, after SELECT */
	K_IDLE,
	K_LOGOUT,
	K_CONNECT,		/* connect + greeting */
	K_COUNT,
};
#define K_MIX_COUNT	5	/* the first five are drawn from the mix */

static const char *const kind_names[K_COUNT] = {
	"fetch", "store", "append", "search", "noop", "delete", "expunge",
	"login", "select", "uids", "idle", "logout", "connect",
};

enum load_state {
	C_WAIT,			/* queued for a setup slot */
	C_CONNECTING,
	C_GREETING,
	C_LOGIN,
	C_SELECT,
	C_UIDS,
	C_READY,		/* set up, waiting for the start */
	C_RUN,			/* load mode: a command in flight or none */
	C_IDLE_START,		/* IDLE sent, waiting for "+" */
	C_IDLING,
	C_LOGOUT,
	C_DONE,
	C_FAILED,
};

enum load_mode {
	M_LOAD,
	M_LOGINS,
	M_IDLE,
};

/* Errors per command kind. */
enum load_err {
	E_NO,
	E_BAD,
	E_BYE,			/* unexpected BYE */
	E_UNEXPECTED,		/* wrong tag, stray continuation */
	E_PARSE,		/* malformed response */
	E_TIMEOUT,
	E_CONN,			/* connect failed, reset, EOF */
	E_COUNT,
};

static const char *const err_names[E_COUNT] = {
	"no", "bad", "bye", "unexpected", "parse", "timeout", "conn",
};

struct load_stats {
	uint64_t ok;
	uint64_t err[E_COUNT];
	uint32_t *lat_us;	/* latencies of counted OKs */
	size_t	 nlat, caplat;
};

struct load_user {
	char	*name;
	char	*password;
};

struct load_client {
	struct load	*load;
	unsigned	 id;
	int		 fd;
	uint32_t	 gen;		/* bumped at each close */
	enum load_state	 state;
	bool		 in_setup;	/* counted in load->setting_up */
	bool		 was_ready;	/* counted in load->ready */
	unsigned	 setup_tries;	/* consecutive failed setups */
	size_t		 user;		/* index into load->users */
	struct mail_buf	 in, out;
	size_t		 scan;		/* resume offset of the response scan */
	size_t		 line_start;	/* where the current line began */
	size_t		 lit_left;	/* literal bytes still to skip */
	bool		 want_write;
	/* the command in flight */
	enum load_kind	 kind;
	bool		 busy;
	bool		 append_wait_cont;	/* APPEND: waiting for "+" */
	struct mail_buf	 literal;	/* APPEND: the message, until "+" */
	char		 tag[16];
	uint32_t	 tagno;
	uint64_t	 sent_us;
	uint64_t	 deadline_us;	/* timeout of what it waits for */
	unsigned	 fetches;	/* untagged FETCHes seen for it */
	uint32_t	 last_appended;	/* APPENDUID of the last APPEND */
	uint32_t	 pending_uid;	/* appended, to delete and expunge */
	/* the mailbox */
	uint32_t	 exists;
	uint32_t	*uids;		/* from UID SEARCH ALL */
	size_t		 nuids, capuids;
	uint64_t	 rng;
	uint32_t	 appends;
	/* idle mode */
	uint32_t	 idle_exists;	/* EXISTS when IDLE started */
	uint64_t	 saw_new_us;	/* first larger EXISTS while idling */
	/* logins mode */
	uint64_t	 cycle_start_us;
};

struct mem_group {
	char	 comm[32];
	unsigned procs;
	uint64_t rss_kb, pss_kb;
};

struct mem_snapshot {
	struct mem_group *g;
	size_t	 n, cap;
};

struct load {
	/* options */
	enum load_mode	 mode;
	const char	*host, *port, *mailbox;
	struct load_user *users;
	size_t		 nusers;
	unsigned	 nclients;
	double		 duration;
	unsigned	 mix[K_MIX_COUNT];
	unsigned	 mix_total;
	unsigned	 logins;
	unsigned	 idle_n;
	double		 idle_time;
	bool		 deliver;
	pid_t		 server_pid;
	unsigned	 ramp;
	uint64_t	 timeout_us;
	uint64_t	 seed;
	bool		 json;
	bool		 verbose;
	/* runtime */
	struct mail_loop *loop;
	struct addrinfo	*ai;
	struct load_client **clients;
	unsigned	 nall;		/* clients + the deliverer */
	unsigned	 next_wait;	/* next C_WAIT client to start */
	unsigned	 setting_up;	/* clients between connect and ready */
	unsigned	 ready, failed, finished;
	bool		 started, ending;
	uint64_t	 t0_us, t_end_us;
	uint64_t	 cpu0, cpu1;	/* server ticks */
	struct rusage	 ru0, ru1;	/* ours */
	struct load_stats stats[K_COUNT];
	struct load_stats cycle;	/* logins: connect..LOGOUT */
	unsigned	 logins_started, logins_done;
	uint64_t	 reconnects;
	/* idle mode */
	struct mem_snapshot mem0, mem1;
	uint64_t	 t_setup_done_us;
	uint64_t	 idle_cpu0, idle_cpu1;
	unsigned	 idlers_lost;
	struct load_client *deliverer;
	uint64_t	 deliver_sent_us;
	bool		 deliver_ok, deliver_done;
	unsigned	 idle_expected, idle_seen_1s, idle_seen;
	struct load_stats idle_lat;
	bool		 fatal_error;
	char		 fatal_msg[256];
};

static void client_start(struct load *l, struct load_client *c);
static void client_fail(struct load_client *c, enum load_err why,
    const char *what);
static void client_next(struct load_client *c);
static void deliverer_step(struct load_client *c, bool ok);
static void load_check_phase(struct load *l);
static void load_fatal(struct load *l, const char *fmt, ...)
    PRINTF_LIKE(2, 3);

/* ---- small helpers ---- */

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* xorshift64*: fast, and good enough to pick messages. */
static uint64_t
rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static uint32_t
rng_below(uint64_t *s, uint32_t n)
{
	return n == 0 ? 0 : (uint32_t)((rng_next(s) >> 32) % n);
}

static void
stats_add_lat(struct load_stats *st, uint64_t us)
{
	if (st->nlat == st->caplat)
		st->lat_us = mail_xgrow(st->lat_us, &st->caplat,
		    st->nlat + 1, sizeof(*st->lat_us));
	st->lat_us[st->nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Percentile q (0..100) in ms of the sorted latencies; 0 if none. */
static double
stats_pct(const struct load_stats *st, double q)
{
	size_t i;

	if (st->nlat == 0)
		return 0;
	i = (size_t)(q / 100.0 * (double)(st->nlat - 1) + 0.5);
	return st->lat_us[i] / 1000.0;
}

static uint64_t
stats_errors(const struct load_stats *st)
{
	uint64_t n = 0;

	for (int e = 0; e < E_COUNT; e++)
		n += st->err[e];
	return n;
}

/* Case-insensitive: does [p, end) start with word, followed by a space,
 * '[' or the end? */
static bool
word_is(const uint8_t *p, const uint8_t *end, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(end - p) < n || strncasecmp((const char *)p, word, n) != 0)
		return false;
	return p + n == end || p[n] == ' ' || p[n] == '\r' || p[n] == '[';
}

/* Parse a decimal number at *pp; advance past it. Returns false if there
 * is none or it does not fit 32 bits. */
static bool
parse_u32(const uint8_t **pp, const uint8_t *end, uint32_t *v_r)
{
	const uint8_t *p = *pp;
	uint64_t v = 0;

	if (p == end || !isdigit(*p))
		return false;
	while (p < end && isdigit(*p)) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return false;
		p++;
	}
	*pp = p;
	*v_r = (uint32_t)v;
	return true;
}

/* ---- /proc: the server's CPU and memory ---- */

struct proc_ent {
	pid_t	 pid, ppid;
	char	 comm[32];
	uint64_t ticks;		/* utime + stime + cutime + cstime */
	bool	 in_tree;
};

static int
cmp_proc(const void *a, const void *b)
{
	const struct proc_ent *x = a, *y = b;

	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static struct proc_ent *
proc_find(struct proc_ent *v, size_t n, pid_t pid)
{
	struct proc_ent key;

	key.pid = pid;
	return bsearch(&key, v, n, sizeof(*v), cmp_proc);
}

/* Read /proc/PID/stat. The comm field is in parentheses and may hold
 * spaces and ')', so fields are counted from the last ')'. */
static bool
proc_read_stat(pid_t pid, struct proc_ent *e)
{
	char path[64], buf[1024], *p, *close_paren;
	unsigned long long ut, st, cut, cst;
	int fd, ppid;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	if ((p = strchr(buf, '(')) == NULL ||
	    (close_paren = strrchr(buf, ')')) == NULL || close_paren < p)
		return false;
	memset(e, 0, sizeof(*e));
	e->pid = pid;
	snprintf(e->comm, sizeof(e->comm), "%.*s",
	    (int)(close_paren - p - 1), p + 1);
	/* fields 3..: state ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime stime cutime cstime */
	if (sscanf(close_paren + 1,
	    " %*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu",
	    &ppid, &ut, &st, &cut, &cst) != 5)
		return false;
	e->ppid = ppid;
	e->ticks = ut + st + cut + cst;
	return true;
}

/* Every process, sorted by pid, with the tree under root marked. Returns
 * the array (caller frees) and sets *n_r. */
static struct proc_ent *
proc_tree(pid_t root, size_t *n_r)
{
	struct proc_ent *v = NULL, *parent;
	size_t n = 0, cap = 0;
	struct dirent *de;
	bool changed;
	DIR *d;
	char *endp;
	long pid;

	if ((d = opendir("/proc")) == NULL) {
		*n_r = 0;
		return NULL;
	}
	while ((de = readdir(d)) != NULL) {
		pid = strtol(de->d_name, &endp, 10);
		if (*endp != '\0' || pid <= 0)
			continue;
		if (n == cap)
			v = mail_xgrow(v, &cap, n + 1, sizeof(*v));
		if (proc_read_stat((pid_t)pid, &v[n]))
			n++;
	}
	closedir(d);
	mail_qsort(v, n, sizeof(*v), cmp_proc);
	/* descendants: a few passes (the tree is shallow) */
	do {
		changed = false;
		for (size_t i = 0; i < n; i++) {
			if (v[i].in_tree)
				continue;
			if (v[i].pid == root) {
				v[i].in_tree = changed = true;
				continue;
			}
			parent = proc_find(v, n, v[i].ppid);
			if (parent != NULL && parent->in_tree)
				v[i].in_tree = changed = true;
		}
	} while (changed);
	*n_r = n;
	return v;
}

/* CPU ticks of the server's process tree; 0 without --server-pid. */
static uint64_t
server_cpu_ticks(const struct load *l)
{
	struct proc_ent *v;
	uint64_t t = 0;
	size_t n;

	if (l->server_pid <= 0)
		return 0;
	v = proc_tree(l->server_pid, &n);
	for (size_t i = 0; i < n; i++)
		if (v[i].in_tree)
			t += v[i].ticks;
	free(v);
	return t;
}

static void
mem_add(struct mem_snapshot *m, const char *comm, uint64_t rss,
    uint64_t pss)
{
	struct mem_group *g = NULL;

	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->g[i].comm, comm) == 0)
			g = &m->g[i];
	if (g == NULL) {
		if (m->n == m->cap)
			m->g = mail_xgrow(m->g, &m->cap, m->n + 1,
			    sizeof(*m->g));
		g = &m->g[m->n++];
		memset(g, 0, sizeof(*g));
		snprintf(g->comm, sizeof(g->comm), "%s", comm);
	}
	g->procs++;
	g->rss_kb += rss;
	g->pss_kb += pss;
}

/* RSS and PSS (kB) of every process of the server's tree, summed per
 * process name. Processes that vanish meanwhile are skipped. */
static void
mem_snapshot(const struct load *l, struct mem_snapshot *m)
{
	unsigned long long kb;
	uint64_t rss, pss;
	struct proc_ent *v;
	char path[64], line[256];
	size_t n;
	FILE *f;

	m->n = 0;
	if (l->server_pid <= 0)
		return;
	v = proc_tree(l->server_pid, &n);
	for (size_t i = 0; i < n; i++) {
		if (!v[i].in_tree)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/smaps_rollup",
		    (int)v[i].pid);
		if ((f = fopen(path, "re")) == NULL)
			continue;
		rss = pss = 0;
		while (fgets(line, sizeof(line), f) != NULL) {
			if (sscanf(line, "Rss: %llu kB", &kb) == 1)
				rss = kb;
			else if (sscanf(line, "Pss: %llu kB", &kb) == 1)
				pss = kb;
		}
		fclose(f);
		mem_add(m, v[i].comm, rss, pss);
	}
	free(v);
}

/* ---- connection I/O ---- */

/* Close the socket and forget the stream; the client object stays. */
static void
client_close(struct load_client *c)
{
	if (c->fd == -1)
		return;
	mail_loop_del_fd(c->load->loop, c->fd);
	close(c->fd);
	c->fd = -1;
	c->gen++;
	c->busy = false;
	c->append_wait_cont = false;
	c->scan = c->line_start = c->lit_left = 0;
	/* idle connections should cost us little: free, not reset */
	mail_buf_free(&c->in);
	mail_buf_free(&c->out);
	mail_buf_free(&c->literal);
}

static void
load_ramp(struct load *l)
{
	while (l->next_wait < l->nclients && l->setting_up < l->ramp)
		client_start(l, l->clients[l->next_wait++]);
}

static void
client_leave_setup(struct load_client *c)
{
	if (c->in_setup) {
		c->in_setup = false;
		c->load->setting_up--;
	}
}

/* The client is finished for this run (it may be reconnected by nobody). */
static void
client_finish(struct load_client *c, enum load_state st)
{
	struct load *l = c->load;

	client_close(c);
	client_leave_setup(c);
	if (c->state != C_DONE && c->state != C_FAILED) {
		if (st == C_FAILED)
			l->failed++;
		else
			l->finished++;
	}
	c->state = st;
	load_ramp(l);
	load_check_phase(l);
}

static void
client_flush(struct load_client *c)
{
	struct mail_err err;
	ssize_t w;

	while (c->out.len > 0) {
		w = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (w < 0) {
			client_fail(c, E_CONN, "send");
			return;
		}
		mail_buf_consume(&c->out, (size_t)w);
	}
	if (c->out.len == 0 && c->out.cap > LOAD_READ_CHUNK)
		mail_buf_free(&c->out);
	if ((c->out.len > 0) != c->want_write) {
		c->want_write = c->out.len > 0;
		if (mail_loop_mod_fd(c->load->loop, c->fd, MAIL_EV_READ |
		    (c->want_write ? MAIL_EV_WRITE : 0), &err) < 0)
			client_fail(c, E_CONN, err.msg);
	}
}

/* Queue a command line "TAG text\r\n" and note it as in flight. */
static void
client_cmd(struct load_client *c, enum load_kind kind, const char *fmt, ...)
    PRINTF_LIKE(3, 4);

static void
client_cmd(struct load_client *c, enum load_kind kind, const char *fmt, ...)
{
	va_list ap;
	char line[512];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	snprintf(c->tag, sizeof(c->tag), "a%" PRIu32, ++c->tagno);
	mail_buf_printf(&c->out, "%s %s\r\n", c->tag, line);
	explicit_bzero(line, sizeof(line));	/* may hold a password */
	c->kind = kind;
	c->busy = true;
	c->fetches = 0;
	c->sent_us = now_us();
	c->deadline_us = c->sent_us + c->load->timeout_us;
	client_flush(c);
}

/* Append s as an IMAP quoted string. */
static void
buf_quoted(struct mail_buf *b, const char *s)
{
	mail_buf_append(b, "\"", 1);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			mail_buf_append(b, "\\", 1);
		mail_buf_append(b, s, 1);
	}
	mail_buf_append(b, "\"", 1);
}

static void
client_send_login(struct load_client *c)
{
	const struct load_user *u = &c->load->users[c->user];
	struct mail_buf q = MAIL_BUF_INIT;

	mail_buf_append_str(&q, "LOGIN ");
	buf_quoted(&q, u->name);
	mail_buf_append(&q, " ", 1);
	buf_quoted(&q, u->password);
	c->state = C_LOGIN;
	client_cmd(c, K_LOGIN, "%s", (const char *)q.data);
	explicit_bzero(q.data, q.len);
	mail_buf_free(&q);
}

static void
client_send_select(struct load_client *c)
{
	struct mail_buf q = MAIL_BUF_INIT;

	mail_buf_append_str(&q, "SELECT ");
	buf_quoted(&q, c->load->mailbox);
	c->state = C_SELECT;
	client_cmd(c, K_SELECT, "%s", (const char *)q.data);
	mail_buf_free(&q);
}

/* APPEND of a small message (about 1 KB, CRLF line ends), unique so that
 * a store that deduplicates bodies stores each one. The command line
 * announces a synchronizing literal; the message goes out on "+"
 * (client_on_cont). */
static void
client_append(struct load_client *c, enum load_kind kind)
{
	const struct load_user *u = &c->load->users[c->user];
	struct mail_buf q = MAIL_BUF_INIT;

	c->appends++;
	mail_buf_reset(&c->literal);
	mail_buf_printf(&c->literal,
	    "From: Load Generator <load@example.org>\r\n"
	    "To: %s <%s@example.org>\r\n"
	    "Subject: imap-load client %u message %" PRIu32 "\r\n"
	    "Date: Thu, 01 Jan 2026 12:00:00 +0000\r\n"
	    "Message-ID: <imap-load.%u.%" PRIu32 ".%016" PRIx64
	    "@example.org>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n"
	    "\r\n", u->name, u->name, c->id, c->appends, c->id, c->appends,
	    rng_next(&c->rng));
	for (int i = 0; i < 12; i++)
		mail_buf_printf(&c->literal, "Line %02d of a small message sent "
		    "by the IMAP load generator to measure APPEND.\r\n", i);
	mail_buf_append_str(&q, "APPEND ");
	buf_quoted(&q, c->load->mailbox);
	c->append_wait_cont = true;
	client_cmd(c, kind, "%s (\\Seen) {%zu}", (const char *)q.data,
	    c->literal.len);
	mail_buf_free(&q);
}

/* ---- the command mix ---- */

/* SEARCH arguments: names and domains that occur in mkcorpus's senders,
 * and dates inside its three years (2023-2025). */
static const char *const search_from[] = {
	"Patel", "yahoo.com", "kernel.org", "Murphy", "Schneider",
};
static const char *const search_since[] = {
	"1-Jan-2025", "1-Jul-2025", "1-Oct-2025",
};

static enum load_kind
mix_pick(struct load_client *c)
{
	struct load *l = c->load;
	uint32_t r = rng_below(&c->rng, l->mix_total);

	for (int k = 0; k < K_MIX_COUNT; k++) {
		if (r < l->mix[k])
			return (enum load_kind)k;
		r -= l->mix[k];
	}
	return K_NOOP;
}

/* Send the next command of the run, or finish when the window is over. */
static void
client_next(struct load_client *c)
{
	enum load_kind k;
	uint32_t seq, uid;

	if (c->load->ending) {
		client_finish(c, C_DONE);
		return;
	}
	if (c->last_appended != 0) {
		/* the clean-up of an APPEND: mark it, then expunge it */
		c->pending_uid = c->last_appended;
		c->last_appended = 0;
		client_cmd(c, K_DELETE, "UID STORE %" PRIu32
		    " +FLAGS.SILENT (\\Deleted)", c->pending_uid);
		return;
	}
	if (c->pending_uid != 0) {
		uid = c->pending_uid;
		c->pending_uid = 0;
		client_cmd(c, K_EXPUNGE, "UID EXPUNGE %" PRIu32, uid);
		return;
	}
	k = mix_pick(c);
	if ((k == K_FETCH && c->exists == 0) ||
	    (k == K_STORE && c->nuids == 0))
		k = K_NOOP;
	switch (k) {
	case K_FETCH:
		seq = 1 + rng_below(&c->rng, c->exists);
		client_cmd(c, K_FETCH, "FETCH %" PRIu32
		    " (UID FLAGS ENVELOPE BODY.PEEK[]<0.%d>)", seq,
		    LOAD_FETCH_PARTIAL);
		break;
	case K_STORE:
		uid = c->uids[rng_below(&c->rng, (uint32_t)c->nuids)];
		client_cmd(c, K_STORE, "UID STORE %" PRIu32
		    " %cFLAGS (\\Flagged)", uid,
		    (rng_next(&c->rng) & 1) != 0 ? '+' : '-');
		break;
	case K_APPEND:
		client_append(c, K_APPEND);
		break;
	case K_SEARCH:
		switch (rng_below(&c->rng, 3)) {
		case 0:
			client_cmd(c, K_SEARCH, "SEARCH UNSEEN");
			break;
		case 1:
			client_cmd(c, K_SEARCH, "SEARCH FROM \"%s\"",
			    search_from[rng_below(&c->rng,
			    N_ELEMENTS(search_from))]);
			break;
		default:
			client_cmd(c, K_SEARCH, "SEARCH SINCE %s",
			    search_since[rng_below(&c->rng,
			    N_ELEMENTS(search_since))]);
			break;
		}
		break;
	default:
		client_cmd(c, K_NOOP, "NOOP");
		break;
	}
}

/* ---- responses ---- */

/* Find the end of the next complete response in c->in: its lines, each
 * literal {n} announced at a line's end, and the line after it. Returns 1
 * and sets *len_r, 0 if more bytes are needed, -1 if a line or literal
 * is over the limits. Resumes where it stopped (c->scan, c->lit_left), so
 * the total work stays linear in the bytes received. */
static int
resp_next(struct load_client *c, size_t *len_r)
{
	const uint8_t *d = c->in.data, *nl, *q;
	uint64_t n, mul;
	size_t take;

	while (c->scan < c->in.len) {
		if (c->lit_left > 0) {
			take = c->in.len - c->scan;
			if (take > c->lit_left)
				take = c->lit_left;
			c->scan += take;
			c->lit_left -= take;
			c->line_start = c->scan;
			continue;
		}
		nl = memchr(d + c->scan, '\n', c->in.len - c->scan);
		if (nl == NULL) {
			c->scan = c->in.len;
			return c->in.len - c->line_start > LOAD_LINE_MAX ?
			    -1 : 0;
		}
		c->scan = (size_t)(nl - d) + 1;
		/* "{digits}" or "{digits+}" right before CRLF: a literal */
		q = nl;
		if (q > d && q[-1] == '\r')
			q--;
		if (q > d && q[-1] == '}') {
			q--;
			if (q > d && q[-1] == '+')
				q--;
			n = 0;
			mul = 1;
			while (q > d && isdigit(q[-1]) && mul <= 1000000000) {
				n += (uint64_t)(q[-1] - '0') * mul;
				mul *= 10;
				q--;
			}
			if (mul > 1 && q > d && q[-1] == '{') {
				if (n > LOAD_LITERAL_MAX)
					return -1;
				c->lit_left = (size_t)n;
				c->line_start = c->scan;
				continue;
			}
		}
		*len_r = c->scan;
		c->scan = c->line_start = 0;
		return 1;
	}
	return 0;
}

/* Count the end of the command in flight: OK (with its latency, in load
 * mode only inside the window) or an error. */
static void
cmd_done(struct load_client *c, int err)
{
	struct load *l = c->load;
	struct load_stats *st = &l->stats[c->kind];
	uint64_t t = now_us();

	c->busy = false;
	if (err != CMD_OK) {
		st->err[err]++;
		return;
	}
	if (l->mode != M_LOAD || (l->started && c->sent_us >= l->t0_us &&
	    !l->ending)) {
		st->ok++;
		stats_add_lat(st, t - c->sent_us);
	}
}

/* Count an error against what the client was doing. */
static void
client_count_err(struct load_client *c, enum load_err why, const char *what)
{
	struct load *l = c->load;

	if (c->busy)
		cmd_done(c, (int)why);
	else
		l->stats[c->state == C_IDLING ? K_IDLE : c->kind].err[why]++;
	if (what != NULL && l->verbose)
		fprintf(stderr, "imap-load: client %u: %s\n", c->id, what);
}

/* Between connect and ready (idle mode: until IDLE is accepted). */
static bool
client_setting_up(const struct load_client *c)
{
	return (c->state >= C_CONNECTING && c->state < C_READY) ||
	    c->state == C_IDLE_START;
}

/* A client whose stream failed (an error is counted). What next depends
 * on the mode: in load mode it connects again and goes on, in logins mode
 * the next cycle starts, an idler is lost. A client that fails its setup
 * LOAD_SETUP_TRIES times in a row gives up. */
static void
client_fail(struct load_client *c, enum load_err why, const char *what)
{
	struct load *l = c->load;
	bool setup = client_setting_up(c);

	client_count_err(c, why, what);
	client_close(c);
	if (c == l->deliverer) {
		deliverer_step(c, false);
		return;
	}
	if (setup && ++c->setup_tries >= LOAD_SETUP_TRIES) {
		client_finish(c, C_FAILED);
		return;
	}
	switch (l->mode) {
	case M_LOAD:
		if (l->ending) {
			client_finish(c, C_DONE);
		} else {
			l->reconnects++;
			client_start(l, c);
		}
		break;
	case M_LOGINS:
		if (l->logins_started < l->logins) {
			l->logins_started++;
			client_start(l, c);
		} else {
			client_finish(c, C_DONE);
		}
		break;
	case M_IDLE:
		if (c->state == C_IDLING) {
			l->idlers_lost++;
			client_finish(c, C_DONE);
		} else if (setup) {
			l->reconnects++;
			client_start(l, c);
		} else {
			client_finish(c, C_DONE);
		}
		break;
	}
}

/* A refusal that retrying will not change (LOGIN or SELECT said NO). */
static void
client_give_up(struct load_client *c, const char *what)
{
	if (c->load->verbose)
		fprintf(stderr, "imap-load: client %u: %s\n", c->id, what);
	if (c == c->load->deliverer) {
		client_close(c);
		deliverer_step(c, false);
		return;
	}
	client_finish(c, C_FAILED);
}

/* What to do once a client is set up (logged in, selected, ...). */
static void
client_setup_done(struct load_client *c)
{
	struct load *l = c->load;

	c->setup_tries = 0;
	client_leave_setup(c);
	if (!c->was_ready) {
		c->was_ready = true;
		l->ready++;
	}
	if (l->mode == M_LOAD) {
		c->state = l->started ? C_RUN : C_READY;
		if (l->started)
			client_next(c);
	}
	load_ramp(l);
	load_check_phase(l);
}

/* The numbers of "[APPENDUID uidvalidity uid]" in a tagged OK. */
static uint32_t
appenduid(const uint8_t *p, const uint8_t *end)
{
	const uint8_t *s;
	uint32_t v, u;

	s = memmem(p, (size_t)(end - p), "[APPENDUID ", 11);
	if (s == NULL)
		return 0;
	s += 11;
	if (!parse_u32(&s, end, &v) || s == end || *s++ != ' ' ||
	    !parse_u32(&s, end, &u))
		return 0;
	return u;
}

/* A tagged response for the command in flight; p points at its status. */
static void
client_on_tagged(struct load_client *c, const uint8_t *p, const uint8_t *end)
{
	struct load *l = c->load;
	int err;

	if (word_is(p, end, "OK"))
		err = CMD_OK;
	else if (word_is(p, end, "NO"))
		err = E_NO;
	else if (word_is(p, end, "BAD"))
		err = E_BAD;
	else {
		client_fail(c, E_PARSE, "tagged response without a status");
		return;
	}
	/* a FETCH that returned no data is as good as a failure */
	if (err == CMD_OK && c->kind == K_FETCH && c->fetches == 0)
		err = E_UNEXPECTED;
	if (c->kind == K_APPEND && err == CMD_OK)
		c->last_appended = appenduid(p, end);
	c->append_wait_cont = false;
	cmd_done(c, err);
	if (c == l->deliverer) {
		deliverer_step(c, err == CMD_OK);
		return;
	}
	switch (c->state) {
	case C_LOGIN:
		if (err != CMD_OK)
			client_give_up(c, "LOGIN failed");
		else if (l->mode == M_LOGINS) {
			c->setup_tries = 0;
			c->state = C_LOGOUT;
			client_cmd(c, K_LOGOUT, "LOGOUT");
		} else
			client_send_select(c);
		break;
	case C_SELECT:
		if (err != CMD_OK)
			client_give_up(c, "SELECT failed");
		else if (l->mode == M_IDLE) {
			c->idle_exists = c->exists;
			c->state = C_IDLE_START;
			client_cmd(c, K_IDLE, "IDLE");
		} else {
			c->nuids = 0;
			c->state = C_UIDS;
			client_cmd(c, K_UIDS, "UID SEARCH ALL");
		}
		break;
	case C_UIDS:
		if (err != CMD_OK)
			client_give_up(c, "UID SEARCH ALL failed");
		else
			client_setup_done(c);
		break;
	case C_LOGOUT:
		/* logins mode: one cycle done */
		stats_add_lat(&l->cycle, now_us() - c->cycle_start_us);
		l->logins_done++;
		client_close(c);
		if (l->logins_started < l->logins) {
			l->logins_started++;
			client_start(l, c);
		} else {
			client_finish(c, C_DONE);
		}
		break;
	case C_RUN:
		client_next(c);
		break;
	default:
		client_fail(c, E_UNEXPECTED,
		    "tagged response in the wrong state");
		break;
	}
}

/* An untagged response; p points after "* ". */
static void
client_on_untagged(struct load_client *c, const uint8_t *p,
    const uint8_t *end)
{
	struct load *l = c->load;
	uint32_t n, v;

	if (word_is(p, end, "BYE")) {
		/* expected after LOGOUT; otherwise the server gave up on us */
		if (c->state != C_LOGOUT)
			client_fail(c, E_BYE, "unexpected BYE");
		return;
	}
	if (c->state == C_UIDS && word_is(p, end, "SEARCH")) {
		p += 6;
		while (p < end && *p == ' ') {
			p++;
			if (!parse_u32(&p, end, &v))
				break;
			if (c->nuids == c->capuids)
				c->uids = mail_xgrow(c->uids, &c->capuids,
				    c->nuids + 1, sizeof(*c->uids));
			c->uids[c->nuids++] = v;
		}
		return;
	}
	if (!parse_u32(&p, end, &n) || p == end || *p != ' ')
		return;		/* OK, FLAGS, CAPABILITY, SEARCH, ... */
	p++;
	if (word_is(p, end, "EXISTS")) {
		c->exists = n;
		if (c->state == C_IDLING && n > c->idle_exists &&
		    c->saw_new_us == 0 && l->deliver_sent_us != 0)
			c->saw_new_us = now_us();
	} else if (word_is(p, end, "EXPUNGE")) {
		if (c->exists > 0)
			c->exists--;
		if (c->state == C_IDLING)
			c->idle_exists = c->exists;
	} else if (word_is(p, end, "FETCH")) {
		c->fetches++;
	}
}

/* A continuation request "+ ...". */
static void
client_on_cont(struct load_client *c)
{
	struct load *l = c->load;

	if (c->busy && c->append_wait_cont) {
		c->append_wait_cont = false;
		mail_buf_append(&c->out, c->literal.data, c->literal.len);
		mail_buf_append(&c->out, "\r\n", 2);
		mail_buf_free(&c->literal);
		if (c == l->deliverer)
			l->deliver_sent_us = now_us();
		client_flush(c);
		return;
	}
	if (c->busy && c->state == C_IDLE_START) {
		cmd_done(c, CMD_OK);
		c->state = C_IDLING;
		c->deadline_us = 0;
		client_setup_done(c);
		return;
	}
	client_fail(c, E_UNEXPECTED, "unexpected continuation request");
}

/* One complete response of len bytes at the front of c->in. Returns false
 * if the handlers closed the stream (c->in is then gone). */
static bool
client_on_response(struct load_client *c, size_t len)
{
	const uint8_t *p = c->in.data, *end, *sp;
	uint32_t gen = c->gen;
	size_t taglen;

	/* the first line is what identifies the response */
	end = memchr(p, '\n', len);
	if (end == NULL || end == p || end[-1] != '\r') {
		client_fail(c, E_PARSE, "response line without CRLF");
		return false;
	}
	end--;
	if (c->state == C_GREETING) {
		if (end - p >= 4 && memcmp(p, "* OK", 4) == 0) {
			cmd_done(c, CMD_OK);
			if (c == c->load->deliverer)
				deliverer_step(c, true);
			else
				client_send_login(c);
		} else {
			client_fail(c, E_UNEXPECTED, "bad greeting");
		}
	} else if (end - p >= 2 && p[0] == '*' && p[1] == ' ') {
		client_on_untagged(c, p + 2, end);
	} else if (p[0] == '+') {
		client_on_cont(c);
	} else {
		sp = memchr(p, ' ', (size_t)(end - p));
		taglen = strlen(c->tag);
		if (!c->busy || sp == NULL || (size_t)(sp - p) != taglen ||
		    memcmp(p, c->tag, taglen) != 0)
			client_fail(c, E_UNEXPECTED, "unexpected tag");
		else
			client_on_tagged(c, sp + 1, end);
	}
	if (c->gen != gen)
		return false;
	mail_buf_consume(&c->in, len);
	return true;
}

static void
client_on_io(struct mail_loop *loop, int fd, unsigned events, void *ctx)
{
	static uint8_t rbuf[LOAD_READ_CHUNK];
	struct load_client *c = ctx;
	struct mail_err err;
	socklen_t slen;
	size_t len;
	ssize_t n;
	int soerr, r;

	(void)loop;
	(void)fd;
	if (c->state == C_CONNECTING) {
		soerr = 0;
		slen = sizeof(soerr);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr,
		    &slen) < 0 || soerr != 0) {
			client_fail(c, E_CONN, "connect failed");
			return;
		}
		c->state = C_GREETING;
		c->want_write = false;
		if (mail_loop_mod_fd(c->load->loop, c->fd, MAIL_EV_READ,
		    &err) < 0)
			client_fail(c, E_CONN, err.msg);
		return;
	}
	if ((events & MAIL_EV_WRITE) != 0 && c->out.len > 0) {
		client_flush(c);
		if (c->fd == -1)
			return;
	}
	if ((events & MAIL_EV_READ) == 0)
		return;
	n = recv(c->fd, rbuf, sizeof(rbuf), 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_fail(c, E_CONN, n == 0 ? "connection closed by the "
		    "server" : "recv failed");
		return;
	}
	mail_buf_append(&c->in, rbuf, (size_t)n);
	while ((r = resp_next(c, &len)) != 0) {
		if (r < 0) {
			client_fail(c, E_PARSE, "response over the limits");
			return;
		}
		if (!client_on_response(c, len))
			return;
	}
	if (c->in.len == 0 && c->in.cap > LOAD_READ_CHUNK)
		mail_buf_free(&c->in);
}

/* Open the connection (non-blocking); the greeting ends the "connect"
 * command. */
static void
client_start(struct load *l, struct load_client *c)
{
	struct mail_err err;
	int one = 1;

	if (!c->in_setup && c != l->deliverer && l->mode != M_LOGINS) {
		c->in_setup = true;
		l->setting_up++;
	}
	c->state = C_CONNECTING;
	c->kind = K_CONNECT;
	c->tag[0] = '\0';
	c->sent_us = c->cycle_start_us = now_us();
	c->deadline_us = c->sent_us + l->timeout_us;
	c->busy = true;
	c->exists = 0;
	c->last_appended = c->pending_uid = 0;
	c->want_write = true;
	c->fd = socket(l->ai->ai_family, l->ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, l->ai->ai_protocol);
	if (c->fd == -1) {
		load_fatal(l, "socket: %s", strerror(errno));
		return;
	}
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (mail_loop_add_fd(l->loop, c->fd, MAIL_EV_WRITE, client_on_io, c,
	    &err) < 0) {
		close(c->fd);
		c->fd = -1;
		load_fatal(l, "%s", err.msg);
		return;
	}
	if (connect(c->fd, l->ai->ai_addr, l->ai->ai_addrlen) < 0 &&
	    errno != EINPROGRESS)
		client_fail(c, E_CONN, "connect failed");
}

/* ---- the deliverer (idle mode) ---- */

static void
deliver_cleanup(struct mail_loop *loop, void *ctx)
{
	struct load *l = ctx;
	struct load_client *d = l->deliverer;

	(void)loop;
	if (d->fd == -1 || d->last_appended == 0) {
		l->deliver_done = true;
		load_check_phase(l);
		return;
	}
	/* the message goes away again, so that runs can repeat */
	d->pending_uid = d->last_appended;
	d->last_appended = 0;
	client_cmd(d, K_DELETE, "UID STORE %" PRIu32
	    " +FLAGS.SILENT (\\Deleted)", d->pending_uid);
}

/* Drive the deliverer after each step: greeting, LOGIN, SELECT, APPEND,
 * (wait), STORE \Deleted, UID EXPUNGE, LOGOUT. */
static void
deliverer_step(struct load_client *c, bool ok)
{
	struct load *l = c->load;

	if (!ok) {
		client_close(c);
		c->state = C_FAILED;
		l->deliver_done = true;
		load_check_phase(l);
		return;
	}
	switch (c->kind) {
	case K_CONNECT:
		client_send_login(c);
		break;
	case K_LOGIN:
		client_send_select(c);
		break;
	case K_SELECT:
		c->state = C_RUN;
		client_append(c, K_APPEND);
		break;
	case K_APPEND:
		l->deliver_ok = true;
		/* the idlers' 1 s window, and a second more */
		mail_timer_add(l->loop, 2000, deliver_cleanup, l);
		break;
	case K_DELETE:
		client_cmd(c, K_EXPUNGE, "UID EXPUNGE %" PRIu32,
		    c->pending_uid);
		c->pending_uid = 0;
		break;
	case K_EXPUNGE:
		c->state = C_LOGOUT;
		client_cmd(c, K_LOGOUT, "LOGOUT");
		break;
	default:
		client_close(c);
		c->state = C_DONE;
		l->deliver_done = true;
		load_check_phase(l);
		break;
	}
}

/* ---- phases ---- */

static void
load_fatal(struct load *l, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(l->fatal_msg, sizeof(l->fatal_msg), fmt, ap);
	va_end(ap);
	l->fatal_error = true;
	mail_loop_stop(l->loop);
}

static void
load_stop(struct mail_loop *loop, void *ctx)
{
	struct load *l = ctx;

	(void)loop;
	mail_loop_stop(l->loop);
}

/* Load mode: the measured window is over. Idle clients stop at once, busy
 * ones after their answer (not counted). */
static void
load_window_end(struct mail_loop *loop, void *ctx)
{
	struct load *l = ctx;
	struct load_client *c;

	(void)loop;
	l->t_end_us = now_us();
	l->cpu1 = server_cpu_ticks(l);
	getrusage(RUSAGE_SELF, &l->ru1);
	l->ending = true;
	for (unsigned i = 0; i < l->nclients; i++) {
		c = l->clients[i];
		if (c->state == C_DONE || c->state == C_FAILED)
			continue;
		if (c->state != C_RUN || !c->busy)
			client_finish(c, C_DONE);
	}
	mail_timer_add(l->loop, LOAD_GRACE_MS, load_stop, l);
	load_check_phase(l);
}

/* Idle mode: the idle time is over; deliver, or stop. */
static void
idle_hold_end(struct mail_loop *loop, void *ctx)
{
	struct load *l = ctx;

	(void)loop;
	l->idle_cpu1 = server_cpu_ticks(l);
	l->t_end_us = now_us();
	if (l->deliverer == NULL) {
		mail_loop_stop(l->loop);
		return;
	}
	for (unsigned i = 0; i < l->nclients; i++)
		if (l->clients[i]->state == C_IDLING &&
		    l->clients[i]->user == 0)
			l->idle_expected++;
	client_start(l, l->deliverer);
}

/* Idle mode: all are idling and the server settled: read its memory. */
static void
idle_measure(struct mail_loop *loop, void *ctx)
{
	struct load *l = ctx;

	(void)loop;
	mem_snapshot(l, &l->mem1);
	l->idle_cpu0 = server_cpu_ticks(l);
	mail_timer_add(l->loop, (uint64_t)(l->idle_time * 1000),
	    idle_hold_end, l);
}

/* Called after any progress: start or end a phase. */
static void
load_check_phase(struct load *l)
{
	unsigned i;

	switch (l->mode) {
	case M_LOAD:
		if (!l->started && l->next_wait >= l->nclients &&
		    l->setting_up == 0) {
			if (l->ready == 0) {
				mail_loop_stop(l->loop);
				return;
			}
			l->started = true;
			l->t0_us = now_us();
			l->cpu0 = server_cpu_ticks(l);
			getrusage(RUSAGE_SELF, &l->ru0);
			mail_timer_add(l->loop,
			    (uint64_t)(l->duration * 1000), load_window_end, l);
			for (i = 0; i < l->nclients; i++) {
				if (l->clients[i]->state == C_READY) {
					l->clients[i]->state = C_RUN;
					client_next(l->clients[i]);
				}
			}
		} else if (l->ending && l->finished + l->failed >= l->nclients) {
			mail_loop_stop(l->loop);
		}
		break;
	case M_LOGINS:
		if (l->finished + l->failed >= l->nclients) {
			l->t_end_us = now_us();
			mail_loop_stop(l->loop);
		}
		break;
	case M_IDLE:
		if (l->t_setup_done_us == 0 && l->next_wait >= l->nclients &&
		    l->setting_up == 0) {
			l->t_setup_done_us = now_us();
			/* let the server settle before reading its memory */
			mail_timer_add(l->loop, 1000, idle_measure, l);
		} else if (l->deliver_done) {
			mail_loop_stop(l->loop);
		}
		break;
	}
}

/* Timeouts of whatever a client waits for. */
static void
load_tick(struct mail_loop *loop, void *ctx)
{
	struct load *l = ctx;
	uint64_t t = now_us();
	struct load_client *c;

	(void)loop;
	for (unsigned i = 0; i < l->nall; i++) {
		c = l->clients[i];
		if (c->fd != -1 && c->busy && c->deadline_us != 0 &&
		    t > c->deadline_us)
			client_fail(c, E_TIMEOUT, "timed out");
	}
	mail_timer_add(l->loop, LOAD_TICK_MS, load_tick, l);
}

/* ---- self-test ---- */

/* --self-test: the response scanner over a transcript whose literals hold
 * CRLFs and things that look like literal announcements, fed at every
 * split point and one byte at a time; it must find exactly the responses
 * the transcript was made of. Returns the number of failures. */
static int
self_test(void)
{
	static const char *const resp[] = {
		"* OK [CAPABILITY IMAP4rev1 IDLE] ready\r\n",
		"* 1 FETCH (UID 7 BODY[]<0> {12}\r\nab\r\n{3}\r\n}\r\n"
		    " FLAGS (\\Seen))\r\n",
		"* 2 FETCH (BODY[HEADER] {0}\r\n ENVELOPE (NIL \"a {5}\"))\r\n",
		"* 3 FETCH (BINARY[1] ~{4}\r\n\r\n\r\n BODY[] {2}\r\n{}"
		    " X {1+}\r\n\n)\r\n",
		"* 4 EXISTS\r\n",
		"+ idling\r\n",
		"a1 OK [APPENDUID 9 12] done {x}\r\n",
	};
	struct load_client c;
	struct mail_buf all = MAIL_BUF_INIT;
	size_t want[N_ELEMENTS(resp)], got[N_ELEMENTS(resp) + 1], ngot, len;
	size_t cut, pos, step;
	int failures = 0, r;

	for (size_t i = 0; i < N_ELEMENTS(resp); i++) {
		want[i] = strlen(resp[i]);
		mail_buf_append_str(&all, resp[i]);
	}
	/* step 0: two pieces cut at every point; step 1: byte by byte */
	for (step = 0; step < 2; step++) {
		for (cut = 0; cut <= all.len; cut++) {
			memset(&c, 0, sizeof(c));
			ngot = 0;
			r = 0;
			for (pos = 0; pos < all.len && r >= 0;) {
				len = step == 1 ? 1 : pos < cut ? cut - pos :
				    all.len - pos;
				mail_buf_append(&c.in, all.data + pos, len);
				pos += len;
				while (ngot <= N_ELEMENTS(resp) &&
				    (r = resp_next(&c, &len)) == 1) {
					got[ngot++] = len;
					mail_buf_consume(&c.in, len);
				}
			}
			if (r < 0 || ngot != N_ELEMENTS(resp) || c.in.len != 0 ||
			    memcmp(got, want, sizeof(want)) != 0) {
				fprintf(stderr, "imap-load: self-test failed "
				    "(%s, cut %zu): %zu responses\n", step == 1 ?
				    "byte by byte" : "split", cut, ngot);
				failures++;
			}
			mail_buf_free(&c.in);
			if (step == 1)
				break;
		}
	}
	mail_buf_free(&all);
	if (failures == 0)
		printf("imap-load: self-test passed\n");
	return failures;
}

/* ---- options ---- */

static void
usage(void)
{
	fprintf(stderr,
	    "usage: imap-load --port P (--user U | --users FILE) --password PW\n"
	    "                 [--host H] [--clients N] [--duration S]\n"
	    "                 [--mix fetch=40,store=20,append=10,search=20,noop=10]\n"
	    "                 [--mailbox M] [--server-pid PID] [--ramp N]\n"
	    "                 [--timeout S] [--seed N] [--json] [--verbose]\n"
	    "                 [--logins N | --idle N [--idle-time S] [--deliver]]\n"
	    "       imap-load --self-test\n");
	exit(EXIT_USAGE);
}

static void die_usage(const char *fmt, ...) PRINTF_LIKE(1, 2) NORETURN;

static void
die_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "imap-load: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_USAGE);
}

static unsigned long
opt_num(const char *s, unsigned long lo, unsigned long hi)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < lo || v > hi)
		die_usage("'%s': not a number in range", s);
	return v;
}

static double
opt_secs(const char *s)
{
	double v;
	char *end;

	v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || !(v > 0) || v > 86400)
		die_usage("'%s': not a duration in seconds", s);
	return v;
}

static void
parse_mix(struct load *l, const char *spec)
{
	char *dup = mail_xstrdup(spec), *tok, *save = NULL, *eq;
	int k;

	memset(l->mix, 0, sizeof(l->mix));
	for (tok = strtok_r(dup, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if ((eq = strchr(tok, '=')) == NULL)
			die_usage("--mix: '%s' is not NAME=WEIGHT", tok);
		*eq = '\0';
		for (k = 0; k < K_MIX_COUNT; k++)
			if (strcmp(tok, kind_names[k]) == 0)
				break;
		if (k == K_MIX_COUNT)
			die_usage("--mix: unknown command '%s' (fetch, store, "
			    "append, search, noop)", tok);
		l->mix[k] = (unsigned)opt_num(eq + 1, 0, 1000000);
	}
	free(dup);
	l->mix_total = 0;
	for (k = 0; k < K_MIX_COUNT; k++)
		l->mix_total += l->mix[k];
	if (l->mix_total == 0)
		die_usage("--mix: '%s': all weights are 0", spec);
}

/* FILE: one user a line, "USER" or "USER PASSWORD"; '#' comments. */
static void
read_users(struct load *l, const char *path, const char *password)
{
	char line[1024], *name, *pw, *save;
	size_t cap = 0;
	FILE *f;

	if ((f = fopen(path, "re")) == NULL) {
		fprintf(stderr, "imap-load: open '%s': %s\n", path,
		    strerror(errno));
		exit(1);
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		save = NULL;
		if ((name = strtok_r(line, " \t\r\n", &save)) == NULL ||
		    name[0] == '#')
			continue;
		pw = strtok_r(NULL, " \t\r\n", &save);
		if (pw == NULL && password == NULL)
			die_usage("'%s': a user without password and no "
			    "--password", path);
		if (l->nusers == cap)
			l->users = mail_xgrow(l->users, &cap, l->nusers + 1,
			    sizeof(*l->users));
		l->users[l->nusers].name = mail_xstrdup(name);
		l->users[l->nusers].password = mail_xstrdup(pw != NULL ? pw :
		    password);
		l->nusers++;
	}
	fclose(f);
	if (l->nusers == 0)
		die_usage("'%s': no users", path);
}

/* ---- the report ---- */

/*
 * One list of fields, written as text ("key value" lines; an object's
 * fields on one indented line) or, with --json, as one JSON object with
 * the same keys, which tests/bench/imap reads. Objects nest two deep at
 * most: "kinds" -> "fetch" -> its counters.
 */
struct out {
	bool	 json;
	int	 depth;
	bool	 first;		/* no field written yet at this depth */
};

/* Strings come from the server's process names and error messages:
 * escaped for JSON. */
static void
out_quoted(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", (unsigned)(unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void
out_key(struct out *o, const char *key)
{
	if (o->json) {
		if (!o->first)
			printf(", ");
		out_quoted(key);
		printf(": ");
	} else if (o->depth == 0) {
		printf("%s ", key);
	} else {
		printf(" %s ", key);
	}
	o->first = false;
}

static void
out_num(struct out *o, const char *key, double v, int prec)
{
	out_key(o, key);
	printf("%.*f%s", prec, v, o->json || o->depth > 0 ? "" : "\n");
}

static void
out_str(struct out *o, const char *key, const char *v)
{
	out_key(o, key);
	if (o->json)
		out_quoted(v);
	else
		printf("%s%s", v, o->depth > 0 ? "" : "\n");
}

static void
out_open(struct out *o, const char *key)
{
	if (o->json) {
		out_key(o, key);
		printf("{");
	} else {
		printf("%*s%s:%s", 2 * o->depth, "", key,
		    o->depth == 0 ? "\n" : "");
	}
	o->depth++;
	o->first = true;
}

static void
out_close(struct out *o)
{
	o->depth--;
	o->first = false;
	if (o->json)
		printf("}");
	else if (o->depth > 0)
		printf("\n");
}

static double
tv_secs(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

static double
ticks_ms(uint64_t ticks)
{
	return (double)ticks * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

static void
out_mem(struct out *o, const char *key, const struct mem_snapshot *m)
{
	out_open(o, key);
	for (size_t i = 0; i < m->n; i++) {
		out_open(o, m->g[i].comm);
		out_num(o, "procs", m->g[i].procs, 0);
		out_num(o, "rss_kb", (double)m->g[i].rss_kb, 0);
		out_num(o, "pss_kb", (double)m->g[i].pss_kb, 0);
		out_close(o);
	}
	out_close(o);
}

/* Prints the report; returns the number of protocol errors. */
static uint64_t
report(struct load *l)
{
	struct out o = { l->json, 0, true };
	uint64_t total = 0, errors = 0;
	struct load_stats *st;
	double secs, cpu_ms;

	for (int k = 0; k < K_COUNT; k++) {
		st = &l->stats[k];
		mail_qsort(st->lat_us, st->nlat, sizeof(*st->lat_us), cmp_u32);
		errors += stats_errors(st);
		if (k < K_LOGIN)
			total += st->ok;
	}
	mail_qsort(l->cycle.lat_us, l->cycle.nlat, sizeof(*l->cycle.lat_us),
	    cmp_u32);
	mail_qsort(l->idle_lat.lat_us, l->idle_lat.nlat,
	    sizeof(*l->idle_lat.lat_us), cmp_u32);
	/* load: the window; logins: all of it; idle: until the idle end */
	secs = l->t_end_us > l->t0_us ?
	    (double)(l->t_end_us - l->t0_us) / 1e6 : 1e-9;
	cpu_ms = ticks_ms(l->cpu1 - l->cpu0);

	if (o.json)
		printf("{");
	out_str(&o, "mode", l->mode == M_LOAD ? "load" :
	    l->mode == M_LOGINS ? "logins" : "idle");
	out_num(&o, "clients", l->nclients, 0);
	out_num(&o, "ready", l->ready, 0);
	out_num(&o, "failed", l->failed, 0);
	out_num(&o, "seconds", secs, 3);
	out_num(&o, "errors", (double)errors, 0);
	out_num(&o, "reconnects", (double)l->reconnects, 0);
	if (l->mode == M_LOAD) {
		out_num(&o, "commands", (double)total, 0);
		out_num(&o, "rate", (double)total / secs, 1);
	}
	if (l->mode != M_IDLE) {
		if (l->server_pid > 0)
			out_num(&o, "server_cpu_ms", cpu_ms, 0);
		if (l->server_pid > 0 && l->mode == M_LOAD && total > 0)
			out_num(&o, "server_cpu_us_per_cmd",
			    cpu_ms * 1000.0 / (double)total, 1);
		/* the generator shares the machine with the server */
		out_num(&o, "client_cpu_s", tv_secs(&l->ru1.ru_utime) +
		    tv_secs(&l->ru1.ru_stime) - tv_secs(&l->ru0.ru_utime) -
		    tv_secs(&l->ru0.ru_stime), 2);
	}
	if (l->mode == M_LOGINS) {
		out_num(&o, "logins", l->logins_done, 0);
		out_num(&o, "logins_per_s", l->logins_done / secs, 1);
		out_num(&o, "cycle_p50_ms", stats_pct(&l->cycle, 50), 2);
		out_num(&o, "cycle_p99_ms", stats_pct(&l->cycle, 99), 2);
		if (l->server_pid > 0 && l->logins_done > 0)
			out_num(&o, "server_cpu_ms_per_login",
			    cpu_ms / l->logins_done, 3);
	}
	if (l->mode == M_IDLE) {
		out_num(&o, "idle", l->ready, 0);
		out_num(&o, "setup_s", l->t_setup_done_us > l->t0_us ?
		    (double)(l->t_setup_done_us - l->t0_us) / 1e6 : 0, 2);
		out_num(&o, "idlers_lost", l->idlers_lost, 0);
		out_num(&o, "idle_time_s", l->idle_time, 1);
		if (l->server_pid > 0) {
			out_num(&o, "idle_server_cpu_ms",
			    ticks_ms(l->idle_cpu1 - l->idle_cpu0), 0);
			out_mem(&o, "mem_before", &l->mem0);
			out_mem(&o, "mem_idle", &l->mem1);
		}
		if (l->deliverer != NULL) {
			out_num(&o, "deliver_ok", l->deliver_ok ? 1 : 0, 0);
			out_num(&o, "exists_expected", l->idle_expected, 0);
			out_num(&o, "exists_seen_1s", l->idle_seen_1s, 0);
			out_num(&o, "exists_seen", l->idle_seen, 0);
			out_num(&o, "exists_p50_ms", stats_pct(&l->idle_lat, 50),
			    2);
			out_num(&o, "exists_max_ms",
			    stats_pct(&l->idle_lat, 100), 2);
		}
	}
	out_open(&o, "kinds");
	for (int k = 0; k < K_COUNT; k++) {
		st = &l->stats[k];
		if (st->ok == 0 && stats_errors(st) == 0)
			continue;
		out_open(&o, kind_names[k]);
		out_num(&o, "ok", (double)st->ok, 0);
		out_num(&o, "p50_ms", stats_pct(st, 50), 3);
		out_num(&o, "p99_ms", stats_pct(st, 99), 3);
		for (int e = 0; e < E_COUNT; e++)
			out_num(&o, err_names[e], (double)st->err[e], 0);
		out_close(&o);
	}
	out_close(&o);
	if (l->fatal_error)
		out_str(&o, "fatal", l->fatal_msg);
	if (o.json)
		printf("}\n");
	return errors;
}

/* Idle mode: who saw the new message, and when. */
static void
idle_tally(struct load *l)
{
	uint64_t dt;

	if (!l->deliver || l->deliver_sent_us == 0)
		return;
	for (unsigned i = 0; i < l->nclients; i++) {
		struct load_client *c = l->clients[i];

		if (c->user != 0 || c->saw_new_us == 0)
			continue;
		dt = c->saw_new_us > l->deliver_sent_us ?
		    c->saw_new_us - l->deliver_sent_us : 0;
		l->idle_seen++;
		if (dt <= 1000000)
			l->idle_seen_1s++;
		stats_add_lat(&l->idle_lat, dt);
	}
}

/* Free everything, closing what is still open. NULL-safe; sets *lp =
 * NULL. */
static void
load_free(struct load **lp)
{
	struct load *l = *lp;
	struct load_client *c;

	if (l == NULL)
		return;
	for (unsigned i = 0; l->clients != NULL && i < l->nall; i++) {
		c = l->clients[i];
		client_close(c);
		free(c->uids);
		free(c);
	}
	free(l->clients);
	for (size_t i = 0; i < l->nusers; i++) {
		free(l->users[i].name);
		explicit_bzero(l->users[i].password,
		    strlen(l->users[i].password));
		free(l->users[i].password);
	}
	free(l->users);
	for (int k = 0; k < K_COUNT; k++)
		free(l->stats[k].lat_us);
	free(l->cycle.lat_us);
	free(l->idle_lat.lat_us);
	free(l->mem0.g);
	free(l->mem1.g);
	mail_loop_free(&l->loop);
	if (l->ai != NULL)
		freeaddrinfo(l->ai);
	free(l);
	*lp = NULL;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, 'h' },
		{ "port", required_argument, NULL, 'p' },
		{ "user", required_argument, NULL, 'u' },
		{ "users", required_argument, NULL, 'U' },
		{ "password", required_argument, NULL, 'P' },
		{ "clients", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' },
		{ "mix", required_argument, NULL, 'm' },
		{ "mailbox", required_argument, NULL, 'b' },
		{ "server-pid", required_argument, NULL, 's' },
		{ "logins", required_argument, NULL, 'l' },
		{ "idle", required_argument, NULL, 'i' },
		{ "idle-time", required_argument, NULL, 'I' },
		{ "deliver", no_argument, NULL, 'D' },
		{ "ramp", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 't' },
		{ "seed", required_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "self-test", no_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	struct load *l = mail_xcalloc(1, sizeof(*l));
	const char *user = NULL, *users_file = NULL, *password = NULL;
	struct addrinfo hints;
	struct mail_err err;
	struct rlimit rl;
	uint64_t errors;
	bool clients_set = false, selftest = false;
	int ch, r, ret = 1;

	l->host = "127.0.0.1";
	l->mailbox = "INBOX";
	l->nclients = 10;
	l->duration = 10;
	l->idle_time = 3;
	l->ramp = 50;
	l->timeout_us = 30 * 1000000ULL;
	l->seed = 1;
	parse_mix(l, "fetch=40,store=20,append=10,search=20,noop=10");
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h': l->host = optarg; break;
		case 'p': l->port = optarg; break;
		case 'u': user = optarg; break;
		case 'U': users_file = optarg; break;
		case 'P': password = optarg; break;
		case 'c':
			l->nclients = (unsigned)opt_num(optarg, 1, 1000000);
			clients_set = true;
			break;
		case 'd': l->duration = opt_secs(optarg); break;
		case 'm': parse_mix(l, optarg); break;
		case 'b': l->mailbox = optarg; break;
		case 's':
			l->server_pid = (pid_t)opt_num(optarg, 1, INT32_MAX);
			break;
		case 'l':
			l->mode = M_LOGINS;
			l->logins = (unsigned)opt_num(optarg, 1, 100000000);
			break;
		case 'i':
			l->mode = M_IDLE;
			l->idle_n = (unsigned)opt_num(optarg, 1, 1000000);
			break;
		case 'I': l->idle_time = opt_secs(optarg); break;
		case 'D': l->deliver = true; break;
		case 'r': l->ramp = (unsigned)opt_num(optarg, 1, 1000000); break;
		case 't':
			l->timeout_us = (uint64_t)(opt_secs(optarg) * 1e6);
			break;
		case 'S': l->seed = opt_num(optarg, 0, ULONG_MAX); break;
		case 'j': l->json = true; break;
		case 'v': l->verbose = true; break;
		case 'T': selftest = true; break;
		default: usage();
		}
	}
	if (selftest) {
		load_free(&l);
		return self_test() == 0 ? 0 : 1;
	}
	if (optind != argc || l->port == NULL || (user == NULL) ==
	    (users_file == NULL) || (user != NULL && password == NULL))
		usage();
	if (users_file != NULL) {
		read_users(l, users_file, password);
	} else {
		l->users = mail_xcalloc(1, sizeof(*l->users));
		l->users[0].name = mail_xstrdup(user);
		l->users[0].password = mail_xstrdup(password);
		l->nusers = 1;
	}
	if (l->mode == M_IDLE)
		l->nclients = l->idle_n;
	else if (l->mode == M_LOGINS && !clients_set)
		l->nclients = 1;
	if (l->mode == M_LOGINS && l->nclients > l->logins)
		l->nclients = l->logins;

	/* one fd a connection: take all the kernel lets us have */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < (rlim_t)l->nclients + 16) {
		fprintf(stderr, "imap-load: %u connections need more fds than "
		    "the limit of %llu (ulimit -Hn)\n", l->nclients,
		    (unsigned long long)rl.rlim_cur);
		goto out;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((r = getaddrinfo(l->host, l->port, &hints, &l->ai)) != 0) {
		fprintf(stderr, "imap-load: '%s' port '%s': %s\n", l->host,
		    l->port, gai_strerror(r));
		l->ai = NULL;
		goto out;
	}
	if (mail_loop_new(&l->loop, &err) < 0) {
		fprintf(stderr, "imap-load: %s\n", err.msg);
		goto out;
	}
	/* clients, then in idle mode one more: the deliverer */
	l->nall = l->nclients + (l->mode == M_IDLE && l->deliver ? 1 : 0);
	l->clients = mail_xcalloc(l->nall, sizeof(*l->clients));
	for (unsigned i = 0; i < l->nall; i++) {
		struct load_client *c = mail_xcalloc(1, sizeof(*c));

		c->load = l;
		c->id = i;
		c->fd = -1;
		c->state = C_WAIT;
		c->user = i < l->nclients ? i % l->nusers : 0;
		c->rng = (l->seed + 1) * 0x9E3779B97F4A7C15ULL +
		    (uint64_t)i * 0xBF58476D1CE4E5B9ULL;
		if (c->rng == 0)
			c->rng = 1;
		l->clients[i] = c;
	}
	if (l->nall > l->nclients)
		l->deliverer = l->clients[l->nclients];

	if (l->mode == M_IDLE)
		mem_snapshot(l, &l->mem0);
	l->t0_us = now_us();
	if (l->mode == M_LOGINS) {
		l->cpu0 = server_cpu_ticks(l);
		getrusage(RUSAGE_SELF, &l->ru0);
		l->logins_started = l->nclients;
	}
	mail_timer_add(l->loop, LOAD_TICK_MS, load_tick, l);
	load_ramp(l);
	if (mail_loop_run(l->loop, &err) < 0) {
		fprintf(stderr, "imap-load: %s\n", err.msg);
		goto out;
	}
	if (l->mode == M_LOGINS) {
		/* the last LOGOUTs' processes exit after our last read */
		usleep(300 * 1000);
		l->cpu1 = server_cpu_ticks(l);
		getrusage(RUSAGE_SELF, &l->ru1);
	}
	if (l->mode == M_LOAD && !l->started)
		l->t_end_us = l->t0_us = now_us();
	idle_tally(l);
	errors = report(l);
	fflush(stdout);
	ret = errors > 0 || l->fatal_error || l->ready + l->logins_done == 0 ?
	    1 : 0;
out:
	load_free(&l);
	return ret;
}
