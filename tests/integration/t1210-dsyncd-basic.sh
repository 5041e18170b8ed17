#!/bin/bash
# t1210-dsyncd-basic: dsyncd on two local nodes: start-up errors, a save
# pushed both ways, `replicator status/replicate/pause/resume`, `save
# --wait-replicated` with the peer up (returns after the ack) and paused
# (warns after replication_timeout, still exits 0), a stop by SIGTERM
# removing the control socket, and a restart that catches up.
set -eu
. ./lib.sh
if [ -z "${DSYNCD:-}" ]; then
	echo "ok - skip: DSYNCD not set"
	exit 0
fi
A=$T/a B=$T/b
make_store "$A" alice
make_store "$B" alice
conf() {	# conf NODE OTHER
	cat <<EOF
store = $T/$1
node = $1
control_socket = $T/$1.sock
retry_min = 100ms
retry_max = 1s
replication_timeout = 1s
log_level = debug
peer $2 {
  url = local:$T/$2
}
EOF
}
conf a b >"$T/a.conf"
conf b a >"$T/b.conf"
pids=""
start() { "$DSYNCD" -F -c "$T/$1.conf" 2>>"$T/$1.log" & pids="$pids $!"; eval "pid_$1=$!"; }
trap 'kill $pids 2>/dev/null; wait 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
status() { "$DSYNC" -c "$T/$1.conf" replicator status --json; }
# wait_for DESC CMD...: poll until CMD succeeds (10 s)
wait_for() {
	local desc=$1 i; shift
	for i in $(seq 1 200); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done
	fail "$desc: not within 10 s (logs: $(tail -n 5 "$T/a.log" "$T/b.log"))"
}
count() { "$DSYNC" -s "$1" -u alice mailbox status INBOX | awk '$1 == "messages" { print $2 }'; }
has() { [ "$(count "$1")" = "$2" ]; }	# has STORE N: N messages in INBOX
idle() {	# both daemons: peer connected, nothing queued or running
	for n in a b; do
		status "$n" | python3 -c 'import json, sys
p = json.load(sys.stdin)["peers"][0]
sys.exit(0 if p["connected"] and not p["syncing"] and p["queue"] == 0 else 1)' || return 1
	done
}

# Start-up errors are clear and leave nothing running.
printf 'store = %s\nbogus = 1\n' "$A" >"$T/bad.conf"
expect_exit 1 "bad.conf:2: unknown setting 'bogus'" "unknown key refused with file:line" \
	"$DSYNCD" -F -c "$T/bad.conf"
printf 'store = %s\ncontrol_socket = %s/u.sock\npeer b {\n  url = ftp://b/x\n}\n' "$A" "$T" >"$T/url.conf"
expect_exit 1 "url.conf: peer b: .*ftp://b/x" "a peer URL that can not work is refused at start" \
	"$DSYNCD" -F -c "$T/url.conf"
expect_exit 75 "cannot reach dsyncd" "replicator without a daemon: exit 75" \
	"$DSYNC" -c "$T/a.conf" replicator status

# A passphrase file others may read: the worker refuses it, the status
# says why, and the daemon keeps retrying (nothing else breaks).
printf 'horse\n' >"$T/pp.secret"
chmod 644 "$T/pp.secret"
printf 'store = %s\ncontrol_socket = %s/p.sock\nretry_min = 100ms\npeer b {\n  url = ssh://nobody@127.0.0.1:1%s\n  passphrase_file = %s\n}\n' \
	"$A" "$T" "$B" "$T/pp.secret" >"$T/pp.conf"
"$DSYNCD" -F -c "$T/pp.conf" 2>>"$T/pp.log" & pp=$!
pp_error() { "$DSYNC" -c "$T/pp.conf" replicator status | grep -q "last-error .* secret file '$T/pp.secret' is accessible by group or others"; }
wait_for "a loose passphrase file named in the status" pp_error
kill "$pp"; wait "$pp" 2>/dev/null || true
ok "a passphrase file others can read is refused, and said so"

start a
start b
wait_for "daemons idle after start" idle
expect_exit 1 "is in use" "a second daemon on the same socket refused" \
	"$DSYNCD" -F -c "$T/a.conf"

