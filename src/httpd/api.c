/*
 * The JSON API of RA workstations (Bearer API tokens) and the public CA
 * files: the chain and the CRL.
 *
 *   POST /api/v1/applications/{number}/certificates  {"csr", "token_serial"}
 *   POST /api/v1/certificates/{serial}/revoke         {"reason"}
 *   GET  /api/v1/openapi.json                         docs/openapi.yaml, as JSON
 *   GET  /ca/chain.pem, GET /ca/crl
 */
#include "httpd.h"
#include "esp/api_token.h"
#include "esp/certificate.h"
#include "esp/issue.h"
#include "esp/revoke.h"

#include <stdlib.h>
#include <string.h>

bool req_bearer_actor(struct request *r)
{
	const char *h =
	    MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!h || strncmp(h, "Bearer ", 7) != 0) {
		req_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
		reply_json_error(r, 401, "unauthenticated",
		                 "缺少API令牌（Authorization: Bearer <token>）");
		return false;
	}
	enum db_status st = api_token_actor(req_db(r), r->arena, h + 7, &r->actor);
	/* A store that cannot answer (busy, failing over) says nothing about
	 * the token: the client tries again, it does not drop its token. */
	if (st == DB_RETRY || st == DB_ERROR) {
		reply_busy(r);
		return false;
	}
	if (st != DB_OK) {
		req_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"");
		reply_json_error(r, 401, "invalid_token", "API令牌无效、已撤销或账户已停用");
		return false;
	}
	r->actor.address = r->client_addr;
	return true;
}

json_t *req_json_body(struct request *r)
{
	const char *ct =
	    MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (!ct || strncasecmp(ct, "application/json", 16) != 0) {
		reply_json_error(r, 415, "unsupported_media_type",
		                 "请求头 Content-Type 应为 application/json：请求体须为JSON对象");
		return NULL;
	}
	json_error_t err;
	json_t *body = req_own_json(r, json_loadb(r->raw.data ? r->raw.data : "", r->raw.len,
	                                          JSON_REJECT_DUPLICATES, &err));
	if (!json_is_object(body)) {
		reply_json_error(r, 400, "bad_json", "请求体不是有效的JSON对象");
		return NULL;
	}
	return body;
}

static int issue_status(enum issue_result res)
{
	switch (res) {
	case ISSUE_OK:
		return 201;
	case ISSUE_EXISTING:
		return 200;
	case ISSUE_NOT_FOUND:
		return 404;
	case ISSUE_FORBIDDEN:
		return 403;
	case ISSUE_WRONG_STATE:
	case ISSUE_ALL_ISSUED:
	case ISSUE_TOKEN_IN_USE:
	case ISSUE_TOKEN_REVOKED:
		return 409;
	case ISSUE_BAD_CSR:
	case ISSUE_BAD_INPUT:
		return 400;
	default:
		return 500;
	}
}

/* One answer for issuance and renewal alike; jansson encodes it, as every
 * other JSON answer of espd. */
void reply_issued_json(struct request *r, int status, const char *serial, const char *pem,
                       const char *number)
{
	reply_json(r, status,
	           json_pack("{s:s?, s:s?, s:s?, s:s?}", "serial", serial, "certificate", pem,
	                     "chain", ca_chain_pem(r->srv->ca), "application", number));
}

/* The answer to an issuance, from its outcome. */
static void issue_reply(struct request *r, enum issue_result res, enum ca_status cs,
                        struct issued *out)
{
	if (res == ISSUE_OK || res == ISSUE_EXISTING) {
		reply_issued_json(r, issue_status(res), out->serial, out->pem, r->params[0]);
	} else if (res == ISSUE_BAD_CSR) {
		char *msg = xasprintf("%s：%s", issue_result_message(res), ca_status_message(cs));
		reply_json_error(r, 400,
		                 cs == CA_ERR_KEY_WEAK        ? "weak_key"
		                 : cs == CA_ERR_CSR_SIGNATURE ? "bad_csr_signature"
		                                              : "bad_csr",
		                 msg);
		free(msg);
	} else {
		if (res == ISSUE_ERROR)
			log_error("req=%llu issuance failed for %s", (unsigned long long)r->id,
			          r->params[0]);
		reply_json_error(r, issue_status(res), issue_result_code(res),
		                 issue_result_message(res));
	}
	issued_free(out);
}

/* Group commit (core/issue_commit.c): the connection waits, suspended,
 * for the COMMIT that holds its certificate; the worker thread serves other
 * connections meanwhile.  These run under the committer's lock. */
static void issue_suspend(void *arg)
{
	struct request *r = arg;
	MHD_suspend_connection(r->conn);
}

static void issue_resume(void *arg)
{
	struct request *r = arg;
	MHD_resume_connection(r->conn);
}

static void issue_busy(struct request *r, const char *message)
{
	req_header(r, "Retry-After", "1");
	reply_json_error(r, 503, "busy", message);
}

/* Called again by server.c once the committer has resumed the connection. */
static void issue_resumed(struct request *r)
{
	enum ca_status cs = CA_OK;
	struct issued out;
	bool busy = false;
	enum issue_result res = issue_job_outcome(r->issue_job, &cs, &out, &busy);
	if (busy)
		issue_busy(r, "系统繁忙：证书尚未签发（排队超时或服务正在停止），请稍后重新提交");
	else
		issue_reply(r, res, cs, &out);
	issue_job_release(r->issue_job);
	r->issue_job = NULL;
}

