/*
 * An in-process espd for fuzz targets (see fuzz_http.h).  libmicrohttpd runs
 * without a thread or a listening socket: each request is a new connection
 * handed over with MHD_add_connection on one end of a socketpair, and this
 * thread turns the daemon's crank with MHD_run while it writes the request
 * and reads the reply on the other end.  Everything stays in one thread, so
 * a crash is reported with the input that caused it.
 */
#include "fuzz_http.h"

#include "../../src/httpd/httpd.h"
#include "../../src/httpd/server.h"
#include "../../src/httpd/throttle.h"
#include "esp/audit.h"
#include "esp/api_token.h"
#include "esp/ra.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static struct server srv;
static struct listener_ctx lc;
static char *store_dir;
static char *api_token;

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_http: %s\n", what);
	abort();
}

/* The store, the audit key and anchors: files one or two levels deep. */
static void remove_tree(const char *dir, int depth)
{
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			char *p = xasprintf("%s/%s", dir, e->d_name);
			if (unlink(p) != 0 && depth > 0)
				remove_tree(p, depth - 1);
			free(p);
		}
		closedir(d);
	}
	rmdir(dir);
}

static void remove_store(void)
{
	if (store_dir)
		remove_tree(store_dir, 2);
}

/* The store espd opens at start, in a temporary data directory: migrated,
 * the audit key made, and one RA account with an API token (the JSON API
 * answers nothing else). */
static void open_store(void)
{
	const char *err = NULL;
	srv.pool = db_pool_open(config_get(srv.cfg, "database"), 1, &err);
	if (!srv.pool)
		fail(err ? err : "db_pool_open");
	int applied = 0;
	if (db_migrate(srv.pool, config_get(srv.cfg, "migrations_dir"), &applied) != DB_OK)
		fail("db_migrate");
	db_conn *c = db_acquire(srv.pool);
	limits_load(c, &srv.limits);
	enum audit_key_status ks = audit_key_open(c, config_get(srv.cfg, "audit_key_file"), true);
	if (ks != AUDIT_KEY_LOADED && ks != AUDIT_KEY_CREATED)
		fail(audit_key_message(ks));
	int64_t id = 0;
	if (account_create(c, "fuzz-ra", "fuzz-password-1", ROLE_RA, "模糊测试", 0, "", 0, &id) !=
	    DB_OK)
		fail("account_create");
	struct actor a = {
	    .account_id = id, .role = ROLE_RA, .username = "fuzz-ra", .address = "127.0.0.1"};
	if (api_token_create(c, &a, "fuzz", &api_token) != DB_OK)
		fail("api_token_create");
	db_release(srv.pool, c);
}

static struct MHD_Daemon *daemon_;

/* As espd's main() sets the server up, with the defaults of every key. */
void fuzz_http_init(void)
{
	if (daemon_)
		return;
	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0)
		fail("sodium_init");
	/* libFuzzer's fork mode ends its jobs without atexit handlers:
	 * scripts/fuzz.sh points TMPDIR at a directory it empties itself. */
	const char *tmp = getenv("TMPDIR");
	store_dir = xasprintf("%s/esp-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(store_dir))
		fail("mkdtemp");
	atexit(remove_store);
	struct esp_config *cfg = srv.cfg = config_new();
	config_set(cfg, "data_dir", store_dir);
	config_set(cfg, "password_hash", "min");
	config_set(cfg, "log_requests", "false");
	config_finish(cfg);
	password_set_cost(config_get(cfg, "password_hash"));
	throttle_init(cfg);
	char *bad = NULL;
	if (client_addr_init(config_get(cfg, "trusted_proxies"), &bad) != 0)
		fail("client_addr_init");
	srv.max_body = (size_t)config_get_long(cfg, "max_body_bytes");
	srv.max_url = (size_t)config_get_long(cfg, "max_url_bytes");
	srv.max_raw_body = (size_t)config_get_long(cfg, "max_json_bytes");
	srv.max_form_fields = (unsigned)config_get_long(cfg, "max_form_fields");
	srv.max_bodies_in_flight = (size_t)config_get_long(cfg, "max_uploads_in_flight_bytes");
	srv.store_wait_ms = (int)config_get_long(cfg, "store_wait_ms");
	srv.guard = guard_new(
	    (const int[GUARD_PHASES]){
	        [GUARD_HEADERS] = (int)config_get_long(cfg, "header_timeout_seconds"),
	        [GUARD_BODY] = (int)config_get_long(cfg, "body_timeout_seconds"),
	        [GUARD_SEND] = (int)config_get_long(cfg, "send_timeout_seconds"),
	    },
	    (unsigned)config_get_long(cfg, "max_connections") / 2);
	srv.staff_password_login = config_get_bool(cfg, "staff_password_login");
	srv.log_requests = config_get_bool(cfg, "log_requests");
	srv.session_seconds = (int)config_get_long(cfg, "session_max_hours") * 3600;
	session_set_idle_seconds((int)config_get_long(cfg, "session_idle_minutes") * 60);
	srv.static_dir = config_get(cfg, "static_dir");
	srv.public_url = xstrdup(config_get(cfg, "public_url"));
	open_store();
	/* The CA and the OCSP responder, as espctl init and espd's start make
	 * them (the OCSP target asks them). */
	char *ca_dir = xasprintf("%s/ca", store_dir);
	if (mkdir(ca_dir, 0700) != 0 || ca_create(ca_dir, "模糊测试") != CA_OK ||
	    ca_open(ca_dir, &srv.ca) != CA_OK || ocsp_start(&srv, ca_dir) != 0)
		fail("CA or OCSP responder");
	free(ca_dir);
	char *err = NULL;
	srv.tpl = tpl_load_dir(config_get(cfg, "templates_dir"), &err);
	if (!srv.tpl)
		fail(err ? err : "tpl_load_dir");
	lc.srv = &srv;
	lc.kind = LISTEN_HTTP;
	daemon_ = MHD_start_daemon(
	    MHD_USE_NO_LISTEN_SOCKET, 0, NULL, NULL, server_access, &lc,
	    MHD_OPTION_NOTIFY_COMPLETED, (MHD_RequestCompletedCallback)server_completed, &lc,
	    MHD_OPTION_NOTIFY_CONNECTION, (MHD_NotifyConnectionCallback)guard_notify, srv.guard,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    (size_t)(config_get_long(cfg, "max_header_bytes") + 16384),
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)config_get_long(cfg, "idle_timeout_seconds"),
	    MHD_OPTION_END);
	if (!daemon_)
		fail("MHD_start_daemon");
	lc.daemon = daemon_;
}

