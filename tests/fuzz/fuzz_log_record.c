/*
 * fuzz_log_record.c: the change-log decoder and the record payload decoder
 * on arbitrary bytes, the way a damaged log (or, later, a peer) presents
 * them. Decoded records are applied to a scratch state, so the apply code
 * sees hostile but well-formed records too.
 */
#include <stdint.h>
#include <stdlib.h>

#include "mail_log.h"
#include "mail_rec.h"
#include "mail_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mail_state *st = mail_state_new();
	struct mail_err err;
	size_t pos = 0;

	/* the first byte picks a mode: raw framed records, or one payload
	 * of each type without framing (reaches the payload decoder
	 * without needing a valid checksum) */
	if (size > 0 && (data[0] & 1) == 1) {
		for (uint8_t type = 1; type <= MAIL_REC_MSG_TOMB; type++) {
			struct mail_log_rec lrec = { type, 0, 1, 1, 1,
			    data + 1, size - 1 };
			struct mail_rec rec;

			if (mail_rec_decode(&lrec, &rec, &err) == 0) {
				struct mail_buf b = MAIL_BUF_INIT;

				/* a decoded record re-encodes to its input */
				mail_rec_encode(&rec, &b);
				mail_state_apply(st, &rec);
				mail_rec_free(&rec);
				mail_buf_free(&b);
			}
		}
	} else {
		while (pos < size) {
			struct mail_log_rec lrec;
			struct mail_rec rec;
			ssize_t used = mail_log_decode(data + pos, size - pos,
			    &lrec, &err);

			if (used <= 0)
				break;
			if (mail_rec_decode(&lrec, &rec, &err) == 0) {
				mail_state_apply(st, &rec);
				mail_rec_free(&rec);
			}
			pos += (size_t)used;
		}
	}
	mail_state_free(&st);
	return 0;
}
