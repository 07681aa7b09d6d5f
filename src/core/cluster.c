/* Instance numbers, the maintenance lease and the deployment's identity in
 * the store, so that several espd on one database act as one system. */
#include "esp/cluster.h"
#include "esp/audit.h"
#include "esp/util.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int64_t instance_register(db_conn *c, const char *host, long pid)
{
	db_result *r = NULL;
	int64_t id = 0;
	if (DB_EXEC(
	        c, "INSERT INTO instances (host, pid, started_at) VALUES ($1, $2, $3) RETURNING id",
	        &r, P_TEXT(host), P_INT(pid), P_INT(time_now())) == DB_OK &&
	    r->nrows == 1)
		id = db_get_int(r, 0, 0, 0);
	db_result_free(r);
	return id;
}

/* One statement: it either inserts the lease, takes over an expired one or
 * renews our own, and returns a row only then; the row lock (PostgreSQL) or
 * the single writer (SQLite) decides between two processes at once. */
bool lease_take(db_conn *c, const char *name, int64_t holder, int64_t now, int seconds)
{
	db_result *r = NULL;
	enum db_status st = DB_EXEC(
	    c,
	    "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) "
	    "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
	    "expires_at = excluded.expires_at "
	    "WHERE leases.holder = excluded.holder OR leases.expires_at <= $4 RETURNING holder",
	    &r, P_TEXT(name), P_INT(holder), P_INT(now + seconds), P_INT(now));
	bool mine = st == DB_OK && r->nrows == 1 && db_get_int(r, 0, 0, 0) == holder;
	db_result_free(r);
	return mine;
}

bool lease_holder(db_conn *c, const char *name, char **host, long *pid)
{
	db_result *r = NULL;
	bool found =
	    DB_EXEC(c,
	            "SELECT i.host, i.pid FROM leases l JOIN instances i ON i.id = l.holder "
	            "WHERE l.name = $1",
	            &r, P_TEXT(name)) == DB_OK &&
	    r->nrows == 1;
	if (found) {
		*host = xstrdup(db_get(r, 0, 0));
		*pid = (long)db_get_int(r, 0, 1, 0);
	}
	db_result_free(r);
	return found;
}

void lease_release(db_conn *c, const char *name, int64_t holder)
{
	DB_EXEC(c, "DELETE FROM leases WHERE name = $1 AND holder = $2", NULL, P_TEXT(name),
	        P_INT(holder));
}

void lease_release_process(db_conn *c, const char *name, const char *host, long pid)
{
	DB_EXEC(c,
	        "DELETE FROM leases WHERE name = $1 AND holder IN (SELECT id FROM instances "
	        "WHERE host = $2 AND pid = $3)",
	        NULL, P_TEXT(name), P_TEXT(host), P_INT(pid));
}

bool deployment_recorded(db_conn *c)
{
	db_result *r = NULL;
	bool yes = DB_EXEC0(c, "SELECT 1 FROM schema_migrations WHERE version = 13", &r) == DB_OK &&
	           r->nrows == 1;
	db_result_free(r);
	return yes;
}

bool store_has_ca(db_conn *c)
{
	char *fp = deployment_recorded(c) ? deployment_get(c, "ca_fingerprint") : NULL;
	bool has = fp != NULL;
	free(fp);
	db_result *r = NULL;
	if (!has && DB_EXEC0(c, "SELECT 1 FROM crl UNION ALL SELECT 1 FROM certificates LIMIT 1",
	                     &r) == DB_OK)
		has = r->nrows > 0;
	db_result_free(r);
	return has;
}

void ca_fingerprint(const esp_ca *ca, char out[65])
{
	const char *pem = ca_cert_pem(ca);
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, (const unsigned char *)pem, strlen(pem));
	sodium_bin2hex(out, 65, h, sizeof h);
}

char *deployment_get(db_conn *c, const char *name)
{
	db_result *r = NULL;
	char *v = NULL;
	if (DB_EXEC(c, "SELECT value FROM deployment WHERE name = $1", &r, P_TEXT(name)) == DB_OK &&
	    r->nrows == 1)
		v = xstrdup(db_get(r, 0, 0));
	db_result_free(r);
	return v;
}

enum deployment_verdict deployment_check(db_conn *c, const char *name, const char *value,
                                         char **recorded)
{
	*recorded = NULL;
	/* Two processes recording at once: the second insert does nothing and
	 * the read after it sees the first one's value. */
	db_result *r = NULL;
	if (DB_EXEC(c,
	            "INSERT INTO deployment (name, value) VALUES ($1, $2) "
	            "ON CONFLICT (name) DO NOTHING RETURNING name",
	            &r, P_TEXT(name), P_TEXT(value)) != DB_OK) {
		db_result_free(r);
		return DEPLOYMENT_ERROR;
	}
	bool inserted = r->nrows == 1;
	db_result_free(r);
	char *v = deployment_get(c, name);
	if (!v)
		return DEPLOYMENT_ERROR;
	*recorded = v;
	if (strcmp(v, value) != 0)
		return DEPLOYMENT_DIFFERS;
	return inserted ? DEPLOYMENT_RECORDED : DEPLOYMENT_SAME;
}

struct deployment_set_ctx {
	const struct actor *a;
	const char *name, *value;
	char *before;
	bool same;
};

/* The value read, changed and audited in one transaction: two operators at
 * once cannot both record the same "before". */
static enum db_status deployment_set_tx(db_conn *c, void *arg)
{
	struct deployment_set_ctx *x = arg;
	free(x->before);
	x->before = NULL;
	x->same = false;
	db_result *r = NULL;
	enum db_status st =
	    DB_EXEC(c, "SELECT value FROM deployment WHERE name = $1", &r, P_TEXT(x->name));
	if (st == DB_OK && r->nrows == 1)
		x->before = xstrdup(db_get(r, 0, 0));
	db_result_free(r);
	if (st != DB_OK)
		return st;
	if (x->before && strcmp(x->before, x->value) == 0) {
		x->same = true;
		return DB_OK;
	}
	st = DB_EXEC(c,
	             "INSERT INTO deployment (name, value) VALUES ($1, $2) "
	             "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
	             NULL, P_TEXT(x->name), P_TEXT(x->value));
	if (st != DB_OK)
		return st;
	return audit_append(c, x->a, "deployment.set", x->name, x->before ? x->before : "",
	                    x->value);
}

enum db_status deployment_set(db_conn *c, const struct actor *a, const char *name,
                              const char *value, char **before, bool *same)
{
	struct deployment_set_ctx x = {.a = a, .name = name, .value = value};
	enum db_status st = db_transaction(c, deployment_set_tx, &x);
	*same = st == DB_OK && x.same;
	if (before)
		*before = x.before;
	else
		free(x.before);
	return st;
}
