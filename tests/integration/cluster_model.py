#!/usr/bin/env python3
"""cluster_model.py: randomized test of dsyncd replicating N stores.

Every store has its own running dsyncd (peers over local: URLs, a full
mesh or a ring); the harness never runs `dsync sync`. It drives the
operations of sync_model.py (save, flags, expunge, copy, move, mailbox
create/rename/delete, subscriptions, metadata) on random nodes with the
same model and bookkeeping, interleaved with faults:

  cut        pause a pair of peers on both sides (the config of a daemon
             restarted meanwhile has `paused = yes` for it)
  heal       resume a cut pair
  kill       kill -9 a daemon (its workers and their `dsync server`
             children must then exit by themselves)
  restart    start a dead daemon again (same config)
  killworker kill -9 one worker process of a live daemon

At the end every link is resumed and every dead daemon restarted; the
harness waits until every node reports every peer connected, queue 0,
not syncing, for QUIET_S seconds in a row (failing after --timeout with
the statuses), dumps every node and checks the invariants of DESIGN.md
"Replication: N-way convergence" with sync_model.Model.check_final():
convergence (equal dumps), no loss, no resurrection; UID safety is
checked on every dump taken along the way (before and after every
operation, after every fault).

The stores change underneath the harness, so the per-operation checks of
sync_model are relaxed: an operation's UID set is made explicit from a
dump taken just before it (by UID safety a UID then names that message
or nothing), copies/moves/expunges count every selected message as
copied/removed (conservative for the checks), a flag change whose
message changed UID meanwhile is left out of the flag check, and a
mailbox delete runs with the node cut off from every peer (so that what
it deleted is exactly what the harness saw).

  cluster_model.py --dsync PATH --dsyncd PATH [--seeds 1-5] [--nodes 3]
                   [--steps 40] [--topology mesh|ring] [--keep DIR]
                   [--keep-failed] [--timeout 60] [-v]

The seed fixes the operations and faults; the timing of the daemons is
not reproducible, so a failure prints the steps, the daemons' statuses
and the tails of their logs (kept under --keep DIR).

Exit status: 0 all runs passed, 1 a run failed (report printed), 2 usage.
"""

import argparse
import json
import os
import random
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sync_model as sm  # noqa: E402

Failure = sm.Failure
EVENT_SHARE = 0.22
EVENTS = ("cut", "heal", "kill", "restart", "killworker")
EVENT_WEIGHTS = (3, 2.5, 1, 2, 1.5)
QUIET_S = 1.0
START_TIMEOUT = 10.0
EXIT_TIMEOUT = 15.0
LOG_TAIL = 25
LIVELOCK_S = 10.0       # fail the wait for quiescence early when a peer
LIVELOCK_SYNCS = 1000   # ran this many syncs within it
SLOW_S = 5.0            # note steps that took longer


# ---------------------------------------------------------------- processes

