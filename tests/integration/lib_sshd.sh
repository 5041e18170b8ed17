# lib_sshd.sh: a private sshd on 127.0.0.1 for the SSH tests. Source it
# after lib.sh; the test's EXIT trap must call stop_sshd.
#   sshd_setup         checks for sshd (skips the test when it can not run
#                      as a non-root user), makes the client key $T/id,
#                      $T/authorized_keys, and picks $PORT
#   start_sshd KEY...  sshd on $PORT with these host keys, ready to accept
#   stop_sshd
SSHD=/usr/sbin/sshd
unset SSH_AUTH_SOCK
sshd_pid=""

skip() { echo "ok # skip $*"; exit 0; }

stop_sshd() {
	if [ -n "$sshd_pid" ]; then
		kill "$sshd_pid" 2>/dev/null || true
		wait "$sshd_pid" 2>/dev/null || true
		sshd_pid=""
	fi
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

sshd_setup() {
	if [ ! -x "$SSHD" ]; then
		[ "$(id -u)" -eq 0 ] && fail "no $SSHD (install openssh-server)"
		skip "no $SSHD"
	fi
	[ "$(id -u)" -eq 0 ] && mkdir -p /run/sshd && chmod 755 /run/sshd
	ssh-keygen -q -t ed25519 -N '' -C client -f "$T/id"
	cp "$T/id.pub" "$T/authorized_keys"
	PORT=$(free_port)
}

start_sshd() {
	printf 'HostKey %s\n' "$@" >"$T/sshd_config"
	cat >>"$T/sshd_config" <<-EOF
	ListenAddress 127.0.0.1
	PidFile $T/sshd.pid
	AuthorizedKeysFile $T/authorized_keys
	StrictModes no
	PermitRootLogin prohibit-password
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	UsePAM no
	MaxStartups 50
	EOF
	"$SSHD" -D -e -f "$T/sshd_config" -p "$PORT" >>"$T/sshd.log" 2>&1 &
	sshd_pid=$!
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
		kill -0 "$sshd_pid" 2>/dev/null || break
		sleep 0.1
	done
	sshd_pid=""
	[ "$(id -u)" -eq 0 ] && fail "sshd did not start: $(cat "$T/sshd.log")"
	skip "sshd cannot run as $(id -un): $(tail -1 "$T/sshd.log")"
}
