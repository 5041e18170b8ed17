#!/usr/bin/env python3
"""backup_model.py: randomized test of backup chains.

One store changes by sync_model's random operations (saves, identical
bodies, flags, expunges, copies, moves, mailbox creates, renames and
deletes, subscriptions, metadata); after every few steps `dsync export`
writes the next backup of the chain (a full one first, then --since the
last). Then every prefix of the chain is imported into an empty store,
whose `dump` must equal the source's at that point, and `dsync verify`
must pass the whole chain. On failure: the seed, every step as a shell
line, and the diff.

  backup_model.py --dsync PATH --seeds 1-8 [--steps K] [--backups N]
                  [--keep DIR]
"""

import argparse
import os
import random
import shutil
import sys
import tempfile

import sync_model as sm


def dump(runner, store):
    rc, out, err = runner.run(["-s", store, "-A", "dump"])
    if rc != 0:
        raise sm.Failure("dump of %s: %s" % (store, err.strip()))
    return out


def run_seed(dsync, seed, steps, backups, keep):
    runner = sm.Runner(dsync)
    root = tempfile.mkdtemp(prefix="backup-model-%d." % seed, dir=keep)
    model = sm.Model(runner, root, os.path.join(root, "msgs"), 1,
                     "seed%d" % seed, no_sync=True)
    rng = random.Random(seed)
    src = model.stores[0]
    files, dumps = [], []
    try:
        model.setup()
        for b in range(backups):
            for _ in range(steps):
                sm.random_op(model, rng)
            f = os.path.join(root, "b%d" % b)
            args = ["-s", src, "-A", "export", "-o", f]
            if files:
                args += ["--since", files[-1]]
            rc, out, err = runner.run(args)
            model._record(args, None, rc, err)
            if rc != 0:
                raise sm.Failure("export %d: %s" % (b, err.strip()))
            files.append(f)
            dumps.append(dump(runner, src))
        rc, out, err = runner.run(["verify"] + files)
        if rc != 0:
            raise sm.Failure("verify: %s" % err.strip())
        for k in range(len(files)):
            dst = os.path.join(root, "r%d" % k)
            for args in (["-s", dst, "init"],
                         ["-s", dst, "import"] + files[:k + 1]):
                rc, out, err = runner.run(args)
                if rc != 0:
                    raise sm.Failure("%s: %s" % (" ".join(args[2:3]),
                                                 err.strip()))
            got = dump(runner, dst)
            if got != dumps[k]:
                raise sm.Failure("restore of backups 0..%d differs:\n%s" % (
                    k, sm.unified(dumps[k], got, "source", "restored")))
    except sm.Failure as e:
        print("FAIL seed %d: %s" % (seed, e))
        print("steps:\n" + "\n".join(model.steps[-200:]))
        print("work dir: %s" % root)
        return False
    shutil.rmtree(root, ignore_errors=True)
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dsync", required=True)
    ap.add_argument("--seeds", default="1-8")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--backups", type=int, default=4)
    ap.add_argument("--keep")
    a = ap.parse_args()
    lo, _, hi = a.seeds.partition("-")
    seeds = range(int(lo), int(hi or lo) + 1)
    if a.keep:
        os.makedirs(a.keep, exist_ok=True)
    failed = [s for s in seeds
              if not run_seed(a.dsync, s, a.steps, a.backups, a.keep)]
    if failed:
        print("failed seeds: %s" % failed)
        return 1
    print("ok: %d seeds, %d backups of %d steps each, every prefix restored"
          % (len(seeds), a.backups, a.steps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
