/*
 * issue_bench: a load client for ESP's issuance API over HTTPS.
 *
 * Opens CONNECTIONS TLS connections (OpenSSL, TLS 1.2 or later, the server
 * certificate verified against ESP's /ca/chain.pem and the host name), one
 * thread each, and sends COUNT requests
 *
 *   POST /api/v1/applications/{number}/certificates   (HTTP/1.1, keep-alive)
 *   Authorization: Bearer TOKEN
 *   {"csr": "<PEM>", "token_serial": "<PREFIX>-<i>"}
 *
 * request i going to application i / SETS of the APPS file, with CSR i of
 * the CSRS file (lines written by bench/issue_csrgen).  All requests are
 * built, and all connections set up, before the clock starts; the clock
 * stops at the last response.  Each request's latency is the time from the
 * first byte written to the last byte of the response read.
 *
 * Prints certificates/s (201 Created answers per second of wall time), the
 * latency percentiles, and the errors: any answer other than 201, any answer
 * without a certificate, any I/O or TLS failure.  The last line is for
 * scripts:  RESULT count=.. created=.. errors=.. seconds=.. cps=.. p50_ms=..
 *           p90_ms=.. p99_ms=.. max_ms=.. reconnects=..
 * Exits 1 when there was any error.  A benchmark, never a test.
 *
 * With --cfssl it drives CloudFlare's `cfssl serve` instead, the peer of the
 * benchmark: the same CSRs, one each, to
 *
 *   POST /api/v1/cfssl/sign   {"certificate_request": "<PEM>"}
 *
 * counting 200 answers with a certificate; over TLS when --cafile is given
 * (cfssl serve -tls-cert/-tls-key), in plain HTTP with --plain.  --token and
 * --apps are not used then.
 *
 * With --plain instead of --cafile it speaks plain HTTP to espd's HTTP
 * listener, as it does to cfssl: the same requests without TLS.
 *
 * Usage: issue_bench --port=P (--cafile=chain.pem | --plain) --token=T --apps=FILE
 *        --csrs=FILE [--host=127.0.0.1] [--count=10000] [--connections=8]
 *        [--sets=99] [--prefix=BENCH] [--sample=FILE]
 *        issue_bench --cfssl [--plain | --cafile=ca.pem] --port=P --csrs=FILE ...
 */
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct opts {
	const char *host, *cafile, *token, *apps, *csrs, *prefix, *sample;
	int port, connections, sets;
	long count;
	bool cfssl, plain;
};

struct conn {
	SSL *ssl;
	int fd;
};

struct worker {
	pthread_t th;
	int id;
	struct conn c;
	long done, created, errors, reconnects;
	double last_end;
};

static struct opts O = {
    .host = "127.0.0.1", .prefix = "BENCH", .connections = 8, .sets = 99, .count = 10000};
static SSL_CTX *ctx;
static char **requests; /* the COUNT requests, ready to write */
static size_t *request_len;
static double *latency_ms; /* per request, -1 when it failed */
static int *status;        /* per request: HTTP status, 0 on I/O failure */
static atomic_long next_request;
static pthread_barrier_t ready;
static double t_start;
static pthread_mutex_t sample_lock = PTHREAD_MUTEX_INITIALIZER;
static bool sample_written;
static char negotiated[96] = "?"; /* protocol and cipher of the first connection */
static pthread_once_t negotiated_once = PTHREAD_ONCE_INIT;
static SSL *first_ssl;

static void note_negotiated(void)
{
	snprintf(negotiated, sizeof negotiated, "%s %s", SSL_get_version(first_ssl),
	         SSL_CIPHER_get_name(SSL_get_current_cipher(first_ssl)));
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "issue_bench: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(2);
}

/* A whole file's lines (without their newline). */
static char **read_lines(const char *path, long *n)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		exit(2);
	}
	char **lines = NULL;
	long cap = 0, count = 0;
	char *line = NULL;
	size_t lcap = 0;
	ssize_t len;
	while ((len = getline(&line, &lcap, f)) >= 0) {
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		if (count == cap) {
			cap = cap ? cap * 2 : 1024;
			lines = realloc(lines, (size_t)cap * sizeof *lines);
			if (!lines)
				die("out of memory");
		}
		lines[count++] = strdup(line);
	}
	free(line);
	fclose(f);
	*n = count;
	return lines;
}

static void conn_close(struct conn *c)
{
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	if (c->fd >= 0)
		close(c->fd);
	c->ssl = NULL;
	c->fd = -1;
}

