/*
 * fuzz_snapshot.c: the index snapshot reader on arbitrary file contents.
 * The reader parses the whole file before it compares the checksum (it
 * needs the parse to know which bytes the checksum covers), so every
 * input reaches the parser; inputs whose message arrays alone differ
 * from a valid snapshot are accepted, and must then dump and free.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "mail_dump.h"
#include "mail_snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/fuzz-snapshot-XXXXXX";
	struct mail_state *st = NULL;
	struct mail_buf out = MAIL_BUF_INIT;
	struct mail_err err;
	uint64_t end, mark;
	int fd;

	if (size > 1024 * 1024 || (fd = mkstemp(path)) < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size &&
	    mail_snapshot_read(mail_fs_posix(), path, &st, &end, &mark,
	    &err) == 0) {
		mail_dump_state("fuzz", st, &out);
		mail_state_free(&st);
	}
	mail_buf_free(&out);
	close(fd);
	unlink(path);
	return 0;
}
