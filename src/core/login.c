/* Certificate login checks, single-use challenges and staff certificates. */
#include "esp/login.h"
#include "esp/registration.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Certificates that chained to our CA before, by the SHA-256 of their DER.
 * The same bytes always give the same verdict against the same CA, so a
 * holder logging in again skips the parse and the signature check; what
 * can change (revocation, expiry, the account) is asked of the store every
 * time below. */
#define VERIFIED_SLOTS 1024
static struct {
	unsigned char hash[32];
	char serial[72];
	bool used;
} verified[VERIFIED_SLOTS];
static pthread_mutex_t verified_lock = PTHREAD_MUTEX_INITIALIZER;

static char *verified_lookup(const unsigned char hash[32])
{
	unsigned i = ((unsigned)hash[0] << 8 | hash[1]) % VERIFIED_SLOTS;
	char *sn = NULL;
	pthread_mutex_lock(&verified_lock);
	if (verified[i].used && memcmp(verified[i].hash, hash, 32) == 0)
		sn = xstrdup(verified[i].serial);
	pthread_mutex_unlock(&verified_lock);
	return sn;
}

static void verified_store(const unsigned char hash[32], const char *serial)
{
	if (strlen(serial) >= sizeof verified[0].serial)
		return;
	unsigned i = ((unsigned)hash[0] << 8 | hash[1]) % VERIFIED_SLOTS;
	pthread_mutex_lock(&verified_lock);
	memcpy(verified[i].hash, hash, 32);
	snprintf(verified[i].serial, sizeof verified[i].serial, "%s", serial);
	verified[i].used = true;
	pthread_mutex_unlock(&verified_lock);
}

/* The serial only names a certificate: another one with the same serial
 * (made by whoever held the issuing key once, or by a bug) is not the one
 * ESP issued and stored.  Column 4 of r is the stored DER. */
static bool same_der(db_result *r, const unsigned char *der, size_t len)
{
	const char *stored = db_get(r, 0, 4);
	return stored && db_get_len(r, 0, 4) == len && memcmp(stored, der, len) == 0;
}

enum cert_login cert_login_check(db_conn *c, esp_ca *ca, const unsigned char *der, size_t len,
                                 int64_t *account_id, char **serial)
{
	*serial = NULL;
	if (!der || !len)
		return CL_NO_CERT;
	unsigned char hash[32];
	crypto_hash_sha256(hash, der, len);
	char *sn = verified_lookup(hash);
	enum ca_verdict v = CA_CERT_GOOD;
	if (!sn) {
		v = ca_verify_client(ca, der, len, (time_t)time_now(), &sn);
		if (v == CA_CERT_GOOD)
			verified_store(hash, sn);
	}
	switch (v) {
	case CA_CERT_GOOD:
		break;
	case CA_CERT_UNKNOWN_ISSUER:
		return CL_UNKNOWN_ISSUER;
	case CA_CERT_EXPIRED:
		return CL_EXPIRED;
	case CA_CERT_NOT_YET_VALID:
		return CL_NOT_YET_VALID;
	default:
		return CL_BAD;
	}
	*serial = sn;
	db_result *r = NULL;
	/* The holder's account is the applicant account of the certificate's
	 * registration; staff keys name their account directly. */
	enum db_status st =
	    DB_EXEC(c,
	            "SELECT ce.status, ce.not_after, a.id, a.status, ce.der FROM certificates ce "
	            "LEFT JOIN accounts a ON a.id = ce.account_id OR "
	            "(ce.account_id IS NULL AND a.registration_id = ce.registration_id) "
	            "WHERE ce.serial = $1",
	            &r, P_TEXT(sn));
	enum cert_login res;
	if (st != DB_OK)
		res = CL_ERROR;
	else if (r->nrows == 0 || !same_der(r, der, len))
		res = CL_UNKNOWN_CERT;
	else if (strcmp(db_get(r, 0, 0), "valid") != 0)
		res = CL_REVOKED;
	else if (db_get_int(r, 0, 1, 0) < time_now())
		res = CL_EXPIRED;
	else if (!db_get(r, 0, 2))
		res = CL_UNKNOWN_CERT;
	else if (strcmp(db_get(r, 0, 3), "active") != 0)
		res = CL_DISABLED;
	else {
		*account_id = db_get_int(r, 0, 2, 0);
		res = CL_OK;
	}
	db_result_free(r);
	return res;
}

