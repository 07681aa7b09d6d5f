/*
 * /metrics in Prometheus' text exposition format (version 0.0.4), and the
 * health routes: /healthz (the process answers: liveness, no store) and
 * /readyz (the store answers: 503 when it does not).
 *
 * What is counted: every request by route pattern (the route table's, so
 * the label set is bounded whatever paths clients invent), method and
 * status, and its latency in a histogram; the waits for a pooled store
 * connection; the store's failed and locked-out statements and retried
 * transactions (db.c); certificates issued; the OCSP cache's hits.  All are
 * per process: a cluster's totals are Prometheus' sum over its espd.
 *
 * Who may read /metrics: the addresses of metrics_allow (loopback by
 * default), compared with the client's address as espd knows it (behind a
 * trusted proxy, the address the proxy forwarded), so a scraper elsewhere
 * is named explicitly and the public never sees the server's figures.
 */
#include "metrics.h"
#include "httpd.h"

#include "esp/cache_stats.h"
#include "esp/issue.h"
#include "esp/ocsp.h"
#include "esp/tcount.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
	MAX_ROUTES = 160,
	UNMATCHED = MAX_ROUTES, /* requests no route answered (404, 405, refused early) */
	ALLOW_MAX = 16,
};

/* Upper bounds of the latency buckets, in microseconds. */
static const int64_t bucket_us[] = {500,    1000,   2500,   5000,    10000,   25000,  50000,
                                    100000, 250000, 500000, 1000000, 2500000, 5000000};
#define NBUCKETS (sizeof bucket_us / sizeof bucket_us[0])

/* The status codes espd answers with; anything else counts as "other". */
static const int codes[] = {200, 201, 204, 301, 302, 303, 304, 400, 401, 403,
                            404, 405, 409, 413, 414, 415, 422, 429, 500, 503};
#define NCODES (sizeof codes / sizeof codes[0])

struct route_stats {
	uint64_t by_code[NCODES + 1];
	uint64_t buckets[NBUCKETS]; /* not cumulative: summed when written */
	uint64_t count, sum_us;
};

struct allow {
	int family;
	unsigned char addr[16];
	int prefix;
};

/* What requests add to: kept per worker thread (esp/tcount.h), so that
 * no two threads add to the same cache line, and summed when /metrics is
 * read. */
struct counts {
	struct route_stats routes[MAX_ROUTES + 1];
	uint64_t store_waits[NBUCKETS], store_wait_count, store_wait_sum_us, store_timeouts;
	uint64_t issued;
};
_Static_assert(sizeof(struct counts) % sizeof(uint64_t) == 0, "counts are whole counters");
static struct tcount_set count_set = TCOUNT_SET(sizeof(struct counts) / sizeof(uint64_t));
static _Thread_local struct counts *mine;

static struct counts *my_counts(void)
{
	if (!mine)
		mine = (struct counts *)(void *)tcount_attach(&count_set);
	return mine;
}

static struct {
	size_t nroutes;
	time_t started;
	struct allow allow[ALLOW_MAX];
	int nallow;
} m;

static void add(uint64_t *v, uint64_t n)
{
	tcount_add(v, n);
}

/* A snapshot's value (summed by tcount_sum). */
static uint64_t get(const uint64_t *v)
{
	return *v;
}

static size_t bucket_of(int64_t us)
{
	size_t i = 0;
	while (i < NBUCKETS && us > bucket_us[i])
		i++;
	return i; /* NBUCKETS: only +Inf */
}

/* "127.0.0.1", "::1", "10.0.0.0/8", "fd00::/8". */
static bool parse_allow(const char *s, struct allow *a)
{
	char ip[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	if (n == 0 || n >= sizeof ip)
		return false;
	memcpy(ip, s, n);
	ip[n] = '\0';
	if (inet_pton(AF_INET, ip, a->addr) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, ip, a->addr) == 1)
		a->family = AF_INET6;
	else
		return false;
	int max = a->family == AF_INET ? 32 : 128;
	a->prefix = max;
	if (slash) {
		char *end;
		long p = strtol(slash + 1, &end, 10);
		if (!slash[1] || *end || p < 0 || p > max)
			return false;
		a->prefix = (int)p;
	}
	return true;
}

