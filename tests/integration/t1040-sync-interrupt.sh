#!/bin/bash
# t1040-sync-interrupt: interrupted syncs. Two stores of one user with a few
# hundred messages of varied sizes (some 1-2 MB) and changes on both
# sides; each trial starts `dsync sync A local:B`, waits a random 0-300 ms
# and then kills, in turn, the brain (kill -9), one of its `dsync server`
# children (kill -9), or the other child; then makes more changes on both
# sides, runs a complete sync and checks:
#   - the killed run ended (no hang) with 0 (done before the kill), 1, 75
#     or 137, and its servers ended too;
#   - the dumps are equal;
#   - the messages are exactly the expected ones: every (mailbox, GUID,
#     instance) saved and not expunged is there, once; nothing expunged is
#     back; the message count is the expected count;
#   - a message whose flags were replaced exactly once since the last
#     complete sync has those flags;
#   - `dsync check` is clean on both stores and no temp file (*.tmp*,
#     .new-*, .deleted-*) is left in them.
# SSH=1 reaches B through ssh:// (a private sshd on loopback, libssh2) and
# adds a fourth way to interrupt: kill -9 the sshd session process, which
# cuts the connection; then the servers killed are the local one of A and
# the remote one of B.
# TRIALS (default 25; SOAK=1: 400) and SEED select the run; FAST=1 leaves
# out the 1-2 MB messages; VERBOSE=1 prints a line per trial.
set -eu
. "$(dirname "$0")/lib.sh"
trials=${TRIALS:-25}
[ "${SOAK:-0}" = 1 ] && trials=${TRIALS:-400}
seed=${SEED:-1040}
RANDOM=$seed
A=$T/a B=$T/b
U=alice
make_store "$A" $U
make_store "$B" $U
child_pids=""
. "$(dirname "$0")/lib_sshd.sh"
trap 'for p in $child_pids; do kill -9 "$p" 2>/dev/null || true; done
	stop_sshd
	[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT

LOC_B="local:$B"
SYNC_OPTS=()
nmodes=3
if [ "${SSH:-0}" = 1 ]; then
	sshd_setup
	ssh-keygen -q -t ed25519 -N '' -C host -f "$T/hostkey"
	start_sshd "$T/hostkey"
	LOC_B="ssh://$(id -un)@127.0.0.1:$PORT$B"
	SYNC_OPTS=(--remote-dsync "$DSYNC" --known-hosts "$T/known_hosts"
		--accept-new-host-key -i "$T/id" --timeout 30)
	nmodes=4
fi

# gen.py SEED DIR:COUNT:NBIG[:FOLDER]...: for each argument a Maildir++
# root DIR with COUNT distinct messages in INBOX (or in FOLDER), sizes
# mostly 1-8 KB, some 10-120 KB, NBIG of them 1-2 MB
cat >"$T/gen.py" <<-'EOF'
import base64, os, random, sys
seed = int(sys.argv[1])
rnd = random.Random(seed)
for n, spec in enumerate(sys.argv[2:]):
    root, count, nbig, folder = (spec.split(":") + [""])[:4]
    count, nbig = int(count), int(nbig)
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    if folder:
        root = os.path.join(root, "." + folder)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(root, sub), exist_ok=True)
        open(os.path.join(root, "maildirfolder"), "w").close()
    big = set(rnd.sample(range(count), min(nbig, count)))
    for i in range(count):
        if i in big:
            size = rnd.randint(1000000, 2000000)
        elif rnd.random() < 0.25:
            size = rnd.randint(10000, 120000)
        else:
            size = rnd.randint(1000, 8000)
        raw = base64.encodebytes(rnd.randbytes(size * 3 // 4)).replace(b"\n", b"\r\n")
        tag = "%d.%d.%d" % (seed, n, i)
        head = ("From: Sender %s <s%s@example.org>\r\nTo: alice@example.net\r\n"
                "Subject: message %s\r\nMessage-ID: <%s@example.org>\r\n"
                "Date: Sat, 28 Nov 2026 12:00:00 +0000\r\n\r\n" % (tag, tag, tag, tag))
        flags = rnd.choice(["", "", "S", "FS", "RS"])
        # the base name is unique: import derives the GUID from it
        name = "%d.M%dP%dQ%d.gen:2,%s" % (1700000000 + i, i, seed, n, flags)
        with open(os.path.join(root, "cur", name), "wb") as f:
            f.write(head.encode() + raw)
EOF

# rnd N: R = a random number in 0..N-1 from the seeded sequence (not in
# a $(...): bash reseeds RANDOM in subshells)
rnd() { R=$((RANDOM % $1)); }
# pick_line TEXT: R = a random line of TEXT
pick_line() { local n; n=$(echo "$1" | wc -l); rnd "$n"; R=$(echo "$1" | sed -n "$((R + 1))p"); }
dump() { "$DSYNC" -s "$1" -u $U dump; }
# keys STORE: "MAILBOX-GUID GUID INSTANCE FLAGS KEYWORDS" per message, sorted
keys() {
	dump "$1" | awk '/^mailbox / { mb = $4 }
		/^  msg / { match($0, / flags \([^)]*\) keywords \([^)]*\)/)
			print mb, $4, $6, substr($0, RSTART + 1, RLENGTH - 1) }' | sort
}
# ids: the identity part of keys (mailbox, guid, instance)
ids() { cut -d' ' -f1-3; }

