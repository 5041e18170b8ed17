/*
 * test_wire_conn.c: the fd transport over socketpairs and a spawned cat:
 * round trips where both sides write everything before reading (which
 * deadlocks unless writes read meanwhile), compression, EOF, exit
 * status, timeouts, vanished peers (no SIGPIPE death), and the argument
 * vector of the system-ssh transport. The libssh2 transport needs an
 * sshd: tests/integration/t1100-ssh-transport.sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"
#include "wire_conn.h"

#define MiB (1024u * 1024)

/* A reproducible byte stream: byte off of stream seed. Compressible
 * streams use 16 letters only. */
static uint64_t
splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void
gen(uint64_t seed, bool text, uint64_t off, uint8_t *buf, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t pos = off + i;

		if (i == 0 || pos % 8 == 0)
			v = splitmix(seed * 0x100000001b3ull + pos / 8);
		buf[i] = (uint8_t)(v >> (8 * (pos % 8)));
		if (text)
			buf[i] = (uint8_t)('a' + (buf[i] & 15));
	}
}

static void
send_stream(struct wire_conn *c, uint64_t seed, bool text, size_t total,
    size_t chunk)
{
	uint8_t *buf = malloc(chunk);
	struct mail_err err;

	for (size_t off = 0; off < total; off += chunk) {
		size_t n = total - off < chunk ? total - off : chunk;

		gen(seed, text, off, buf, n);
		ck_assert_msg(wire_conn_write(c, buf, n, &err) == 0, "%s",
		    err.msg);
	}
	ck_assert_msg(wire_conn_flush(c, &err) == 0, "%s", err.msg);
	free(buf);
}

/* Read exactly total bytes in reads of at most cap and check them. */
static void
recv_stream(struct wire_conn *c, uint64_t seed, bool text, size_t total,
    size_t cap)
{
	uint8_t *buf = malloc(cap), *want = malloc(cap);
	struct mail_err err;
	size_t got = 0, n;

	while (got < total) {
		size_t room = total - got < cap ? total - got : cap;

		ck_assert_msg(wire_conn_read(c, buf, room, &n, &err) == 0,
		    "%s", err.msg);
		ck_assert_msg(n > 0, "EOF after %zu of %zu bytes", got, total);
		gen(seed, text, got, want, n);
		ck_assert_msg(memcmp(buf, want, n) == 0,
		    "bytes differ within %zu..%zu", got, got + n);
		got += n;
	}
	free(buf);
	free(want);
}

