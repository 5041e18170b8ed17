#!/bin/bash
# t0150-config: the configuration file shared by dsync, dsyncd and imapd
# (dsync.conf(5)): "config -n" and "-a", their output parsing back to the
# same settings, -o and -s, and errors (exit 1, one line naming file:line).
set -eu
. ./lib.sh
S=$T/store
make_store "$S" alice >/dev/null

cat >"$T/conf" <<CONF
# a node of three
store = $S
node = alpha
lock_timeout = 5
log_level = debug
retry_max = 300s
peer beta {
  url = ssh://dsync@beta.example.net/var/lib/dsync/store
  compress = 6
  ssh_command = "ssh -p 2222 # via bastion"
}
peer gamma {
  url = /srv/gamma
  paused = no
}
imap {
  listen = [::1]:1143
}
CONF

# -n: what differs from the defaults, in table order ("300s" is 5m and
# "paused = no" the default, so both are left out)
cat >"$T/want-n" <<WANT
store = $S
node = alpha
lock_timeout = 5
log_level = debug

peer beta {
  url = ssh://dsync@beta.example.net/var/lib/dsync/store
  ssh_command = "ssh -p 2222 # via bastion"
  compress = 6
}

peer gamma {
  url = /srv/gamma
}

imap {
  listen = [::1]:1143
}
WANT
expect_ok "config -n" "$DSYNC" -c "$T/conf" config -n
diff "$T/want-n" "$T/out" >&2 || fail "config -n output differs"
ok "config -n shows the changed settings"
assert_eq "config without -n is -n" "$("$DSYNC" -c "$T/conf" config)" "$(cat "$T/want-n")"

expect_ok "config -a" "$DSYNC" -c "$T/conf" config -a
cp "$T/out" "$T/all"
for k in store node control_socket lock_timeout mail_user log log_level \
    full_sync_interval batch_delay retry_min retry_max replication_timeout \
    replication_wait; do
	grep -Eq "^$k =( |$)" "$T/all" || fail "config -a lacks $k"
done
[ "$(grep -c '^  url = ' "$T/all")" = 2 ] || fail "config -a lacks a peer"
[ "$(grep -c '^  remote_dsync = dsync$' "$T/all")" = 2 ] ||
	fail "config -a does not fill each peer's defaults"
grep -q '^  passdb = passwd-file:/etc/dsync/passwd$' "$T/all" ||
	fail "config -a lacks imap defaults"
grep -q '^full_sync_interval = 1d$' "$T/all" || fail "config -a: wrong default"
ok "config -a shows every setting, peers filled with defaults"

# the output is a configuration file that means the same
expect_ok "config -a output parses" "$DSYNC" -c "$T/all" config -a
diff "$T/all" "$T/out" >&2 || fail "config -a of config -a differs"
ok "config -a round-trips"
assert_eq "config -n of config -a is config -n" \
    "$("$DSYNC" -c "$T/all" config -n)" "$(cat "$T/want-n")"
"$DSYNC" -c "$T/conf" config -n >"$T/n"
assert_eq "config -n round-trips" "$("$DSYNC" -c "$T/n" config -n)" "$(cat "$T/want-n")"

# without a file every setting has its default; an absent imap section too
expect_ok "config -a without a file" "$DSYNC" -c /dev/null config -a
grep -q '^store = /var/lib/dsync/store$' "$T/out" || fail "default store"
grep -q "^node = $(hostname)\$" "$T/out" || fail "default node is not the host name"
grep -q '^  listen = 127.0.0.1:1143$' "$T/out" || fail "default imap listen"
assert_eq "config -n without a file is empty" "$("$DSYNC" -c /dev/null config -n)" ""
printf 'peer b {\n  url = /x\n}\n' >"$T/peer.conf"
assert_eq "config -n of a lone peer" "$("$DSYNC" -c "$T/peer.conf" config -n)" "$(cat "$T/peer.conf")"

