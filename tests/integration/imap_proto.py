#!/usr/bin/env python3
"""imap_proto.py: an IMAP protocol conformance suite (Python 3 standard library).

Running it
==========

  imap_proto.py --host H --port P --user U --password PW \\
                [--user2 U2 --password2 PW2] [-k PATTERN] [-v] [--strict]

Each test prints one line, "PASS name", "FAIL name: reason" or
"SKIP name: reason", then a summary; the exit status is 0 only if no test
failed. -k runs the tests whose name contains PATTERN (several -k, or
comma-separated patterns, select more); -v prints every line sent (C:) and
received (S:). The server must offer LOGIN over plaintext (no LOGINDISABLED).

Every test works in fresh mailboxes with names unique to the run
("imapproto-<random>-NN..."), appends its own messages and deletes its
mailboxes and subscriptions afterwards. INBOX is only read, except by
rename_inbox, which renames it and then moves the messages back.

Against the reference server, Dovecot 2.3 (not part of `make check`):

  tests/tools/dovecot-imap -- tests/integration/imap_proto.py \\
      --host {host} --port {port} --user {user} --password {password} \\
      --user2 {user2} --password2 {password2}

tests/tools/dovecot-imap starts a private Dovecot (its own config, base_dir,
log and maildirs in a temporary directory; as root the mail processes run
as the system user "dsyncbench"), runs the command and stops Dovecot.
Expected there: every test passes, four of them with a DOVECOT_QUIRK note.
--list prints the tests; IMAP_PROTO_TIMES=1 prints each test's run time.

What is asserted
================

RFC 3501/9051 (IMAP4rev1/rev2) and the extension RFCs: what the RFCs
require, tolerant where they allow variation (order of untagged
responses, optional response codes, extra capabilities, human-readable
text). A test that needs a capability the server does not announce is
skipped. Where Dovecot 2.3 deviates from an RFC the assertion stays the
RFC's, with a documented allowance for that one deviation, used only when
the server's greeting says Dovecot (and never with --strict); the PASS line
then says "DOVECOT_QUIRK: ..." and the allowances are listed in QUIRKS
below.

Two things are deliberately not asserted because the RFCs allow them:
pipelined commands that do not depend on each other may be answered out of
order (RFC 9051 5.5; Dovecot does, the suite prints a note), and a server
may close the connection with BYE after repeated bad commands before login
(Dovecot does after 3; the suite reconnects).
"""
import argparse
import base64
import datetime
import fnmatch
import os
import random
import re
import socket
import sys
import time
import traceback
import zlib

# Dovecot deviations from the RFCs that the suite tolerates for Dovecot only.
QUIRKS = {
    "rename-inbox": (
        "RFC 3501 6.3.5 / RFC 9051 6.3.6: RENAME INBOX is permitted and moves its "
        "messages to the new name; Dovecot 2.3 answers NO [CANNOT]"),
    "section-part-zero": (
        "RFC 3501/9051 grammar: section-part is nz-number, BODY[1.0] is BAD; "
        "Dovecot 2.3 answers OK"),
    "lenient-arguments": (
        "RFC 3501/9051 grammar: extra arguments (NOOP x, SELECT INBOX junk, "
        "NAMESPACE x, CAPABILITY x) and missing ones (ENABLE, ID) are BAD; "
        "Dovecot 2.3 ignores them and answers OK"),
    "enable-before-login": (
        "RFC 5161 3.1: ENABLE is valid only in the authenticated state; "
        "Dovecot 2.3 answers OK (\"ignored\") before login"),
}

PATIENCE = float(os.environ.get("IMAP_PROTO_TIMEOUT", "10"))   # seconds per response
PUSH_WAIT = 2.0                                                 # IDLE push deadline

CRLF = b"\r\n"


class Fail(Exception):
    pass


class Skip(Exception):
    pass


class Timeout(Fail):
    pass


class Eof(Fail):
    pass


# --------------------------------------------------------------------------
# Response parsing

class Atom(str):
    """An IMAP atom (or number) in a parsed response; strings are bytes."""


def s(v):
    """A parsed value as text: atoms as they are, strings decoded, NIL as None."""
    if v is None:
        return None
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


class Parser:
    def __init__(self, b, i=0):
        self.b = b
        self.i = i

    def eof(self):
        return self.i >= len(self.b) or self.b[self.i:self.i + 2] == CRLF

    def sp(self):
        while self.i < len(self.b) and self.b[self.i] == 0x20:
            self.i += 1

    def values(self, until=None):
        out = []
        while True:
            self.sp()
            if self.eof():
                if until:
                    raise Fail(f"unterminated list in {self.b[:200]!r}")
                return out
            if until and self.b[self.i] == until:
                self.i += 1
                return out
            out.append(self.value())

    def value(self):
        b = self.b
        c = b[self.i]
        if c == 0x28:                       # (
            self.i += 1
            return self.values(until=0x29)
        if c == 0x22:                       # "
            self.i += 1
            out = bytearray()
            while True:
                if self.i >= len(b):
                    raise Fail("unterminated quoted string")
                ch = b[self.i]
                if ch == 0x5c:
                    out.append(b[self.i + 1])
                    self.i += 2
                    continue
                self.i += 1
                if ch == 0x22:
                    return bytes(out)
                out.append(ch)
        m = re.compile(rb"~?\{(\d+)\+?\}\r\n").match(b, self.i)
        if m:
            n = int(m.group(1))
            self.i = m.end() + n
            return b[m.end():m.end() + n]
        start = self.i
        while self.i < len(b):
            ch = b[self.i]
            if ch == 0x5b:                  # [ ... ] may hold spaces and parens
                j = b.find(b"]", self.i)
                if j < 0:
                    raise Fail(f"unterminated [ in {b[start:start + 100]!r}")
                self.i = j + 1
                continue
            if ch in (0x20, 0x28, 0x29, 0x0d, 0x0a):
                break
            self.i += 1
        if self.i == start:
            raise Fail(f"unexpected byte {b[start:start + 1]!r} in {b[:200]!r}")
        a = b[start:self.i].decode("utf-8", "replace")
        if a.upper() == "NIL":
            return None
        return Atom(a)


STATUS_WORDS = ("OK", "NO", "BAD", "BYE", "PREAUTH")


class Resp:
    """One server response: tag is '*', '+' or the command's tag."""

    def __init__(self, raw):
        self.raw = raw
        self.tag = None
        self.kind = None
        self.num = None
        self.code = None          # text between [ and ], if any
        self.code_name = None
        self.code_args = []
        self.text = ""
        self.data = []
        self._parse()

    def line(self):
        t = self.raw.decode("utf-8", "replace").rstrip("\r\n")
        return t if len(t) < 300 else t[:300] + "..."

    def __repr__(self):
        return self.line()

    def _status(self, rest):
        rest = rest.lstrip(b" ")
        if rest.startswith(b"["):
            j = rest.find(b"]")
            if j > 0:
                self.code = rest[1:j].decode("utf-8", "replace")
                parts = self.code.split(None, 1)
                self.code_name = parts[0].upper() if parts else ""
                if len(parts) > 1:
                    try:
                        self.code_args = Parser(parts[1].encode()).values()
                    except Fail:
                        self.code_args = [parts[1]]
                rest = rest[j + 1:]
        self.text = rest.decode("utf-8", "replace").strip()

    def _parse(self):
        raw = self.raw
        if raw.startswith(b"+"):
            self.tag = "+"
            self.kind = "+"
            self.text = raw[1:].decode("utf-8", "replace").strip()
            return
        sp = raw.find(b" ")
        if sp <= 0:
            raise Fail(f"response without tag and type: {raw[:200]!r}")
        self.tag = raw[:sp].decode("utf-8", "replace")
        p = Parser(raw, sp + 1)
        if self.tag != "*":
            m = re.compile(rb"([A-Za-z]+)").match(raw, sp + 1)
            if not m or m.group(1).upper().decode() not in ("OK", "NO", "BAD"):
                raise Fail(f"tagged response is not OK/NO/BAD: {raw[:200]!r}")
            self.kind = m.group(1).upper().decode()
            self._status(raw[m.end():])
            return
        first = p.value()
        if isinstance(first, Atom) and first.isdigit():
            self.num = int(first)
            p.sp()
            self.kind = str(p.value()).upper()
            self.data = p.values()
            return
        if not isinstance(first, Atom):
            raise Fail(f"untagged response without a type: {raw[:200]!r}")
        self.kind = first.upper()
        if self.kind in STATUS_WORDS:
            self._status(raw[p.i:])
        else:
            self.data = p.values()


def fetch_items(resp):
    """{ITEM: value} of a FETCH response; item names upper-cased."""
    if not resp.data or not isinstance(resp.data[0], list):
        raise Fail(f"malformed FETCH response: {resp.line()}")
    lst = resp.data[0]
    if len(lst) % 2:
        raise Fail(f"odd number of FETCH items: {resp.line()}")
    out = {}
    for k, v in zip(lst[0::2], lst[1::2]):
        out[str(k).upper()] = v
    return out


def parse_set(text):
    """Expand a sequence/UID set ("1:3,7") into a list in its order."""
    out = []
    for part in str(text).split(","):
        if ":" in part:
            a, b = part.split(":")
            a, b = int(a), int(b)
            lo, hi = min(a, b), max(a, b)
            out.extend(range(lo, hi + 1))
        else:
            out.append(int(part))
    return out


def quote(x):
    return '"' + x.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --------------------------------------------------------------------------
# Connection

class Lit:
    """A literal in a command: synchronizing unless sync=False ({n+})."""

    def __init__(self, data, sync=True):
        self.data = data if isinstance(data, bytes) else data.encode()
        self.sync = sync


class Result:
    def __init__(self, tagged, untagged, conts):
        self.resp = tagged
        self.untagged = untagged
        self.conts = conts

    @property
    def status(self):
        return self.resp.kind

    @property
    def code(self):
        return self.resp.code_name

    def all(self, kind):
        return [r for r in self.untagged if r.kind == kind.upper()]

    def one(self, kind):
        r = self.all(kind)
        if len(r) != 1:
            raise Fail(f"expected one untagged {kind}, got {len(r)}: {self.resp.line()}")
        return r[0]

    def codes(self):
        """Response codes of the untagged status responses and the tagged one."""
        out = {}
        for r in self.untagged + [self.resp]:
            if r.code_name:
                out.setdefault(r.code_name, r)
        return out

    def fetches(self):
        """{seq: {ITEM: value}} merged over all untagged FETCH responses."""
        out = {}
        for r in self.all("FETCH"):
            out.setdefault(r.num, {}).update(fetch_items(r))
        return out

    def search(self):
        """Numbers of an untagged SEARCH (or ESEARCH ALL) response."""
        nums = []
        found = False
        for r in self.untagged:
            if r.kind == "SEARCH":
                found = True
                for v in r.data:
                    if isinstance(v, list):
                        continue          # (MODSEQ n) of CONDSTORE
                    nums.append(int(v))
            elif r.kind == "ESEARCH":
                found = True
                d = esearch_items(r)
                if "ALL" in d:
                    nums.extend(parse_set(d["ALL"]))
        if not found:
            raise Fail(f"no SEARCH response: {self.resp.line()}")
        return sorted(nums)


def esearch_items(resp):
    """{NAME: value} of an ESEARCH response; TAG and UID included."""
    d = {}
    data = list(resp.data)
    if data and isinstance(data[0], list):
        corr = data.pop(0)
        if len(corr) == 2 and str(corr[0]).upper() == "TAG":
            d["TAG"] = s(corr[1])
    if data and str(data[0]).upper() == "UID":
        d["UID"] = True
        data.pop(0)
    if len(data) % 2:
        raise Fail(f"malformed ESEARCH: {resp.line()}")
    for k, v in zip(data[0::2], data[1::2]):
        d[str(k).upper()] = v
    return d


class Conn:
    def __init__(self, suite, who="c"):
        self.suite = suite
        self.who = who
        self.verbose = suite.verbose
        try:
            self.sock = socket.create_connection((suite.host, suite.port), timeout=PATIENCE)
        except OSError as e:
            raise Fail(f"cannot connect to {suite.host}:{suite.port}: {e}")
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rbuf = b""
        self.inflate = None
        self.deflate = None
        self.ntag = 0
        self.closed = False
        self.greeting = None

    # raw I/O
    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        if self.verbose:
            for ln in data.split(b"\r\n"):
                if ln:
                    print(f"    {self.who} C: {ln[:200]!r}", flush=True)
        if self.deflate:
            data = self.deflate.compress(data) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise Eof(f"send failed: {e}")

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise Timeout("timed out waiting for the server")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise Timeout("timed out waiting for the server")
        except OSError as e:
            raise Eof(f"connection error: {e}")
        if not data:
            raise Eof("connection closed by the server")
        if self.inflate:
            data = self.inflate.decompress(data)
        self.rbuf += data

    def _line(self, deadline):
        while True:
            j = self.rbuf.find(b"\n")
            if j >= 0:
                ln, self.rbuf = self.rbuf[:j + 1], self.rbuf[j + 1:]
                if not ln.endswith(CRLF):
                    raise Fail(f"line not ended by CRLF: {ln[:200]!r}")
                return ln
            if len(self.rbuf) > 10 << 20:
                raise Fail("response line over 10 MB")
            self._fill(deadline)

    def _exact(self, n, deadline):
        while len(self.rbuf) < n:
            self._fill(deadline)
        d, self.rbuf = self.rbuf[:n], self.rbuf[n:]
        return d

    def read(self, timeout=None):
        """Read one complete response (with its literals)."""
        deadline = time.monotonic() + (PATIENCE if timeout is None else timeout)
        raw = b""
        while True:
            ln = self._line(deadline)
            raw += ln
            m = re.search(rb"~?\{(\d+)\}\r\n$", ln)
            if m:
                raw += self._exact(int(m.group(1)), deadline)
                continue
            break
        if self.verbose:
            print(f"    {self.who} S: {raw[:200]!r}", flush=True)
        return Resp(raw)

    def tag(self):
        self.ntag += 1
        return f"{self.who}{self.ntag:03d}"

    # commands
    def start(self, *parts, tag=None):
        """Send a command; synchronizing literals wait for '+'. Returns
        (tag, early Result or None, untagged seen, continuations seen)."""
        tag = tag or self.tag()
        buf = (tag + " ").encode()
        untagged, conts = [], []
        for p in parts:
            if isinstance(p, Lit):
                buf += b"{%d%s}\r\n" % (len(p.data), b"" if p.sync else b"+")
                if p.sync:
                    self.send(buf)
                    buf = b""
                    while True:
                        r = self.read()
                        if r.tag == "+":
                            conts.append(r)
                            break
                        if r.tag == tag:
                            return tag, Result(r, untagged, conts), untagged, conts
                        untagged.append(r)
                buf += p.data
            else:
                buf += p.encode() if isinstance(p, str) else p
        self.send(buf + CRLF)
        return tag, None, untagged, conts

    def wait(self, tag, untagged=None, conts=None, timeout=None):
        untagged = [] if untagged is None else untagged
        conts = [] if conts is None else conts
        while True:
            r = self.read(timeout)
            if r.tag == tag:
                return Result(r, untagged, conts)
            if r.tag == "+":
                conts.append(r)
                raise Fail(f"unexpected continuation request: {r.line()}")
            if r.tag != "*":
                raise Fail(f"response with a foreign tag {r.tag!r}: {r.line()}")
            untagged.append(r)

    def cmd(self, *parts, tag=None, timeout=None):
        tag, early, untagged, conts = self.start(*parts, tag=tag)
        if early:
            return early
        return self.wait(tag, untagged, conts, timeout)

    def ok(self, *parts, **kw):
        r = self.cmd(*parts, **kw)
        if r.status != "OK":
            raise Fail(f"{cmdtext(parts)}: expected OK, got: {r.resp.line()}")
        return r

    def no(self, *parts, allow_bad=False, **kw):
        r = self.cmd(*parts, **kw)
        want = ("NO", "BAD") if allow_bad else ("NO",)
        if r.status not in want:
            raise Fail(f"{cmdtext(parts)}: expected {'/'.join(want)}, got: {r.resp.line()}")
        return r

    def bad(self, *parts, allow_no=False, **kw):
        r = self.cmd(*parts, **kw)
        want = ("BAD", "NO") if allow_no else ("BAD",)
        if r.status not in want:
            raise Fail(f"{cmdtext(parts)}: expected {'/'.join(want)}, got: {r.resp.line()}")
        return r

    def close(self):
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass

    def logout(self):
        if self.closed:
            return
        try:
            self.send(self.tag() + " LOGOUT\r\n")
            self.sock.settimeout(0.5)
            self.sock.recv(4096)
        except (OSError, Fail):
            pass
        self.close()


def cmdtext(parts):
    out = ""
    for p in parts:
        if isinstance(p, Lit):
            out += "{%d}" % len(p.data)
        else:
            out += p if isinstance(p, str) else p.decode("utf-8", "replace")
    return out if len(out) < 120 else out[:120] + "..."


# --------------------------------------------------------------------------
# Messages

def message(subject="test message", frm="Alice Example <alice@example.org>",
            to="Bob <bob@example.net>", date="Mon, 07 Dec 2020 10:00:00 +0000",
            body="Hello.\r\n", headers=(), msgid=None):
    h = [f"From: {frm}", f"To: {to}", f"Subject: {subject}", f"Date: {date}"]
    if msgid:
        h.append(f"Message-ID: {msgid}")
    h.extend(headers)
    if not any(x.lower().startswith("content-type:") for x in headers):
        h.append("MIME-Version: 1.0")
        h.append("Content-Type: text/plain; charset=us-ascii")
    text = "\r\n".join(h) + "\r\n\r\n" + body
    return text.encode("utf-8")


