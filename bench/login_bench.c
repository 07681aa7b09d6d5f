/*
 * login_bench: certificate logins per second against ESP's login listener,
 * and bare TLS full handshakes with the same keys, for bench/login_bench.sh.
 * A benchmark, never a test.
 *
 * Every operation opens a NEW TCP connection and a NEW TLS session that
 * presents the client certificate and key; session resumption is off
 * (no session cache, no tickets), so every handshake is a full one.
 *
 *   --mode=login  handshake, `GET / HTTP/1.1`, read the response up to the
 *                 end of its headers, require `303` and a
 *                 `Set-Cookie: esp_session=...`, close.
 *   --mode=bare   handshake, then close_notify and wait for the server to
 *                 close (so the server has surely finished its side of the
 *                 handshake, including the client's CertificateVerify in
 *                 TLS 1.3), no HTTP at all.
 *
 * The server certificate is verified against --cafile in both modes (the
 * same client work in both).  THREADS threads each run operations one after
 * another for SECONDS seconds (after WARMUP seconds not counted), or until
 * COUNT operations in all have been made.
 *
 * Usage: login_bench --host=H --port=P --cafile=F --cert=F --key=F
 *                    [--mode=login|bare] [--threads=4] [--seconds=10]
 *                    [--warmup=1] [--count=0]
 * Prints a human line and a machine line:
 *   RESULT mode=.. ops=.. errors=.. seconds=.. rate=.. p50_ms=.. hs_p50_ms=..
 *          p99_ms=..
 *          client_cpu_s=.. tls=.. cipher=.. group=..
 * (client_cpu_s includes the warm-up.)
 */
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum mode { MODE_LOGIN, MODE_BARE };

static struct {
	const char *host, *cafile, *cert, *key;
	int port, threads;
	double seconds, warmup;
	long count;
	enum mode mode;
} opt = {.host = "127.0.0.1", .threads = 4, .seconds = 10, .warmup = 1, .mode = MODE_LOGIN};

static SSL_CTX *ctx;
static struct sockaddr_in addr;
static double t_start, t_measure, t_end;
static atomic_long issued; /* operations started (count mode) */
static atomic_int errors_shown;
static char tls_version[32], tls_cipher[64], tls_group[32];
static pthread_mutex_t info_lock = PTHREAD_MUTEX_INITIALIZER;

