/*
 * The API tokens of RA workstations (core/api_token.c): 256 random bits
 * shown once, stored as their SHA-256.
 */
#ifndef ESP_API_TOKEN_H
#define ESP_API_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esp/db.h"
#include "esp/policy.h"
#include "esp/util.h"

/* Creates a token for an account; *token (malloc'ed) is shown once. */
enum db_status api_token_create(db_conn *c, const struct actor *a, const char *name, char **token);
/* Loads the actor of a bearer token (strings in arena): DB_NOT_FOUND when
 * unknown, revoked or the account disabled. */
enum db_status api_token_actor(db_conn *c, struct arena *ar, const char *token, struct actor *out);
enum db_status api_token_revoke(db_conn *c, const struct actor *a, int64_t id);
/* A token as its owner's list shows it (never the token itself). */
struct api_token {
	int64_t id;
	const char *name;
	const char *prefix; /* the first 12 characters, to tell tokens apart */
	int64_t created_at;
	bool revoked;
};
/* An account's tokens, newest first (strings and *out in arena). */
enum db_status api_token_list(db_conn *c, struct arena *ar, int64_t account_id,
                              struct api_token **out, size_t *n);

#endif
