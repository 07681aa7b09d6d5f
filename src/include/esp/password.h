/*
 * The password rule of every place a password is chosen, and changing and
 * resetting passwords (core/password.c).
 */
#ifndef ESP_PASSWORD_H
#define ESP_PASSWORD_H

#include <stdbool.h>

#include "esp/db.h"
#include "esp/policy.h"
#include "esp/settings.h"
#include "esp/util.h"

/* The one password rule of every place a password is chosen (registration,
 * change, espctl): at least min_length characters, at most 128 bytes, not
 * the username, not one character repeated, not a run such as 12345678,
 * not a date such as a birthday, not on the list of common passwords
 * (data/common-passwords.txt). NULL when acceptable, else a Chinese
 * sentence saying why (static storage, or a copy in a when the message
 * names the length). */
const char *password_policy_check(struct arena *a, int min_length, const char *username,
                                  const char *password);
/* True when password (any case) is on the common-passwords list. */
bool password_is_common(const char *password);

enum password_change_result {
	PWCHANGE_OK,
	PWCHANGE_WRONG_CURRENT, /* the current password does not match */
	PWCHANGE_WEAK,          /* *why says which rule */
	PWCHANGE_SAME,          /* the new password is the current one */
	PWCHANGE_NO_PASSWORD,   /* the account has no password (certificate only) */
	PWCHANGE_ERROR,
};
/* The holder changes its own password: checks the current one and the rule,
 * stores the new hash, clears must_change_password and ends every other
 * session of the account (all but the one whose cookie is keep_cookie),
 * audited, in one transaction. */
enum password_change_result account_password_change(db_conn *c, struct arena *a,
                                                    const struct esp_limits *l,
                                                    const struct actor *who, const char *current,
                                                    const char *new_password,
                                                    const char *keep_cookie, const char **why);
/* Sets username's password (no rule: the caller chose it) and whether it
 * must be changed at the next login; unlocks the account and ends all its
 * sessions; audited as action by `by`. DB_NOT_FOUND when no such account. */
enum db_status account_password_set(db_conn *c, const struct actor *by, const char *username,
                                    const char *password, bool must_change, const char *action);
/* An administrator's reset: a new random one-time password (*one_time,
 * caller wipes and frees) that must be changed at the next login. */
enum db_status account_password_reset(db_conn *c, const struct actor *by, const char *username,
                                      char **one_time);

#endif
