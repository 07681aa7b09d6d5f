/* The configuration keys, their defaults and their meaning. */
#include "esp/config.h"
#include "esp/util.h"

#include <stdlib.h>
#include <string.h>

/* Builds without meson's layout option (the fuzz build) read the source tree. */
#ifndef ESP_TEMPLATES_DIR
#define ESP_TEMPLATES_DIR ESP_SOURCE_DIR "/templates"
#define ESP_STATIC_DIR ESP_SOURCE_DIR "/static"
#define ESP_MIGRATIONS_DIR ESP_SOURCE_DIR "/src/db/migrations"
#define ESP_DATA_DIR_DEFAULT "var"
#endif

struct config_key {
	const char *name;
	const char *def;
	const char *help;
};

/* The documentation of every key lives here and nowhere else. */
static const struct config_key keys[] = {
    {"data_dir", ESP_DATA_DIR_DEFAULT, "data directory: database, CA, server certificate, uploads"},
    {"database", "",
     "SQLite file path or postgresql://user@host:port/db; empty = <data_dir>/esp.db"},
    {"http_listen", "127.0.0.1:8080", "address:port of the HTTP portal listener (empty = off)"},
    {"https_listen", "127.0.0.1:8443", "address:port of the HTTPS portal listener (empty = off)"},
    {"login_listen", "127.0.0.1:8444",
     "address:port of the certificate-login HTTPS listener (empty = off)"},
    {"login_url", "https://127.0.0.1:8444/",
     "address of the certificate-login listener shown to users (证书U盘登录)"},
    {"public_url", "http://127.0.0.1:8080",
     "base URL printed in certificates (CRL distribution point) and links"},
    {"threads", "2", "worker threads per listener (libmicrohttpd thread pool, epoll)"},
    {"db_connections", "4", "database connections in the pool"},
    {"sqlite_synchronous", "full",
     "SQLite commits: full (on disk before the answer, survives a power loss) or normal "
     "(survives a killed espd; a power loss may take the last commits back; about twice the "
     "issuance rate)"},
    {"issue_group_commit", "on",
     "certificate issuance (POST /api/v1/applications/{n}/certificates): on = the requests in "
     "flight are stored by one committer thread in one transaction and one COMMIT, each "
     "connection suspended until its COMMIT returned; off = each request commits on its worker "
     "thread"},
    {"issue_batch_max", "64", "issuances stored in one transaction, at most (issue_group_commit)"},
    {"issue_queue_max", "1024",
     "issuances waiting for the committer, at most; more are answered 503 (issue_group_commit)"},
    {"issue_queue_wait_ms", "10000",
     "an issuance queued longer than this is answered 503, not stored (issue_group_commit)"},
    {"templates_dir", ESP_TEMPLATES_DIR, "HTML templates"},
    {"static_dir", ESP_STATIC_DIR, "CSS, JavaScript and images served under /static/"},
    {"migrations_dir", ESP_MIGRATIONS_DIR, "numbered SQL migrations applied at start"},
    {"max_body_bytes", "12582912",
     "largest request body accepted (413 above); uploads are at most 10 MB"},
    {"max_url_bytes", "2048", "longest request URL accepted (414 above)"},
    {"max_header_bytes", "16384",
     "largest request header block (libmicrohttpd memory limit per connection)"},
    {"max_json_bytes", "1048576",
     "largest request body that is not a form (JSON API bodies; 413 above)"},
    {"max_form_fields", "200", "most fields in one posted form (413 above)"},
    {"max_uploads_in_flight_bytes", "134217728",
     "all request bodies being received at once, together (503 above)"},
    {"max_connections", "4096",
     "open connections per listener; further clients wait in the kernel's queue (from half of it "
     "on, headers get 3 s)"},
    {"max_connections_per_ip", "64", "open connections per client address and listener"},
    {"header_timeout_seconds", "15",
     "longest time a connection may take to send a request's headers (or TLS handshake)"},
    {"body_timeout_seconds", "120", "longest time a request's body may take to arrive"},
    {"send_timeout_seconds", "600", "longest time a client may take to read a response"},
    {"idle_timeout_seconds", "30", "a connection with no traffic for this long is closed"},
    {"store_wait_ms", "2000", "longest wait for a free store connection before answering 503"},
    {"session_idle_minutes", "30",
     "a login session ends after this many minutes without a request"},
    {"session_max_hours", "8",
     "a login session ends this many hours after login, however active (formerly session_hours)"},
    {"https_url", "",
     "address of the HTTPS portal that password login over HTTP is sent to; empty = https://<host "
     "asked for>:<port of https_listen>"},
    {"http_login_redirect", "auto",
     "password login on the HTTP listener: auto = send it to the HTTPS portal unless the client is "
     "on loopback (the local demo), always (tests), never"},
    {"staff_password_login", "false",
     "let reviewers, RA, trainers and admins log in with a password (demo only; off in "
     "production)"},
    {"crl_hours", "24", "the CRL is re-signed at least this often"},
    {"renewal_window_days", "60",
     "a holder may apply to renew (更新) a certificate from this many days before it expires"},
    {"renewal_grace_days", "30",
     "and until this many days after it expired (password login then: the key no longer logs in)"},
    {"so_pin_key_file", "",
     "secret key sealing the tokens' SO PINs in the store (密码解锁; made on first start, mode "
     "0600); empty = <data_dir>/so-pin.key"},
    {"smtp_url", "",
     "mail server for notifications, smtp://host:587 (STARTTLS when offered) or "
     "smtps://host:465; empty = messages wait in the outbox"},
    {"smtp_from", "noreply@localhost", "sender address of notification e-mail"},
    {"smtp_username", "", "SMTP login name (empty = no login)"},
    {"smtp_password_file", "", "file holding the SMTP password (mode 0600)"},
    {"smtp_ca_file", "", "CA certificates trusted for the mail server's TLS (empty = system's)"},
    {"smtp_require_tls", "false", "refuse to send when the server offers no STARTTLS"},
    {"smtp_timeout_seconds", "60", "longest SMTP exchange for one message"},
    {"smtp_lease_seconds", "300",
     "how long a worker holds a message it sends; after a crash the message is sent again "
     "(or held for the admin) when this has passed; more than smtp_timeout_seconds"},
    {"smtp_retry_seconds", "60", "wait before the second attempt; doubled for each further one"},
    {"smtp_retry_max_seconds", "3600", "longest wait between two attempts"},
    {"smtp_max_attempts", "10", "attempts before a message becomes a dead letter"},
    {"mail_poll_ms", "1000", "how often the mail worker looks for due messages"},
    {"log_requests", "true", "one line per request to stderr"},
    {"password_hash", "interactive",
     "Argon2id cost: interactive (production) or min (test suites only)"},
    {"audit_key_file", "",
     "secret key of the audit log's MACs (made on first start, mode 0600); empty = "
     "<data_dir>/audit.key"},
    {"audit_anchor_file", "",
     "signed anchors of the audit log, one line each; empty = <data_dir>/audit-anchors"},
    {"audit_anchor_hours", "24", "the audit log's head is signed and anchored at least this often"},
    {"trusted_proxies", "",
     "comma-separated IP addresses of reverse proxies: only when the peer is one of them is the "
     "last X-Forwarded-For address taken as the client's"},
    {"login_proxy_protocol", "false",
     "the certificate-login listener is behind a TCP proxy that sends the PROXY protocol v2 "
     "header (HAProxy send-proxy-v2): from trusted_proxies the header is required and its "
     "address is the client's; from other peers none is read"},
    {"login_failures_per_account", "20",
     "wrong passwords for one user name from all addresses in login_lockout_seconds before it is "
     "locked (429; 0 = no limit)"},
    {"login_failures_per_address", "100",
     "wrong passwords from one client address for any user names in login_lockout_seconds (429; 0 "
     "= no limit)"},
    {"login_checks_per_second", "20",
     "password checks per second by all espd on the store (503 above; 0 = no limit)"},
    {"ra_search_cache_entries", "256",
     "RA search results (申请办理列表 with a search text) and RA home pages kept as rendered "
     "until an application, a registration's name or code or a province's name changes (0 = "
     "keep none)"},
    {"password_hash_concurrency", "1",
     "password hashes (Argon2id, 64 MiB each) espd runs at once; a registration or password "
     "login that finds none free waits password_hash_wait_ms, then gets 503 (0 = no limit)"},
    {"password_hash_wait_ms", "3000",
     "how long a registration or password login waits for a free password hash (then 503 with "
     "Retry-After)"},
    {"registrations_per_address_hour", "10",
     "registrations (报名) submitted from one client address per hour (429; 0 = no limit)"},
    {"challenges_per_address_minute", "60",
     "certificate-login challenges fetched by one client address per minute (429; 0 = no limit)"},
    {"challenges_max", "10000",
     "unexpired certificate-login challenges in the store (503 above; 0 = no limit)"},
    {"scans_per_account_minute", "10",
     "scans uploaded by one account per minute (429; 0 = no limit)"},
    {"scans_unreferenced_hours", "24",
     "a scan no application refers to is deleted after this many hours"},
    {"ocsp_url", "",
     "OCSP responder address put in issued certificates (authorityInfoAccess); empty = "
     "<public_url>/ocsp"},
    {"ocsp_next_update_minutes", "60",
     "validity of an OCSP answer (nextUpdate); a cached answer is signed again after half of it"},
    {"ocsp_cache_entries", "65536", "certificates whose OCSP answers espd keeps in memory"},
    {"ocsp_responder_days", "365",
     "validity of the OCSP responder's certificate (<data_dir>/ca/ocsp.pem, renewed at start "
     "30 days before its end)"},
    {"metrics_allow", "127.0.0.1,::1",
     "client addresses or prefixes (10.0.0.0/8) that may read /metrics (403 for others); behind "
     "a trusted proxy, the address it forwards"},
    {"client_dir", "",
     "where the client package esp-client_<version>_<arch>.deb offered on the driver page is; "
     "empty = <data_dir>/client"},
};