MULTI_HEADER = (
    "From: Alice Example <alice@example.org>\r\n"
    "To: Bob <bob@example.net>, carol@example.com\r\n"
    "Subject: Multipart test\r\n"
    "Date: Mon, 7 Dec 2020 10:00:00 +0100\r\n"
    "Message-ID: <multi-1@example.org>\r\n"
    "In-Reply-To: <parent-1@example.org>\r\n"
    "X-Custom: Hello-Header\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    "\r\n")
PART_PLAIN = "Plain body line 1\r\nPlain body line 2\r\n"
PART_HTML = "<p>HTML body</p>\r\n"
PART_BIN = bytes(range(10))
PART2_MIME = ("Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
              "Content-Transfer-Encoding: base64\r\n"
              "Content-Disposition: attachment; filename=\"data.bin\"\r\n"
              "\r\n")
PART2_BODY = base64.b64encode(PART_BIN).decode() + "\r\n"
MULTI_TEXT = (
    "This is a multi-part message.\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative; boundary=\"inner\"\r\n"
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "\r\n" + PART_PLAIN +
    "\r\n--inner\r\n"
    "Content-Type: text/html; charset=us-ascii\r\n"
    "\r\n" + PART_HTML +
    "\r\n--inner--\r\n"
    "\r\n--outer\r\n" + PART2_MIME + PART2_BODY +
    "\r\n--outer--\r\n")
MULTI = (MULTI_HEADER + MULTI_TEXT).encode()

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def parse_internaldate(v):
    m = re.fullmatch(r"\s?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)", s(v))
    if not m:
        raise Fail(f"INTERNALDATE not in date-time form: {s(v)!r}")
    d, mon, y, hh, mm, ss, sg, zh, zm = m.groups()
    off = (int(zh) * 60 + int(zm)) * (1 if sg == "+" else -1)
    tz = datetime.timezone(datetime.timedelta(minutes=off))
    return datetime.datetime(int(y), MONTHS.index(mon.capitalize()) + 1, int(d),
                             int(hh), int(mm), int(ss), tzinfo=tz)


def flagset(v):
    if not isinstance(v, list):
        raise Fail(f"FLAGS is not a list: {v!r}")
    return {str(f).lower() for f in v}


# --------------------------------------------------------------------------
# The suite

TESTS = []


def test(name, needs=(), prelogin=False):
    def deco(fn):
        TESTS.append((name, fn, tuple(needs), prelogin))
        return fn
    return deco


class Suite:
    def __init__(self, args):
        self.host = args.host
        self.port = args.port
        self.user = args.user
        self.password = args.password
        self.user2 = args.user2
        self.password2 = args.password2
        self.verbose = args.verbose
        self.strict = args.strict
        self.prefix = "imapproto-%06x-" % random.randrange(1 << 24)
        self.precaps = set()
        self.caps = set()
        self.delim = "/"
        self.dovecot = False
        self.admin = None

    def discover(self):
        c = Conn(self, "init")
        g = c.read()
        if g.tag != "*" or g.kind not in ("OK", "PREAUTH"):
            raise Fail(f"bad greeting: {g.line()}")
        self.dovecot = "dovecot" in g.text.lower()
        r = c.ok("CAPABILITY")
        self.precaps = {str(x).upper() for x in r.one("CAPABILITY").data}
        if "LOGINDISABLED" in self.precaps:
            raise Fail("the server announces LOGINDISABLED: the suite needs plaintext LOGIN")
        c.ok("LOGIN ", quote(self.user), " ", quote(self.password))
        r = c.ok("CAPABILITY")
        self.caps = {str(x).upper() for x in r.one("CAPABILITY").data}
        r = c.ok('LIST "" ""')
        lst = r.all("LIST")
        if lst and lst[0].data and len(lst[0].data) >= 2 and lst[0].data[1] is not None:
            self.delim = s(lst[0].data[1])
        self.admin = c

    def has(self, cap):
        return cap.upper() in self.caps

    def admin_conn(self):
        if self.admin is None or self.admin.closed:
            c = Conn(self, "adm")
            c.read()
            c.ok("LOGIN ", quote(self.user), " ", quote(self.password))
            self.admin = c
        return self.admin

    def cleanup(self, pattern):
        """Delete every mailbox and subscription matching pattern."""
        try:
            c = self.admin_conn()
            for _ in range(4):
                r = c.cmd("LIST ", quote(""), " ", quote(pattern))
                names = [s(x.data[2]) for x in r.all("LIST")]
                if not names:
                    break
                names.sort(key=lambda n: (-n.count(self.delim), -len(n)))
                for n in names:
                    c.cmd("DELETE ", quote(n))
            r = c.cmd("LSUB ", quote(""), " ", quote(pattern))
            for x in r.all("LSUB"):
                c.cmd("UNSUBSCRIBE ", quote(s(x.data[2])))
        except Fail as e:
            if self.admin:
                self.admin.close()
            self.admin = None
            print(f"  (cleanup of {pattern}: {e})", flush=True)


class T:
    """What a test works with."""

    def __init__(self, suite, name, idx):
        self.suite = suite
        self.name = name
        self.base = f"{suite.prefix}{idx:02d}"
        self.conns = []
        self.quirks = []
        self.nbox = 0

    @property
    def delim(self):
        return self.suite.delim

    def has(self, cap):
        return self.suite.has(cap)

    def need(self, *caps):
        for cap in caps:
            if not self.has(cap):
                raise Skip(f"server does not announce {cap}")

    def connect(self):
        c = Conn(self.suite, chr(ord("a") + len(self.conns) % 26))
        self.conns.append(c)
        g = c.read()
        if g.tag != "*" or g.kind != "OK":
            raise Fail(f"greeting is not '* OK': {g.line()}")
        c.greeting = g
        return c

    def login(self, second=False):
        c = self.connect()
        if second:
            if not self.suite.user2:
                raise Skip("no --user2 given")
            c.ok("LOGIN ", quote(self.suite.user2), " ", quote(self.suite.password2))
        else:
            c.ok("LOGIN ", quote(self.suite.user), " ", quote(self.suite.password))
        return c

    def mbox(self, suffix=None):
        """A fresh mailbox name unique to this run and test (not created)."""
        if suffix is None:
            self.nbox += 1
            suffix = f"m{self.nbox}"
        return f"{self.base}{suffix}"

    def create(self, c, suffix=None):
        name = self.mbox(suffix)
        c.ok("CREATE ", quote(name))
        return name

    def append(self, c, mbox, msg, flags=None, date=None):
        """APPEND; returns the UID from APPENDUID, or None without UIDPLUS."""
        parts = ["APPEND ", quote(mbox)]
        if flags is not None:
            parts.append(" (" + " ".join(flags) + ")")
        if date:
            parts.append(" " + quote(date))
        parts.append(" ")
        parts.append(Lit(msg, sync=not (self.has("LITERAL+"))))
        r = c.ok(*parts)
        if r.resp.code_name == "APPENDUID" and len(r.resp.code_args) >= 2:
            return int(r.resp.code_args[1])
        return None

    def fill(self, c, mbox, msgs):
        """APPEND several (msg, flags, date) tuples or bare messages."""
        for m in msgs:
            if isinstance(m, tuple):
                self.append(c, mbox, *m)
            else:
                self.append(c, mbox, m)

    def select(self, c, mbox, examine=False, extra=""):
        r = c.ok("EXAMINE " if examine else "SELECT ", quote(mbox), extra)
        return r

    def uids(self, c):
        """UIDs of the selected mailbox, in sequence order."""
        return c.ok("UID SEARCH ALL").search()

    def check(self, cond, msg):
        if not cond:
            raise Fail(msg)

    def eq(self, got, want, what):
        if got != want:
            raise Fail(f"{what}: got {got!r}, want {want!r}")

    def quirk(self, key):
        """True (and noted) if the server is Dovecot and quirk key is allowed."""
        if self.suite.dovecot and not self.suite.strict:
            if key not in self.quirks:
                self.quirks.append(key)
            return True
        return False

    def finish(self):
        for c in self.conns:
            c.logout()
        self.suite.cleanup(self.base + "*")


def list_names(r, kind="LIST"):
    """{name: set of lower-cased attributes} of LIST/LSUB responses."""
    out = {}
    for x in r.all(kind):
        if len(x.data) < 3:
            raise Fail(f"malformed {kind}: {x.line()}")
        out[s(x.data[2])] = {str(a).lower() for a in (x.data[0] or [])}
    return out


def list_ext(r):
    """{name: extended data list} of LIST responses (RFC 5258)."""
    out = {}
    for x in r.all("LIST"):
        out[s(x.data[2])] = x.data[3] if len(x.data) > 3 else None
    return out


def status_items(resp):
    if len(resp.data) < 2 or not isinstance(resp.data[1], list):
        raise Fail(f"malformed STATUS: {resp.line()}")
    lst = resp.data[1]
    return {str(k).upper(): int(v) for k, v in zip(lst[0::2], lst[1::2])}


def select_info(r):
    """What a SELECT/EXAMINE told: exists, flags, uidvalidity, ..."""
    info = {"codes": r.codes()}
    for x in r.untagged:
        if x.kind == "EXISTS":
            info["exists"] = x.num
        elif x.kind == "RECENT":
            info["recent"] = x.num
        elif x.kind == "FLAGS":
            info["flags"] = x.data[0] if x.data else None
    c = info["codes"]
    for k in ("UIDVALIDITY", "UIDNEXT", "HIGHESTMODSEQ", "UNSEEN"):
        if k in c and c[k].code_args:
            info[k.lower()] = int(c[k].code_args[0])
    if "PERMANENTFLAGS" in c:
        a = c["PERMANENTFLAGS"].code_args
        info["permanentflags"] = a[0] if a and isinstance(a[0], list) else []
    return info


# --------------------------------------------------------------------------
# Tests: greeting, authentication, states

def caps_of(r):
    return {str(x).upper() for x in r.one("CAPABILITY").data}


@test("greeting_capability", prelogin=True)
def t_greeting(t):
    c = t.connect()
    g = c.greeting
    if g.code_name == "CAPABILITY":
        caps = {str(x).upper() for x in g.code_args}
        t.check("IMAP4REV1" in caps or "IMAP4REV2" in caps,
                f"greeting CAPABILITY lacks IMAP4rev1/IMAP4rev2: {g.line()}")
    r = c.ok("CAPABILITY")
    caps = caps_of(r)
    t.check("IMAP4REV1" in caps or "IMAP4REV2" in caps,
            f"CAPABILITY lacks IMAP4rev1/IMAP4rev2: {r.one('CAPABILITY').line()}")
    # RFC 3501 6.2.2 / RFC 9051 6.2.2: AUTH=PLAIN is required over TLS; here
    # any AUTH= or plain LOGIN must be usable.
    t.check("LOGINDISABLED" not in caps, "LOGINDISABLED announced on this connection")


@test("login_good", prelogin=True)
def t_login_good(t):
    c = t.connect()
    r = c.ok("LOGIN ", quote(t.suite.user), " ", quote(t.suite.password))
    if r.resp.code_name == "CAPABILITY":
        caps = {str(x).upper() for x in r.resp.code_args}
        t.check("IMAP4REV1" in caps or "IMAP4REV2" in caps, "post-login CAPABILITY code lacks IMAP4rev1")
    caps = caps_of(c.ok("CAPABILITY"))
    t.check("IMAP4REV1" in caps or "IMAP4REV2" in caps, "CAPABILITY after login lacks IMAP4rev1")
    # A second LOGIN in the authenticated state is a protocol error.
    c.bad("LOGIN ", quote(t.suite.user), " ", quote(t.suite.password), allow_no=True)
    c.ok("NOOP")


AUTH_CODES = {"AUTHENTICATIONFAILED", "AUTHORIZATIONFAILED", "UNAVAILABLE", "EXPIRED",
              "PRIVACYREQUIRED", "CONTACTADMIN", "LIMIT"}


def check_auth_failure(t, r, what):
    t.check(r.status == "NO", f"{what}: expected NO, got {r.resp.line()}")
    code = r.resp.code_name
    if code:
        t.check(code in AUTH_CODES, f"{what}: unexpected response code [{r.resp.code}]")
    if t.has("IMAP4REV2") or "IMAP4REV2" in t.suite.precaps:
        # RFC 9051 7.1: the code for exactly this case.
        t.check(code == "AUTHENTICATIONFAILED",
                f"{what}: want [AUTHENTICATIONFAILED], got {r.resp.line()}")


@test("login_bad", prelogin=True)
def t_login_bad(t):
    c = t.connect()
    r = c.cmd("LOGIN ", quote(t.suite.user), " ", quote(t.suite.password + "-wrong"))
    check_auth_failure(t, r, "LOGIN with a wrong password")
    r = c.cmd("LOGIN ", quote("no-such-user-" + t.base), " ", quote("x"))
    check_auth_failure(t, r, "LOGIN of an unknown user")
    # still not authenticated, and a good LOGIN works on the same connection
    c.bad("SELECT INBOX", allow_no=True)
    c.ok("LOGIN ", quote(t.suite.user), " ", quote(t.suite.password))
    c.ok("SELECT INBOX")


def b64(x):
    return base64.b64encode(x.encode() if isinstance(x, str) else x).decode()


@test("authenticate_plain", prelogin=True)
def t_auth_plain(t):
    c = t.connect()
    if "AUTH=PLAIN" not in t.suite.precaps:
        raise Skip("AUTH=PLAIN not announced before login")
    tag = c.tag()
    c.send(f"{tag} AUTHENTICATE PLAIN\r\n")
    r = c.read()
    t.check(r.tag == "+", f"AUTHENTICATE PLAIN: want a '+' continuation, got {r.line()}")
    c.send(b64(f"\0{t.suite.user}\0{t.suite.password}") + "\r\n")
    r = c.wait(tag)
    t.eq(r.status, "OK", "AUTHENTICATE PLAIN result")
    c.ok("SELECT INBOX")
    # wrong password, on a new connection
    c = t.connect()
    tag = c.tag()
    c.send(f"{tag} AUTHENTICATE PLAIN\r\n")
    r = c.read()
    t.check(r.tag == "+", f"want '+', got {r.line()}")
    c.send(b64(f"\0{t.suite.user}\0wrong-{t.suite.password}") + "\r\n")
    check_auth_failure(t, c.wait(tag), "AUTHENTICATE PLAIN with a wrong password")


@test("authenticate_plain_sasl_ir", prelogin=True)
def t_auth_plain_ir(t):
    if "SASL-IR" not in t.suite.precaps or "AUTH=PLAIN" not in t.suite.precaps:
        raise Skip("SASL-IR and AUTH=PLAIN not announced")
    c = t.connect()
    r = c.cmd("AUTHENTICATE PLAIN " + b64(f"\0{t.suite.user}\0{t.suite.password}"))
    t.eq(r.status, "OK", "AUTHENTICATE PLAIN with an initial response")
    t.check(not r.conts, "no continuation expected with SASL-IR")
    c.ok("SELECT INBOX")
    c = t.connect()
    r = c.cmd("AUTHENTICATE PLAIN " + b64(f"\0{t.suite.user}\0bad{t.suite.password}"))
    check_auth_failure(t, r, "AUTHENTICATE PLAIN (SASL-IR) with a wrong password")


@test("authenticate_login", prelogin=True)
def t_auth_login(t):
    if "AUTH=LOGIN" not in t.suite.precaps:
        raise Skip("AUTH=LOGIN not announced")
    c = t.connect()
    tag = c.tag()
    c.send(f"{tag} AUTHENTICATE LOGIN\r\n")
    r = c.read()
    t.check(r.tag == "+", f"want '+' (user name prompt), got {r.line()}")
    c.send(b64(t.suite.user) + "\r\n")
    r = c.read()
    t.check(r.tag == "+", f"want '+' (password prompt), got {r.line()}")
    c.send(b64(t.suite.password) + "\r\n")
    r = c.wait(tag)
    t.eq(r.status, "OK", "AUTHENTICATE LOGIN")
    c.ok("SELECT INBOX")


@test("authenticate_cancel", prelogin=True)
def t_auth_cancel(t):
    if "AUTH=PLAIN" not in t.suite.precaps:
        raise Skip("AUTH=PLAIN not announced")
    c = t.connect()
    tag = c.tag()
    c.send(f"{tag} AUTHENTICATE PLAIN\r\n")
    r = c.read()
    t.check(r.tag == "+", f"want '+', got {r.line()}")
    c.send("*\r\n")
    r = c.wait(tag)
    # RFC 3501/9051 6.2.2: the server MUST reject a cancelled exchange with BAD.
    t.eq(r.status, "BAD", "AUTHENTICATE cancelled with '*'")
    # an unknown mechanism is refused (NO; BAD tolerated as argument error)
    r = c.cmd("AUTHENTICATE X-NO-SUCH-MECHANISM")
    t.check(r.status in ("NO", "BAD"), f"unknown SASL mechanism: {r.resp.line()}")
    c.bad("SELECT INBOX", allow_no=True)
    c.ok("LOGIN ", quote(t.suite.user), " ", quote(t.suite.password))


@test("commands_before_login", prelogin=True)
def t_before_login(t):
    # a server may close the connection (with BYE) after repeated errors
    # (Dovecot does after 3): then the command is retried on a new one
    cmds = ["SELECT INBOX", "EXAMINE INBOX", 'LIST "" "*"', "STATUS INBOX (MESSAGES)",
            "CREATE " + t.mbox(), "DELETE INBOX", "SUBSCRIBE INBOX", 'LSUB "" "*"',
            "FETCH 1 FLAGS", "UID SEARCH ALL", "EXPUNGE", "CLOSE", "ENABLE CONDSTORE",
            "IDLE", "NAMESPACE", "GETMETADATA \"\" /private/comment"]
    c = None
    for cmd in cmds:
        for attempt in (1, 2):
            if c is None or c.closed:
                c = t.connect()
            try:
                r = c.cmd(cmd)
                break
            except Eof:
                c.close()
                if attempt == 2:
                    raise Fail(f"{cmd} before login on a new connection: connection closed")
        if r.status == "OK" and cmd.startswith("ENABLE") and t.quirk("enable-before-login"):
            continue
        t.check(r.status in ("BAD", "NO"), f"{cmd} before login: {r.resp.line()}")
        t.check(not r.all("LIST") and not r.all("STATUS") and not r.all("EXISTS"),
                f"{cmd} before login returned data")
    c = t.connect()
    c.ok("NOOP")
    c.ok("LOGIN ", quote(t.suite.user), " ", quote(t.suite.password))
    r = c.ok('LIST "" ', quote(t.base + "*"))
    t.check(not r.all("LIST"), "CREATE before login created a mailbox")


@test("noop", prelogin=True)
def t_noop(t):
    c = t.connect()
    c.ok("NOOP")
    c.ok("LOGIN ", quote(t.suite.user), " ", quote(t.suite.password))
    c.ok("NOOP")
    c.ok("SELECT INBOX")
    c.ok("NOOP")
    c.ok("noop")          # commands are case-insensitive


def check_logout(t, c):
    tag = c.tag()
    c.send(f"{tag} LOGOUT\r\n")
    saw_bye = False
    while True:
        r = c.read()
        if r.tag == "*" and r.kind == "BYE":
            saw_bye = True
            continue
        if r.tag == tag:
            break
        t.check(r.tag == "*", f"unexpected response to LOGOUT: {r.line()}")
    t.check(saw_bye, "LOGOUT: no untagged BYE before the tagged OK")
    t.eq(r.kind, "OK", "LOGOUT result")
    try:
        extra = c.read(timeout=3)
        raise Fail(f"data after LOGOUT completed: {extra.line()}")
    except Eof:
        pass
    except Timeout:
        raise Fail("the server did not close the connection after LOGOUT")


@test("logout", prelogin=True)
def t_logout(t):
    check_logout(t, t.connect())
    c = t.login()
    check_logout(t, c)
    c = t.login()
    c.ok("SELECT INBOX")
    check_logout(t, c)


# --------------------------------------------------------------------------
# Tests: mailboxes

def lst(c, ref, pat, kind="LIST", extra=""):
    return c.ok(f"{kind} ", quote(ref), " ", quote(pat), extra)


@test("create_delete")
def t_create_delete(t):
    c = t.login()
    a = t.create(c)
    names = list_names(lst(c, "", a))
    t.check(a in names, f"LIST does not show the created {a}")
    r = c.no("CREATE ", quote(a))              # already exists
    c.no("CREATE INBOX")
    c.no("CREATE inbox")                        # INBOX is case-insensitive
    c.ok("DELETE ", quote(a))
    t.check(a not in list_names(lst(c, "", a)), "LIST still shows the deleted mailbox")
    c.no("DELETE ", quote(a))
    c.no("DELETE INBOX")
    t.check("INBOX" in list_names(lst(c, "", "INBOX")), "INBOX gone after DELETE INBOX")
    # a mailbox name with a trailing delimiter: the mailbox is created
    b = t.mbox()
    c.ok("CREATE ", quote(b + t.delim))
    t.check(b in list_names(lst(c, "", b)), f"CREATE {b}{t.delim} did not create {b}")
    # modified UTF-7 names round-trip (RFC 3501 5.1.3): "Gr\u00fc\u00dfe"
    u = t.mbox("Gr&APwA3w-e")
    c.ok("CREATE ", quote(u))
    t.check(u in list_names(lst(c, "", t.base + "Gr*")), f"LIST does not show {u}")
    c.ok("SELECT ", quote(u))


@test("create_hierarchy")
def t_create_hier(t):
    c = t.login()
    d = t.delim
    top = t.mbox()
    deep = d.join([top, "b", "c"])
    c.ok("CREATE ", quote(deep))
    names = list_names(lst(c, "", top + "*"))
    t.check(deep in names, f"LIST does not show {deep}: {sorted(names)}")
    # '%' at the end matches levels that exist only as parents: they are
    # listed (as \Noselect if not selectable), RFC 3501 6.3.8 / 9051 6.3.9
    r = lst(c, "", top + d + "%")
    names = list_names(r)
    t.check(top + d + "b" in names, f"LIST {top}{d}% does not show {top}{d}b: {sorted(names)}")
    t.check(deep not in names, "'%' matched across a hierarchy delimiter")
    names = list_names(lst(c, "", top))
    t.check(top in names, f"superior name {top} not listed")


@test("delete_with_children")
def t_delete_children(t):
    c = t.login()
    d = t.delim
    top = t.create(c)
    kid = top + d + "kid"
    c.ok("CREATE ", quote(kid))
    t.append(c, top, message())
    r = c.cmd("DELETE ", quote(top))
    # RFC 9051 6.3.5: deleting a selectable name with inferiors is allowed
    # (it becomes \Noselect) or refused with NO; inferiors must survive.
    t.check(r.status in ("OK", "NO"), f"DELETE of a parent: {r.resp.line()}")
    names = list_names(lst(c, "", top + "*"))
    t.check(kid in names, f"DELETE {top} removed its child {kid}")
    if r.status == "OK":
        if top in names:
            t.check("\\noselect" in names[top] or "\\nonexistent" in names[top],
                    f"deleted parent listed without \\Noselect: {names[top]}")
        c.no("SELECT ", quote(top))
        # a \Noselect name with inferiors cannot be deleted
        if top in names and "\\noselect" in names[top]:
            c.no("DELETE ", quote(top))
    c.ok("DELETE ", quote(kid))


@test("rename")
def t_rename(t):
    c = t.login()
    d = t.delim
    a = t.create(c)
    c.ok("CREATE ", quote(a + d + "x"))
    c.ok("CREATE ", quote(a + d + "x" + d + "y"))
    t.append(c, a, message(subject="in a"))
    t.append(c, a + d + "x", message(subject="in a/x"))
    b = t.mbox()
    c.ok("RENAME ", quote(a), " ", quote(b))
    names = list_names(lst(c, "", t.base + "*"))
    for n in (b, b + d + "x", b + d + "x" + d + "y"):
        t.check(n in names, f"after RENAME {a} {b}: {n} missing; have {sorted(names)}")
    for n in (a + d + "x", a + d + "x" + d + "y"):
        t.check(n not in names, f"after RENAME: old child {n} still listed")
    if a in names:
        t.check("\\noselect" in names[a] or "\\nonexistent" in names[a],
                f"old name {a} still a selectable mailbox")
    st = status_items(c.ok("STATUS ", quote(b + d + "x"), " (MESSAGES)").one("STATUS"))
    t.eq(st["MESSAGES"], 1, "messages of the renamed child")
    st = status_items(c.ok("STATUS ", quote(b), " (MESSAGES)").one("STATUS"))
    t.eq(st["MESSAGES"], 1, "messages of the renamed mailbox")
    # errors: the target exists, the source does not
    e = t.create(c)
    c.no("RENAME ", quote(b), " ", quote(e))
    c.no("RENAME ", quote(t.mbox("nonexistent")), " ", quote(t.mbox("other")))
    # renaming into a new hierarchy creates the superiors
    f = d.join([t.mbox(), "p", "q"])
    c.ok("RENAME ", quote(e), " ", quote(f))
    t.check(f in list_names(lst(c, "", t.base + "*")), f"RENAME to {f} not listed")


@test("rename_inbox")
def t_rename_inbox(t):
    c = t.login()
    st = status_items(c.ok("STATUS INBOX (MESSAGES)").one("STATUS"))
    before = st["MESSAGES"]
    marker = f"rename-inbox {t.base}"
    t.append(c, "INBOX", message(subject=marker))
    try:
        dst = t.mbox()
        r = c.cmd("RENAME INBOX ", quote(dst))
        if r.status == "NO" and t.quirk("rename-inbox"):
            return
        t.eq(r.status, "OK", f"RENAME INBOX {dst}: {r.resp.line()}")
        # RFC 3501 6.3.5: all messages move to the new name, INBOX stays, empty
        st = status_items(c.ok("STATUS ", quote(dst), " (MESSAGES)").one("STATUS"))
        t.eq(st["MESSAGES"], before + 1, "messages in the renamed INBOX")
        st = status_items(c.ok("STATUS INBOX (MESSAGES)").one("STATUS"))
        t.eq(st["MESSAGES"], 0, "messages left in INBOX after RENAME INBOX")
        c.ok("SELECT INBOX")
        # put the user's mail back
        c.ok("SELECT ", quote(dst))
        mine = c.ok("SEARCH SUBJECT ", quote(marker)).search()
        if mine:
            c.ok("STORE ", ",".join(map(str, mine)), " +FLAGS.SILENT (\\Deleted)")
            c.ok("EXPUNGE")
        if before:
            c.ok(("MOVE" if t.has("MOVE") else "COPY") + " 1:* INBOX")
        c.ok("CLOSE")
        st = status_items(c.ok("STATUS INBOX (MESSAGES)").one("STATUS"))
        t.eq(st["MESSAGES"], before, "messages back in INBOX")
    finally:
        # whatever happened, the marker message leaves INBOX
        c.ok("SELECT INBOX")
        mine = c.ok("SEARCH SUBJECT ", quote(marker)).search()
        if mine:
            c.ok("STORE ", ",".join(map(str, mine)), " +FLAGS.SILENT (\\Deleted)")
            if t.has("UIDPLUS"):
                uids = c.ok("UID SEARCH SUBJECT ", quote(marker)).search()
                c.ok("UID EXPUNGE ", ",".join(map(str, uids)))
            else:
                c.ok("EXPUNGE")
        c.ok("CLOSE")


@test("subscribe_lsub")
def t_subscribe(t):
    c = t.login()
    d = t.delim
    a = t.create(c)
    c.ok("SUBSCRIBE ", quote(a))
    names = list_names(lst(c, "", t.base + "*", "LSUB"), "LSUB")
    t.check(a in names, f"LSUB does not show subscribed {a}")
    c.ok("UNSUBSCRIBE ", quote(a))
    names = list_names(lst(c, "", t.base + "*", "LSUB"), "LSUB")
    t.check(a not in names, "LSUB still shows the unsubscribed mailbox")
    # a subscribed child of an unsubscribed parent: LSUB with '%' returns
    # the parent with \Noselect (RFC 3501 6.3.9)
    p = t.create(c)
    kid = p + d + "kid"
    c.ok("CREATE ", quote(kid))
    c.ok("SUBSCRIBE ", quote(kid))
    names = list_names(lst(c, "", t.base + "*", "LSUB"), "LSUB")
    t.check(kid in names, "LSUB * misses the subscribed child")
    names = list_names(lst(c, "", p + "%", "LSUB"), "LSUB")
    t.check(p in names, f"LSUB {p}% omits the parent of a subscribed child")
    t.check("\\noselect" in names[p], f"LSUB lists the unsubscribed parent without \\Noselect: {names[p]}")
    c.ok("UNSUBSCRIBE ", quote(kid))
    # the name of a deleted mailbox can stay subscribed (RFC 3501 6.3.6)
    c.ok("SUBSCRIBE ", quote(a))
    c.ok("DELETE ", quote(a))
    c.ok("UNSUBSCRIBE ", quote(a))


@test("list_patterns")
def t_list_patterns(t):
    c = t.login()
    d = t.delim
    p = t.create(c)
    for n in ("a", "b", "b" + d + "c", "bc"):
        c.ok("CREATE ", quote(p + d + n))
    def names(ref, pat):
        return set(list_names(lst(c, ref, pat)))
    A, B, BC, Bc = p + d + "a", p + d + "b", p + d + "b" + d + "c", p + d + "bc"
    t.eq(names("", p + d + "*"), {A, B, BC, Bc}, f"LIST \"\" {p}{d}*")
    t.eq(names("", p + d + "%"), {A, B, Bc}, f"LIST \"\" {p}{d}%")
    t.eq(names("", p + d + "%" + d + "%"), {BC}, f"LIST \"\" {p}{d}%{d}%")
    t.eq(names("", p + d + "b*"), {B, BC, Bc}, f"LIST \"\" {p}{d}b*")
    t.eq(names("", p + d + "b%"), {B, Bc}, f"LIST \"\" {p}{d}b%")
    t.eq(names("", p + "*c"), {BC, Bc}, f"LIST \"\" {p}*c")
    t.eq(names("", p + d + "nomatch*"), set(), "LIST of a pattern matching nothing")
    # reference names (RFC 3501 6.3.8): the reference is prepended
    t.eq(names(p + d, "%"), {A, B, Bc}, f"LIST {p}{d} %")
    t.eq(names(p + d, "b" + d + "*"), {BC}, f"LIST {p}{d} b{d}*")
    # LIST "" "" returns the delimiter and the root, \Noselect
    r = lst(c, "", "")
    x = r.one("LIST")
    t.check(len(x.data) >= 3 and s(x.data[2]) == "", f"LIST \"\" \"\": {x.line()}")
    t.check("\\noselect" in {str(a).lower() for a in x.data[0]}, f"LIST \"\" \"\" root not \\Noselect: {x.line()}")
    t.eq(s(x.data[1]), d, "hierarchy delimiter")
    # INBOX matches case-insensitively and is returned as INBOX
    t.check("INBOX" in names("", "inbox"), "LIST \"\" inbox does not return INBOX")
    t.check("INBOX" in names("", "%"), "LIST \"\" % does not return INBOX")


@test("list_extended", needs=["LIST-EXTENDED"])
def t_list_extended(t):
    c = t.login()
    d = t.delim
    p = t.create(c)
    A, B, BC = p + d + "a", p + d + "b", p + d + "b" + d + "c"
    for n in (A, B, BC):
        c.ok("CREATE ", quote(n))
    c.ok("SUBSCRIBE ", quote(A))
    c.ok("SUBSCRIBE ", quote(BC))
    ghost = p + d + "ghost"
    # subscribed, then deleted: the subscription stays (RFC 3501 6.3.6)
    c.ok("CREATE ", quote(ghost))
    c.ok("SUBSCRIBE ", quote(ghost))
    c.ok("DELETE ", quote(ghost))
    # selection option SUBSCRIBED: only subscribed names, with \Subscribed
    r = c.ok("LIST (SUBSCRIBED) \"\" ", quote(p + d + "*"))
    names = list_names(r)
    t.eq(set(names), {A, BC, ghost}, "LIST (SUBSCRIBED) names")
    for n in names:
        t.check("\\subscribed" in names[n], f"{n} lacks \\Subscribed: {names[n]}")
    t.check("\\nonexistent" in names[ghost], f"subscribed but nonexistent {ghost} lacks \\NonExistent: {names[ghost]}")
    # RETURN (CHILDREN): exactly one of \HasChildren/\HasNoChildren
    r = c.ok("LIST \"\" ", quote(p + d + "*"), " RETURN (CHILDREN)")
    names = list_names(r)
    t.eq(set(names), {A, B, BC}, "LIST RETURN (CHILDREN) names")
    t.check("\\haschildren" in names[B], f"{B} lacks \\HasChildren: {names[B]}")
    t.check("\\hasnochildren" in names[A], f"{A} lacks \\HasNoChildren: {names[A]}")
    t.check("\\haschildren" not in names[A], f"{A} has \\HasChildren")
    # RETURN (SUBSCRIBED) on a plain LIST marks the subscribed ones
    r = c.ok("LIST \"\" ", quote(p + d + "*"), " RETURN (SUBSCRIBED)")
    names = list_names(r)
    t.check("\\subscribed" in names[A] and "\\subscribed" in names[BC], f"RETURN (SUBSCRIBED): {names}")
    t.check("\\subscribed" not in names[B], f"{B} is not subscribed: {names[B]}")
    # multiple patterns
    r = c.ok("LIST \"\" (", quote(A), " ", quote(BC), ")")
    t.eq(set(list_names(r)), {A, BC}, "LIST with a pattern list")
    # RECURSIVEMATCH: a parent whose child is subscribed gets CHILDINFO
    r = c.ok("LIST (SUBSCRIBED RECURSIVEMATCH) \"\" ", quote(p + d + "%"))
    names = list_names(r)
    ext = list_ext(r)
    t.check(B in names, f"RECURSIVEMATCH: parent {B} of a subscribed child missing: {sorted(names)}")
    info = ext.get(B) or []
    flat = [s(x) if not isinstance(x, list) else [s(y) for y in x] for x in info]
    t.check("CHILDINFO" in [str(x).upper() for x in flat if isinstance(x, str)],
            f"{B} lacks CHILDINFO extended data: {r.all('LIST')}")
    # RECURSIVEMATCH alone is an error (RFC 5258 3)
    c.bad("LIST (RECURSIVEMATCH) \"\" ", quote(p + "*"))


@test("list_status", needs=["LIST-STATUS"])
def t_list_status(t):
    c = t.login()
    d = t.delim
    p = t.create(c)
    a = p + d + "a"
    c.ok("CREATE ", quote(a))
    t.append(c, a, message())
    t.append(c, a, message())
    r = c.ok("LIST \"\" ", quote(p + "*"), " RETURN (CHILDREN STATUS (MESSAGES UIDNEXT))")
    names = list_names(r)
    t.eq(set(names), {p, a}, "names")
    sts = {s(x.data[0]): status_items(x) for x in r.all("STATUS")}
    t.check(a in sts and p in sts, f"STATUS missing for {a} or {p}: {r.all('STATUS')}")
    t.eq(sts[a]["MESSAGES"], 2, f"MESSAGES of {a}")
    t.eq(sts[p]["MESSAGES"], 0, f"MESSAGES of {p}")
    # each STATUS comes after the LIST of its mailbox
    order = [(x.kind, s(x.data[2] if x.kind == "LIST" else x.data[0])) for x in r.untagged
             if x.kind in ("LIST", "STATUS")]
    for n in (p, a):
        t.check(order.index(("LIST", n)) < order.index(("STATUS", n)), f"STATUS of {n} before its LIST")


@test("special_use", needs=["SPECIAL-USE"])
def t_special_use(t):
    c = t.login()
    uses = {"\\all", "\\archive", "\\drafts", "\\flagged", "\\junk", "\\sent", "\\trash", "\\important"}
    if t.has("CREATE-SPECIAL-USE"):
        dr = t.mbox()
        c.ok("CREATE ", quote(dr), " (USE (\\Drafts))")
        r = c.ok("LIST \"\" ", quote(dr), " RETURN (SPECIAL-USE)")
        names = list_names(r)
        t.check("\\drafts" in names.get(dr, set()), f"RETURN (SPECIAL-USE) misses \\Drafts: {r.all('LIST')}")
        r = c.ok("LIST (SPECIAL-USE) \"\" ", quote(t.base + "*"))
        t.eq(set(list_names(r)), {dr}, "LIST (SPECIAL-USE) names")
        # a use the server does not support is refused with [USEATTR]
        r = c.cmd("CREATE ", quote(t.mbox()), " (USE (\\X-NoSuchUse))")
        t.check(r.status in ("NO", "BAD"), f"CREATE with an unknown use: {r.resp.line()}")
    # all special-use mailboxes are listed by LIST (SPECIAL-USE), and only those
    r = c.ok("LIST (SPECIAL-USE) \"\" \"*\"")
    su = list_names(r)
    for n, attrs in su.items():
        t.check(attrs & uses, f"LIST (SPECIAL-USE) returned {n} without a use: {attrs}")
    r = c.ok("LIST \"\" \"*\" RETURN (SPECIAL-USE)")
    every = list_names(r)
    for n, attrs in every.items():
        if attrs & uses:
            t.check(n in su, f"{n} has {attrs & uses} but LIST (SPECIAL-USE) omits it")
    for n in su:
        t.check(n in every and su[n] & uses == every[n] & uses, f"uses of {n} differ")
    if not t.has("CREATE-SPECIAL-USE") and not su:
        raise Skip("no special-use mailbox exists and CREATE-SPECIAL-USE not announced")


@test("namespace")
def t_namespace(t):
    if not (t.has("NAMESPACE") or t.has("IMAP4REV2")):
        raise Skip("server does not announce NAMESPACE")
    c = t.login()
    r = c.ok("NAMESPACE")
    x = r.one("NAMESPACE")
    t.eq(len(x.data), 3, "NAMESPACE has personal, other users', shared")
    personal = x.data[0]
    t.check(isinstance(personal, list) and personal, "no personal namespace")
    for ns in x.data:
        if ns is None:
            continue
        t.check(isinstance(ns, list), f"namespace not NIL or a list: {x.line()}")
        for desc in ns:
            t.check(isinstance(desc, list) and len(desc) >= 2, f"bad namespace descriptor {desc!r}")
            t.check(isinstance(desc[0], bytes), f"namespace prefix is not a string: {desc!r}")
            t.check(desc[1] is None or len(desc[1]) == 1, f"delimiter is not one char: {desc!r}")
    pre = s(personal[0][0])
    t.check(pre == "" or pre.endswith(s(personal[0][1]) or ""), f"personal prefix {pre!r}")


# --------------------------------------------------------------------------
# Tests: STATUS, SELECT, APPEND, literals

@test("status")
def t_status(t):
    c = t.login()
    a = t.create(c)
    msgs = [message(subject="one"), message(subject="two", body="x" * 500 + "\r\n"),
            message(subject="three")]
    t.append(c, a, msgs[0], ["\\Seen"])
    t.append(c, a, msgs[1])
    t.append(c, a, msgs[2], ["\\Deleted"])
    items = ["MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN"]
    if t.has("STATUS=SIZE") or t.has("IMAP4REV2"):
        items.append("SIZE")
    if t.has("IMAP4REV2"):
        items.append("DELETED")
    if t.has("CONDSTORE"):
        items.append("HIGHESTMODSEQ")
    r = c.ok("STATUS ", quote(a), " (" + " ".join(items) + ")")
    x = r.one("STATUS")
    t.eq(s(x.data[0]), a, "STATUS mailbox name")
    st = status_items(x)
    t.eq(set(st), set(items), "STATUS items returned")
    t.eq(st["MESSAGES"], 3, "MESSAGES")
    t.eq(st["UNSEEN"], 2, "UNSEEN")
    t.check(st["UIDVALIDITY"] > 0, "UIDVALIDITY must be non-zero")
    if "SIZE" in st:
        t.eq(st["SIZE"], sum(len(m) for m in msgs), "SIZE")
    if "DELETED" in st:
        t.eq(st["DELETED"], 1, "DELETED")
    if "HIGHESTMODSEQ" in st:
        t.check(st["HIGHESTMODSEQ"] > 0, "HIGHESTMODSEQ must be positive")
    sel = select_info(t.select(c, a, examine=True))
    t.eq(sel.get("uidvalidity"), st["UIDVALIDITY"], "UIDVALIDITY of STATUS vs EXAMINE")
    t.eq(sel.get("uidnext"), st["UIDNEXT"], "UIDNEXT of STATUS vs EXAMINE")
    t.check(max(t.uids(c)) < st["UIDNEXT"], "UIDNEXT not above every UID")
    c.ok("CLOSE")
    c.no("STATUS ", quote(t.mbox("nonexistent")), " (MESSAGES)")
    c.bad("STATUS ", quote(a), " (NO-SUCH-ITEM)")
    c.ok("STATUS INBOX (MESSAGES)")


@test("select_examine")
def t_select(t):
    c = t.login()
    a = t.create(c)
    t.append(c, a, message(), ["\\Seen"])
    t.append(c, a, message())
    r = t.select(c, a)
    info = select_info(r)
    t.eq(info.get("exists"), 2, "EXISTS")
    t.check("flags" in info and isinstance(info["flags"], list), "no untagged FLAGS list")
    fl = {str(f).lower() for f in info["flags"]}
    for f in ("\\answered", "\\flagged", "\\deleted", "\\seen", "\\draft"):
        t.check(f in fl, f"FLAGS lacks {f}: {info['flags']}")
    for k in ("uidvalidity", "uidnext", "permanentflags"):
        t.check(k in info, f"SELECT lacks [{k.upper()}]")
    if not t.has("IMAP4REV2") or t.has("IMAP4REV1"):
        # RFC 3501 6.3.1 (IMAP4rev1 without ENABLE IMAP4rev2): RECENT is required
        t.check("recent" in info, "SELECT lacks the untagged RECENT (required by RFC 3501)")
    t.eq(r.resp.code_name, "READ-WRITE", "SELECT tagged response code")
    pf = {str(f).lower() for f in info["permanentflags"]}
    t.check("\\seen" in pf and "\\deleted" in pf, f"PERMANENTFLAGS: {pf}")
    # EXAMINE: read-only, STORE refused
    r = t.select(c, a, examine=True)
    t.eq(r.resp.code_name, "READ-ONLY", "EXAMINE tagged response code")
    t.eq(select_info(r).get("exists"), 2, "EXISTS on EXAMINE")
    # STORE must not change a read-only mailbox (NO, or OK without effect)
    r = c.cmd("STORE 1 +FLAGS (\\Flagged)")
    t.check(r.status in ("NO", "OK"), f"STORE in EXAMINE: {r.resp.line()}")
    t.check("\\flagged" not in flagset(c.ok("FETCH 1 FLAGS").fetches()[1]["FLAGS"]),
            "STORE changed flags in an EXAMINEd mailbox")
    r = c.ok("FETCH 2 BODY[]")
    r = c.ok("FETCH 2 FLAGS")
    t.check("\\seen" not in flagset(r.fetches()[2]["FLAGS"]), "FETCH BODY[] in EXAMINE set \\Seen")
    # a failed SELECT leaves no mailbox selected (RFC 3501 6.3.1)
    c.ok("SELECT ", quote(a))
    c.no("SELECT ", quote(t.mbox("nonexistent")))
    c.bad("FETCH 1 FLAGS", allow_no=True)
    c.ok("SELECT INBOX")


def check_internaldate(t, got, want):
    g = parse_internaldate(got)
    w = parse_internaldate(want)
    t.eq(g, w, "INTERNALDATE (as an instant)")


@test("append")
def t_append(t):
    c = t.login()
    a = t.create(c)
    msg = message(subject="append test", body="Body of the appended message.\r\n")
    date = "07-Dec-2020 10:11:12 +0100"
    r = c.ok("APPEND ", quote(a), " (\\Flagged $Kw1) ", quote(date), " ", Lit(msg))
    uid = None
    if t.has("UIDPLUS"):
        t.eq(r.resp.code_name, "APPENDUID", "APPEND response code with UIDPLUS")
        t.eq(len(r.resp.code_args), 2, "APPENDUID arguments")
        uid = int(r.resp.code_args[1])
        sel = select_info(t.select(c, a))
        t.eq(int(r.resp.code_args[0]), sel["uidvalidity"], "APPENDUID uidvalidity")
    else:
        t.select(c, a)
    r = c.ok("FETCH 1 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])")
    f = r.fetches()[1]
    if uid is not None:
        t.eq(int(f["UID"]), uid, "UID vs APPENDUID")
    fl = flagset(f["FLAGS"])
    t.check("\\flagged" in fl and "$kw1" in fl, f"flags: {fl}")
    t.check("\\seen" not in fl, "APPEND set \\Seen")
    check_internaldate(t, f["INTERNALDATE"], date)
    t.eq(int(f["RFC822.SIZE"]), len(msg), "RFC822.SIZE")
    t.eq(f["BODY[]"], msg, "stored message")
    # without flags and date: internal date is about now
    c.ok("APPEND ", quote(a), " ", Lit(msg))
    r = c.ok("NOOP")
    r = c.ok("FETCH 2 (FLAGS INTERNALDATE)")
    f = r.fetches()[2]
    now = datetime.datetime.now(datetime.timezone.utc)
    t.check(abs((parse_internaldate(f["INTERNALDATE"]) - now).total_seconds()) < 600,
            f"INTERNALDATE of an APPEND without date is not now: {s(f['INTERNALDATE'])}")
    t.check(not (flagset(f["FLAGS"]) - {"\\recent"}), f"flags of APPEND without flags: {f['FLAGS']}")
    # the selected session sees the new message: EXISTS
    t.append(t.login(), a, msg)
    r = c.ok("NOOP")
    t.check(any(x.kind == "EXISTS" and x.num == 3 for x in r.untagged),
            f"no '* 3 EXISTS' after another session's APPEND: {r.untagged}")
    # a nonexistent mailbox: NO [TRYCREATE] (RFC 3501 6.3.11: MUST)
    r = c.no("APPEND ", quote(t.mbox("nonexistent")), " ", Lit(msg))
    t.eq(r.resp.code_name, "TRYCREATE", "APPEND to a nonexistent mailbox: response code")
    # a bad date is a syntax error
    c.bad("APPEND ", quote(a), " ", quote("32-Foo-2020 99:00:00 +0000"), " ", Lit(msg), allow_no=True)
    c.ok("NOOP")


@test("multiappend", needs=["MULTIAPPEND"])
def t_multiappend(t):
    c = t.login()
    a = t.create(c)
    m1 = message(subject="multi 1")
    m2 = message(subject="multi 2")
    r = c.ok("APPEND ", quote(a), " (\\Seen) ", Lit(m1), " (\\Flagged) ", quote("01-Jan-2021 00:00:00 +0000"),
             " ", Lit(m2))
    uids = None
    if t.has("UIDPLUS"):
        t.eq(r.resp.code_name, "APPENDUID", "MULTIAPPEND response code")
        uids = parse_set(r.resp.code_args[1])
        t.eq(len(uids), 2, "APPENDUID set size")
    t.select(c, a)
    f = c.ok("FETCH 1:* (UID FLAGS BODY.PEEK[])").fetches()
    t.eq(len(f), 2, "messages after MULTIAPPEND")
    t.eq(f[1]["BODY[]"], m1, "first message")
    t.eq(f[2]["BODY[]"], m2, "second message")
    t.check("\\seen" in flagset(f[1]["FLAGS"]) and "\\flagged" in flagset(f[2]["FLAGS"]), "flags")
    if uids:
        t.eq([int(f[1]["UID"]), int(f[2]["UID"])], uids, "UIDs vs APPENDUID")
    # an error in the second message aborts all: nothing appended (RFC 3502)
    r = c.cmd("APPEND ", quote(a), " ", Lit(m1), " ", quote("99-Bad-2021 00:00:00 +0000"), " ", Lit(m2))
    t.check(r.status in ("NO", "BAD"), f"MULTIAPPEND with a bad date: {r.resp.line()}")
    c.ok("NOOP")
    st = status_items(c.ok("STATUS ", quote(a), " (MESSAGES)").one("STATUS"))
    t.eq(st["MESSAGES"], 2, "messages after a failed MULTIAPPEND")


@test("literal_plus")
def t_literal_plus(t):
    if not (t.has("LITERAL+") or t.has("LITERAL-")):
        raise Skip("server announces neither LITERAL+ nor LITERAL-")
    c = t.login()
    a = t.create(c)
    msg = message(subject="non-sync literal")
    tag = c.tag()
    # the whole command in one write, no continuation request expected
    c.send(f"{tag} APPEND {quote(a)} {{{len(msg)}+}}\r\n".encode() + msg + b"\r\n")
    r = c.wait(tag)
    t.eq(r.status, "OK", "APPEND with a non-synchronizing literal")
    t.check(not r.conts, "continuation request sent for a non-synchronizing literal")
    # in a command argument (mailbox name of STATUS)
    tag = c.tag()
    c.send(f"{tag} STATUS {{{len(a)}+}}\r\n{a} (MESSAGES)\r\n".encode())
    r = c.wait(tag)
    t.eq(r.status, "OK", "STATUS with a non-synchronizing literal")
    t.eq(status_items(r.one("STATUS"))["MESSAGES"], 1, "MESSAGES")
    if t.has("LITERAL-") and not t.has("LITERAL+"):
        # RFC 7888 5: over 4096 octets LITERAL- servers answer BAD [TOOBIG]
        big = message(body="y" * 5000 + "\r\n")
        tag = c.tag()
        c.send(f"{tag} APPEND {quote(a)} {{{len(big)}+}}\r\n".encode() + big + b"\r\n")
        try:
            r = c.wait(tag)
            t.check(r.status in ("BAD", "NO"), f"LITERAL- over 4096: {r.resp.line()}")
        except Eof:
            pass


@test("sync_literal")
def t_sync_literal(t):
    c = t.connect()
    user = t.suite.user.encode()
    tag = c.tag()
    c.send(f"{tag} LOGIN {{{len(user)}}}\r\n")
    r = c.read()
    t.check(r.tag == "+", f"synchronizing literal: want '+', got {r.line()}")
    c.send(user + b" " + quote(t.suite.password).encode() + b"\r\n")
    t.eq(c.wait(tag).status, "OK", "LOGIN with a literal user name")
    a = t.create(c)
    msg = message(subject="sync literal")
    tag = c.tag()
    c.send(f"{tag} APPEND {quote(a)} (\\Seen) {{{len(msg)}}}\r\n")
    r = c.read()
    t.check(r.tag == "+", f"APPEND: want '+', got {r.line()}")
    c.send(msg + b"\r\n")
    t.eq(c.wait(tag).status, "OK", "APPEND with a synchronizing literal")
    # a literal of zero octets
    r = c.cmd("SELECT ", Lit(a))
    t.eq(r.status, "OK", "SELECT with a literal mailbox name")
    r = c.ok("SEARCH SUBJECT ", Lit(b""))
    t.eq(r.search(), [1], "SEARCH SUBJECT with an empty literal")


@test("huge_literal")
def t_huge_literal(t):
    c = t.login()
    a = t.create(c)
    size = 4000000000
    for cap in t.suite.caps:
        if cap.startswith("APPENDLIMIT="):
            size = int(cap.split("=", 1)[1]) + 1
    tag = c.tag()
    c.send(f"{tag} APPEND {quote(a)} {{{size}}}\r\n")
    r = c.read()
    t.check(r.tag != "+", f"the server accepts a {size}-octet literal: {r.line()}")
    while r.tag == "*":
        r = c.read()
    t.eq(r.tag, tag, "tag of the response to the refused literal")
    t.check(r.kind in ("NO", "BAD"), f"huge APPEND: want NO [TOOBIG] or BAD, got {r.line()}")
    if r.code_name:
        t.check(r.code_name in ("TOOBIG", "LIMIT", "OVERQUOTA"), f"response code: {r.line()}")
    # the literal was never sent: the connection goes on
    c.ok("NOOP")
    st = status_items(c.ok("STATUS ", quote(a), " (MESSAGES)").one("STATUS"))
    t.eq(st["MESSAGES"], 0, "messages after the refused APPEND")


# --------------------------------------------------------------------------
# Tests: FETCH

def multi_box(t, c, flags=None):
    a = t.create(c)
    t.append(c, a, MULTI, flags, "07-Dec-2020 10:00:00 +0100")
    t.select(c, a)
    return a


def ci(v):
    """Lower-cased text of a parsed value, recursively."""
    if isinstance(v, list):
        return [ci(x) for x in v]
    if v is None:
        return None
    return s(v).lower()


@test("fetch_basic")
def t_fetch_basic(t):
    c = t.login()
    multi_box(t, c, ["\\Answered", "$Label1"])
    r = c.ok("FETCH 1 (FLAGS UID INTERNALDATE RFC822.SIZE)")
    f = r.fetches()
    t.eq(list(f), [1], "FETCH response sequence numbers")
    f = f[1]
    for k in ("FLAGS", "UID", "INTERNALDATE", "RFC822.SIZE"):
        t.check(k in f, f"FETCH lacks {k}: {r.all('FETCH')}")
    fl = flagset(f["FLAGS"])
    t.check({"\\answered", "$label1"} <= fl, f"FLAGS: {fl}")
    t.check(int(f["UID"]) > 0, "UID")
    check_internaldate(t, f["INTERNALDATE"], "07-Dec-2020 10:00:00 +0100")
    t.eq(int(f["RFC822.SIZE"]), len(MULTI), "RFC822.SIZE")
    # the macros
    f = c.ok("FETCH 1 FAST").fetches()[1]
    t.check({"FLAGS", "INTERNALDATE", "RFC822.SIZE"} <= set(f), f"FAST: {sorted(f)}")
    f = c.ok("FETCH 1 ALL").fetches()[1]
    t.check({"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"} <= set(f), f"ALL: {sorted(f)}")
    f = c.ok("FETCH 1 FULL").fetches()[1]
    t.check({"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"} <= set(f), f"FULL: {sorted(f)}")
    # sequence numbers out of range are an error; an empty UID range is not
    c.bad("FETCH 2 FLAGS", allow_no=True)
    c.bad("FETCH 0 FLAGS")
    c.bad("FETCH 1 (NO-SUCH-ITEM)")
    r = c.ok("UID FETCH 999999 FLAGS")
    t.check(not r.all("FETCH"), f"UID FETCH of a missing UID returned data: {r.all('FETCH')}")


@test("fetch_envelope")
def t_fetch_envelope(t):
    c = t.login()
    multi_box(t, c)
    f = c.ok("FETCH 1 ENVELOPE").fetches()[1]
    env = f["ENVELOPE"]
    t.check(isinstance(env, list) and len(env) == 10, f"ENVELOPE is not a 10-item list: {env!r}")
    date, subj, frm, sender, reply, to, cc, bcc, irt, mid = env
    t.eq(s(date), "Mon, 7 Dec 2020 10:00:00 +0100", "envelope date")
    t.eq(s(subj), "Multipart test", "envelope subject")
    alice = ["alice example", None, "alice", "example.org"]
    t.eq(ci(frm), [alice], "envelope from")
    # RFC 3501 7.4.2: sender and reply-to default to from
    t.eq(ci(sender), [alice], "envelope sender (defaults to from)")
    t.eq(ci(reply), [alice], "envelope reply-to (defaults to from)")
    t.eq(ci(to), [["bob", None, "bob", "example.net"], [None, None, "carol", "example.com"]], "envelope to")
    t.eq(cc, None, "envelope cc")
    t.eq(bcc, None, "envelope bcc")
    t.eq(s(irt), "<parent-1@example.org>", "envelope in-reply-to")
    t.eq(s(mid), "<multi-1@example.org>", "envelope message-id")
    # group syntax: start (NIL NIL "group" NIL) and end (NIL NIL NIL NIL)
    a = t.create(c)
    t.append(c, a, message(to="Friends: ann@example.org, ben@example.org;"))
    t.select(c, a)
    env = c.ok("FETCH 1 ENVELOPE").fetches()[1]["ENVELOPE"]
    t.eq(ci(env[5]), [[None, None, "friends", None], [None, None, "ann", "example.org"],
                      [None, None, "ben", "example.org"], [None, None, None, None]], "group in envelope to")


@test("fetch_bodystructure")
def t_fetch_bodystructure(t):
    c = t.login()
    multi_box(t, c)
    f = c.ok("FETCH 1 (BODYSTRUCTURE BODY)").fetches()[1]
    bs = f["BODYSTRUCTURE"]
    # multipart/mixed ( multipart/alternative (text/plain text/html) application/octet-stream )
    t.check(isinstance(bs, list) and isinstance(bs[0], list), f"not a multipart structure: {bs!r}")
    alt, att = bs[0], bs[1]
    t.eq(ci(bs[2]), "mixed", "outer subtype")
    t.check(isinstance(bs[3], list) and ci(bs[3][0::2]).count("boundary") == 1
            and s(bs[3][ci(bs[3][0::2]).index("boundary") * 2 + 1]) == "outer",
            f"outer body parameters: {bs[3]!r}")
    t.check(isinstance(alt, list) and isinstance(alt[0], list) and isinstance(alt[1], list), f"alternative: {alt!r}")
    t.eq(ci(alt[2]), "alternative", "inner subtype")
    plain, html = alt[0], alt[1]
    t.eq(ci(plain[0:2]), ["text", "plain"], "part 1.1 type")
    t.eq(ci(plain[2]), ["charset", "us-ascii"], "part 1.1 parameters")
    t.eq(ci(plain[5]), "7bit", "part 1.1 encoding")
    t.eq(int(plain[6]), len(PART_PLAIN), "part 1.1 size")
    t.eq(int(plain[7]), 2, "part 1.1 lines")
    t.eq(ci(html[0:2]), ["text", "html"], "part 1.2 type")
    t.eq(int(html[6]), len(PART_HTML), "part 1.2 size")
    t.eq(int(html[7]), 1, "part 1.2 lines")
    t.eq(ci(att[0:2]), ["application", "octet-stream"], "part 2 type")
    t.eq(ci(att[2]), ["name", "data.bin"], "part 2 parameters")
    t.eq(ci(att[5]), "base64", "part 2 encoding")
    t.eq(int(att[6]), len(PART2_BODY), "part 2 size")
    # extension data of a single part: md5, disposition, ...
    t.check(len(att) >= 9, f"BODYSTRUCTURE part 2 lacks extension data: {att!r}")
    t.eq(ci(att[8]), ["attachment", ["filename", "data.bin"]], "part 2 disposition")
    # BODY is the same without extension data
    body = f["BODY"]
    t.eq(ci(body[2]), "mixed", "BODY outer subtype")
    t.eq(len(body), 3, "BODY multipart without extension data")
    t.eq(len(body[1]), 7, "BODY basic part has 7 fields")
    # a single-part text message
    a = t.create(c)
    m = message(body="one\r\ntwo\r\nthree\r\n")
    t.append(c, a, m)
    t.select(c, a)
    bs = c.ok("FETCH 1 BODYSTRUCTURE").fetches()[1]["BODYSTRUCTURE"]
    t.eq(ci(bs[0:2]), ["text", "plain"], "single part type")
    t.eq(int(bs[6]), len(b"one\r\ntwo\r\nthree\r\n"), "single part size")
    t.eq(int(bs[7]), 3, "single part lines")


@test("fetch_body_sections")
def t_fetch_sections(t):
    c = t.login()
    multi_box(t, c)
    r = c.ok("FETCH 1 (BODY.PEEK[] BODY.PEEK[HEADER] BODY.PEEK[TEXT] BODY.PEEK[1.1] BODY.PEEK[1.2] "
             "BODY.PEEK[2] BODY.PEEK[2.MIME] BODY.PEEK[1])")
    f = r.fetches()[1]
    t.eq(f.get("BODY[]"), MULTI, "BODY[]")
    t.eq(f.get("BODY[HEADER]"), MULTI_HEADER.encode(), "BODY[HEADER]")
    t.eq(f.get("BODY[TEXT]"), MULTI_TEXT.encode(), "BODY[TEXT]")
    t.eq(f.get("BODY[1.1]"), PART_PLAIN.encode(), "BODY[1.1]")
    t.eq(f.get("BODY[1.2]"), PART_HTML.encode(), "BODY[1.2]")
    t.eq(f.get("BODY[2]"), PART2_BODY.encode(), "BODY[2]")
    t.eq(f.get("BODY[2.MIME]"), PART2_MIME.encode(), "BODY[2.MIME]")
    t.check(f.get("BODY[1]", b"").startswith(b"--inner\r\n"), f"BODY[1] of a multipart: {f.get('BODY[1]')!r}")
    # a part that does not exist is empty (or NIL), not an error
    r = c.cmd("FETCH 1 BODY.PEEK[9]")
    t.check(r.status in ("OK", "NO"), f"BODY[9]: {r.resp.line()}")
    if r.status == "OK":
        v = r.fetches()[1].get("BODY[9]")
        t.check(v in (None, b""), f"BODY[9] of a 2-part message: {v!r}")
    c.bad("FETCH 1 BODY[HEADER.FIELDS]")
    r = c.cmd("FETCH 1 BODY.PEEK[1.0]")       # section-part is nz-number
    if r.status != "BAD" and not (r.status == "OK" and t.quirk("section-part-zero")):
        raise Fail(f"FETCH 1 BODY.PEEK[1.0]: expected BAD, got {r.resp.line()}")
    # RFC822 forms
    f = c.ok("FETCH 1 (RFC822.HEADER RFC822.SIZE)").fetches()[1]
    t.eq(f.get("RFC822.HEADER"), MULTI_HEADER.encode(), "RFC822.HEADER")


@test("fetch_header_fields")
def t_fetch_header_fields(t):
    c = t.login()
    multi_box(t, c)
    f = c.ok("FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject x-custom)] "
             "BODY.PEEK[HEADER.FIELDS.NOT (Subject X-Custom Message-ID)])").fetches()[1]
    got, gotnot = None, None
    for k, v in f.items():
        if k.startswith("BODY[HEADER.FIELDS.NOT"):
            gotnot = v
        elif k.startswith("BODY[HEADER.FIELDS"):
            got = v
    t.eq(got, b"Subject: Multipart test\r\nX-Custom: Hello-Header\r\n\r\n", "HEADER.FIELDS")
    want = b"".join(ln + b"\r\n" for ln in MULTI_HEADER.encode().split(b"\r\n")
                    if ln and not ln.lower().startswith((b"subject:", b"x-custom:", b"message-id:"))) + b"\r\n"
    t.eq(gotnot, want, "HEADER.FIELDS.NOT")
    # a field that is absent: just the blank line
    f = c.ok("FETCH 1 BODY.PEEK[HEADER.FIELDS (X-Absent)]").fetches()[1]
    v = [v for k, v in f.items() if k.startswith("BODY[HEADER.FIELDS")]
    t.eq(v, [b"\r\n"], "HEADER.FIELDS of an absent field")
    # of a part with a message/rfc822? (here the part's MIME header via 2.MIME)
    f = c.ok("FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]<0.9>").fetches()[1]
    v = [v for k, v in f.items() if k.startswith("BODY[HEADER.FIELDS")]
    t.eq(v, [b"Subject: "], "partial HEADER.FIELDS")


@test("fetch_partial")
def t_fetch_partial(t):
    c = t.login()
    multi_box(t, c)
    r = c.ok("FETCH 1 (BODY.PEEK[]<0.10> BODY.PEEK[TEXT]<5.7>)")
    f = r.fetches()[1]
    t.eq(f.get("BODY[]<0>"), MULTI[:10], "BODY[]<0.10> (returned as BODY[]<0>)")
    t.eq(f.get("BODY[TEXT]<5>"), MULTI_TEXT.encode()[5:12], "BODY[TEXT]<5.7>")
    # origin beyond the end: empty string
    f = c.ok(f"FETCH 1 BODY.PEEK[]<{len(MULTI) + 10}.5>").fetches()[1]
    v = [v for k, v in f.items() if k.startswith("BODY[]<")]
    t.check(v and v[0] in (b"", None), f"partial beyond the end: {f!r}")
    # a partial running over the end is truncated
    f = c.ok(f"FETCH 1 BODY.PEEK[]<{len(MULTI) - 4}.100>").fetches()[1]
    v = [v for k, v in f.items() if k.startswith("BODY[]<")]
    t.eq(v, [MULTI[-4:]], "partial over the end")


@test("fetch_peek_seen")
def t_fetch_peek_seen(t):
    c = t.login()
    multi_box(t, c)
    r = c.ok("FETCH 1 (BODY.PEEK[] BODY.PEEK[HEADER] FLAGS)")
    t.check("\\seen" not in flagset(r.fetches()[1]["FLAGS"]), "BODY.PEEK set \\Seen")
    r = c.ok("FETCH 1 FLAGS")
    t.check("\\seen" not in flagset(r.fetches()[1]["FLAGS"]), "BODY.PEEK set \\Seen")
    r = c.ok("FETCH 1 BODY[TEXT]")
    f = r.fetches()[1]
    # RFC 3501 6.4.5: setting \Seen causes an (un)solicited FETCH FLAGS
    t.check("FLAGS" in f and "\\seen" in flagset(f["FLAGS"]),
            f"FETCH BODY[TEXT]: no FLAGS with \\Seen in the response: {r.all('FETCH')}")
    r = c.ok("FETCH 1 FLAGS")
    t.check("\\seen" in flagset(r.fetches()[1]["FLAGS"]), "BODY[TEXT] did not set \\Seen")
    c.ok("STORE 1 -FLAGS.SILENT (\\Seen)")
    c.ok("FETCH 1 RFC822")
    t.check("\\seen" in flagset(c.ok("FETCH 1 FLAGS").fetches()[1]["FLAGS"]), "RFC822 did not set \\Seen")
    c.ok("STORE 1 -FLAGS.SILENT (\\Seen)")
    c.ok("FETCH 1 RFC822.HEADER")
    t.check("\\seen" not in flagset(c.ok("FETCH 1 FLAGS").fetches()[1]["FLAGS"]),
            "RFC822.HEADER set \\Seen")


@test("fetch_binary", needs=["BINARY"])
def t_fetch_binary(t):
    c = t.login()
    multi_box(t, c)
    r = c.ok("FETCH 1 (BINARY.PEEK[2] BINARY.SIZE[2] BINARY.PEEK[1.1] BINARY.SIZE[1.1])")
    f = r.fetches()[1]
    t.eq(f.get("BINARY[2]"), PART_BIN, "BINARY[2] (base64 decoded)")
    t.eq(int(f.get("BINARY.SIZE[2]", -1)), len(PART_BIN), "BINARY.SIZE[2]")
    t.eq(f.get("BINARY[1.1]"), PART_PLAIN.encode(), "BINARY[1.1] (7bit)")
    t.eq(int(f.get("BINARY.SIZE[1.1]", -1)), len(PART_PLAIN), "BINARY.SIZE[1.1]")
    # a literal8 with NUL bytes must be ~{n}: the raw response shows it
    raw = [x.raw for x in r.all("FETCH")]
    t.check(any(b"~{%d}" % len(PART_BIN) in x for x in raw), "BINARY with NUL bytes not sent as literal8 ~{n}")
    f = c.ok("FETCH 1 BINARY.PEEK[2]<2.3>").fetches()[1]
    t.eq(f.get("BINARY[2]<2>"), PART_BIN[2:5], "partial BINARY")
    # an unknown transfer encoding: NO [UNKNOWN-CTE]
    a = t.create(c)
    t.append(c, a, message(headers=["Content-Transfer-Encoding: x-unknown"]))
    t.select(c, a)
    r = c.cmd("FETCH 1 BINARY.PEEK[1]")
    t.eq(r.status, "NO", "BINARY of an unknown encoding")
    t.eq(r.resp.code_name, "UNKNOWN-CTE", "response code")


# --------------------------------------------------------------------------
# Tests: STORE, COPY, MOVE, EXPUNGE, CLOSE

def box_with(t, c, n, flags=None, select=True):
    a = t.create(c)
    for i in range(n):
        t.append(c, a, message(subject=f"message {i + 1}"), flags)
    if select:
        t.select(c, a)
    return a


@test("store_flags")
def t_store(t):
    c = t.login()
    a = box_with(t, c, 3)
    r = c.ok("STORE 1 +FLAGS (\\Flagged $Kw1)")
    f = r.fetches()
    t.check(1 in f and "FLAGS" in f[1], f"STORE +FLAGS: no FETCH FLAGS: {r.untagged}")
    t.check({"\\flagged", "$kw1"} <= flagset(f[1]["FLAGS"]), f"flags after +FLAGS: {f[1]['FLAGS']}")
    r = c.ok("STORE 1 -FLAGS ($Kw1)")
    fl = flagset(r.fetches()[1]["FLAGS"])
    t.check("\\flagged" in fl and "$kw1" not in fl, f"flags after -FLAGS: {fl}")
    r = c.ok("STORE 1:2 FLAGS (\\Answered $Kw2)")
    f = r.fetches()
    for n in (1, 2):
        fl = flagset(f[n]["FLAGS"]) - {"\\recent"}
        t.eq(fl, {"\\answered", "$kw2"}, f"flags of {n} after FLAGS")
    # .SILENT: no FETCH for our own change
    r = c.ok("STORE 3 +FLAGS.SILENT (\\Seen)")
    t.check(not r.all("FETCH"), f"+FLAGS.SILENT returned FETCH: {r.all('FETCH')}")
    r = c.ok("STORE 3 FLAGS.SILENT (\\Draft)")
    t.check(not r.all("FETCH"), f"FLAGS.SILENT returned FETCH: {r.all('FETCH')}")
    fl = flagset(c.ok("FETCH 3 FLAGS").fetches()[3]["FLAGS"]) - {"\\recent"}
    t.eq(fl, {"\\draft"}, "flags of 3 after FLAGS.SILENT")
    # the keyword is now in FLAGS / PERMANENTFLAGS of a new SELECT
    info = select_info(c.ok("EXAMINE ", quote(a)))
    t.check("$kw2" in {str(x).lower() for x in info["flags"]}, f"FLAGS lacks the new keyword: {info['flags']}")
    c.ok("SELECT ", quote(a))
    # errors: \Recent cannot be stored; bad flag syntax; sequence beyond EXISTS
    c.bad("STORE 1 +FLAGS (\\Recent)", allow_no=True)
    c.bad("STORE 1 +FLAGS (\\NoSuchSystemFlag)", allow_no=True)
    c.bad("STORE 1 FROB (\\Seen)")
    c.bad("STORE 9 +FLAGS (\\Seen)", allow_no=True)
    # UID STORE: the FETCH includes UID
    uids = t.uids(c)
    r = c.ok(f"UID STORE {uids[1]} +FLAGS (\\Deleted)")
    f = r.fetches()
    t.check(2 in f and int(f[2].get("UID", 0)) == uids[1], f"UID STORE FETCH without UID: {r.all('FETCH')}")
    r = c.ok("UID STORE 999999 +FLAGS (\\Deleted)")
    t.check(not r.all("FETCH"), "UID STORE of a missing UID returned FETCH")


@test("copy_move")
def t_copy_move(t):
    c = t.login()
    src = box_with(t, c, 4)
    c.ok("STORE 1 +FLAGS.SILENT (\\Flagged $Kw)")
    dst = t.create(c)
    srcuids = t.uids(c)
    r = c.ok("COPY 1:2 ", quote(dst))
    if t.has("UIDPLUS"):
        t.eq(r.resp.code_name, "COPYUID", "COPY response code with UIDPLUS")
        v, s1, d1 = r.resp.code_args
        t.eq(parse_set(s1), srcuids[:2], "COPYUID source UIDs")
        t.eq(len(parse_set(d1)), 2, "COPYUID destination UIDs")
    st = status_items(c.ok("STATUS ", quote(dst), " (MESSAGES)").one("STATUS"))
    t.eq(st["MESSAGES"], 2, "messages in the COPY destination")
    t.eq(len(t.uids(c)), 4, "COPY removed messages from the source")
    # COPY to a nonexistent mailbox: NO [TRYCREATE]
    r = c.no("COPY 1 ", quote(t.mbox("nonexistent")))
    t.eq(r.resp.code_name, "TRYCREATE", "COPY to a nonexistent mailbox: response code")
    # flags are kept
    d = t.login()
    d.ok("EXAMINE ", quote(dst))
    fl = flagset(d.ok("FETCH 1 FLAGS").fetches()[1]["FLAGS"])
    t.check({"\\flagged", "$kw"} <= fl, f"COPY lost flags: {fl}")
    f = d.ok("FETCH 1:2 BODY.PEEK[HEADER.FIELDS (SUBJECT)]").fetches()
    subj = sorted(v for x in f.values() for k, v in x.items() if k.startswith("BODY["))
    t.eq(subj, [b"Subject: message 1\r\n\r\n", b"Subject: message 2\r\n\r\n"], "copied messages")
    if not t.has("MOVE"):
        return
    # MOVE: COPYUID (untagged OK or tagged), then EXPUNGE of the sources
    r = c.ok("MOVE 3:4 ", quote(dst))
    codes = r.codes()
    if t.has("UIDPLUS"):
        t.check("COPYUID" in codes, f"MOVE without COPYUID: {r.untagged} {r.resp.line()}")
        t.eq(parse_set(codes["COPYUID"].code_args[1]), srcuids[2:], "MOVE COPYUID source UIDs")
    exp = [x.num for x in r.all("EXPUNGE")]
    t.check(sorted(exp) in ([3, 3], [3, 4]) and len(exp) == 2, f"MOVE 3:4 EXPUNGE responses: {exp}")
    t.eq(t.uids(c), srcuids[:2], "source after MOVE")
    st = status_items(c.ok("STATUS ", quote(dst), " (MESSAGES)").one("STATUS"))
    t.eq(st["MESSAGES"], 4, "destination after MOVE")
    r = c.no("MOVE 1 ", quote(t.mbox("nonexistent")))
    t.eq(r.resp.code_name, "TRYCREATE", "MOVE to a nonexistent mailbox: response code")
    t.eq(len(t.uids(c)), 2, "a failed MOVE removed messages")


@test("uid_commands")
def t_uid_commands(t):
    c = t.login()
    box_with(t, c, 4)
    uids = t.uids(c)
    t.eq(len(uids), 4, "UID SEARCH ALL")
    t.check(uids == sorted(uids) and len(set(uids)) == 4, f"UIDs not strictly ascending: {uids}")
    r = c.ok(f"UID FETCH {uids[1]}:{uids[2]} FLAGS")
    f = r.fetches()
    t.eq(sorted(f), [2, 3], "UID FETCH range: sequence numbers")
    for n in f:
        t.eq(int(f[n].get("UID", 0)), uids[n - 1], f"UID FETCH includes the UID of {n}")
    # n:* with n above the highest UID still matches the highest (RFC 9051 6.4.9)
    r = c.ok(f"UID FETCH {uids[-1] + 100}:* FLAGS")
    t.eq(sorted(r.fetches()), [4], "UID FETCH beyond:*")
    r = c.ok(f"UID FETCH {uids[0]},{uids[3]},{uids[3] + 50} UID")
    t.eq(sorted(r.fetches()), [1, 4], "UID FETCH of a UID list")
    dst = t.create(c)
    r = c.ok(f"UID COPY {uids[0]}:{uids[1]} ", quote(dst))
    if t.has("UIDPLUS"):
        t.eq(parse_set(r.resp.code_args[1]), uids[:2], "UID COPY COPYUID source")
    r = c.ok(f"UID SEARCH UID {uids[1]}:{uids[3]} NOT UID {uids[2]}")
    t.eq(r.search(), [uids[1], uids[3]], "UID SEARCH UID")
    if t.has("MOVE"):
        r = c.ok(f"UID MOVE {uids[3]} ", quote(dst))
        t.eq([x.num for x in r.all("EXPUNGE")] or [x.data for x in r.all("VANISHED")], [4], "UID MOVE expunge")
        t.eq(t.uids(c), uids[:3], "UIDs after UID MOVE")
    c.bad("UID FROB 1")
    c.bad("UID FETCH abc FLAGS")


def apply_expunges(t, before, responses):
    """Apply untagged EXPUNGE responses to a UID list, checking numbers."""
    cur = list(before)
    for x in responses:
        if x.kind != "EXPUNGE":
            continue
        t.check(1 <= x.num <= len(cur), f"EXPUNGE {x.num} beyond the {len(cur)} messages")
        cur.pop(x.num - 1)
    return cur


@test("expunge")
def t_expunge(t):
    c = t.login()
    a = box_with(t, c, 6)
    uids = t.uids(c)
    c.ok("STORE 2,3,5 +FLAGS.SILENT (\\Deleted)")
    r = c.ok("EXPUNGE")
    t.eq(len(r.all("EXPUNGE")), 3, "EXPUNGE responses")
    got = apply_expunges(t, uids, r.untagged)
    t.eq(got, [uids[0], uids[3], uids[5]], "messages left by the EXPUNGE responses")
    t.eq(t.uids(c), got, "messages left in the mailbox")
    # nothing deleted: no EXPUNGE responses
    r = c.ok("EXPUNGE")
    t.check(not r.all("EXPUNGE"), "EXPUNGE without \\Deleted messages expunged")
    if not t.has("UIDPLUS"):
        return
    # UID EXPUNGE: only the given UIDs, even if others are \Deleted
    c.ok("STORE 1:3 +FLAGS.SILENT (\\Deleted)")
    r = c.ok(f"UID EXPUNGE {uids[3]}:{uids[3]}")
    got2 = apply_expunges(t, got, r.untagged)
    t.eq(got2, [uids[0], uids[5]], "messages left by UID EXPUNGE")
    r = c.ok(f"UID EXPUNGE {uids[-1] + 10}")
    t.check(not r.all("EXPUNGE"), "UID EXPUNGE of a missing UID expunged")
    t.eq(t.uids(c), got2, "messages after UID EXPUNGE")
    # an EXAMINEd mailbox cannot be expunged
    c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    c.ok("EXAMINE ", quote(a))
    r = c.cmd("EXPUNGE")
    t.check(r.status in ("NO", "OK") and not r.all("EXPUNGE"), f"EXPUNGE in EXAMINE: {r.resp.line()} {r.untagged}")
    t.eq(len(t.uids(c)), 2, "messages after EXPUNGE in an EXAMINEd mailbox")


@test("close_unselect")
def t_close_unselect(t):
    c = t.login()
    a = box_with(t, c, 3)
    c.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    # EXAMINE + CLOSE: read-only, nothing expunged
    c.ok("EXAMINE ", quote(a))
    r = c.ok("CLOSE")
    t.check(not r.all("EXPUNGE"), "CLOSE sent EXPUNGE responses")
    t.eq(status_items(c.ok("STATUS ", quote(a), " (MESSAGES)").one("STATUS"))["MESSAGES"], 3,
         "CLOSE of an EXAMINEd mailbox expunged")
    c.bad("FETCH 1 FLAGS", allow_no=True)
    if t.has("UNSELECT"):
        c.ok("SELECT ", quote(a))
        r = c.ok("UNSELECT")
        t.check(not r.all("EXPUNGE"), "UNSELECT sent EXPUNGE responses")
        t.eq(status_items(c.ok("STATUS ", quote(a), " (MESSAGES)").one("STATUS"))["MESSAGES"], 3,
             "UNSELECT expunged")
        c.bad("FETCH 1 FLAGS", allow_no=True)
        c.bad("UNSELECT", allow_no=True)
    # SELECT + CLOSE: silently expunges
    c.ok("SELECT ", quote(a))
    r = c.ok("CLOSE")
    t.check(not r.all("EXPUNGE"), "CLOSE sent EXPUNGE responses")
    t.eq(status_items(c.ok("STATUS ", quote(a), " (MESSAGES)").one("STATUS"))["MESSAGES"], 2,
         "CLOSE did not expunge the \\Deleted message")
    c.bad("FETCH 1 FLAGS", allow_no=True)
    c.bad("CLOSE", allow_no=True)


# --------------------------------------------------------------------------
# Tests: SEARCH, ESEARCH, SEARCHRES, SORT, THREAD

UTF8_SUBJECT = "Gr\u00fc\u00dfe aus K\u00f6ln"


def search_box(t, c):
    """Five messages with known flags, dates, headers, sizes and texts."""
    a = t.create(c)
    enc = "=?UTF-8?B?" + base64.b64encode(UTF8_SUBJECT.encode()).decode() + "?="
    msgs = [
        (message(subject="apple pie", frm="Alice <alice@example.org>", to="Bob <bob@example.net>",
                 date="Wed, 01 Jan 2020 12:00:00 +0000", body="The quick brown fox\r\n",
                 headers=["X-Custom: alpha"]),
         ["\\Seen"], "01-Jan-2020 12:00:00 +0000"),
        (message(subject="Banana split", frm="Bob <bob@example.net>", to="carol@example.com",
                 date="Tue, 15 Jun 2021 12:00:00 +0000",
                 body="jumps over the lazy dog\r\n" + ("padding " * 30 + "\r\n") * 10,
                 headers=["Cc: Dave <dave@example.com>"]),
         ["\\Flagged", "$Important"], "15-Jun-2021 12:00:00 +0000"),
        (message(subject="cherry tart", frm="Carol <carol@example.com>", to="Alice <alice@example.org>",
                 date="Sat, 31 Dec 2022 12:00:00 +0000", body="nothing special\r\n",
                 headers=["Bcc: eve@example.com", "X-Custom: beta"]),
         ["\\Seen", "\\Flagged", "\\Answered"], "31-Dec-2022 12:00:00 +0000"),
        (message(subject=enc, frm="Dave <dave@example.com>", to="Bob <bob@example.net>",
                 date="Fri, 03 Mar 2023 12:00:00 +0000", body="Die Stra\u00dfe ist lang\r\n",
                 headers=["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
                          "Content-Transfer-Encoding: 8bit"]),
         ["\\Deleted", "\\Draft"], "03-Mar-2023 12:00:00 +0000"),
        (message(subject="Re: apple pie", frm="Alice <alice@example.org>", to="Bob <bob@example.net>",
                 date="Thu, 04 Apr 2024 12:00:00 +0000", body="caf=C3=A9 au lait, fox again\r\n",
                 headers=["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
                          "Content-Transfer-Encoding: quoted-printable"]),
         [], "04-Apr-2024 12:00:00 +0000"),
    ]
    for m, fl, d in msgs:
        t.append(c, a, m, fl, d)
    t.select(c, a)
    return a


def expect_search(t, c, crit, want, uid=False):
    r = c.cmd(("UID SEARCH " if uid else "SEARCH ") + crit if isinstance(crit, str) else crit)
    if r.status != "OK":
        raise Fail(f"SEARCH {crit}: {r.resp.line()}")
    got = r.search()
    if got != sorted(want):
        raise Fail(f"SEARCH {crit}: got {got}, want {sorted(want)}")


@test("search_flags")
def t_search_flags(t):
    c = t.login()
    search_box(t, c)
    for crit, want in [("ALL", [1, 2, 3, 4, 5]), ("SEEN", [1, 3]), ("UNSEEN", [2, 4, 5]),
                       ("FLAGGED", [2, 3]), ("UNFLAGGED", [1, 4, 5]), ("ANSWERED", [3]),
                       ("UNANSWERED", [1, 2, 4, 5]), ("DELETED", [4]), ("UNDELETED", [1, 2, 3, 5]),
                       ("DRAFT", [4]), ("UNDRAFT", [1, 2, 3, 5]), ("KEYWORD $Important", [2]),
                       ("UNKEYWORD $Important", [1, 3, 4, 5]), ("KEYWORD $NotSet", []),
                       ("SEEN FLAGGED", [3]), ("seen flagged", [3])]:
        expect_search(t, c, crit, want)
    c.bad("SEARCH NO-SUCH-KEY")
    c.bad("SEARCH")


@test("search_dates")
def t_search_dates(t):
    c = t.login()
    search_box(t, c)
    for crit, want in [("BEFORE 15-Jun-2021", [1]), ("ON 15-Jun-2021", [2]), ("SINCE 31-Dec-2022", [3, 4, 5]),
                       ("SINCE 1-Jan-2020 BEFORE 1-Jan-2021", [1]), ("ON 16-Jun-2021", []),
                       ("SENTBEFORE 15-Jun-2021", [1]), ("SENTON 31-Dec-2022", [3]),
                       ("SENTSINCE 03-Mar-2023", [4, 5]), ('SENTON "4-Apr-2024"', [5])]:
        expect_search(t, c, crit, want)
    c.bad("SEARCH BEFORE 32-Foo-2020")


@test("search_text")
def t_search_text(t):
    c = t.login()
    search_box(t, c)
    for crit, want in [("SUBJECT apple", [1, 5]), ('SUBJECT "APPLE PIE"', [1, 5]), ("SUBJECT tart", [3]),
                       ("FROM alice", [1, 5]), ("FROM example.com", [3, 4]), ("TO alice", [3]),
                       ("CC dave", [2]), ("BCC eve", [3]), ("BODY fox", [1, 5]), ("BODY apple", []),
                       ("TEXT apple", [1, 5]), ("TEXT lazy", [2]), ('BODY "QUICK BROWN"', [1]),
                       ("SUBJECT nomatch", [])]:
        expect_search(t, c, crit, want)


@test("search_header_size")
def t_search_header_size(t):
    c = t.login()
    search_box(t, c)
    for crit, want in [("HEADER X-Custom alpha", [1]), ('HEADER X-Custom ""', [1, 3]),
                       ("HEADER x-custom BETA", [3]), ('HEADER X-Absent ""', []),
                       ("LARGER 1500", [2]), ("SMALLER 1500", [1, 3, 4, 5]),
                       ("LARGER 1500 SMALLER 10", [])]:
        expect_search(t, c, crit, want)
    c.bad("SEARCH LARGER abc")


@test("search_sets")
def t_search_sets(t):
    c = t.login()
    search_box(t, c)
    uids = t.uids(c)
    for crit, want in [("2:4", [2, 3, 4]), ("4:2", [2, 3, 4]), ("*", [5]), ("3:*", [3, 4, 5]),
                       ("1,3,5 SEEN", [1, 3]), ("1:2,4", [1, 2, 4]),
                       (f"UID {uids[1]}:{uids[3]}", [2, 3, 4]), (f"UID {uids[4]}", [5]),
                       (f"UID {uids[4] + 100}:*", [5])]:
        expect_search(t, c, crit, want)
    expect_search(t, c, "ALL", uids, uid=True)
    expect_search(t, c, "2:3", uids[1:3], uid=True)
    expect_search(t, c, f"UID {uids[0]},{uids[2]}", [uids[0], uids[2]], uid=True)
    c.bad("SEARCH 0", allow_no=True)


@test("search_not_or")
def t_search_not_or(t):
    c = t.login()
    search_box(t, c)
    for crit, want in [("NOT SEEN", [2, 4, 5]), ("OR SEEN FLAGGED", [1, 2, 3]),
                       ("OR (SEEN FLAGGED) DRAFT", [3, 4]), ("NOT (OR SEEN FLAGGED)", [4, 5]),
                       ("(SUBJECT apple FROM alice)", [1, 5]), ("NOT NOT SEEN", [1, 3]),
                       ("OR OR ANSWERED DRAFT DELETED", [3, 4]), ("NOT 1:3", [4, 5]),
                       ("OR 1 UID 999999", [1])]:
        expect_search(t, c, crit, want)
    c.bad("SEARCH OR SEEN")
    c.bad("SEARCH (SEEN")


@test("search_charset_utf8")
def t_search_charset(t):
    c = t.login()
    search_box(t, c)
    # RFC 3501 6.4.4: MIME encoded words and transfer encodings are decoded
    # before comparing text in a charset other than US-ASCII
    for field, text, want in [("SUBJECT", "K\u00f6ln", [4]), ("SUBJECT", "Gr\u00fc\u00dfe aus", [4]),
                              ("BODY", "Stra\u00dfe", [4]), ("BODY", "caf\u00e9", [5]),
                              ("TEXT", "K\u00f6ln", [4]), ("SUBJECT", "apple", [1, 5])]:
        r = c.ok("SEARCH CHARSET UTF-8 " + field + " ", Lit(text.encode()))
        got = r.search()
        t.eq(got, want, f"SEARCH CHARSET UTF-8 {field} {text}")
    r = c.ok("SEARCH CHARSET US-ASCII SUBJECT apple")
    t.eq(r.search(), [1, 5], "SEARCH CHARSET US-ASCII")
    # an unknown charset: NO (not BAD), [BADCHARSET] optional
    r = c.cmd("SEARCH CHARSET X-NO-SUCH-CHARSET SUBJECT apple")
    t.eq(r.status, "NO", "SEARCH with an unknown charset")
    if r.resp.code_name:
        t.eq(r.resp.code_name, "BADCHARSET", "response code for an unknown charset")


@test("esearch", needs=["ESEARCH"])
def t_esearch(t):
    c = t.login()
    search_box(t, c)
    uids = t.uids(c)
    r = c.ok("SEARCH RETURN (MIN MAX COUNT ALL) FLAGGED")
    t.check(not r.all("SEARCH"), "SEARCH RETURN answered with SEARCH, not ESEARCH")
    x = r.one("ESEARCH")
    d = esearch_items(x)
    t.eq(d.get("TAG"), r.resp.tag, "ESEARCH (TAG ...) correlator")
    t.check("UID" not in d, "ESEARCH of a SEARCH has UID")
    t.eq(int(d.get("MIN", 0)), 2, "MIN")
    t.eq(int(d.get("MAX", 0)), 3, "MAX")
    t.eq(int(d.get("COUNT", -1)), 2, "COUNT")
    t.eq(parse_set(d.get("ALL", "0")), [2, 3], "ALL")
    r = c.ok("UID SEARCH RETURN (COUNT MIN) NOT DELETED")
    d = esearch_items(r.one("ESEARCH"))
    t.check(d.get("UID") is True, "UID SEARCH RETURN: ESEARCH lacks UID")
    t.eq(int(d.get("COUNT", -1)), 4, "COUNT of UID SEARCH")
    t.eq(int(d.get("MIN", 0)), uids[0], "MIN of UID SEARCH")
    r = c.ok("SEARCH RETURN () SEEN")                 # () means ALL
    d = esearch_items(r.one("ESEARCH"))
    t.eq(parse_set(d.get("ALL", "0")), [1, 3], "RETURN () is ALL")
    # no match: MIN/MAX/ALL omitted, COUNT 0 (RFC 4731 3.1)
    r = c.ok("SEARCH RETURN (MIN MAX COUNT ALL) KEYWORD $NotSet")
    d = esearch_items(r.one("ESEARCH"))
    t.eq(int(d.get("COUNT", -1)), 0, "COUNT of no match")
    for k in ("MIN", "MAX", "ALL"):
        t.check(k not in d, f"{k} returned for no match: {r.one('ESEARCH').line()}")
    c.bad("SEARCH RETURN (NOSUCHOPTION) ALL")


@test("searchres", needs=["SEARCHRES"])
def t_searchres(t):
    c = t.login()
    a = search_box(t, c)
    uids = t.uids(c)
    # $ before any SAVE is empty
    r = c.ok("FETCH $ FLAGS")
    t.check(not r.all("FETCH"), "$ before SAVE is not empty")
    r = c.ok("SEARCH RETURN (SAVE) FLAGGED")
    # SAVE alone suppresses the ESEARCH response (RFC 5182 2.4)
    t.check(not r.all("ESEARCH") and not r.all("SEARCH"), f"SEARCH RETURN (SAVE) returned results: {r.untagged}")
    t.eq(sorted(c.ok("FETCH $ UID").fetches()), [2, 3], "FETCH $")
    expect_search(t, c, "$ SEEN", [3])
    expect_search(t, c, "UID $", [uids[1], uids[2]], uid=True)
    dst = t.create(c)
    c.ok("COPY $ ", quote(dst))
    t.eq(status_items(c.ok("STATUS ", quote(dst), " (MESSAGES)").one("STATUS"))["MESSAGES"], 2, "COPY $")
    # SAVE with MIN: only the minimum is saved
    r = c.ok("UID SEARCH RETURN (SAVE MIN) SEEN")
    d = esearch_items(r.one("ESEARCH"))
    t.eq(int(d.get("MIN", 0)), uids[0], "MIN with SAVE")
    t.eq(sorted(c.ok("FETCH $ UID").fetches()), [1], "$ after SAVE MIN")
    # a pipelined SEARCH SAVE + FETCH $ in one write
    t1, t2 = c.tag(), c.tag()
    c.send(f"{t1} SEARCH RETURN (SAVE) ANSWERED\r\n{t2} FETCH $ (UID)\r\n")
    r1 = c.wait(t1)
    r2 = c.wait(t2)
    t.eq(r1.status, "OK", "pipelined SEARCH SAVE")
    t.eq(sorted(r2.fetches()), [3], "pipelined FETCH $")
    c.ok("CLOSE")
    c.ok("SELECT ", quote(a))
    r = c.ok("FETCH $ UID")
    t.check(not r.all("FETCH"), "$ survives a new SELECT")


@test("sort", needs=["SORT"])
def t_sort(t):
    c = t.login()
    a = t.create(c)
    specs = [("b subject", "Carol <carol@example.org>", "Tue, 02 Feb 2021 10:00:00 +0000", 300),
             ("Re: a subject", "alice@example.org", "Mon, 01 Feb 2021 10:00:00 +0000", 100),
             ("c subject", "Bob <bob@example.org>", "Wed, 03 Feb 2021 10:00:00 +0000", 200),
             ("Fwd: A SUBJECT", "dave@example.org", "Sun, 31 Jan 2021 10:00:00 +0000", 400)]
    arrival = ["03-Feb-2021 10:00:00 +0000", "01-Feb-2021 10:00:00 +0000",
               "04-Feb-2021 10:00:00 +0000", "02-Feb-2021 10:00:00 +0000"]
    for (subj, frm, date, size), arr in zip(specs, arrival):
        t.append(c, a, message(subject=subj, frm=frm, date=date, body="x" * size + "\r\n"), None, arr)
    t.select(c, a)
    def sort(crit, uid=False):
        r = c.ok(("UID " if uid else "") + f"SORT ({crit}) UTF-8 ALL")
        x = r.one("SORT")
        return [int(v) for v in x.data]
    # base subject: "Re:" and "Fwd:" removed, case-insensitive; ties by sequence
    t.eq(sort("SUBJECT"), [2, 4, 1, 3], "SORT (SUBJECT)")
    t.eq(sort("DATE"), [4, 2, 1, 3], "SORT (DATE)")
    t.eq(sort("REVERSE DATE"), [3, 1, 2, 4], "SORT (REVERSE DATE)")
    t.eq(sort("ARRIVAL"), [2, 4, 1, 3], "SORT (ARRIVAL)")
    t.eq(sort("REVERSE ARRIVAL"), [3, 1, 4, 2], "SORT (REVERSE ARRIVAL)")
    t.eq(sort("SIZE"), [2, 3, 1, 4], "SORT (SIZE)")
    t.eq(sort("FROM"), [2, 3, 1, 4], "SORT (FROM) by mailbox")
    uids = t.uids(c)
    t.eq(sort("SIZE", uid=True), [uids[i - 1] for i in [2, 3, 1, 4]], "UID SORT (SIZE)")
    r = c.ok("SORT (SUBJECT) UTF-8 SUBJECT subject NOT 3")
    t.eq([int(v) for v in r.one("SORT").data], [2, 4, 1], "SORT with search criteria")
    c.bad("SORT (NOSUCHKEY) UTF-8 ALL")
    r = c.cmd("SORT (SUBJECT) X-NO-SUCH-CHARSET ALL")
    t.eq(r.status, "NO", "SORT with an unknown charset")


def thread_tree(v):
    """A THREAD response as a canonical forest: [(num, [children])]."""
    def chain(items):
        nums = []
        i = 0
        while i < len(items) and not isinstance(items[i], list):
            nums.append(int(items[i]))
            i += 1
        kids = []
        for sub in items[i:]:
            kids.extend(chain(sub))
        if not nums:
            return kids
        node = None
        for n in reversed(nums):
            node = (n, kids if node is None else [node])
        return [node]
    out = []
    for th in v:
        out.extend(chain(th))
    return out


@test("thread", needs=["THREAD=ORDEREDSUBJECT"])
def t_thread(t):
    c = t.login()
    a = t.create(c)
    msgs = [message(subject="topic", msgid="<t1@example.org>", date="Mon, 01 Feb 2021 10:00:00 +0000"),
            message(subject="Re: topic", msgid="<t2@example.org>", date="Tue, 02 Feb 2021 10:00:00 +0000",
                    headers=["In-Reply-To: <t1@example.org>", "References: <t1@example.org>"]),
            message(subject="other", msgid="<t3@example.org>", date="Wed, 03 Feb 2021 10:00:00 +0000"),
            message(subject="Re: topic", msgid="<t4@example.org>", date="Thu, 04 Feb 2021 10:00:00 +0000",
                    headers=["References: <t1@example.org> <t2@example.org>"])]
    t.fill(c, a, msgs)
    t.select(c, a)
    r = c.ok("THREAD ORDEREDSUBJECT UTF-8 ALL")
    t.eq(thread_tree(r.one("THREAD").data), [(1, [(2, []), (4, [])]), (3, [])], "THREAD ORDEREDSUBJECT")
    if t.has("THREAD=REFERENCES"):
        r = c.ok("THREAD REFERENCES UTF-8 ALL")
        t.eq(thread_tree(r.one("THREAD").data), [(1, [(2, [(4, [])])]), (3, [])], "THREAD REFERENCES")
    uids = t.uids(c)
    r = c.ok("UID THREAD ORDEREDSUBJECT UTF-8 NOT 3")
    t.eq(thread_tree(r.one("THREAD").data), [(uids[0], [(uids[1], []), (uids[3], [])])], "UID THREAD")
    c.bad("THREAD NOSUCHALGORITHM UTF-8 ALL", allow_no=True)


# --------------------------------------------------------------------------
# Tests: IDLE and changes from other sessions

def idle_start(t, c):
    tag = c.tag()
    c.send(f"{tag} IDLE\r\n")
    while True:
        r = c.read()
        if r.tag == "+":
            return tag
        t.check(r.tag == "*", f"IDLE: want '+', got {r.line()}")


def idle_done(t, c, tag):
    c.send("DONE\r\n")
    r = c.wait(tag)
    t.eq(r.status, "OK", "IDLE ended by DONE")
    return r


def wait_for(t, c, pred, what, timeout=PUSH_WAIT):
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        left = deadline - time.monotonic()
        try:
            r = c.read(timeout=max(left, 0.001))
        except Timeout:
            raise Fail(f"no {what} within {timeout:g} s (got {seen})")
        seen.append(r.line())
        if pred(r):
            return r


@test("idle", needs=["IDLE"])
def t_idle(t):
    c = t.login()
    box_with(t, c, 1)
    tag = idle_start(t, c)
    time.sleep(0.1)
    idle_done(t, c, tag)
    c.ok("NOOP")
    # IDLE is also allowed in the authenticated state
    c.ok("CLOSE")
    tag = idle_start(t, c)
    idle_done(t, c, tag)
    # "done" is case-insensitive
    tag = idle_start(t, c)
    c.send("done\r\n")
    t.eq(c.wait(tag).status, "OK", "IDLE ended by 'done'")
    c.ok("NOOP")


@test("idle_push_exists", needs=["IDLE"])
def t_idle_exists(t):
    c = t.login()
    a = box_with(t, c, 1)
    d = t.login()
    tag = idle_start(t, c)
    t.append(d, a, message(subject="pushed"))
    wait_for(t, c, lambda r: r.kind == "EXISTS" and r.num == 2, "'* 2 EXISTS' in IDLE")
    idle_done(t, c, tag)
    f = c.ok("FETCH 2 BODY.PEEK[HEADER.FIELDS (SUBJECT)]").fetches()[2]
    t.check(b"pushed" in b"".join(v for k, v in f.items() if k.startswith("BODY[")), "pushed message")


@test("idle_push_flags", needs=["IDLE"])
def t_idle_flags(t):
    c = t.login()
    a = box_with(t, c, 2)
    d = t.login()
    d.ok("SELECT ", quote(a))
    tag = idle_start(t, c)
    d.ok("STORE 2 +FLAGS (\\Flagged $Pushed)")
    def pred(r):
        if r.kind != "FETCH" or r.num != 2:
            return False
        f = fetch_items(r)
        return "FLAGS" in f and {"\\flagged", "$pushed"} <= flagset(f["FLAGS"])
    wait_for(t, c, pred, "'* 2 FETCH (FLAGS (\\Flagged $Pushed))' in IDLE")
    idle_done(t, c, tag)


@test("idle_push_expunge", needs=["IDLE"])
def t_idle_expunge(t):
    c = t.login()
    a = box_with(t, c, 3)
    d = t.login()
    d.ok("SELECT ", quote(a))
    tag = idle_start(t, c)
    d.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    d.ok("EXPUNGE")
    wait_for(t, c, lambda r: r.kind == "EXPUNGE" and r.num == 2, "'* 2 EXPUNGE' in IDLE")
    idle_done(t, c, tag)
    t.eq(len(t.uids(c)), 2, "messages after the pushed EXPUNGE")


@test("expunge_not_during_fetch_store_search")
def t_expunge_rule(t):
    # RFC 3501 7.4.1 / RFC 9051 7.5.1: no untagged EXPUNGE while responding
    # to FETCH, STORE or SEARCH (UID versions excepted)
    c = t.login()
    a = box_with(t, c, 4)
    d = t.login()
    d.ok("SELECT ", quote(a))
    d.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    d.ok("EXPUNGE")
    for cmd in ("FETCH 1:4 (FLAGS)", "STORE 1 +FLAGS (\\Seen)", "SEARCH ALL", "FETCH 3 (UID)",
                "STORE 4 +FLAGS.SILENT (\\Flagged)", "SEARCH UNSEEN"):
        r = c.cmd(cmd)
        t.check(r.status in ("OK", "NO"), f"{cmd}: {r.resp.line()}")
        t.check(not r.all("EXPUNGE"), f"untagged EXPUNGE sent during {cmd}")
        t.check(not r.all("VANISHED"), f"untagged VANISHED sent during {cmd}")
    r = c.ok("NOOP")
    exp = [x.num for x in r.all("EXPUNGE")]
    t.eq(exp, [2], "EXPUNGE delivered by NOOP")
    t.eq(len(t.uids(c)), 3, "messages after the EXPUNGE")


# --------------------------------------------------------------------------
# Tests: ENABLE, CONDSTORE, QRESYNC, ID, COMPRESS, METADATA

def enabled(r):
    out = set()
    for x in r.all("ENABLED"):
        out |= {str(v).upper() for v in x.data}
    return out


@test("enable", needs=["ENABLE"])
def t_enable(t):
    c = t.login()
    if t.has("CONDSTORE"):
        r = c.ok("ENABLE CONDSTORE")
        t.check("CONDSTORE" in enabled(r), f"ENABLE CONDSTORE: {r.untagged}")
    r = c.ok("ENABLE X-NO-SUCH-EXTENSION")
    t.check("X-NO-SUCH-EXTENSION" not in enabled(r), "an unknown extension was enabled")
    if t.has("QRESYNC"):
        c2 = t.login()
        r = c2.ok("ENABLE QRESYNC")
        t.check("QRESYNC" in enabled(r), f"ENABLE QRESYNC: {r.untagged}")
        c2.ok("SELECT INBOX")
        c2.ok("NOOP")


def modseq_of(f):
    v = f.get("MODSEQ")
    if not isinstance(v, list) or len(v) != 1:
        raise Fail(f"MODSEQ is not (n): {v!r}")
    return int(v[0])


@test("condstore", needs=["CONDSTORE"])
def t_condstore(t):
    c = t.login()
    a = box_with(t, c, 3, select=False)
    r = c.ok("SELECT ", quote(a), " (CONDSTORE)")
    info = select_info(r)
    t.check("highestmodseq" in info, "SELECT (CONDSTORE) lacks [HIGHESTMODSEQ]")
    hms = info["highestmodseq"]
    f = c.ok("FETCH 1:* (FLAGS MODSEQ)").fetches()
    mods = {n: modseq_of(f[n]) for n in f}
    t.check(all(0 < m <= hms for m in mods.values()), f"MODSEQs {mods} vs HIGHESTMODSEQ {hms}")
    # STORE raises the MODSEQ, and the FETCH now carries MODSEQ
    r = c.ok("STORE 1 +FLAGS (\\Flagged)")
    f1 = r.fetches().get(1, {})
    t.check("MODSEQ" in f1, f"STORE FETCH after CONDSTORE lacks MODSEQ: {r.all('FETCH')}")
    m1 = modseq_of(f1)
    t.check(m1 > hms, f"MODSEQ after STORE {m1} not above {hms}")
    # CHANGEDSINCE
    r = c.ok(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {hms})")
    t.eq(sorted(r.fetches()), [1], "FETCH CHANGEDSINCE")
    t.check("MODSEQ" in r.fetches()[1], "FETCH CHANGEDSINCE lacks MODSEQ")
    r = c.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {m1})")
    t.check(not r.all("FETCH"), "CHANGEDSINCE of the newest MODSEQ returned messages")
    # UNCHANGEDSINCE: message 1 changed after hms -> [MODIFIED 1]
    r = c.ok(f"STORE 1:3 (UNCHANGEDSINCE {hms}) +FLAGS (\\Answered)")
    t.eq(r.resp.code_name, "MODIFIED", "STORE UNCHANGEDSINCE response code")
    t.eq(parse_set(r.resp.code_args[0]), [1], "MODIFIED set")
    fl = c.ok("FETCH 1:3 FLAGS").fetches()
    t.check("\\answered" not in flagset(fl[1]["FLAGS"]), "message 1 was changed despite UNCHANGEDSINCE")
    t.check(all("\\answered" in flagset(fl[n]["FLAGS"]) for n in (2, 3)), "messages 2, 3 not changed")
    # SEARCH MODSEQ
    r = c.ok(f"SEARCH MODSEQ {m1}")
    t.check(r.search() and 1 in r.search(), f"SEARCH MODSEQ {m1}: {r.untagged}")
    x = r.one("SEARCH")
    t.check(isinstance(x.data[-1], list) and str(x.data[-1][0]).upper() == "MODSEQ",
            f"SEARCH MODSEQ lacks (MODSEQ n): {x.line()}")
    # STATUS HIGHESTMODSEQ of another mailbox equals the SELECT's
    st = status_items(t.login().ok("STATUS ", quote(a), " (HIGHESTMODSEQ)").one("STATUS"))
    info = select_info(c.ok("SELECT ", quote(a), " (CONDSTORE)"))
    t.eq(st["HIGHESTMODSEQ"], info["highestmodseq"], "STATUS HIGHESTMODSEQ vs SELECT")


