#!/bin/bash
# t1420-imapd-clients: real IMAP clients against imapd: Python's imaplib
# (a scripted session), mbsync (isync) syncing a mailbox both ways with a
# local Maildir (new mail, flags and deletions in each direction), and
# neomutt on a pty saving a message to another folder and expunging it.
set -eu
. ./lib.sh
if [ -z "${IMAPD:-}" ]; then
	echo "ok - skip: IMAPD not set"
	exit 0
fi
S=$T/store
make_store "$S" alice
printf 'alice:{PLAIN}secret::::::\n' >"$T/passwd"
P=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$T/imapd.conf" <<CONF
store = $S
imap {
  listen = 127.0.0.1:$P
  passdb = passwd-file:$T/passwd
}
CONF
pids=""
trap 'kill $pids 2>/dev/null; wait 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
"$IMAPD" -F -c "$T/imapd.conf" 2>"$T/imapd.log" & pids="$pids $!"
for i in $(seq 1 100); do grep -q listening "$T/imapd.log" && break; sleep 0.05; done
count() { "$DSYNC" -s "$S" -u alice mailbox status "$1" | awk '$1 == "messages" { print $2 }'; }
mdcount() { find "$T/mail/$1/cur" "$T/mail/$1/new" -type f | wc -l; }

# imaplib: a scripted session of the kind scripts and webmails run
python3 - "$P" <<'PY' || fail "imaplib session (log: $(tail -n 5 "$T/imapd.log"))"
import imaplib, sys
M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login("alice", "secret")
assert M.create("Work")[0] == "OK"
for i in range(5):
    r = M.append("Work", r"(\Seen)" if i % 2 else None, None,
                 b"From: a@example.org\r\nSubject: imaplib %d\r\n\r\nbody %d\r\n" % (i, i))
    assert r[0] == "OK", r
typ, data = M.select("Work")
assert typ == "OK" and data[0] == b"5", data
typ, data = M.fetch("1:5", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
subjects = [d[1] for d in data if isinstance(d, tuple)]
assert subjects == [b"Subject: imaplib %d\r\n\r\n" % i for i in range(5)], subjects
assert M.store("1", "+FLAGS", r"(\Deleted)")[0] == "OK"
typ, data = M.expunge()
assert data == [b"1"], data
assert M.rename("Work", "Archive/2026")[0] == "OK"
typ, data = M.list()
assert b'(\\HasNoChildren) "/" Archive/2026' in data, data
typ, data = M.status("Archive/2026", "(MESSAGES UNSEEN)")
assert b"MESSAGES 4" in data[0], data
M.logout()
PY
assert_eq "imaplib session left 4 messages" "$(count Archive/2026)" 4

# mbsync: both ways with a Maildir
mkdir -p "$T/mail"
cat >"$T/mbsyncrc" <<RC
IMAPAccount test
Host 127.0.0.1
Port $P
User alice
Pass secret
SSLType None
AuthMechs PLAIN

IMAPStore remote
Account test

MaildirStore local
Path $T/mail/
Inbox $T/mail/INBOX
SubFolders Verbatim

Channel all
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
RC
for i in 1 2 3; do msg "$i" | "$DSYNC" -s "$S" -u alice save >/dev/null; done
mbsync -c "$T/mbsyncrc" -a >"$T/mbsync.out" 2>&1 || fail "mbsync pull: $(cat "$T/mbsync.out")"
[ "$(mdcount INBOX)" = 3 ] || fail "Maildir INBOX has $(mdcount INBOX) messages"
[ "$(mdcount Archive/2026)" = 4 ] || fail "Archive/2026 not pulled"
ok "mbsync pulled every mailbox"
# local changes: a new message, flags, a deletion
msg 10 >"$T/mail/INBOX/new/1700000000.local1.host"
f=$(grep -l "Body of message 1\." -r "$T/mail/INBOX/cur" "$T/mail/INBOX/new" | head -1)
mv "$f" "${f%%:2,*}:2,FS"
g=$(grep -l "Body of message 2\." -r "$T/mail/INBOX/cur" "$T/mail/INBOX/new" | head -1)
mv "$g" "${g%%:2,*}:2,T"	# trashed: expunged by Expunge Both
mbsync -c "$T/mbsyncrc" -a >"$T/mbsync.out" 2>&1 || fail "mbsync push: $(cat "$T/mbsync.out")"
assert_eq "mbsync pushed a new message and an expunge" "$(count INBOX)" 3
"$DSYNC" -s "$S" -u alice fetch -m INBOX 1 flags >"$T/flags"
grep -q 'Flagged' "$T/flags" && grep -q 'Seen' "$T/flags" || fail "flags not pushed: $(cat "$T/flags")"
ok "mbsync pushed flags"
# server-side changes come back
"$DSYNC" -s "$S" -u alice flags add -m INBOX 3 '\Answered'
msg 11 | "$DSYNC" -s "$S" -u alice save >/dev/null
mbsync -c "$T/mbsyncrc" -a >"$T/mbsync.out" 2>&1 || fail "mbsync again: $(cat "$T/mbsync.out")"
[ "$(mdcount INBOX)" = 4 ] || fail "new server message not pulled"
grep -l "Body of message 3\." -r "$T/mail/INBOX" | grep -q ':2,.*R' || fail "\\Answered not pulled"
ok "mbsync pulled a new message and a flag change"
mbsync -c "$T/mbsyncrc" -a >"$T/mbsync.out" 2>&1 || fail "mbsync no-op: $(cat "$T/mbsync.out")"
[ "$(mdcount INBOX)" = 4 ] && [ "$(count INBOX)" = 4 ] || fail "no-op sync changed something"
ok "a second mbsync run changes nothing"

# neomutt, driven through a pty (script(1)) with pushed keys: open INBOX,
# save the first message to Sent (COPY, \Deleted), quit (EXPUNGE)
if command -v neomutt >/dev/null && command -v script >/dev/null; then
	"$DSYNC" -s "$S" -u alice mailbox create Sent
	before=$(count INBOX)
	cat >"$T/muttrc" <<RC
set folder = "imap://127.0.0.1:$P/"
set imap_user = alice
set imap_pass = secret
set ssl_starttls = no
set ssl_force_tls = no
set confirmappend = no
set delete = yes
set quit = yes
set header_cache = ""
set message_cachedir = ""
RC
	HOME=$T TERM=xterm timeout 30 script -qec "neomutt -n -F $T/muttrc -f imap://127.0.0.1:$P/INBOX -e 'push \"<save-message>=Sent<enter><quit>\"'" /dev/null \
		>"$T/mutt.out" 2>&1 || fail "neomutt: $(tail -c 300 "$T/mutt.out")"
	assert_eq "neomutt saved a message to Sent" "$(count Sent)" 1
	assert_eq "and expunged it from INBOX on quit" "$(count INBOX)" $((before - 1))
fi
expect_ok "store check" "$DSYNC" -s "$S" check