static bool allow_matches(const struct allow *a, int family, const unsigned char *addr)
{
	if (a->family != family)
		return false;
	int full = a->prefix / 8, rest = a->prefix % 8;
	if (memcmp(a->addr, addr, (size_t)full) != 0)
		return false;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return rest == 0 || (a->addr[full] & mask) == (addr[full] & mask);
}

static bool metrics_allowed(const char *client)
{
	unsigned char addr[16];
	int family;
	if (inet_pton(AF_INET, client, addr) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, client, addr) == 1)
		family = AF_INET6;
	else
		return false;
	for (int i = 0; i < m.nallow; i++)
		if (allow_matches(&m.allow[i], family, addr))
			return true;
	return false;
}

int metrics_init(struct server *srv)
{
	m.started = time(NULL);
	for (const struct route *rt = routes; rt->method; rt++)
		m.nroutes++;
	if (m.nroutes > MAX_ROUTES) {
		fprintf(stderr, "espd: more routes than metrics.c counts (%d)\n", MAX_ROUTES);
		return 1;
	}
	char *list = xstrdup(config_get(srv->cfg, "metrics_allow"));
	char *save = NULL;
	int rc = 0;
	for (char *t = strtok_r(list, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
		if (m.nallow == ALLOW_MAX || !parse_allow(t, &m.allow[m.nallow])) {
			fprintf(stderr,
			        "espd: metrics_allow: '%s' is not an IP address or prefix (at most "
			        "%d)\n",
			        t, ALLOW_MAX);
			rc = 1;
			break;
		}
		m.nallow++;
	}
	free(list);
	return rc;
}

void metrics_request(const struct request *r, int64_t now_us)
{
	size_t i = r->route ? (size_t)(r->route - routes) : UNMATCHED;
	if (i > UNMATCHED)
		i = UNMATCHED;
	struct counts *t = my_counts();
	struct route_stats *s = &t->routes[i];
	size_t c = 0;
	while (c < NCODES && codes[c] != r->status)
		c++;
	int64_t us = now_us - r->start_us;
	if (us < 0)
		us = 0;
	add(&s->by_code[c], 1);
	size_t b = bucket_of(us);
	if (b < NBUCKETS)
		add(&s->buckets[b], 1);
	add(&s->count, 1);
	add(&s->sum_us, (uint64_t)us);
	if (r->route && r->route->fn == api_issue_certificate && r->status == 201)
		add(&t->issued, 1);
}

void metrics_store_wait(int64_t us, bool timed_out)
{
	if (us < 0)
		us = 0;
	struct counts *t = my_counts();
	size_t b = bucket_of(us);
	if (b < NBUCKETS)
		add(&t->store_waits[b], 1);
	add(&t->store_wait_count, 1);
	add(&t->store_wait_sum_us, (uint64_t)us);
	if (timed_out)
		add(&t->store_timeouts, 1);
}

/* ---- the exposition ---- */

static void help(struct buf *b, const char *name, const char *type, const char *text)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

/* Route patterns are ours (no quote, backslash or newline), but escape as
 * the format asks all the same. */
static void label_value(struct buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			buf_printf(b, "\\%c", *v);
		else if (*v == '\n')
			buf_puts(b, "\\n");
		else
			buf_putc(b, *v);
	}
}

static void route_labels(struct buf *b, size_t i)
{
	buf_puts(b, "route=\"");
	label_value(b, i == UNMATCHED ? "unmatched" : routes[i].pattern);
	buf_puts(b, "\",method=\"");
	label_value(b, i == UNMATCHED ? "any" : routes[i].method);
	buf_putc(b, '"');
}

/* One histogram's series; labels is "" or `a="x",b="y"`. */
static void histogram(struct buf *b, const char *name, const char *labels, const uint64_t *buckets,
                      uint64_t count, uint64_t sum_us)
{
	const char *sep = *labels ? "," : "";
	uint64_t cum = 0;
	for (size_t k = 0; k < NBUCKETS; k++) {
		cum += get(&buckets[k]);
		buf_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
		           (double)bucket_us[k] / 1e6, (unsigned long long)cum);
	}
	/* count is read before the buckets: +Inf never falls below a bucket. */
	if (count < cum)
		count = cum;
	buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
	           (unsigned long long)count);
	if (*labels) {
		buf_printf(b, "%s_sum{%s} %.6f\n", name, labels, (double)sum_us / 1e6);
		buf_printf(b, "%s_count{%s} %llu\n", name, labels, (unsigned long long)count);
	} else {
		buf_printf(b, "%s_sum %.6f\n", name, (double)sum_us / 1e6);
		buf_printf(b, "%s_count %llu\n", name, (unsigned long long)count);
	}
}