@test("qresync", needs=["QRESYNC"])
def t_qresync(t):
    c = t.login()
    a = box_with(t, c, 5, select=False)
    c.ok("ENABLE QRESYNC")
    info = select_info(c.ok("SELECT ", quote(a)))
    uv, ms = info["uidvalidity"], info["highestmodseq"]
    uids = t.uids(c)
    c.logout()
    d = t.login()
    d.ok("SELECT ", quote(a))
    d.ok(f"UID STORE {uids[1]} +FLAGS.SILENT (\\Flagged)")
    d.ok(f"UID STORE {uids[3]} +FLAGS.SILENT (\\Deleted)")
    d.ok("EXPUNGE")
    c = t.login()
    c.ok("ENABLE QRESYNC")
    r = c.ok("SELECT ", quote(a), f" (QRESYNC ({uv} {ms} {uids[0]}:{uids[-1]}))")
    van = []
    for x in r.all("VANISHED"):
        t.check(x.data and isinstance(x.data[0], list) and str(x.data[0][0]).upper() == "EARLIER",
                f"VANISHED in SELECT without (EARLIER): {x.line()}")
        van.extend(parse_set(x.data[1]))
    t.check(uids[3] in van, f"VANISHED (EARLIER) lacks the expunged UID {uids[3]}: {r.all('VANISHED')}")
    left = [u for u in uids if u != uids[3]]
    t.check(not set(van) & set(left), f"VANISHED lists existing UIDs: {van}")
    f = {int(v["UID"]): v for v in r.fetches().values()}
    t.check(uids[1] in f, f"the changed message {uids[1]} not reported: {r.all('FETCH')}")
    t.check("\\flagged" in flagset(f[uids[1]]["FLAGS"]), "changed flags")
    t.check("MODSEQ" in f[uids[1]], "QRESYNC FETCH lacks MODSEQ")
    t.eq(select_info(r).get("exists"), 4, "EXISTS after QRESYNC SELECT")
    # with QRESYNC enabled, expunges are VANISHED, not EXPUNGE
    c.ok(f"UID STORE {uids[0]} +FLAGS.SILENT (\\Deleted)")
    r = c.ok("EXPUNGE")
    t.check(not r.all("EXPUNGE"), "EXPUNGE responses sent with QRESYNC enabled")
    vans = [parse_set(x.data[-1]) for x in r.all("VANISHED")]
    t.eq(vans, [[uids[0]]], "VANISHED after EXPUNGE")
    # UID FETCH ... (CHANGEDSINCE m VANISHED)
    r = c.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {ms} VANISHED)")
    van = []
    for x in r.all("VANISHED"):
        t.check(str(x.data[0][0]).upper() == "EARLIER", f"VANISHED without (EARLIER): {x.line()}")
        van.extend(parse_set(x.data[1]))
    t.check({uids[0], uids[3]} <= set(van), f"UID FETCH VANISHED: {van}")
    # SELECT with QRESYNC but a wrong UIDVALIDITY: a full resync, no VANISHED
    c.ok("CLOSE")
    r = c.ok("SELECT ", quote(a), f" (QRESYNC ({uv + 1} {ms}))")
    t.check(not r.all("VANISHED"), "VANISHED for a wrong UIDVALIDITY")


