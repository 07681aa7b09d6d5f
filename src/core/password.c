/*
 * The password rule, and the ways a password changes after the account
 * exists: the holder's own change (密码修改), and an administrator's reset
 * to a one-time password that must be changed at the next login.
 *
 * The rule is meant to stop the guessable, not to make people invent line
 * noise: a length, no username, no repeated character or run, no date, and
 * no password from the list that attackers try first. No character-class
 * quotas: they push people to Password1! and to notes on the monitor.
 */
#include "esp/password.h"
#include "esp/account.h"
#include "esp/audit.h"
#include "esp/ratelimit.h"
#include "esp/validate.h"

#include <ctype.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Generated from data/common-passwords.txt: lower case, sorted bytewise. */
extern const char *const common_passwords[];
extern const size_t common_passwords_count;

#define PASSWORD_MAX_BYTES 128

static int compare_entry(const void *key, const void *entry)
{
	return strcmp(key, *(const char *const *)entry);
}

bool password_is_common(const char *password)
{
	size_t n = strlen(password);
	if (n > PASSWORD_MAX_BYTES)
		return false;
	char lower[PASSWORD_MAX_BYTES + 1];
	for (size_t i = 0; i <= n; i++)
		lower[i] = (char)tolower((unsigned char)password[i]);
	bool found = bsearch(lower, common_passwords, common_passwords_count,
	                     sizeof common_passwords[0], compare_entry) != NULL;
	sodium_memzero(lower, sizeof lower);
	return found;
}

/* aaaaaaaa */
static bool one_character(const char *p)
{
	for (const char *q = p + 1; *q; q++)
		if (*q != *p)
			return false;
	return true;
}

/* 12345678, 87654321, abcdefgh: each character one more (or one less)
 * than the one before, all digits or all letters. */
static bool run(const char *p)
{
	size_t n = strlen(p);
	bool digits = true, letters = true;
	for (size_t i = 0; i < n; i++) {
		digits = digits && isdigit((unsigned char)p[i]);
		letters = letters && isalpha((unsigned char)p[i]);
	}
	if (!digits && !letters)
		return false;
	int step = tolower((unsigned char)p[1]) - tolower((unsigned char)p[0]);
	if (step != 1 && step != -1)
		return false;
	for (size_t i = 2; i < n; i++)
		if (tolower((unsigned char)p[i]) - tolower((unsigned char)p[i - 1]) != step)
			return false;
	return true;
}

/* 19800101, 20240229: a birthday or another date, written YYYYMMDD. */
static bool date(const char *p)
{
	if (strlen(p) != 8)
		return false;
	for (int i = 0; i < 8; i++)
		if (!isdigit((unsigned char)p[i]))
			return false;
	int y = atoi((char[]){p[0], p[1], p[2], p[3], 0});
	int m = atoi((char[]){p[4], p[5], 0});
	int d = atoi((char[]){p[6], p[7], 0});
	static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return y >= 1900 && y <= 2099 && m >= 1 && m <= 12 && d >= 1 && d <= days[m - 1];
}

const char *password_policy_check(struct arena *a, int min_length, const char *username,
                                  const char *password)
{
	if (!password || !*password)
		return "请输入密码";
	long chars = utf8_length(password);
	if (chars < 0)
		return "密码含有无法识别的字符";
	if (chars < min_length)
		return arena_printf(a, "密码至少%d位", min_length);
	if (strlen(password) > PASSWORD_MAX_BYTES)
		return "密码不能超过128个字符";
	if (username && strcasecmp(password, username) == 0)
		return "密码不能与用户名相同";
	if (one_character(password))
		return "密码不能由同一个字符重复组成";
	if (run(password))
		return "密码不能是连续的数字或字母（如12345678、abcdefgh）";
	if (date(password))
		return "密码不能是日期（如生日）";
	if (password_is_common(password))
		return "该密码过于常见，很容易被猜中，请换一个";
	return NULL;
}

/* ---- changing a password ---- */

struct set_ctx {
	const struct actor *by;
	const char *username, *hash, *action, *keep_hash;
	bool must_change;
};

