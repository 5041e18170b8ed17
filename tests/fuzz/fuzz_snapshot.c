/*
 * fuzz_snapshot.c: the index snapshot reader on arbitrary file contents.
 * The snapshot carries a checksum, so the target re-seals the input's last
 * 8 bytes with a valid XXH3 first: otherwise nearly every input would stop
 * at the checksum and the parser behind it would never be reached.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <xxhash.h>

#include "mail_snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/fuzz-snapshot-XXXXXX";
	struct mail_state *st = NULL;
	struct mail_err err;
	uint64_t end, mark;
	uint8_t *buf;
	int fd;

	if (size < 8 || size > 1024 * 1024)
		return 0;
	buf = malloc(size);
	memcpy(buf, data, size);
	mail_put_le64(buf + size - 8, XXH3_64bits(buf, size - 8));
	if ((fd = mkstemp(path)) < 0) {
		free(buf);
		return 0;
	}
	if (write(fd, buf, size) == (ssize_t)size &&
	    mail_snapshot_read(mail_fs_posix(), path, &st, &end, &mark,
	    &err) == 0)
		mail_state_free(&st);
	close(fd);
	unlink(path);
	free(buf);
	return 0;
}
