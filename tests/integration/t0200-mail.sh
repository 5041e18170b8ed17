#!/bin/bash
# t0200-mail: save, fetch, flags, expunge, copy, move, metadata, acl,
# private flags in shared and public mailboxes, dump and check.
set -eu
. ./lib.sh
S=$T/store
make_store "$S" alice bob

msg 1 >"$T/m1"
msg 2 >"$T/m2"
printf 'binary\0with NUL\r\nand \xff bytes\n' >"$T/m3"
out=$("$DSYNC" -s "$S" -u alice save -f '\Seen' -f '$Label1' -d 1700000000 <"$T/m1")
echo "$out" | grep -Eq '^uid 1 guid [0-9a-f]{32}$' || fail "save output '$out'"
ok "save prints uid and guid"
guid1=${out##* }
assert_eq "second save gets uid 2" "$("$DSYNC" -s "$S" -u alice save <"$T/m2" | cut -d' ' -f2)" 2
assert_eq "save of binary bytes" "$("$DSYNC" -s "$S" -u alice save <"$T/m3" | cut -d' ' -f2)" 3
"$DSYNC" -s "$S" -u alice fetch -m INBOX 3 body >"$T/got3"
cmp -s "$T/m3" "$T/got3" || fail "body of uid 3 is not byte-exact"
ok "bodies are stored byte-exact"
"$DSYNC" -s "$S" -u alice fetch -m INBOX 1 body | cmp -s - "$T/m1" || fail "body 1 differs"
ok "fetch body returns the raw message"

assert_eq "fetch fields" "$("$DSYNC" -s "$S" -u alice fetch -m INBOX 1 flags guid size date)" \
	"uid 1 flags (\\Seen \$Label1) guid $guid1 size $(wc -c <"$T/m1") date 1700000000"
assert_eq "fetch 2:* lists uid 2 and 3" "$("$DSYNC" -s "$S" -u alice fetch -m INBOX '2:*' guid | cut -d' ' -f2 | tr '\n' ' ')" "2 3 "
assert_eq "status counts" "$(status_field "$S" alice INBOX messages)/$(status_field "$S" alice INBOX unseen)/$(status_field "$S" alice INBOX uidnext)" "3/2/4"

expect_exit 1 "empty message" "save of an empty message" "$DSYNC" -s "$S" -u alice save </dev/null
expect_exit 1 "unknown mailbox" "save into a missing mailbox" "$DSYNC" -s "$S" -u alice save -m Nope <"$T/m1"
expect_exit 1 "unknown system flag" "save with a bad flag" "$DSYNC" -s "$S" -u alice save -f '\Bogus' <"$T/m1"
expect_exit 1 "invalid keyword" "save with an invalid keyword" "$DSYNC" -s "$S" -u alice save -f 'a(b' <"$T/m1"
expect_exit 2 "unix time" "save with a bad date" "$DSYNC" -s "$S" -u alice save -d yesterday <"$T/m1"
expect_exit 1 "unknown user" "save for an unknown user" "$DSYNC" -s "$S" -u nobody save <"$T/m1"
expect_exit 1 "invalid UID set '1:'" "bad UID set" "$DSYNC" -s "$S" -u alice fetch -m INBOX 1: guid
expect_exit 1 "invalid UID set" "UID 0" "$DSYNC" -s "$S" -u alice fetch -m INBOX 0 guid
expect_exit 2 "unknown fetch field" "bad fetch field" "$DSYNC" -s "$S" -u alice fetch -m INBOX 1 color
expect_exit 2 "can not be combined" "body with other fields" "$DSYNC" -s "$S" -u alice fetch -m INBOX 1 body flags
assert_eq "status unchanged by failed commands" "$(status_field "$S" alice INBOX messages)" 3

expect_ok "flags add" "$DSYNC" -s "$S" -u alice flags add -m INBOX 2:3 '\Flagged' Important
expect_ok "flags remove" "$DSYNC" -s "$S" -u alice flags remove -m INBOX 1:* '$Label1'
expect_ok "flags replace" "$DSYNC" -s "$S" -u alice flags replace -m INBOX 3 '\Answered' '\Seen'
assert_eq "flags after changes" "$("$DSYNC" -s "$S" -u alice fetch -m INBOX 1:* flags | tr '\n' ';')" \
	"uid 1 flags (\\Seen);uid 2 flags (\\Flagged Important);uid 3 flags (\\Seen \\Answered);"
expect_ok "flags on missing UIDs are skipped" "$DSYNC" -s "$S" -u alice flags add -m INBOX 100:200 '\Seen'
expect_exit 1 "unknown system flag" "flags with \\Recent" "$DSYNC" -s "$S" -u alice flags add -m INBOX 1 '\Recent'
expect_exit 2 "usage" "flags without a mode" "$DSYNC" -s "$S" -u alice flags -m INBOX 1 '\Seen'

ms1=$(status_field "$S" alice INBOX highestmodseq)
expect_ok "expunge" "$DSYNC" -s "$S" -u alice expunge -m INBOX 2
ms2=$(status_field "$S" alice INBOX highestmodseq)
[ "$ms2" -gt "$ms1" ] || fail "expunge did not raise HIGHESTMODSEQ ($ms1 -> $ms2)"
ok "expunge raises HIGHESTMODSEQ"
assert_eq "expunged message is gone" "$("$DSYNC" -s "$S" -u alice fetch -m INBOX 1:* guid | cut -d' ' -f2 | tr '\n' ' ')" "1 3 "
assert_eq "UIDs are never reused" "$("$DSYNC" -s "$S" -u alice save <"$T/m2" | cut -d' ' -f2)" 4

"$DSYNC" -s "$S" -u alice mailbox create Archive
expect_ok "copy" "$DSYNC" -s "$S" -u alice copy -m INBOX 1 Archive
assert_eq "copy keeps the GUID" "$("$DSYNC" -s "$S" -u alice fetch -m Archive 1 guid)" "uid 1 guid $guid1"
expect_ok "move" "$DSYNC" -s "$S" -u alice move -m INBOX 3:4 Archive
assert_eq "move leaves the source" "$(status_field "$S" alice INBOX messages)" 1
assert_eq "move fills the destination" "$("$DSYNC" -s "$S" -u alice fetch -m Archive 1:* flags | tr '\n' ';')" \
	"uid 1 flags (\\Seen);uid 2 flags (\\Seen \\Answered);uid 3 flags ();"
"$DSYNC" -s "$S" -u alice fetch -m Archive 2 body | cmp -s - "$T/m3" || fail "moved body differs"
ok "moved body is intact"
expect_ok "copy within one mailbox" "$DSYNC" -s "$S" -u alice copy -m Archive 1 Archive
assert_eq "copy within one mailbox appends" "$("$DSYNC" -s "$S" -u alice fetch -m Archive 4 guid)" "uid 4 guid $guid1"
expect_exit 1 "unknown mailbox" "copy to a missing mailbox" "$DSYNC" -s "$S" -u alice copy -m INBOX 1 Nope

expect_ok "metadata set server" "$DSYNC" -s "$S" -u alice metadata set /private/vendor/x "v 1"
expect_ok "metadata set mailbox" "$DSYNC" -s "$S" -u alice metadata set -m Archive /shared/comment "arch"
expect_ok "metadata set message" "$DSYNC" -s "$S" -u alice metadata set -m Archive --uid 1 /private/note "n1"
assert_eq "metadata get" "$("$DSYNC" -s "$S" -u alice metadata get /private/vendor/x)" "v 1"
assert_eq "metadata keys are case-insensitive" "$("$DSYNC" -s "$S" -u alice metadata get -m Archive /Shared/Comment)" "arch"
assert_eq "metadata list" "$("$DSYNC" -s "$S" -u alice metadata list -m Archive)" '/shared/comment "arch"'
assert_eq "message metadata" "$("$DSYNC" -s "$S" -u alice metadata get -m Archive --uid 1 /private/note)" "n1"
expect_ok "metadata unset" "$DSYNC" -s "$S" -u alice metadata unset /private/vendor/x
expect_exit 1 "no metadata key" "get after unset" "$DSYNC" -s "$S" -u alice metadata get /private/vendor/x
expect_exit 1 "must start with" "key outside /private and /shared" "$DSYNC" -s "$S" -u alice metadata set /foo x
expect_exit 1 "invalid character" "key with a wildcard" "$DSYNC" -s "$S" -u alice metadata set '/private/a*' x
expect_exit 1 "no message with UID 99" "metadata on a missing message" "$DSYNC" -s "$S" -u alice metadata set -m Archive --uid 99 /private/x y

expect_ok "acl set" "$DSYNC" -s "$S" -u alice acl set -m Archive bob rlsw
expect_ok "acl set anyone" "$DSYNC" -s "$S" -u alice acl set -m Archive anyone l
assert_eq "acl list canonical" "$("$DSYNC" -s "$S" -u alice acl list -m Archive | tr '\n' ';')" "anyone l;bob lrsw;"
expect_exit 1 "invalid ACL right 'z'" "bad right" "$DSYNC" -s "$S" -u alice acl set -m Archive bob rz
expect_exit 1 "invalid ACL identifier" "bad identifier" "$DSYNC" -s "$S" -u alice acl set -m Archive 'a b' r
expect_ok "acl delete" "$DSYNC" -s "$S" -u alice acl delete -m Archive anyone
expect_exit 1 "no ACL entry" "acl delete missing" "$DSYNC" -s "$S" -u alice acl delete -m Archive anyone

# private flags: bob's \Seen on alice's mailbox is his own
expect_ok "bob marks a shared message seen" "$DSYNC" -s "$S" -u bob flags add -m shared/alice/Archive 3 '\Seen' '\Flagged'
assert_eq "bob sees his \\Seen" "$("$DSYNC" -s "$S" -u bob fetch -m shared/alice/Archive 3 flags)" "uid 3 flags (\\Seen \\Flagged)"
assert_eq "alice keeps her flags; \\Flagged is shared" "$("$DSYNC" -s "$S" -u alice fetch -m Archive 3 flags)" "uid 3 flags (\\Flagged)"
assert_eq "bob's unseen count is his own (3 of 4 unread for him)" "$(status_field "$S" bob shared/alice/Archive unseen)" 3
assert_eq "alice's unseen count is hers" "$(status_field "$S" alice Archive unseen)" 1
"$DSYNC" -s "$S" -u alice dump | grep -q '^  pvt bob 3 (\\Seen)$' || fail "pvt flags missing from dump"
ok "private flags are in the dump"
expect_exit 1 "unknown user" "shared mailbox of an unknown owner" "$DSYNC" -s "$S" -u bob fetch -m shared/zed/INBOX 1 guid

expect_ok "create a public mailbox" "$DSYNC" -s "$S" -u alice mailbox create public/News
"$DSYNC" -s "$S" -u alice save -m public/News <"$T/m1" >/dev/null
expect_ok "alice reads public mail" "$DSYNC" -s "$S" -u alice flags add -m public/News 1 '\Seen'
assert_eq "bob's public \\Seen is separate" "$("$DSYNC" -s "$S" -u bob fetch -m public/News 1 flags)" "uid 1 flags ()"
"$DSYNC" -s "$S" -u alice mailbox list | grep -qx 'public/News' || fail "public mailbox not listed"
ok "public mailboxes are listed"

"$DSYNC" -s "$S" -u alice dump >"$T/d1"
"$DSYNC" -s "$S" -u alice dump >"$T/d2"
cmp -s "$T/d1" "$T/d2" || fail "dump is not stable"
ok "dump is stable"
grep -q modseq "$T/d1" && fail "dump contains modseqs"
ok "dump has no node-local modseqs"
assert_eq "dump -A covers all users" "$("$DSYNC" -s "$S" -A dump | grep -c '^user ')" 2

# the snapshot is a cache: deleting it changes nothing
rm -f "$S"/users/alice/index
"$DSYNC" -s "$S" -u alice dump | cmp -s - "$T/d1" || fail "dump differs after dropping the snapshot"
ok "state rebuilds from the log alone"
expect_ok "check is clean" "$DSYNC" -s "$S" check

# a body lost from the blob store is damage that check reports
seg=$(ls "$S"/blobs/seg | head -1)
cp "$S/blobs/seg/$seg" "$T/seg.bak"
printf 'XXXX' | dd of="$S/blobs/seg/$seg" bs=1 seek=60 conv=notrunc 2>/dev/null
expect_exit 1 "problem" "check finds a damaged body" "$DSYNC" -s "$S" check
expect_exit 1 "does not match its hash|damaged" "fetch of a damaged body fails cleanly" "$DSYNC" -s "$S" -u alice fetch -m INBOX 1 body
cp "$T/seg.bak" "$S/blobs/seg/$seg"
expect_ok "check clean after restoring the segment" "$DSYNC" -s "$S" check

# a log restored from an older copy: the newer snapshot must not be used
"$DSYNC" -s "$S" -u bob dump >"$T/bob-old"
cp "$S/users/bob/log" "$T/bob-log"
"$DSYNC" -s "$S" -u bob mailbox create Later
"$DSYNC" -s "$S" -u bob save -m Later <"$T/m1" >/dev/null
"$DSYNC" -s "$S" check --repair >/dev/null	# writes a snapshot of the newer log
[ -f "$S/users/bob/index" ] || fail "no snapshot after check --repair"
cp "$T/bob-log" "$S/users/bob/log"
"$DSYNC" -s "$S" -u bob dump | cmp -s - "$T/bob-old" || fail "a snapshot of another log was used"
ok "a snapshot of another log is ignored"
expect_exit 1 "not of this log" "check reports the foreign snapshot" "$DSYNC" -s "$S" check
expect_ok "check --repair drops it" "$DSYNC" -s "$S" check --repair
expect_ok "check is clean again" "$DSYNC" -s "$S" check