# A save on either node reaches the other.
msg one >"$T/m1"; msg two >"$T/m2"; msg three >"$T/m3"; msg four >"$T/m4"
"$DSYNC" -s "$A" -u alice save <"$T/m1" >/dev/null
wait_for "a -> b" has "$B" 1
"$DSYNC" -s "$B" -u alice save <"$T/m2" >/dev/null
wait_for "b -> a" has "$A" 2
wait_for "idle again" idle
assert_stores_equal "$A" "$B" alice

# Status: text and JSON.
"$DSYNC" -c "$T/a.conf" replicator status >"$T/st"
grep -q '^peer b state connected syncing no queue 0 ' "$T/st" || fail "status text: $(cat "$T/st")"
status a | python3 -c 'import json, sys
d = json.load(sys.stdin)
assert d["node"] == "a" and d["users"] == 1, d
p = d["peers"][0]
assert p["name"] == "b" and p["state"] == "connected" and p["syncs"] >= 1, p
assert p["last_error"] is None and p["last_sync"] is not None, p' || fail "status json"
ok "replicator status, text and JSON"

# --wait-replicated: returns once b has it.
out=$("$DSYNC" -c "$T/a.conf" -s "$A" -u alice save --wait-replicated <"$T/m3" 2>"$T/err")
[ -s "$T/err" ] && fail "wait-replicated warned: $(cat "$T/err")"
assert_eq "acknowledged save is on b at once" "$(count "$B")" 3

# Paused peer: the save warns after replication_timeout, exit 0, stored.
expect_ok "pause b" "$DSYNC" -c "$T/a.conf" replicator pause b
expect_ok "pause a on b" "$DSYNC" -c "$T/b.conf" replicator pause a
start_ms=$(date +%s%N)
"$DSYNC" -c "$T/a.conf" -s "$A" -u alice save --wait-replicated=1 <"$T/m4" >"$T/out" 2>"$T/err" ||
	fail "save with a paused peer: exit $?"
took=$(( ($(date +%s%N) - start_ms) / 1000000 ))
grep -q 'timed out: 0 of 1 peers have it' "$T/err" || fail "no timeout warning: $(cat "$T/err")"
[ "$took" -ge 900 ] || fail "returned after $took ms, before replication_timeout"
assert_eq "stored locally anyway" "$(count "$A")" 4
assert_eq "not on b while paused" "$(count "$B")" 3
"$DSYNC" -c "$T/a.conf" replicator status | grep -q '^peer b state paused .* queue 1 ' ||
	fail "paused peer keeps its queue: $("$DSYNC" -c "$T/a.conf" replicator status)"
ok "paused peer: warning after the timeout, message kept, queued"
expect_ok "resume b" "$DSYNC" -c "$T/a.conf" replicator resume b
expect_ok "resume a on b" "$DSYNC" -c "$T/b.conf" replicator resume a
wait_for "queued change pushed on resume" has "$B" 4
expect_exit 1 "unknown peer 'zz'" "pause of an unknown peer" \
	"$DSYNC" -c "$T/a.conf" replicator pause zz
expect_ok "replicate -f -A" "$DSYNC" -c "$T/a.conf" replicator replicate -f -A
wait_for "full sync done" sh -c "\"$DSYNC\" -c \"$T/a.conf\" replicator status | grep -q 'last-full-sync 2'"
expect_exit 1 "unknown user 'nobody'" "replicate of an unknown user" \
	"$DSYNC" -c "$T/a.conf" replicator replicate -u nobody

# SIGTERM: clean stop, socket gone; changes made while b is down arrive
# when it is back.
kill -TERM "$pid_b"
wait "$pid_b" 2>/dev/null || fail "dsyncd b exited $? on SIGTERM"
[ -e "$T/b.sock" ] && fail "control socket left after stop"
grep -q 'info: stopped' "$T/b.log" || fail "no 'stopped' in the log"
ok "SIGTERM stops cleanly"
"$DSYNC" -s "$B" -u alice flags add -m INBOX 1 '\Flagged'
"$DSYNC" -s "$A" -u alice expunge -m INBOX 2
start b
wait_for "restart catches up" idle
sleep 0.3
wait_for "restart catches up" idle
assert_stores_equal "$A" "$B" alice
"$DSYNC" -s "$A" check >/dev/null || fail "check a"
"$DSYNC" -s "$B" check >/dev/null || fail "check b"
ok "restart catches up both ways, stores check clean"