static enum db_status password_set_tx(db_conn *c, void *arg)
{
	struct set_ctx *x = arg;
	db_result *r = NULL;
	enum db_status st = DB_EXEC(
	    c,
	    "UPDATE accounts SET password_hash = $1, must_change_password = $2 WHERE username = $3 "
	    "RETURNING id",
	    &r, P_TEXT(x->hash), P_INT(x->must_change ? 1 : 0), P_TEXT(x->username));
	if (st == DB_OK && r->nrows == 0)
		st = DB_NOT_FOUND;
	/* Whoever held the old password is logged out everywhere (but the
	 * holder changing it keeps the session it changed it in). */
	if (st == DB_OK)
		st = DB_EXEC(c, "DELETE FROM sessions WHERE account_id = $1 AND id_hash <> $2",
		             NULL, P_INT(db_get_int(r, 0, 0, 0)),
		             P_TEXT(x->keep_hash ? x->keep_hash : ""));
	db_result_free(r);
	/* The failed logins counted against the old password are forgotten
	 * (account.c's keys): a locked-out holder can use the new one at once. */
	char *user_key = xasprintf("login:user:%s", x->username);
	char *addr_prefix = xasprintf("login:user-addr:%s|", x->username);
	if (st == DB_OK)
		st = ratelimit_clear(c, user_key);
	if (st == DB_OK)
		st = DB_EXEC(
		    c,
		    "DELETE FROM rate_limits WHERE substr(key, 1, length(CAST($1 AS TEXT))) = "
		    "CAST($1 AS TEXT)",
		    NULL, P_TEXT(addr_prefix));
	free(user_key);
	free(addr_prefix);
	if (st != DB_OK)
		return st;
	char *obj = xasprintf("account:%s", x->username);
	st = audit_append(c, x->by, x->action, obj, "", x->must_change ? "must_change" : "");
	free(obj);
	return st;
}

static enum db_status password_store(db_conn *c, const struct actor *by, const char *username,
                                     const char *password, bool must_change, const char *action,
                                     const char *keep_cookie)
{
	char keep[65];
	if (keep_cookie)
		sha256_hex(keep_cookie, strlen(keep_cookie), keep);
	char *hash = password_hash(password);
	struct set_ctx x = {.by = by,
	                    .username = username,
	                    .hash = hash,
	                    .action = action,
	                    .keep_hash = keep_cookie ? keep : NULL,
	                    .must_change = must_change};
	enum db_status st = db_transaction(c, password_set_tx, &x);
	free(hash);
	return st;
}

enum db_status account_password_set(db_conn *c, const struct actor *by, const char *username,
                                    const char *password, bool must_change, const char *action)
{
	return password_store(c, by, username, password, must_change, action, NULL);
}

enum db_status account_password_reset(db_conn *c, const struct actor *by, const char *username,
                                      char **one_time)
{
	/* 12 random bytes: 16 characters, read out or typed once. */
	char *pw = random_token(12);
	enum db_status st =
	    account_password_set(c, by, username, pw, true, "account.password_reset");
	if (st != DB_OK) {
		sodium_memzero(pw, strlen(pw));
		free(pw);
		pw = NULL;
	}
	*one_time = pw;
	return st;
}

enum password_change_result account_password_change(db_conn *c, struct arena *a,
                                                    const struct esp_limits *l,
                                                    const struct actor *who, const char *current,
                                                    const char *new_password,
                                                    const char *keep_cookie, const char **why)
{
	/* The rule first: it costs nothing, and hashing (Argon2id) does. */
	if ((*why = password_policy_check(a, l->password_min_length, who->username, new_password)))
		return PWCHANGE_WEAK;
	db_result *r = NULL;
	if (DB_EXEC(c, "SELECT password_hash FROM accounts WHERE id = $1", &r,
	            P_INT(who->account_id)) != DB_OK)
		return PWCHANGE_ERROR;
	if (r->nrows == 0 || !db_get(r, 0, 0) || !*db_get(r, 0, 0)) {
		db_result_free(r);
		return PWCHANGE_NO_PASSWORD;
	}
	char *hash = xstrdup(db_get(r, 0, 0));
	db_result_free(r);
	bool current_ok = password_verify(hash, current ? current : "");
	sodium_memzero(hash, strlen(hash));
	free(hash);
	if (!current_ok)
		return PWCHANGE_WRONG_CURRENT;
	if (strcmp(current, new_password) == 0)
		return PWCHANGE_SAME;
	if (password_store(c, who, who->username, new_password, false, "account.password_change",
	                   keep_cookie) != DB_OK)
		return PWCHANGE_ERROR;
	return PWCHANGE_OK;
}
