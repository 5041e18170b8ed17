#!/bin/bash
# t1030-sync-ssh: dsync sync and dsync backup with one or both locations
# ssh:// against a real sshd on loopback (own host keys, own
# authorized_keys, an ed25519 client key): libssh2 with --accept-new-host-key
# and then with the recorded key, the system ssh through --ssh-command,
# backup, a changed host key and a wrong client key refused without
# changing anything, an unreachable port (exit 75), and a bigger transfer
# (300 messages of about 30 KB) after which both stores check clean.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_sshd.sh"
trap 'stop_sshd; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT

sshd_setup
ssh-keygen -q -t ed25519 -N '' -C host1 -f "$T/hostkey1"
ssh-keygen -q -t ed25519 -N '' -C host2 -f "$T/hostkey2"
ssh-keygen -q -t ed25519 -N '' -C stranger -f "$T/wrong"
USER_NAME=$(id -un)
start_sshd "$T/hostkey1"
KH=$T/known_hosts

A=$T/a B=$T/b C=$T/c
make_store "$A" alice
make_store "$B" alice
RB="ssh://$USER_NAME@127.0.0.1:$PORT$B"
# ssh_dsync VERB OPTION... LOC_A LOC_B: dsync sync/backup with the libssh2
# transport, our client key and known_hosts, the remote dsync being ours
ssh_dsync() {
	local verb=$1; shift
	"$DSYNC" "$verb" -u alice --remote-dsync "$DSYNC" --known-hosts "$KH" \
		-i "$T/id" --timeout 20 "$@"
}
save() { "$DSYNC" -s "$1" -u alice save "${@:3}" <"$2" >/dev/null; }
dump() { "$DSYNC" -s "$1" -u alice dump; }
n_msgs() { dump "$1" | grep -c '^  msg ' || true; }

for i in $(seq 1 12); do msg "a$i" >"$T/a$i"; msg "b$i" >"$T/b$i"; done

# Changes on both sides: saves (with flags), a flag change, mailboxes.
save "$A" "$T/a1" -f '\Seen'
save "$A" "$T/a2"
"$DSYNC" -s "$A" -u alice mailbox create Archive
save "$A" "$T/a3" -m Archive
save "$B" "$T/b1" -f '\Flagged'
save "$B" "$T/b2"
"$DSYNC" -s "$B" -u alice mailbox create Lists Lists/dev
save "$B" "$T/b3" -m Lists/dev
"$DSYNC" -s "$B" -u alice flags add -m INBOX 1 '$Work'

expect_exit 1 "host key of '\[127.0.0.1\]:$PORT' is not known" \
	"an unknown host key is refused without --accept-new-host-key" \
	ssh_dsync sync "$A" "$RB"
[ ! -s "$KH" ] || fail "a refused host key was recorded in '$KH'"
assert_eq "the refused sync changed nothing" "$(n_msgs "$A")/$(n_msgs "$B")" "3/3"

expect_ok "sync over ssh with --accept-new-host-key" \
	ssh_dsync sync --accept-new-host-key "$A" "$RB"
assert_stores_equal "$A" "$B" alice
assert_eq "all 6 messages on both sides" "$(n_msgs "$A")/$(n_msgs "$B")" "6/6"
assert_eq "the host key is recorded" "$(cut -d' ' -f1,2,3 "$KH")" \
	"[127.0.0.1]:$PORT ssh-ed25519 $(cut -d' ' -f2 "$T/hostkey1.pub")"
"$DSYNC" -s "$A" -u alice mailbox list | grep -qx Lists/dev || fail "Lists/dev not on a"
"$DSYNC" -s "$B" -u alice mailbox list | grep -qx Archive || fail "Archive not on b"
ok "mailboxes created on either side are on both"

# More changes on both sides; the recorded key is enough now.
save "$A" "$T/a4" -m Lists/dev -f '\Answered'
"$DSYNC" -s "$A" -u alice flags replace -m INBOX 1:* '\Seen' '$Label1'
"$DSYNC" -s "$A" -u alice mailbox create Trash
save "$B" "$T/b4" -m Archive
uid=$("$DSYNC" -s "$B" -u alice fetch -m Archive 1:* guid | head -1 | cut -d" " -f2)
"$DSYNC" -s "$B" -u alice expunge -m Archive "$uid"
"$DSYNC" -s "$B" -u alice metadata set /private/comment "over ssh"
expect_ok "a second sync without --accept-new-host-key (known key)" \
	ssh_dsync sync "$A" "$RB"
