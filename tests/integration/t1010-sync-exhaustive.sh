#!/bin/bash
# t1010-sync-exhaustive: small-scope exhaustive test of two-way sync. From
# three synced stores that share one message m0, each store runs two
# operations (scenarios drawn from: save into INBOX, save into X, flag
# change on m0, expunge of m0, mailbox create X, delete X, rename X Y),
# interleaved with 0-2 pairwise syncs in every possible way (up to
# reordering operations of different stores between the same syncs, which
# share nothing: 2026 classes cover all 24660 interleavings x sync
# placements of a scenario), then a final round of syncs; every case checks
# convergence, no loss, no resurrection and UID safety (sync_model.py).
# Default: a fixed sample of CASES cases (400) within BUDGET seconds (40);
# SOAK=1: every case of every scenario, plus EXH_DRAWN randomly drawn
# scenarios (default 4).
set -eu
. ./lib.sh
model() { python3 ./sync_model.py --dsync "$DSYNC" --exhaustive --keep "$T/work" "$@"; }

out=$(model --no-sync --cases 100 --budget 15) || { echo "$out"; fail "harness self-test (--no-sync)"; }
ok "harness self-test: ${out#ok }"

if [ -n "${SOAK:-}" ]; then
	set -- --cases 0 --drawn "${EXH_DRAWN:-4}"
else
	set -- --cases "${CASES:-400}" --budget "${BUDGET:-40}"
fi
out=$(model "$@") || { echo "$out"; fail "exhaustive sync cases"; }
ok "${out#ok }"