const char *fuzz_http_token(void)
{
	return api_token;
}

int fuzz_http_request(const char *head, const void *body, size_t len)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
		fail("socketpair");
	struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(40000)};
	peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (MHD_add_connection(daemon_, sv[0], (const struct sockaddr *)&peer, sizeof peer) !=
	    MHD_YES)
		fail("MHD_add_connection");

	struct buf req = {0};
	buf_puts(&req, head);
	buf_printf(&req, "Content-Length: %zu\r\nConnection: close\r\n\r\n", len);
	if (len)
		buf_put(&req, body, len);

	struct buf resp = {0};
	size_t sent = 0;
	bool eof = false;
	/* Every turn either moves bytes or gives the daemon another chance; a
	 * complete request that gets no answer after this many is a hang. */
	for (long idle = 0; !eof; idle++) {
		if (idle > 200000)
			fail("no reply to a complete request");
		if (sent < req.len) {
			ssize_t n = send(sv[1], req.data + sent, req.len - sent, MSG_NOSIGNAL);
			if (n > 0) {
				sent += (size_t)n;
				idle = 0;
			} else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
				sent = req.len; /* answered early and closed: read the answer */
			}
		}
		if (MHD_run(daemon_) != MHD_YES)
			fail("MHD_run");
		char chunk[16384];
		for (;;) {
			ssize_t n = recv(sv[1], chunk, sizeof chunk, 0);
			if (n > 0) {
				buf_put(&resp, chunk, (size_t)n);
				idle = 0;
			} else {
				if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
					eof = true;
				break;
			}
		}
	}
	close(sv[1]);
	MHD_run(daemon_); /* lets the daemon finish the closed connection */

	int status = -1;
	if (resp.len >= 13 && memcmp(resp.data, "HTTP/1.1 ", 9) == 0 && resp.data[12] == ' ') {
		status = 0;
		for (int i = 9; i < 12; i++)
			status = resp.data[i] >= '0' && resp.data[i] <= '9' && status >= 0
			             ? status * 10 + (resp.data[i] - '0')
			             : -1;
		if (status < 100 || status > 599)
			status = -1;
	}
	if (status < 0) {
		fprintf(stderr, "fuzz_http: reply without a status line (%zu bytes): %.*s\n",
		        resp.len, (int)(resp.len < 200 ? resp.len : 200),
		        resp.data ? resp.data : "");
		abort();
	}
	/* ESP_FUZZ_VERBOSE=1 shows what each input got, when replaying one. */
	static int verbose = -1;
	if (verbose < 0)
		verbose = getenv("ESP_FUZZ_VERBOSE") != NULL;
	if (verbose) {
		const char *body_start = strstr(resp.data, "\r\n\r\n");
		fprintf(stderr, "fuzz_http: %.*s -> %d %.*s\n", (int)strcspn(head, "\r"), head,
		        status,
		        body_start ? (int)(resp.len - (size_t)(body_start + 4 - resp.data) < 300
		                               ? resp.len - (size_t)(body_start + 4 - resp.data)
		                               : 300)
		                   : 0,
		        body_start ? body_start + 4 : "");
	}
	buf_free(&req);
	buf_free(&resp);
	return status;
}
