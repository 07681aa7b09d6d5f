/*
 * espd: the ESP server.  Reads the configuration, opens the store and runs
 * its migrations, loads templates and the CA, starts the HTTP and HTTPS
 * listeners and stops cleanly on SIGTERM/SIGINT, finishing requests in flight.
 */
#include "esp/pwslot.h"
#include "ra_search_cache.h"
#include "httpd.h"
#include "mailer.h"
#include "esp/sopin.h"
#include "server.h"
#include "proxy_accept.h"
#include "metrics.h"
#include "esp/appform.h"
#include "esp/audit_anchor.h"
#include "esp/cluster.h"
#include "esp/generation.h"
#include "esp/login.h"
#include "esp/ratelimit.h"
#include "throttle.h"
#include "esp/issue.h"
#include "esp/revoke.h"
#include "esp/upload.h"

#include <pthread.h>
#include <stdatomic.h>

#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
	fprintf(out,
	        "用法 Usage: espd [--config FILE] [--KEY=VALUE ...]\n"
	        "Starts the ESP server (证书U盘申请与证书登录系统).\n\n"
	        "  --config FILE   configuration file (default <data_dir>/esp.conf if present)\n"
	        "  --help          this text\n\n");
	config_print_help(out);
	fprintf(out,
	        "\nExit status: 0 after a clean stop, 1 on bad usage, 2 when start-up fails.\n");
}

static int parse_listen(const char *spec, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(spec, ':');
	if (!colon || (size_t)(colon - spec) >= sizeof host)
		return -1;
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535)
		return -1;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -1;
	return 0;
}

/* libmicrohttpd's own complaints (a port taken, a broken TLS client) go
 * through espd's log: time-stamped, one write per line, as ours. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char msg[1024];
	vsnprintf(msg, sizeof msg, fmt, ap);
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	log_error("libmicrohttpd: %s", msg);
}

static struct MHD_Daemon *start_listener(struct listener_ctx *lc, const char *spec,
                                         const char *key_pem, const char *cert_pem,
                                         const char *trust_pem, bool own_accept)
{
	struct sockaddr_in sa;
	if (parse_listen(spec, &sa) != 0) {
		log_error("bad listen address '%s' (expected IPv4:port)", spec);
		return NULL;
	}
	struct server *srv = lc->srv;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC;
	/* libmicrohttpd 0.9.75 lets GnuTLS read the socket itself during the
	 * handshake, so with epoll (edge-triggered) a GNUTLS_E_AGAIN never
	 * clears the connection's "read ready" mark: the worker spins on
	 * recv() = EAGAIN and epoll_wait(0) until the client's next flight
	 * arrives, which cost a TLS listener 2-3 times a plain GnuTLS server's
	 * CPU per handshake and took the CPU from everything else. poll() is
	 * level-triggered and waits.  Plain HTTP keeps epoll. */
	flags |= key_pem ? MHD_USE_TLS | MHD_USE_POLL : MHD_USE_EPOLL;
	/* Behind a proxy that sends the PROXY header, espd accepts and reads
	 * it first (proxy_accept.c), then hands the connection over. */
	if (own_accept)
		flags |= MHD_USE_NO_LISTEN_SOCKET;
	/* Issuances wait for their group's COMMIT suspended (api.c). */
	if (srv->committer)
		flags |= MHD_ALLOW_SUSPEND_RESUME;
	struct MHD_OptionItem opts[] = {
	    {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL},
	    {MHD_OPTION_THREAD_POOL_SIZE, config_get_long(srv->cfg, "threads"), NULL},
	    {own_accept ? MHD_OPTION_END : MHD_OPTION_SOCK_ADDR, 0, &sa},
	    {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)server_completed, lc},
	    {MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	     config_get_long(srv->cfg, "max_header_bytes") + 16384, NULL},
	    {MHD_OPTION_CONNECTION_TIMEOUT, config_get_long(srv->cfg, "idle_timeout_seconds"),
	     NULL},
	    {MHD_OPTION_CONNECTION_LIMIT, config_get_long(srv->cfg, "max_connections"), NULL},
	    {MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	     config_get_long(srv->cfg, "max_connections_per_ip"), NULL},
	    {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)guard_notify, srv->guard},
	    {key_pem ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, (void *)key_pem},
	    {key_pem ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, (void *)cert_pem},
	    {trust_pem ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, 0, (void *)trust_pem},
	    {MHD_OPTION_END, 0, NULL},
	};
	/* No MHD_OPTION_LISTENING_ADDRESS_REUSE: set to 1 it means SO_REUSEPORT,
	 * and a second espd (or anything of the same user) could then bind the
	 * same port and take half the connections unnoticed. libmicrohttpd's
	 * default, SO_REUSEADDR, already lets a restarted espd bind at once.
	 * Compact the list: options after a disabled one must still be seen. */
	struct MHD_OptionItem list[sizeof opts / sizeof opts[0]];
	size_t n = 0;
	for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
		if (opts[i].option != MHD_OPTION_END)
			list[n++] = opts[i];
	list[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
	struct MHD_Daemon *d = MHD_start_daemon(flags, 0, NULL, NULL, server_access, lc,
	                                        MHD_OPTION_ARRAY, list, MHD_OPTION_END);
	if (!d) {
		log_error("cannot listen on %s", spec);
		return NULL;
	}
	if (own_accept && !(lc->acceptor = proxy_acceptor_start(&sa, d))) {
		log_error("cannot listen on %s", spec);
		MHD_stop_daemon(d);
		return NULL;
	}
	return d;
}

