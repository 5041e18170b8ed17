#!/bin/bash
# t1001-sync-basic: dsync sync and dsync backup between two stores through
# plain paths and local: (each spawns a `dsync server`): the first sync of
# fresh stores, changes on both sides, incremental re-syncs, conflicts of
# UIDs and names, mailbox deletes with unseen mail, backup reverting the
# destination, -A, --stats and usage errors.
set -eu
. ./lib.sh
A=$T/a B=$T/b
make_store "$A" alice
make_store "$B" alice
sync_ab() { "$DSYNC" sync -u alice "$@" "$A" "local:$B" >"$T/sync.out" 2>&1 || fail "sync: $(cat "$T/sync.out")"; }
save() { "$DSYNC" -s "$1" -u alice save "${@:3}" <"$2" >/dev/null; }
dump() { "$DSYNC" -s "$1" -u alice dump; }

for i in 1 2 3; do msg "a$i" >"$T/a$i"; msg "b$i" >"$T/b$i"; done
save "$A" "$T/a1" -f '\Seen'
save "$A" "$T/a2"
save "$B" "$T/b1" -f '\Flagged'
sync_ab
assert_stores_equal "$A" "$B" alice
assert_eq "both INBOXes merged into one with 3 messages" "$(status_field "$A" alice INBOX messages)" 3
assert_eq "one INBOX left" "$("$DSYNC" -s "$B" -u alice mailbox list | grep -c '^INBOX$')" 1

# Changes on both sides, then an incremental sync.
"$DSYNC" -s "$A" -u alice mailbox create Archive
"$DSYNC" -s "$A" -u alice flags add -m INBOX 1:* '$Work'
first=$("$DSYNC" -s "$B" -u alice fetch -m INBOX '1:*' guid | head -1 | cut -d' ' -f2)
"$DSYNC" -s "$B" -u alice expunge -m INBOX "$first"
"$DSYNC" -s "$B" -u alice metadata set /private/comment hello
"$DSYNC" -s "$B" -u alice mailbox subscribe Archive
"$DSYNC" -s "$A" -u alice acl set -m INBOX bob lr
sync_ab
assert_stores_equal "$A" "$B" alice
assert_eq "expunge replicated" "$(status_field "$A" alice INBOX messages)" 2
assert_eq "metadata replicated" "$("$DSYNC" -s "$A" -u alice metadata get /private/comment)" hello
assert_eq "acl replicated" "$("$DSYNC" -s "$B" -u alice acl list -m INBOX | grep bob)" "bob lr"

# Private flags: bob's \Seen on alice's INBOX is his own and replicates.
"$DSYNC" -s "$A" user add bob
"$DSYNC" -s "$A" -u bob flags add -m shared/alice/INBOX '1:*' '\Seen'
"$DSYNC" -s "$A" -u alice metadata set -m INBOX --uid "$("$DSYNC" -s "$A" -u alice fetch -m INBOX '1:*' guid | head -1 | cut -d' ' -f2)" /shared/note first
sync_ab
assert_stores_equal "$A" "$B" alice
"$DSYNC" -s "$B" -u alice dump | grep -q '^ *pvt bob ' || fail "bob's private flags did not replicate"
ok "private flags replicate"
"$DSYNC" -s "$B" -u alice dump | grep -q 'meta .* "/shared/note" "first"' || fail "message metadata did not replicate"
ok "message metadata replicates"

# A no-op re-sync moves almost nothing.
"$DSYNC" sync -u alice --stats "$A" "$B" >"$T/stats" || fail "sync --stats"
grep -Eq '^time: [0-9.]+ s$' "$T/stats" || fail "stats: $(cat "$T/stats")"
wire=$(awk '/^wire/ { s += $3 + $6 } END { print s }' "$T/stats")
[ "$wire" -lt 4096 ] || fail "no-op re-sync moved $wire bytes: $(cat "$T/stats")"
ok "no-op re-sync moves $wire bytes"
assert_stores_equal "$A" "$B" alice

# UID conflict: both sides save while apart.
save "$A" "$T/a3"
save "$B" "$T/b2"
uid_a=$("$DSYNC" -s "$A" -u alice mailbox status INBOX | awk '$1 == "uidnext" { print $2 }')
sync_ab
assert_stores_equal "$A" "$B" alice
assert_eq "both new messages kept" "$(status_field "$A" alice INBOX messages)" 4
n=$(dump "$A" | grep -c "msg $((uid_a - 1)) " || true)
assert_eq "the contested UID is retired" "$n" 0

# Flag conflict: the later change wins.
"$DSYNC" -s "$A" -u alice flags replace -m INBOX 1:* '\Answered'
sleep 0.01
"$DSYNC" -s "$B" -u alice flags replace -m INBOX 1:* '\Draft'
sync_ab
assert_stores_equal "$A" "$B" alice
dump "$A" | grep ' msg ' | grep -v 'flags (\\Draft)' && fail "older flag change won"
ok "the later flag change wins"