static bool conn_open(struct conn *c)
{
	c->ssl = NULL;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return false;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)O.port)};
	if (inet_pton(AF_INET, O.host, &sa.sin_addr) != 1 ||
	    connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		conn_close(c);
		return false;
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (O.plain) {
		snprintf(negotiated, sizeof negotiated, "plain HTTP");
		return true;
	}
	c->ssl = SSL_new(ctx);
	/* The server certificate must name the host (its SAN has 127.0.0.1). */
	if (!c->ssl || SSL_set1_host(c->ssl, O.host) != 1 || SSL_set_fd(c->ssl, c->fd) != 1 ||
	    SSL_connect(c->ssl) != 1 || SSL_get_verify_result(c->ssl) != X509_V_OK) {
		ERR_print_errors_fp(stderr);
		conn_close(c);
		return false;
	}
	static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_lock(&m);
	first_ssl = c->ssl;
	pthread_once(&negotiated_once, note_negotiated);
	pthread_mutex_unlock(&m);
	return true;
}

/* One read or write on the connection, TLS or plain; false on failure. */
static bool io_write(struct conn *c, const char *p, size_t n, size_t *done)
{
	if (c->ssl)
		return SSL_write_ex(c->ssl, p, n, done) == 1;
	ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
	*done = w > 0 ? (size_t)w : 0;
	return w > 0;
}

static bool io_read(struct conn *c, char *p, size_t n, size_t *done)
{
	if (c->ssl)
		return SSL_read_ex(c->ssl, p, n, done) == 1;
	ssize_t r = recv(c->fd, p, n, 0);
	*done = r > 0 ? (size_t)r : 0;
	return r > 0;
}

static bool write_all(struct conn *c, const char *p, size_t n)
{
	while (n) {
		size_t w = 0;
		if (!io_write(c, p, n, &w))
			return false;
		p += w;
		n -= w;
	}
	return true;
}

/* Reads one response; returns its status (0 on failure) and the body in
 * *body (NUL-terminated, owned by the caller's buffer). Sets *close_after
 * when the server said it closes the connection. */
static int read_response(struct conn *c, char **buf, size_t *cap, char **body, bool *close_after)
{
	size_t have = 0, head_end = 0;
	*close_after = false;
	for (;;) {
		if (have + 4096 + 1 > *cap) {
			*cap = (*cap + 4096) * 2;
			*buf = realloc(*buf, *cap);
			if (!*buf)
				die("out of memory");
		}
		size_t got = 0;
		if (!io_read(c, *buf + have, *cap - have - 1, &got))
			return 0;
		have += got;
		(*buf)[have] = '\0';
		char *e = strstr(*buf, "\r\n\r\n");
		if (e) {
			head_end = (size_t)(e - *buf) + 4;
			break;
		}
		if (have > 65536)
			return 0;
	}
	int st = 0;
	if (sscanf(*buf, "HTTP/1.%*d %d", &st) != 1)
		return 0;
	long content_length = -1;
	for (char *line = strstr(*buf, "\r\n"); line && (size_t)(line - *buf) + 2 < head_end;
	     line = strstr(line + 2, "\r\n")) {
		char *h = line + 2;
		if (strncasecmp(h, "Content-Length:", 15) == 0)
			content_length = strtol(h + 15, NULL, 10);
		else if (strncasecmp(h, "Connection:", 11) == 0) {
			const char *v = h + 11;
			while (*v == ' ')
				v++;
			if (strncasecmp(v, "close", 5) == 0)
				*close_after = true;
		} else if (strncasecmp(h, "Transfer-Encoding:", 18) == 0) {
			return 0; /* ESP answers with a Content-Length; chunked is not expected */
		}
	}
	if (content_length < 0)
		return 0;
	size_t total = head_end + (size_t)content_length;
	if (total + 1 > *cap) {
		*cap = total + 1;
		*buf = realloc(*buf, *cap);
		if (!*buf)
			die("out of memory");
	}
	while (have < total) {
		size_t got = 0;
		if (!io_read(c, *buf + have, total - have, &got))
			return 0;
		have += got;
	}
	if (have != total)
		return 0; /* pipelining is never used: nothing may follow */
	(*buf)[total] = '\0';
	*body = *buf + head_end;
	return st;
}

static void keep_sample(const char *body)
{
	/* The first certificate, decoded from its JSON string, for a check with
	 * openssl verify by the script. */
	pthread_mutex_lock(&sample_lock);
	if (!sample_written && O.sample) {
		const char *p = strstr(body, "\"certificate\"");
		p = p ? strchr(p + 13, '"') : NULL;
		FILE *f = p ? fopen(O.sample, "w") : NULL;
		if (f) {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1] == 'n') {
					fputc('\n', f);
					p++;
				} else if (*p == '\\' && p[1]) {
					fputc(*++p, f);
				} else {
					fputc(*p, f);
				}
			}
			fclose(f);
			sample_written = true;
		}
	}
	pthread_mutex_unlock(&sample_lock);
}