void api_issue_certificate(struct request *r)
{
	if (!req_bearer_actor(r))
		return;
	json_t *body = req_json_body(r);
	if (!body)
		return;
	const char *csr = json_string_value(json_object_get(body, "csr"));
	const char *token = json_string_value(json_object_get(body, "token_serial"));
	enum ca_status cs = CA_OK;
	struct issued out = {0};
	char *crl_url = xasprintf("%s/ca/crl", r->srv->public_url);
	int validity = r->srv->limits.cert_validity_days;
	int crl_hours = (int)config_get_long(r->srv->cfg, "crl_hours");
	struct issue_committer *q = r->srv->committer;
	if (!q) {
		enum issue_result res =
		    issue_certificate(req_db(r), r->srv->ca, &r->actor, r->params[0], csr, token,
		                      crl_url, validity, crl_hours, &cs, &out);
		free(crl_url);
		issue_reply(r, res, cs, &out);
		return;
	}
	enum issue_result res = ISSUE_ERROR;
	struct issue_job *j = issue_job_new(r->srv->ca, &r->actor, r->params[0], csr, token,
	                                    crl_url, validity, crl_hours, &res, &cs);
	free(crl_url);
	if (!j) {
		issue_reply(r, res, cs, &out);
		return;
	}
	/* A suspended request holds no store connection: the committer needs one. */
	db_release(r->srv->pool, r->db);
	r->db = NULL;
	r->issue_job = j;
	r->resumed = issue_resumed;
	if (!issue_committer_submit(q, j, issue_suspend, issue_resume, r)) {
		r->resumed = NULL;
		r->issue_job = NULL;
		issue_job_release(j);
		issue_busy(r, "系统繁忙：待签发的证书请求过多，请稍后重新提交");
	}
}

/* The "reason" of a revocation: absent means unspecified; anything but one
 * of RFC 5280's names (a number, another type, an unknown name) is the
 * client's mistake, answered 400 naming the field, never guessed at. */
static int revoke_reason(struct request *r, const json_t *body, const char **name)
{
	const json_t *v = json_object_get(body, "reason");
	*name = v ? json_string_value(v) : "unspecified";
	int reason = *name ? crl_reason_parse(*name) : -1;
	if (reason < 0)
		reply_json_error(
		    r, 400, "bad_reason",
		    "字段 reason 无效：应为RFC 5280吊销原因名称字符串，如 keyCompromise、"
		    "affiliationChanged、superseded、cessationOfOperation、unspecified");
	return reason;
}

void api_revoke_certificate(struct request *r)
{
	if (!req_bearer_actor(r))
		return;
	json_t *body = req_json_body(r);
	if (!body)
		return;
	const char *reason_s = NULL;
	int reason = revoke_reason(r, body, &reason_s);
	struct certificate cert;
	enum db_status got =
	    reason >= 0 ? cert_get(req_db(r), r->arena, r->params[0], &cert) : DB_NOT_FOUND;
	struct policy_object o;
	cert_policy_object(got == DB_OK ? &cert : NULL, &o);
	if (reason < 0) {
		/* answered */
	} else if (got == DB_NOT_FOUND) {
		reply_json_error(r, 404, "not_found", "证书序列号不存在");
	} else if (got != DB_OK) {
		log_error("req=%llu certificate %s could not be read", (unsigned long long)r->id,
		          r->params[0]);
		reply_json_error(r, 500, "internal", "系统内部错误，请稍后重试");
	} else if (!policy_allows(&r->actor, ACT_CERT_REVOKE, &o)) {
		reply_json_error(r, 403, "forbidden", "无权吊销该证书");
	} else {
		enum db_status st =
		    cert_revoke(req_db(r), r->srv->ca, &r->actor, r->params[0], reason,
		                (int)config_get_long(r->srv->cfg, "crl_hours"));
		if (st == DB_OK)
			reply_json(r, 200,
			           json_pack("{s:s, s:s, s:s}", "serial", r->params[0], "status",
			                     "revoked", "reason", reason_s));
		else if (st == DB_CONFLICT)
			reply_json_error(r, 409, "already_revoked", "该证书已经吊销");
		else
			reply_json_error(r, 500, "internal", "系统内部错误，请稍后重试");
	}
}

void page_ca_chain(struct request *r)
{
	buf_free(&r->body);
	buf_puts(&r->body, ca_chain_pem(r->srv->ca));
	r->status = 200;
	r->content_type = "application/x-pem-file";
	req_header(r, "Cache-Control", "public, max-age=3600");
}

void page_ca_crl(struct request *r)
{
	unsigned char *der = NULL;
	size_t len = 0;
	int64_t signed_at = 0;
	enum db_status st = crl_load(req_db(r), &der, &len, &signed_at);
	if (st == DB_NOT_FOUND) {
		st = crl_publish(req_db(r), r->srv->ca,
		                 (int)config_get_long(r->srv->cfg, "crl_hours"));
		if (st == DB_OK)
			st = crl_load(req_db(r), &der, &len, &signed_at);
	}
	if (st != DB_OK) {
		free(der);
		reply_server_error(r, "CRL unavailable");
		return;
	}
	req_body_take(r, der, len);
	r->status = 200;
	r->content_type = "application/pkix-crl";
	req_header(r, "Cache-Control", "public, max-age=300");
}

/* docs/openapi.yaml as JSON, compiled in by src/httpd/openapi_gen.py. */
extern const unsigned char openapi_json[];
extern const size_t openapi_json_len;

static void static_bytes(void *cls)
{
	(void)cls; /* the document lives as long as the program */
}

void api_openapi(struct request *r)
{
	req_body_shared(r, openapi_json, openapi_json_len, static_bytes, NULL);
	r->status = 200;
	r->content_type = "application/json";
	req_header(r, "Cache-Control", "public, max-age=3600");
}