static _Atomic int stopping;

/* Every open connection is a descriptor: the listeners' connection limits
 * must fit under the process's limit, which is often 1024 by default. */
static void raise_file_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Keeps the CRL fresh: re-signed at least every crl_hours, even without
 * revocations, so relying parties never see it expire. The check and the
 * signature are one transaction with the CRL row locked, so a revocation
 * committed by another process is never left out and no number repeats. */
static void crl_job(struct server *srv)
{
	int hours = (int)config_get_long(srv->cfg, "crl_hours");
	db_conn *c = db_acquire_wait(srv->pool, srv->store_wait_ms);
	if (!c)
		return; /* busy: the next minute tries again */
	int64_t number = 0;
	if (crl_refresh(c, srv->ca, hours, false, &number) != DB_OK)
		log_error("CRL could not be re-signed");
	else if (number)
		log_info("CRL re-signed (number %lld)", (long long)number);
	db_release(srv->pool, c);
}

/* Sessions that ended stay refused by every lookup; deleting them (hourly)
 * keeps the table from growing with every login ever made. */
static void sessions_purge(struct server *srv)
{
	db_conn *c = db_acquire_wait(srv->pool, srv->store_wait_ms);
	if (!c)
		return;
	int n = 0;
	if (session_purge_expired(c, time_now(), &n) != DB_OK)
		log_error("expired sessions could not be deleted");
	else if (n)
		log_info("%d expired sessions deleted", n);
	db_release(srv->pool, c);
}

/* The audit log's head is signed and anchored outside the store at least
 * every audit_anchor_hours (at start too when the last anchor is older).
 * Writing an anchor checks the whole log first: a broken or truncated one
 * is reported loudly, hourly, and never anchored. */
static void audit_anchor_refresh(struct server *srv, int64_t *next_at)
{
	int64_t now = time_now();
	if (now < *next_at)
		return;
	const char *path = config_get(srv->cfg, "audit_anchor_file");
	int64_t every = config_get_long(srv->cfg, "audit_anchor_hours") * 3600;
	if (every <= 0)
		every = 24 * 3600;
	int64_t last = audit_anchor_last_at(path);
	if (last && last + every > now) {
		*next_at = last + every;
		return;
	}
	db_conn *c = db_acquire_wait(srv->pool, srv->store_wait_ms);
	if (!c)
		return; /* busy: the next round tries again */
	struct audit_check chk;
	enum audit_fault f = audit_anchor_write(c, srv->ca, path, &chk, NULL);
	db_release(srv->pool, c);
	if (f == AUDIT_INTACT) {
		*next_at = now + every;
		return;
	}
	log_error("audit log NOT anchored: %s (entry seq %lld, anchor line %d of %s)",
	          audit_fault_message(f), (long long)chk.seq, chk.anchor_line, path);
	*next_at = now + 3600;
}

