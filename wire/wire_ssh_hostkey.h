/*
 * wire_ssh_hostkey.h: checking an ssh server's host key against
 * known_hosts files the way OpenSSH does (wire_conn_ssh.c's helper).
 */
#ifndef WIRE_SSH_HOSTKEY_H
#define WIRE_SSH_HOSTKEY_H

#include <libssh2.h>

#include "wire_conn.h"

/* Before the handshake: offer the host key algorithms whose keys
 * known_hosts has for this host first (then the others, certificates
 * never), so a host known by its ed25519 key is not asked for ECDSA. */
void	wire_ssh_hostkey_prefer(LIBSSH2_SESSION *session,
	    const struct wire_ssh_opts *o);
/* After the handshake: 0 if the server's key is in known_hosts (or was
 * unknown and o->accept_new recorded it), else -1 with MAIL_ERR_PERM and a
 * message naming the host, key type, fingerprint and file (and line). */
int	wire_ssh_hostkey_verify(LIBSSH2_SESSION *session,
	    const struct wire_ssh_opts *o, struct mail_err *err) WARN_UNUSED;
/* "$HOME/rel" (the passwd entry's home without $HOME), malloc'ed; NULL
 * if there is no home. */
char	*wire_ssh_home_path(const char *rel);

#endif
