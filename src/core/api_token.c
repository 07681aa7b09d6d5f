/* API tokens of RA workstations: 256 random bits, stored as their SHA-256. */
#include "esp/api_token.h"
#include "esp/audit.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum db_status api_token_create(db_conn *c, const struct actor *a, const char *name, char **token)
{
	char *raw = random_token(32);
	char *tok = xasprintf("esp_%s", raw);
	sodium_memzero(raw, strlen(raw));
	free(raw);
	char hash[65];
	sha256_hex(tok, strlen(tok), hash);
	char prefix[13];
	snprintf(prefix, sizeof prefix, "%.12s", tok);
	const struct db_param params[] = {P_INT(a->account_id), P_TEXT(name), P_TEXT(hash),
	                                  P_TEXT(prefix), P_INT(time_now())};
	enum db_status st = db_exec_audited(
	    c,
	    "INSERT INTO api_tokens (account_id, name, token_hash, prefix, created_at) "
	    "VALUES ($1, $2, $3, $4, $5)",
	    params, 5, NULL, a, "api_token.create", prefix, "", name);
	if (st != DB_OK) {
		sodium_memzero(tok, strlen(tok));
		free(tok);
		return st;
	}
	*token = tok;
	return DB_OK;
}

enum db_status api_token_actor(db_conn *c, struct arena *ar, const char *token, struct actor *out)
{
	if (!token || strlen(token) < 20 || strlen(token) > 128)
		return DB_NOT_FOUND;
	char hash[65];
	sha256_hex(token, strlen(token), hash);
	db_result *r = NULL;
	enum db_status st = DB_EXEC(
	    c,
	    "SELECT ac.id, ac.role, ac.username, ac.display_name, ac.province_code, ac.status "
	    "FROM api_tokens t JOIN accounts ac ON ac.id = t.account_id "
	    "WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
	    &r, P_TEXT(hash));
	if (st == DB_OK && (r->nrows == 0 || strcmp(db_get(r, 0, 5), "active") != 0))
		st = DB_NOT_FOUND;
	if (st == DB_OK) {
		memset(out, 0, sizeof(*out));
		out->account_id = db_get_int(r, 0, 0, 0);
		out->role = role_parse(db_get(r, 0, 1));
		out->username = arena_strdup(ar, db_get(r, 0, 2));
		out->display_name = arena_strdup(ar, db_get(r, 0, 3));
		out->province_code = arena_strdup(ar, db_get(r, 0, 4));
		out->session_method = "api_token";
	}
	db_result_free(r);
	return st;
}

enum db_status api_token_revoke(db_conn *c, const struct actor *a, int64_t id)
{
	db_result *r = NULL;
	enum db_status st =
	    DB_EXEC(c,
	            "SELECT 1 FROM api_tokens WHERE id = $1 AND account_id = $2 AND "
	            "revoked_at IS NULL",
	            &r, P_INT(id), P_INT(a->account_id));
	bool found = st == DB_OK && r->nrows == 1;
	db_result_free(r);
	r = NULL;
	if (st != DB_OK || !found)
		return st != DB_OK ? st : DB_NOT_FOUND;
	const struct db_param params[] = {P_INT(id), P_INT(a->account_id), P_INT(time_now())};
	char *obj = xasprintf("api_token:%lld", (long long)id);
	st = db_exec_audited(
	    c,
	    "UPDATE api_tokens SET revoked_at = $3 WHERE id = $1 AND account_id = $2 AND "
	    "revoked_at IS NULL RETURNING prefix",
	    params, 3, &r, a, "api_token.revoke", obj, "active", "revoked");
	free(obj);
	db_result_free(r);
	return st;
}

enum db_status api_token_list(db_conn *c, struct arena *ar, int64_t account_id,
                              struct api_token **out, size_t *n)
{
	db_result *r = NULL;
	*out = NULL;
	*n = 0;
	enum db_status st =
	    DB_EXEC(c,
	            "SELECT id, name, prefix, created_at, revoked_at FROM api_tokens "
	            "WHERE account_id = $1 ORDER BY id DESC",
	            &r, P_INT(account_id));
	if (st == DB_OK && r->nrows) {
		*out = arena_alloc(ar, (size_t)r->nrows * sizeof **out);
		*n = (size_t)r->nrows;
		for (int i = 0; i < r->nrows; i++)
			(*out)[i] = (struct api_token){
			    .id = db_get_int(r, i, 0, 0),
			    .name = arena_strdup(ar, db_get(r, i, 1)),
			    .prefix = arena_strdup(ar, db_get(r, i, 2)),
			    .created_at = db_get_int(r, i, 3, 0),
			    .revoked = db_get(r, i, 4) != NULL,
			};
	}
	db_result_free(r);
	return st;
}