/* What anonymous clients wrote and nothing needs any more: rate-limit
 * windows that have ended, challenges used or expired, scans no application
 * took within scans_unreferenced_hours. Keeps those tables bounded. */
static void anonymous_writes_purge(struct server *srv)
{
	db_conn *c = db_acquire_wait(srv->pool, srv->store_wait_ms);
	if (!c)
		return; /* busy: the next round tries again */
	int64_t now = time_now();
	int n = 0;
	if (ratelimit_purge(c, now, &n) != DB_OK)
		log_error("ended rate-limit windows could not be deleted");
	if (challenge_purge(c, now, &n) != DB_OK)
		log_error("expired login challenges could not be deleted");
	int64_t grace = (int64_t)throttle_config()->scans_unreferenced_hours * 3600;
	if (upload_purge_unreferenced(c, now - grace, &n) != DB_OK)
		log_error("unreferenced scans could not be deleted");
	else if (n)
		log_info("%d scans no application refers to deleted", n);
	db_release(srv->pool, c);
}

/* The lease on the store's maintenance jobs: held for LEASE_SECONDS and
 * renewed every LEASE_RENEW seconds by its holder, so when that process
 * stops (or dies) another takes the jobs over within a minute. */
#define LEASE_NAME "maintenance"
#define LEASE_SECONDS 60
#define LEASE_RENEW 15

static bool lease_renew(struct server *srv, bool held)
{
	db_conn *c = db_acquire_wait(srv->pool, srv->store_wait_ms);
	if (!c)
		return false; /* no store, no lease: better none than two */
	bool mine = lease_take(c, LEASE_NAME, srv->instance_id, time_now(), LEASE_SECONDS);
	/* Held by a process of this machine that is gone (killed, crashed):
	 * no need to wait for the lease to run out. */
	char *host = NULL, me[256] = "";
	long pid = 0;
	gethostname(me, sizeof me - 1);
	if (!mine && lease_holder(c, LEASE_NAME, &host, &pid) && strcmp(host, me) == 0 && pid > 0 &&
	    kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
		log_info("maintenance lease of process %ld (gone) released", pid);
		lease_release_process(c, LEASE_NAME, me, pid);
		mine = lease_take(c, LEASE_NAME, srv->instance_id, time_now(), LEASE_SECONDS);
	}
	free(host);
	db_release(srv->pool, c);
	if (mine != held)
		log_info(mine ? "maintenance lease taken: this process (instance %lld) runs the "
		                "store's maintenance jobs"
		              : "maintenance lease lost: instance %lld no longer runs the "
		                "maintenance jobs",
		         (long long)srv->instance_id);
	return mine;
}

/* The rules' numbers (settings) as the store holds them now: reloaded
 * whenever their generation moved, wherever the change was made. */
static void settings_follow(struct server *srv, int64_t *seen)
{
	db_conn *c = db_acquire_wait(srv->pool, srv->store_wait_ms);
	if (!c)
		return;
	int64_t gen[GEN_COUNT];
	if (generations_read(c, gen) && gen[GEN_SETTINGS] != *seen) {
		struct esp_limits fresh;
		limits_load(c, &fresh);
		limits_publish(&srv->limits, &fresh);
		if (*seen >= 0)
			log_info("settings changed in the store: reloaded");
		*seen = gen[GEN_SETTINGS];
	}
	db_release(srv->pool, c);
}

/* Maintenance: the CRL, the audit anchor and the anonymous writes every
 * minute, expired sessions every hour (in the one process holding the
 * lease); in every process the settings and the store's write-ahead log
 * every second. */