def _stat(pid):
    """(state, ppid) of pid, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    return rest[0], int(rest[1])


def alive(pid):
    st = _stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def children(pid):
    """Live direct children of pid (via /proc, like pgrep -P)."""
    out = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return out
    for n in names:
        if not n.isdigit():
            continue
        st = _stat(int(n))
        if st is not None and st[1] == pid and st[0] not in ("Z", "X"):
            out.append(int(n))
    return sorted(out)


def descendants(pid):
    out, todo = [], [pid]
    while todo:
        for c in children(todo.pop()):
            out.append(c)
            todo.append(c)
    return out


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().decode("utf-8", "replace").split("\0")[:-1]
    except OSError:
        return []


def store_servers(store):
    """Live `dsync ... -s STORE server` processes."""
    out = []
    for n in os.listdir("/proc"):
        if not n.isdigit():
            continue
        a = cmdline(int(n))
        if "server" in a and "-s" in a and alive(int(n)):
            k = a.index("-s")
            if k + 1 < len(a) and a[k + 1] == store:
                out.append(int(n))
    return out


def wait_gone(pids, timeout):
    """Wait until none of pids is alive; returns those still alive."""
    deadline = time.monotonic() + timeout
    while True:
        left = [p for p in pids if alive(p)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.02)


def describe_pids(pids):
    return ", ".join("%d (%s)" % (p, " ".join(cmdline(p))[:120]) for p in pids)


# ---------------------------------------------------------------- the cluster

class Cluster:
    """The daemons of the model's stores: configs, processes, links."""

    def __init__(self, model, dsyncd, topology="mesh"):
        self.m = model
        self.dsyncd = os.path.abspath(dsyncd) if os.sep in dsyncd else dsyncd
        n = model.n
        self.names = [model.sname(i) for i in range(n)]
        if topology == "ring" and n > 3:
            self.peers = [sorted({(i - 1) % n, (i + 1) % n}) for i in range(n)]
        else:
            self.peers = [[j for j in range(n) if j != i] for i in range(n)]
        self.pairs = sorted({(min(i, j), max(i, j)) for i in range(n) for j in self.peers[i]})
        self.cut = set()        # pairs (i, j), i < j, paused on both sides
        self.procs = [None] * n
        self.dead = set()       # nodes whose daemon the harness killed
        self.isolated = None    # node cut off for a mailbox delete
        self.n_events = dict.fromkeys(EVENTS, 0)
        d = os.path.join(model.root, "daemons")
        os.makedirs(d, exist_ok=True)
        self.dir = d

    def conf(self, i):
        return os.path.join(self.dir, "%s.conf" % self.names[i])

    def sock(self, i):
        return os.path.join(self.dir, "%s.sock" % self.names[i])

    def log(self, i):
        return os.path.join(self.dir, "%s.log" % self.names[i])

    def write_conf(self, i):
        lines = ["store = %s" % self.m.stores[i], "node = %s" % self.names[i],
                 "control_socket = %s" % self.sock(i), "retry_min = 100ms",
                 "retry_max = 1s", "log_level = debug"]
        for j in self.peers[i]:
            lines += ["peer %s {" % self.names[j], "  url = local:%s" % self.m.stores[j]]
            if (min(i, j), max(i, j)) in self.cut:
                lines.append("  paused = yes")
            lines.append("}")
        with open(self.conf(i), "w") as f:
            f.write("\n".join(lines) + "\n")

    # -- daemons

    def start(self, i):
        self.write_conf(i)
        with open(self.log(i), "ab") as log:
            log.write(b"=== harness: start after step %d\n" % self.m.nstep)
            log.flush()
            self.procs[i] = subprocess.Popen([self.dsyncd, "-F", "-c", self.conf(i)],
                                             stdin=subprocess.DEVNULL,
                                             stdout=subprocess.DEVNULL, stderr=log)
        self.dead.discard(i)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.procs[i].poll() is not None:
                raise Failure("dsyncd %s exited at start (%s): %s"
                              % (self.names[i], sm.rc_text(self.procs[i].returncode),
                                 self.log_tail(i, 5)))
            try:
                self.status(i)
                return
            except Failure:
                if time.monotonic() > deadline:
                    raise Failure("dsyncd %s: control socket not answering after %g s"
                                  % (self.names[i], START_TIMEOUT))
                time.sleep(0.02)

    def check_alive(self):
        for i, p in enumerate(self.procs):
            if p is not None and i not in self.dead and p.poll() is not None:
                raise Failure("dsyncd %s died by itself after step %d (%s); log: %s"
                              % (self.names[i], self.m.nstep, sm.rc_text(p.returncode),
                                 self.log_tail(i, 8)))

    def kill(self, i):
        """kill -9 the daemon; its workers and their servers must exit."""
        p = self.procs[i]
        kids = descendants(p.pid)
        p.send_signal(signal.SIGKILL)
        p.wait()
        self.dead.add(i)
        left = wait_gone(kids, EXIT_TIMEOUT)
        if left:
            raise Failure("after kill -9 of dsyncd %s (pid %d) its descendants did not exit "
                          "within %g s: %s" % (self.names[i], p.pid, EXIT_TIMEOUT,
                                               describe_pids(left)))

    def kill_worker(self, i, rng):
        ws = children(self.procs[i].pid)
        if not ws:
            return False
        w = rng.choice(ws)
        kids = descendants(w)
        self.m.note("kill -9 worker %d of dsyncd %s (%s)" % (
            w, self.names[i], " ".join(cmdline(w)[-1:])))
        try:
            os.kill(w, signal.SIGKILL)
        except ProcessLookupError:
            return True
        left = wait_gone(kids, EXIT_TIMEOUT)
        if left:
            raise Failure("after kill -9 of worker %d of %s its children did not exit "
                          "within %g s: %s" % (w, self.names[i], EXIT_TIMEOUT,
                                               describe_pids(left)))
        return True

    def stop_all(self):
        for i, p in enumerate(self.procs):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 12
        for i, p in enumerate(self.procs):
            if p is None:
                continue
            kids = descendants(p.pid) if p.poll() is None else []
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            for k in wait_gone(kids, 3):
                try:
                    os.kill(k, signal.SIGKILL)
                except OSError:
                    pass

    # -- the control socket (protocol: dsyncd/dsyncd_ctl.c)

    def ctl(self, i, line, timeout=10):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(self.sock(i))
            s.sendall(line.encode() + b"\n")
            buf = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                buf += b
        except OSError as e:
            raise Failure("control socket of %s: %s: %s" % (self.names[i], line, e))
        finally:
            s.close()
        text = buf.decode("utf-8", "replace")
        if not text:
            raise Failure("control socket of %s: %s: no answer" % (self.names[i], line))
        return text

    def status(self, i):
        text = self.ctl(i, "status json")
        try:
            return json.loads(text)
        except ValueError as e:
            raise Failure("status json of %s does not parse (%s): %r"
                          % (self.names[i], e, text[:500]))

    def set_paused(self, i, j, pause):
        if i in self.dead:
            return
        ans = self.ctl(i, "%s %s" % ("pause" if pause else "resume", self.names[j]))
        if not ans.startswith("OK "):
            raise Failure("%s %s on %s: %s" % ("pause" if pause else "resume",
                                              self.names[j], self.names[i], ans.strip()))

    def cut_pair(self, pair):
        self.m.note("cut %s-%s" % (self.names[pair[0]], self.names[pair[1]]))
        self.cut.add(pair)
        self.set_paused(pair[0], pair[1], True)
        self.set_paused(pair[1], pair[0], True)

    def heal_pair(self, pair):
        self.m.note("heal %s-%s" % (self.names[pair[0]], self.names[pair[1]]))
        self.cut.discard(pair)
        self.set_paused(pair[0], pair[1], False)
        self.set_paused(pair[1], pair[0], False)

    def isolate(self, i):
        """Pause every link of node i on both sides and wait until nothing
        syncs into or out of store i any more."""
        self.isolated = i
        for j in self.peers[i]:
            self.set_paused(i, j, True)
            self.set_paused(j, i, True)
        left = wait_gone(store_servers(self.m.stores[i]), EXIT_TIMEOUT)
        if left:
            raise Failure("node %s paused on every link, but %g s later servers of its "
                          "store still run: %s" % (self.names[i], EXIT_TIMEOUT,
                                                   describe_pids(left)))

    def unisolate(self, i):
        self.isolated = None
        for j in self.peers[i]:
            if (min(i, j), max(i, j)) not in self.cut:
                self.set_paused(i, j, False)
                self.set_paused(j, i, False)

    def statuses(self):
        out = {}
        for i in range(self.m.n):
            if i in self.dead:
                out[self.names[i]] = "dead"
                continue
            try:
                out[self.names[i]] = self.status(i)
            except Failure as e:
                out[self.names[i]] = str(e)
        return out

    def quiesce(self, timeout):
        """Resume everything, restart the dead, wait until all peers are
        connected and idle with empty queues for QUIET_S seconds."""
        for pair in sorted(self.cut):
            self.heal_pair(pair)
        for i in sorted(self.dead):
            self.m.note("restart dsyncd %s" % self.names[i])
            self.start(i)
        self.m.note("wait for quiescence")
        started = time.monotonic()
        quiet_since = None
        syncs0 = {}
        while True:
            self.check_alive()
            quiet = True
            for i in range(self.m.n):
                st = self.status(i)
                for p in st["peers"]:
                    k = (self.names[i], p["name"])
                    syncs0.setdefault(k, p["syncs"])
                    if time.monotonic() - started > LIVELOCK_S and \
                            p["syncs"] - syncs0[k] > LIVELOCK_SYNCS:
                        raise Failure(
                            "livelock: %s -> %s ran %d syncs in %.0f s without becoming idle "
                            "(a sync that writes to a store every time?); statuses:\n%s"
                            % (k[0], k[1], p["syncs"] - syncs0[k], time.monotonic() - started,
                               self.format_statuses()))
                    if not (p["connected"] and p["queue"] == 0 and not p["syncing"]):
                        quiet = False
            now = time.monotonic()
            if quiet:
                if quiet_since is None:
                    quiet_since = now
                elif now - quiet_since >= QUIET_S:
                    return now - started
            else:
                quiet_since = None
            if now - started > timeout:
                raise Failure("no quiescence after %g s; statuses:\n%s"
                              % (timeout, self.format_statuses()))
            time.sleep(0.05)

    def format_statuses(self):
        lines = []
        for name, st in self.statuses().items():
            if not isinstance(st, dict):
                lines.append("%s: %s" % (name, st))
                continue
            for p in st["peers"]:
                lines.append("%s -> %s: %s" % (name, p["name"], json.dumps(
                    {k: p[k] for k in ("state", "connected", "syncing", "queue",
                                       "lag_seconds", "syncs", "failures", "last_error")})))
        return "\n".join(lines)

    def log_tail(self, i, n=LOG_TAIL, interesting=False):
        try:
            with open(self.log(i), errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            return "(no log)"
        if interesting:
            lines = [ln for ln in lines if "debug" not in ln.lower() or "harness" in ln]
        return "\n".join(lines[-n:])

    def sanitizer_reports(self):
        out = []
        for i in range(self.m.n):
            try:
                with open(self.log(i), errors="replace") as f:
                    t = f.read()
            except OSError:
                continue
            if "Sanitizer" in t or "runtime error:" in t:
                k = t.find("Sanitizer") if "Sanitizer" in t else t.find("runtime error:")
                out.append("%s: %s" % (self.names[i], t[max(0, k - 200):k + 1500]))
        return out


# ---------------------------------------------------------------- the model

class ClusterModel(sm.Model):
    """sync_model.Model for stores that change underneath: see the module
    docstring for what is relaxed and why."""

    cluster = None

    def before_op(self, i):
        self.cluster.check_alive()
        self.refresh(i)

    def sync(self, i, j):
        raise Failure("harness bug: the cluster test does not run dsync sync")

    def op(self, i, args, stdin_path=None):
        pre = self.dumps[i]
        full = ["-s", self.stores[i], "-u", sm.USER] + args
        rc, out, err = self.runner.run(full, stdin_path)
        self._record(full, stdin_path, rc, err)
        lines = err.strip("\n").split("\n")
        if rc == 1 and len(lines) == 1 and lines[0].startswith("dsync: ") and \
                not lines[0].startswith("dsync: usage error"):
            ok = False
            self.n_expected_failures += 1
        elif rc == 0:
            ok = True
        else:
            raise Failure("step %d: dsync %s: %s: %s"
                          % (self.nstep, " ".join(args), sm.rc_text(rc), err.strip()[:1000]))
        post = self.refresh(i)
        return ok, out, pre, post

    def _explicit(self, mb, uidset):
        """uidset as the UIDs it names in mb now ("" when none)."""
        return sm.select_uids(mb, uidset)

    def save(self, i, mailbox, flags, msgfile):
        args = ["save", "-m", mailbox]
        for f in flags:
            args += ["-f", f]
        ok, out, pre, post = self.op(i, args, msgfile)
        if not ok:
            return None
        m = sm.re.fullmatch(r"uid (\d+) guid ([0-9a-f]{32})\n", out)
        if not m:
            raise Failure("step %d: save printed %r, want 'uid N guid HEX'" % (self.nstep, out))
        self._created(m[2])
        return m[2]

    def flags(self, i, mailbox, uidset, mode, flags):
        pre_mb = self.dumps[i].by_name(mailbox)
        sel = self._explicit(pre_mb, uidset)
        if not sel:
            self.note("flags %s on '%s' %s: no message selected, skipped" % (mode, mailbox, uidset))
            return False
        uids = ",".join(str(m.uid) for m in sel)
        ok, out, pre, post = self.op(i, ["flags", mode, "-m", mailbox, uids] + list(flags))
        if not ok:
            return False
        fs = frozenset(f for f in flags if f.startswith("\\"))
        ks = frozenset(f for f in flags if not f.startswith("\\"))
        post_mb = post.by_guid(pre_mb.guid)
        for m in sel:
            p = post_mb.msgs.get(m.uid) if post_mb else None
            if p is not None and p.guid == m.guid:
                self.flag_ops[m.guid].append((self.nstep, mode, fs, ks))
            else:
                # moved to another UID (a UID conflict) or removed meanwhile:
                # whether the change applied is unknown, leave it unchecked
                self.flag_ops[m.guid] += [(self.nstep, "?", fs, ks)] * 2
        return True

    def expunge(self, i, mailbox, uidset):
        pre_mb = self.dumps[i].by_name(mailbox)
        sel = self._explicit(pre_mb, uidset)
        if not sel:
            self.note("expunge in '%s' %s: no message selected, skipped" % (mailbox, uidset))
            return False
        uids = ",".join(str(m.uid) for m in sel)
        ok, out, pre, post = self.op(i, ["expunge", "-m", mailbox, uids])
        if not ok:
            return False
        cnt = post.guid_count()
        for m in sel:
            self.removed.add(m.guid)
            if m.guid not in cnt:
                self.erased.add(m.guid)
        return True

    def copy(self, i, src, uidset, dst, move=False):
        smb = self.dumps[i].by_name(src)
        sel = self._explicit(smb, uidset)
        if not sel:
            self.note("%s from '%s' %s: no message selected, skipped"
                      % ("move" if move else "copy", src, uidset))
            return False
        uids = ",".join(str(m.uid) for m in sel)
        ok, out, pre, post = self.op(i, ["move" if move else "copy", "-m", src, uids, dst])
        if not ok:
            return False
        for m in sel:
            self._created(m.guid)   # one more instance (at most)
            if move:
                self.removed.add(m.guid)
        return True

    def mailbox_delete(self, i, name):
        """With node i cut off, so that the dump before is what it deletes."""
        self.cluster.isolate(i)
        self.note("node %s cut off from its peers for the delete" % self.sname(i))
        try:
            self.refresh(i)
            ok, out, pre, post = self.op(i, ["mailbox", "delete", name])
            if ok:
                mb = pre.by_name(name)
                if mb is None or post.by_guid(mb.guid) is not None:
                    self.mismatch("mailbox delete '%s' succeeded, dumps disagree" % name)
                cnt = post.guid_count()
                for m in mb.msgs.values():
                    self.removed.add(m.guid)
                    if m.guid not in cnt:
                        self.erased.add(m.guid)
        finally:
            self.cluster.unisolate(i)
        return ok


def fault_step(model, cl, rng):
    """One fault; False when the drawn kind does not apply now."""
    kind = rng.choices(EVENTS, EVENT_WEIGHTS)[0]
    up = [i for i in range(model.n) if i not in cl.dead]
    if kind == "cut":
        pairs = [p for p in cl.pairs if p not in cl.cut]
        if not pairs:
            return False
        cl.cut_pair(rng.choice(pairs))
    elif kind == "heal":
        if not cl.cut:
            return False
        cl.heal_pair(rng.choice(sorted(cl.cut)))
    elif kind == "kill":
        if not up:
            return False
        i = rng.choice(up)
        model.note("kill -9 dsyncd %s" % model.sname(i))
        cl.kill(i)
    elif kind == "restart":
        if not cl.dead:
            return False
        i = rng.choice(sorted(cl.dead))
        model.note("restart dsyncd %s" % model.sname(i))
        cl.start(i)
    else:
        if not up:
            return False
        if not cl.kill_worker(rng.choice(up), rng):
            return False
    cl.n_events[kind] += 1
    # UID safety along the way: look at a node now and then
    model.refresh(rng.randrange(model.n))
    return True


def run_cluster(dsync, dsyncd, seed, nnodes=3, nsteps=40, topology="mesh", keep=None,
                keep_failed=False, timeout=60.0, snapshot=False, out=sys.stdout, runner=None):
    """One randomized cluster run. Returns (passed, model, info)."""
    runner = runner or sm.Runner(dsync)
    tag = "cluster-%d-%dnodes-%s" % (seed, nnodes, topology)
    root = sm._workdir(keep, tag)
    model = ClusterModel(runner, root, os.path.join(root, "msgs"), nnodes,
                         "c%d" % seed)
    cl = Cluster(model, dsyncd, topology)
    model.cluster = cl
    rng = random.Random(seed * 100 + nnodes)
    info = {"quiesce_s": 0.0, "events": cl.n_events}
    started = time.monotonic()
    try:
        model.setup()
        for i in range(nnodes):
            cl.start(i)
        model.note("daemons started")
        for _ in range(nsteps):
            t0 = time.monotonic()
            if not (rng.random() < EVENT_SHARE and fault_step(model, cl, rng)):
                sm.random_op(model, rng)
            if time.monotonic() - t0 > SLOW_S:
                model.note("slow: the step above took %.1f s" % (time.monotonic() - t0))
            r = rng.random()
            if r < 0.15:
                time.sleep(rng.choice((0.005, 0.02, 0.1)))
        if snapshot:
            # every link cut, nothing syncing: the stores as the final heal
            # finds them, for replaying it with `dsync sync` by hand
            for pair in cl.pairs:
                if pair not in cl.cut:
                    cl.cut_pair(pair)
            for i in range(nnodes):
                left = wait_gone(store_servers(model.stores[i]), EXIT_TIMEOUT)
                if left:
                    raise Failure("snapshot: servers still run: " + describe_pids(left))
            snap = os.path.join(root, "preheal")
            for i in range(nnodes):
                shutil.copytree(model.stores[i], os.path.join(snap, model.sname(i)),
                                symlinks=True)
            model.note("stores copied to %s" % snap)
        info["quiesce_s"] = cl.quiesce(timeout)
        for i in range(nnodes):
            model.refresh(i)
        model.check_final()
        if not model.ok() and any(v[0].startswith("convergence") for v in model.violations):
            # diagnosis: does a full comparison repair it?
            for i in range(nnodes):
                cl.ctl(i, "replicate -f -A")
            try:
                cl.quiesce(timeout)
                same = all(runner.run(["-s", model.stores[k], "-u", sm.USER, "dump"])[1] ==
                           runner.run(["-s", model.stores[0], "-u", sm.USER, "dump"])[1]
                           for k in range(1, nnodes))
                model.note("after replicate -f -A on every node: dumps %s"
                           % ("equal (a full comparison repairs it)" if same else "still differ"))
            except Failure as e:
                model.note("after replicate -f -A: %s" % e)
        for r in cl.sanitizer_reports():
            model.violate("sanitizer report in a daemon log: " + r.split("\n")[0], r)
    except Failure as e:
        model.failure = str(e)
    finally:
        stats = None
        if not model.ok():
            try:
                stats = cl.format_statuses()
            except Exception as e:  # noqa: BLE001 - diagnostics only
                stats = "(statuses: %s)" % e
        cl.stop_all()
    info["seconds"] = time.monotonic() - started
    passed = model.ok()
    header = "cluster seed %d, %d nodes (%s), %d steps" % (seed, nnodes, topology, nsteps)
    if not passed:
        hint = "python3 %s --dsync %s --dsyncd %s --seeds %d --nodes %d --steps %d " \
               "--topology %s --keep DIR   (timing differs between runs)" % (
                   shlex.quote(os.path.abspath(__file__)), shlex.quote(runner.dsync),
                   shlex.quote(cl.dsyncd), seed, nnodes, nsteps, topology)
        if stats:
            model.note("daemon statuses at the end:")
            for ln in stats.split("\n"):
                model.note("  " + ln)
        for i in range(nnodes):
            model.note("log of dsyncd %s (%s), last lines without debug:" % (
                model.sname(i), cl.log(i)))
            for ln in cl.log_tail(i, interesting=True).split("\n"):
                model.note("  " + ln)
        model.report(header, hint, bool(keep), out)
    if not keep or (passed and keep_failed):
        shutil.rmtree(root, ignore_errors=True)
    return passed, model, info


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dsync", default=os.environ.get("DSYNC"))
    ap.add_argument("--dsyncd", default=os.environ.get("DSYNCD"))
    ap.add_argument("--seeds", default="1", help="e.g. 1-5,9")
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--topology", choices=("mesh", "ring"), default="mesh",
                    help="ring: each node peers with its two neighbours (n > 3)")
    ap.add_argument("--timeout", type=float, default=60.0,
                    help="seconds to wait for quiescence at the end")
    ap.add_argument("--keep", metavar="DIR")
    ap.add_argument("--keep-failed", action="store_true")
    ap.add_argument("--snapshot", action="store_true",
                    help="with --keep: cut every link before the final heal and copy "
                    "the stores to DIR/.../preheal (to replay the heal by hand)")
    ap.add_argument("--keep-going", action="store_true",
                    help="run every seed even after a failure; list the failed ones")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)
    if not a.dsync or not a.dsyncd:
        ap.error("--dsync and --dsyncd (or DSYNC, DSYNCD) are required")
    if not 2 <= a.nodes <= 9:
        ap.error("--nodes: 2..9")
    try:
        seeds = sm.parse_list(a.seeds)
    except ValueError as e:
        ap.error(str(e))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    runner = sm.Runner(a.dsync)
    steps = msgs = 0
    events = dict.fromkeys(EVENTS, 0)
    qmax = 0.0
    failed = []
    for seed in seeds:
        passed, m, info = run_cluster(a.dsync, a.dsyncd, seed, a.nodes, a.steps, a.topology,
                                      keep=a.keep, keep_failed=a.keep_failed,
                                      timeout=a.timeout, snapshot=a.snapshot and bool(a.keep),
                                      runner=runner)
        if not passed:
            failed.append(seed)
            print("FAIL seed %d: %s" % (seed, (m.failure or m.violations[0][0]).split("\n")[0]),
                  flush=True)
            if not a.keep_going:
                return 1
            continue
        steps += m.nstep
        msgs += len(m.instances)
        for k, v in info["events"].items():
            events[k] += v
        qmax = max(qmax, info["quiesce_s"])
        if a.verbose:
            print("ok seed %d: %d steps, %d messages, faults %s, quiescent after %.1f s, "
                  "%.1f s" % (seed, m.nstep, len(m.instances),
                              " ".join("%s %d" % kv for kv in info["events"].items()),
                              info["quiesce_s"], info["seconds"]), flush=True)
    if failed:
        print("FAIL: %d of %d seed(s) failed: %s" % (len(failed), len(seeds),
                                                    ",".join(map(str, failed))))
        return 1
    print("ok: %d seed(s) (%s), %d nodes (%s), %d random steps each: %d dsync steps, "
          "%d messages, faults: %s; quiescent within %.1f s; %.1f s; "
          "converged, no loss, no resurrection, UID safety"
          % (len(seeds), a.seeds, a.nodes, a.topology, a.steps, steps, msgs,
             ", ".join("%s %d" % kv for kv in events.items()), qmax,
             time.monotonic() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
