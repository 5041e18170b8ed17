#!/bin/bash
# t0310-dovecot-interop: a real Dovecot writes a Maildir (deliveries,
# flags, keywords, an expunge leaving UID gaps, folders, subscriptions);
# `dsync import maildir` must then show the same UIDs, UIDVALIDITY,
# UIDNEXT, flags, keywords, sizes and dates as doveadm does. Then the
# other way: Dovecot reads what `dsync export maildir` wrote.
#
# Runs a private Dovecot (no listeners) from its own config in the test's
# temp dir and stops it at exit. Without Dovecot the test fails, unless
# DSYNC_ALLOW_SKIP=1 (CI installs dovecot-core).
set -eu
. ./lib.sh

if ! command -v dovecot >/dev/null || ! command -v doveadm >/dev/null ||
    [ ! -x /usr/lib/dovecot/dovecot-lda ]; then
	if [ "${DSYNC_ALLOW_SKIP:-0}" = 1 ]; then
		echo "ok 1 - skip: Dovecot is not installed"
		exit 0
	fi
	fail "Dovecot (dovecot-core) is not installed; set DSYNC_ALLOW_SKIP=1 to skip"
fi

# Dovecot refuses to deliver as root: use nobody when we are root, else
# ourselves.
if [ "$(id -u)" = 0 ]; then
	MUSER=nobody
	MGROUP=$(id -gn nobody)
else
	MUSER=$(id -un)
	MGROUP=$(id -gn)
fi
MUID=$(id -u "$MUSER")
chmod 755 "$T"
DV=$T/dovecot
mkdir -p "$DV/run" "$DV/state" "$DV/home"
chown "$MUSER:$MGROUP" "$DV/home"
CONF=$DV/dovecot.conf
cat >"$CONF" <<EOF
base_dir = $DV/run
state_dir = $DV/state
log_path = $DV/dovecot.log
protocols =
listen = 127.0.0.1
ssl = no
default_login_user = $MUSER
default_internal_user = $MUSER
default_internal_group = $MGROUP
first_valid_uid = $MUID
first_valid_gid = 0
passdb {
  driver = static
  args = password=test
}
userdb {
  driver = static
  args = uid=$MUSER gid=$MGROUP home=$DV/home/%u
}
mail_location = maildir:$DV/home/%u/Maildir
namespace inbox {
  inbox = yes
  separator = /
}
EOF

stop_dovecot() {
	if [ -f "$DV/run/master.pid" ]; then
		doveadm -c "$CONF" stop 2>/dev/null ||
			kill "$(cat "$DV/run/master.pid")" 2>/dev/null || true
		for _ in $(seq 50); do
			[ -f "$DV/run/master.pid" ] || break
			sleep 0.1
		done
	fi
}
trap 'stop_dovecot; rm -rf "$T"' EXIT
dovecot -c "$CONF" || fail "dovecot did not start: $(cat "$DV/dovecot.log" 2>/dev/null)"
for _ in $(seq 100); do
	[ -S "$DV/run/auth-userdb" ] && break
	sleep 0.1
done
[ -S "$DV/run/auth-userdb" ] || fail "dovecot auth did not come up: $(cat "$DV/dovecot.log")"
ok "private Dovecot started"

dadm() { doveadm -c "$CONF" "$@"; }
# dstatus USER MAILBOX FIELD...: doveadm's values, tab-separated, in the
# order asked (doveadm prints its own order, with a header line)
dstatus() {
	local u=$1 mb=$2; shift 2
	dadm -f tab mailbox status -u "$u" "$*" "$mb" | awk -F'\t' -v want="$*" '
		NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i }
		NR == 2 { n = split(want, w, " "); s = "";
			for (i = 1; i <= n; i++) s = s (i > 1 ? "\t" : "") $col[w[i]];
			print s }'
}

# ---- Dovecot writes the Maildir ----
for i in 1 2 3; do
	msg "$i" | /usr/lib/dovecot/dovecot-lda -c "$CONF" -d alice -m INBOX ||
		fail "dovecot-lda delivery $i failed: $(tail -5 "$DV/dovecot.log")"
done
for i in 4 5 6 7; do
	msg "$i" | dadm save -u alice -m INBOX || fail "doveadm save $i"
done
dadm mailbox create -u alice "Projects/Ärger" Sent Trash
for i in 8 9; do msg "$i" | dadm save -u alice -m "Projects/Ärger"; done
msg 10 | dadm save -u alice -m Sent
dadm flags add -u alice '\Seen $Label1 Junk' mailbox INBOX uid 2
dadm flags add -u alice '\Answered \Flagged NonJunk' mailbox INBOX uid 3
dadm flags add -u alice '\Deleted' mailbox INBOX uid 4
dadm flags add -u alice '\Draft \Seen' mailbox INBOX uid 5
dadm flags add -u alice '$Label1' mailbox "Projects/Ärger" uid 2
# gaps: the first UID, one in the middle and the last (so NEXTUID is
# above the highest UID)
dadm expunge -u alice mailbox INBOX uid 1
dadm expunge -u alice mailbox INBOX uid 6
dadm expunge -u alice mailbox INBOX uid 7
dadm mailbox subscribe -u alice INBOX "Projects/Ärger" Sent
# mail Dovecot has not seen yet (an MDA that bypasses it): Dovecot will
# give it NEXTUID when it next looks, and import must do the same
MD=$DV/home/alice/Maildir
f=$MD/new/1700000000.M1P1.elsewhere
msg 11 >"$f"
touch -d @1700000000 "$f"
chown "$MUSER:$MGROUP" "$f"
ok "Dovecot wrote a Maildir with flags, keywords, UID gaps and folders"

