/* espd's own accept loop for a listener behind a TCP proxy that sends the
 * PROXY protocol v2 header (proxy_accept.c). */
#ifndef ESPD_PROXY_ACCEPT_H
#define ESPD_PROXY_ACCEPT_H

#include <microhttpd.h>
#include <netinet/in.h>

struct proxy_acceptor;

/* Listens on sa and hands every connection to d (started with
 * MHD_USE_NO_LISTEN_SOCKET): from a trusted proxy after reading its header,
 * under the client's address; from anyone else at once, under its own.
 * NULL after logging when the address cannot be bound. */
struct proxy_acceptor *proxy_acceptor_start(const struct sockaddr_in *sa, struct MHD_Daemon *d);
/* Stops accepting and closes the connections whose header has not come. */
void proxy_acceptor_stop(struct proxy_acceptor *a);
/* Connections refused since the start: bad header, or none in time. */
unsigned long proxy_acceptor_refused(const struct proxy_acceptor *a);

#endif
