/*
 * login_baseline: the floor that bench/login_bench.sh compares ESP's
 * certificate login listener against. A tiny GnuTLS server with the same
 * server key and certificate as espd and the same client-certificate
 * request (trust = ESP's CA chain, GNUTLS_CERT_REQUEST, as libmicrohttpd
 * sets up with MHD_OPTION_HTTPS_MEM_TRUST), the default priorities, no
 * session resumption on purpose (no cache; tickets left as GnuTLS's
 * default, like libmicrohttpd). No libmicrohttpd, no store, no OpenSSL
 * verification of the client certificate.
 *
 * On each connection: full handshake; then if the client sends an HTTP
 * request, it is read up to the end of its headers and answered with a
 * fixed `303 See Other` to /mgmt with a constant `Set-Cookie: esp_session`
 * (what espd answers, minus the work); if the client sends close_notify
 * instead (login_bench --mode=bare), the connection is closed.
 *
 * THREADS blocking threads accept on one listening socket (blocking I/O
 * waits for the client between flights: give it more threads than cores).
 *
 * NODELAY (default 1) sets TCP_NODELAY on every accepted socket; 0 leaves
 * Nagle's algorithm on (to show what it costs a TLS handshake).
 *
 * Usage: login_baseline PORT KEY_PEM CERT_PEM TRUST_PEM [THREADS [NODELAY]]
 * Listens on 127.0.0.1:PORT until SIGINT or SIGTERM.
 */
#include <gnutls/gnutls.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static gnutls_certificate_credentials_t cred;
static gnutls_priority_t prio;
static int listen_fd;
static int nodelay = 1;

static const char reply[] =
    "HTTP/1.1 303 See Other\r\n"
    "Location: /mgmt\r\n"
    "Set-Cookie: esp_session=0123456789abcdef0123456789abcdef0123456789ab; Path=/; Secure; "
    "HttpOnly; SameSite=Lax\r\n"
    "Content-Length: 0\r\n"
    "Connection: close\r\n\r\n";

static void serve(int fd)
{
	gnutls_session_t s;
	if (gnutls_init(&s, GNUTLS_SERVER | GNUTLS_NO_SIGNAL) != GNUTLS_E_SUCCESS) {
		close(fd);
		return;
	}
	gnutls_priority_set(s, prio);
	gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
	gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUEST);
	gnutls_transport_set_int(s, fd);
	gnutls_handshake_set_timeout(s, 10000);
	int rc;
	do
		rc = gnutls_handshake(s);
	while (rc < 0 && !gnutls_error_is_fatal(rc));
	if (rc == GNUTLS_E_SUCCESS) {
		/* Take the client's certificate as espd does (no verification). */
		unsigned n = 0;
		(void)gnutls_certificate_get_peers(s, &n);
		char buf[8192];
		size_t len = 0;
		for (;;) {
			ssize_t r = gnutls_record_recv(s, buf + len, sizeof buf - 1 - len);
			if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
				continue;
			if (r <= 0)
				break; /* close_notify (bare) or an error */
			len += (size_t)r;
			buf[len] = '\0';
			if (strstr(buf, "\r\n\r\n")) {
				gnutls_record_send(s, reply, sizeof reply - 1);
				gnutls_bye(s, GNUTLS_SHUT_WR);
				break;
			}
			if (len == sizeof buf - 1)
				break;
		}
	}
	gnutls_deinit(s);
	close(fd);
}

static void *worker(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept(listen_fd, NULL, NULL);
		if (fd < 0)
			continue;
		if (nodelay)
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof nodelay);
		serve(fd);
	}
	return NULL;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	char *b = malloc(cap);
	size_t r;
	while (b && (r = fread(b + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap)
			b = realloc(b, cap *= 2);
	}
	fclose(f);
	*len = n;
	return b;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(
		    stderr,
		    "usage: login_baseline PORT KEY_PEM CERT_PEM TRUST_PEM [THREADS [NODELAY]]\n");
		return 2;
	}
	int port = atoi(argv[1]);
	int threads = argc > 5 ? atoi(argv[5]) : 8;
	nodelay = argc > 6 ? atoi(argv[6]) != 0 : 1;
	size_t kl = 0, cl = 0, tl = 0;
	char *key = read_file(argv[2], &kl), *crt = read_file(argv[3], &cl),
	     *trust = read_file(argv[4], &tl);
	if (!key || !crt || !trust || threads < 1) {
		fprintf(stderr, "login_baseline: cannot read the key, certificate or trust file\n");
		return 2;
	}
	gnutls_global_init();
	gnutls_certificate_allocate_credentials(&cred);
	gnutls_datum_t k = {(unsigned char *)key, (unsigned)kl},
	               c = {(unsigned char *)crt, (unsigned)cl},
	               t = {(unsigned char *)trust, (unsigned)tl};
	if (gnutls_certificate_set_x509_key_mem(cred, &c, &k, GNUTLS_X509_FMT_PEM) < 0 ||
	    gnutls_certificate_set_x509_trust_mem(cred, &t, GNUTLS_X509_FMT_PEM) < 1 ||
	    gnutls_priority_init(&prio, NULL, NULL) < 0) {
		fprintf(stderr, "login_baseline: GnuTLS set-up failed\n");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    listen(listen_fd, 1024) != 0) {
		perror("login_baseline: listen");
		return 1;
	}
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	for (int i = 0; i < threads; i++) {
		pthread_t tid;
		if (pthread_create(&tid, NULL, worker, NULL) != 0) {
			fprintf(stderr, "login_baseline: cannot start threads\n");
			return 1;
		}
		pthread_detach(tid);
	}
	int sig = 0;
	sigwait(&stop, &sig);
	return 0;
}