static void *maintenance_thread(void *arg)
{
	struct server *srv = arg;
	int64_t anchor_at = 0, settings_seen = -1;
	bool leader = false;
	unsigned led = 0; /* seconds since this process took the lease */
	for (unsigned tick = 0; !stopping; tick++) {
		if (tick % LEASE_RENEW == 0) {
			bool was = leader;
			leader = lease_renew(srv, leader);
			if (leader && !was)
				led = 0;
		}
		if (leader) {
			if (led % 60 == 0) {
				crl_job(srv);
				audit_anchor_refresh(srv, &anchor_at);
				anonymous_writes_purge(srv);
			}
			if (led % 3600 == 0)
				sessions_purge(srv);
			led++;
		}
		settings_follow(srv, &settings_seen);
		db_checkpoint(srv->pool);
		sleep(1);
	}
	if (leader) {
		db_conn *c = db_acquire_wait(srv->pool, srv->store_wait_ms);
		if (c) {
			lease_release(c, LEASE_NAME, srv->instance_id);
			db_release(srv->pool, c);
		}
	}
	return NULL;
}

/* The file first, then the command line over it. Returns 0, 1 on bad
 * usage (said on stderr), or -1 when --help was asked and answered. */
static int load_config(struct esp_config *cfg, int argc, char **argv)
{
	const char *config_file = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return -1;
		} else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			config_file = argv[++i];
		}
	}
	const char *err = NULL;
	for (int i = 1; i < argc; i++)
		if (strncmp(argv[i], "--data_dir=", 11) == 0)
			config_set(cfg, "data_dir", argv[i] + 11);
	/* A package's espd reads /etc/esp/esp.conf; a development one its data directory's. */
	char *default_file = *ESP_CONFIG_FILE
	                         ? xstrdup(ESP_CONFIG_FILE)
	                         : xasprintf("%s/esp.conf", config_get(cfg, "data_dir"));
	int rc = config_load_file(cfg, config_file ? config_file : default_file,
	                          config_file != NULL, &err);
	free(default_file);
	if (rc != 0) {
		fprintf(stderr, "espd: %s\n", err);
		return 1;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0) {
			i++;
			continue;
		}
		rc = config_set_arg(cfg, argv[i]);
		if (rc == -1) {
			fprintf(stderr, "espd: unknown argument '%s' (see --help)\n", argv[i]);
			return 1;
		}
		if (rc != 0) {
			fprintf(stderr, "espd: unknown configuration key '%.*s' (see --help)\n",
			        (int)strcspn(argv[i] + 2, "="), argv[i] + 2);
			return 1;
		}
	}
	config_finish(cfg);
	return 0;
}

/* What the server takes from the configuration for the whole run, checked.
 * Returns 0, or 1 after saying on stderr which key is wrong. */
