#!/bin/bash
# t1020-sync-bad-peer: a peer speaking garbage, an unknown protocol
# version, frames over the limit, bad checksums or malformed changes gets
# a clear error, and the local store is not changed. The fake peer is
# reached through --ssh-command, which runs it instead of ssh.
set -eu
. ./lib.sh
WIRE_FRAME=${WIRE_FRAME:-$(dirname "$DSYNC")/wire-frame}
[ -x "$WIRE_FRAME" ] || fail "no wire-frame tool at $WIRE_FRAME"
A=$T/a
make_store "$A" alice
msg 1 | "$DSYNC" -s "$A" -u alice save >/dev/null
"$DSYNC" -s "$A" -u alice dump >"$T/before"

# hello VMIN VMAX: a HELLO payload from node 0x0102030405060708
hello() { printf "DSYN\\x$(printf %02x "$1")\\x$(printf %02x "$2")\\x01\\x08\\x07\\x06\\x05\\x04\\x03\\x02\\x01\\x04fake"; }
frame() { "$WIRE_FRAME" "$1"; }

# Each fake peer is a script that writes canned bytes and then reads
# whatever comes until the client hangs up.
fake() {
	local name=$1; shift
	{ echo '#!/bin/bash'; echo "cat '$T/$name.bytes'"; echo 'exec cat >/dev/null'; } >"$T/$name"
	chmod +x "$T/$name"
}

printf 'SSH-2.0-OpenSSH_9.2 hello\r\nProtocol mismatch.\n' >"$T/garbage.bytes"
fake garbage
hello 7 9 | frame 1 >"$T/version.bytes"
fake version
{ hello 1 1 | frame 1; printf '\x80\x80\x80\x09\x08'; } >"$T/huge.bytes"
fake huge
{ hello 1 1 | frame 1; printf 'xx' | frame 6 | head -c 4; printf 'XXXXXXXX'; } >"$T/checksum.bytes"
fake checksum
{
	hello 1 1 | frame 1
	# HEAD: log id, modseq 5, no state, zeros, not created
	printf '\x01\x02\x03\x04\x05\x06\x07\x08\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00' | frame 6
	printf '\x63garbage' | frame 8
} >"$T/change.bytes"
fake change

try() {
	local name=$1 pattern=$2
	expect_exit 1 "$pattern" "peer speaking $name" \
		"$DSYNC" sync -u alice --ssh-command "$T/$name" "$A" ssh://peer/store
	"$DSYNC" -s "$A" -u alice dump | diff -q - "$T/before" >/dev/null ||
		fail "local store changed after a $name peer"
	ok "local store unchanged after a $name peer"
}
try garbage "did not answer with a dsync HELLO \(it sent \"SSH-2.0-OpenSSH_9.2 hello\"\)"
try version "version"
try huge "limit"
try checksum "checksum"
try change "unknown change kind 99"
"$DSYNC" -s "$A" check >/dev/null || fail "store does not check clean"
ok "store checks clean"

# A peer that can not be reached at all: temporary failure, exit 75.
expect_exit 75 "." "unreachable ssh peer" \
	"$DSYNC" sync -u alice --timeout 5 "$A" ssh://127.0.0.1:1/store
