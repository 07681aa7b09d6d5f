/*
 * The certificate-login listener behind HAProxy in TCP mode: the TLS
 * session goes end to end, so the only place the client's address can
 * come from is a PROXY protocol v2 header HAProxy writes before it
 * (send-proxy-v2). libmicrohttpd cannot read one, so espd accepts the
 * connections itself and gives each to libmicrohttpd with
 * MHD_add_connection and the address it should know the client by, which
 * is then what the throttles, the per-address connection limit and the
 * logs see.
 *
 * The header is read only from peers in trusted_proxies, and must come
 * from them (a trusted peer cannot connect without one): anyone else could
 * otherwise choose the address its limits are counted under. Other peers'
 * connections are handed over untouched; one of them that sends a header
 * anyway fails its TLS handshake on it.
 *
 * One thread waits on the listening socket and on every header still
 * arriving at once (poll), with an absolute deadline per connection and
 * a bound on how many may wait: a proxy that connects and says nothing
 * holds a slot for PROXY_HEADER_MS at most, never the thread. Bytes are
 * read only up to the header's end, so the TLS bytes after it stay in the
 * socket for libmicrohttpd.
 */
#include "proxy_accept.h"
#include "proxy_proto.h"
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PROXY_HEADER_MS 2000 /* from accept to the header's last byte */
#define PROXY_PENDING 64     /* trusted connections waiting for their header */

struct pending {
	int fd;
	int64_t deadline_us;
	bool local;                   /* a LOCAL header came: waiting for the first TLS byte */
	struct sockaddr_storage peer; /* the proxy itself */
	socklen_t peer_len;
	size_t have;
	unsigned char buf[PROXY_V2_MAX];
};

struct proxy_acceptor {
	int listen_fd;
	int wake[2]; /* a byte in wake[1] stops the thread */
	struct MHD_Daemon *daemon;
	pthread_t thread;
	unsigned long refused;
	int npending;
	struct pending pending[PROXY_PENDING];
};

static void hand_over(struct proxy_acceptor *a, int fd, const struct sockaddr *sa, socklen_t len)
{
	/* On failure libmicrohttpd closes the socket itself (limits reached). */
	if (MHD_add_connection(a->daemon, fd, sa, len) != MHD_YES)
		log_info("certificate login: connection not taken (connection limits)");
}

static void drop_pending(struct proxy_acceptor *a, int i, const char *why)
{
	if (why) {
		__atomic_add_fetch(&a->refused, 1, __ATOMIC_RELAXED);
		log_info("certificate login: connection from a trusted proxy closed: %s", why);
	}
	close(a->pending[i].fd);
	a->pending[i] = a->pending[--a->npending];
}