@test("id", needs=["ID"])
def t_id(t):
    c = t.connect()
    r = c.ok('ID ("name" "imap_proto" "version" "1")')
    x = r.one("ID")
    t.check(x.data and (x.data[0] is None or isinstance(x.data[0], list)), f"ID response: {x.line()}")
    if isinstance(x.data[0], list):
        t.eq(len(x.data[0]) % 2, 0, "ID field/value pairs")
    c.ok("LOGIN ", quote(t.suite.user), " ", quote(t.suite.password))
    r = c.ok("ID NIL")
    r.one("ID")


@test("compress_deflate", needs=["COMPRESS=DEFLATE"])
def t_compress(t):
    c = t.login()
    a = t.create(c)
    r = c.ok("COMPRESS DEFLATE")
    c.inflate = zlib.decompressobj(-15)
    c.deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
    c.ok("NOOP")
    caps = caps_of(c.ok("CAPABILITY"))
    t.check("IMAP4REV1" in caps or "IMAP4REV2" in caps, "CAPABILITY over the compressed stream")
    big = message(body=("compressible line of text\r\n" * 4000))
    t.append(c, a, big)
    c.ok("SELECT ", quote(a))
    t.eq(c.ok("FETCH 1 BODY.PEEK[]").fetches()[1]["BODY[]"], big, "message over the compressed stream")
    r = c.no("COMPRESS DEFLATE")
    t.eq(r.resp.code_name, "COMPRESSIONACTIVE", "second COMPRESS: response code")
    check_logout(t, c)


