#!/bin/bash
# t1100-ssh-transport: the ssh transports (wire_conn_ssh, and the system
# ssh through wire_conn_ssh_command) against a real sshd on loopback,
# driven by build/wire-cat: host key checks (unknown, accept-new, hashed
# entries, changed key), public key login, byte-exact bulk data with and
# without compression, remote exit status, unreachable hosts.
set -eu
. "$(dirname "$0")/lib.sh"
WIRE_CAT=${WIRE_CAT:-$(dirname "$DSYNC")/wire-cat}
[ -x "$WIRE_CAT" ] || fail "no wire-cat at '$WIRE_CAT' (make builds it)"
. "$(dirname "$0")/lib_sshd.sh"
silent_pid=""
trap 'stop_sshd; [ -z "$silent_pid" ] || kill "$silent_pid" 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT

# fingerprint KEYFILE: its SHA256:... as OpenSSH prints it, quoted for
# grep -E (base64 has '+')
fingerprint() { ssh-keygen -l -f "$1" | awk '{ print $2 }' | sed 's/[+/]/\\&/g'; }

sshd_setup
ssh-keygen -q -t ed25519 -N '' -C host1 -f "$T/hostkey1"
ssh-keygen -q -t ed25519 -N '' -C host2 -f "$T/hostkey2"
ssh-keygen -q -t ecdsa -N '' -C host3 -f "$T/hostkey3"
ssh-keygen -q -t ed25519 -N '' -C stranger -f "$T/wrong"
USER_NAME=$(id -un)
start_sshd "$T/hostkey1"
URL="ssh://$USER_NAME@127.0.0.1:$PORT/unused"
KH="$T/known_hosts"
wc_ssh() { "$WIRE_CAT" --known-hosts "$KH" -i "$T/id" --timeout 30000 "$@"; }

fp1=$(fingerprint "$T/hostkey1.pub")
expect_exit 1 "host key of '\[127.0.0.1\]:$PORT' is not known: ssh-ed25519 $fp1 is not in '$KH'" \
	"unknown host key is refused, naming type and fingerprint" \
	wc_ssh "$URL" --command cat </dev/null
[ ! -s "$KH" ] || fail "a refused key was recorded"

echo hello >"$T/hello"
expect_ok "--accept-new records the key" wc_ssh --accept-new "$URL" --command cat <"$T/hello"
assert_eq "accept-new echoed the input" "$(cat "$T/out")" hello
assert_eq "known_hosts line in OpenSSH format" "$(cut -d' ' -f1,2,3 "$KH")" \
	"[127.0.0.1]:$PORT ssh-ed25519 $(cut -d' ' -f2 "$T/hostkey1.pub")"

expect_ok "a known host works without --accept-new" wc_ssh "$URL" --command cat <"$T/hello"
assert_eq "known host echoed the input" "$(cat "$T/out")" hello

ssh-keygen -q -H -f "$KH" >/dev/null 2>&1
grep -q '^|1|' "$KH" || fail "ssh-keygen -H did not hash '$KH'"
expect_ok "a hashed known_hosts entry works" wc_ssh "$URL" --command cat <"$T/hello"
assert_eq "hashed entry echoed the input" "$(cat "$T/out")" hello

head -c 10000000 /dev/urandom >"$T/big"
want=$(sha256sum <"$T/big")
expect_ok "10 MB through cat" wc_ssh "$URL" --command cat <"$T/big"
assert_eq "10 MB came back byte-exact" "$(sha256sum <"$T/out")" "$want"
expect_ok "10 MB through cat, compressed" wc_ssh --compress 6 "$URL" --command cat <"$T/big"
assert_eq "10 MB came back byte-exact through zlib" "$(sha256sum <"$T/out")" "$want"

expect_exit 1 "exited with status 3: it went wrong" \
	"remote exit status and stderr are reported" \
	wc_ssh "$URL" --command 'cat >/dev/null; echo it went wrong >&2; exit 3' <"$T/hello"
