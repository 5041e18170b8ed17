#!/bin/bash
# t1410-imapd-cluster: two nodes, each with dsyncd and imapd on its own
# store: IMAP changes on one node are pushed to IDLE sessions on the
# other (EXISTS, FETCH FLAGS, EXPUNGE), and a QRESYNC/CONDSTORE client
# of one node resyncs after changes made on the other.
set -eu
. ./lib.sh
if [ -z "${IMAPD:-}" ] || [ -z "${DSYNCD:-}" ]; then
	echo "ok - skip: IMAPD or DSYNCD not set"
	exit 0
fi
make_store "$T/a" alice
make_store "$T/b" alice
printf 'alice:{PLAIN}secret::::::\n' >"$T/passwd"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PA=$(free_port) PB=$(free_port)
conf() {	# conf NODE OTHER PORT
	cat <<CONF
store = $T/$1
node = $1
control_socket = $T/$1.sock
retry_min = 100ms
batch_delay = 1ms
log_level = debug
peer $2 {
  url = local:$T/$2
}
imap {
  listen = 127.0.0.1:$3
  passdb = passwd-file:$T/passwd
}
CONF
}
conf a b "$PA" >"$T/a.conf"
conf b a "$PB" >"$T/b.conf"
pids=""
trap 'kill $pids 2>/dev/null; wait 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
for n in a b; do
	"$DSYNCD" -F -c "$T/$n.conf" 2>>"$T/$n.dsyncd.log" & pids="$pids $!"
	"$IMAPD" -F -c "$T/$n.conf" 2>>"$T/$n.imapd.log" & pids="$pids $!"
done
for i in $(seq 1 100); do
	grep -q listening "$T/a.imapd.log" && grep -q listening "$T/b.imapd.log" && break
	sleep 0.05
done
python3 ./imapd_cluster.py "$PA" "$PB" alice secret ||
	fail "cluster scenario (logs: $(tail -n 8 "$T"/*.log))"
ok "IMAP across replicating nodes"
sleep 0.5
assert_stores_equal "$T/a" "$T/b" alice