static void write_requests(struct buf *b, const struct counts *t)
{
	help(b, "esp_http_requests_total", "counter",
	     "Requests answered, by route pattern, method and status code.");
	for (size_t i = 0; i <= UNMATCHED; i++) {
		if (i == m.nroutes)
			i = UNMATCHED;
		for (size_t c = 0; c <= NCODES; c++) {
			uint64_t v = get(&t->routes[i].by_code[c]);
			if (!v)
				continue;
			buf_puts(b, "esp_http_requests_total{");
			route_labels(b, i);
			if (c < NCODES)
				buf_printf(b, ",code=\"%d\"} %llu\n", codes[c],
				           (unsigned long long)v);
			else
				buf_printf(b, ",code=\"other\"} %llu\n", (unsigned long long)v);
		}
	}
	help(b, "esp_http_request_duration_seconds", "histogram",
	     "Time from a request's headers to its answer, by route pattern and method.");
	for (size_t i = 0; i <= UNMATCHED; i++) {
		if (i == m.nroutes)
			i = UNMATCHED;
		const struct route_stats *s = &t->routes[i];
		uint64_t count = get(&s->count);
		if (!count)
			continue;
		struct buf l = {0};
		route_labels(&l, i);
		histogram(b, "esp_http_request_duration_seconds", l.data, s->buckets, count,
		          get(&s->sum_us));
		buf_free(&l);
	}
}

