#!/usr/bin/env python3
"""sync_model.py: randomized and small-scope exhaustive tests of two-way sync.

Drives real stores through the real CLI (dsync init, save, flags, expunge,
copy, move, mailbox, metadata, dump) and `dsync sync -u u1 A B` between
pairs of stores, keeps a model of what the user did, and checks the
invariants of DESIGN.md "Replication: N-way convergence":

  convergence   after a final chain of syncs every store dumps the same
                text; after every single sync the two stores dump the same
  no loss       a message GUID that was saved or copied and never the
                target of an expunge, of a move (as its source) or of a
                mailbox delete is in every final dump; a message (one
                instance ever) whose flags were changed exactly once and
                that was never removed has that change in every final
                dump; a server metadata key set exactly once (never unset)
                has that value in every final dump
  no resurrection  a GUID with exactly one instance ever (never copied or
                moved) that an expunge or a mailbox delete removed is in
                no final dump
  UID safety    after every step every changed store is dumped; one
                (store, mailbox GUID, UIDVALIDITY, UID) must never name two
                different message GUIDs over the run

Besides, a command that fails with exit 1 must leave the store unchanged,
and the harness checks its own bookkeeping against the dumps (a "model
mismatch" is a harness or local-engine bug, not a sync bug).

Random mode (one line per run on success, a replayable report on failure):

  sync_model.py --dsync PATH --seed N [--stores 2..4] [--steps K]
                [--keep DIR] [--no-sync]
  --seeds 1-20,33  several seeds in one process; --stores 2-4 runs every
  seed with each store count; --keep-failed removes the stores of passing
  runs under --keep; --no-sync uses one store and no syncs (self-test of
  the harness that works without `dsync sync`).

Exhaustive mode (3 stores, 2 operations each, every interleaving and sync
placement up to the commutation of operations on different stores):

  sync_model.py --exhaustive --dsync PATH [--cases N | --cases 0]
                [--budget SECONDS] [--drawn K] [--scenario NAME --class N]
                [--keep DIR] [--no-sync]

As a module: run_random(...) and run_exhaustive(...) return True/False and
print their report to `out`.

Exit status: 0 all runs passed, 1 a run failed (report printed), 2 usage.
"""

import argparse
import collections
import copy
import difflib
import itertools
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

USER = "u1"
SYSTEM_FLAGS = ("\\Seen", "\\Flagged", "\\Answered", "\\Deleted", "\\Draft")
KEYWORDS = ("$Label1", "$Junk", "Work")
FLAG_CHOICES = SYSTEM_FLAGS * 2 + KEYWORDS  # system flags twice as likely
# a few fixed names, so that independent creates and renames collide
MAILBOX_NAMES = ("A", "B", "A/c", "Z", "Entw\u00fcrfe")
META_KEYS = ("/private/comment", "/shared/comment", "/private/vendor/x")
META_VALUES = ("v1", "v2", "hello world", "x")
CALL_TIMEOUT = 120
MAX_DIFF_LINES = 60


class Failure(Exception):
    """Ends a run: dsync misbehaved (usage error, crash, sync failure) or
    the harness found its own model wrong."""


# ---------------------------------------------------------------- dumps

_Q = r'"((?:[^"\\]|\\.)*)"'
MAILBOX_RE = re.compile(r'^mailbox ' + _Q + r' guid ([0-9a-f]{32}) '
                        r'uidvalidity (\d+) uidnext (\d+)(?: |$)')
MSG_RE = re.compile(r'^  msg (\d+) guid ([0-9a-f]{32}) instance (\S+) '
                    r'flags \(([^)]*)\) keywords \(([^)]*)\)(?: |$)')
META_RE = re.compile(r'^meta server (\S+) ' + _Q + r' (?:"((?:[^"\\]|\\.)*)"|-)(?: |$)')
SUB_RE = re.compile(r'^subscribed ' + _Q + '$')


def unquote(s):
    """Undo mail_dump_quote()."""
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            n = s[i + 1]
            if n == "x" and i + 3 < len(s):
                out.append(chr(int(s[i + 2:i + 4], 16)))
                i += 4
                continue
            out.append({"n": "\n", "r": "\r", "t": "\t"}.get(n, n))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


class Msg:
    __slots__ = ("uid", "guid", "instance", "flags", "keywords")

    def __init__(self, uid, guid, instance, flags, keywords):
        self.uid, self.guid, self.instance = uid, guid, instance
        self.flags, self.keywords = flags, keywords


class Mailbox:
    __slots__ = ("name", "guid", "uidvalidity", "uidnext", "msgs")

    def __init__(self, name, guid, uidvalidity, uidnext):
        self.name, self.guid = name, guid
        self.uidvalidity, self.uidnext = uidvalidity, uidnext
        self.msgs = {}  # uid -> Msg, ascending


class Dump:
    """The parsed text of `dsync -u USER dump`."""

    def __init__(self, text):
        self.text = text
        self.mailboxes = []
        self.server_meta = {}  # (user, key) -> value
        self.subscribed = set()
        cur = None
        for ln, line in enumerate(text.split("\n"), 1):
            if line.startswith("mailbox "):
                m = MAILBOX_RE.match(line)
                if not m:
                    raise Failure("dump line %d not understood: %r" % (ln, line))
                cur = Mailbox(unquote(m[1]), m[2], int(m[3]), int(m[4]))
                if any(mb.name == cur.name for mb in self.mailboxes):
                    raise Failure("two mailboxes named '%s' in one dump" % cur.name)
                self.mailboxes.append(cur)
            elif line.startswith("  msg "):
                m = MSG_RE.match(line)
                if not m or cur is None:
                    raise Failure("dump line %d not understood: %r" % (ln, line))
                uid = int(m[1])
                if uid in cur.msgs:
                    raise Failure("dump line %d: uid %d twice in mailbox '%s'"
                                  % (ln, uid, cur.name))
                cur.msgs[uid] = Msg(uid, m[2], m[3], frozenset(m[4].split()),
                                    frozenset(m[5].split()))
            elif line.startswith("meta server "):
                m = META_RE.match(line)
                if not m:
                    raise Failure("dump line %d not understood: %r" % (ln, line))
                if m[3] is not None:  # "-": a removed key (clock dumps)
                    self.server_meta[(m[1], unquote(m[2]))] = unquote(m[3])
            elif line.startswith("subscribed "):
                m = SUB_RE.match(line)
                if m:
                    self.subscribed.add(unquote(m[1]))
        self._count = None

    def by_name(self, name):
        for mb in self.mailboxes:
            if mb.name == name:
                return mb
        return None

    def by_guid(self, guid):
        for mb in self.mailboxes:
            if mb.guid == guid:
                return mb
        return None

    def guid_count(self):
        if self._count is None:
            self._count = collections.Counter(
                m.guid for mb in self.mailboxes for m in mb.msgs.values())
        return self._count

    def find(self, guid):
        return [(mb, m) for mb in self.mailboxes for m in mb.msgs.values()
                if m.guid == guid]