assert_stores_equal "$A" "$B" alice
assert_eq "known_hosts still has one line" "$(wc -l <"$KH")" 1
assert_eq "metadata replicated" "$("$DSYNC" -s "$A" -u alice metadata get /private/comment)" "over ssh"
assert_eq "expunge replicated" "$(status_field "$A" alice Archive messages)" 1

# The remote side first, the local one second.
save "$A" "$T/a5"
save "$B" "$T/b5" -m Trash
expect_ok "sync with the ssh location as LOCATION_A" ssh_dsync sync "$RB" "$A"
assert_stores_equal "$A" "$B" alice

# Both locations remote: the brain runs here, two ssh sessions.
save "$A" "$T/a6"
save "$B" "$T/b6"
expect_ok "sync with both locations over ssh" \
	ssh_dsync sync "ssh://$USER_NAME@127.0.0.1:$PORT$A" "$RB"
assert_stores_equal "$A" "$B" alice

# The system ssh, checking the host key against the file we recorded.
ssh_cmd="ssh -F /dev/null -o BatchMode=yes -p $PORT -i $T/id -o UserKnownHostsFile=$KH -o StrictHostKeyChecking=yes"
save "$A" "$T/a7" -f '\Flagged'
"$DSYNC" -s "$B" -u alice flags add -m INBOX 1:* '\Answered'
"$DSYNC" -s "$B" -u alice mailbox create Sent
expect_ok "sync through --ssh-command (the system ssh)" \
	"$DSYNC" sync -u alice --remote-dsync "$DSYNC" --ssh-command "$ssh_cmd" \
	"$A" "ssh://$USER_NAME@127.0.0.1$B"
assert_stores_equal "$A" "$B" alice
"$DSYNC" -s "$A" -u alice mailbox list | grep -qx Sent || fail "Sent not on a"
ok "a mailbox created on the remote side arrived through the system ssh"

# Backup to a remote store: C becomes A, C's own changes are reverted.
make_store "$C" alice
RC="ssh://$USER_NAME@127.0.0.1:$PORT$C"
expect_ok "backup over ssh" ssh_dsync backup "$A" "$RC"
assert_stores_equal "$A" "$C" alice
# (no save on C: a UID C used cannot be given back, see t1001)
"$DSYNC" -s "$C" -u alice mailbox create Junk
"$DSYNC" -s "$C" -u alice metadata set /private/comment "only on c"
"$DSYNC" -s "$C" -u alice flags add -m INBOX 1:* '\Deleted'
save "$A" "$T/a8" -m Archive
expect_ok "a second backup over ssh" ssh_dsync backup "$A" "$RC"
assert_stores_equal "$A" "$C" alice
"$DSYNC" -s "$C" -u alice mailbox list | grep -qx Junk && fail "Junk survived the backup"
ok "backup over ssh reverted the destination's own changes"
make_store "$T/c2" alice
expect_ok "backup from a remote source through the system ssh" \
	"$DSYNC" backup -u alice --remote-dsync "$DSYNC" --ssh-command "$ssh_cmd" \
	"ssh://$USER_NAME@127.0.0.1$A" "$T/c2"
assert_stores_equal "$A" "$T/c2" alice

# A wrong client key: refused, nothing changes.
save "$A" "$T/a9"
save "$B" "$T/b8"
dump "$A" >"$T/a.before"
dump "$B" >"$T/b.before"
expect_exit 1 "refused the login as '$USER_NAME'.*'$T/wrong'" \
	"a wrong client key is refused" \
	"$DSYNC" sync -u alice --remote-dsync "$DSYNC" --known-hosts "$KH" \
	-i "$T/wrong" "$A" "$RB"
expect_exit 1 "identity file '$T/nokey'" "a missing identity file is named" \
	"$DSYNC" sync -u alice --remote-dsync "$DSYNC" --known-hosts "$KH" \
	-i "$T/nokey" "$A" "$RB"