def metadata(r):
    out = {}
    for x in r.all("METADATA"):
        lst = x.data[1] if len(x.data) > 1 else None
        if not isinstance(lst, list):
            continue
        for k, v in zip(lst[0::2], lst[1::2]):
            out[s(k).lower()] = v
    return out


@test("metadata", needs=["METADATA"])
def t_metadata(t):
    c = t.login()
    a = t.create(c)
    c.ok("SETMETADATA ", quote(a), ' (/private/comment "hello")')
    r = c.ok("GETMETADATA ", quote(a), " /private/comment")
    x = r.one("METADATA")
    t.eq(s(x.data[0]), a, "METADATA mailbox name")
    t.eq(metadata(r), {"/private/comment": b"hello"}, "GETMETADATA /private/comment")
    c.ok("SETMETADATA ", quote(a), " (/shared/comment ", Lit(b"shared value"), ")")
    r = c.ok("GETMETADATA ", quote(a), " (/private/comment /shared/comment)")
    t.eq(metadata(r), {"/private/comment": b"hello", "/shared/comment": b"shared value"}, "two entries")
    # MAXSIZE: too long values are left out, [METADATA LONGENTRIES n]
    r = c.ok("GETMETADATA (MAXSIZE 3) ", quote(a), " /private/comment")
    t.check("/private/comment" not in metadata(r) or metadata(r)["/private/comment"] is None,
            f"MAXSIZE 3 returned the 5-octet value: {r.untagged}")
    t.eq(r.resp.code_name, "METADATA", "MAXSIZE response code")
    t.eq([str(v).upper() for v in r.resp.code_args], ["LONGENTRIES", "5"], "METADATA LONGENTRIES")
    # DEPTH
    v = "/private/vendor/imapproto"
    c.ok("SETMETADATA ", quote(a), f' ({v}/one "1" {v}/one/two "2")')
    got = metadata(c.ok("GETMETADATA (DEPTH 1) ", quote(a), f" {v}"))
    t.eq({k: x for k, x in got.items() if x is not None}, {f"{v}/one": b"1"}, "DEPTH 1")
    got = metadata(c.ok("GETMETADATA (DEPTH infinity) ", quote(a), f" {v}"))
    t.eq({k: x for k, x in got.items() if x is not None}, {f"{v}/one": b"1", f"{v}/one/two": b"2"},
         "DEPTH infinity")
    got = metadata(c.ok("GETMETADATA (DEPTH 0) ", quote(a), f" {v}"))
    t.eq({k: x for k, x in got.items() if x is not None}, {}, "DEPTH 0 of an entry without value")
    # NIL deletes
    c.ok("SETMETADATA ", quote(a), " (/private/comment NIL)")
    got = metadata(c.ok("GETMETADATA ", quote(a), " /private/comment"))
    t.check(got.get("/private/comment") is None, f"deleted entry still has a value: {got}")
    # invalid entry names and a missing mailbox
    c.bad("SETMETADATA ", quote(a), ' (/nosuchprefix/x "v")', allow_no=True)
    c.no("GETMETADATA ", quote(t.mbox("nonexistent")), " /private/comment")
    # server metadata
    entry = f"/private/vendor/imapproto/{t.base}"
    c.ok('SETMETADATA "" (', entry, ' "server")')
    got = metadata(c.ok('GETMETADATA "" ', entry))
    t.eq(got.get(entry.lower()), b"server", "server entry")
    c.ok('SETMETADATA "" (', entry, " NIL)")
    got = metadata(c.ok('GETMETADATA "" ', entry))
    t.check(got.get(entry.lower()) is None, "server entry not deleted")