def select_uids(mb, uidset):
    """The messages of mb that UIDSET names, as mail_uidset_parse() reads
    it ('*' is the highest UID present; 'a:*' with * < a is *:a)."""
    if mb is None:
        return []
    star = max(mb.msgs) if mb.msgs else 0
    ranges = []
    for part in uidset.split(","):
        lo_s, _, hi_s = part.partition(":")
        hi_s = hi_s or lo_s
        lo = star if lo_s == "*" else int(lo_s)
        hi = star if hi_s == "*" else int(hi_s)
        if lo_s == "*" and hi_s == "*":
            if star == 0:
                continue
        elif (lo_s == "*" or hi_s == "*") and star == 0:
            lo = hi = int(hi_s if lo_s == "*" else lo_s)
        ranges.append((min(lo, hi), max(lo, hi)))
    return [m for uid, m in mb.msgs.items()
            if any(lo <= uid <= hi for lo, hi in ranges)]


def unified(a, b, name_a, name_b):
    d = list(difflib.unified_diff(a.splitlines(), b.splitlines(), name_a,
                                  name_b, lineterm="", n=2))
    if len(d) > MAX_DIFF_LINES:
        d = d[:MAX_DIFF_LINES] + ["... (%d more diff lines)" % (len(d) - MAX_DIFF_LINES)]
    return "\n".join(d)


# ---------------------------------------------------------------- dsync

