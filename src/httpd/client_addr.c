/*
 * The client's address behind a reverse proxy.  By default it is the TCP
 * peer.  When the peer is one of trusted_proxies, the proxy's own address
 * says nothing about the client: the client is then the LAST address in
 * X-Forwarded-For, the one that proxy appended. Earlier entries were
 * written by whoever sent the request and are never believed. From any
 * other peer the header is ignored, so a client cannot choose the address
 * its rate limits are counted under.
 */
#include "server.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_PROXIES 32

static struct {
	int family;
	unsigned char addr[16];
} proxies[MAX_PROXIES];
static int nproxies;

/* Parses one address into family and bytes; false when it is not one. */
static bool parse_ip(const char *s, int *family, unsigned char out[16])
{
	if (inet_pton(AF_INET, s, out) == 1) {
		*family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, s, out) == 1) {
		*family = AF_INET6;
		return true;
	}
	return false;
}

int client_addr_init(const char *list, char **bad)
{
	nproxies = 0;
	*bad = NULL;
	char *copy = xstrdup(list ? list : "");
	int rc = 0;
	for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *ip = str_trim(tok);
		if (!*ip)
			continue;
		if (nproxies == MAX_PROXIES ||
		    !parse_ip(ip, &proxies[nproxies].family, proxies[nproxies].addr)) {
			*bad = xstrdup(ip);
			rc = -1;
			break;
		}
		nproxies++;
	}
	free(copy);
	return rc;
}

static bool is_trusted(const char *peer)
{
	int family;
	unsigned char a[16];
	if (!parse_ip(peer, &family, a))
		return false;
	size_t n = family == AF_INET ? 4 : 16;
	for (int i = 0; i < nproxies; i++)
		if (proxies[i].family == family && memcmp(proxies[i].addr, a, n) == 0)
			return true;
	return false;
}

bool client_addr_trusted_sa(const struct sockaddr *sa)
{
	if (!nproxies)
		return false;
	const unsigned char *a;
	size_t n;
	if (sa->sa_family == AF_INET) {
		a = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
		n = 4;
	} else if (sa->sa_family == AF_INET6) {
		a = (const unsigned char *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
		n = 16;
	} else {
		return false;
	}
	for (int i = 0; i < nproxies; i++)
		if (proxies[i].family == sa->sa_family && memcmp(proxies[i].addr, a, n) == 0)
			return true;
	return false;
}

bool client_addr_have_proxies(void)
{
	return nproxies > 0;
}

/* Keeps the value of the last X-Forwarded-For header line. */
static enum MHD_Result last_xff(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
	(void)kind;
	if (key && value && strcasecmp(key, "X-Forwarded-For") == 0)
		*(const char **)cls = value;
	return MHD_YES;
}

void client_addr_behind_proxy(struct request *r)
{
	if (!nproxies || !is_trusted(r->client_addr))
		return;
	r->via_proxy = true;
	const char *xff = NULL;
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, last_xff, &xff);
	if (!xff)
		return;
	const char *comma = strrchr(xff, ',');
	char last[64];
	snprintf(last, sizeof last, "%s", comma ? comma + 1 : xff);
	char *ip = str_trim(last);
	int family;
	unsigned char a[16];
	if (!parse_ip(ip, &family, a)) {
		log_info(
		    "req=%llu X-Forwarded-For from proxy %s has no address last: using the proxy's",
		    (unsigned long long)r->id, r->client_addr);
		return;
	}
	/* The canonical spelling: one address, one rate-limit key. */
	inet_ntop(family, a, r->client_addr, sizeof r->client_addr);
}
