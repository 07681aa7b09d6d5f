/*
 * baseline_mhd: the bare libmicrohttpd reply that bench/portal_bench.sh
 * compares espd's portal page against. It answers every request (any
 * method, any URL) with 200 and a fixed HTML body of N bytes, set up like
 * espd's listeners (thread pool, epoll, internal polling thread, response
 * queued on the second call so keep-alive holds) and with the same header
 * set espd sends on the HTTP listener (four security headers plus
 * Content-Type). No database, no session, no template: the floor.
 *
 * Usage: baseline_mhd PORT BODY_BYTES [THREADS [POOL_BYTES]]
 * POOL_BYTES: each connection's memory pool (MHD_OPTION_CONNECTION_MEMORY_LIMIT;
 * libmicrohttpd's default, 32 KiB, when absent), which libmicrohttpd zeroes
 * after every request: portal_bench.sh gives it espd's.
 * Listens on 127.0.0.1:PORT until SIGINT or SIGTERM.
 */
#include <microhttpd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const headers[][2] = {
    {"Content-Security-Policy",
     "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"},
    {"X-Content-Type-Options", "nosniff"},
    {"X-Frame-Options", "DENY"},
    {"Referrer-Policy", "same-origin"},
    {"Content-Type", "text/html; charset=utf-8"},
};

static char *body;
static size_t body_len;

/* The marker that tells the first call of a request from the later ones. */
static int first_call_marker;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
	(void)cls;
	(void)url;
	(void)method;
	(void)version;
	(void)upload_data;
	if (*req_cls == NULL) {
		/* Queueing here would cost keep-alive (see shared pitfalls). */
		*req_cls = &first_call_marker;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0; /* discard any body */
		return MHD_YES;
	}
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(body_len, body, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++)
		MHD_add_response_header(resp, headers[i][0], headers[i][1]);
	enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* A body that looks like an HTML page: an envelope filled with table rows. */
static void make_body(size_t n)
{
	static const char head[] = "<!doctype html><html lang=\"zh-CN\"><body><table>\n";
	static const char tail[] = "</table></body></html>\n";
	static const char row[] =
	    "<tr><td>测试单位</td><td>913501000000000000</td><td>待审核</td></tr>\n";
	body = malloc(n + 1);
	if (!body) {
		perror("malloc");
		exit(2);
	}
	size_t len = 0;
	if (n >= sizeof head - 1 + sizeof tail - 1) {
		memcpy(body, head, sizeof head - 1);
		len = sizeof head - 1;
		while (len + sizeof row - 1 + sizeof tail - 1 <= n) {
			memcpy(body + len, row, sizeof row - 1);
			len += sizeof row - 1;
		}
		while (len + sizeof tail - 1 < n)
			body[len++] = ' ';
		memcpy(body + len, tail, sizeof tail - 1);
		len += sizeof tail - 1;
	} else {
		memset(body, ' ', n);
		len = n;
	}
	body[len] = '\0';
	body_len = len;
}

static volatile sig_atomic_t stopping;
static void on_signal(int sig)
{
	stopping = sig;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s PORT BODY_BYTES [THREADS [POOL_BYTES]]\n", argv[0]);
		return 1;
	}
	long port = strtol(argv[1], NULL, 10);
	long n = strtol(argv[2], NULL, 10);
	long threads = argc > 3 ? strtol(argv[3], NULL, 10) : 2;
	long pool = argc > 4 ? strtol(argv[4], NULL, 10) : 32 * 1024;
	if (port <= 0 || port > 65535 || n < 0 || n > 64L * 1024 * 1024 || threads < 1 ||
	    threads > 64 || pool < 4096 || pool > 16L * 1024 * 1024) {
		fprintf(stderr, "%s: bad arguments\n", argv[0]);
		return 1;
	}
	make_body((size_t)n);

	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	struct MHD_Daemon *d = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_USE_ITC, 0,
	    NULL, NULL, on_request, NULL, MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)threads,
	    MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)pool, MHD_OPTION_LISTENING_ADDRESS_REUSE,
	    (unsigned int)1, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "%s: cannot listen on 127.0.0.1:%ld\n", argv[0], port);
		free(body);
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	fprintf(stderr,
	        "baseline_mhd: 127.0.0.1:%ld, body %zu bytes, %ld threads, pool %ld bytes\n", port,
	        body_len, threads, pool);
	while (!stopping)
		pause();
	MHD_stop_daemon(d);
	free(body);
	return 0;
}