#define NKEYS (sizeof keys / sizeof keys[0])

struct esp_config {
	char *values[NKEYS];
	char *err;
};

static int key_index(const char *name)
{
	/* Its name before sessions had an idle time: old files keep working. */
	if (strcmp(name, "session_hours") == 0)
		name = "session_max_hours";
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

struct esp_config *config_new(void)
{
	struct esp_config *c = xcalloc(1, sizeof(*c));
	for (size_t i = 0; i < NKEYS; i++)
		c->values[i] = xstrdup(keys[i].def);
	return c;
}

void config_free(struct esp_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < NKEYS; i++)
		free(c->values[i]);
	free(c->err);
	free(c);
}

int config_set(struct esp_config *c, const char *key, const char *value)
{
	int i = key_index(key);
	if (i < 0)
		return -1;
	free(c->values[i]);
	c->values[i] = xstrdup(value);
	return 0;
}

int config_set_arg(struct esp_config *c, const char *arg)
{
	const char *eq = strchr(arg, '=');
	if (strncmp(arg, "--", 2) != 0 || !eq)
		return -1;
	char *key = xstrndup(arg + 2, (size_t)(eq - arg - 2));
	int rc = config_set(c, key, eq + 1) == 0 ? 0 : -2;
	free(key);
	return rc;
}

