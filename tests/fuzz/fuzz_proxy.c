/*
 * libFuzzer target for the PROXY protocol v2 parser (src/httpd/proxy_proto.c),
 * which reads bytes from the network before anything else does. Every prefix
 * of the input is parsed as it would arrive, and what the parser says must
 * hold: a header it accepts lies within the bytes given and within 536, a
 * prefix it refuses stays refused when more bytes come, and an address it
 * returns has a family and length that agree.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/httpd/proxy_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void broken(const char *what, size_t k)
{
	fprintf(stderr, "fuzz_proxy: %s (prefix of %zu bytes)\n", what, k);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly size bytes: ASan sees any read past the end. */
	unsigned char *buf = malloc(size ? size : 1);
	memcpy(buf, data, size);
	enum proxy_result prev = PROXY_NEED_MORE;
	for (size_t k = 0; k <= size; k++) {
		struct proxy_info info;
		size_t need = 0;
		enum proxy_result r = proxy_v2_parse(buf, k, &info, &need);
		if (prev == PROXY_BAD && r != PROXY_BAD)
			broken("a refused prefix accepted with more bytes", k);
		if (prev == PROXY_OK && r != PROXY_OK)
			broken("an accepted header refused with more bytes", k);
		if (r == PROXY_NEED_MORE && (need <= k || need > PROXY_V2_MAX))
			broken("asks for bytes it has, or more than 536", k);
		if (r == PROXY_OK) {
			if (info.header_len < PROXY_V2_FIXED || info.header_len > k ||
			    info.header_len > PROXY_V2_MAX)
				broken("header length out of bounds", k);
			if (!info.local && !((info.src.ss_family == AF_INET &&
			                      info.src_len == sizeof(struct sockaddr_in)) ||
			                     (info.src.ss_family == AF_INET6 &&
			                      info.src_len == sizeof(struct sockaddr_in6))))
				broken("an address whose family and length disagree", k);
		}
		prev = r;
	}
	free(buf);
	return 0;
}
