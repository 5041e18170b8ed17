#!/bin/bash
# t0300-maildir: import of a hand-made Maildir++ tree (dovecot-uidlist UIDs
# and UIDVALIDITY, keywords, flags, folders with modified UTF-7 names,
# subscriptions), re-import, export and round trip, and bad input.
set -eu
. ./lib.sh
S=$T/store
M=$T/Maildir

# put DIR NAME MTIME TEXT: a message file with a given mtime
put() {
	mkdir -p "$1"
	printf '%b' "$4" >"$1/$2"
	touch -d "@$3" "$1/$2"
}
# dump without what can not survive a Maildir trip: instances (new saves)
# and save dates (Dovecot's is the file's ctime)
dump_portable() {
	"$DSYNC" -s "$1" -u "$2" dump | sed -E 's/ instance [^ ]+//; s/ sdate [0-9-]+//'
}

# ---- the tree ----
mkdir -p "$M/cur" "$M/new" "$M/tmp"
cat >"$M/dovecot-uidlist" <<'EOF'
3 V1234567 N20 G0123456789abcdef0123456789abcdef X1
3 :1000.M1P1.host,S=40
5 G00112233445566778899aabbccddeeff W9 :1001.M2P1.host
9 :1002.M3P1.host
12 :1003.M4P1.gone
EOF
printf '0 $Label1\n2 NonJunk\n' >"$M/dovecot-keywords"
put "$M/cur" '1000.M1P1.host,S=40:2,S' 1600000000 'Subject: one\n\nfirst message\n'
put "$M/cur" '1001.M2P1.host:2,FRa' 1600000100 'Subject: two\r\n\r\nCRLF body\r\n'
put "$M/cur" '1002.M3P1.host:2,Tc' 1600000200 'Subject: three\n\nbinary \x01\x02\xff end'
# not in the uidlist: gets NEXTUID (20)
put "$M/new" '1004.M5P1.host' 1600000300 'Subject: new\n\nunseen\n'
put "$M/cur" '.hidden' 1600000300 'not a message'
mkdir -p "$M/.Sent/cur" "$M/.Sent/new"
printf '3 V1234568 N3\n2 :2000.M1P1.host\n' >"$M/.Sent/dovecot-uidlist"
put "$M/.Sent/cur" '2000.M1P1.host:2,S' 1600001000 'Subject: sent\n\nout\n'
mkdir -p "$M/.Projects.&AMQ-rger/cur"
put "$M/.Projects.&AMQ-rger/cur" '3000.M1P1.host:2,' 1600002000 'Subject: umlaut\n\n\xc3\xa4\n'
mkdir -p "$M/.Lists.debian/new"
put "$M/.Lists.debian/new" '4000.M1P1.host' 1600003000 'Subject: list\n\nx\n'
printf 'V\t2\n\nINBOX\nProjects\t&AMQ-rger\nSent\n' >"$M/subscriptions"

make_store "$S" alice >/dev/null
expect_ok "import maildir" "$DSYNC" -s "$S" -u alice import maildir "$M"
assert_eq "summary line" "$(cat "$T/out")" "imported 7 messages into 4 mailboxes"

assert_eq "mailbox list with decoded names" \
	"$("$DSYNC" -s "$S" -u alice mailbox list | tr '\n' ' ')" \
	"INBOX Lists/debian Projects/Ärger Sent "
assert_eq "INBOX keeps UIDVALIDITY" "$(status_field "$S" alice INBOX uidvalidity)" 1234567
assert_eq "INBOX keeps mailbox GUID" "$(status_field "$S" alice INBOX guid)" \
	0123456789abcdef0123456789abcdef
assert_eq "unlisted message got NEXTUID" "$(status_field "$S" alice INBOX uidnext)" 21
assert_eq "UIDs, flags and keywords" \
	"$("$DSYNC" -s "$S" -u alice fetch -m INBOX 1:* flags)" \
	"uid 3 flags (\\Seen)
uid 5 flags (\\Answered \\Flagged \$Label1)
uid 9 flags (\\Deleted NonJunk)
uid 20 flags ()"
assert_eq "internal date is the mtime" \
	"$("$DSYNC" -s "$S" -u alice fetch -m INBOX 1:* date | awk '{print $4}' | tr '\n' ' ')" \
	"1600000000 1600000100 1600000200 1600000300 "
assert_eq "GUID from the uidlist G field" \
	"$("$DSYNC" -s "$S" -u alice fetch -m INBOX 5 guid)" \
	"uid 5 guid 00112233445566778899aabbccddeeff"
for u in 3:'1000.M1P1.host,S=40:2,S' 5:'1001.M2P1.host:2,FRa' 9:'1002.M3P1.host:2,Tc'; do
	"$DSYNC" -s "$S" -u alice fetch -m INBOX "${u%%:*}" body >"$T/body"
	cmp -s "$T/body" "$M/cur/${u#*:}" || fail "body of uid ${u%%:*} differs"
