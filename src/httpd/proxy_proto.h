/* The PROXY protocol version 2 header (proxy_proto.c): the client's
 * address a TCP proxy (HAProxy send-proxy-v2) puts before the stream. */
#ifndef ESPD_PROXY_PROTO_H
#define ESPD_PROXY_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* The longest header: 16 bytes, then at most 520 of addresses and TLVs
 * (the limit HAProxy's specification sets for receivers' buffers). */
#define PROXY_V2_MAX 536
#define PROXY_V2_FIXED 16

enum proxy_result {
	PROXY_OK,        /* a whole header: *out is filled */
	PROXY_NEED_MORE, /* a valid start: *need bytes make the whole header */
	PROXY_BAD,       /* not a v2 header (a v1 text header included), or malformed */
};

struct proxy_info {
	bool local;                  /* LOCAL command, or addresses of a family we do not take
	                                (UNSPEC, UNIX): the connection's own peer is the client */
	struct sockaddr_storage src; /* the client, when !local */
	socklen_t src_len;
	size_t header_len; /* bytes the header took, PROXY_V2_FIXED..PROXY_V2_MAX */
};

/* Reads the header from the first len bytes of buf (what has arrived so
 * far). Never reads past len; refuses as soon as the bytes cannot begin a
 * header, so a peer that sends TLS instead is refused on its first bytes. */
enum proxy_result proxy_v2_parse(const unsigned char *buf, size_t len, struct proxy_info *out,
                                 size_t *need);

#endif