# --------------------------------------------------------------------------
# Tests: syntax errors, pipelining, literals in pieces

@test("malformed_commands")
def t_malformed(t):
    c = t.login()
    # no tag at all: untagged BAD (or ignored, for an empty line)
    tag = c.tag()
    c.send(f"\r\n NOOP\r\n{tag} NOOP\r\n")
    r = c.wait(tag)
    t.eq(r.status, "OK", "NOOP after lines without a tag")
    bads = [x for x in r.untagged if x.kind == "BAD"]
    t.check(bads, f"no '* BAD' for a line without a tag: {r.untagged}")
    t.check(all(x.kind in ("BAD", "OK") for x in r.untagged), f"unexpected responses: {r.untagged}")
    for cmd in ("FROBNICATE", "SELECT", "FETCH 1 (FLAGS", "STORE 1 +FLAGS", "LIST \"\"", "UID",
                "CREATE", "STATUS INBOX", "STATUS INBOX (MESSAGES", "APPEND", "SEARCH (SEEN",
                "COPY 1", "FETCH (FLAGS)", "LOGIN a b c"):
        r = c.cmd(cmd)
        t.eq(r.status, "BAD", f"'{cmd}'")
    # arguments after a complete command, or missing where the grammar
    # wants one, are syntax errors too
    lenient = []
    for cmd, need in (("NOOP extra", None), ("SELECT INBOX extra junk", None), ("NAMESPACE extra", None),
                      ("CAPABILITY extra", None), ("ENABLE", "ENABLE"), ("ID", "ID")):
        if need and not t.has(need):
            continue
        r = c.cmd(cmd)
        if r.status != "BAD":
            lenient.append(f"'{cmd}': {r.status}")
    if lenient and not t.quirk("lenient-arguments"):
        raise Fail("accepted malformed commands: " + ", ".join(lenient))
    # a tag alone
    tag = c.tag()
    c.send(f"{tag}\r\n")
    r = c.read()
    t.check(r.kind == "BAD" and r.tag in (tag, "*"), f"a tag without a command: {r.line()}")
    c.ok("NOOP")
    c.ok("SELECT INBOX")
    c.ok("NOOP")