done
ok "bodies are byte-exact (LF, CRLF, binary)"
assert_eq "Sent keeps its UIDVALIDITY" "$(status_field "$S" alice Sent uidvalidity)" 1234568
"$DSYNC" -s "$S" -u alice dump >"$T/dump1"
grep -q '^mailbox "Sent" .* special-use \\Sent ' "$T/dump1" || fail "Sent lacks \\Sent"
grep -q '^mailbox "INBOX" .* special-use - ' "$T/dump1" || fail "INBOX got a special-use"
ok "special-use from folder names"
assert_eq "subscriptions" "$(grep '^subscribed' "$T/dump1" | tr '\n' ' ')" \
	'subscribed "INBOX" subscribed "Projects/Ärger" subscribed "Sent" '
expect_ok "store checks clean" "$DSYNC" -s "$S" check

# ---- importing again adds nothing; later mail and flag changes come in ----
expect_ok "import again" "$DSYNC" -s "$S" -u alice import maildir "$M"
assert_eq "second import adds nothing" "$(head -1 "$T/out")" "imported 0 messages into 4 mailboxes"
"$DSYNC" -s "$S" -u alice dump | diff - "$T/dump1" >/dev/null || fail "re-import changed the store"
ok "re-import leaves the store as it was"
mv "$M/cur/1000.M1P1.host,S=40:2,S" "$M/cur/1000.M1P1.host,S=40:2,FS"
put "$M/new" '1005.M6P1.host' 1600000400 'Subject: later\n\nlate\n'
"$DSYNC" -s "$S" -u alice expunge -m INBOX 9 >/dev/null
expect_ok "incremental import" "$DSYNC" -s "$S" -u alice import maildir "$M"
assert_eq "only the new message" "$(head -1 "$T/out")" "imported 1 messages into 4 mailboxes"
assert_eq "flags brought up to date, expunged stays expunged, new UID" \
	"$("$DSYNC" -s "$S" -u alice fetch -m INBOX 1:* flags | tr '\n' ' ')" \
	'uid 3 flags (\Seen \Flagged) uid 5 flags (\Answered \Flagged $Label1) uid 20 flags () uid 21 flags () '

# ---- into a used mailbox with another UIDVALIDITY: appended ----
S2=$T/store2
make_store "$S2" bob >/dev/null
msg 1 | "$DSYNC" -s "$S2" -u bob save >/dev/null
uv=$(status_field "$S2" bob INBOX uidvalidity)
expect_ok "import into a used INBOX" "$DSYNC" -s "$S2" -u bob import maildir "$M"
grep -q "new messages get new UIDs" "$T/err" || fail "no warning about new UIDs"
assert_eq "used INBOX keeps its UIDVALIDITY" "$(status_field "$S2" bob INBOX uidvalidity)" "$uv"
assert_eq "messages appended after the existing one" \
	"$("$DSYNC" -s "$S2" -u bob fetch -m INBOX 1:* flags | awk '{print $2}' | tr '\n' ' ')" \
	"1 2 3 4 5 6 "
expect_ok "appending again skips known GUIDs" "$DSYNC" -s "$S2" -u bob import maildir "$M"
assert_eq "nothing appended twice" "$(head -1 "$T/out")" "imported 0 messages into 4 mailboxes"

# ---- export and round trip ----
E=$T/export
expect_ok "export maildir" "$DSYNC" -s "$S" -u alice export maildir "$E"
assert_eq "export summary" "$(cat "$T/out")" "exported 7 messages from 4 mailboxes"
[ -d "$E/cur" ] && [ -d "$E/.Projects.&AMQ-rger/cur" ] && [ -d "$E/.Lists.debian/new" ] ||
	fail "export layout: $(ls -a "$E")"
[ -f "$E/.Sent/maildirfolder" ] || fail "no maildirfolder in .Sent"
ok "Maildir++ layout with modified UTF-7 folder names"
assert_eq "uidlist header" "$(head -1 "$E/dovecot-uidlist")" \
	"3 V1234567 N22 G0123456789abcdef0123456789abcdef"
grep -q '^5 G00112233445566778899aabbccddeeff :' "$E/dovecot-uidlist" || fail "uidlist lacks G"
ok "uidlist lines carry GUIDs"
f=$(ls "$E/cur" | grep '\.M5P')
case "$f" in *,S=*,W=*:2,FRa) ;; *) fail "file name of uid 5: $f" ;; esac
assert_eq "file mtime is the internal date" "$(stat -c %Y "$E/cur/$f")" 1600000100
assert_eq "dovecot-keywords" "$(cat "$E/dovecot-keywords")" '0 $Label1'
printf 'V\t2\n\nINBOX\nProjects\t&AMQ-rger\nSent\n' | cmp -s - "$E/subscriptions" ||
	fail "subscriptions file: $(cat -A "$E/subscriptions")"
ok "subscriptions file"
S3=$T/store3
make_store "$S3" alice >/dev/null
expect_ok "import the export" "$DSYNC" -s "$S3" -u alice import maildir "$E"
diff <(dump_portable "$S" alice) <(dump_portable "$S3" alice) >"$T/diff" ||
	fail "round trip differs: $(head -20 "$T/diff")"
ok "round trip: dumps equal but for instances and save dates"