static int server_settings(struct server *srv, struct esp_config *cfg)
{
	srv->cfg = cfg;
	password_set_cost(config_get(cfg, "password_hash"));
	throttle_init(cfg);
	ra_search_cache_init(config_get_long(cfg, "ra_search_cache_entries"));
	pwslot_configure((int)config_get_long(cfg, "password_hash_concurrency"),
	                 (int)config_get_long(cfg, "password_hash_wait_ms"));
	char *bad_proxy = NULL;
	if (client_addr_init(config_get(cfg, "trusted_proxies"), &bad_proxy) != 0) {
		fprintf(stderr, "espd: trusted_proxies: '%s' is not an IP address\n", bad_proxy);
		free(bad_proxy);
		return 1;
	}
	/* Without a trusted proxy every header would be refused, and every
	 * proxied login with it. */
	if (config_get_bool(cfg, "login_proxy_protocol") && !client_addr_have_proxies()) {
		fprintf(stderr, "espd: login_proxy_protocol needs the proxy's address in "
		                "trusted_proxies\n");
		return 1;
	}
	long idle = config_get_long(cfg, "session_idle_minutes");
	long max_hours = config_get_long(cfg, "session_max_hours");
	if (idle < 1 || idle > 24 * 60 || max_hours < 1 || max_hours > 24 * 30) {
		fprintf(stderr,
		        "espd: session_idle_minutes must be 1-1440 and session_max_hours 1-720\n");
		return 1;
	}
	const char *redirect_mode = config_get(cfg, "http_login_redirect");
	if (strcmp(redirect_mode, "auto") != 0 && strcmp(redirect_mode, "always") != 0 &&
	    strcmp(redirect_mode, "never") != 0) {
		fprintf(stderr, "espd: http_login_redirect must be auto, always or never\n");
		return 1;
	}
	srv->session_seconds = (int)max_hours * 3600;
	session_set_idle_seconds((int)idle * 60);
	srv->max_body = (size_t)config_get_long(cfg, "max_body_bytes");
	srv->max_url = (size_t)config_get_long(cfg, "max_url_bytes");
	srv->max_raw_body = (size_t)config_get_long(cfg, "max_json_bytes");
	srv->max_form_fields = (unsigned)config_get_long(cfg, "max_form_fields");
	srv->max_bodies_in_flight = (size_t)config_get_long(cfg, "max_uploads_in_flight_bytes");
	srv->store_wait_ms = (int)config_get_long(cfg, "store_wait_ms");
	srv->staff_password_login = config_get_bool(cfg, "staff_password_login");
	srv->log_requests = config_get_bool(cfg, "log_requests");
	srv->static_dir = config_get(cfg, "static_dir");
	srv->public_url = xstrdup(config_get(cfg, "public_url"));
	return 0;
}

/* Whether SIGTERM or SIGINT came during start-up (they are blocked until
 * main's sigwait). */
static bool stop_requested(void)
{
	sigset_t pending;
	return sigpending(&pending) == 0 &&
	       (sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1);
}

/* The pool, opened again while PostgreSQL refuses connections, for up to
 * STORE_START_WAIT_MS: a server starting, being failed over, or slow to
 * answer on a busy machine (connect_timeout) is not a reason to give up at
 * once, which left an espd restarted after a crash down for good. Anything
 * else fails at once. */
#define STORE_START_WAIT_MS 60000
static db_pool *open_pool_waiting(const char *target, int size, const char **err)
{
	int64_t start = time_now_us();
	for (int pause_ms = 250;; pause_ms = pause_ms < 4000 ? pause_ms * 2 : pause_ms) {
		db_pool *p = db_pool_open(target, size, err);
		if (p || !*err || strcmp(*err, "PostgreSQL: cannot connect") != 0)
			return p;
		if ((time_now_us() - start) / 1000 + pause_ms > STORE_START_WAIT_MS ||
		    stop_requested())
			return NULL;
		log_error("the store does not take connections yet: trying again in %d ms",
		          pause_ms);
		/* The pause ends early, and start-up with it, on a stop. */
		sigset_t stops;
		sigemptyset(&stops);
		sigaddset(&stops, SIGTERM);
		sigaddset(&stops, SIGINT);
		struct timespec ts = {pause_ms / 1000, (long)(pause_ms % 1000) * 1000000L};
		if (sigtimedwait(&stops, NULL, &ts) > 0)
			return NULL;
	}
}

/* The store, migrated, with the rules' numbers and the audit key loaded
 * (before any thread may append to the audit log). Returns 0 or 2. */
