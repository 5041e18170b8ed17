#!/bin/bash
# t0100-admin: store, user and mailbox administration, and their errors.
set -eu
. ./lib.sh
S=$T/store

expect_ok "init creates a store" "$DSYNC" -s "$S" init
expect_exit 1 "store exists" "init refuses an existing store" "$DSYNC" -s "$S" init
expect_exit 1 "no dsync store" "a missing store is an error" "$DSYNC" -s "$T/nope" user list
expect_exit 2 "no store given" "no -s and no config is a usage error" "$DSYNC" -c /dev/null user list
expect_exit 2 "unknown command" "unknown command" "$DSYNC" -s "$S" frobnicate

expect_ok "user add" "$DSYNC" -s "$S" user add alice bob carol@example.com
expect_exit 1 "exists" "user add twice" "$DSYNC" -s "$S" user add alice
expect_exit 1 "invalid" "user name with a slash" "$DSYNC" -s "$S" user add 'a/b'
expect_exit 1 "must not start" "user name starting with a dot" "$DSYNC" -s "$S" user add .hidden
assert_eq "user list is sorted" "$("$DSYNC" -s "$S" user list | tr '\n' ' ')" "alice bob carol@example.com "
expect_ok "user del" "$DSYNC" -s "$S" user del bob
expect_exit 1 "unknown user 'bob'" "user del of a missing user" "$DSYNC" -s "$S" user del bob
expect_exit 1 "unknown user 'bob'" "commands on a deleted user" "$DSYNC" -s "$S" -u bob mailbox list

assert_eq "a new user has INBOX" "$("$DSYNC" -s "$S" -u alice mailbox list)" "INBOX"
expect_ok "mailbox create" "$DSYNC" -s "$S" -u alice mailbox create Archive Archive/2024 "Ärger" Lists
expect_ok "-u after the command" "$DSYNC" -s "$S" mailbox -u alice create Sent2
expect_ok "create with special-use" "$DSYNC" -s "$S" -u alice mailbox create --special-use '\Sent' Sent
assert_eq "mailbox list sorted" "$("$DSYNC" -s "$S" -u alice mailbox list | tr '\n' ' ')" "Archive Archive/2024 INBOX Lists Sent Sent2 Ärger "
expect_exit 1 "exists" "create existing" "$DSYNC" -s "$S" -u alice mailbox create Archive
expect_exit 1 "exists" "create inbox in another case" "$DSYNC" -s "$S" -u alice mailbox create inbox
expect_exit 1 "empty component" "create a//b" "$DSYNC" -s "$S" -u alice mailbox create 'a//b'
expect_exit 1 "'\.' or '\.\.'" "create .." "$DSYNC" -s "$S" -u alice mailbox create 'a/../b'
expect_exit 1 "control character" "control character in name" "$DSYNC" -s "$S" -u alice mailbox create "$(printf 'a\tb')"
expect_exit 1 "not valid UTF-8" "invalid UTF-8" "$DSYNC" -s "$S" -u alice mailbox create "$(printf 'a\xffb')"
expect_exit 1 "longer than" "over-long name" "$DSYNC" -s "$S" -u alice mailbox create "$(head -c 1001 /dev/zero | tr '\0' x)"
expect_exit 1 "unknown special-use" "bad special-use" "$DSYNC" -s "$S" -u alice mailbox create --special-use '\Bogus' X
expect_exit 2 "needs -u" "mailbox list without -u" "$DSYNC" -s "$S" mailbox list

uv=$(status_field "$S" alice Archive uidvalidity)
expect_ok "rename with children" "$DSYNC" -s "$S" -u alice mailbox rename Archive Old
assert_eq "children follow a rename" "$("$DSYNC" -s "$S" -u alice mailbox list | grep ^Old | tr '\n' ' ')" "Old Old/2024 "
assert_eq "rename keeps uidvalidity" "$(status_field "$S" alice Old uidvalidity)" "$uv"
expect_exit 1 "exists" "rename onto existing" "$DSYNC" -s "$S" -u alice mailbox rename Old Lists
expect_exit 1 "unknown mailbox" "rename missing" "$DSYNC" -s "$S" -u alice mailbox rename Nope X
expect_exit 1 "can not rename" "rename under itself" "$DSYNC" -s "$S" -u alice mailbox rename Old Old/x
expect_exit 1 "has children" "delete with children" "$DSYNC" -s "$S" -u alice mailbox delete Old
expect_exit 1 "INBOX can not be deleted" "delete INBOX" "$DSYNC" -s "$S" -u alice mailbox delete INBOX
expect_ok "delete leaf then parent" "$DSYNC" -s "$S" -u alice mailbox delete Old/2024 Old
expect_exit 1 "unknown mailbox" "delete missing" "$DSYNC" -s "$S" -u alice mailbox delete Old
expect_ok "re-create a deleted name" "$DSYNC" -s "$S" -u alice mailbox create Old
[ "$(status_field "$S" alice Old uidvalidity)" != "$uv" ] || fail "re-created mailbox reuses UIDVALIDITY $uv"
ok "a re-created mailbox gets a new UIDVALIDITY"

expect_ok "subscribe" "$DSYNC" -s "$S" -u alice mailbox subscribe INBOX Lists NotYet
expect_ok "unsubscribe" "$DSYNC" -s "$S" -u alice mailbox unsubscribe NotYet
"$DSYNC" -s "$S" -u alice dump | grep -q '^subscribed "Lists"$' || fail "dump lacks subscription"
"$DSYNC" -s "$S" -u alice dump | grep -q 'NotYet' && fail "unsubscribed name still in dump"
ok "subscriptions show in dump"

expect_ok "mailbox set private-flags" "$DSYNC" -s "$S" -u alice mailbox set Lists private-flags '\Seen \Flagged'
"$DSYNC" -s "$S" -u alice dump | grep -q '^mailbox "Lists" .*private-flags (\\Seen \\Flagged)$' || fail "private-flags not in dump"
ok "private-flags setting shows in dump"
expect_exit 1 "only system flags" "keyword as private flag" "$DSYNC" -s "$S" -u alice mailbox set Lists private-flags 'Junk'
expect_exit 1 "unknown mailbox setting" "unknown setting" "$DSYNC" -s "$S" -u alice mailbox set Lists color red

status=$("$DSYNC" -s "$S" -u alice mailbox status INBOX)
for k in messages unseen uidnext uidvalidity highestmodseq guid size; do
	echo "$status" | grep -q "^$k " || fail "status lacks $k"
done
ok "mailbox status prints every field"
expect_exit 1 "unknown mailbox" "status of missing mailbox" "$DSYNC" -s "$S" -u alice mailbox status Nope

cat >"$T/conf" <<CONF
# comment
store = $S
peer beta {
  url = ssh://beta/var/lib/dsync
}
CONF
assert_eq "store from the config file" "$("$DSYNC" -c "$T/conf" user list | head -1)" "alice"
assert_eq "config -n shows changed settings" "$("$DSYNC" -c "$T/conf" config -n | head -1)" "store = $S"
echo "bogus = 1" >>"$T/conf"
expect_exit 1 "conf:6: unknown setting 'bogus'" "unknown config key names file and line" "$DSYNC" -c "$T/conf" user list
expect_exit 1 "No such file" "missing config file" "$DSYNC" -c "$T/missing.conf" user list

expect_ok "check of a clean store" "$DSYNC" -s "$S" check