/* Reads what has arrived of the header, never past its end. */
static void read_header(struct proxy_acceptor *a, int i)
{
	struct pending *p = &a->pending[i];
	struct proxy_info info;
	size_t need = PROXY_V2_FIXED;
	if (p->local) {
		/* A LOCAL header is the proxy's own connection, and in practice
		 * its health check, which leaves at once: only a connection that
		 * goes on to send TLS bytes is handed over, and one that leaves
		 * goes without a word (no failed handshake in the log). */
		char byte;
		ssize_t n = recv(p->fd, &byte, 1, MSG_PEEK);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (n <= 0) {
			drop_pending(a, i, NULL);
			return;
		}
		struct pending q = *p;
		a->pending[i] = a->pending[--a->npending];
		hand_over(a, q.fd, (struct sockaddr *)&q.peer, q.peer_len);
		return;
	}
	for (;;) {
		enum proxy_result res = proxy_v2_parse(p->buf, p->have, &info, &need);
		if (res == PROXY_BAD) {
			drop_pending(a, i, "no valid PROXY protocol v2 header");
			return;
		}
		if (res == PROXY_OK)
			break;
		ssize_t n = recv(p->fd, p->buf + p->have, need - p->have, 0);
		if (n > 0) {
			p->have += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return; /* the rest later */
		/* Closed before a whole header: a health check connects and
		 * leaves without a byte, which is no refusal worth a line. */
		drop_pending(a, i, p->have ? "closed inside the PROXY header" : NULL);
		return;
	}
	if (info.local) {
		p->local = true;
		read_header(a, i);
		return;
	}
	int fd = p->fd;
	a->pending[i] = a->pending[--a->npending];
	hand_over(a, fd, (struct sockaddr *)&info.src, info.src_len);
}

static void accept_one(struct proxy_acceptor *a)
{
	struct sockaddr_storage peer;
	socklen_t plen = sizeof peer;
	int fd =
	    accept4(a->listen_fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return; /* EAGAIN, or a connection reset before accept */
	if (!client_addr_trusted_sa((struct sockaddr *)&peer)) {
		hand_over(a, fd, (struct sockaddr *)&peer, plen);
		return;
	}
	if (a->npending == PROXY_PENDING) {
		/* The oldest has had the longest: it goes first. */
		int oldest = 0;
		for (int i = 1; i < a->npending; i++)
			if (a->pending[i].deadline_us < a->pending[oldest].deadline_us)
				oldest = i;
		drop_pending(a, oldest, "too many connections waiting for their PROXY header");
	}
	struct pending *p = &a->pending[a->npending++];
	p->fd = fd;
	p->have = 0;
	p->local = false;
	memcpy(&p->peer, &peer, plen);
	p->peer_len = plen;
	p->deadline_us = time_now_us() + (int64_t)PROXY_HEADER_MS * 1000;
	read_header(a, a->npending - 1);
}

static void *acceptor_main(void *arg)
{
	struct proxy_acceptor *a = arg;
	struct pollfd fds[2 + PROXY_PENDING];
	for (;;) {
		int64_t now = time_now_us();
		for (int i = a->npending - 1; i >= 0; i--)
			if (a->pending[i].deadline_us <= now)
				drop_pending(
				    a, i, a->pending[i].local ? NULL : "no PROXY header in time");
		int64_t next = now + 60 * 1000000LL;
		fds[0] = (struct pollfd){.fd = a->wake[0], .events = POLLIN};
		fds[1] = (struct pollfd){.fd = a->listen_fd, .events = POLLIN};
		int n = a->npending;
		for (int i = 0; i < n; i++) {
			fds[2 + i] = (struct pollfd){.fd = a->pending[i].fd, .events = POLLIN};
			if (a->pending[i].deadline_us < next)
				next = a->pending[i].deadline_us;
		}
		int timeout = (int)((next - now) / 1000) + 1;
		if (poll(fds, (nfds_t)(2 + n), timeout) < 0 && errno != EINTR) {
			log_error(
			    "certificate login: poll failed (%s): no more connections accepted",
			    strerror(errno));
			break;
		}
		if (fds[0].revents)
			break;
		/* Walk backwards: read_header may move the last one into slot i. */
		for (int i = n - 1; i >= 0; i--)
			if (fds[2 + i].revents && a->pending[i].fd == fds[2 + i].fd)
				read_header(a, i);
		if (fds[1].revents & POLLIN)
			for (int k = 0; k < 64; k++) {
				accept_one(a);
				struct pollfd l = {.fd = a->listen_fd, .events = POLLIN};
				if (poll(&l, 1, 0) <= 0)
					break;
			}
	}
	while (a->npending)
		drop_pending(a, a->npending - 1, NULL);
	return NULL;
}

struct proxy_acceptor *proxy_acceptor_start(const struct sockaddr_in *sa, struct MHD_Daemon *d)
{
	struct proxy_acceptor *a = xcalloc(1, sizeof *a);
	a->daemon = d;
	a->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (a->listen_fd < 0 ||
	    setsockopt(a->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(a->listen_fd, (const struct sockaddr *)sa, sizeof *sa) != 0 ||
	    listen(a->listen_fd, 512) != 0 || pipe2(a->wake, O_CLOEXEC) != 0) {
		log_error("certificate login: cannot listen: %s", strerror(errno));
		if (a->listen_fd >= 0)
			close(a->listen_fd);
		free(a);
		return NULL;
	}
	if (pthread_create(&a->thread, NULL, acceptor_main, a) != 0) {
		log_error("certificate login: cannot start the accepting thread");
		close(a->listen_fd);
		close(a->wake[0]);
		close(a->wake[1]);
		free(a);
		return NULL;
	}
	return a;
}

void proxy_acceptor_stop(struct proxy_acceptor *a)
{
	if (!a)
		return;
	if (write(a->wake[1], "x", 1) != 1)
		log_error("certificate login: cannot wake the accepting thread");
	pthread_join(a->thread, NULL);
	close(a->listen_fd);
	close(a->wake[0]);
	close(a->wake[1]);
	free(a);
}

unsigned long proxy_acceptor_refused(const struct proxy_acceptor *a)
{
	return a ? __atomic_load_n(&a->refused, __ATOMIC_RELAXED) : 0;
}