static int open_store(struct server *srv, int *applied)
{
	const char *err = NULL;
	struct esp_config *cfg = srv->cfg;
	if (!db_set_sqlite_synchronous(config_get(cfg, "sqlite_synchronous"))) {
		fprintf(stderr, "espd: sqlite_synchronous must be full or normal\n");
		return 2;
	}
	srv->pool = open_pool_waiting(config_get(cfg, "database"),
	                              (int)config_get_long(cfg, "db_connections"), &err);
	if (!srv->pool) {
		fprintf(stderr, "espd: database %s: %s\n", config_get(cfg, "database"), err);
		return 2;
	}
	if (db_migrate(srv->pool, config_get(cfg, "migrations_dir"), applied) != DB_OK) {
		fprintf(stderr, "espd: database migration failed\n");
		return 2;
	}
	/* After the migrations (024 makes the triggers notify). Without it,
	 * or while its connection is down, the generations are read per
	 * request as before. */
	if (!db_listen_start(srv->pool))
		log_error("postgresql: cannot start the listening thread: the generations are read "
		          "for every request");
	db_conn *c = db_acquire(srv->pool);
	limits_load(c, &srv->limits);
	char host[256] = "";
	gethostname(host, sizeof host - 1);
	srv->instance_id = instance_register(c, host, (long)getpid());
	/* Request ids are unique across processes: this one's begin at its
	 * instance number times 10^12. */
	srv->next_request_id = (uint64_t)srv->instance_id * 1000000000000ULL;
	enum audit_key_status ks = audit_key_open(c, config_get(cfg, "audit_key_file"), true);
	db_release(srv->pool, c);
	if (!srv->instance_id) {
		fprintf(stderr, "espd: the store could not give this process an instance number\n");
		return 2;
	}
	if (ks != AUDIT_KEY_LOADED && ks != AUDIT_KEY_CREATED) {
		fprintf(stderr, "espd: %s: %s\n", config_get(cfg, "audit_key_file"),
		        audit_key_message(ks));
		return 2;
	}
	if (sopin_key_open(config_get(cfg, "so_pin_key_file")) == SOPIN_KEY_BAD) {
		fprintf(stderr, "espd: %s: SO PIN key unreadable or malformed (key = <64 hex>)\n",
		        config_get(cfg, "so_pin_key_file"));
		return 2;
	}
	return 0;
}

/* Every espd on one store must sign with the same CA and call itself by
 * the same address: the first start records both in the store, later ones
 * compare. Returns 0, or 2 after saying on stderr what differs. */
static int same_deployment(struct server *srv, const char *ca_dir)
{
	char fp[65];
	ca_fingerprint(srv->ca, fp);
	const struct {
		const char *name, *value, *what;
	} keys[] = {
	    {"ca_fingerprint", fp, "CA certificate (SHA-256)"},
	    {"public_url", srv->public_url, "public_url"},
	};
	db_conn *c = db_acquire(srv->pool);
	int rc = 0;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0] && !rc; i++) {
		char *recorded = NULL;
		enum deployment_verdict v =
		    deployment_check(c, keys[i].name, keys[i].value, &recorded);
		if (v == DEPLOYMENT_ERROR) {
			fprintf(stderr, "espd: the store's deployment record could not be read\n");
			rc = 2;
		} else if (v == DEPLOYMENT_DIFFERS) {
			fprintf(
			    stderr,
			    "espd: %s differs from the one this store records: this process has "
			    "%s, the store %s (every espd on one store needs the same CA files "
			    "in %s and the same public_url; to move them all to a new public_url, "
			    "stop every espd, then espctl deployment set-public-url <new>)\n",
			    keys[i].what, keys[i].value, recorded, ca_dir);
			rc = 2;
		}
		free(recorded);
	}
	db_release(srv->pool, c);
	return rc;
}

/* The three listeners and the server's TLS key and certificate. */
struct listeners {
	struct listener_ctx ctx[3]; /* indexed by enum listener */
	char *key_pem, *crt_pem;
};

static const char *const listen_keys[3] = {[LISTEN_HTTP] = "http_listen",
                                           [LISTEN_HTTPS] = "https_listen",
                                           [LISTEN_LOGIN] = "login_listen"};

/* Starts the configured listeners; an empty address leaves one off.
 * Returns 0, or 2 after saying on stderr what failed. */
