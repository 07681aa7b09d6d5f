/*
 * The PROXY protocol version 2 header (haproxy.org, proxy-protocol.txt,
 * section 2.2): 12 bytes of signature, version and command, address family
 * and transport, the length of what follows (big endian), then the
 * addresses and optional TLVs. Only version 2 is read: the binary header
 * has a fixed layout and a length known after 16 bytes, where the v1 text
 * line would need a line parser for no gain (HAProxy sends either).
 */
#include "proxy_proto.h"

#include <netinet/in.h>
#include <string.h>

static const unsigned char signature[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                            0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

enum {
	CMD_LOCAL = 0x0,
	CMD_PROXY = 0x1,
	FAM_UNSPEC = 0x0,
	FAM_INET = 0x1,
	FAM_INET6 = 0x2,
	FAM_UNIX = 0x3,
	PROTO_UNSPEC = 0x0,
	PROTO_STREAM = 0x1,
	LEN_INET = 12,  /* src, dst addresses (4 each), src, dst ports */
	LEN_INET6 = 36, /* 16 each, then the ports */
};

enum proxy_result proxy_v2_parse(const unsigned char *buf, size_t len, struct proxy_info *out,
                                 size_t *need)
{
	memset(out, 0, sizeof *out);
	*need = PROXY_V2_FIXED;
	size_t sig = len < sizeof signature ? len : sizeof signature;
	if (memcmp(buf, signature, sig) != 0)
		return PROXY_BAD;
	if (len < PROXY_V2_FIXED)
		return PROXY_NEED_MORE;
	unsigned version = buf[12] >> 4, command = buf[12] & 0x0f;
	unsigned family = buf[13] >> 4, proto = buf[13] & 0x0f;
	size_t body = (size_t)buf[14] << 8 | buf[15];
	if (version != 2 || (command != CMD_LOCAL && command != CMD_PROXY))
		return PROXY_BAD;
	if (body > PROXY_V2_MAX - PROXY_V2_FIXED)
		return PROXY_BAD;
	*need = PROXY_V2_FIXED + body;
	if (len < *need)
		return PROXY_NEED_MORE;
	out->header_len = *need;
	const unsigned char *a = buf + PROXY_V2_FIXED;
	/* LOCAL: the proxy's own connection (a health check); what follows is
	 * to be ignored. */
	if (command == CMD_LOCAL) {
		out->local = true;
		return PROXY_OK;
	}
	/* We take TCP over IPv4 or IPv6; a stream of another family carries no
	 * address we can use, and the receiver then uses the connection's. */
	if (proto != PROTO_STREAM && !(family == FAM_UNSPEC && proto == PROTO_UNSPEC))
		return PROXY_BAD;
	if (family == FAM_UNSPEC || family == FAM_UNIX) {
		out->local = true;
		return PROXY_OK;
	}
	if (family == FAM_INET) {
		if (body < LEN_INET)
			return PROXY_BAD;
		struct sockaddr_in *sin = (struct sockaddr_in *)&out->src;
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, a, 4);
		memcpy(&sin->sin_port, a + 8, 2);
		out->src_len = sizeof *sin;
		return PROXY_OK;
	}
	if (family == FAM_INET6) {
		if (body < LEN_INET6)
			return PROXY_BAD;
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->src;
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, a, 16);
		memcpy(&sin6->sin6_port, a + 32, 2);
		out->src_len = sizeof *sin6;
		return PROXY_OK;
	}
	return PROXY_BAD;
}