# gen SPEC...: gen.py with the next seed; FAST=1 leaves out big messages
gen_seed=$seed
gen() {
	local a args=()
	gen_seed=$((gen_seed + 1))
	for a in "$@"; do
		[ "${FAST:-0}" = 1 ] && a=$(echo "$a" | awk -F: -v OFS=: '{ $3 = 0; print }')
		args+=("$a")
	done
	python3 "$T/gen.py" "$gen_seed" "${args[@]}"
}

# import_dir STORE DIR: import the Maildir++ root DIR, then remove it
import_dir() {
	"$DSYNC" -s "$1" -u $U import maildir "$2" >"$T/import.out" 2>&1 ||
		fail "import into $1: $(cat "$T/import.out")"
	rm -rf "$2"
}

MAILBOXES="Archive Lists Lists/dev Trash"
# random_changes STORE N: N random changes on one store, all acknowledged
# (exit 0) or refused (exit 1, nothing changed); flag replacements are
# appended to $T/flagged as "GUID FLAGS" lines
random_changes() {
	local s=$1 n=$2 op mbs mb uids uid k f rc
	mbs=$("$DSYNC" -s "$s" -u $U mailbox list)
	for _ in $(seq "$n"); do
		rnd 10; op=$R
		pick_line "$mbs"; mb=$R
		case $op in
		0 | 1 | 2)	# save a new message
			msg "$s.$RANDOM.$RANDOM.$(date +%s%N)" >"$T/new.eml"
			"$DSYNC" -s "$s" -u $U save -m "$mb" <"$T/new.eml" >/dev/null ||
				fail "save into $s '$mb'"
			;;
		3 | 4 | 5)	# replace the flags of one message
			uids=$("$DSYNC" -s "$s" -u $U fetch -m "$mb" '1:*' guid | cut -d' ' -f2)
			[ -n "$uids" ] || continue
			pick_line "$uids"; uid=$R
			rnd 5
			case $R in
			0) f='\Seen' ;; 1) f='\Flagged $Work' ;; 2) f='\Answered \Seen' ;;
			3) f='$Label1' ;; *) f='' ;;
			esac
			# shellcheck disable=SC2086
			"$DSYNC" -s "$s" -u $U flags replace -m "$mb" "$uid" $f ||
				fail "flags replace in $s '$mb' $uid"
			# GUIDs are unique here: no copies, every save a new one
			k=$("$DSYNC" -s "$s" -u $U fetch -m "$mb" "$uid" guid | cut -d' ' -f4)
			[ -n "$k" ] || fail "flagged message $s '$mb' $uid has no GUID"
			echo "$k $f" >>"$T/flagged"
			;;
		6 | 7)		# expunge one message
			uids=$("$DSYNC" -s "$s" -u $U fetch -m "$mb" '1:*' guid | cut -d' ' -f2)
			[ -n "$uids" ] || continue
			pick_line "$uids"; uid=$R
			"$DSYNC" -s "$s" -u $U expunge -m "$mb" "$uid" ||
				fail "expunge in $s '$mb' $uid"
			;;
		8)		# create a mailbox (refused if it exists)
			set -- $MAILBOXES
			rnd $#; shift "$R"
			rc=0
			"$DSYNC" -s "$s" -u $U mailbox create "$1" 2>"$T/create.err" || rc=$?
			[ "$rc" -eq 0 ] || { [ "$rc" -eq 1 ] && grep -q exists "$T/create.err"; } ||
				fail "mailbox create in $s '$1': exit $rc: $(cat "$T/create.err")"
			mbs=$("$DSYNC" -s "$s" -u $U mailbox list)
			;;
		9)		# save a message of 10-160 KB
			rnd 150
			{ msg "$s.$RANDOM.$RANDOM.$(date +%s%N)" | sed '$d'
			  head -c $((R * 1000 + 10000)) /dev/urandom | base64; } >"$T/new.eml"
			"$DSYNC" -s "$s" -u $U save -m "$mb" <"$T/new.eml" >/dev/null ||
				fail "save into $s '$mb'"
			;;
		esac
	done
}