S=$T/store
make_store "$S" alice >/dev/null
expect_ok "import Dovecot's Maildir" "$DSYNC" -s "$S" -u alice import maildir "$MD"

# "uid N flags..." lines, flags sorted, \Recent dropped (it is not stored)
norm_dovecot() {
	awk -F'\t' 'NR > 1 { n = split($2, f, " "); s = "";
		for (i = 1; i <= n; i++) if (f[i] != "\\Recent") s = s " " f[i];
		print $1 "\t" s "\t" $3 "\t" $4 }' |
	while IFS=$'\t' read -r uid flags size date; do
		printf 'uid %s flags%s size %s date %s\n' "$uid" \
			"$(printf '%s\n' $flags | LC_ALL=C sort | sed 's/^/ /' | tr -d '\n')" "$size" "$date"
	done
}
norm_dsync() {
	sed -E 's/^uid ([0-9]+) flags \(([^)]*)\) size ([0-9]+) date ([0-9-]+)$/\1\t\2\t\3\t\4/' |
	while IFS=$'\t' read -r uid flags size date; do
		printf 'uid %s flags%s size %s date %s\n' "$uid" \
			"$(printf '%s\n' $flags | LC_ALL=C sort | sed 's/^/ /' | tr -d '\n')" "$size" "$date"
	done
}

for mb in INBOX "Projects/Ärger" Sent Trash; do
	# the import read the tree before this doveadm call lets Dovecot see
	# the new file, so both sides decide its UID independently
	dadm -f tab fetch -u alice 'uid flags size.physical date.received.unixtime' \
		mailbox "$mb" all | norm_dovecot >"$T/dovecot.txt"
	"$DSYNC" -s "$S" -u alice fetch -m "$mb" 1:* flags size date |
		norm_dsync >"$T/dsync.txt"
	diff "$T/dovecot.txt" "$T/dsync.txt" >"$T/diff" ||
		fail "$mb: Dovecot and dsync differ: $(cat "$T/diff")"
	ok "$mb: UIDs, flags, keywords, sizes and dates as in Dovecot"
	dst=$(dstatus alice "$mb" uidvalidity uidnext guid)
	ours=$(printf '%s\t%s\t%s' "$(status_field "$S" alice "$mb" uidvalidity)" \
		"$(status_field "$S" alice "$mb" uidnext)" "$(status_field "$S" alice "$mb" guid)")
	assert_eq "$mb: UIDVALIDITY, UIDNEXT and mailbox GUID as in Dovecot" "$ours" "$dst"
done
assert_eq "INBOX has the UID gaps" \
	"$("$DSYNC" -s "$S" -u alice fetch -m INBOX 1:* flags | awk '{print $2}' | tr '\n' ' ')" \
	"2 3 4 5 8 "
"$DSYNC" -s "$S" -u alice dump >"$T/dump"
grep -q '^mailbox "Sent" .*special-use \\Sent ' "$T/dump" || fail "Sent lacks \\Sent"
grep -q '^mailbox "Trash" .*special-use \\Trash ' "$T/dump" || fail "Trash lacks \\Trash"
ok "special-use from Dovecot's folder names"
assert_eq "subscriptions as in Dovecot" \
	"$(grep '^subscribed' "$T/dump" | sed 's/^subscribed "//; s/"$//' | LC_ALL=C sort | tr '\n' ' ')" \
	"$(dadm mailbox list -u alice -s | LC_ALL=C sort | tr '\n' ' ')"
for uid in 2 3; do
	f=$(ls "$MD/cur" "$MD/new" 2>/dev/null | grep -m1 "$(dadm -f tab fetch -u alice guid mailbox INBOX uid "$uid" | tail -1)")
	[ -n "$f" ] || fail "no file for uid $uid"
	"$DSYNC" -s "$S" -u alice fetch -m INBOX "$uid" body >"$T/body"
	cmp -s "$T/body" "$MD/cur/$f" 2>/dev/null || cmp -s "$T/body" "$MD/new/$f" ||
		fail "body of uid $uid differs from Dovecot's file"
done
ok "bodies byte for byte"

# ---- and back: Dovecot reads our export ----
E=$DV/home/bob/Maildir
mkdir -p "$DV/home/bob"
expect_ok "export for Dovecot" "$DSYNC" -s "$S" -u alice export maildir "$E"
chown -R "$MUSER:$MGROUP" "$DV/home/bob"
for mb in INBOX "Projects/Ärger" Sent; do
	dadm -f tab fetch -u bob 'uid flags size.physical date.received.unixtime' \
		mailbox "$mb" all | norm_dovecot >"$T/dovecot.txt"
	"$DSYNC" -s "$S" -u alice fetch -m "$mb" 1:* flags size date |
		norm_dsync >"$T/dsync.txt"
	diff "$T/dovecot.txt" "$T/dsync.txt" >"$T/diff" ||
		fail "$mb: Dovecot reads the export differently: $(cat "$T/diff")"
	assert_eq "$mb: Dovecot keeps our UIDVALIDITY and UIDNEXT" \
		"$(dstatus bob "$mb" uidvalidity uidnext)" \
		"$(printf '%s\t%s' "$(status_field "$S" alice "$mb" uidvalidity)" \
			"$(status_field "$S" alice "$mb" uidnext)")"
done
assert_eq "Dovecot reports our message GUIDs" \
	"$(dadm -f tab fetch -u bob 'uid guid' mailbox INBOX all | tail -n +2 | tr '\t' ' ')" \
	"$("$DSYNC" -s "$S" -u alice fetch -m INBOX 1:* guid | sed 's/ guid//; s/^uid //')"
echo "# $n_ok tests passed"
