#!/bin/bash
# t1200-dsyncd-cluster: dsyncd replicating a cluster, never `dsync sync`.
# 1. cluster_model.py: 3 nodes (full mesh of local: peers), random
#    operations of sync_model.py on random nodes while links are cut and
#    healed (pause on both sides) and daemons and workers are killed with
#    -9 and restarted; then every link is resumed, every daemon runs, and
#    once all report every peer connected, idle, queue 0 for 1 s the
#    invariants are checked: convergence, no loss, no resurrection, UID
#    safety (on every dump taken along the way).
# 2. Two daemons whose peer URLs are ssh:// to a private sshd (identity_file
#    and known_hosts from the peer section): saves on either side arrive,
#    also after a worker is killed, and the dumps converge. Skipped without
#    sshd.
# 3. `dsync replicator status` (text and --json), pause/resume, unknown
#    peer, and exit 75 when no daemon listens.
# CLUSTER_SEEDS (default 1-12) and CLUSTER_STEPS (60) choose the runs;
# SOAK=1: 1-200 and 80 on 3 nodes, then a 5-node ring and a 5-node mesh
# (CLUSTER_SEEDS5, default 1-40). The seed fixes the operations and faults,
# not the daemons' timing. KEEP=1 keeps the stores and daemon logs of a
# failing seed under $T/work (rerun line in the report).
set -eu
. ./lib.sh
. ./lib_sshd.sh
daemon_pids=""
stop_daemons() {
	local p
	for p in $daemon_pids; do kill "$p" 2>/dev/null || true; done
	for p in $daemon_pids; do wait "$p" 2>/dev/null || true; done
	daemon_pids=""
}
trap 'stop_daemons; stop_sshd; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
if [ -z "${DSYNCD:-}" ]; then
	echo "ok # skip DSYNCD is not set (the dsyncd binary)"
	exit 0
fi

# ---- 1. the randomized cluster
cluster() {
	python3 ./cluster_model.py --dsync "$DSYNC" --dsyncd "$DSYNCD" \
		--keep "$T/work" --keep-failed "$@"
}
if [ -n "${SOAK:-}" ]; then
	seeds=${CLUSTER_SEEDS:-1-200} steps=${CLUSTER_STEPS:-80}
else
	seeds=${CLUSTER_SEEDS:-1-12} steps=${CLUSTER_STEPS:-60}
fi
out=$(cluster --seeds "$seeds" --steps "$steps") || { echo "$out"; fail "dsyncd cluster (seeds $seeds)"; }
ok "dsyncd cluster: ${out#ok: }"
if [ -n "${SOAK:-}" ]; then
	for topo in ring mesh; do
		out=$(cluster --nodes 5 --topology $topo --seeds "${CLUSTER_SEEDS5:-1-40}" --steps "$steps") ||
			{ echo "$out"; fail "dsyncd 5-node $topo cluster"; }
		ok "dsyncd 5-node $topo cluster: ${out#ok: }"
	done
fi