# A key with a passphrase, given in a secret file (0600, ours).
ssh-keygen -q -t ed25519 -N 'correct horse' -C pp -f "$T/pp"
cat "$T/pp.pub" >>"$T/authorized_keys"
printf 'correct horse\n' >"$T/pp.secret"
printf 'wrong horse\n' >"$T/pp.wrong"
chmod 600 "$T/pp.secret" "$T/pp.wrong"
expect_exit 1 "refused the login.*'$T/pp'" \
	"a key with a passphrase and none given is refused" \
	"$DSYNC" sync -u alice --remote-dsync "$DSYNC" --known-hosts "$KH" \
	-i "$T/pp" "$A" "$RB"
expect_exit 1 "refused the login.*'$T/pp'" \
	"a wrong passphrase is refused" \
	"$DSYNC" sync -u alice --remote-dsync "$DSYNC" --known-hosts "$KH" \
	-i "$T/pp" --passphrase-file "$T/pp.wrong" "$A" "$RB"
chmod 644 "$T/pp.secret"
expect_exit 1 "secret file '$T/pp.secret' is accessible by group or others" \
	"a passphrase file others can read is refused" \
	"$DSYNC" sync -u alice --remote-dsync "$DSYNC" --known-hosts "$KH" \
	-i "$T/pp" --passphrase-file "$T/pp.secret" "$A" "$RB"
chmod 600 "$T/pp.secret"
diff "$T/a.before" <(dump "$A") >/dev/null || fail "a refused login changed a"
diff "$T/b.before" <(dump "$B") >/dev/null || fail "a refused login changed b"
ok "refused logins changed neither store"
expect_ok "the right passphrase logs in" \
	"$DSYNC" sync -u alice --remote-dsync "$DSYNC" --known-hosts "$KH" \
	-i "$T/pp" --passphrase-file "$T/pp.secret" "$A" "$RB"
diff <(dump "$A") <(dump "$B") >/dev/null || fail "synced with the passphrase key: dumps differ"

# A remote dsync that is not there: exit 1, its shell's words.
expect_exit 1 "exited with status 127" "a missing remote dsync is reported" \
	"$DSYNC" sync -u alice --remote-dsync "$T/no-dsync" --known-hosts "$KH" \
	-i "$T/id" "$A" "$RB"
expect_exit 1 "no dsync store" "a missing remote store is reported" \
	ssh_dsync sync "$A" "ssh://$USER_NAME@127.0.0.1:$PORT$T/none"

# A bigger transfer: 300 messages of about 30 KB saved on A (a Maildir
# import), 20 more on B, over ssh.
python3 - "$T/md" <<-'EOF'
import base64, os, random, sys
root = sys.argv[1]
rnd = random.Random(1030)
for sub in ("cur", "new", "tmp"):
    os.makedirs(os.path.join(root, sub), exist_ok=True)