# names Maildir++ can not hold as such survive too: '.' in a name,
# keywords, private flags, a special-use on another name, an empty mailbox
"$DSYNC" -s "$S3" -u alice mailbox create v1.2 'a\b' Empty >/dev/null
"$DSYNC" -s "$S3" -u alice mailbox set v1.2 special-use '\Archive'
"$DSYNC" -s "$S3" -u alice mailbox set Sent special-use ''
"$DSYNC" -s "$S3" -u alice mailbox set Empty private-flags '\Seen \Flagged'
msg 2 | "$DSYNC" -s "$S3" -u alice save -m v1.2 -f '\Draft' -f 'Kw1' -d 1500000000 >/dev/null
expect_ok "export again" "$DSYNC" -s "$S3" -u alice export maildir "$T/export2"
[ -d "$T/export2/.v1\\2e2" ] || fail "'.' not escaped: $(ls -a "$T/export2")"
ok "a '.' in a name is written as listescape's \\2e"
S4=$T/store4
make_store "$S4" alice >/dev/null
expect_ok "import again" "$DSYNC" -s "$S4" -u alice import maildir "$T/export2"
diff <(dump_portable "$S3" alice) <(dump_portable "$S4" alice) >"$T/diff" ||
	fail "second round trip differs: $(head -20 "$T/diff")"
ok "second round trip equal"

expect_exit 1 "exists and is not empty" "export into a non-empty directory" \
	"$DSYNC" -s "$S" -u alice export maildir "$E"

# ---- bad input: one line, exit 1, nothing stored ----
B=$T/bad
mkdir -p "$B/notmaildir"
expect_exit 1 "is not a Maildir" "a directory that is no Maildir" \
	"$DSYNC" -s "$S" -u alice import maildir "$B/notmaildir"
expect_exit 1 "No such file" "a missing directory" \
	"$DSYNC" -s "$S" -u alice import maildir "$B/nope"
expect_exit 2 "usage" "import without a directory" "$DSYNC" -s "$S" -u alice import maildir
expect_exit 1 "unknown user" "an unknown user" "$DSYNC" -s "$S" -u nobody import maildir "$M"

S5=$T/store5
make_store "$S5" carol >/dev/null
"$DSYNC" -s "$S5" -u carol dump >"$T/before"
mkdir -p "$B/uidlist/cur" "$B/uidlist/.F/cur"
put "$B/uidlist/cur" '1.M1P1.h:2,S' 1600000000 'Subject: a\n\na\n'
printf '3 V7 N9\n5 :1.M1P1.h\n3 :2.M1P1.h\n' >"$B/uidlist/.F/dovecot-uidlist"
expect_exit 1 "'.*/\\.F/dovecot-uidlist': line 3: UID 3 is not above" \
	"a broken dovecot-uidlist is reported with its line" \
	"$DSYNC" -s "$S5" -u carol import maildir "$B/uidlist"
"$DSYNC" -s "$S5" -u carol dump | diff - "$T/before" >/dev/null || fail "broken uidlist stored something"
ok "nothing stored from a tree with a broken uidlist"
printf '3 V7 N9\n5 :1.M1P1.h\n' >"$B/uidlist/.F/dovecot-uidlist"
printf '0 a\n26 b\n' >"$B/uidlist/dovecot-keywords"
expect_exit 1 "dovecot-keywords': line 2: keyword index 26" "a broken dovecot-keywords" \
	"$DSYNC" -s "$S5" -u carol import maildir "$B/uidlist"
rm "$B/uidlist/dovecot-keywords"
mkdir -p "$B/uidlist/.&Jjo/cur"
expect_exit 1 "invalid modified UTF-7" "an undecodable folder name" \
	"$DSYNC" -s "$S5" -u carol import maildir "$B/uidlist"
rmdir "$B/uidlist/.&Jjo/cur" "$B/uidlist/.&Jjo"
mkdir -p "$B/uidlist/.INBOX/cur"
expect_exit 1 "would be INBOX" "a folder named INBOX" \
	"$DSYNC" -s "$S5" -u carol import maildir "$B/uidlist"
rmdir "$B/uidlist/.INBOX/cur" "$B/uidlist/.INBOX"
# a planted link must not copy someone else's file into the mailbox
ln -s /etc/passwd "$B/uidlist/cur/2.M1P1.h:2,S"
expect_exit 1 "is a symbolic link, which import does not follow" "a symbolic link is not followed" \
	"$DSYNC" -s "$S5" -u carol import maildir "$B/uidlist"
"$DSYNC" -s "$S5" -u carol dump | grep -q '^  msg' && fail "messages stored despite the error"
ok "the failed batch stored no message"
rm "$B/uidlist/cur/2.M1P1.h:2,S"
ln -s "$M/.Sent" "$B/uidlist/.Linked"
expect_ok "a linked folder is skipped" "$DSYNC" -s "$S5" -u carol import maildir "$B/uidlist"
"$DSYNC" -s "$S5" -u carol mailbox list | grep -q Linked && fail "linked folder imported"
assert_eq "the rest is imported" "$(cat "$T/out")" "imported 1 messages into 2 mailboxes"
echo "# $n_ok tests passed"