static void
expect_eof(struct wire_conn *c)
{
	struct mail_err err;
	uint8_t b;
	size_t n = 1;

	ck_assert_msg(wire_conn_read(c, &b, 1, &n, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(n, 0);
}

static void
pair(struct wire_conn **a, struct wire_conn **b)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	*a = wire_conn_from_fds(sv[0], sv[0]);
	*b = wire_conn_from_fds(sv[1], sv[1]);
}

static struct wire_conn *
spawn(const char *cmd)
{
	static char sh[] = "/bin/sh", dash_c[] = "-c";
	char *line = mail_xstrdup(cmd), *argv[] = { sh, dash_c, line, NULL };
	struct wire_conn *c = NULL;
	struct mail_err err;

	ck_assert_msg(wire_conn_spawn(argv, &c, &err) == 0, "%s", err.msg);
	free(line);
	return c;
}

static void
close_ok(struct wire_conn **c)
{
	struct mail_err err;

	ck_assert_msg(wire_conn_close(c, &err) == 0, "%s", err.msg);
	ck_assert_ptr_null(*c);
}

START_TEST(test_pair_small)
{
	struct wire_conn *a, *b;
	struct mail_err err;
	char buf[16];
	size_t n;

	pair(&a, &b);
	ck_assert_int_eq(wire_conn_write(a, "hello", 5, &err), 0);
	ck_assert_int_eq(wire_conn_flush(a, &err), 0);
	ck_assert_int_eq(wire_conn_read(b, buf, sizeof(buf), &n, &err), 0);
	ck_assert_uint_eq(n, 5);
	ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
	ck_assert_int_eq(wire_conn_write(b, "ok", 2, &err), 0);
	ck_assert_int_eq(wire_conn_shutdown_write(b, &err), 0);
	ck_assert_int_eq(wire_conn_read(a, buf, 1, &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(wire_conn_read(a, buf + 1, sizeof(buf), &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(memcmp(buf, "ok", 2), 0);
	expect_eof(a);
	expect_eof(a);
	close_ok(&a);
	expect_eof(b);
	close_ok(&b);
	close_ok(&b); /* NULL-safe */
}
END_TEST

/* Both ends write size bytes before reading any: one end in a child. */
static void
both_write_first(size_t size, int level)
{
	struct wire_conn *a, *b;
	struct mail_err err;
	int sv[2], status;
	pid_t pid;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	if ((pid = fork()) == 0) {
		close(sv[0]);
		b = wire_conn_from_fds(sv[1], sv[1]);
		if (level > 0)
			ck_assert_int_eq(wire_conn_start_compress(b, level,
			    &err), 0);
		send_stream(b, 2, level > 0, size, MiB + 3);
		recv_stream(b, 1, level > 0, size, 100000);
		expect_eof(b);
		close_ok(&b);
		_exit(0);
	}
	ck_assert_int_ne(pid, -1);
	close(sv[1]);
	a = wire_conn_from_fds(sv[0], sv[0]);
	if (level > 0)
		ck_assert_int_eq(wire_conn_start_compress(a, level, &err), 0);
	send_stream(a, 1, level > 0, size, 3 * MiB);
	recv_stream(a, 2, level > 0, size, 7777);
	ck_assert_int_eq(wire_conn_shutdown_write(a, &err), 0);
	expect_eof(a);
	if (level > 0) {
		uint64_t raw_in, raw_out, in, out;

		wire_conn_stats(a, &raw_in, &raw_out, &in, &out);
		ck_assert_uint_eq(in, size);
		ck_assert_uint_eq(out, size);
		ck_assert_uint_lt(raw_out, size * 2 / 3);
		ck_assert_uint_lt(raw_in, size * 2 / 3);
	}
	close_ok(&a);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "child status %#x", status);
}

START_TEST(test_pair_both_write_64mib)
{
	both_write_first(64 * MiB, 0);
}
END_TEST

START_TEST(test_pair_both_write_compressed)
{
	both_write_first(16 * MiB, 6);
}
END_TEST

/* cat blocks writing to us while we still write to it. */
static void
cat_round_trip(size_t size, int level)
{
	struct wire_conn *c = spawn("cat");
	uint64_t raw_in, raw_out, in, out;
	struct mail_err err;

	if (level > 0)
		ck_assert_int_eq(wire_conn_start_compress(c, level, &err), 0);
	send_stream(c, 7, level > 0, size, 4 * MiB + 1);
	ck_assert_int_eq(wire_conn_shutdown_write(c, &err), 0);
	recv_stream(c, 7, level > 0, size, 65536);
	expect_eof(c);
	wire_conn_stats(c, &raw_in, &raw_out, &in, &out);
	ck_assert_uint_eq(in, size);
	ck_assert_uint_eq(out, size);
	ck_assert_uint_eq(raw_in, raw_out);
	if (level > 0)
		ck_assert_uint_lt(raw_out, size * 2 / 3);
	else
		ck_assert_uint_eq(raw_out, size);
	close_ok(&c);
}

START_TEST(test_cat_64mib)
{
	cat_round_trip(64 * MiB, 0);
}
END_TEST

START_TEST(test_cat_compressed)
{
	cat_round_trip(16 * MiB, 1);
}
END_TEST

/* Bytes received before start_compress() but after the peer's switch are
 * inflated; reads of one byte work across the switch. */
START_TEST(test_compress_switch_and_split)
{
	static const char msg[] = "compressed part, read one byte at a time";
	struct wire_conn *a, *b;
	struct mail_err err;
	char buf[64];
	size_t n;

	pair(&a, &b);
	ck_assert_int_eq(wire_conn_write(a, "PLAIN", 5, &err), 0);
	ck_assert_int_eq(wire_conn_flush(a, &err), 0);
	ck_assert_int_eq(wire_conn_start_compress(a, 9, &err), 0);
	ck_assert_int_eq(wire_conn_write(a, msg, sizeof(msg), &err), 0);
	ck_assert_int_eq(wire_conn_flush(a, &err), 0);
	usleep(10000); /* let b's first read see both parts */
	ck_assert_int_eq(wire_conn_read(b, buf, 5, &n, &err), 0);
	ck_assert_uint_eq(n, 5);
	ck_assert_int_eq(memcmp(buf, "PLAIN", 5), 0);
	ck_assert_int_eq(wire_conn_start_compress(b, 1, &err), 0);
	for (size_t i = 0; i < sizeof(msg); i++) {
		ck_assert_int_eq(wire_conn_read(b, buf + i, 1, &n, &err), 0);
		ck_assert_uint_eq(n, 1);
	}
	ck_assert_int_eq(memcmp(buf, msg, sizeof(msg)), 0);
	ck_assert_int_eq(wire_conn_shutdown_write(a, &err), 0);
	expect_eof(b);
	close_ok(&a);
	close_ok(&b);
}
END_TEST

START_TEST(test_compress_errors)
{
	struct wire_conn *a, *b;
	struct mail_err err;
	char buf[16];
	size_t n;

	pair(&a, &b);
	ck_assert_int_eq(wire_conn_start_compress(a, 0, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_PARAM);
	ck_assert_int_eq(wire_conn_start_compress(a, 10, &err), -1);
	ck_assert_int_eq(wire_conn_start_compress(a, 5, &err), 0);
	ck_assert_int_eq(wire_conn_start_compress(a, 5, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_PARAM);
	wire_conn_abort(&a);
	wire_conn_abort(&b);
	/* garbage where a zlib stream should be */
	pair(&a, &b);
	ck_assert_int_eq(wire_conn_write(a, "not zlib at all", 15, &err), 0);
	ck_assert_int_eq(wire_conn_flush(a, &err), 0);
	ck_assert_int_eq(wire_conn_start_compress(b, 5, &err), 0);
	ck_assert_int_eq(wire_conn_read(b, buf, sizeof(buf), &n, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_PROTO);
	ck_assert_msg(strstr(err.msg, "corrupt compressed stream") != NULL,
	    "%s", err.msg);
	wire_conn_abort(&a);
	wire_conn_abort(&b);
	wire_conn_abort(&b); /* NULL-safe */
}
END_TEST

START_TEST(test_eof_after_data)
{
	struct wire_conn *c = spawn("printf abc");
	struct mail_err err;
	char buf[8];
	size_t n, got = 0;

	while (got < 3) {
		ck_assert_int_eq(wire_conn_read(c, buf + got, sizeof(buf) - got,
		    &n, &err), 0);
		ck_assert_uint_gt(n, 0);
		got += n;
	}
	ck_assert_int_eq(memcmp(buf, "abc", 3), 0);
	expect_eof(c);
	close_ok(&c);
}
END_TEST

START_TEST(test_exit_status)
{
	struct wire_conn *c;
	struct mail_err err;
	static char nope[] = "/nonexistent/wire-test-program";
	char *argv[] = { nope, NULL };

	c = spawn("exit 3");
	ck_assert_int_eq(wire_conn_close(&c, &err), -1);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(err.code, MAIL_ERR_INTERNAL);
	ck_assert_msg(strstr(err.msg, "'/bin/sh' exited with status 3") !=
	    NULL, "%s", err.msg);

	c = spawn("exit 75");
	ck_assert_int_eq(wire_conn_close(&c, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_TEMP);

	c = spawn("kill -9 $$");
	ck_assert_int_eq(wire_conn_close(&c, &err), -1);
	ck_assert_msg(strstr(err.msg, "killed by signal 9") != NULL, "%s",
	    err.msg);

	/* a child that keeps writing is drained, not deadlocked */
	c = spawn("head -c 3000000 /dev/zero; exit 0");
	close_ok(&c);

	ck_assert_int_eq(wire_conn_spawn(argv, &c, &err), -1);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err.msg, nope) != NULL &&
	    strstr(err.msg, "No such file") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(test_abort_kills)
{
	struct wire_conn *c = spawn("sleep 60");

	wire_conn_abort(&c);
	ck_assert_ptr_null(c);
}
END_TEST

START_TEST(test_timeout)
{
	struct wire_conn *a, *b;
	struct mail_err err;
	uint8_t *big = calloc(1, 16 * MiB);
	char buf[8];
	size_t n;

	pair(&a, &b);
	wire_conn_set_timeout(a, 100);
	ck_assert_int_eq(wire_conn_read(a, buf, sizeof(buf), &n, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_TEMP);
	ck_assert_msg(strstr(err.msg, "timed out") != NULL, "%s", err.msg);
	/* b never reads: the socket fills up */
	ck_assert_int_eq(wire_conn_write(a, big, 16 * MiB, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_TEMP);
	ck_assert_msg(strstr(err.msg, "timed out") != NULL, "%s", err.msg);
	wire_conn_abort(&a);
	wire_conn_abort(&b);
	free(big);
}
END_TEST

/* A peer that is gone is an error, not a SIGPIPE (which would kill this
 * forked test). */
START_TEST(test_peer_gone)
{
	struct wire_conn *a, *b, *c;
	struct mail_err err;
	uint8_t *big = calloc(1, 4 * MiB);

	signal(SIGPIPE, SIG_DFL);
	pair(&a, &b);
	wire_conn_abort(&b);
	ck_assert_int_eq(wire_conn_write(a, big, 4 * MiB, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_TEMP);
	ck_assert_msg(strstr(err.msg, "peer closed the connection") != NULL,
	    "%s", err.msg);
	wire_conn_abort(&a);

	c = spawn("exec true");
	ck_assert_int_eq(wire_conn_write(c, big, 4 * MiB, &err), -1);
	ck_assert_msg(strstr(err.msg, "peer closed the connection") != NULL,
	    "%s", err.msg);
	/* true exited 0, so close reports the failed write */
	ck_assert_int_eq(wire_conn_close(&c, &err), -1);
	ck_assert_msg(strstr(err.msg, "peer closed the connection") != NULL,
	    "%s", err.msg);
	free(big);
}
END_TEST

/* The fds' flags come back at close: stdin/stdout may be shared. */
START_TEST(test_fd_flags_restored)
{
	struct wire_conn *c;
	int p[2], rdup, wdup;

	ck_assert_int_eq(pipe(p), 0);
	rdup = dup(p[0]);
	wdup = dup(p[1]);
	c = wire_conn_from_fds(p[0], p[1]);
	ck_assert(fcntl(rdup, F_GETFL) & O_NONBLOCK);
	wire_conn_abort(&c);
	ck_assert(!(fcntl(rdup, F_GETFL) & O_NONBLOCK));
	ck_assert(!(fcntl(wdup, F_GETFL) & O_NONBLOCK));
	ck_assert_int_eq(fcntl(p[0], F_GETFD), -1); /* closed */
	close(rdup);
	close(wdup);
	/* sockets are never switched: MSG_DONTWAIT per call */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, p), 0);
	rdup = dup(p[0]);
	c = wire_conn_from_fds(p[0], p[0]);
	ck_assert(!(fcntl(rdup, F_GETFL) & O_NONBLOCK));
	wire_conn_abort(&c);
	close(rdup);
	close(p[1]);
}
END_TEST

/* wire_conn_ssh_command: each argument arrives as one word. */
START_TEST(test_ssh_command_argv)
{
	static const char want[] =
	    "-p\n2222\n-l\nthe user\nhost\nrun 'a b' \"$x\"\n";
	struct wire_ssh_opts o = {
		.user = "the user",
		.host = "host",
		.port = 2222,
		.command = "run 'a b' \"$x\"",
	};
	struct wire_conn *c;
	struct mail_err err;
	char buf[256];
	size_t n, got = 0;

	ck_assert_int_eq(wire_conn_ssh_command("printf '%s\\n'", &o, &c, &err),
	    0);
	do {
		ck_assert_int_eq(wire_conn_read(c, buf + got, sizeof(buf) - got,
		    &n, &err), 0);
		got += n;
	} while (n > 0);
	ck_assert_uint_eq(got, strlen(want));
	ck_assert_int_eq(memcmp(buf, want, got), 0);
	close_ok(&c);

	o.port = 0;
	o.user = NULL;
	ck_assert_int_eq(wire_conn_ssh_command("exit 255; :", &o, &c, &err), 0);
	ck_assert_int_eq(wire_conn_close(&c, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_TEMP);
	ck_assert_msg(strstr(err.msg, "'exit' to 'host' exited with status 255")
	    != NULL, "%s", err.msg);

	o.host = "-oProxyCommand=evil";
	ck_assert_int_eq(wire_conn_ssh_command("ssh", &o, &c, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_PARAM);
}
END_TEST

/* libssh2 without an sshd: parameters and an unreachable port. */
START_TEST(test_ssh_unreachable)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	struct wire_ssh_opts o = { .host = "127.0.0.1", .command = "cat" };
	struct wire_ssh_opts nohost = { .command = "x" };
	struct wire_conn *c = NULL;
	struct mail_err err;
	int fd;

	ck_assert_int_eq(wire_conn_ssh(&nohost, &c, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_PARAM);
	/* a port nobody listens on: bound, never listened to */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	o.port = ntohs(sin.sin_port);
	ck_assert_int_eq(wire_conn_ssh(&o, &c, &err), -1);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(err.code, MAIL_ERR_TEMP);
	ck_assert_msg(strstr(err.msg, "connect to '127.0.0.1' port") != NULL,
	    "%s", err.msg);
	close(fd);
}
END_TEST

Suite *test_wire_conn_suite(void);
Suite *
test_wire_conn_suite(void)
{
	Suite *s = suite_create("wire_conn");
	TCase *tc = tcase_create("core");
	TCase *bulk = tcase_create("bulk");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_pair_small);
	tcase_add_test(tc, test_compress_switch_and_split);
	tcase_add_test(tc, test_compress_errors);
	tcase_add_test(tc, test_eof_after_data);
	tcase_add_test(tc, test_exit_status);
	tcase_add_test(tc, test_abort_kills);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_peer_gone);
	tcase_add_test(tc, test_fd_flags_restored);
	tcase_add_test(tc, test_ssh_command_argv);
	tcase_add_test(tc, test_ssh_unreachable);
	suite_add_tcase(s, tc);
	tcase_set_timeout(bulk, 120);
	tcase_add_test(bulk, test_pair_both_write_64mib);
	tcase_add_test(bulk, test_pair_both_write_compressed);
	tcase_add_test(bulk, test_cat_64mib);
	tcase_add_test(bulk, test_cat_compressed);
	suite_add_tcase(s, bulk);
	return s;
}