static void *run(void *arg)
{
	struct worker *w = arg;
	bool up = conn_open(&w->c);
	if (!up)
		fprintf(stderr, "issue_bench: connection %d: TLS set-up failed\n", w->id);
	pthread_barrier_wait(&ready);
	char *buf = NULL, *body = NULL;
	size_t cap = 0;
	for (;;) {
		long i = atomic_fetch_add(&next_request, 1);
		if (i >= O.count)
			break;
		if (!up) {
			up = conn_open(&w->c);
			w->reconnects++;
		}
		double t0 = now_s();
		int st = 0;
		bool close_after = true;
		if (up && write_all(&w->c, requests[i], request_len[i]))
			st = read_response(&w->c, &buf, &cap, &body, &close_after);
		double t1 = now_s();
		w->done++;
		w->last_end = t1;
		status[i] = st;
		latency_ms[i] = st ? (t1 - t0) * 1000.0 : -1;
		if (st == (O.cfssl ? 200 : 201) && strstr(body, "BEGIN CERTIFICATE")) {
			w->created++;
			if (!sample_written)
				keep_sample(body);
		} else {
			w->errors++;
			if (w->errors <= 3)
				fprintf(stderr, "issue_bench: request %ld: HTTP %d %.200s\n", i, st,
				        st ? body : "(I/O or TLS failure)");
		}
		if (!st || close_after) {
			conn_close(&w->c);
			up = false;
		}
	}
	if (up)
		conn_close(&w->c);
	free(buf);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted values. */
static double pct(const double *v, long n, double p)
{
	if (n == 0)
		return 0;
	long k = (long)((p / 100.0) * (double)n + 0.999999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

static const char *opt(const char *arg, const char *name)
{
	size_t n = strlen(name);
	return strncmp(arg, name, n) == 0 && arg[n] == '=' ? arg + n + 1 : NULL;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *v;
		if ((v = opt(argv[i], "--host")))
			O.host = v;
		else if ((v = opt(argv[i], "--port")))
			O.port = atoi(v);
		else if ((v = opt(argv[i], "--cafile")))
			O.cafile = v;
		else if ((v = opt(argv[i], "--token")))
			O.token = v;
		else if ((v = opt(argv[i], "--apps")))
			O.apps = v;
		else if ((v = opt(argv[i], "--csrs")))
			O.csrs = v;
		else if ((v = opt(argv[i], "--count")))
			O.count = atol(v);
		else if ((v = opt(argv[i], "--connections")))
			O.connections = atoi(v);
		else if ((v = opt(argv[i], "--sets")))
			O.sets = atoi(v);
		else if ((v = opt(argv[i], "--prefix")))
			O.prefix = v;
		else if ((v = opt(argv[i], "--sample")))
			O.sample = v;
		else if (strcmp(argv[i], "--cfssl") == 0)
			O.cfssl = true;
		else if (strcmp(argv[i], "--plain") == 0)
			O.plain = true;
		else {
			fprintf(stderr, "issue_bench: unknown argument %s\n", argv[i]);
			return 2;
		}
	}
	bool usage = !O.port || !O.csrs || O.count < 1 || O.connections < 1 || O.sets < 1;
	if (O.cfssl)
		usage = usage || (!O.plain && !O.cafile);
	else
		usage = usage || (!O.plain && !O.cafile) || !O.token || !O.apps;
	if (usage) {
		fprintf(
		    stderr,
		    "usage: issue_bench --port=P (--cafile=chain.pem | --plain) --token=T "
		    "--apps=FILE "
		    "--csrs=FILE [--host=127.0.0.1] [--count=10000] [--connections=8] "
		    "[--sets=99] [--prefix=BENCH] [--sample=FILE]\n"
		    "       issue_bench --cfssl [--plain | --cafile=ca.pem] --port=P --csrs=FILE "
		    "[--count=..] [--connections=..] [--sample=FILE]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);

	long napps = 0, ncsrs = 0;
	char **apps = O.cfssl ? NULL : read_lines(O.apps, &napps);
	char **csrs = read_lines(O.csrs, &ncsrs);
	if (ncsrs < O.count)
		die("fewer CSRs than requests");
	if (!O.cfssl && napps * O.sets < O.count)
		die("not enough applications for the requests");

	if (!O.plain) {
		ctx = SSL_CTX_new(TLS_client_method());
		if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
		    SSL_CTX_load_verify_locations(ctx, O.cafile, NULL) != 1)
			die("cannot set up TLS with the CA file");
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}

	requests = calloc((size_t)O.count, sizeof *requests);
	request_len = calloc((size_t)O.count, sizeof *request_len);
	latency_ms = calloc((size_t)O.count, sizeof *latency_ms);
	status = calloc((size_t)O.count, sizeof *status);
	if (!requests || !request_len || !latency_ms || !status)
		die("out of memory");
	for (long i = 0; i < O.count; i++) {
		char *body = NULL, *req = NULL;
		int blen, rlen;
		if (O.cfssl) {
			blen = asprintf(&body, "{\"certificate_request\":\"%s\"}", csrs[i]);
			rlen = blen < 0 ? -1
			                : asprintf(&req,
			                           "POST /api/v1/cfssl/sign HTTP/1.1\r\n"
			                           "Host: %s:%d\r\n"
			                           "Content-Type: application/json\r\n"
			                           "Accept: application/json\r\n"
			                           "Content-Length: %d\r\n"
			                           "\r\n%s",
			                           O.host, O.port, blen, body);
			if (rlen < 0)
				die("out of memory");
			free(body);
			requests[i] = req;
			request_len[i] = (size_t)rlen;
			continue;
		}
		blen = asprintf(&body, "{\"csr\":\"%s\",\"token_serial\":\"%s-%ld\"}", csrs[i],
		                O.prefix, i);
		rlen = blen < 0 ? -1
		                : asprintf(&req,
		                           "POST /api/v1/applications/%s/certificates HTTP/1.1\r\n"
		                           "Host: %s:%d\r\n"
		                           "Authorization: Bearer %s\r\n"
		                           "Content-Type: application/json\r\n"
		                           "Accept: application/json\r\n"
		                           "Content-Length: %d\r\n"
		                           "\r\n%s",
		                           apps[i / O.sets], O.host, O.port, O.token, blen, body);
		if (rlen < 0)
			die("out of memory");
		free(body);
		requests[i] = req;
		request_len[i] = (size_t)rlen;
	}

	struct worker *ws = calloc((size_t)O.connections, sizeof *ws);
	if (!ws || pthread_barrier_init(&ready, NULL, (unsigned)O.connections + 1) != 0)
		die("cannot start the threads");
	for (int i = 0; i < O.connections; i++) {
		ws[i].id = i;
		ws[i].c.fd = -1;
		if (pthread_create(&ws[i].th, NULL, run, &ws[i]) != 0)
			die("cannot start a thread");
	}
	/* Every connection has done its handshake: the clock starts now.  The
	 * workers start together with it, after the barrier. */
	pthread_barrier_wait(&ready);
	t_start = now_s();
	long created = 0, errors = 0, reconnects = 0;
	double t_end = t_start;
	for (int i = 0; i < O.connections; i++) {
		pthread_join(ws[i].th, NULL);
		created += ws[i].created;
		errors += ws[i].errors;
		reconnects += ws[i].reconnects;
		if (ws[i].last_end > t_end)
			t_end = ws[i].last_end;
	}
	double seconds = t_end - t_start;

	double *lat = malloc((size_t)O.count * sizeof *lat);
	long n = 0;
	long by_status[6] = {0};
	for (long i = 0; i < O.count; i++) {
		if (latency_ms[i] >= 0)
			lat[n++] = latency_ms[i];
		int cls = status[i] / 100;
		by_status[cls >= 1 && cls <= 5 ? cls : 0]++;
	}
	qsort(lat, (size_t)n, sizeof *lat, cmp_double);
	double cps = seconds > 0 ? (double)created / seconds : 0;
	printf("requests: %ld over %d keep-alive connections (%s), %s:%d\n", O.count, O.connections,
	       negotiated, O.host, O.port);
	printf("answers: %s x %ld; 2xx other/3xx/4xx/5xx: %ld/%ld/%ld/%ld; no answer: %ld\n",
	       O.cfssl ? "200 with a certificate" : "201", created, by_status[2] - created,
	       by_status[3], by_status[4], by_status[5], by_status[0]);
	printf("wall time: %.3f s; certificates/s: %.1f\n", seconds, cps);
	printf("latency ms: p50 %.3f  p90 %.3f  p99 %.3f  max %.3f\n", pct(lat, n, 50),
	       pct(lat, n, 90), pct(lat, n, 99), n ? lat[n - 1] : 0.0);
	printf("RESULT count=%ld created=%ld errors=%ld seconds=%.3f cps=%.1f p50_ms=%.3f "
	       "p90_ms=%.3f p99_ms=%.3f max_ms=%.3f reconnects=%ld\n",
	       O.count, created, errors, seconds, cps, pct(lat, n, 50), pct(lat, n, 90),
	       pct(lat, n, 99), n ? lat[n - 1] : 0.0, reconnects);
	return errors ? 1 : 0;
}
