#!/bin/bash
# t1300-backup: dsync export / import / verify. A full backup and a chain
# of incrementals, taken while the store changes, restore to stores whose
# dump equals the source's at each point; single message and mailbox
# restores into a live user bring back what was expunged, once; bad
# chains, truncated and damaged files give clear errors, and --salvage
# restores what is intact.
set -eu
. ./lib.sh
S=$T/src

dump() { "$DSYNC" -s "$1" -A dump; }
count() { status_field "$1" "$2" "$3" messages; }

make_store "$S" alice bob >/dev/null
# a realistic base: two users of generated mail
"$MKCORPUS" -s 7 -n 150 -u 2 "$T/corpus" >/dev/null
"$DSYNC" -s "$S" -u alice import maildir "$T/corpus/user1" >/dev/null
"$DSYNC" -s "$S" -u bob import maildir "$T/corpus/user2" >/dev/null

# step K: changes of every kind, deterministic
step() {
	local k=$1 a="$DSYNC -s $S -u alice" b="$DSYNC -s $S -u bob"
	msg "$k-a" | $a save -m INBOX -f '\Seen' -f "kw$k" >/dev/null
	msg "$k-b" | $b save >/dev/null
	$a flags add -m INBOX "$((k * 3 + 1)):$((k * 3 + 3))" '\Flagged' "\$Label$k"
	$a flags remove -m INBOX "$((k + 10))" '\Seen'
	$a expunge -m INBOX "$((k * 2 + 20))"
	$a mailbox create "Projects/p$k"
	msg "$k-p" | $a save -m "Projects/p$k" >/dev/null
	$a copy -m INBOX "$((k + 40))" "Projects/p$k"
	$a mailbox subscribe "Projects/p$k"
	$a metadata set /private/comment "step $k"
	$a metadata set -m INBOX /shared/vendor/x/step "$k"
	$a acl set -m "Projects/p$k" bob lr
	case $k in
	2) $a mailbox rename "Projects/p1" "Done/p1" ;;
	3) $a mailbox delete "Projects/p2"; $a metadata unset /private/comment ;;
	esac
}

# one body in two users: stored once, in alice's section
msg shared | "$DSYNC" -s "$S" -u alice save >/dev/null
msg shared | "$DSYNC" -s "$S" -u bob save >/dev/null

# the public namespace goes along
"$DSYNC" -s "$S" -u alice mailbox create public/Announce
msg pub | "$DSYNC" -s "$S" -u alice save -m public/Announce >/dev/null

# full backup, then three incrementals, each after one step
expect_ok "full export" "$DSYNC" -s "$S" -A export -o "$T/b0"
dump "$S" >"$T/d0"
for k in 1 2 3; do
	step "$k"
	expect_ok "incremental export $k" "$DSYNC" -s "$S" -A export \
	    --since "$T/b$((k - 1))" -o "$T/b$k"
	dump "$S" >"$T/d$k"
done
[ ! -e "$T/b3.partial" ] || fail "a .partial file was left behind"
inc=$(stat -c %s "$T/b3") full=$(stat -c %s "$T/b0")
[ "$inc" -lt $((full / 20)) ] || fail "incremental of $inc bytes, full $full"
ok "an incremental holds only the changes ($inc bytes, full $full)"

expect_ok "verify the chain" "$DSYNC" verify "$T/b0" "$T/b1" "$T/b2" "$T/b3"
files="$T/b0"
for k in 0 1 2 3; do
	[ "$k" -eq 0 ] || files="$files $T/b$k"
	rm -rf "$T/r$k"
	"$DSYNC" -s "$T/r$k" init >/dev/null
	# shellcheck disable=SC2086
	expect_ok "import chain up to $k" "$DSYNC" -s "$T/r$k" import $files
	diff "$T/d$k" <(dump "$T/r$k") >"$T/diff" ||
		fail "restore of chain $k differs: $(head -20 "$T/diff")"
	ok "restored store equals the source at point $k"
done
assert_stores_equal "$S" "$T/r3" .public
# a second import of the same chain changes nothing
before=$(dump "$T/r3")
# shellcheck disable=SC2086
expect_ok "import the chain again" "$DSYNC" -s "$T/r3" import $files
assert_eq "a repeated import adds nothing" "$(dump "$T/r3")" "$before"