struct worker {
	pthread_t tid;
	double *lat; /* milliseconds of the counted operations */
	double *hs;  /* of which until the client's handshake was complete */
	size_t n, cap;
	long errors;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void show_error(const char *what)
{
	if (atomic_fetch_add(&errors_shown, 1) < 5) {
		unsigned long e = ERR_peek_last_error();
		char buf[256] = "";
		if (e)
			ERR_error_string_n(e, buf, sizeof buf);
		fprintf(stderr, "login_bench: %s%s%s%s\n", what, e ? " (" : "", buf, e ? ")" : "");
	}
	ERR_clear_error();
}

/* Reads the response head (up to "\r\n\r\n") and checks it. */
static bool read_login_reply(SSL *ssl)
{
	char buf[8192];
	size_t len = 0;
	while (len < sizeof buf - 1) {
		int n = SSL_read(ssl, buf + len, (int)(sizeof buf - 1 - len));
		if (n <= 0) {
			show_error("connection closed before the end of the response headers");
			return false;
		}
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			break;
	}
	char *end = strstr(buf, "\r\n\r\n");
	if (!end) {
		show_error("response headers too long");
		return false;
	}
	*end = '\0';
	if (strncmp(buf, "HTTP/1.1 303 ", 13) != 0 && strncmp(buf, "HTTP/1.0 303 ", 13) != 0) {
		char msg[128];
		snprintf(msg, sizeof msg, "not a 303: %.60s", buf);
		show_error(msg);
		return false;
	}
	/* Header names are case-insensitive. */
	for (char *p = buf; (p = strstr(p, "\r\n")) != NULL; p += 2)
		if (strncasecmp(p + 2, "set-cookie:", 11) == 0) {
			const char *v = p + 13;
			while (*v == ' ')
				v++;
			if (strncmp(v, "esp_session=", 12) == 0 && v[12] && v[12] != ';')
				return true;
		}
	show_error("303 without Set-Cookie: esp_session");
	return false;
}

/* One operation; true if it succeeded.  *hs_done: when SSL_connect
 * returned. */
static bool one(double *hs_done)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		show_error("socket failed");
		return false;
	}
	int one_ = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one_, sizeof one_);
	struct timeval tv = {.tv_sec = 10};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	bool ok = false;
	SSL *ssl = NULL;
	if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
		char msg[96];
		snprintf(msg, sizeof msg, "connect: %s", strerror(errno));
		show_error(msg);
		goto out;
	}
	ssl = SSL_new(ctx);
	if (!ssl || SSL_set_fd(ssl, fd) != 1) {
		show_error("SSL_new failed");
		goto out;
	}
	if (SSL_connect(ssl) != 1) {
		show_error("TLS handshake failed");
		goto out;
	}
	*hs_done = now_s();
	if (SSL_session_reused(ssl)) {
		show_error("session resumed: the measure would be wrong");
		goto out;
	}
	if (!tls_version[0]) {
		pthread_mutex_lock(&info_lock);
		if (!tls_version[0]) {
			snprintf(tls_version, sizeof tls_version, "%s", SSL_get_version(ssl));
			snprintf(tls_cipher, sizeof tls_cipher, "%s", SSL_get_cipher_name(ssl));
			int nid = SSL_get_negotiated_group(ssl);
			const char *g = nid > 0 ? OBJ_nid2sn(nid) : NULL;
			snprintf(tls_group, sizeof tls_group, "%s", g ? g : "?");
		}
		pthread_mutex_unlock(&info_lock);
	}
	if (opt.mode == MODE_LOGIN) {
		char req[256];
		int n = snprintf(req, sizeof req,
		                 "GET / HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: login_bench\r\n"
		                 "Connection: close\r\n\r\n",
		                 opt.host, opt.port);
		if (SSL_write(ssl, req, n) != n) {
			show_error("request not sent");
			goto out;
		}
		ok = read_login_reply(ssl);
		SSL_shutdown(ssl);
	} else {
		/* close_notify, then wait for the server's close: it has read our
		 * Certificate, CertificateVerify and Finished before that. */
		SSL_shutdown(ssl);
		char buf[512];
		while (SSL_read(ssl, buf, sizeof buf) > 0)
			;
		ERR_clear_error();
		ok = true;
	}
out:
	if (ssl)
		SSL_free(ssl);
	close(fd);
	return ok;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	for (;;) {
		double t0 = now_s();
		if (opt.count > 0) {
			if (atomic_fetch_add(&issued, 1) >= opt.count)
				break;
		} else if (t0 >= t_end) {
			break;
		}
		double th = 0;
		bool ok = one(&th);
		double t1 = now_s();
		if (opt.count == 0 && (t0 < t_measure || t1 > t_end))
			continue; /* warm-up, or overlapping the end: not counted */
		if (!ok) {
			w->errors++;
			continue;
		}
		if (w->n == w->cap) {
			w->cap = w->cap ? 2 * w->cap : 4096;
			w->lat = realloc(w->lat, w->cap * sizeof *w->lat);
			w->hs = realloc(w->hs, w->cap * sizeof *w->hs);
			if (!w->lat || !w->hs)
				abort();
		}
		w->hs[w->n] = (th - t0) * 1e3;
		w->lat[w->n++] = (t1 - t0) * 1e3;
	}
	return NULL;
}

