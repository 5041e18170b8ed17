#!/bin/bash
# t1000-sync-property: randomized model test of two-way sync. sync_model.py
# makes 2-4 stores, runs random operations (save, flags, expunge, copy,
# move, mailbox create/rename/delete, subscriptions, metadata) and random
# pairwise `dsync sync` between them, then syncs along the chain forward and
# back twice and checks DESIGN.md's invariants: convergence (equal dumps,
# also after every single sync), no loss, no resurrection, UID safety.
# A failure prints the seed, every step as a replayable shell line, and the
# violations (last). SOAK=1: SEEDS seeds (default 3000), STEPS steps each
# (default 60); KEEP=1 keeps the stores of a failing seed.
set -eu
. ./lib.sh
model() { python3 ./sync_model.py --dsync "$DSYNC" --keep "$T/work" --keep-failed "$@"; }

# the harness itself (op generation, bookkeeping, checks) on one store
out=$(model --no-sync --seeds 1-4 --steps 60) || { echo "$out"; fail "harness self-test (--no-sync)"; }
ok "harness self-test: ${out#ok: }"

if [ -n "${SOAK:-}" ]; then
	seeds=1-${SEEDS:-3000} steps=${STEPS:-60}
else
	seeds=1-${SEEDS:-24} steps=${STEPS:-40}
fi
# each seed with 2, 3 or 4 stores in turn (seed mod 3)
out=$(model --stores 2-4 --cycle --seeds "$seeds" --steps "$steps") || { echo "$out"; fail "randomized sync (seeds $seeds)"; }
ok "randomized sync: ${out#ok: }"
