#!/bin/bash
# t1301-backup-random: backup chains around random changes. backup_model.py
# changes one store with sync_model's random operations, exports a full
# backup and then incrementals between batches of steps, and imports every
# prefix of the chain into an empty store, whose dump must equal the
# source's at that point; `dsync verify` must pass the chain. SOAK=1: 300
# seeds (SEEDS=N for another count).
set -eu
. ./lib.sh
if [ -n "${SOAK:-}" ]; then
	seeds=1-${SEEDS:-300}
else
	seeds=1-${SEEDS:-6}
fi
out=$(python3 ./backup_model.py --dsync "$DSYNC" --keep "$T/work" --seeds "$seeds" \
    --steps 15 --backups 4) || { echo "$out"; fail "randomized backup chains (seeds $seeds)"; }
ok "randomized backup chains: ${out#ok: }"