static int start_listeners(struct server *srv, struct listeners *l, const char *ca_dir)
{
	char *key_path = xasprintf("%s/server.key", ca_dir);
	char *crt_path = xasprintf("%s/server.crt", ca_dir);
	l->key_pem = file_read_all(key_path, NULL);
	l->crt_pem = file_read_all(crt_path, NULL);
	free(key_path);
	free(crt_path);
	for (int k = LISTEN_HTTP; k <= LISTEN_LOGIN; k++) {
		struct listener_ctx *lc = &l->ctx[k];
		*lc = (struct listener_ctx){.srv = srv, .kind = (enum listener)k};
		const char *spec = config_get(srv->cfg, listen_keys[k]);
		if (!*spec)
			continue;
		if (k != LISTEN_HTTP && (!l->key_pem || !l->crt_pem)) {
			fprintf(stderr, "espd: server certificate missing in %s\n", ca_dir);
			return 2;
		}
		/* Giving GnuTLS our chain makes the login listener ask every
		 * client for a certificate; it does not judge them:
		 * cert_login_check does. */
		bool proxied =
		    k == LISTEN_LOGIN && config_get_bool(srv->cfg, "login_proxy_protocol");
		lc->daemon =
		    k == LISTEN_HTTP
		        ? start_listener(lc, spec, NULL, NULL, NULL, false)
		        : start_listener(lc, spec, l->key_pem, l->crt_pem,
		                         k == LISTEN_LOGIN ? ca_chain_pem(srv->ca) : NULL, proxied);
		if (!lc->daemon)
			return 2;
	}
	return 0;
}

/* Stops accepting, lets the requests in flight end (5 s at most), then
 * stops the daemons; the committer is stopped before them, since
 * libmicrohttpd must not be stopped with a connection suspended: its
 * queued issuances are answered busy and their connections resumed. */
static void stop_listeners(struct listeners *l, struct issue_committer *committer)
{
	for (int k = 0; k < 3; k++) {
		proxy_acceptor_stop(l->ctx[k].acceptor);
		l->ctx[k].acceptor = NULL;
	}
	for (int k = 0; k < 3; k++)
		if (l->ctx[k].daemon)
			MHD_quiesce_daemon(l->ctx[k].daemon);
	for (int i = 0; i < 50; i++) {
		unsigned open = 0;
		for (int k = 0; k < 3; k++) {
			const union MHD_DaemonInfo *di =
			    l->ctx[k].daemon
			        ? MHD_get_daemon_info(l->ctx[k].daemon,
			                              MHD_DAEMON_INFO_CURRENT_CONNECTIONS)
			        : NULL;
			if (di)
				open += di->num_connections;
		}
		if (!open)
			break;
		usleep(100000);
	}
	/* Connections resumed just now get a moment to send their answers
	 * (201 for the batch that was being stored, 503 for those queued)
	 * before the daemons close every connection. */
	if (issue_committer_stop(committer))
		usleep(300000);
	for (int k = 0; k < 3; k++)
		if (l->ctx[k].daemon)
			MHD_stop_daemon(l->ctx[k].daemon);
	if (l->key_pem)
		sodium_memzero(l->key_pem, strlen(l->key_pem));
	free(l->key_pem);
	free(l->crt_pem);
}

