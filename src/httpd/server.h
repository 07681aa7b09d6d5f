/* espd's listeners and the libmicrohttpd callbacks. */
#ifndef ESPD_SERVER_H
#define ESPD_SERVER_H

#include "httpd.h"

struct listener_ctx {
	struct server *srv;
	enum listener kind;
	struct MHD_Daemon *daemon;
	struct proxy_acceptor *acceptor; /* espd accepts (login_proxy_protocol) */
};

enum MHD_Result server_access(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls);
void server_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                      enum MHD_RequestTerminationCode toe);

/* The client's address behind trusted reverse proxies (client_addr.c):
 * init parses the trusted_proxies list (-1 and *bad, malloc'ed, naming the
 * entry that is not an IP address); behind_proxy replaces r->client_addr,
 * the TCP peer, by the last X-Forwarded-For address when the peer is one. */
int client_addr_init(const char *list, char **bad);
void client_addr_behind_proxy(struct request *r);
/* Whether a socket address (IPv4 or IPv6) is one of trusted_proxies. */
bool client_addr_trusted_sa(const struct sockaddr *sa);
bool client_addr_have_proxies(void);

#endif