static const struct login_text {
	enum cert_login r;
	const char *title, *message;
} texts[] = {
    {CL_OK, "登录成功", ""},
    {CL_NO_CERT, "未检测到证书U盘",
     "浏览器没有提供数字证书。请检查：证书U盘已插入计算机；证书介质驱动已安装（可在“证书U盘驱动”页"
     "面下载）；"
     "浏览器弹出选择证书时选择了本系统签发的证书。然后重新打开登录页面。"},
    {CL_UNKNOWN_ISSUER, "证书不是本系统签发的",
     "您使用的证书不是由交通运输企业安全生产标准化管理系统的数字证书认证机构签发的，不能登录。请使"
     "用本系统发放的证书U盘。"},
    {CL_EXPIRED, "证书已过期",
     "您的证书已过有效期，不能用证书登录。过期后的更新宽限期内仍可在线更新：请用报名时的用户名和"
     "密码登录，在【证书更新】页面申请更新并付款，然后插入该证书U盘，在证书管理工具中点击【证书更新"
     "】或运行 esp-token "
     "renew。超过宽限期请登录后再次申请证书U盘，或联系所在省的数字证书注册机构。"},
    {CL_NOT_YET_VALID, "证书尚未生效", "您的证书尚未到生效时间，请检查计算机时间是否正确。"},
    {CL_BAD, "证书无效", "证书格式错误或不能用于登录认证。"},
    {CL_UNKNOWN_CERT, "证书未登记",
     "该证书未在本系统登记，不能登录。请联系所在省的数字证书注册机构。"},
    {CL_REVOKED, "证书已吊销",
     "该证书已被吊销（如已挂失），不能再用于登录。如需新的证书U盘，请登录后再次申请或联系数字证书注"
     "册机构。"},
    {CL_DISABLED, "账户已停用", "该证书对应的账户已停用，不能登录。请联系系统管理员。"},
    {CL_ERROR, "系统错误", "系统内部错误，请稍后重试。"},
};

/* The row of r; the last one (system error) for a value not in the table. */
static const struct login_text *login_text(enum cert_login r)
{
	size_t n = sizeof texts / sizeof texts[0];
	for (size_t i = 0; i < n; i++)
		if (texts[i].r == r)
			return &texts[i];
	return &texts[n - 1];
}

const char *cert_login_title(enum cert_login r)
{
	return login_text(r)->title;
}

const char *cert_login_message(enum cert_login r)
{
	return login_text(r)->message;
}

enum db_status challenge_new(db_conn *c, int max_open, char **id, char **challenge)
{
	unsigned char raw[32];
	randombytes_buf(raw, sizeof raw);
	size_t cap = sodium_base64_ENCODED_LEN(sizeof raw, sodium_base64_VARIANT_ORIGINAL);
	char *b64 = xmalloc(cap);
	sodium_bin2base64(b64, cap, raw, sizeof raw, sodium_base64_VARIANT_ORIGINAL);
	char *cid = random_token(16);
	int64_t now = time_now();
	/* Written only while fewer than max_open are still usable: the count
	 * and the insert are one statement. Concurrent inserts on PostgreSQL
	 * may each see the same count, so the table can pass the cap by the
	 * number of requests in flight, never more. Old ones are deleted by
	 * challenge_purge (espd's maintenance). */
	db_result *r = NULL;
	enum db_status st = DB_EXEC(
	    c,
	    "INSERT INTO login_challenges (id, challenge, created_at) "
	    "SELECT CAST($1 AS TEXT), CAST($2 AS TEXT), CAST($3 AS BIGINT) "
	    "WHERE $4 <= 0 OR (SELECT COUNT(*) FROM login_challenges WHERE created_at >= $5) < $4 "
	    "RETURNING id",
	    &r, P_TEXT(cid), P_TEXT(b64), P_INT(now), P_INT(max_open),
	    P_INT(now - CHALLENGE_MAX_AGE));
	if (st == DB_OK && r->nrows == 0)
		st = DB_CONFLICT;
	db_result_free(r);
	if (st != DB_OK) {
		free(b64);
		free(cid);
		return st;
	}
	*id = cid;
	*challenge = b64;
	return DB_OK;
}

