#!/usr/bin/env python3
"""imapd_scenarios.py: imapd's own behaviour beyond the protocol suite:
push to IDLE from other processes, the EXPUNGE rule, pausing big FETCHes,
streamed APPENDs, limits and timeouts, many sessions of one user.

Usage: imapd_scenarios.py --port P --user U --password PW --dsync DSYNC
       --store STORE [--limits-port P2] [-k NAME]
--tls-port, --starttls-port and --cafile: an imapd with implicit TLS
and STARTTLS on a plain port whose plaintext_auth is no.
--limits-port is a second imapd on the same store configured with
login_timeout = 1s, auth_failure_delay = 200ms, max_auth_failures = 3,
max_line = 4K, max_append = 1M and plaintext_auth = no.
Prints "ok N - name" lines; exits 1 at the first failure.
"""
import argparse
import re
import socket
import subprocess
import sys
import time

ARGS = None
N = 0


class Session:
    """A raw IMAP connection: we control every byte sent."""

    def __init__(self, port, login=True):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.tagn = 0
        self.greeting = self.line()
        if login:
            self.ok("LOGIN %s %s" % (ARGS.user, ARGS.password))

    def line(self, timeout=10):
        end = time.time() + timeout
        while b"\r\n" not in self.buf:
            self.s.settimeout(max(0.01, end - time.time()))
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                raise AssertionError("no line within %ss (have %r)" %
                                     (timeout, self.buf[:200]))
            if not d:
                raise EOFError("connection closed (have %r)" % self.buf)
            self.buf += d
        ln, self.buf = self.buf.split(b"\r\n", 1)
        # a literal: read its bytes and the rest of the line
        m = re.search(rb"\{(\d+)\+?\}$", ln)
        while m:
            n = int(m.group(1))
            while len(self.buf) < n:
                d = self.s.recv(65536)
                if not d:
                    raise EOFError("closed inside a literal")
                self.buf += d
            ln += b"\r\n" + self.buf[:n]
            self.buf = self.buf[n:]
            rest = self.line(timeout)
            ln += rest
            m = re.search(rb"\{(\d+)\+?\}$", rest)
        return ln

    def send(self, data):
        self.s.sendall(data)

    def cmd(self, text, timeout=10):
        """Send a command, return (untagged lines, tagged line)."""
        self.tagn += 1
        tag = b"t%d" % self.tagn
        self.send(tag + b" " + (text.encode() if isinstance(text, str)
                                else text) + b"\r\n")
        return self.until(tag, timeout)

    def until(self, tag, timeout=10):
        lines = []
        while True:
            ln = self.line(timeout)
            if ln.startswith(tag + b" "):
                return lines, ln
            lines.append(ln)

    def ok(self, text, timeout=10):
        lines, tagged = self.cmd(text, timeout)
        if b" OK" not in tagged[:12]:
            raise AssertionError("%s: %r" % (text, tagged))
        return lines

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def ok(name):
    global N
    N += 1
    print("ok %d - %s" % (N, name), flush=True)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def msg(i, size=0):
    body = ("line %d of the body\r\n" % i) * max(1, size // 20)
    return ("From: Sender <s%d@example.org>\r\nTo: r@example.net\r\n"
            "Subject: message %d\r\nMessage-ID: <%d@example.org>\r\n"
            "Date: Mon, 07 Dec 2026 10:00:00 +0000\r\n\r\n%s" %
            (i, i, i, body)).encode()


def fresh_mailbox(s, name):
    s.cmd('DELETE "%s"' % name)
    s.ok('CREATE "%s"' % name)


def append(s, mailbox, data, flags=""):
    s.tagn += 1
    tag = b"t%d" % s.tagn
    s.send(tag + b' APPEND "%s" %s{%d+}\r\n' % (mailbox.encode(),
           flags.encode(), len(data)) + data + b"\r\n")
    lines, tagged = s.until(tag)
    check(b" OK" in tagged, "APPEND: %r" % tagged)
    return int(re.search(rb"APPENDUID \d+ (\d+)", tagged).group(1))


# ---- scenarios ----

def t_push_from_dsync_save():
    s = Session(ARGS.port)
    fresh_mailbox(s, "push")
    s.ok('SELECT "push"')
    s.send(b"i IDLE\r\n")
    check(s.line().startswith(b"+"), "IDLE continuation")
    t0 = time.time()
    subprocess.run([ARGS.dsync, "-s", ARGS.store, "-u", ARGS.user, "save",
                    "-m", "push"], input=msg(1), check=True,
                   stdout=subprocess.DEVNULL)
    t1 = time.time()
    ln = s.line(5)
    t2 = time.time()
    check(ln == b"* 1 EXISTS", "got %r" % ln)
    s.send(b"DONE\r\n")
    lines, tagged = s.until(b"i")
    check(b"OK" in tagged, "IDLE end")
    ok("a message saved by `dsync save` reaches IDLE (%.0f ms after the "
       "save returned, %.0f ms in all)" % ((t2 - t1) * 1000,
                                            (t2 - t0) * 1000))
    s.close()


def t_expunge_rule():
    a, b = Session(ARGS.port), Session(ARGS.port)
    fresh_mailbox(a, "exp")
    for i in range(3):
        append(a, "exp", msg(i))
    a.ok('SELECT "exp"')
    b.ok('SELECT "exp"')
    b.ok("STORE 2 +FLAGS (\\Deleted)")
    b.ok("EXPUNGE")
    lines = a.ok("FETCH 1:3 (UID)")
    check(not any(b"EXPUNGE" in ln for ln in lines),
          "EXPUNGE during FETCH: %r" % lines)
    check(sum(1 for ln in lines if b"FETCH" in ln) == 2,
          "the two live messages: %r" % lines)
    lines = a.ok("STORE 1 +FLAGS (\\Seen)")
    check(not any(b"EXPUNGE" in ln for ln in lines), "EXPUNGE during STORE")
    lines = a.ok("NOOP")
    check(b"* 2 EXPUNGE" in lines, "NOOP reports it: %r" % lines)
    lines = a.ok("FETCH 1:* (UID)")
    check(len([ln for ln in lines if b"FETCH" in ln]) == 2, "renumbered")
    ok("EXPUNGE is held back during FETCH and STORE, sent at NOOP")
    a.close()
    b.close()


def t_big_fetch_pauses():
    s = Session(ARGS.port)
    fresh_mailbox(s, "big")
    n, size = 120, 40000
    for i in range(n):
        append(s, "big", msg(i, size))
    s.ok('SELECT "big"')
    # ask for everything, then read slowly: the server must pause, not
    # buffer, and still deliver every byte
    s.tagn += 1
    s.send(b"t%d FETCH 1:* (BODY.PEEK[])\r\n" % s.tagn)
    time.sleep(1)
    lines, tagged = s.until(b"t%d" % s.tagn, 30)
    got = [ln for ln in lines if b"FETCH" in ln]
    check(len(got) == n, "%d responses" % len(got))
    for i, ln in enumerate(got):
        check(msg(i, size) in ln, "message %d intact" % (i + 1))
    ok("FETCH of %d messages (%d MB) read slowly arrives whole" %
       (n, n * size // 1000000))
    s.ok('UNSELECT')
    s.close()


def t_streamed_append():
    s = Session(ARGS.port)
    fresh_mailbox(s, "stream")
    data = msg(7, 300000)
    s.tagn += 1
    tag = b"t%d" % s.tagn
    s.send(tag + b' APPEND "stream" (\\Flagged) {%d}\r\n' % len(data))
    check(s.line().startswith(b"+"), "continuation for a sync literal")
    for i in range(0, len(data), 7001):
        s.send(data[i:i + 7001])
    s.send(b"\r\n")
    lines, tagged = s.until(tag)
    check(b"APPENDUID" in tagged, "APPENDUID: %r" % tagged)
    s.ok('EXAMINE "stream"')
    lines = s.ok("FETCH 1 (FLAGS RFC822.SIZE BODY[])")
    check(data in lines[0] and b"\\Flagged" in lines[0] and
          b"RFC822.SIZE %d" % len(data) in lines[0], "stored byte-exact")
    ok("a 300 KB APPEND sent in small pieces is stored byte-exact")
    s.close()


def t_pipelining():
    s = Session(ARGS.port)
    s.send(b"".join(b"p%d NOOP\r\n" % i for i in range(300)))
    for i in range(300):
        ln = s.line()
        check(ln.startswith(b"p%d OK" % i), "answer %d in order: %r" % (i, ln))
    ok("300 pipelined commands answered in order")
    s.close()


def t_many_sessions_push():
    n = 200
    sessions = []
    for _ in range(n):
        s = Session(ARGS.port)
        s.ok("SELECT INBOX")
        s.send(b"i IDLE\r\n")
        check(s.line().startswith(b"+"), "idle")
        sessions.append(s)
    w = Session(ARGS.port)
    t0 = time.time()
    append(w, "INBOX", msg(99))
    seen = 0
    for s in sessions:
        ln = s.line(5)
        seen += ln.endswith(b"EXISTS")
    dt = time.time() - t0
    check(seen == n, "%d of %d saw EXISTS" % (seen, n))
    ok("%d idling sessions of one user all see an APPEND (%.0f ms)" %
       (n, dt * 1000))
    for s in sessions:
        s.close()
    w.close()


def t_limits():
    if not ARGS.limits_port:
        return
    p = ARGS.limits_port
    s = Session(p, login=False)
    check(b"LOGINDISABLED" in s.greeting, "LOGINDISABLED without TLS")
    lines, tagged = s.cmd("LOGIN %s %s" % (ARGS.user, ARGS.password))
    check(b"NO [PRIVACYREQUIRED]" in tagged, "plaintext refused: %r" % tagged)
    s.close()
    ok("plaintext_auth = no: LOGIN refused with PRIVACYREQUIRED")

    s = Session(p, login=False)
    t0 = time.time()
    with_timeout = s.line(5)
    check(with_timeout.startswith(b"* BYE") and time.time() - t0 < 3,
          "login timeout: %r" % with_timeout)
    ok("an unauthenticated client is dropped after login_timeout")

    s = Session(p, login=False)
    s.send(b"a " + b"x" * 5000 + b"\r\n")
    ln = s.line()
    check(ln.startswith(b"* BYE") or b"BAD" in ln, "long line: %r" % ln)
    ok("a line over max_line is refused")
    s.close()

    s = Session(p, login=False)
    s.send(b"a APPEND INBOX {2000000}\r\n")
    ln = s.line()
    check(b"NO" in ln or b"BAD" in ln, "huge literal: %r" % ln)
    lines, tagged = s.cmd("NOOP")
    check(b"OK" in tagged, "still usable")
    ok("a synchronizing literal over max_append is refused, the "
       "connection lives")
    s.close()


def t_auth_failures():
    s = Session(ARGS.port, login=False)
    t0 = time.time()
    other = None
    for i in range(3):
        lines, tagged = s.cmd("LOGIN %s wrong%d" % (ARGS.user, i))
        check(b"NO [AUTHENTICATIONFAILED]" in tagged, "failure %d: %r" %
              (i, tagged))
        if other is None:
            # a failed login delays only its own connection
            t1 = time.time()
            other = Session(ARGS.port)
            check(time.time() - t1 < 0.25, "another login was held up")
    check(time.time() - t0 >= 0.8, "the failures were not delayed")
    ln = s.line()
    check(ln.startswith(b"* BYE"), "closed after max_auth_failures: %r" % ln)
    ok("failed logins are delayed, closed after the third, and do not "
       "hold up others")
    b = Session(ARGS.port, login=False)
    b.ok("AUTHENTICATE PLAIN %s" % __import__("base64").b64encode(
        b"\0bob\0hunter2").decode())
    ok("AUTHENTICATE PLAIN with SASL-IR for a SHA512-CRYPT user")
    b.close()
    other.close()


def t_tls():
    if not ARGS.tls_port:
        return
    import imaplib
    import ssl
    ctx = ssl.create_default_context(cafile=ARGS.cafile)
    ctx.check_hostname = False
    m = imaplib.IMAP4_SSL("127.0.0.1", ARGS.tls_port, ssl_context=ctx)
    check("AUTH=PLAIN" in m.capabilities, "AUTH over TLS")
    m.login(ARGS.user, ARGS.password)
    typ, data = m.select("INBOX")
    check(typ == "OK", "SELECT over TLS")
    m.logout()
    ok("implicit TLS: login and SELECT")
    m = imaplib.IMAP4("127.0.0.1", ARGS.starttls_port)
    check("STARTTLS" in m.capabilities and "LOGINDISABLED" in
          m.capabilities, "STARTTLS offered, LOGIN disabled before it")
    m.starttls(ssl_context=ctx)
    check("AUTH=PLAIN" in m.capabilities, "AUTH after STARTTLS")
    m.login(ARGS.user, ARGS.password)
    m.logout()
    ok("STARTTLS, then login")
    # a client that speaks plain IMAP to the TLS port is dropped, and
    # the server goes on
    raw = socket.create_connection(("127.0.0.1", ARGS.tls_port), timeout=5)
    raw.sendall(b"a LOGIN x y\r\n")
    try:
        data = raw.recv(100)
    except OSError:
        data = b""
    check(not data.startswith(b"* OK"), "plain talk on the TLS port")
    raw.close()
    m = imaplib.IMAP4_SSL("127.0.0.1", ARGS.tls_port, ssl_context=ctx)
    m.logout()
    ok("plain IMAP on the TLS port is refused; the server goes on")


TESTS = [t_tls, t_auth_failures, t_push_from_dsync_save, t_expunge_rule, t_big_fetch_pauses,
         t_streamed_append, t_pipelining, t_many_sessions_push, t_limits]


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--limits-port", type=int)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--dsync", required=True)
    ap.add_argument("--store", required=True)
    ap.add_argument("--tls-port", type=int)
    ap.add_argument("--starttls-port", type=int)
    ap.add_argument("--cafile")
    ap.add_argument("-k")
    ARGS = ap.parse_args()
    for t in TESTS:
        if ARGS.k and ARGS.k not in t.__name__:
            continue
        try:
            t()
        except Exception as e:
            print("not ok - %s: %s: %s" % (t.__name__, type(e).__name__, e))
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
