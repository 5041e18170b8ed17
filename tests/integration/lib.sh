# lib.sh: shared helpers for integration tests. Source it after set -eu.
# Provides a per-test temp dir ($T, removed on exit), TAP-like reporting and
# assertions that name what they expected.
: "${DSYNC:?set DSYNC to the dsync binary}"
T=$(mktemp -d "${TMPDIR:-/tmp}/dsync-it.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
n_ok=0

ok() { n_ok=$((n_ok + 1)); echo "ok $n_ok - $*"; }
fail() { echo "not ok - $*" >&2; exit 1; }

# make_store DIR [USER...]: init a store and add users
make_store() {
	local s=$1; shift
	"$DSYNC" -s "$s" init
	for u in "$@"; do "$DSYNC" -s "$s" user add "$u"; done
}

# expect_ok DESC CMD...: command must exit 0
expect_ok() {
	local desc=$1; shift
	"$@" >"$T/out" 2>"$T/err" || fail "$desc: exit $? (stderr: $(cat "$T/err"))"
	ok "$desc"
}

# expect_exit CODE PATTERN DESC CMD...: command must exit CODE with one
# stderr line matching PATTERN (grep -E)
expect_exit() {
	local code=$1 pat=$2 desc=$3 rc=0; shift 3
	"$@" >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" -eq "$code" ] || fail "$desc: exit $rc, want $code (stderr: $(cat "$T/err"))"
	grep -Eq -- "$pat" "$T/err" || fail "$desc: stderr '$(cat "$T/err")' does not match '$pat'"
	ok "$desc"
}

# assert_eq DESC GOT WANT
assert_eq() {
	[ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
	ok "$1"
}

# assert_stores_equal S1 S2 USER: the dumps of USER are identical
assert_stores_equal() {
	diff <("$DSYNC" -s "$1" -u "$3" dump) <("$DSYNC" -s "$2" -u "$3" dump) >"$T/diff" ||
		fail "dumps of $3 differ: $(head -20 "$T/diff")"
	ok "stores $1 and $2 agree on $3"
}

# status_field STORE USER MAILBOX FIELD
status_field() {
	"$DSYNC" -s "$1" -u "$2" mailbox status "$3" | awk -v k="$4" '$1 == k { print $2 }'
}

# msg N: a small, distinct RFC 5322 message
msg() {
	printf 'From: Sender %s <sender%s@example.org>\r\nTo: rcpt@example.net\r\nSubject: test message %s\r\nMessage-ID: <%s.test@example.org>\r\nDate: Sat, 28 Nov 2026 12:00:00 +0000\r\n\r\nBody of message %s.\r\n' "$1" "$1" "$1" "$1" "$1"
}