@test("long_lines")
def t_long_lines(t):
    c = t.login()
    box_with(t, c, 2)
    # RFC 7162 4: servers should accept command lines of at least 8192 octets
    seq = ",".join(str(i) for i in range(1, 4000, 2))
    seq = seq[:seq.rfind(",", 0, 8000)]
    t.check(7900 < len(seq) < 8100, "test line length")
    r = c.ok(f"UID FETCH {seq} (FLAGS)")
    # an absurdly long line: BAD or BYE, and if the server does not close,
    # the connection is usable
    tag = c.tag()
    try:
        c.send(f"{tag} SELECT {'x' * 2000000}\r\n")
        while True:
            r = c.read(timeout=20)
            if r.tag in (tag, "*") and r.kind in ("BAD", "BYE", "NO"):
                break
            t.check(r.tag == "*", f"unexpected response: {r.line()}")
        t.check(r.kind in ("BAD", "BYE"), f"overlong line: {r.line()}")
        if r.kind == "BYE":
            return
        # after an untagged BAD the tagged answer may still follow
        tag2 = c.tag()
        c.send(f"{tag2} NOOP\r\n")
        while True:
            r = c.read(timeout=20)
            if r.tag == tag2:
                t.eq(r.kind, "OK", "NOOP after the overlong line")
                break
            t.check(r.tag in ("*", tag), f"unexpected response: {r.line()}")
    except Eof:
        pass                          # closed after (or instead of) BAD/BYE


