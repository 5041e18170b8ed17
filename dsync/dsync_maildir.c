/*
 * dsync_maildir.c: placeholder replaced by the Maildir import/export module.
 */
#include "dsync_cli.h"

int
dsync_maildir_import(struct dsync_ctx *ctx, const char *dir)
{
	(void)ctx;
	(void)dir;
	return dsync_usage("not built");
}

int
dsync_maildir_export(struct dsync_ctx *ctx, const char *dir)
{
	(void)ctx;
	(void)dir;
	return dsync_usage("not built");
}