# what dsync itself uses: store, lock_timeout (a plain number is seconds)
assert_eq "store from the file" "$("$DSYNC" -c "$T/conf" user list)" "alice"
expect_exit 1 "no dsync store" "-s overrides store" "$DSYNC" -c "$T/conf" -s "$T/nope" user list
expect_exit 1 "no dsync store" "-o overrides store" "$DSYNC" -c "$T/conf" -o "store=$T/nope" user list
expect_ok "lock_timeout with a unit" "$DSYNC" -c "$T/conf" -o lock_timeout=250ms user list
assert_eq "-o shows in config -n" "$("$DSYNC" -c "$T/conf" -o 'peer.gamma.timeout=1m' -o 'node= x ' config -n | grep -E '^node|timeout = 1m')" \
    "$(printf 'node = " x "\n  timeout = 1m')"

# errors: exit 1, one line, file:line and what is allowed
bad() {	# bad DESC PATTERN LINES...: a file with these lines is refused
	local desc=$1 pat=$2; shift 2
	printf '%s\n' "$@" >"$T/bad.conf"
	expect_exit 1 "^dsync: .*bad\.conf:$pat" "$desc" "$DSYNC" -c "$T/bad.conf" config -n
	[ "$(wc -l <"$T/err")" = 1 ] || fail "$desc: more than one line on stderr"
}
bad "unknown key" "2: unknown setting 'bogus'\$" "node = a" "bogus = 1"
bad "unknown peer key" "3: unknown peer setting 'host'\$" "peer b {" "url = x" "host = y" "}"
bad "unknown section" "1: unknown section 'smtp' \(known: peer, imap\)\$" "smtp {" "}"
bad "peer without a name" "1: section 'peer' needs a name" "peer {" "url = x" "}"
bad "imap with a name" "1: section 'imap' takes no name, not 'x'\$" "imap x {" "}"
bad "peer without url" "2: section 'peer beta' has no 'url'\$" "" "peer beta {" "compress = 1" "}"
bad "bad uint" "3: 'compress' must be a number in 0\.\.9, not '10'\$" "peer b {" "url = x" "compress = 10" "}"
bad "bad bool" "3: 'paused' must be yes or no .*, not 'maybe'\$" "peer b {" "url = x" "paused = maybe" "}"
bad "bad duration" "1: 'lock_timeout' must be a duration in 0\.\.1h .*, not '2h'\$" "lock_timeout = 2h"
bad "bad enum" "1: 'log' must be one of stderr, syslog, not 'file'\$" "log = file"
bad "relative path" "1: 'store' must be an absolute path, not 'store'\$" "store = store"
bad "duplicate key" "3: 'node' set twice \(first at line 1\)\$" "node = a" "" "node = b"
bad "duplicate peer" "4: section 'peer b' defined twice \(first at line 1\)\$" "peer b {" "url = x" "}" "peer b {" "url = y" "}"
expect_exit 1 "^dsync: -o peer\.beta\.timeout: 'timeout' must be a duration in 1s\.\.1d .*, not '0'\$" \
    "bad -o value" "$DSYNC" -c "$T/conf" -o peer.beta.timeout=0 config -n
expect_exit 1 "^dsync: -o nosuch: unknown setting 'nosuch'\$" "unknown -o key" "$DSYNC" -c "$T/conf" -o nosuch=1 config
expect_exit 1 "names no section" "-o for a missing peer" "$DSYNC" -c "$T/conf" -o peer.delta.url=x config
expect_exit 1 "missing\.conf.*No such file" "a missing -c file" "$DSYNC" -c "$T/missing.conf" config
expect_exit 1 "unknown setting 'bogus'" "bad settings stop every command" "$DSYNC" -c "$T/conf" -s "$S" -o bogus=1 user list
expect_exit 2 "config \[-n \| -a\]" "config usage" "$DSYNC" -c "$T/conf" config -x

# the man page documents every setting, with its default
man5=../../man/dsync.conf.5
"$DSYNC" -c "$T/conf" config -a | sed -n 's/^ *\([a-z_]*\) =.*/\1/p' | sort -u >"$T/keys"
[ "$(wc -l <"$T/keys")" -ge 25 ] || fail "config -a lists too few keys"
while read -r k; do
	grep -q "^\.It Ic $k Pq " "$man5" || fail "dsync.conf.5 does not document $k"
done <"$T/keys"
ok "dsync.conf(5) documents every setting"
sed -n '/^\.Bd -literal/,/^\.Ed/p' "$man5" | sed '1d;$d' >"$T/example.conf"
expect_ok "the man page's example is valid" "$DSYNC" -c "$T/example.conf" config -n