# changes STORE N: random_changes with the expected set kept: what the
# store gained is expected, what it lost was expunged and is not
changes() {
	local s=$1
	keys "$s" | ids >"$T/before"
	random_changes "$@"
	keys "$s" | ids >"$T/after"
	comm -13 "$T/before" "$T/after" >>"$T/expected"
	comm -23 "$T/before" "$T/after" >"$T/gone"
	sort -o "$T/expected" "$T/expected"
	comm -23 "$T/expected" "$T/gone" >"$T/expected.new"
	mv "$T/expected.new" "$T/expected"
}

# The template pair: a few hundred messages on each side, some big ones,
# spread over mailboxes, none of it synced. Every ROUND trials start again
# from it, so that the first interrupted sync of a round is a full one of
# some 20 MB, and the stores do not grow without end.
: >"$T/expected"
: >"$T/flagged"
"$DSYNC" -s "$A" -u $U mailbox create Archive Lists
"$DSYNC" -s "$B" -u $U mailbox create Archive Trash
gen "$T/ga:160:4" "$T/ga2:60:1:Archive" "$T/gb:120:3" "$T/gb2:40:1:Trash"
import_dir "$A" "$T/ga"
import_dir "$A" "$T/ga2"
import_dir "$B" "$T/gb"
import_dir "$B" "$T/gb2"
keys "$A" | ids >>"$T/expected"
keys "$B" | ids >>"$T/expected"
sort -o "$T/expected" "$T/expected"
changes "$A" 10
changes "$B" 10
ok "$(wc -l <"$T/expected") messages on the two sides to start with"
mkdir "$T/template"
cp -a "$A" "$B" "$T/expected" "$T/template/"
ROUND=${ROUND:-4}
restore_template() {
	rm -rf "$A" "$B"
	cp -a "$T/template/a" "$A"
	cp -a "$T/template/b" "$B"
	cp "$T/template/expected" "$T/expected"
	: >"$T/flagged"
}

# check_stores TRIAL: the checks after a complete sync
check_stores() {
	local trial=$1 left
	diff <(dump "$A") <(dump "$B") >"$T/diff" ||
		fail "trial $trial (seed $seed): dumps differ after a complete sync: $(head -20 "$T/diff")"
	keys "$A" >"$T/keys"
	ids <"$T/keys" >"$T/have"
	left=$(ids <"$T/keys" | uniq -d | head -3)
	[ -z "$left" ] || fail "trial $trial (seed $seed): messages twice: $left"
	left=$(cut -d' ' -f2,3 "$T/have" | sort | uniq -d | head -3)
	[ -z "$left" ] || fail "trial $trial (seed $seed): one GUID+instance in two mailboxes: $left"
	left=$(comm -23 "$T/expected" "$T/have" | head -5)
	[ -z "$left" ] || fail "trial $trial (seed $seed): messages lost (mailbox guid instance): $left"
	left=$(comm -13 "$T/expected" "$T/have" | head -5)
	[ -z "$left" ] || fail "trial $trial (seed $seed): unexpected messages (expunged ones back, or duplicates): $left"
	[ "$(wc -l <"$T/keys")" -eq "$(wc -l <"$T/expected")" ] ||
		fail "trial $trial (seed $seed): $(wc -l <"$T/keys") messages, want $(wc -l <"$T/expected")"
	# flags replaced once in this round (and the message still there)
	awk '{ k = $1; n[k]++; $1 = ""; f[k] = $0 }
		END { for (k in n) if (n[k] == 1) print k "\t" f[k] }' "$T/flagged" |
	while IFS=$'\t' read -r k f; do
		grep -q " $k " "$T/keys" || continue
		want=$(echo "$f" | tr ' ' '\n' | grep . | sort | tr '\n' ' ' || true)
		got=$(grep " $k " "$T/keys" | sed 's/.* flags (\([^)]*\)) keywords (\([^)]*\))/\1 \2/' |
			tr ' ' '\n' | grep . | sort | tr '\n' ' ' || true)
		[ "$want" = "$got" ] ||
			fail "trial $trial (seed $seed): message $k: flags '$got', want '$want' (replaced once)"
	done
	: >"$T/flagged"
	for s in "$A" "$B"; do
		"$DSYNC" -s "$s" check >"$T/check" 2>&1 ||
			fail "trial $trial (seed $seed): check $s: $(cat "$T/check")"
		left=$(find "$s" \( -name '*.tmp*' -o -name '.new-*' -o -name '.deleted-*' \) | head -5)
		[ -z "$left" ] || fail "trial $trial (seed $seed): temp files left in $s: $left"
	done
}

# wait_gone TRIAL WHAT PID...: the processes must end within 30 s
wait_gone() {
	local trial=$1 what=$2 p alive; shift 2
	for _ in $(seq 3000); do
		alive=""
		for p in "$@"; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
		[ -n "$alive" ] || return 0
		sleep 0.01
	done
	ps -o pid,ppid,etime,args -p "${alive# }" >&2 || true
	fail "trial $trial (seed $seed): $what still running 30 s after the kill:$alive"
}

