#!/bin/bash
# t0900-crash: kill -9 dsync at random moments during saves, flag changes,
# expunges and renames; after each crash "dsync check" must be clean and
# every acknowledged change (the command exited 0) must be there.
# TRIALS (default 30; make soak runs 1000) and SEED select the run.
set -eu
. ./lib.sh
trials=${TRIALS:-30}
[ "${SOAK:-0}" = 1 ] && trials=${TRIALS:-1000}
RANDOM=${SEED:-4242}
S=$T/store
make_store "$S" u
"$DSYNC" -s "$S" -u u mailbox create Box_a
ack=$T/ack
: >"$ack"
: >"$T/pending"
: >"$T/maybe"
i=0

# workload N0: operations from N0 on; each acknowledged one is appended
# to the ack file only after dsync exited 0
workload() {
	local n=$1 out uid
	while :; do
		n=$((n + 1))
		msg "$n" >"$T/w.msg"
		out=$("$DSYNC" -s "$S" -u u save <"$T/w.msg") || exit 0
		echo "save $n $out" >>"$ack"
		uid=$(echo "$out" | cut -d' ' -f2)
		if [ $((n % 3)) -eq 0 ]; then
			"$DSYNC" -s "$S" -u u flags add -m INBOX "$uid" '\Flagged' || exit 0
			echo "flag $uid" >>"$ack"
		fi
		if [ $((n % 5)) -eq 0 ] && [ "$uid" -gt 2 ]; then
			# an unacknowledged expunge may or may not have happened
			echo "expunge $((uid - 2))" >"$T/pending"
			"$DSYNC" -s "$S" -u u expunge -m INBOX $((uid - 2)) || exit 0
			echo "expunge $((uid - 2))" >>"$ack"
		fi
		if [ $((n % 7)) -eq 0 ]; then
			if "$DSYNC" -s "$S" -u u mailbox list | grep -qx Box_a; then
				"$DSYNC" -s "$S" -u u mailbox rename Box_a Box_b || exit 0
				echo "rename Box_b" >>"$ack"
			else
				"$DSYNC" -s "$S" -u u mailbox rename Box_b Box_a || exit 0
				echo "rename Box_a" >>"$ack"
			fi
		fi
	done
}

verify() {
	local trial=$1 boxes last_box max_uid
	# the interrupted expunge of each trial may have committed
	sed 's/^expunge/maybe-expunge/' "$T/pending" >>"$T/maybe"
	: >"$T/pending"
	"$DSYNC" -s "$S" check >"$T/check" 2>&1 || fail "trial $trial: check failed: $(cat "$T/check")"
	"$DSYNC" -s "$S" -u u fetch -m INBOX '1:*' flags guid >"$T/fetch"
	# every acknowledged save is there unless an acknowledged expunge
	# removed it; flags likewise
	awk '
		FILENAME == ARGV[1] { have[$2] = $0; next }
		$1 == "save" { saved[$4] = $6 }
		$1 == "flag" { flagged[$2] = 1 }
		$1 == "expunge" { gone[$2] = 1 }
		$1 == "maybe-expunge" { maybe[$2] = 1 }
		END {
			for (u in saved) {
				if (u in gone) { if (u in have) { print "expunged uid " u " is back"; exit 1 } continue }
				if (!(u in have)) { if (u in maybe) continue
					print "acknowledged uid " u " lost"; exit 1 }
				if (index(have[u], saved[u]) == 0) { print "uid " u " has another guid"; exit 1 }
				if ((u in flagged) && index(have[u], "\\Flagged") == 0) { print "flag on uid " u " lost"; exit 1 }
			}
		}' "$T/fetch" "$ack" "$T/maybe" || fail "trial $trial: acknowledged change lost"
	boxes=$("$DSYNC" -s "$S" -u u mailbox list | grep -c '^Box_' || true)
	[ "$boxes" -eq 1 ] || fail "trial $trial: $boxes Box_ mailboxes"
	last_box=$(awk '$1 == "rename" { b = $2 } END { print b }' "$ack")
	if [ -n "$last_box" ] && ! "$DSYNC" -s "$S" -u u mailbox list | grep -qx "$last_box"; then
		# the killed op may have been the next rename: then the other name
		tail -1 "$ack" | grep -q '^rename' && fail "trial $trial: acknowledged rename to $last_box lost"
	fi
	# UIDs are never reused after a crash
	max_uid=$(awk '$1 == "save" { if ($4 > m) m = $4 } END { print m + 0 }' "$ack")
	[ "$(status_field "$S" u INBOX uidnext)" -gt "$max_uid" ] || fail "trial $trial: uidnext not above acknowledged uid $max_uid"
}

for trial in $(seq 1 "$trials"); do
	workload "$i" &
	wpid=$!
	# 20..400 ms into the workload, at a random point of some command
	sleep "0.$(printf '%03d' $((20 + RANDOM % 380)))"
	kill -9 "$wpid" 2>/dev/null || true
	pkill -9 -f -- "-s $S " 2>/dev/null || true
	wait "$wpid" 2>/dev/null || true
	[ -f "$T/pending" ] || : >"$T/pending"
	i=$(awk '$1 == "save" { if ($2 > m) m = $2 } END { print m + 1000 * 0 }' "$ack")
	i=$((i + 1))
	verify "$trial"
done
ok "$trials kill -9 trials: check clean, no acknowledged change lost"
acked=$(grep -c '^save' "$ack")
# a loaded machine under ASan gets about one save into a trial: half of
# that still shows the workload ran
[ "$acked" -ge $((trials / 2)) ] || fail "only $acked saves acknowledged in $trials trials: workload did not run"
ok "$acked saves acknowledged across the trials"