class Runner:
    def __init__(self, dsync):
        self.dsync = os.path.abspath(dsync) if os.sep in dsync else dsync
        self.calls = 0

    def run(self, args, stdin_path=None):
        self.calls += 1
        fin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
        try:
            p = subprocess.run([self.dsync] + args, stdin=fin,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=CALL_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise Failure("dsync %s: no answer after %d s"
                          % (" ".join(args), CALL_TIMEOUT))
        finally:
            if stdin_path:
                fin.close()
        out = p.stdout.decode("utf-8", "surrogateescape")
        err = p.stderr.decode("utf-8", "surrogateescape")
        if re.search(r"Sanitizer|runtime error:", err):
            raise Failure("dsync %s: sanitizer report (exit %d):\n%s"
                          % (" ".join(args), p.returncode, err[:3000]))
        return p.returncode, out, err


def rc_text(rc):
    return "killed by signal %d" % -rc if rc < 0 else "exit %d" % rc


# ---------------------------------------------------------------- model

class Model:
    """N stores of one user, the steps run on them, and what the harness
    knows about the history (for the invariants)."""

    def __init__(self, runner, root, msgdir, nstores, label, no_sync=False):
        self.runner, self.root, self.msgdir = runner, root, msgdir
        self.n, self.label, self.no_sync = nstores, label, no_sync
        self.stores = [os.path.join(root, "S%d" % (i + 1)) for i in range(nstores)]
        self.steps = []        # replayable shell lines (and "# ..." notes)
        self.nstep = 0
        self.dumps = [None] * nstores
        self.violations = []   # (summary, detail)
        self.failure = None
        self.n_syncs = self.n_expected_failures = self.n_msg = 0
        self.msgfiles = []
        # history
        self.instances = collections.Counter()  # guid -> instances created
        self.origin = {}                        # guid -> step that made it
        self.removed = set()   # guids an expunge/move source/delete targeted
        self.erased = set()    # guids an expunge or a mailbox delete removed
        self.flag_ops = collections.defaultdict(list)  # guid -> [(step, mode, flags)]
        self.meta_ops = collections.defaultdict(list)  # (user, key) -> [(step, value)]
        self.uidmap = {}       # (store, mbguid, uidvalidity, uid) -> (guid, step)
        self.uid_reported = set()

    # -- bookkeeping

    def violate(self, summary, detail=None):
        self.violations.append((summary, detail or summary))

    def note(self, text):
        self.steps.append("# " + text)

    def _cmdline(self, args, stdin_path):
        parts = ['"$DSYNC"']
        for a in args:
            if a in self.stores:
                parts.append('"$W/%s"' % os.path.basename(a))
            else:
                parts.append(shlex.quote(a))
        if stdin_path:
            parts.append('<"$M/%s"' % os.path.basename(stdin_path))
        return " ".join(parts)

    def _record(self, args, stdin_path, rc, err):
        self.nstep += 1
        res = "ok" if rc == 0 else "%s: %s" % (rc_text(rc), err.strip().replace("\n", " | ")[:200])
        self.steps.append("%s  # %d: %s" % (self._cmdline(args, stdin_path), self.nstep, res))

    def sname(self, i):
        return "S%d" % (i + 1)

    def new_message(self):
        self.n_msg += 1
        path = os.path.join(self.msgdir, "m%d.eml" % self.n_msg)
        with open(path, "wb") as f:
            f.write(("From: Sender %d <s%d@example.org>\r\nTo: %s@example.net\r\n"
                     "Subject: %s message %d\r\nMessage-ID: <%s.%d@example.org>\r\n"
                     "Date: Sat, 28 Nov 2026 12:00:00 +0000\r\n\r\n"
                     "Body of %s message %d.\r\n"
                     % (self.n_msg, self.n_msg, USER, self.label, self.n_msg,
                        self.label, self.n_msg, self.label, self.n_msg)).encode())
        self.msgfiles.append(path)
        return path

    def _created(self, guid):
        self.instances[guid] += 1
        self.origin.setdefault(guid, self.nstep)

    # -- running dsync

    def before_op(self, i):
        """Called by random_op() before it picks an operation for store i
        from self.dumps[i]; here the stores change only through this
        model, so the last dump is current."""

    def setup(self):
        os.makedirs(self.root, exist_ok=True)
        os.makedirs(self.msgdir, exist_ok=True)
        for i in range(self.n):
            for args in (["-s", self.stores[i], "init"],
                         ["-s", self.stores[i], "user", "add", USER]):
                rc, out, err = self.runner.run(args)
                self._record(args, None, rc, err)
                if rc != 0:
                    raise Failure("step %d: %s: %s: %s"
                                  % (self.nstep, " ".join(args), rc_text(rc), err.strip()))
            self.refresh(i)

    def refresh(self, i):
        """Dump store i, check UID safety against everything seen so far."""
        rc, out, err = self.runner.run(["-s", self.stores[i], "-u", USER, "dump"])
        if rc != 0:
            raise Failure("after step %d: dump of %s: %s: %s"
                          % (self.nstep, self.sname(i), rc_text(rc), err.strip()))
        try:
            d = Dump(out)
        except Failure as e:
            raise Failure("after step %d: dump of %s: %s" % (self.nstep, self.sname(i), e))
        for mb in d.mailboxes:
            for uid, m in mb.msgs.items():
                key = (i, mb.guid, mb.uidvalidity, uid)
                prev = self.uidmap.get(key)
                if prev is None:
                    self.uidmap[key] = (m.guid, self.nstep)
                elif prev[0] != m.guid and key not in self.uid_reported:
                    self.uid_reported.add(key)
                    self.violate(
                        "UID safety: after step %d, %s '%s' uid %d names %s; "
                        "after step %d it named %s"
                        % (self.nstep, self.sname(i), mb.name, uid, m.guid,
                           prev[1], prev[0]),
                        "UID safety: after step %d, %s mailbox '%s' (guid %s "
                        "uidvalidity %d) uid %d names message %s, but after "
                        "step %d the same UID named message %s"
                        % (self.nstep, self.sname(i), mb.name, mb.guid,
                           mb.uidvalidity, uid, m.guid, prev[1], prev[0]))
        self.dumps[i] = d
        return d

    def op(self, i, args, stdin_path=None):
        """Run one user command on store i. Exit 0 is success, exit 1 with
        one 'dsync: ' line is an expected failure; anything else ends the
        run. Returns (ok, stdout, dump before, dump after)."""
        pre = self.dumps[i]
        full = ["-s", self.stores[i], "-u", USER] + args
        rc, out, err = self.runner.run(full, stdin_path)
        self._record(full, stdin_path, rc, err)
        lines = err.strip("\n").split("\n")
        if rc == 1 and len(lines) == 1 and lines[0].startswith("dsync: ") and \
                not lines[0].startswith("dsync: usage error"):
            ok = False
        elif rc == 0:
            ok = True
        else:
            raise Failure("step %d: dsync %s: %s: %s"
                          % (self.nstep, " ".join(args), rc_text(rc), err.strip()[:1000]))
        post = self.refresh(i)
        if not ok:
            self.n_expected_failures += 1
            if post.text != pre.text:
                self.violate("step %d: a command that failed (exit 1) changed %s"
                             % (self.nstep, self.sname(i)),
                             "step %d: a command that failed (exit 1) changed %s:\n%s"
                             % (self.nstep, self.sname(i),
                                unified(pre.text, post.text, "before", "after")))
        return ok, out, pre, post

    def mismatch(self, what):
        raise Failure("step %d: model mismatch: %s" % (self.nstep, what))

    def sync(self, i, j):
        if self.no_sync:
            return
        args = ["sync", "-u", USER, self.stores[i], self.stores[j]]
        rc, out, err = self.runner.run(args)
        self._record(args, None, rc, err)
        self.n_syncs += 1
        if rc != 0:
            raise Failure("step %d: sync %s %s: %s: %s"
                          % (self.nstep, self.sname(i), self.sname(j), rc_text(rc),
                             err.strip()[:1000]))
        a, b = self.refresh(i), self.refresh(j)
        if a.text != b.text:
            self.violate("step %d: after sync %s %s their dumps differ"
                         % (self.nstep, self.sname(i), self.sname(j)),
                         "step %d: after sync %s %s their dumps differ:\n%s"
                         % (self.nstep, self.sname(i), self.sname(j),
                            unified(a.text, b.text, self.sname(i), self.sname(j))))

    # -- operations (each also updates the history)

    def save(self, i, mailbox, flags, msgfile):
        args = ["save", "-m", mailbox]
        for f in flags:
            args += ["-f", f]
        ok, out, pre, post = self.op(i, args, msgfile)
        if not ok:
            return None
        m = re.fullmatch(r"uid (\d+) guid ([0-9a-f]{32})\n", out)
        if not m:
            raise Failure("step %d: save printed %r, want 'uid N guid HEX'" % (self.nstep, out))
        uid, guid = int(m[1]), m[2]
        mb = post.by_name(mailbox)
        if mb is None or uid not in mb.msgs or mb.msgs[uid].guid != guid:
            self.mismatch("saved uid %d guid %s is not in '%s'" % (uid, guid, mailbox))
        self._created(guid)
        return guid

    def flags(self, i, mailbox, uidset, mode, flags):
        ok, out, pre, post = self.op(i, ["flags", mode, "-m", mailbox, uidset] + list(flags))
        if not ok:
            return False
        pre_mb = pre.by_name(mailbox)
        post_mb = post.by_guid(pre_mb.guid) if pre_mb else None
        if pre_mb is None or post_mb is None:
            self.mismatch("flags on '%s' succeeded, mailbox not in the dumps" % mailbox)
        targets = {m.uid for m in select_uids(pre_mb, uidset)}
        fs = frozenset(f for f in flags if f.startswith("\\"))
        ks = frozenset(f for f in flags if not f.startswith("\\"))
        for uid, m in pre_mb.msgs.items():
            p = post_mb.msgs.get(uid)
            if p is None:
                self.mismatch("flags removed uid %d from '%s'" % (uid, mailbox))
            if uid not in targets:
                if (p.flags, p.keywords) != (m.flags, m.keywords):
                    self.mismatch("flags %s changed uid %d outside %s" % (mode, uid, uidset))
                continue
            good = {"add": fs <= p.flags and ks <= p.keywords,
                    "remove": not (fs & p.flags) and not (ks & p.keywords),
                    "replace": p.flags == fs and p.keywords == ks}[mode]
            if not good:
                self.mismatch("flags %s %s left uid %d with %s %s"
                              % (mode, " ".join(flags), uid, sorted(p.flags), sorted(p.keywords)))
            self.flag_ops[m.guid].append((self.nstep, mode, fs, ks))
        return True

    def expunge(self, i, mailbox, uidset):
        ok, out, pre, post = self.op(i, ["expunge", "-m", mailbox, uidset])
        if not ok:
            return False
        pre_mb = pre.by_name(mailbox)
        post_mb = post.by_guid(pre_mb.guid) if pre_mb else None
        if post_mb is None:
            self.mismatch("expunge in '%s' succeeded, mailbox not in the dumps" % mailbox)
        gone = [m for uid, m in pre_mb.msgs.items() if uid not in post_mb.msgs]
        want = select_uids(pre_mb, uidset)
        if [m.uid for m in gone] != [m.uid for m in want]:
            self.mismatch("expunge %s removed uids %s, want %s"
                          % (uidset, [m.uid for m in gone], [m.uid for m in want]))
        for m in gone:
            self.removed.add(m.guid)
            self.erased.add(m.guid)
        return True

    def copy(self, i, src, uidset, dst, move=False):
        ok, out, pre, post = self.op(i, ["move" if move else "copy", "-m", src, uidset, dst])
        if not ok:
            return False
        smb, dmb = pre.by_name(src), pre.by_name(dst)
        if smb is None or dmb is None or post.by_guid(dmb.guid) is None or \
                post.by_guid(smb.guid) is None:
            self.mismatch("%s %s -> %s succeeded, mailboxes not in the dumps" % (
                "move" if move else "copy", src, dst))
        want = select_uids(smb, uidset)
        new = [m for uid, m in post.by_guid(dmb.guid).msgs.items() if uid >= dmb.uidnext]
        if sorted(m.guid for m in new) != sorted(m.guid for m in want):
            self.mismatch("copy of %s made %s, want %s"
                          % (uidset, [m.guid for m in new], [m.guid for m in want]))
        for m in new:
            self._created(m.guid)
        if move:
            post_s = post.by_guid(smb.guid)
            gone = [m for uid, m in smb.msgs.items() if uid not in post_s.msgs]
            if [m.uid for m in gone] != [m.uid for m in want]:
                self.mismatch("move %s removed uids %s" % (uidset, [m.uid for m in gone]))
            for m in gone:
                self.removed.add(m.guid)
        return True

    def mailbox_create(self, i, name):
        return self.op(i, ["mailbox", "create", name])[0]

    def mailbox_delete(self, i, name):
        ok, out, pre, post = self.op(i, ["mailbox", "delete", name])
        if not ok:
            return False
        mb = pre.by_name(name)
        if mb is None or post.by_guid(mb.guid) is not None:
            self.mismatch("mailbox delete '%s' succeeded, dumps disagree" % name)
        for m in mb.msgs.values():
            self.removed.add(m.guid)
            self.erased.add(m.guid)
        return True

    def mailbox_rename(self, i, old, new):
        return self.op(i, ["mailbox", "rename", old, new])[0]

    def subscribe(self, i, name, on):
        return self.op(i, ["mailbox", "subscribe" if on else "unsubscribe", name])[0]

    def metadata(self, i, mailbox, key, value):
        args = ["metadata", "set" if value is not None else "unset"]
        if mailbox is not None:
            args += ["-m", mailbox]
        args.append(key)
        if value is not None:
            args.append(value)
        ok = self.op(i, args)[0]
        if ok and mailbox is None:
            user = USER if key.startswith("/private/") else "-"
            self.meta_ops[(user, key)].append((self.nstep, value))
        return ok

    # -- the end

    def final_round(self, rounds):
        """Sync along the chain S1-S2, S2-S3, ... and back, `rounds` times."""
        if self.no_sync or self.n < 2:
            return
        self.note("final round: %d x chain forward and back" % rounds)
        for _ in range(rounds):
            for k in range(self.n - 1):
                self.sync(k, k + 1)
            for k in reversed(range(self.n - 1)):
                self.sync(k + 1, k)

    def check_final(self):
        d0 = self.dumps[0]
        for k in range(1, self.n):
            if self.dumps[k].text != d0.text:
                self.violate("convergence: final dumps of S1 and %s differ" % self.sname(k),
                             "convergence: final dumps of S1 and %s differ:\n%s"
                             % (self.sname(k), unified(d0.text, self.dumps[k].text,
                                                       "S1", self.sname(k))))
                break
        for g in sorted(self.instances):
            if g in self.removed:
                continue
            for k in range(self.n):
                if g not in self.dumps[k].guid_count():
                    self.violate("no loss: message %s (made at step %d, never removed) "
                                 "is missing on %s" % (g, self.origin[g], self.sname(k)))
        for g in sorted(self.erased):
            if self.instances[g] != 1:
                continue
            for k in range(self.n):
                if g in self.dumps[k].guid_count():
                    where = ", ".join("'%s' uid %d" % (mb.name, m.uid)
                                      for mb, m in self.dumps[k].find(g))
                    self.violate("no resurrection: message %s (one instance, made at "
                                 "step %d, removed) is back on %s: %s"
                                 % (g, self.origin[g], self.sname(k), where))
        for g, ops in sorted(self.flag_ops.items()):
            if len(ops) != 1 or self.instances[g] != 1 or g in self.removed:
                continue
            step, mode, fs, ks = ops[0]
            for k in range(self.n):
                for mb, m in self.dumps[k].find(g):
                    good = {"add": fs <= m.flags and ks <= m.keywords,
                            "remove": not (fs & m.flags) and not (ks & m.keywords),
                            "replace": m.flags == fs and m.keywords == ks}[mode]
                    if not good:
                        self.violate("no loss: the only flag change of %s (step %d: %s %s) "
                                     "is lost on %s: flags %s keywords %s"
                                     % (g, step, mode, " ".join(sorted(fs | ks)) or "()",
                                        self.sname(k), sorted(m.flags), sorted(m.keywords)))
        for key, ops in sorted(self.meta_ops.items()):
            if len(ops) != 1 or ops[0][1] is None:
                continue
            for k in range(self.n):
                got = self.dumps[k].server_meta.get(key)
                if got != ops[0][1]:
                    self.violate("no loss: server metadata %s %s set once to %r (step %d) "
                                 "is %r on %s" % (key[0], key[1], ops[0][1], ops[0][0],
                                                  got, self.sname(k)))

    def ok(self):
        return self.failure is None and not self.violations

    def report(self, header, hint, kept, out):
        lines = ["== %s: FAILED" % header,
                 "# replay: set W, M and DSYNC, then run the lines below (no set -e);",
                 "# '# N: result' is step N and what it did in this run",
                 "W=%s" % shlex.quote(self.root),
                 "M=%s" % shlex.quote(self.msgdir),
                 "DSYNC=%s" % shlex.quote(self.runner.dsync)]
        lines += self.steps
        lines.append("# stores: %s %s" % (" ".join(self.stores),
                     "(kept)" if kept else "(removed; rerun with --keep DIR to keep them)"))
        lines.append("# rerun: %s" % hint)
        if self.violations:
            lines.append("%d violation(s):" % len(self.violations))
            for k, (summary, detail) in enumerate(self.violations[:30]):
                lines.append("  " + (detail if k < 3 else summary).replace("\n", "\n    "))
            if len(self.violations) > 30:
                lines.append("  ... %d more" % (len(self.violations) - 30))
        if self.failure:
            lines.append("run stopped: " + self.failure)
        first = (self.failure if self.failure else self.violations[0][0]).split("\n")[0]
        more = len(self.violations) - (0 if self.failure else 1)
        lines.append("FAIL %s: %s%s" % (header, first,
                     " (and %d violation(s) above)" % more if more > 0 else ""))
        text = "\n".join(lines) + "\n"
        if kept and os.path.isdir(self.root):
            with open(os.path.join(self.root, "report.txt"), "w") as f:
                f.write(text)
            with open(os.path.join(self.root, "replay.sh"), "w") as f:
                f.write("#!/bin/bash\n# replay of %s into fresh stores under $W\n" % header)
                f.write(": \"${W:?set W to an empty directory}\"\n")
                f.write("M=${M:-%s}\nDSYNC=${DSYNC:-%s}\nmkdir -p \"$W\"\n"
                        % (shlex.quote(self.msgdir), shlex.quote(self.runner.dsync)))
                f.write("\n".join(s for s in self.steps) + "\n")
        out.write(text)
        out.flush()


# ---------------------------------------------------------------- random mode

KINDS = ("save", "flags", "expunge", "copy", "move", "create", "rename", "delete",
         "subscribe", "metadata")
WEIGHTS = (5, 4, 1.5, 1, 1, 1.2, 0.7, 0.7, 0.5, 1)
SYNC_SHARE = 0.25


def pick_mailbox(rng, d, with_msgs=False, missing=0.03):
    if rng.random() < missing:
        return rng.choice(MAILBOX_NAMES + ("Nope",))
    names = [mb.name for mb in d.mailboxes if mb.msgs or not with_msgs]
    if not names:
        return "INBOX"
    if "INBOX" in names and rng.random() < 0.5:
        return "INBOX"
    return rng.choice(names)


def pick_uidset(rng, mb, single=0.7):
    uids = sorted(mb.msgs) if mb is not None else []
    if not uids:
        return rng.choice(("1", "1:*", "*"))
    r = rng.random()
    if r < single:
        return str(rng.choice(uids))
    r = rng.random()
    if r < 0.45 and len(uids) >= 2:
        a, b = sorted(rng.sample(uids, 2))
        return "%d:%d" % (a, b)
    if r < 0.6:
        return "1:*"
    if r < 0.75:
        return "%d:*" % rng.choice(uids)
    if r < 0.9:
        return "%d,%d" % (rng.choice(uids), rng.choice(uids))
    return str(mb.uidnext + rng.randrange(3))


def pick_flags(rng, lo=1):
    return sorted(set(rng.sample(FLAG_CHOICES, rng.randint(lo, 2))))


def random_step(model, rng):
    if not model.no_sync and model.n > 1 and rng.random() < SYNC_SHARE:
        i, j = rng.sample(range(model.n), 2)
        model.sync(i, j)
        return
    random_op(model, rng)


def random_op(model, rng):
    """One random user operation on a random store (no sync). Calls
    model.before_op(i) first, so that a subclass can refresh its view of
    store i (cluster_model.py: stores that change underneath)."""
    i = rng.randrange(model.n)
    model.before_op(i)
    d = model.dumps[i]
    kind = rng.choices(KINDS, WEIGHTS)[0]
    others = [mb.name for mb in d.mailboxes if mb.name != "INBOX"]
    if kind == "save":
        mailbox = "INBOX" if rng.random() < 0.6 else pick_mailbox(rng, d)
        flags = pick_flags(rng) if rng.random() < 0.35 else []
        if model.msgfiles and rng.random() < 0.15:
            msg = rng.choice(model.msgfiles)  # an identical body, a new message
        else:
            msg = model.new_message()
        model.save(i, mailbox, flags, msg)
    elif kind == "flags":
        mailbox = pick_mailbox(rng, d, with_msgs=True)
        mode = rng.choice(("add", "add", "remove", "replace"))
        model.flags(i, mailbox, pick_uidset(rng, d.by_name(mailbox)), mode,
                    pick_flags(rng, 0 if mode == "replace" else 1))
    elif kind == "expunge":
        mailbox = pick_mailbox(rng, d, with_msgs=True)
        model.expunge(i, mailbox, pick_uidset(rng, d.by_name(mailbox), single=0.85))
    elif kind in ("copy", "move"):
        src = pick_mailbox(rng, d, with_msgs=True)
        names = [mb.name for mb in d.mailboxes]
        dst = rng.choice(names) if rng.random() < 0.97 else "Nope"
        model.copy(i, src, pick_uidset(rng, d.by_name(src)), dst, move=kind == "move")
    elif kind == "create":
        model.mailbox_create(i, rng.choice(MAILBOX_NAMES))
    elif kind == "rename":
        old = rng.choice(others) if others and rng.random() < 0.9 else rng.choice(MAILBOX_NAMES)
        model.mailbox_rename(i, old, rng.choice(MAILBOX_NAMES + ("B/d",)))
    elif kind == "delete":
        # children first, as the CLI wants; sometimes a missing or a parent
        name = rng.choice(others) if others and rng.random() < 0.9 else rng.choice(MAILBOX_NAMES)
        model.mailbox_delete(i, name)
    elif kind == "subscribe":
        model.subscribe(i, rng.choice(MAILBOX_NAMES + ("INBOX",)), rng.random() < 0.6)
    else:
        mailbox = None if rng.random() < 0.6 else pick_mailbox(rng, d)
        value = rng.choice(META_VALUES) if rng.random() < 0.7 else None
        model.metadata(i, mailbox, rng.choice(META_KEYS), value)


def _workdir(keep, name):
    if keep:
        root = os.path.join(os.path.abspath(keep), name)
        if os.path.exists(root):
            shutil.rmtree(root)
        os.makedirs(root)
        return root
    return tempfile.mkdtemp(prefix="sync-model-%s." % name)


def run_random(dsync, seed, nstores=2, nsteps=40, keep=None, no_sync=False,
               keep_failed=False, out=sys.stdout, runner=None):
    """One randomized run. Returns (passed, model)."""
    runner = runner or Runner(dsync)
    n = 1 if no_sync else nstores
    tag = "seed-%d-%s" % (seed, "nosync" if no_sync else "%dstores" % nstores)
    root = _workdir(keep, tag)
    model = Model(runner, root, os.path.join(root, "msgs"), n, "seed%d" % seed, no_sync)
    rng = random.Random(seed * 10 + n)
    try:
        model.setup()
        for _ in range(nsteps):
            random_step(model, rng)
        model.final_round(rounds=2)
        model.check_final()
    except Failure as e:
        model.failure = str(e)
    passed = model.ok()
    header = "seed %d, %s, %d steps" % (seed, "no-sync" if no_sync else "%d stores" % n, nsteps)
    if not passed:
        hint = "python3 %s --dsync %s --seed %d --steps %d %s --keep DIR" % (
            shlex.quote(os.path.abspath(__file__)), shlex.quote(runner.dsync), seed,
            nsteps, "--no-sync" if no_sync else "--stores %d" % n)
        model.report(header, hint, bool(keep), out)
    if not keep or (passed and keep_failed):
        shutil.rmtree(root, ignore_errors=True)
    return passed, model


# ---------------------------------------------------------------- exhaustive mode

EX_KINDS = ("save", "savex", "flag", "expunge", "create", "delete", "rename")
# the flag change a store makes, by (store * 2 + slot): distinct, so that
# concurrent changes conflict
FLAG_VARIANTS = (("add", ("\\Flagged",)), ("remove", ("\\Seen",)),
                 ("replace", ("\\Answered", "$Label1")), ("add", ("\\Deleted",)),
                 ("remove", ("\\Flagged",)), ("add", ("\\Seen", "Work")))
# per store, its two operations in order. save: a new message into INBOX;
# savex: into X; flag/expunge: the common message m0; create/delete: X;
# rename: X to Y.
SCENARIOS = (
    ("each-once-1", (("save", "flag"), ("expunge", "create"), ("delete", "rename"))),
    ("each-once-2", (("create", "flag"), ("rename", "expunge"), ("save", "delete"))),
    ("each-once-3", (("flag", "delete"), ("create", "save"), ("expunge", "rename"))),
    ("flag-races", (("flag", "expunge"), ("flag", "flag"), ("expunge", "flag"))),
    ("create-races", (("create", "savex"), ("create", "delete"), ("create", "rename"))),
    ("delete-vs-mail", (("create", "savex"), ("delete", "savex"), ("rename", "savex"))),
    ("rename-races", (("create", "rename"), ("rename", "create"), ("delete", "create"))),
    ("save-races", (("save", "expunge"), ("save", "flag"), ("save", "save"))),
)
PAIRS = ((0, 1), (1, 2), (0, 2))


def schedule_classes():
    """Every way to run 3 stores' 2 operations each with 0, 1 or 2 pairwise
    syncs, up to reordering operations of different stores between the same
    syncs (they share nothing): (sync pairs, per store the number of syncs
    before each of its two operations)."""
    out = []
    for s in range(3):
        splits = [(a, b) for a in range(s + 1) for b in range(a, s + 1)]
        for sp in itertools.product(PAIRS, repeat=s):
            for per in itertools.product(splits, repeat=3):
                out.append((sp, per))
    return out


def count_schedules():
    """Enumerate all interleavings of the 6 operations (90) with up to 2
    syncs from the 3 pairs at any of the 7 points, and map each to its
    class: returns (schedules, distinct classes)."""
    perms = set(itertools.permutations((0, 0, 1, 1, 2, 2)))
    n, classes = 0, set()
    for perm in perms:
        for s in range(3):
            for points in itertools.combinations_with_replacement(range(7), s):
                for sp in itertools.product(PAIRS, repeat=s):
                    n += 1
                    per = [[], [], []]
                    for pos, st in enumerate(perm):
                        per[st].append(sum(1 for p in points if p <= pos))
                    classes.add((sp, tuple(tuple(x) for x in per)))
    return n, len(classes)


def build_schedule(cls, descending=False):
    sp, per = cls
    seq = []
    order = (2, 1, 0) if descending else (0, 1, 2)
    for seg in range(len(sp) + 1):
        for st in order:
            for slot in (0, 1):
                if per[st][slot] == seg:
                    seq.append(("op", st, slot))
        if seg < len(sp):
            seq.append(("sync",) + sp[seg])
    return seq


def describe(seq, scenario):
    parts = []
    for it in seq:
        if it[0] == "sync":
            parts.append("sync S%d S%d" % (it[1] + 1, it[2] + 1))
        else:
            parts.append("S%d:%s" % (it[1] + 1, scenario[it[1]][it[2]]))
    return ", ".join(parts)


def ex_base(runner, root, msgdir, no_sync):
    """Three stores that share one message m0 (\\Seen) in INBOX."""
    m = Model(runner, os.path.join(root, "base"), msgdir, 1 if no_sync else 3, "ex", no_sync)
    m.setup()
    g0 = m.save(0, "INBOX", ["\\Seen"], m.new_message())
    if g0 is None:
        raise Failure("common prefix: save of m0 failed")
    m.sync(0, 1)
    m.sync(1, 2)
    for k in range(1, m.n):
        if m.dumps[k].text != m.dumps[0].text:
            raise Failure("common prefix: S1 and S%d differ after syncs:\n%s"
                          % (k + 1, unified(m.dumps[0].text, m.dumps[k].text, "S1",
                                            "S%d" % (k + 1))))
    if m.violations:
        raise Failure("common prefix: " + m.violations[0][1])
    m.note("end of the common prefix")
    return m, g0


def ex_op(m, i, kind, g0, variant):
    if kind in ("save", "savex"):
        m.save(i, "INBOX" if kind == "save" else "X", [], m.new_message())
    elif kind in ("flag", "expunge"):
        loc = m.dumps[i].find(g0)
        mailbox, uid = (loc[0][0].name, loc[0][1].uid) if loc else ("INBOX", 1)
        if kind == "flag":
            mode, flags = FLAG_VARIANTS[variant % len(FLAG_VARIANTS)]
            m.flags(i, mailbox, str(uid), mode, flags)
        else:
            m.expunge(i, mailbox, str(uid))
    elif kind == "create":
        m.mailbox_create(i, "X")
    elif kind == "delete":
        m.mailbox_delete(i, "X")
    elif kind == "rename":
        m.mailbox_rename(i, "X", "Y")
    else:
        raise ValueError(kind)


def run_case(base, g0, case_root, scenario, cls_idx, cls, no_sync):
    if os.path.exists(case_root):
        shutil.rmtree(case_root)
    shutil.copytree(base.root, case_root, symlinks=True)
    m = copy.deepcopy(base, memo={id(base.runner): base.runner})
    m.root = case_root
    m.stores = [os.path.join(case_root, os.path.basename(s)) for s in base.stores]
    seq = build_schedule(cls, descending=cls_idx % 2 == 1)
    m.note("case: " + describe(seq, scenario[1]))
    try:
        for it in seq:
            if it[0] == "sync":
                m.sync(it[1], it[2])
            else:
                st, slot = it[1], it[2]
                ex_op(m, 0 if no_sync else st, scenario[1][st][slot], g0, st * 2 + slot)
        m.final_round(rounds=1)
        m.check_final()
    except Failure as e:
        m.failure = str(e)
    return m, seq


def drawn_scenarios(k, seed):
    rng = random.Random(seed)
    return tuple(("drawn-%d" % (n + 1),
                  tuple(tuple(rng.choice(EX_KINDS) for _ in range(2)) for _ in range(3)))
                 for n in range(k))


def run_exhaustive(dsync, cases=400, budget=0, sample_seed=1010, drawn=0, only=None,
                   only_class=None, keep=None, no_sync=False, out=sys.stdout):
    """Run the cases (scenario x schedule class). cases=0: all of them, in
    order; else a deterministic random sample of that many, stopping early
    after `budget` seconds (0: no limit). Returns True if all passed."""
    started = time.monotonic()
    runner = Runner(dsync)
    scenarios = SCENARIOS + drawn_scenarios(drawn, sample_seed + 1)
    if only:
        scenarios = tuple(s for s in scenarios if s[0] in only.split(","))
        if not scenarios:
            raise SystemExit("unknown scenario %r (have: %s)"
                             % (only, ", ".join(s[0] for s in SCENARIOS)))
    classes = schedule_classes()
    space = [(s, c) for s in range(len(scenarios)) for c in range(len(classes))
             if only_class is None or c == only_class]
    chosen = space if not cases or cases >= len(space) else \
        random.Random(sample_seed).sample(space, cases)
    root = _workdir(keep, "exhaustive-nosync" if no_sync else "exhaustive")
    msgdir = os.path.join(root, "msgs")
    os.makedirs(msgdir, exist_ok=True)
    ran = skipped = expected = 0
    passed, seen = True, set()
    try:
        base, g0 = ex_base(runner, root, msgdir, no_sync)
    except Failure as e:
        out.write("FAIL exhaustive: %s\n" % e)
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
        return False
    for s, c in chosen:
        if budget and time.monotonic() - started > budget:
            break
        sc = scenarios[s]
        if no_sync:
            # one store: only the order of the operations matters
            key = (s, tuple((sc[1][it[1]][it[2]], it[1] * 2 + it[2])
                            for it in build_schedule(classes[c], c % 2 == 1)
                            if it[0] == "op"))
            if key in seen:
                skipped += 1
                continue
            seen.add(key)
        m, seq = run_case(base, g0, os.path.join(root, "case"), sc, c, classes[c], no_sync)
        ran += 1
        expected += m.n_expected_failures
        if not m.ok():
            header = "exhaustive%s scenario %s class %d (%s)" % (
                " no-sync" if no_sync else "", sc[0], c, describe(seq, sc[1]))
            hint = "python3 %s --exhaustive --dsync %s --scenario %s --class %d%s%s --keep DIR" % (
                shlex.quote(os.path.abspath(__file__)), shlex.quote(runner.dsync), sc[0], c,
                " --drawn %d" % drawn if sc[0].startswith("drawn") else "",
                " --no-sync" if no_sync else "")
            m.report(header, hint, bool(keep), out)
            passed = False
            break
    n_sched, n_cls = count_schedules()
    out.write("%s exhaustive%s: %d cases ran (%s of %d = %d scenarios x %d schedule classes, "
              "which cover all %d interleavings x sync placements of each scenario)%s, "
              "%d expected op failures, %d dsync calls, %.1f s\n"
              % ("ok" if passed else "FAIL", " (no-sync self-test)" if no_sync else "", ran,
                 "sampled %d" % len(chosen) if len(chosen) < len(space) else "all",
                 len(space), len(scenarios), len(classes), n_sched,
                 ", %d duplicate op orders skipped" % skipped if skipped else "",
                 expected, runner.calls, time.monotonic() - started))
    if len(chosen) > ran + skipped and passed:
        out.write("  (stopped by the %g s time budget after %d of %d cases)\n"
                  % (budget, ran + skipped, len(chosen)))
    if n_cls != len(classes):
        out.write("FAIL exhaustive: schedule classes %d != %d reached by enumeration\n"
                  % (len(classes), n_cls))
        passed = False
    if not keep:
        shutil.rmtree(root, ignore_errors=True)
    return passed


# ---------------------------------------------------------------- command line

def parse_list(spec, lo=None, hi=None):
    """'1-5,9' -> [1, 2, 3, 4, 5, 9]"""
    out = []
    for part in spec.split(","):
        a, _, b = part.partition("-")
        a, b = int(a), int(b or a)
        out.extend(range(a, b + 1))
    for v in out:
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise ValueError("%d not in %s..%s" % (v, lo, hi))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dsync", default=os.environ.get("DSYNC"),
                    help="the dsync binary (default: $DSYNC)")
    ap.add_argument("--seed", type=int, help="one seed")
    ap.add_argument("--seeds", help="seeds, e.g. 1-20,33")
    ap.add_argument("--stores", default="2",
                    help="2..4, or a list like 2-4: each seed with each count")
    ap.add_argument("--cycle", action="store_true",
                    help="with a --stores list: seed N uses only count number N mod len")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--keep", metavar="DIR", help="work (and keep the stores) under DIR")
    ap.add_argument("--keep-failed", action="store_true",
                    help="with --keep: remove the stores of runs that passed")
    ap.add_argument("--no-sync", action="store_true",
                    help="self-test: one store, no syncs")
    ap.add_argument("-v", "--verbose", action="store_true", help="a line per run")
    ap.add_argument("--exhaustive", action="store_true", help="small-scope exhaustive mode")
    ap.add_argument("--cases", type=int, default=400,
                    help="exhaustive: sample this many cases (0: all)")
    ap.add_argument("--budget", type=float, default=0,
                    help="exhaustive: stop starting cases after this many seconds")
    ap.add_argument("--drawn", type=int, default=0,
                    help="exhaustive: add this many randomly drawn scenarios")
    ap.add_argument("--sample-seed", type=int, default=1010)
    ap.add_argument("--scenario", help="exhaustive: only these scenarios (comma list)")
    ap.add_argument("--class", dest="cls", type=int, help="exhaustive: only this class")
    a = ap.parse_args(argv)
    if not a.dsync:
        ap.error("--dsync PATH (or DSYNC) is required")
    if a.exhaustive:
        ok = run_exhaustive(a.dsync, cases=a.cases, budget=a.budget, sample_seed=a.sample_seed,
                            drawn=a.drawn, only=a.scenario, only_class=a.cls, keep=a.keep,
                            no_sync=a.no_sync)
        return 0 if ok else 1
    try:
        seeds = parse_list(a.seeds) if a.seeds else [a.seed if a.seed is not None else 1]
        counts = [1] if a.no_sync else parse_list(a.stores, 2, 4)
    except ValueError as e:
        ap.error(str(e))
    started = time.monotonic()
    runner = Runner(a.dsync)
    runs = syncs = expected = steps = 0
    for seed in seeds:
        for n in ([counts[seed % len(counts)]] if a.cycle else counts):
            passed, m = run_random(a.dsync, seed, n, a.steps, keep=a.keep, no_sync=a.no_sync,
                                   keep_failed=a.keep_failed, runner=runner)
            runs += 1
            syncs += m.n_syncs
            expected += m.n_expected_failures
            steps += m.nstep
            if not passed:
                return 1
            if a.verbose:
                print("ok seed %d, %s: %d steps, %d syncs, %d messages made"
                      % (seed, "no-sync" if a.no_sync else "%d stores" % n, m.nstep,
                         m.n_syncs, len(m.instances)), flush=True)
    print("ok: %d run(s) (%d seed(s), %s, %d random steps each): %d steps, %d syncs, "
          "%d expected op failures, %d dsync calls, %.1f s; %s"
          % (runs, len(seeds), "no-sync self-test" if a.no_sync else "stores " + a.stores +
             (" cycled" if a.cycle else ""), a.steps, steps, syncs, expected, runner.calls,
             time.monotonic() - started,
             "no loss, no resurrection, UID safety (one store)" if a.no_sync else
             "converged, no loss, no resurrection, UID safety"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