@test("pipelining")
def t_pipelining(t):
    # Many commands in one write. RFC 9051 5.5 lets a server run commands
    # that do not affect each other concurrently and answer them in any
    # order, and forbids clients to pipeline commands that would be
    # ambiguous: so these commands are independent; each must get exactly
    # one tagged OK and its own data. (Answers out of order are noted.)
    c = t.login()
    a = t.create(c)
    n = 12
    for i in range(1, n + 1):
        t.append(c, a, message(subject=f"pipe {i}"))
    c.ok("SELECT ", quote(a))
    cmds = []
    for i in range(1, n + 1):
        cmds.append((c.tag(), f"STORE {i} +FLAGS.SILENT ($Pipe{i})"))
        cmds.append((c.tag(), f"FETCH {i} (BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
        if i % 4 == 0:
            cmds += [(c.tag(), "NOOP"), (c.tag(), "STATUS INBOX (MESSAGES)"), (c.tag(), "CAPABILITY"),
                     (c.tag(), f"SEARCH SUBJECT \"pipe {i}\"")]
    c.send("".join(f"{tg} {cm}\r\n" for tg, cm in cmds))
    order, subjects, searches = [], {}, []
    kinds = {tg: cm for tg, cm in cmds}
    while len(order) < len(cmds):
        r = c.read()
        if r.tag == "*":
            if r.kind == "FETCH":
                for k, v in fetch_items(r).items():
                    if k.startswith("BODY[HEADER.FIELDS"):
                        subjects[r.num] = v
            elif r.kind == "SEARCH":
                searches.append([int(x) for x in r.data])
            continue
        t.check(r.tag in kinds, f"unknown tag {r.tag}: {r.line()}")
        t.check(r.tag not in order, f"tag {r.tag} answered twice")
        t.eq(r.kind, "OK", f"pipelined '{kinds[r.tag]}'")
        order.append(r.tag)
    for i in range(1, n + 1):
        t.eq(subjects.get(i), f"Subject: pipe {i}\r\n\r\n".encode(), f"pipelined FETCH {i}")
    t.eq(sorted(searches), [[i] for i in range(4, n + 1, 4)], "pipelined SEARCH results")
    f = c.ok("FETCH 1:* (FLAGS)").fetches()
    for i in range(1, n + 1):
        t.check(f"$pipe{i}" in flagset(f[i]["FLAGS"]), f"pipelined STORE {i} lost")
    if order != [tg for tg, _ in cmds]:
        print(f"  (note: pipelined commands answered out of order: {' '.join(order[:8])} ...)", flush=True)
    # APPEND with a non-synchronizing literal inside a pipeline
    if t.has("LITERAL+"):
        m = message(subject="pipelined append")
        t1, t2 = c.tag(), c.tag()
        c.send(f"{t1} APPEND {quote(a)} {{{len(m)}+}}\r\n".encode() + m + f"\r\n{t2} NOOP\r\n".encode())
        got = {}
        while len(got) < 2:
            r = c.read()
            if r.tag != "*":
                got[r.tag] = r.kind
        t.eq([got[t1], got[t2]], ["OK"] * 2, "pipelined APPEND, NOOP")
        st = status_items(c.ok("STATUS ", quote(a), " (MESSAGES)").one("STATUS"))
        t.eq(st["MESSAGES"], n + 1, "STATUS after pipelined APPEND")


@test("literal_split")
def t_literal_split(t):
    c = t.login()
    a = t.create(c)
    m = message(subject="split literal", body="A body sent in small pieces.\r\n")
    tag = c.tag()
    line = f"{tag} APPEND {quote(a)} (\\Seen) {{{len(m)}}}\r\n".encode()
    for i in range(0, len(line), 3):
        c.send(line[i:i + 3])
        time.sleep(0.002)
    r = c.read()
    t.check(r.tag == "+", f"want '+', got {r.line()}")
    data = m + b"\r\n"
    for i in range(0, len(data), 7):
        c.send(data[i:i + 7])
        time.sleep(0.002)
    t.eq(c.wait(tag).status, "OK", "APPEND with a literal in pieces")
    if t.has("LITERAL+"):
        m2 = message(subject="split non-sync literal")
        tag = c.tag()
        data = f"{tag} APPEND {quote(a)} {{{len(m2)}+}}\r\n".encode() + m2 + b"\r\n"
        for i in range(0, len(data), 5):
            c.send(data[i:i + 5])
            time.sleep(0.001)
        t.eq(c.wait(tag).status, "OK", "APPEND with a non-synchronizing literal in pieces")
    c.ok("SELECT ", quote(a))
    f = c.ok("FETCH 1:* BODY.PEEK[]").fetches()
    t.eq(f[1]["BODY[]"], m, "message sent in pieces")
    if t.has("LITERAL+"):
        t.eq(f[2]["BODY[]"], m2, "second message sent in pieces")


@test("second_user_isolation")
def t_second_user(t):
    if not t.suite.user2:
        raise Skip("no --user2 given")
    c = t.login()
    a = t.create(c)
    d = t.login(second=True)
    r = d.ok("LIST \"\" ", quote(t.base + "*"))
    t.check(not r.all("LIST"), f"the second user sees the first user's mailbox: {r.all('LIST')}")
    d.no("SELECT ", quote(a))
    d.ok("SELECT INBOX")


# --------------------------------------------------------------------------
# Runner

def selected(name, patterns):
    if not patterns:
        return True
    for p in patterns:
        for q in p.split(","):
            q = q.strip()
            if q and (q in name or fnmatch.fnmatch(name, q)):
                return True
    return False


def main(argv=None):
    ap = argparse.ArgumentParser(description="IMAP protocol conformance suite")
    ap.add_argument("--host", default=os.environ.get("IMAP_HOST", "127.0.0.1"))
    ap.add_argument("--port", type=int, default=int(os.environ.get("IMAP_PORT", "143")))
    ap.add_argument("--user", default=os.environ.get("IMAP_USER"))
    ap.add_argument("--password", default=os.environ.get("IMAP_PASSWORD"))
    ap.add_argument("--user2", default=os.environ.get("IMAP_USER2"))
    ap.add_argument("--password2", default=os.environ.get("IMAP_PASSWORD2"))
    ap.add_argument("-k", dest="patterns", action="append", default=[],
                    help="run only tests whose name contains PATTERN (or matches it as a glob)")
    ap.add_argument("-v", dest="verbose", action="store_true", help="print the protocol exchange")
    ap.add_argument("--strict", action="store_true", help="no allowance for known Dovecot deviations")
    ap.add_argument("--list", action="store_true", help="list the tests and exit")
    args = ap.parse_args(argv)
    if args.list:
        for name, fn, needs, _ in TESTS:
            print(name + (f"  (needs {', '.join(needs)})" if needs else ""))
        return 0
    if not args.user or args.password is None:
        ap.error("--user and --password are required")
    if args.user2 and args.password2 is None:
        ap.error("--user2 needs --password2")
    suite = Suite(args)
    t0 = time.monotonic()
    try:
        suite.discover()
    except Fail as e:
        print(f"FAIL setup: {e}")
        return 1
    if suite.verbose:
        print(f"# server capabilities: {' '.join(sorted(suite.caps))}")
        print(f"# delimiter {suite.delim!r}; mailbox prefix {suite.prefix}")
    npass = nfail = nskip = 0
    quirks_used = {}
    for idx, (name, fn, needs, prelogin) in enumerate(TESTS):
        if not selected(name, args.patterns):
            continue
        t = T(suite, name, idx)
        start = time.monotonic()
        try:
            for cap in needs:
                t.need(cap)
            fn(t)
            note = ""
            if t.quirks:
                note = "  (DOVECOT_QUIRK: " + "; ".join(t.quirks) + ")"
                for q in t.quirks:
                    quirks_used.setdefault(q, []).append(name)
            print(f"PASS {name}{note}", flush=True)
            npass += 1
        except Skip as e:
            print(f"SKIP {name}: {e}", flush=True)
            nskip += 1
        except Fail as e:
            print(f"FAIL {name}: {e}", flush=True)
            nfail += 1
        except Exception as e:            # a bug in the test or a wild response
            tb = traceback.extract_tb(e.__traceback__)[-1]
            print(f"FAIL {name}: {type(e).__name__}: {e} (line {tb.lineno})", flush=True)
            nfail += 1
        finally:
            t.finish()
            if args.verbose or os.environ.get("IMAP_PROTO_TIMES"):
                print(f"    ({time.monotonic() - start:.2f} s)")
    suite.cleanup(suite.prefix + "*")
    if suite.admin:
        suite.admin.logout()
    for q, names in quirks_used.items():
        print(f"# DOVECOT_QUIRK {q}: {QUIRKS.get(q, '')} [{', '.join(names)}]")
    total = npass + nfail + nskip
    print(f"{npass} passed, {nfail} failed, {nskip} skipped of {total} tests "
          f"in {time.monotonic() - t0:.1f} s")
    return 1 if nfail else 0


if __name__ == "__main__":
    sys.exit(main())