int main(int argc, char **argv)
{
	/* A route without its action, or with more parameters than a request
	 * holds, is a bug of the build: refuse to serve with it. */
	if (!route_table_valid(routes)) {
		fprintf(stderr, "espd: the route table is malformed (routes.c)\n");
		return 1;
	}
	/* Blocked before any thread exists (the font library starts some in
	 * appform_init): every thread inherits the mask and only sigwait below
	 * receives SIGTERM, so a stop during start-up is seen, not fatal. */
	sigset_t stop_signals;
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
	signal(SIGPIPE, SIG_IGN);
	struct esp_config *cfg = config_new();
	int rc = load_config(cfg, argc, argv);
	if (rc != 0) {
		config_free(cfg);
		return rc < 0 ? 0 : 1;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "espd: libsodium failed to start\n");
		config_free(cfg);
		return 2;
	}
	/* Every refusal below ends at `out`, which frees whatever was made so
	 * far (each free takes NULL): a sanitizer build then reports only real
	 * leaks, whatever step failed. */
	struct server srv = {0};
	struct listeners l = {0};
	char *ca_dir = NULL;
	struct mailer *mailer = NULL;
	pthread_t maint_tid;
	bool maint_started = false;
	rc = 1;
	if (server_settings(&srv, cfg) != 0)
		goto out;
	srv.guard = guard_new(
	    (const int[GUARD_PHASES]){
	        [GUARD_HEADERS] = (int)config_get_long(cfg, "header_timeout_seconds"),
	        [GUARD_BODY] = (int)config_get_long(cfg, "body_timeout_seconds"),
	        [GUARD_SEND] = (int)config_get_long(cfg, "send_timeout_seconds"),
	    },
	    (unsigned)config_get_long(cfg, "max_connections") / 2);
	raise_file_limit();
	int applied = 0;
	rc = 2;
	if (open_store(&srv, &applied) != 0)
		goto out;
	/* Fonts are found once here: fontconfig is slow the first time. */
	appform_init();
	char *tplerr = NULL;
	srv.tpl = tpl_load_dir(config_get(cfg, "templates_dir"), &tplerr);
	if (!srv.tpl) {
		fprintf(stderr, "espd: templates: %s\n", tplerr);
		free(tplerr);
		goto out;
	}
	ca_dir = xasprintf("%s/ca", config_get(cfg, "data_dir"));
	if (ca_open(ca_dir, &srv.ca) != CA_OK) {
		fprintf(stderr, "espd: no CA in %s: run `espctl init` first\n", ca_dir);
		goto out;
	}
	if (same_deployment(&srv, ca_dir) != 0)
		goto out;
	rc = 1;
	if (metrics_init(&srv) != 0)
		goto out;
	rc = ocsp_start(&srv, ca_dir);
	if (rc != 0)
		goto out;
	rc = 2;
	if (config_get_bool(cfg, "issue_group_commit")) {
		const struct issue_committer_limits lim = {
		    .max_queue = (unsigned)config_get_long(cfg, "issue_queue_max"),
		    .max_batch = (unsigned)config_get_long(cfg, "issue_batch_max"),
		    .max_wait_ms = (int)config_get_long(cfg, "issue_queue_wait_ms"),
		    .store_wait_ms = srv.store_wait_ms,
		};
		srv.committer = issue_committer_start(srv.pool, &lim);
		if (!srv.committer) {
			fprintf(stderr, "espd: cannot start the issuance committer thread\n");
			goto out;
		}
	}
	if (start_listeners(&srv, &l, ca_dir) != 0)
		goto out;
	rc = 0;
	const char *spec[3];
	for (int k = 0; k < 3; k++)
		spec[k] =
		    *config_get(cfg, listen_keys[k]) ? config_get(cfg, listen_keys[k]) : "off";
	log_info("espd started: store %s (%d migrations applied), http %s, https %s, certificate "
	         "login %s",
	         db_pool_backend(srv.pool)->name, applied, spec[LISTEN_HTTP], spec[LISTEN_HTTPS],
	         spec[LISTEN_LOGIN]);

	maint_started = pthread_create(&maint_tid, NULL, maintenance_thread, &srv) == 0;
	mailer = mailer_start(&srv);

	int sig = 0;
	while (sigwait(&stop_signals, &sig) != 0)
		;
	stopping = sig;
	log_info("espd stopping (signal %d): finishing requests in flight", (int)stopping);
out:
	stop_listeners(&l, srv.committer);
	issue_committer_free(srv.committer);
	srv.committer = NULL;
	if (maint_started)
		pthread_join(maint_tid, NULL);
	mailer_stop(mailer);
	guard_free(srv.guard);
	free(ca_dir);
	ocsp_stop(&srv);
	ca_free(srv.ca);
	audit_key_forget();
	sopin_key_forget();
	tpl_free(srv.tpl);
	db_listen_stop(srv.pool);
	db_pool_close(srv.pool);
	free(srv.public_url);
	config_free(cfg);
	if (rc == 0)
		log_info("espd stopped");
	return rc;
}