enum db_status challenge_purge(db_conn *c, int64_t now, int *deleted)
{
	db_result *r = NULL;
	enum db_status st = DB_EXEC(c,
	                            "DELETE FROM login_challenges WHERE created_at < $1 OR used_at "
	                            "IS NOT NULL RETURNING id",
	                            &r, P_INT(now - CHALLENGE_MAX_AGE));
	if (deleted)
		*deleted = st == DB_OK ? r->nrows : 0;
	db_result_free(r);
	return st;
}

enum db_status challenge_take(db_conn *c, const char *id, const char *challenge, int max_age,
                              unsigned char **raw, size_t *raw_len)
{
	if (!id || !challenge || strlen(id) > 64 || strlen(challenge) > 128)
		return DB_NOT_FOUND;
	db_result *r = NULL;
	int64_t now = time_now();
	/* One UPDATE both checks and spends it: a replay finds it used. */
	enum db_status st =
	    DB_EXEC(c,
	            "UPDATE login_challenges SET used_at = $3 WHERE id = $1 AND challenge = $2 AND "
	            "used_at IS NULL AND created_at >= $4 RETURNING challenge",
	            &r, P_TEXT(id), P_TEXT(challenge), P_INT(now), P_INT(now - max_age));
	if (st == DB_OK && r->nrows == 0)
		st = DB_NOT_FOUND;
	db_result_free(r);
	if (st != DB_OK)
		return st;
	unsigned char *bin = xmalloc(strlen(challenge) + 1);
	size_t n = 0;
	if (sodium_base642bin(bin, strlen(challenge) + 1, challenge, strlen(challenge), NULL, &n,
	                      NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
		free(bin);
		return DB_NOT_FOUND;
	}
	*raw = bin;
	*raw_len = n;
	return DB_OK;
}

enum db_status staff_cert_issue(db_conn *c, esp_ca *ca, const char *username, const char *csr_pem,
                                int validity_days, const char *crl_url, char **serial, char **pem)
{
	db_result *r = NULL;
	enum db_status st = DB_EXEC(
	    c,
	    "SELECT a.id, a.role, a.display_name, COALESCE(au.name, ''), COALESCE(p.name, '') "
	    "FROM accounts a LEFT JOIN authorities au ON au.id = a.authority_id "
	    "LEFT JOIN provinces p ON p.code = COALESCE(a.province_code, au.province_code) "
	    "WHERE a.username = $1 AND a.role <> 'applicant'",
	    &r, P_TEXT(username));
	if (st == DB_OK && r->nrows == 0)
		st = DB_NOT_FOUND;
	if (st != DB_OK) {
		db_result_free(r);
		return st;
	}
	int64_t account_id = db_get_int(r, 0, 0, 0);
	enum role role = role_parse(db_get(r, 0, 1));
	const char *org = *db_get(r, 0, 3) ? db_get(r, 0, 3) : db_get(r, 0, 2);
	struct cert_profile p = {
	    .common_name = db_get(r, 0, 2),
	    .organization = org,
	    .org_unit = role_label(role),
	    .province = db_get(r, 0, 4),
	    .code = NULL, /* staff have no unit code: the account is in CN and the store */
	    .code_kind = NULL,
	    .validity_days = validity_days,
	    .crl_url = crl_url,
	};
	unsigned char *der = NULL;
	size_t der_len = 0;
	time_t nb = 0, na = 0;
	enum ca_status cs =
	    ca_issue(ca, csr_pem, strlen(csr_pem), &p, serial, pem, &der, &der_len, &nb, &na);
	if (cs != CA_OK) {
		db_result_free(r);
		return DB_CONFLICT;
	}
	char *subject = xasprintf("CN=%s, OU=%s", db_get(r, 0, 2), role_label(role));
	char *token = xasprintf("staff-%s", *serial);
	st = DB_EXEC(
	    c,
	    "INSERT INTO certificates (serial, account_id, token_serial, subject, pem, der, "
	    "not_before, "
	    "not_after, status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'valid', $9)",
	    NULL, P_TEXT(*serial), P_INT(account_id), P_TEXT(token), P_TEXT(subject), P_TEXT(*pem),
	    P_BLOB(der, der_len), P_INT(nb), P_INT(na), P_INT(time_now()));
	if (st == DB_OK) {
		struct actor sys = {.username = "espctl"};
		char *obj = xasprintf("certificate:%s", *serial);
		st = audit_append(c, &sys, "certificate.issue_staff", obj, "", username);
		free(obj);
	}
	free(subject);
	free(token);
	free(der);
	db_result_free(r);
	return st;
}