# bob alone, whose shared body is in alice's section
rm -rf "$T/bob"; "$DSYNC" -s "$T/bob" init >/dev/null
expect_ok "import one user of the chain" "$DSYNC" -s "$T/bob" -u bob import \
    "$T/b0" "$T/b1" "$T/b2" "$T/b3"
assert_stores_equal "$S" "$T/bob" bob
expect_exit 1 "needs the backup as a file" "-u from a pipe is refused" \
    sh -c "cat '$T/b0' | '$DSYNC' -s '$T/bob' -u alice import -"

# streamed: stdout of export into stdin of import
rm -rf "$T/p"; "$DSYNC" -s "$T/p" init >/dev/null
"$DSYNC" -s "$S" -A export | "$DSYNC" -s "$T/p" import - ||
	fail "export | import - failed"
diff <(dump "$S") <(dump "$T/p") >"$T/diff" || fail "piped restore differs"
ok "export | import - restores an equal store"

# ---- restores into the live user ----
n=$(count "$S" alice INBOX)
"$DSYNC" -s "$S" -u alice expunge -m INBOX 1:3
expect_ok "restore three expunged messages" "$DSYNC" -s "$S" -u alice \
    import -m INBOX --uid 1:3 "$T/b0"
assert_eq "they are back" "$(count "$S" alice INBOX)" "$n"
"$DSYNC" -s "$S" -u alice fetch -m INBOX "$(status_field "$S" alice INBOX uidnext | awk '{print $1 - 1}')" flags guid >"$T/f"
grep -q 'Seen' "$T/f" || fail "restored message lost its flags: $(cat "$T/f")"
ok "restored messages keep their flags"
expect_ok "restore them again" "$DSYNC" -s "$S" -u alice \
    import -v -m INBOX --uid 1:3 "$T/b0"
grep -q '0 messages restored, 3 already there' "$T/out" ||
	fail "repeat restore: $(cat "$T/out")"
assert_eq "a repeated restore adds nothing" "$(count "$S" alice INBOX)" "$n"
expect_exit 1 "no message with UID 99999" "a UID the backup lacks" \
    "$DSYNC" -s "$S" -u alice import -m INBOX --uid 99999 "$T/b0"

# what a restore brings back replicates like any other change
"$DSYNC" -s "$T/replica" init >/dev/null
"$DSYNC" sync -A "$S" "$T/replica" >/dev/null
"$DSYNC" -s "$S" -u alice expunge -m INBOX 4
"$DSYNC" sync -A "$S" "$T/replica" >/dev/null
"$DSYNC" -s "$S" -u alice import -m INBOX --uid 4 "$T/b0"
expect_ok "sync after a restore" "$DSYNC" sync -A "$S" "$T/replica"
assert_eq "the replica has the restored message" \
    "$(count "$T/replica" alice INBOX)" "$n"
assert_stores_equal "$S" "$T/replica" alice

# a deleted mailbox comes back from the chain that still had it
"$DSYNC" -s "$S" -u alice mailbox delete Projects/p3
expect_ok "restore a deleted mailbox" "$DSYNC" -s "$S" -u alice \
    import -m Projects/p3 "$T/b0" "$T/b1" "$T/b2" "$T/b3"
assert_eq "with its two messages" "$(count "$S" alice Projects/p3)" 2
# named by its name at the end of the chain; its mail came under another
"$DSYNC" -s "$S" -u alice mailbox delete Done/p1
expect_ok "restore a renamed mailbox" "$DSYNC" -s "$S" -u alice \
    import -m Done/p1 "$T/b0" "$T/b1" "$T/b2" "$T/b3"
assert_eq "with the mail it had under its old name" \
    "$(count "$S" alice Done/p1)" 2
expect_ok "restore into another name" "$DSYNC" -s "$S" -u alice \
    import -m INBOX --uid 5 --to-mailbox Restored "$T/b0"
assert_eq "one message in Restored" "$(count "$S" alice Restored)" 1
expect_ok "restore into another user" "$DSYNC" -s "$S" -u bob \
    import --to-user carol -m INBOX "$T/b0"
assert_eq "carol has bob's INBOX" "$(count "$S" carol INBOX)" \
    "$(count "$T/r0" bob INBOX)"

