/* Unit tests of the PROXY protocol v2 header parser (src/httpd/proxy_proto.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "proxy_proto.h"

static const unsigned char sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                      0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

/* A header: signature, version/command, family/transport, body. */
static size_t header(unsigned char *out, unsigned char ver_cmd, unsigned char fam,
                     const unsigned char *body, size_t n)
{
	memcpy(out, sig, 12);
	out[12] = ver_cmd;
	out[13] = fam;
	out[14] = (unsigned char)(n >> 8);
	out[15] = (unsigned char)n;
	if (n)
		memcpy(out + 16, body, n);
	return 16 + n;
}

static void test_ipv4(void **state)
{
	(void)state;
	unsigned char body[12 + 7] = {203, 0, 113, 7, 127, 0, 0, 1, 0x30, 0x39, 0x01, 0xbb,
	                              /* a TLV after the addresses is skipped */
	                              0x04, 0x00, 0x04, 'a', 'b', 'c', 'd'};
	unsigned char buf[64];
	size_t n = header(buf, 0x21, 0x11, body, sizeof body);
	struct proxy_info info;
	size_t need = 0;
	assert_int_equal(proxy_v2_parse(buf, n, &info, &need), PROXY_OK);
	assert_false(info.local);
	assert_int_equal(info.header_len, n);
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&info.src;
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(info.src_len, sizeof *sin);
	char s[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &sin->sin_addr, s, sizeof s);
	assert_string_equal(s, "203.0.113.7");
	assert_int_equal(ntohs(sin->sin_port), 12345);
	/* The TLS bytes after the header are not its business. */
	buf[n] = 0x16;
	assert_int_equal(proxy_v2_parse(buf, n + 1, &info, &need), PROXY_OK);
	assert_int_equal(info.header_len, n);
}

static void test_ipv6(void **state)
{
	(void)state;
	unsigned char body[36] = {0};
	inet_pton(AF_INET6, "2001:db8::42", body);
	inet_pton(AF_INET6, "::1", body + 16);
	body[32] = 0x01, body[33] = 0x02;
	unsigned char buf[64];
	size_t n = header(buf, 0x21, 0x21, body, sizeof body);
	struct proxy_info info;
	size_t need;
	assert_int_equal(proxy_v2_parse(buf, n, &info, &need), PROXY_OK);
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&info.src;
	assert_int_equal(sin6->sin6_family, AF_INET6);
	char s[INET6_ADDRSTRLEN];
	inet_ntop(AF_INET6, &sin6->sin6_addr, s, sizeof s);
	assert_string_equal(s, "2001:db8::42");
	assert_int_equal(ntohs(sin6->sin6_port), 0x0102);
}

static void test_local(void **state)
{
	(void)state;
	unsigned char buf[32];
	size_t n = header(buf, 0x20, 0x00, NULL, 0);
	struct proxy_info info;
	size_t need;
	assert_int_equal(proxy_v2_parse(buf, n, &info, &need), PROXY_OK);
	assert_true(info.local);
	assert_int_equal(info.header_len, 16);
	/* PROXY with UNSPEC or UNIX addresses: the connection's own. */
	n = header(buf, 0x21, 0x00, NULL, 0);
	assert_int_equal(proxy_v2_parse(buf, n, &info, &need), PROXY_OK);
	assert_true(info.local);
}

static void test_truncated(void **state)
{
	(void)state;
	unsigned char body[12] = {10, 0, 0, 1, 10, 0, 0, 2, 0, 1, 0, 2};
	unsigned char buf[64];
	size_t n = header(buf, 0x21, 0x11, body, sizeof body);
	struct proxy_info info;
	size_t need;
	for (size_t k = 0; k < n; k++) {
		assert_int_equal(proxy_v2_parse(buf, k, &info, &need), PROXY_NEED_MORE);
		assert_int_equal(need, k < 16 ? 16 : n);
	}
	/* A body shorter than the addresses its family needs. */
	n = header(buf, 0x21, 0x11, body, 8);
	assert_int_equal(proxy_v2_parse(buf, n, &info, &need), PROXY_BAD);
	n = header(buf, 0x21, 0x21, body, 12);
	assert_int_equal(proxy_v2_parse(buf, n, &info, &need), PROXY_BAD);
}

static void test_refused(void **state)
{
	(void)state;
	static const unsigned char zeros[600];
	unsigned char buf[1200] = {0};
	struct proxy_info info;
	size_t need;
	size_t n = header(buf, 0x21, 0x11, zeros, 12);
	/* A wrong signature byte, seen as soon as it arrives. */
	buf[3] ^= 1;
	assert_int_equal(proxy_v2_parse(buf, 4, &info, &need), PROXY_BAD);
	buf[3] ^= 1;
	/* A TLS ClientHello instead of a header: refused on its first byte. */
	const unsigned char tls[] = {0x16, 0x03, 0x01};
	assert_int_equal(proxy_v2_parse(tls, 1, &info, &need), PROXY_BAD);
	/* Version 1 (the text header) is not read. */
	const char *v1 = "PROXY TCP4 203.0.113.7 127.0.0.1 12345 443\r\n";
	assert_int_equal(proxy_v2_parse((const unsigned char *)v1, strlen(v1), &info, &need),
	                 PROXY_BAD);
	/* Another version, another command, a datagram transport. */
	buf[12] = 0x11;
	assert_int_equal(proxy_v2_parse(buf, n, &info, &need), PROXY_BAD);
	buf[12] = 0x22;
	assert_int_equal(proxy_v2_parse(buf, n, &info, &need), PROXY_BAD);
	buf[12] = 0x21;
	buf[13] = 0x12;
	assert_int_equal(proxy_v2_parse(buf, n, &info, &need), PROXY_BAD);
	buf[13] = 0x41; /* no such family */
	assert_int_equal(proxy_v2_parse(buf, n, &info, &need), PROXY_BAD);
	/* Longer than 536 bytes in all: refused from its length alone. */
	n = header(buf, 0x21, 0x11, zeros, 521);
	assert_int_equal(proxy_v2_parse(buf, 16, &info, &need), PROXY_BAD);
	n = header(buf, 0x21, 0x11, zeros, 520);
	assert_int_equal(proxy_v2_parse(buf, 16, &info, &need), PROXY_NEED_MORE);
	assert_int_equal(need, PROXY_V2_MAX);
	buf[16] = 1;
	assert_int_equal(proxy_v2_parse(buf, n, &info, &need), PROXY_OK);
	buf[14] = 0xff, buf[15] = 0xff;
	assert_int_equal(proxy_v2_parse(buf, 16, &info, &need), PROXY_BAD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ipv4),    cmocka_unit_test(test_ipv6),
	    cmocka_unit_test(test_local),   cmocka_unit_test(test_truncated),
	    cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