int config_load_file(struct esp_config *c, const char *path, bool required, const char **err)
{
	char *text = file_read_all(path, NULL);
	if (!text) {
		if (!required)
			return 0;
		free(c->err);
		c->err = xasprintf("cannot read configuration file %s", path);
		*err = c->err;
		return -1;
	}
	int lineno = 0;
	/* Every line counts, blank ones too, so that errors name the right line. */
	for (char *line = text, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		str_trim(line);
		if (!*line || *line == '#')
			continue;
		char *eq = strchr(line, '=');
		if (!eq) {
			free(c->err);
			c->err = xasprintf("%s:%d: expected key = value", path, lineno);
			*err = c->err;
			free(text);
			return -1;
		}
		*eq = '\0';
		char *k = str_trim(line), *v = str_trim(eq + 1);
		if (config_set(c, k, v) != 0) {
			free(c->err);
			c->err = xasprintf("%s:%d: unknown key '%s'", path, lineno, k);
			*err = c->err;
			free(text);
			return -1;
		}
	}
	free(text);
	return 0;
}

const char *config_get(const struct esp_config *c, const char *key)
{
	int i = key_index(key);
	if (i < 0) {
		log_error("internal: unknown configuration key %s", key);
		abort();
	}
	return c->values[i];
}

long config_get_long(const struct esp_config *c, const char *key)
{
	return strtol(config_get(c, key), NULL, 10);
}

bool config_get_bool(const struct esp_config *c, const char *key)
{
	const char *v = config_get(c, key);
	return strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "1") == 0 ||
	       strcmp(v, "on") == 0;
}

void config_print_help(FILE *out)
{
	fprintf(out, "Configuration keys (file lines \"key = value\", or --key=value):\n");
	for (size_t i = 0; i < NKEYS; i++)
		fprintf(out, "  %-22s %s\n  %-22s default: %s\n", keys[i].name, keys[i].help, "",
		        *keys[i].def ? keys[i].def : "(empty)");
}

void config_finish(struct esp_config *c)
{
	if (!*config_get(c, "database")) {
		char *db = xasprintf("%s/esp.db", config_get(c, "data_dir"));
		config_set(c, "database", db);
		free(db);
	}
	const char *files[][2] = {{"audit_key_file", "audit.key"},
	                          {"audit_anchor_file", "audit-anchors"},
	                          {"so_pin_key_file", "so-pin.key"}};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		if (*config_get(c, files[i][0]))
			continue;
		char *path = xasprintf("%s/%s", config_get(c, "data_dir"), files[i][1]);
		config_set(c, files[i][0], path);
		free(path);
	}
}