# A mailbox deleted on one side while mail arrived on the other.
"$DSYNC" -s "$A" -u alice mailbox create Tmp
sync_ab
save "$A" "$T/a1" -m Tmp
"$DSYNC" -s "$B" -u alice mailbox delete Tmp
sync_ab
assert_stores_equal "$A" "$B" alice
assert_eq "unseen mail keeps the deleted mailbox" "$(status_field "$B" alice Tmp messages)" 1
"$DSYNC" -s "$B" -u alice mailbox delete Tmp
sync_ab
assert_stores_equal "$A" "$B" alice
"$DSYNC" -s "$A" -u alice mailbox list | grep -qx Tmp && fail "Tmp came back"
ok "a delete that saw everything sticks"

# Same name created on both sides: one mailbox with the mail of both.
"$DSYNC" -s "$A" -u alice mailbox create Shared
"$DSYNC" -s "$B" -u alice mailbox create Shared
save "$A" "$T/a2" -m Shared
save "$B" "$T/b3" -m Shared
sync_ab
assert_stores_equal "$A" "$B" alice
assert_eq "names merged" "$(status_field "$A" alice Shared messages)" 2

# Renames on both sides: the later one wins.
"$DSYNC" -s "$A" -u alice mailbox rename Archive Old
sleep 0.01
"$DSYNC" -s "$B" -u alice mailbox rename Archive Older
sync_ab
assert_stores_equal "$A" "$B" alice
"$DSYNC" -s "$A" -u alice mailbox list | grep -qx Older || fail "later rename lost"
ok "the later rename wins"

# Backup: the destination becomes equal to the source, its changes gone.
C=$T/c
make_store "$C" alice
"$DSYNC" backup -u alice "$A" "$C" || fail "backup"
assert_stores_equal "$A" "$C" alice
"$DSYNC" -s "$C" -u alice mailbox create Junk
"$DSYNC" -s "$C" -u alice flags add -m INBOX 1:* '\Deleted'
"$DSYNC" -s "$C" -u alice metadata set /private/x y
"$DSYNC" -s "$C" -u alice mailbox rename Older Newer
"$DSYNC" backup -u alice "$A" "$C" || fail "second backup"
assert_stores_equal "$A" "$C" alice
ok "backup reverted the destination's own changes"
first=$("$DSYNC" -s "$C" -u alice fetch -m INBOX '1:*' guid | head -1 | cut -d' ' -f2)
"$DSYNC" -s "$C" -u alice expunge -m INBOX "$first"
"$DSYNC" backup -u alice "$A" "$C" 2>"$T/err" || fail "backup after an expunge"
grep -q "1 messages expunged in $C stay expunged there" "$T/err" || fail "no warning: $(cat "$T/err")"
ok "backup warns that a message expunged at the destination stays expunged"

# -A syncs every user of both sides.
"$DSYNC" -s "$A" user add carol
msg c1 | "$DSYNC" -s "$A" -u carol save >/dev/null
"$DSYNC" -s "$B" user add dave
"$DSYNC" sync -A "$A" "$B" || fail "sync -A"
assert_eq "users on b" "$("$DSYNC" -s "$B" user list | tr '\n' ' ')" "alice bob carol dave "
assert_stores_equal "$A" "$B" carol
assert_stores_equal "$A" "$B" dave

# Errors.
expect_exit 2 "needs -u USER or -A" "sync without a user" "$DSYNC" sync "$A" "$B"
expect_exit 2 "two locations" "sync with one location" "$DSYNC" sync -u alice "$A"
expect_exit 1 "same store" "sync of a store with itself" "$DSYNC" sync -u alice "$A" "local:$A"
expect_exit 1 "no user \"nobody\"" "backup of a missing user" "$DSYNC" backup -u nobody "$A" "$B"
expect_exit 1 "no dsync store" "a missing store" "$DSYNC" sync -u alice "$A" "$T/none"
"$DSYNC" -s "$A" check >/dev/null || fail "check a"
"$DSYNC" -s "$B" check >/dev/null || fail "check b"
ok "both stores check clean"

# More keywords in one mailbox than a store holds (64): the messages
# still arrive, and the loss of keywords is said, not silent.
K=$T/k1 L=$T/k2
make_store "$K" alice
make_store "$L" alice
msg kw1 | "$DSYNC" -s "$K" -u alice save >/dev/null
msg kw2 | "$DSYNC" -s "$L" -u alice save >/dev/null
"$DSYNC" -s "$K" -u alice flags add -m INBOX 1 $(for i in $(seq 1 40); do printf 'ka%d ' "$i"; done)
"$DSYNC" -s "$L" -u alice flags add -m INBOX 1 $(for i in $(seq 1 40); do printf 'kb%d ' "$i"; done)
expect_ok "sync with 80 keywords in one mailbox" "$DSYNC" sync -u alice "$K" "local:$L"
grep -q 'warning: mailbox "INBOX" has 64 keywords already' "$T/err" ||
	fail "no keyword warning: $(cat "$T/err")"
assert_eq "both messages on both sides" "$(status_field "$L" alice INBOX messages)" 2
