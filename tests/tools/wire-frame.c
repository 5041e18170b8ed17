/*
 * wire-frame.c: test tool: wrap stdin as one protocol frame of TYPE on
 * stdout, so tests can play a misbehaving peer with exact bytes.
 *   wire-frame TYPE < payload > frame
 */
#include <stdio.h>
#include <stdlib.h>

#include "wire_frame.h"

int
main(int argc, char **argv)
{
	struct mail_buf in = MAIL_BUF_INIT, out = MAIL_BUF_INIT;
	char buf[65536];
	size_t n;
	long type;

	if (argc != 2 || (type = strtol(argv[1], NULL, 10)) < 0 || type > 255) {
		fprintf(stderr, "usage: wire-frame TYPE < payload\n");
		return 2;
	}
	while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
		mail_buf_append(&in, buf, n);
	wire_frame_encode(&out, (uint8_t)type, in.data, in.len);
	if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout))
		return 1;
	mail_buf_free(&in);
	mail_buf_free(&out);
	return 0;
}