static void counter(struct buf *b, const char *name, const char *text, uint64_t v)
{
	help(b, name, "counter", text);
	buf_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

static void write_store(struct buf *b, struct server *srv, const struct counts *t)
{
	help(b, "esp_store_wait_seconds", "histogram",
	     "Waits of requests for a pooled store connection.");
	histogram(b, "esp_store_wait_seconds", "", t->store_waits, get(&t->store_wait_count),
	          get(&t->store_wait_sum_us));
	counter(b, "esp_store_wait_timeouts_total",
	        "Requests answered 503 because no store connection became free in time.",
	        get(&t->store_timeouts));
	int size = 0, idle = 0;
	db_pool_usage(srv->pool, &size, &idle);
	help(b, "esp_store_connections", "gauge", "Pooled store connections, by state.");
	buf_printf(b, "esp_store_connections{state=\"idle\"} %d\n", idle);
	buf_printf(b, "esp_store_connections{state=\"in_use\"} %d\n", size - idle);
	struct db_stats st;
	db_stats(&st);
	counter(b, "esp_store_errors_total", "Store statements that failed.", st.errors);
	counter(b, "esp_store_busy_total",
	        "Store statements to run again: locked out by another writer (busy, serialization "
	        "failure) or the server gone (PostgreSQL down or failing over).",
	        st.busy);
	counter(b, "esp_store_transaction_retries_total",
	        "Transactions run again after a lock-out.", st.tx_retries);
	if (db_pool_backend(srv->pool) == &db_pg_backend) {
		bool listening = false;
		uint64_t received = 0;
		db_listen_stats(&listening, &received);
		help(b, "esp_store_listening", "gauge",
		     "1 while the connection listening for the generations' changes is up "
		     "(PostgreSQL); 0: every request reads the generations from the store.");
		buf_printf(b, "esp_store_listening %d\n", listening ? 1 : 0);
		counter(b, "esp_store_notifications_total",
		        "Notifications of the generations' changes received (PostgreSQL).",
		        received);
	}
}

static void write_rest(struct buf *b, struct server *srv, const struct counts *t)
{
	counter(b, "esp_certificates_issued_total",
	        "Certificates issued through the workstations' API by this process.",
	        get(&t->issued));
	if (srv->committer) {
		/* Group commit: how many issuances each COMMIT served. */
		struct issue_commit_stats st;
		issue_committer_stats(srv->committer, &st);
		static const char *const le[ISSUE_BATCH_BUCKETS] = {"1",  "2",  "4",  "8",
		                                                    "16", "32", "64", "+Inf"};
		help(b, "esp_issue_batch_size", "histogram",
		     "Issuances stored by one transaction (one COMMIT) of the committer.");
		uint64_t cum = 0;
		for (int k = 0; k < ISSUE_BATCH_BUCKETS; k++) {
			cum += st.sizes[k];
			buf_printf(b, "esp_issue_batch_size_bucket{le=\"%s\"} %llu\n", le[k],
			           (unsigned long long)cum);
		}
		buf_printf(b, "esp_issue_batch_size_sum %llu\n", (unsigned long long)st.jobs);
		buf_printf(b, "esp_issue_batch_size_count %llu\n", (unsigned long long)st.batches);
		help(b, "esp_issue_batch_size_max", "gauge",
		     "The largest batch of issuances stored in one transaction so far.");
		buf_printf(b, "esp_issue_batch_size_max %llu\n", (unsigned long long)st.max_batch);
		counter(b, "esp_issue_commit_busy_total",
		        "Issuances answered 503 by the committer: queued too long, no store "
		        "connection, or espd stopping.",
		        st.busy);
		counter(b, "esp_issue_queue_full_total",
		        "Issuances answered 503 because the committer's queue was full.",
		        st.refused);
	}
	uint64_t hits = 0, misses = 0;
	if (srv->ocsp)
		ocsp_cache_stats(srv->ocsp, &hits, &misses);
	uint64_t h[CACHE_KINDS], mi[CACHE_KINDS];
	for (int k = 0; k < CACHE_KINDS; k++)
		cache_stats_read((enum cache_kind)k, &h[k], &mi[k]);
	help(b, "esp_cache_hits_total", "counter", "Lookups served from a cache, by cache.");
	buf_printf(b, "esp_cache_hits_total{cache=\"ocsp\"} %llu\n", (unsigned long long)hits);
	for (int k = 0; k < CACHE_KINDS; k++)
		buf_printf(b, "esp_cache_hits_total{cache=\"%s\"} %llu\n",
		           cache_kind_name((enum cache_kind)k), (unsigned long long)h[k]);
	help(b, "esp_cache_misses_total", "counter",
	     "Lookups a cache could not serve (read or made anew), by cache.");
	buf_printf(b, "esp_cache_misses_total{cache=\"ocsp\"} %llu\n", (unsigned long long)misses);
	for (int k = 0; k < CACHE_KINDS; k++)
		buf_printf(b, "esp_cache_misses_total{cache=\"%s\"} %llu\n",
		           cache_kind_name((enum cache_kind)k), (unsigned long long)mi[k]);
	help(b, "esp_request_bodies_in_flight_bytes", "gauge",
	     "Bytes of request bodies being received now.");
	buf_printf(
	    b, "esp_request_bodies_in_flight_bytes %llu\n",
	    (unsigned long long)__atomic_load_n(&srv->body_bytes_in_flight, __ATOMIC_RELAXED));
	help(b, "esp_start_time_seconds", "gauge", "When this espd started, in Unix time.");
	buf_printf(b, "esp_start_time_seconds %lld\n", (long long)m.started);
}

void page_metrics(struct request *r)
{
	if (!metrics_allowed(r->client_addr)) {
		r->status = 403;
		r->content_type = "text/plain; charset=utf-8";
		buf_puts(&r->body, "403 无权访问：此地址不在 metrics_allow 中\n");
		return;
	}
	struct counts *t = xmalloc(sizeof *t);
	tcount_sum(&count_set, (uint64_t *)(void *)t);
	write_requests(&r->body, t);
	write_store(&r->body, r->srv, t);
	write_rest(&r->body, r->srv, t);
	free(t);
	r->status = 200;
	r->content_type = "text/plain; version=0.0.4; charset=utf-8";
	req_header(r, "Cache-Control", "no-store");
}

void page_healthz(struct request *r)
{
	reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

void page_readyz(struct request *r)
{
	bool ok = db_ping(req_db(r));
	reply_json(r, ok ? 200 : 503,
	           json_pack("{s:s, s:s}", "status", ok ? "ok" : "unavailable", "store",
	                     db_pool_backend(r->srv->pool)->name));
}
