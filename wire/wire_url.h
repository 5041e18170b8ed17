/*
 * wire_url.h: peer locations as the CLI and the configuration spell them
 * (CLI.md):
 *
 *   /path/to/store, relative/path      WIRE_URL_PATH (this process opens it)
 *   local:/path/to/store               WIRE_URL_LOCAL (a spawned server)
 *   ssh://[user@]host[:port]/path      WIRE_URL_SSH, IPv6 as [::1]
 *
 * A string with another "scheme://" prefix is refused; one that merely
 * contains a colon ("backup:2024") is a path.
 */
#ifndef WIRE_URL_H
#define WIRE_URL_H

#include "mail_err.h"

enum wire_url_kind {
	WIRE_URL_PATH,
	WIRE_URL_LOCAL,
	WIRE_URL_SSH,
};

struct wire_url {
	enum wire_url_kind kind;
	char	*user;		/* ssh only, NULL if not given */
	char	*host;		/* ssh only; IPv6 without the brackets */
	int	 port;		/* ssh only, 1..65535; 0 if not given */
	char	*path;		/* always set; for ssh absolute ("/var/x") */
};

/* Parse s into *u (caller frees with wire_url_free()). Returns 0, or -1
 * with MAIL_ERR_PARAM and a message naming the location and what is wrong
 * (empty host, bad port, missing path, unknown scheme, ...); *u is then
 * empty. */
int	wire_url_parse(const char *s, struct wire_url *u,
	    struct mail_err *err) WARN_UNUSED;
/* Free the strings; u is empty afterwards. */
void	wire_url_free(struct wire_url *u);

#endif
