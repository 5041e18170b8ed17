#!/bin/bash
# t1002-sync-merge: two live mailboxes with one name merge into one, and a
# third store that has not learned of the merge keeps working on the
# merged-away mailbox: its expunge reaches the moved copy (no
# resurrection), its flag change and its new message arrive in the merged
# mailbox (no loss), and every store ends with the same dump.
set -eu
. ./lib.sh
A=$T/a B=$T/b C=$T/c
for s in "$A" "$B" "$C"; do make_store "$s" alice; done
sync2() { "$DSYNC" sync -u alice "$1" "local:$2" >"$T/sync.out" 2>&1 || fail "sync $1 $2: $(cat "$T/sync.out")"; }
save() { "$DSYNC" -s "$1" -u alice save -m "$2" <"$3" | awk '{ print $4 }'; }
guids() { "$DSYNC" -s "$1" -u alice fetch -m "$2" '1:*' guid | awk '{ print $4 }' | sort | tr '\n' ' '; }
flags_of() { "$DSYNC" -s "$1" -u alice fetch -m "$2" '1:*' guid flags | awk -v g="$3" '$4 == g { print $6 }'; }
for i in x1 z1 z2 z3 z4; do msg "$i" >"$T/$i"; done

"$DSYNC" -s "$A" -u alice mailbox create X
x1=$(save "$A" X "$T/x1")
sync2 "$A" "$B"
sync2 "$A" "$C"

# A renames X to Z while B creates a new Z (another identity) with mail,
# which C learns from B.
"$DSYNC" -s "$A" -u alice mailbox rename X Z
sleep 0.01
"$DSYNC" -s "$B" -u alice mailbox create Z
z1=$(save "$B" Z "$T/z1")
z2=$(save "$B" Z "$T/z2")
z3=$(save "$B" Z "$T/z3")
sync2 "$B" "$C"

# A and B meet: the later-created Z merges into the renamed X.
sync2 "$A" "$B"
assert_stores_equal "$A" "$B" alice
assert_eq "merged mailbox holds the mail of both" "$(guids "$A" Z)" \
	"$(printf '%s\n' "$x1" "$z1" "$z2" "$z3" | sort | tr '\n' ' ')"
assert_eq "one Z left" "$("$DSYNC" -s "$A" -u alice mailbox list | tr '\n' ' ')" "INBOX Z "

# C has not heard of the merge: it expunges z1, flags z2 and saves z4 in
# its Z (the merged-away one), then meets A.
uid1=$("$DSYNC" -s "$C" -u alice fetch -m Z '1:*' guid | awk -v g="$z1" '$4 == g { print $2 }')
"$DSYNC" -s "$C" -u alice expunge -m Z "$uid1"
uid2=$("$DSYNC" -s "$C" -u alice fetch -m Z '1:*' guid | awk -v g="$z2" '$4 == g { print $2 }')
"$DSYNC" -s "$C" -u alice flags add -m Z "$uid2" '\Flagged'
z4=$(save "$C" Z "$T/z4")
sync2 "$C" "$A"
assert_stores_equal "$A" "$C" alice
want=$(printf '%s\n' "$x1" "$z2" "$z3" "$z4" | sort | tr '\n' ' ')
assert_eq "expunge followed the copy, new mail moved in" "$(guids "$A" Z)" "$want"
assert_eq "the flag change reached the copy" "$(flags_of "$A" Z "$z2")" '(\Flagged)'
assert_eq "the merged-away mailbox is gone on C" "$("$DSYNC" -s "$C" -u alice mailbox list | tr '\n' ' ')" "INBOX Z "

# Everyone meets; nothing comes back, nothing doubles.
sync2 "$B" "$C"
sync2 "$A" "$B"
sync2 "$C" "$A"
assert_stores_equal "$A" "$B" alice
assert_stores_equal "$A" "$C" alice
assert_eq "converged on the same four messages" "$(guids "$B" Z)" "$want"
for s in "$A" "$B" "$C"; do
	"$DSYNC" -s "$s" -u alice dump | grep -q "guid $z1" && fail "z1 came back on $s"
	"$DSYNC" -s "$s" check >/dev/null || fail "check of $s"
done
ok "no resurrection, stores check clean"

# Idempotent: another round changes nothing.
before=$("$DSYNC" -s "$A" -u alice dump)
sync2 "$A" "$B"
sync2 "$B" "$C"
assert_eq "a second round changes nothing" "$("$DSYNC" -s "$C" -u alice dump)" "$before"