# ---- helpers for the hand-made clusters below
# conf NAME STORE [PEER URL [EXTRA]]...: a node's config at $T/NAME.conf
conf() {
	local name=$1 store=$2; shift 2
	{
		printf 'store = %s\nnode = %s\ncontrol_socket = %s\n' "$store" "$name" "$T/$name.sock"
		printf 'retry_min = 100ms\nretry_max = 1s\nlog_level = debug\n'
		while [ $# -ge 3 ]; do
			printf 'peer %s {\n  url = %s\n%s}\n' "$1" "$2" "$3"
			shift 3
		done
	} >"$T/$name.conf"
}
declare -A pid_of
start_daemon() {
	"$DSYNCD" -F -c "$T/$1.conf" 2>>"$T/$1.log" &
	daemon_pids="$daemon_pids $!"
	pid_of[$1]=$!
	for _ in $(seq 100); do
		"$DSYNC" -c "$T/$1.conf" replicator status >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	fail "dsyncd $1 did not answer: $(tail -5 "$T/$1.log")"
}
# quiet NAME...: every peer of every node connected, idle, queue 0 (1 s)
quiet() {
	python3 - "$@" <<-'EOF' || fail "no quiescence: $(for n in "$@"; do "$DSYNC" -c "$T/$n.conf" replicator status; done)"
	import json, os, subprocess, sys, time
	t, dsync = os.environ["T"], os.environ["DSYNC"]
	start, since = time.monotonic(), None
	while time.monotonic() - start < 30:
	    quiet = True
	    for n in sys.argv[1:]:
	        p = subprocess.run([dsync, "-c", "%s/%s.conf" % (t, n), "replicator", "status", "--json"],
	                           capture_output=True, text=True)
	        peers = json.loads(p.stdout)["peers"] if p.returncode == 0 else []
	        quiet = quiet and p.returncode == 0 and all(
	            x["connected"] and not x["syncing"] and x["queue"] == 0 for x in peers)
	    now = time.monotonic()
	    since = (since or now) if quiet else None
	    if since is not None and now - since >= 1:
	        sys.exit(0)
	    time.sleep(0.05)
	sys.exit(1)
	EOF
}
export T DSYNC
# wait_msgs STORE N: STORE has N messages for alice (within 15 s)
wait_msgs() {
	local n=""
	for _ in $(seq 300); do
		n=$("$DSYNC" -s "$1" -u alice dump | grep -c '^  msg ' || true)
		[ "$n" = "$2" ] && return 0
		sleep 0.05
	done
	fail "$1 has $n messages, want $2"
}
for i in 1 2 3 4 5 6; do msg "c$i" >"$T/m$i"; done

# ---- 3. the replicator command (before ssh, which may skip the rest)
A=$T/a B=$T/b
make_store "$A" alice
make_store "$B" alice
conf na "$A" nb "local:$B" ""
conf nb "$B" na "local:$A" ""
expect_exit 75 "cannot reach dsyncd at '$T/na.sock'" \
	"replicator status without a daemon exits 75" \
	"$DSYNC" -c "$T/na.conf" replicator status
expect_exit 75 "cannot reach dsyncd" "replicator pause without a daemon exits 75" \
	"$DSYNC" -c "$T/na.conf" replicator pause nb
start_daemon na
start_daemon nb
"$DSYNC" -s "$A" -u alice save <"$T/m1" >/dev/null
wait_msgs "$B" 1
quiet na nb
ok "a save on one node reaches the other"
expect_ok "replicator status" "$DSYNC" -c "$T/na.conf" replicator status
grep -Eq "^node na store $A users 1 started [0-9T:Z-]+$" "$T/out" ||
	fail "status header: $(head -1 "$T/out")"
grep -Eq '^peer nb state connected syncing no queue 0 changes 0 lag [0-9.]+s syncs [1-9][0-9]* failures 0 last-sync [0-9T:Z-]+ last-full-sync [-0-9T:Z]+ last-error -$' "$T/out" ||
	fail "status peer line: $(tail -1 "$T/out")"
ok "replicator status text: a header line and a peer line"
expect_ok "replicator status --json" "$DSYNC" -c "$T/na.conf" replicator status --json
python3 - "$T/out" "$A" <<-'EOF' || fail "status --json: $(cat "$T/out")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["node"] == "na" and s["store"] == sys.argv[2] and s["users"] == 1, s
(p,) = s["peers"]
want = {"name": "nb", "state": "connected", "connected": True, "syncing": False,
        "queue": 0, "failures": 0, "last_error": None}
assert all(p[k] == v for k, v in want.items()), p
assert p["syncs"] >= 1 and isinstance(p["lag_seconds"], (int, float)) and p["last_sync"], p
for k in ("url", "last_full_sync", "last_error_time"):
    assert k in p, k
EOF
ok "replicator status --json parses and says connected, idle, queue 0"
expect_exit 1 "unknown peer 'nope'" "pause of an unknown peer" \
	"$DSYNC" -c "$T/na.conf" replicator pause nope
expect_ok "replicator pause nb" "$DSYNC" -c "$T/na.conf" replicator pause nb
expect_ok "replicator pause na on nb" "$DSYNC" -c "$T/nb.conf" replicator pause na
"$DSYNC" -c "$T/na.conf" replicator status --json |
	python3 -c 'import json,sys; p=json.load(sys.stdin)["peers"][0]; assert p["state"]=="paused" and not p["connected"], p' ||
	fail "paused peer not shown as paused"
"$DSYNC" -s "$A" -u alice save <"$T/m2" >/dev/null
sleep 0.5
assert_eq "a paused pair does not replicate" "$("$DSYNC" -s "$B" -u alice dump | grep -c '^  msg ')" 1
expect_ok "replicator resume nb" "$DSYNC" -c "$T/na.conf" replicator resume nb
expect_ok "replicator resume na on nb" "$DSYNC" -c "$T/nb.conf" replicator resume na
wait_msgs "$B" 2
expect_ok "replicator replicate -f -A" "$DSYNC" -c "$T/na.conf" replicator replicate -f -A
grep -q '^OK all users queued for 1 peers' "$T/out" || fail "replicate answer: $(cat "$T/out")"
quiet na nb
assert_stores_equal "$A" "$B" alice
stop_daemons
expect_exit 75 "cannot reach dsyncd" "replicator after the daemon stopped exits 75" \
	"$DSYNC" -c "$T/na.conf" replicator status --json

# ---- 2. peers over ssh
sshd_setup
ssh-keygen -q -t ed25519 -N '' -C host -f "$T/hostkey"
start_sshd "$T/hostkey"
KH=$T/known_hosts
printf '[127.0.0.1]:%s %s\n' "$PORT" "$(cut -d' ' -f1,2 "$T/hostkey.pub")" >"$KH"
U=$(id -un)
C=$T/c D=$T/d
make_store "$C" alice
make_store "$D" alice
sshpeer="  identity_file = $T/id
  known_hosts = $KH
  remote_dsync = $DSYNC
  timeout = 20s
"
conf nc "$C" nd "ssh://$U@127.0.0.1:$PORT$D" "$sshpeer"
conf nd "$D" nc "ssh://$U@127.0.0.1:$PORT$C" "$sshpeer"
start_daemon nc
start_daemon nd
"$DSYNC" -s "$D" -u alice save <"$T/m3" >/dev/null
wait_msgs "$C" 1
ok "a save on the ssh side (d) arrives on c"
"$DSYNC" -s "$C" -u alice save -f '\Seen' <"$T/m4" >/dev/null
"$DSYNC" -s "$C" -u alice mailbox create Archive
"$DSYNC" -s "$C" -u alice save -m Archive <"$T/m5" >/dev/null
wait_msgs "$D" 3
ok "saves on c arrive on d over ssh"
# a worker killed in the middle: its daemon starts another
w=$(pgrep -P "${pid_of[nd]}" | head -1)
[ -n "$w" ] || fail "no worker under dsyncd nd (pid ${pid_of[nd]})"
kill -9 "$w"
"$DSYNC" -s "$D" -u alice flags add -m INBOX 1 '\Flagged'
"$DSYNC" -s "$D" -u alice save <"$T/m6" >/dev/null
wait_msgs "$C" 4
quiet nc nd
assert_stores_equal "$C" "$D" alice
python3 - "$T/nd.conf" <<-'EOF' || fail "status of nd after the worker was killed"
import json, os, subprocess, sys
s = json.loads(subprocess.run([os.environ["DSYNC"], "-c", sys.argv[1], "replicator", "status",
                               "--json"], capture_output=True, text=True, check=True).stdout)
(p,) = s["peers"]
assert p["failures"] >= 1 and "signal 9" in (p["last_error"] or ""), p
assert p["connected"] and p["url"].startswith("ssh://"), p
EOF
ok "a killed ssh worker is counted as a failure and replaced"