static const char *arg(const char *a, const char *name)
{
	size_t n = strlen(name);
	return strncmp(a, name, n) == 0 && a[n] == '=' ? a + n + 1 : NULL;
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: login_bench --host=H --port=P --cafile=F --cert=F --key=F "
	        "[--mode=login|bare] [--threads=N] [--seconds=T] [--warmup=S] [--count=N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *v;
		if ((v = arg(argv[i], "--host")))
			opt.host = v;
		else if ((v = arg(argv[i], "--port")))
			opt.port = atoi(v);
		else if ((v = arg(argv[i], "--cafile")))
			opt.cafile = v;
		else if ((v = arg(argv[i], "--cert")))
			opt.cert = v;
		else if ((v = arg(argv[i], "--key")))
			opt.key = v;
		else if ((v = arg(argv[i], "--threads")))
			opt.threads = atoi(v);
		else if ((v = arg(argv[i], "--seconds")))
			opt.seconds = atof(v);
		else if ((v = arg(argv[i], "--warmup")))
			opt.warmup = atof(v);
		else if ((v = arg(argv[i], "--count")))
			opt.count = atol(v);
		else if ((v = arg(argv[i], "--mode"))) {
			if (strcmp(v, "login") == 0)
				opt.mode = MODE_LOGIN;
			else if (strcmp(v, "bare") == 0)
				opt.mode = MODE_BARE;
			else
				usage();
		} else
			usage();
	}
	if (!opt.port || !opt.cafile || !opt.cert || !opt.key || opt.threads < 1 ||
	    (opt.count <= 0 && opt.seconds <= 0))
		usage();
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)opt.port);
	if (inet_pton(AF_INET, opt.host, &addr.sin_addr) != 1) {
		fprintf(stderr, "login_bench: --host must be an IPv4 address\n");
		return 2;
	}

	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || SSL_CTX_load_verify_locations(ctx, opt.cafile, NULL) != 1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, opt.cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, opt.key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		ERR_print_errors_fp(stderr);
		fprintf(stderr, "login_bench: cannot set up the TLS client (cafile, cert, key)\n");
		return 1;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/* Every handshake a full one: no client-side cache, no tickets. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(ctx, 0);

	struct worker *ws = calloc((size_t)opt.threads, sizeof *ws);
	t_start = now_s();
	t_measure = opt.count > 0 ? t_start : t_start + opt.warmup;
	t_end = t_measure + opt.seconds;
	for (int i = 0; i < opt.threads; i++)
		if (pthread_create(&ws[i].tid, NULL, run, &ws[i]) != 0) {
			fprintf(stderr, "login_bench: cannot start threads\n");
			return 1;
		}
	for (int i = 0; i < opt.threads; i++)
		pthread_join(ws[i].tid, NULL);
	double elapsed = opt.count > 0 ? now_s() - t_start : opt.seconds;

	size_t total = 0;
	long errors = 0;
	for (int i = 0; i < opt.threads; i++) {
		total += ws[i].n;
		errors += ws[i].errors;
	}
	double *all = malloc((total ? total : 1) * sizeof *all);
	double *hs = malloc((total ? total : 1) * sizeof *hs);
	size_t k = 0;
	for (int i = 0; i < opt.threads; i++) {
		memcpy(all + k, ws[i].lat, ws[i].n * sizeof *all);
		memcpy(hs + k, ws[i].hs, ws[i].n * sizeof *hs);
		k += ws[i].n;
		free(ws[i].lat);
		free(ws[i].hs);
	}
	qsort(all, total, sizeof *all, cmp_double);
	qsort(hs, total, sizeof *hs, cmp_double);
	double hs50 = total ? hs[(size_t)(0.50 * (double)(total - 1))] : 0;
	double p50 = total ? all[(size_t)(0.50 * (double)(total - 1))] : 0;
	double p99 = total ? all[(size_t)(0.99 * (double)(total - 1))] : 0;
	double rate = (double)total / elapsed;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	             (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	const char *m = opt.mode == MODE_LOGIN ? "login" : "bare";
	printf("%s: %zu ok, %ld errors in %.2f s with %d threads: %.1f/s, p50 %.2f ms "
	       "(handshake %.2f), p99 %.2f ms (%s, %s, %s)\n",
	       m, total, errors, elapsed, opt.threads, rate, p50, hs50, p99, tls_version,
	       tls_cipher, tls_group);
	printf("RESULT mode=%s ops=%zu errors=%ld seconds=%.2f rate=%.1f p50_ms=%.2f "
	       "hs_p50_ms=%.2f p99_ms=%.2f "
	       "client_cpu_s=%.2f tls=%s cipher=%s group=%s\n",
	       m, total, errors, elapsed, rate, p50, hs50, p99, cpu,
	       tls_version[0] ? tls_version : "-", tls_cipher[0] ? tls_cipher : "-",
	       tls_group[0] ? tls_group : "-");
	free(all);
	free(hs);
	free(ws);
	SSL_CTX_free(ctx);
	return errors || total == 0 ? 1 : 0;
}