# ---- listing ----
expect_ok "list a backup" "$DSYNC" export --list "$T/b1"
grep -q '^backup .* incremental after' "$T/out" || fail "list: $(head -3 "$T/out")"
grep -q '^user alice  modseq [0-9]*  changes only' "$T/out" || fail "list: $(cat "$T/out")"
expect_ok "list a mailbox's messages" "$DSYNC" -u alice export --list "$T/b0" -m INBOX
grep -q '^    uid 1 ' "$T/out" || fail "list -m: $(head -5 "$T/out")"

# ---- bad chains and bad files ----
expect_exit 1 "is an incremental backup" "an incremental alone is refused" \
    "$DSYNC" -s "$T/r0" import "$T/b1"
expect_exit 1 "does not follow" "a gap in the chain is refused" \
    "$DSYNC" -s "$T/r0" import "$T/b0" "$T/b2"
expect_exit 1 "does not follow" "verify finds the gap" \
    "$DSYNC" verify "$T/b0" "$T/b2"
printf 'garbage' >"$T/junk"
expect_exit 1 "not a dsync backup" "a file of another kind" \
    "$DSYNC" -s "$T/r0" import "$T/junk"
expect_exit 2 "needs -m" "--uid without -m" \
    "$DSYNC" -s "$T/r0" -u alice import --uid 1 "$T/b0"

# truncated inside bob's section: alice (first) is whole
off=$("$DSYNC" export --list "$T/b0" >/dev/null; python3 - "$T/b0" <<'EOF'
import sys
d = open(sys.argv[1], 'rb').read()
# the USER frame of "bob": length, type 2, name
i = d.find(b'\x02\x03bob')
print(i + 4096)
EOF
)
head -c "$off" "$T/b0" >"$T/trunc"
expect_exit 1 "truncated|no trailer" "verify finds the truncation" \
    "$DSYNC" verify "$T/trunc"
rm -rf "$T/t"; "$DSYNC" -s "$T/t" init >/dev/null
expect_exit 1 "salvage" "import of a truncated file points to --salvage" \
    "$DSYNC" -s "$T/t" import "$T/trunc"
expect_exit 1 "damaged" "--salvage restores and says it was damaged" \
    "$DSYNC" -s "$T/t" import --salvage "$T/trunc"
diff <("$DSYNC" -s "$T/r0" -u alice dump) <("$DSYNC" -s "$T/t" -u alice dump) \
    >"$T/diff" || fail "salvaged alice differs: $(head "$T/diff")"
ok "the intact user is restored whole"

# one flipped byte in the middle of alice's bodies
cp "$T/b0" "$T/flip"
python3 - "$T/flip" <<'EOF'
import sys
p = sys.argv[1]
d = bytearray(open(p, 'rb').read())
i = d.find(b'\x02\x05alice') + 50000
d[i] ^= 0x40
open(p, 'wb').write(d)
EOF
expect_exit 1 "checksum" "verify finds the damaged block" "$DSYNC" verify "$T/flip"
rm -rf "$T/t2"; "$DSYNC" -s "$T/t2" init >/dev/null
expect_exit 1 "checksum" "import stops at the damaged block" \
    "$DSYNC" -s "$T/t2" import "$T/flip"
rm -rf "$T/t2"; "$DSYNC" -s "$T/t2" init >/dev/null
expect_exit 1 "damaged" "--salvage restores around the damage" \
    "$DSYNC" -s "$T/t2" import --salvage "$T/flip"
assert_stores_equal "$T/r0" "$T/t2" bob
a_src=$(grep -c '^  msg ' <("$DSYNC" -s "$T/r0" -u alice dump))
a_got=$(grep -c '^  msg ' <("$DSYNC" -s "$T/t2" -u alice dump))
[ "$a_got" -lt "$a_src" ] && [ "$a_got" -gt $((a_src - 20)) ] ||
	fail "salvaged alice has $a_got of $a_src messages"
ok "alice salvaged but the damaged block's messages ($a_got of $a_src)"

# a full disk or a dead output: no backup under the final name
expect_exit 1 "create" "export into a missing directory" \
    "$DSYNC" -s "$S" -A export -o "$T/nodir/x"
if [ -w /dev/full ]; then
	expect_exit 1 "write to stdout" "export to a full disk" \
	    sh -c "'$DSYNC' -s '$S' -A export >/dev/full"
fi