expect_exit 75 "exited with status 75" "remote EX_TEMPFAIL is a temporary failure" \
	wc_ssh "$URL" --command 'exit 75' </dev/null

expect_exit 75 "connection lost" "a dropped connection is a temporary failure" \
	wc_ssh "$URL" --command 'kill -9 $PPID'
expect_exit 1 "refused the login as '$USER_NAME'.*'$T/wrong'" "a wrong client key is refused" \
	"$WIRE_CAT" --known-hosts "$KH" -i "$T/wrong" "$URL" --command cat </dev/null
expect_exit 1 "identity file '$T/nokey'" "a missing identity file is named" \
	"$WIRE_CAT" --known-hosts "$KH" -i "$T/nokey" "$URL" --command cat </dev/null

stop_sshd
start_sshd "$T/hostkey2" "$T/hostkey3"
fp2=$(fingerprint "$T/hostkey2.pub")
expect_exit 1 "host key of '\[127.0.0.1\]:$PORT' CHANGED: it offers ssh-ed25519 $fp2, which does not match '$KH' line 1" \
	"a changed host key is refused" \
	wc_ssh "$URL" --command cat </dev/null
expect_exit 1 "CHANGED" "--accept-new does not accept a changed key" \
	wc_ssh --accept-new "$URL" --command cat </dev/null

# like OpenSSH, ask for the key type known_hosts has
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$T/hostkey3.pub")" >"$T/known_ecdsa"
expect_ok "a host known by its ECDSA key is asked for that key" \
	wc_ssh --known-hosts "$T/known_ecdsa" "$URL" --command cat <"$T/hello"
assert_eq "ECDSA host echoed the input" "$(cat "$T/out")" hello
stop_sshd
start_sshd "$T/hostkey2"
expect_exit 1 "host key of '\[127.0.0.1\]:$PORT' changed type: it offers ssh-ed25519 $fp2, '$T/known_ecdsa' line 1" \
	"a host known only by a key of another type is refused, even with --accept-new" \
	wc_ssh --known-hosts "$T/known_ecdsa" --accept-new "$URL" --command cat </dev/null

ssh_cmd="ssh -F /dev/null -o BatchMode=yes -o UserKnownHostsFile=$T/known_hosts_ssh -o StrictHostKeyChecking=accept-new -i $T/id -p $PORT"
expect_ok "--ssh-command through the system ssh" \
	"$WIRE_CAT" --ssh-command "$ssh_cmd" "ssh://$USER_NAME@127.0.0.1/unused" --command cat <"$T/big"
assert_eq "system ssh: 10 MB came back byte-exact" "$(sha256sum <"$T/out")" "$want"
expect_exit 1 "exited with status 4" "system ssh: remote exit status is reported" \
	"$WIRE_CAT" --ssh-command "$ssh_cmd" "ssh://$USER_NAME@127.0.0.1/unused" --command 'exit 4' </dev/null

stop_sshd
expect_exit 75 "connect to '127.0.0.1' port $PORT: Connection refused" "an unreachable port is a temporary failure" \
	wc_ssh "$URL" --command cat </dev/null
expect_exit 75 "exited with status 255" "system ssh: an unreachable port is a temporary failure" \
	"$WIRE_CAT" --ssh-command "$ssh_cmd" "ssh://$USER_NAME@127.0.0.1/unused" --command cat </dev/null

# a server that accepts but never speaks: the connect timeout ends it
python3 -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(5)
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
time.sleep(30)
' >"$T/silent.port" &
silent_pid=$!
for _ in $(seq 50); do [ -s "$T/silent.port" ] && break; sleep 0.1; done
expect_exit 75 "ssh handshake with 'ssh://$USER_NAME@127.0.0.1:$(cat "$T/silent.port")': timed out" \
	"a server that never answers times out" \
	wc_ssh --connect-timeout 500 "ssh://$USER_NAME@127.0.0.1:$(cat "$T/silent.port")/x" --command cat </dev/null
kill "$silent_pid" 2>/dev/null || true
wait "$silent_pid" 2>/dev/null || true
silent_pid=""
