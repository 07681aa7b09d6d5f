/*
 * Pages where a password is typed are not served over plain HTTP to other
 * machines once the HTTPS portal is on: the login and password-change
 * pages answer with a redirect to the same page on the HTTPS portal. The
 * local demo (a client on loopback, http://127.0.0.1:8080) keeps working;
 * http_login_redirect = always makes tests on loopback see what a remote
 * client sees.
 *
 * Behind a TLS-terminating proxy listed in trusted_proxies, a request the
 * proxy marks X-Forwarded-Proto: https counts as HTTPS (no redirect, and
 * Secure cookies); the client's address is the one the proxy forwarded.
 *
 * A redirected POST becomes a GET of the form over HTTPS (303): the
 * password that came over HTTP is not used, and the person types it again
 * where it is protected.
 */
#include "httpd.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

/* 127.0.0.0/8, ::1 and ::ffff:127.x.y.z */
static bool is_loopback(const char *addr)
{
	struct in_addr v4;
	struct in6_addr v6;
	if (inet_pton(AF_INET, addr, &v4) == 1)
		return (ntohl(v4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, addr, &v6) != 1)
		return false;
	if (IN6_IS_ADDR_LOOPBACK(&v6))
		return true;
	return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

/* A host name or IPv4 address from the Host header, without its port;
 * NULL when it holds anything else (then the listener's address is used). */
static const char *request_host(struct request *r)
{
	const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	if (!h)
		return NULL;
	size_t n = strcspn(h, ":");
	if (n == 0 || n > 253 || (h[n] && h[n] != ':'))
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char ch = h[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '.'))
			return NULL;
	}
	return arena_strndup(r->arena, h, n);
}

/* https://host[:port] of the HTTPS portal, without a final slash. */
static const char *https_base(struct request *r, const char *listen)
{
	const char *configured = config_get(r->srv->cfg, "https_url");
	if (*configured) {
		size_t n = strlen(configured);
		while (n && configured[n - 1] == '/')
			n--;
		return arena_strndup(r->arena, configured, n);
	}
	const char *colon = strrchr(listen, ':');
	const char *port = colon ? colon + 1 : "443";
	const char *host = request_host(r);
	if (!host) {
		host = colon ? arena_strndup(r->arena, listen, (size_t)(colon - listen)) : listen;
		if (strcmp(host, "0.0.0.0") == 0)
			host = "localhost";
	}
	if (strcmp(port, "443") == 0)
		return arena_printf(r->arena, "https://%s", host);
	return arena_printf(r->arena, "https://%s:%s", host, port);
}

/* The query arguments the login page reads, when they are plain words. */
static void append_query(struct request *r, struct buf *url)
{
	static const char *const keep[] = {"portal", "as"};
	char sep = '?';
	for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
		const char *v = req_query(r, keep[i]);
		if (!v || !*v || strlen(v) > 32 ||
		    strspn(v, "abcdefghijklmnopqrstuvwxyz_") != strlen(v))
			continue;
		buf_printf(url, "%c%s=%s", sep, keep[i], v);
		sep = '&';
	}
}

/* Keeps the value of the last X-Forwarded-Proto header line: the one the
 * trusted proxy in front of espd wrote. */
static enum MHD_Result last_proto(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
	(void)kind;
	if (key && value && strcasecmp(key, "X-Forwarded-Proto") == 0)
		*(const char **)cls = value;
	return MHD_YES;
}

bool request_over_https(struct request *r)
{
	if (r->listener != LISTEN_HTTP)
		return true;
	if (!r->via_proxy)
		return false;
	const char *proto = NULL;
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, last_proto, &proto);
	return proto && strcasecmp(proto, "https") == 0;
}

bool redirect_password_page_to_https(struct request *r)
{
	if (request_over_https(r))
		return false;
	const char *mode = config_get(r->srv->cfg, "http_login_redirect");
	const char *listen = config_get(r->srv->cfg, "https_listen");
	if (!*listen || strcmp(mode, "never") == 0)
		return false;
	if (strcmp(mode, "always") != 0 && is_loopback(r->client_addr))
		return false;
	struct buf url = {0};
	buf_printf(&url, "%s%s", https_base(r, listen), r->path);
	append_query(r, &url);
	redirect(r, url.data);
	buf_free(&url);
	return true;
}

const char *portal_base(struct request *r)
{
	if (r->listener != LISTEN_LOGIN)
		return "";
	const char *listen = config_get(r->srv->cfg, "https_listen");
	if (*listen || *config_get(r->srv->cfg, "https_url"))
		return https_base(r, listen);
	const char *pub = config_get(r->srv->cfg, "public_url");
	size_t n = strlen(pub);
	while (n && pub[n - 1] == '/')
		n--;
	return arena_strndup(r->arena, pub, n);
}
