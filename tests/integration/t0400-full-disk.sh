#!/bin/bash
# t0400-full-disk: on a full filesystem (a small tmpfs, so root only),
# saves, flag changes and mailbox creation fail cleanly with a clear error,
# nothing acknowledged is lost, check stays clean, and the store works
# again once space is freed.
set -eu
. ./lib.sh
if [ "$(id -u)" -ne 0 ]; then
	echo "skip: mounting a small tmpfs needs root"
	exit 0
fi
M=$T/mnt
mkdir -p "$M"
mount -t tmpfs -o size=1500k tmpfs "$M" || fail "can not mount a tmpfs as root"
trap 'umount "$M" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
S=$M/store
# space an operator can free later
head -c 300000 /dev/zero >"$M/reserve"
make_store "$S" alice
"$DSYNC" -s "$S" -u alice mailbox create Box
: >"$T/acked"
i=0
rc=0
while [ $i -lt 2000 ]; do
	i=$((i + 1))
	{ msg "$i"; head -c 20000 /dev/urandom | base64; } >"$T/m"
	out=$("$DSYNC" -s "$S" -u alice save <"$T/m" 2>"$T/err") || { rc=$?; break; }
	echo "$out" >>"$T/acked"
done
[ "$rc" -eq 1 ] || fail "save on a full disk: exit $rc after $i messages, want 1"
grep -q "No space left on device" "$T/err" || fail "error does not say the disk is full: $(cat "$T/err")"
[ "$(wc -l <"$T/err")" -eq 1 ] || fail "more than one error line: $(cat "$T/err")"
ok "save fails cleanly with 'No space left on device' after $((i - 1)) messages"
n=$(wc -l <"$T/acked")
# fill the remaining space so metadata-only changes fail too
head -c 2000000 /dev/zero >"$M/filler" 2>/dev/null || true
# the log's last page may still have room: create until it is full
k=0
while "$DSYNC" -s "$S" -u alice mailbox create "Full$k" 2>"$T/err"; do
	k=$((k + 1))
	[ $k -lt 3000 ] || fail "mailbox create never hit the full disk"
done
grep -q "No space left on device" "$T/err" || fail "mailbox create error: $(cat "$T/err")"
ok "mailbox create fails cleanly on a full disk after $k more"
assert_eq "acknowledged mailboxes exist" "$("$DSYNC" -s "$S" -u alice mailbox list | grep -c '^Full' || true)" "$k"
# alternate big flag changes until one fails: it must leave all-or-nothing
want=0 j=0
while :; do
	if [ $((j % 2)) -eq 0 ]; then op=add; else op=remove; fi
	"$DSYNC" -s "$S" -u alice flags $op -m INBOX 1:* '\Seen' 2>"$T/err" || break
	if [ $op = add ]; then want=$n; else want=0; fi
	j=$((j + 1))
	[ $j -lt 3000 ] || fail "flag changes never hit the full disk"
done
grep -q "No space left on device" "$T/err" || fail "flags error: $(cat "$T/err")"
ok "a flag change fails cleanly on a full disk"
assert_eq "the failed flag change is not visible, the last good one is" \
	"$("$DSYNC" -s "$S" -u alice fetch -m INBOX 1:* flags | grep -c Seen || true)" "$want"
assert_eq "every acknowledged save is still there" "$(status_field "$S" alice INBOX messages)" "$n"
expect_ok "check is clean on the full disk" "$DSYNC" -s "$S" check
rm -f "$M/filler" "$M/reserve"
"$DSYNC" -s "$S" -u alice expunge -m INBOX 1:5 || true
expect_ok "flags work again once space is freed" "$DSYNC" -s "$S" -u alice flags add -m INBOX 1:* '\Flagged'
while read -r _ uid _ guid; do
	[ "$uid" -le 5 ] && continue
	"$DSYNC" -s "$S" -u alice fetch -m INBOX "$uid" guid | grep -q "$guid" || fail "acknowledged uid $uid lost"
done <"$T/acked"
ok "acknowledged messages keep their GUIDs"
expect_ok "check is clean after recovery" "$DSYNC" -s "$S" check
