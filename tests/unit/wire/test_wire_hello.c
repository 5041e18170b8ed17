/*
 * test_wire_hello.c: HELLO and ERROR payloads and version negotiation.
 */
#include <stdlib.h>

#include "testlib.h"
#include "wire_hello.h"

static struct wire_hello
hello(uint32_t lo, uint32_t hi, uint64_t features, uint64_t node)
{
	struct wire_hello h;

	memset(&h, 0, sizeof(h));
	h.version_min = lo;
	h.version_max = hi;
	h.features = features;
	h.node_id = node;
	strlcpy(h.software, "dsync test", sizeof(h.software));
	return h;
}

START_TEST(test_hello_roundtrip_and_truncation)
{
	struct wire_hello h = hello(1, 3, WIRE_FEATURE_ZLIB, 0x1122334455667788),
	    got;
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_err err;

	wire_hello_encode(&h, &b);
	ck_assert_int_eq(wire_hello_decode(b.data, b.len, &got, &err), 0);
	ck_assert_uint_eq(got.version_min, 1);
	ck_assert_uint_eq(got.version_max, 3);
	ck_assert_uint_eq(got.features, WIRE_FEATURE_ZLIB);
	ck_assert_uint_eq(got.node_id, 0x1122334455667788);
	ck_assert_str_eq(got.software, "dsync test");
	/* every strict prefix, and one trailing byte, are refused */
	for (size_t cut = 0; cut < b.len; cut++) {
		uint8_t *copy = malloc(cut + 1);

		memcpy(copy, b.data, cut);
		ck_assert_int_eq(wire_hello_decode(copy, cut, &got, &err), -1);
		ck_assert_int_eq(err.code, MAIL_ERR_PROTO);
		free(copy);
	}
	mail_buf_put_u8(&b, 0);
	ck_assert_int_eq(wire_hello_decode(b.data, b.len, &got, &err), -1);
	mail_buf_free(&b);
}
END_TEST

START_TEST(test_hello_bad_fields)
{
	struct mail_buf b = MAIL_BUF_INIT;
	struct wire_hello got;
	struct mail_err err;
	struct wire_hello h;

	/* versions out of order, version 0, node 0 */
	h = hello(3, 1, 0, 5);
	wire_hello_encode(&h, &b);
	ck_assert_int_eq(wire_hello_decode(b.data, b.len, &got, &err), -1);
	ck_assert(strstr(err.msg, "bad protocol versions") != NULL);
	mail_buf_reset(&b);
	h = hello(0, 1, 0, 5);
	wire_hello_encode(&h, &b);
	ck_assert_int_eq(wire_hello_decode(b.data, b.len, &got, &err), -1);
	mail_buf_reset(&b);
	h = hello(1, 1, 0, 0);
	wire_hello_encode(&h, &b);
	ck_assert_int_eq(wire_hello_decode(b.data, b.len, &got, &err), -1);
	ck_assert(strstr(err.msg, "node id 0") != NULL);
	/* not our protocol at all */
	mail_buf_reset(&b);
	mail_buf_append_str(&b, "SSH-2.0-OpenSSH_9.2\r\n");
	ck_assert_int_eq(wire_hello_decode(b.data, b.len, &got, &err), -1);
	mail_buf_free(&b);
}
END_TEST

START_TEST(test_negotiate)
{
	struct wire_hello a = hello(1, 3, 3, 1), b = hello(2, 5, 1, 2),
	    c = hello(4, 5, 0, 3), same = hello(1, 1, 0, 1);
	struct mail_err err;
	uint32_t v;
	uint64_t f;

	ck_assert_int_eq(wire_hello_negotiate(&a, &b, &v, &f, &err), 0);
	ck_assert_uint_eq(v, 3);
	ck_assert_uint_eq(f, 1);
	/* symmetric */
	ck_assert_int_eq(wire_hello_negotiate(&b, &a, &v, &f, &err), 0);
	ck_assert_uint_eq(v, 3);
	ck_assert_uint_eq(f, 1);
	ck_assert_int_eq(wire_hello_negotiate(&a, &c, &v, &f, &err), -1);
	ck_assert(strstr(err.msg, "we speak 1..3, the peer 4..5") != NULL);
	ck_assert_int_eq(wire_hello_negotiate(&a, &same, &v, &f, &err), -1);
	ck_assert(strstr(err.msg, "node id") != NULL);
}
END_TEST

START_TEST(test_error_payload)
{
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_err peer, err;
	char long_msg[600];

	wire_error_encode(MAIL_ERR_TEMP, "store busy\n\x1b[31m", &b);
	ck_assert_int_eq(wire_error_decode(b.data, b.len, &peer, &err), 0);
	ck_assert_int_eq(peer.code, MAIL_ERR_TEMP);
	ck_assert_str_eq(peer.msg, "store busy??[31m");
	/* long messages are cut to the limit by the sender */
	memset(long_msg, 'x', sizeof(long_msg) - 1);
	long_msg[sizeof(long_msg) - 1] = '\0';
	mail_buf_reset(&b);
	wire_error_encode(MAIL_ERR_PROTO, long_msg, &b);
	ck_assert_int_eq(wire_error_decode(b.data, b.len, &peer, &err), 0);
	ck_assert_uint_eq(strlen(peer.msg), sizeof(peer.msg) - 1);
	/* unknown codes become internal errors; truncation is refused */
	mail_buf_reset(&b);
	mail_buf_put_varint(&b, 999);
	mail_buf_put_str(&b, "new");
	ck_assert_int_eq(wire_error_decode(b.data, b.len, &peer, &err), 0);
	ck_assert_int_eq(peer.code, MAIL_ERR_INTERNAL);
	ck_assert_int_eq(wire_error_decode(b.data, b.len - 1, &peer, &err),
	    -1);
	mail_buf_free(&b);
}
END_TEST

Suite *test_wire_hello_suite(void);
Suite *
test_wire_hello_suite(void)
{
	Suite *s = suite_create("wire_hello");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_hello_roundtrip_and_truncation);
	tcase_add_test(tc, test_hello_bad_fields);
	tcase_add_test(tc, test_negotiate);
	tcase_add_test(tc, test_error_payload);
	suite_add_tcase(s, tc);
	return s;
}
