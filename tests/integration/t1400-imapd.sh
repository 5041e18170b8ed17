#!/bin/bash
# t1400-imapd: imapd on a store: the protocol suite (imap_proto.py, every
# command and extension), imapd's own scenarios (push from other
# processes, the EXPUNGE rule, big FETCHes, streamed APPENDs, many
# sessions), its limits (a second instance with tight settings) and TLS
# (a third with implicit TLS and STARTTLS).
set -eu
. ./lib.sh
if [ -z "${IMAPD:-}" ]; then
	echo "ok - skip: IMAPD not set"
	exit 0
fi
S=$T/store
make_store "$S" alice bob
printf 'alice:{PLAIN}secret::::::\nbob:{SHA512-CRYPT}%s::::::\n' \
	"$(python3 -c 'import crypt; print(crypt.crypt("hunter2", crypt.mksalt(crypt.METHOD_SHA512)))' 2>/dev/null)" >"$T/passwd"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
P=$(free_port) P2=$(free_port) P3=$(free_port) P4=$(free_port)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$T/key.pem" -out "$T/cert.pem" -days 2 -subj /CN=localhost 2>/dev/null ||
	fail "openssl req"
cat >"$T/imapd.conf" <<CONF
store = $S
node = a
log_level = debug
imap {
  listen = 127.0.0.1:$P
  passdb = passwd-file:$T/passwd
  auth_failure_delay = 300ms
}
CONF
cat >"$T/limits.conf" <<CONF
store = $S
node = a
imap {
  listen = 127.0.0.1:$P2
  passdb = passwd-file:$T/passwd
  plaintext_auth = no
  login_timeout = 1s
  auth_failure_delay = 200ms
  max_line = 4K
  max_append = 1M
}
CONF
cat >"$T/tls.conf" <<CONF
store = $S
imap {
  listen = 127.0.0.1:$P4
  tls_listen = 127.0.0.1:$P3
  tls_cert = $T/cert.pem
  tls_key = $T/key.pem
  plaintext_auth = no
  passdb = passwd-file:$T/passwd
}
CONF
pids=""
trap 'kill $pids 2>/dev/null; wait 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
"$IMAPD" -F -c "$T/imapd.conf" 2>"$T/imapd.log" & pids="$pids $!"
"$IMAPD" -F -c "$T/limits.conf" 2>"$T/limits.log" & pids="$pids $!"
"$IMAPD" -F -c "$T/tls.conf" 2>"$T/tls.log" & pids="$pids $!"
for i in $(seq 1 100); do
	grep -q "listening" "$T/imapd.log" && grep -q "listening" "$T/limits.log" &&
	    grep -q "(TLS)" "$T/tls.log" && break
	sleep 0.05
done
grep -q "listening" "$T/imapd.log" || fail "imapd did not start: $(cat "$T/imapd.log")"

# configuration errors name the file and line
printf 'imap {\n  listen = nowhere\n}\n' >"$T/bad.conf"
expect_exit 1 "listen address 'nowhere'" "a bad listen address is refused" \
	"$IMAPD" -F -c "$T/bad.conf"
printf 'imap {\n  max_line = lots\n}\n' >"$T/bad2.conf"
expect_exit 1 "bad2.conf:2: .*max_line" "a bad size names file and line" \
	"$IMAPD" -F -c "$T/bad2.conf"
printf 'store = %s\nimap {\n  listen = 127.0.0.1:%s\n  tls_cert = %s\n  tls_key = %s\n  passdb = passwd-file:%s\n}\n' \
	"$S" "$(free_port)" "$T/cert.pem" "$T/passwd" "$T/passwd" >"$T/bad3.conf"
expect_exit 1 "passwd" "a TLS key that is no key is refused, naming the file" \
	"$IMAPD" -F -c "$T/bad3.conf"

python3 ./imapd_scenarios.py --port "$P" --limits-port "$P2" --user alice \
	--password secret --dsync "$DSYNC" --store "$S" --tls-port "$P3" \
	--starttls-port "$P4" --cafile "$T/cert.pem" ||
	fail "imapd scenarios (log: $(tail -n 20 "$T/imapd.log"))"
ok "imapd scenarios"
if [ -f ./imap_proto.py ]; then
	python3 ./imap_proto.py --host 127.0.0.1 --port "$P" --user alice \
		--password secret --user2 bob --password2 hunter2 ||
		fail "protocol suite (log: $(tail -n 20 "$T/imapd.log"))"
	ok "protocol suite"
fi
# the store is intact and its users' logs check clean after all that
expect_ok "store check after the IMAP sessions" "$DSYNC" -s "$S" check
