/*
 * 密码解锁 (remote unlock): the tokens' SO PINs in ESP's custody.
 *
 * At enrolment the RA's tool asks for a random SO PIN, sets it on the token
 * and confirms; ESP keeps it sealed (libsodium secretbox) with a key kept
 * outside the store (so_pin_key_file), so a copy of the store alone gives no
 * SO PIN.  A holder whose token is locked applies for an unlock; once the RA
 * approves, the application page shows a one-time authorisation with which
 * the holder's tool fetches the SO PIN and a fresh one, sets the new user PIN
 * and the fresh SO PIN, and confirms: the released SO PIN is then gone.
 */
#ifndef ESP_SOPIN_H
#define ESP_SOPIN_H

#include <stdbool.h>

#include "esp/db.h"
#include "esp/policy.h"
#include "esp/util.h"

/* ---- the sealing key ---- */
enum sopin_key_status { SOPIN_KEY_LOADED, SOPIN_KEY_CREATED, SOPIN_KEY_BAD };
/* Load the key file, making it (mode 0600) when absent. */
enum sopin_key_status sopin_key_open(const char *path);
void sopin_key_set(const unsigned char key[32]); /* tests */
void sopin_key_forget(void);

enum sopin_result {
	SOPIN_OK,
	SOPIN_EXISTING,    /* done before: nothing changed */
	SOPIN_BAD_INPUT,   /* a field missing or malformed */
	SOPIN_NOT_FOUND,   /* no such application, or no valid certificate on the token */
	SOPIN_FORBIDDEN,   /* not the actor's token or application */
	SOPIN_WRONG_STATE, /* the application is not at this step */
	SOPIN_BAD_CODE,    /* the one-time authorisation or the token does not match */
	SOPIN_NO_CUSTODY,  /* ESP holds no SO PIN of the token (enrolled without one) */
	SOPIN_NO_KEY,      /* the sealing key is not loaded */
	SOPIN_ERROR,
};
const char *sopin_result_code(enum sopin_result r);
const char *sopin_result_message(enum sopin_result r);
int sopin_result_status(enum sopin_result r);

/* Enrolment (the RA's API token): the SO PIN to set on the token, made once
 * and handed out again until confirmed (*next_pin malloc'd); SOPIN_EXISTING
 * once in custody. */
enum sopin_result sopin_custody_begin(db_conn *c, const struct actor *a, const char *token,
                                      char **next_pin);
enum sopin_result sopin_custody_confirm(db_conn *c, const struct actor *a, const char *token);

/* The holder applies for the unlock of one of its tokens (*number malloc'd;
 * an open unlock of the same token is returned as SOPIN_EXISTING). */
enum sopin_result sopin_unlock_apply(db_conn *c, const struct actor *a, const char *token,
                                     char **number);
/* The RA approves: the one-time authorisation is made. */
enum sopin_result sopin_unlock_approve(db_conn *c, const struct actor *a, const char *number);
/* The authorisation of an approved unlock, for its holder's page (malloc'd), or NULL. */
char *sopin_unlock_code(db_conn *c, const char *number);
/* The tool, with the authorisation: the SO PIN on the token and the one to
 * set instead (both malloc'd); the same pair until confirmed. */
enum sopin_result sopin_unlock_release(db_conn *c, const char *number, const char *code,
                                       const char *token, char **current, char **next);
/* The tool set both PINs: the fresh SO PIN is the one in custody now. */
enum sopin_result sopin_unlock_confirm(db_conn *c, const char *number, const char *code);

/* A token of the registration as the unlock page shows it. */
struct unlock_row {
	const char *token_serial, *serial; /* the token and its valid certificate */
	bool custody;                      /* ESP holds its SO PIN */
	const char *number;                /* its unlock application still open, or NULL */
};
/* The tokens with a valid certificate of the registration (strings, *out in arena). */
enum db_status sopin_unlock_list(db_conn *c, struct arena *a, int64_t registration_id,
                                 struct unlock_row **out, size_t *n);

#endif
