#!/bin/bash
# t0500-concurrency: several processes on one store at once. Writers of
# one user are serialized without losing or duplicating anything; readers
# are never blocked by a writer; a lock held too long is a temporary
# failure (exit 75) after lock_timeout.
set -eu
. ./lib.sh
S=$T/store
make_store "$S" alice bob
writers=4 per=40

# four writers on alice, one on bob, and two readers, all at once
for w in $(seq 1 $writers); do
	(
		for i in $(seq 1 $per); do
			msg "w$w-$i" | "$DSYNC" -s "$S" -u alice save >>"$T/acked.$w" ||
				{ echo "writer $w failed at $i" >&2; exit 1; }
			if [ $((i % 10)) -eq 0 ]; then
				"$DSYNC" -s "$S" -u alice flags add -m INBOX 1:* "kw$w" ||
					{ echo "writer $w flags failed" >&2; exit 1; }
			fi
		done
	) &
done
( for i in $(seq 1 $per); do msg "b$i" | "$DSYNC" -s "$S" -u bob save >/dev/null || exit 1; done ) &
for r in 1 2; do
	(
		while [ ! -f "$T/stop" ]; do
			"$DSYNC" -s "$S" -u alice mailbox status INBOX >"$T/status.$r" ||
				{ echo "reader $r failed" >&2; exit 1; }
			"$DSYNC" -s "$S" -u alice fetch -m INBOX '1:*' guid >/dev/null ||
				{ echo "reader $r fetch failed" >&2; exit 1; }
		done
	) &
	readers="${readers:-} $!"
done
fails=0
for j in $(jobs -p); do
	case " $readers " in *" $j "*) continue ;; esac
	wait "$j" || fails=$((fails + 1))
done
touch "$T/stop"
for j in $readers; do wait "$j" || fails=$((fails + 1)); done
[ "$fails" -eq 0 ] || fail "$fails concurrent processes failed"
ok "$writers writers and 2 readers ran at once without an error"

total=$((writers * per))
assert_eq "every save is there" "$(status_field "$S" alice INBOX messages)" "$total"
assert_eq "UIDs are 1..$total, none twice" \
	"$("$DSYNC" -s "$S" -u alice fetch -m INBOX '1:*' guid | awk '{ print $2 }' | sort -n | uniq | tr '\n' ' ' | awk '{ print NF, $1, $NF }')" "$total 1 $total"
cat "$T"/acked.* | awk '{ print $4 }' | sort >"$T/acked-guids"
"$DSYNC" -s "$S" -u alice fetch -m INBOX '1:*' guid | awk '{ print $4 }' | sort >"$T/have-guids"
cmp -s "$T/acked-guids" "$T/have-guids" || fail "stored GUIDs differ from the acknowledged ones"
ok "the stored messages are exactly the acknowledged ones"
assert_eq "bob's writer was not disturbed" "$(status_field "$S" bob INBOX messages)" "$per"
expect_ok "check is clean" "$DSYNC" -s "$S" check

# a writer holding the lock: readers go on, writers wait, then exit 75
exec 9>"$S/users/alice/lock"
flock 9
start=$(date +%s)
expect_ok "a reader is not blocked by a held lock" "$DSYNC" -s "$S" -u alice fetch -m INBOX 1 guid
expect_exit 75 "timed out waiting for lock" "a writer gives up with exit 75" \
	"$DSYNC" -s "$S" -o lock_timeout=1 -u alice flags add -m INBOX 1 '\Seen'
[ $(($(date +%s) - start)) -le 10 ] || fail "lock_timeout=1 waited too long"
ok "lock_timeout is honoured"
flock -u 9
exec 9>&-
expect_ok "the writer succeeds once the lock is free" "$DSYNC" -s "$S" -o lock_timeout=1 -u alice flags add -m INBOX 1 '\Seen'
expect_exit 1 "-o lock_timeout: .lock_timeout. must be a duration" "a bad lock_timeout" "$DSYNC" -s "$S" -o lock_timeout=soon -u alice mailbox list