for i in range(300):
    body = base64.encodebytes(rnd.randbytes(rnd.randint(25000, 35000) * 3 // 4))
    head = ("From: Bulk %d <bulk%d@example.org>\r\nTo: alice@example.net\r\n"
            "Subject: bulk message %d\r\nMessage-ID: <bulk.%d@example.org>\r\n"
            "Date: Sat, 28 Nov 2026 12:00:00 +0000\r\n\r\n" % (i, i, i, i))
    with open(os.path.join(root, "cur", "%d.M%dP1.host:2,%s"
                           % (1700000000 + i, i, "S" if i % 3 else "")), "wb") as f:
        f.write(head.encode() + body.replace(b"\n", b"\r\n"))
EOF
"$DSYNC" -s "$A" -u alice mailbox create Bulk
mkdir -p "$T/mdroot"
mv "$T/md" "$T/mdroot/.Bulk"
mkdir -p "$T/mdroot/cur" "$T/mdroot/new" "$T/mdroot/tmp"
touch "$T/mdroot/.Bulk/maildirfolder"
"$DSYNC" -s "$A" -u alice import maildir "$T/mdroot" >"$T/import.out" 2>&1 ||
	fail "import maildir: $(cat "$T/import.out")"
assert_eq "300 bulk messages on a" "$(status_field "$A" alice Bulk messages)" 300
for i in $(seq 1 20); do msg "big-b$i" | "$DSYNC" -s "$B" -u alice save -m Archive >/dev/null; done
# every (mailbox, GUID, instance) of either side, once
want=$( (dump "$A"; dump "$B") | awk '/^mailbox / { mb = $4 } /^  msg / { print mb, $4, $6 }' |
	sort -u | wc -l)
start=$(date +%s%N)
expect_ok "the bulk sync over ssh" ssh_dsync sync --stats "$A" "$RB"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
grep -Eq "^$A -> $RB: 3[0-9][0-9] messages, [0-9]{7,} bytes" "$T/out" ||
	fail "--stats of the bulk sync: $(cat "$T/out")"
ok "--stats counts the bulk transfer ($ms ms): $(grep -- "^$A -> " "$T/out")"
assert_stores_equal "$A" "$B" alice
assert_eq "every message on both sides" "$(n_msgs "$A")/$(n_msgs "$B")" "$want/$want"
"$DSYNC" -s "$A" -u alice fetch -m Bulk 1:* body >"$T/bodies.a"
"$DSYNC" -s "$B" -u alice fetch -m Bulk 1:* body >"$T/bodies.b"
cmp -s "$T/bodies.a" "$T/bodies.b" || fail "bulk bodies differ between a and b"
ok "bulk bodies are byte-identical ($(wc -c <"$T/bodies.b") bytes)"
expect_ok "a no-op re-sync over ssh" ssh_dsync sync "$A" "$RB"
assert_stores_equal "$A" "$B" alice

# A changed host key: refused naming the host key, even with
# --accept-new-host-key; neither store nor known_hosts changes.
stop_sshd
start_sshd "$T/hostkey2"
save "$A" "$T/a10"
save "$B" "$T/b9"
dump "$A" >"$T/a.before"
dump "$B" >"$T/b.before"
cp "$KH" "$T/kh.before"
expect_exit 1 "host key of '\[127.0.0.1\]:$PORT' CHANGED" "a changed host key is refused" \
	ssh_dsync sync "$A" "$RB"
expect_exit 1 "host key of '\[127.0.0.1\]:$PORT' CHANGED" \
	"a changed host key is refused with --accept-new-host-key" \
	ssh_dsync sync --accept-new-host-key "$A" "$RB"
expect_exit 1 "host key of '\[127.0.0.1\]:$PORT' CHANGED" \
	"a changed host key is refused for backup" \
	ssh_dsync backup "$A" "$RB"
# ssh exits 255 for a refused host key as for a lost network, which dsync
# takes as temporary (75); either way the sync must fail and say why
rc=0
"$DSYNC" sync -u alice --remote-dsync "$DSYNC" --ssh-command "$ssh_cmd" \
	"$A" "ssh://$USER_NAME@127.0.0.1$B" >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -eq 1 ] || [ "$rc" -eq 75 ] || fail "system ssh, changed host key: exit $rc (stderr: $(cat "$T/err"))"
grep -q "Host key verification failed" "$T/err" ||
	fail "system ssh, changed host key: stderr does not say so: $(cat "$T/err")"
ok "the system ssh refuses the changed host key (exit $rc)"
cmp -s "$T/kh.before" "$KH" || fail "known_hosts changed: $(cat "$KH")"
diff "$T/a.before" <(dump "$A") >/dev/null || fail "a refused host key changed a"
diff "$T/b.before" <(dump "$B") >/dev/null || fail "a refused host key changed b"
ok "the refused host key changed neither the stores nor known_hosts"

# Nobody listening: a temporary failure (75), for libssh2 and system ssh.
stop_sshd
expect_exit 75 "127.0.0.1.*port $PORT.*[Cc]onnection refused" \
	"an unreachable port exits 75" ssh_dsync sync "$A" "$RB"
expect_exit 75 "exited with status 255" "an unreachable port exits 75 through the system ssh" \
	"$DSYNC" sync -u alice --remote-dsync "$DSYNC" --ssh-command "$ssh_cmd" \
	"$A" "ssh://$USER_NAME@127.0.0.1$B"
diff "$T/a.before" <(dump "$A") >/dev/null || fail "an unreachable peer changed a"

for s in "$A" "$B" "$C" "$T/c2"; do
	"$DSYNC" -s "$s" check >"$T/check" 2>&1 || fail "check $s: $(cat "$T/check")"
done
ok "every store checks clean"