n_done=0 n_75=0 n_1=0 n_137=0
start=$(date +%s)
for trial in $(seq "$trials"); do
	# 0: the brain, 1 and 2: a server (A's, B's), 3: the ssh connection
	mode=$((trial % nmodes))
	first=$(( (trial - 1) % ROUND == 0 ))
	if [ "$first" = 1 ]; then
		[ "$trial" -eq 1 ] || restore_template
		maxdelay=300
	else
		# work for the interrupted sync: more mail on both sides, with
		# big messages, a few MB in all
		rnd 30; na=$((R + 5)); rnd 4; ba=$((R + 3))
		rnd 30; nb=$((R + 5)); rnd 4; bb=$((R + 3))
		gen "$T/ga:$na:$ba" "$T/gb:$nb:$bb"
		for s in a b; do
			keys "$T/$s" | ids >"$T/before"
			import_dir "$T/$s" "$T/g$s"
			keys "$T/$s" | ids >"$T/after"
			comm -13 "$T/before" "$T/after" >>"$T/expected"
		done
		sort -o "$T/expected" "$T/expected"
		maxdelay=100
	fi
	changes "$A" 3
	changes "$B" 3

	rnd $maxdelay
	delay=$(printf '0.%03d' "$R")
	# in a subshell that keeps the exit status, so that bash does not
	# report the killed job
	rm -f "$T/sync.rc"
	( rc=0
	  "$DSYNC" sync -u $U "${SYNC_OPTS[@]}" "$A" "$LOC_B" >"$T/sync.out" 2>"$T/sync.err" || rc=$?
	  echo $rc >"$T/sync.rc" ) 2>/dev/null &
	sub=$!
	brain=""
	for _ in $(seq 100); do
		brain=$(pgrep -P "$sub" || true)
		[ -z "$brain" ] || break
		[ ! -e "$T/sync.rc" ] || break
		sleep 0.005
	done
	child_pids="$sub $brain"
	sleep "$delay"
	servers=""
	[ -z "$brain" ] || servers=$(pgrep -P "$brain" || true)
	session="" remote=""
	if [ -n "$sshd_pid" ]; then
		# sshd: the listener's child serves the connection, its child
		# is the remote dsync server
		session=$(pgrep -P "$sshd_pid" || true)
		[ -z "$session" ] || remote=$(pgrep -P "$session" | head -1 || true)
		servers="$servers $remote"
	fi
	child_pids="$sub $brain $servers"
	victim=""
	case $mode in
	0) victim=$brain ;;
	3) victim=$session ;;
	*)	set -- $servers
		[ $# -ge "$mode" ] && victim=${!mode} || victim=${1:-}
		;;
	esac
	what="nothing"
	if [ -n "$victim" ] && kill -9 $victim 2>/dev/null; then
		case $victim in
		"$brain") what="the brain" ;;
		"$session") what="the ssh connection (sshd $victim)" ;;
		*) what="server $victim" ;;
		esac
	fi
	wait_gone "$trial" "the sync (killed: $what)" "$sub" $brain
	wait "$sub" || true
	rc=$(cat "$T/sync.rc" 2>/dev/null || echo "no status")
	wait_gone "$trial" "a server of the killed sync (killed: $what)" $servers
	child_pids=""
	case $rc in
	0) n_done=$((n_done + 1)) ;;
	75) n_75=$((n_75 + 1)) ;;
	1) n_1=$((n_1 + 1)) ;;
	137) [ "$what" = "the brain" ] || fail "trial $trial (seed $seed): exit 137, but the brain was not killed ($what)"
		n_137=$((n_137 + 1)) ;;
	*) fail "trial $trial (seed $seed): killed sync ($what after $delay s) exit $rc: $(cat "$T/sync.err")" ;;
	esac
	if grep -Eq 'Sanitizer|runtime error' "$T/sync.err"; then
		fail "trial $trial (seed $seed): sanitizer report: $(cat "$T/sync.err")"
	fi
	[ "${VERBOSE:-0}" = 1 ] && echo "# trial $trial: killed $what after $delay s: exit $rc $(head -c 300 "$T/sync.err")"

	changes "$A" 4
	changes "$B" 4
	timeout -k 5 300 "$DSYNC" sync -u $U "${SYNC_OPTS[@]}" "$A" "$LOC_B" >"$T/sync.out" 2>&1 ||
		fail "trial $trial (seed $seed): the complete sync after killing $what: exit $?: $(cat "$T/sync.out")"
	check_stores "$trial"
done
ok "$trials interrupted syncs (seed $seed, $(( $(date +%s) - start )) s): $n_done finished before the kill, exit 75: $n_75, exit 1: $n_1, killed brain: $n_137; $(wc -l <"$T/expected") messages in the end"
