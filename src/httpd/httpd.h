/*
 * espd internals: the request, the route table, and helpers shared by the
 * page handlers.  One file per page or endpoint (page_*.c, api_*.c).
 */
#ifndef ESPD_HTTPD_H
#define ESPD_HTTPD_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#include "esp/ca.h"
#include "esp/config.h"
#include "esp/core.h"
#include "esp/db.h"
#include "esp/registration.h"
#include "esp/template.h"
#include "esp/util.h"
#include "form.h"
#include "guard.h"
#include "nested_part.h"
#include "router.h"

struct fee;

/* What the server holds for the whole run. */
struct server {
	struct esp_config *cfg;
	db_pool *pool;
	struct tpl_set *tpl;
	struct esp_limits limits;
	esp_ca *ca;
	const char *static_dir;
	size_t max_body, max_url;
	size_t max_raw_body; /* bodies other than forms (JSON) */
	unsigned max_form_fields;
	size_t max_bodies_in_flight; /* all bodies being received, together */
	size_t body_bytes_in_flight; /* atomic */
	int store_wait_ms;           /* longest wait for a pooled connection */
	struct guard *guard;
	bool staff_password_login;
	bool log_requests;
	int session_seconds;
	char *public_url;
	uint64_t next_request_id;
	struct ocsp_cache *ocsp; /* the OCSP responder's answers (page_ocsp.c) */
	struct esp_ocsp *ocsp_responder;
	int64_t instance_id;               /* this process's number in the store (instances) */
	struct issue_committer *committer; /* group commit of issuances; NULL: off */
};

/* Listener kinds: the certificate-login listener asks for client certificates. */
enum listener { LISTEN_HTTP, LISTEN_HTTPS, LISTEN_LOGIN };

struct request {
	struct server *srv;
	struct MHD_Connection *conn;
	struct arena *arena;
	uint64_t id;
	int64_t start_us;
	enum listener listener;
	const char *method;
	const char *path;
	bool is_post;
	/* body */
	struct MHD_PostProcessor *pp;
	struct form form;
	enum form_status form_status;
	bool multipart; /* multipart/form-data: screened for nested parts */
	struct nested_part nested;
	struct buf raw;       /* bodies the post processor does not take (JSON) */
	size_t body_bytes;    /* received so far */
	size_t body_reserved; /* counted in server.body_bytes_in_flight */
	bool too_large;       /* answered early: close the connection after */
	bool answered;        /* the response is ready; only drain the body */
	/* route, found when the headers arrive */
	const struct route *route;            /* NULL: no route for this method and path */
	const char *params[ROUTE_MAX_PARAMS]; /* {x} segments of the matched route */
	bool path_known;                      /* some route has this path (405 rather than 404) */
	bool json;                            /* an R_JSON route's path: errors answer in JSON */
	/* who */
	struct actor actor;
	bool logged_in;
	/* The store's generations, read once with the session (-1: not read). */
	int64_t generations[GEN_COUNT];
	/* Read once a request when a page needs them, since several parts of
	 * a page ask (the holder's 当前用户信息: menu and page; renewal and
	 * replacement tables): each read is a round trip to PostgreSQL. */
	int actor_reg_kind; /* the actor's registration's enum reg_kind + 2; 0: not read */
	struct fee *fee;    /* the fee in force (req_fee); NULL: not read */
	const char *csrf;   /* the token forms must carry */
	bool set_csrf_cookie;
	const char *session_cookie;
	db_conn *db;
	char client_addr[64];
	bool via_proxy; /* the TCP peer is one of trusted_proxies */
	/* response */
	int status;
	struct buf body;
	/* or bytes owned elsewhere, released after sending (req_body_shared) */
	const void *shared_data;
	size_t shared_len;
	void (*shared_release)(void *);
	void *shared_cls;
	struct resp_slot *shared_slot; /* where the response for them is kept, or NULL */
	const char *content_type;
	struct {
		const char *name, *value;
	} headers[8];
	int nheaders;
	/* A handler that suspended the connection (api.c's issuance): called
	 * when libmicrohttpd resumes it, to answer. */
	void (*resumed)(struct request *r);
	struct issue_job *issue_job; /* handed to the committer; let go with the request */
};

extern const struct route routes[];

/* ---- helpers for handlers ---- */
db_conn *req_db(struct request *r);
/* The fee in force (fee_current), read once a request. */
enum db_status req_fee(struct request *r, struct fee *out);
const char *req_form(struct request *r, const char *name); /* NULL when absent */
const struct form_field *req_file(struct request *r, const char *name);
const char *req_query(struct request *r, const char *name);
const char *req_cookie(struct request *r, const char *name);
int64_t req_param_int(struct request *r, int i);
void req_header(struct request *r, const char *name, const char *value);
/* Replies with len bytes at data that the request does not own; release(cls)
 * runs once the response no longer needs them. */
void req_body_shared(struct request *r, const void *data, size_t len, void (*release)(void *),
                     void *cls);
/* The libmicrohttpd response made for shared bytes, kept by their owner
 * (zeroed with them, emptied by resp_slot_clear before they are freed) so
 * that the next request answered with the same bytes and the same headers
 * queues it again instead of making it and adding every header anew. */
struct resp_slot {
	struct resp_kept *kept;
};
void resp_slot_clear(struct resp_slot *slot);
/* req_body_shared, with the owner's slot for the response. The bytes must
 * outlive the slot's response: the owner clears the slot before freeing
 * them, and release(cls) runs only once the request is complete. */
void req_body_shared_slot(struct request *r, const void *data, size_t len, void (*release)(void *),
                          void *cls, struct resp_slot *slot);
/* Replies with len bytes at data (malloc'ed), which the request takes over;
 * the body stays NUL-terminated as struct buf promises, whatever room data
 * had after its len bytes. */
void req_body_take(struct request *r, void *data, size_t len);

/* Renders templates/<name>.html inside the layout; takes ownership of ctx. */
void render_page(struct request *r, int status, const char *tpl, const char *title, json_t *ctx);
/* The layout around html already rendered by the caller (trusted, not escaped). */
void render_page_html(struct request *r, int status, const char *title, const char *html,
                      size_t len);
/* The same for html that body_id names for the life of the process (the
 * same id never names other bytes; 0: no id): the whole page, layout and
 * html, is kept per layout and id and sent again without a copy. */
void render_page_html_id(struct request *r, int status, const char *title, const char *html,
                         size_t len, uint64_t body_id);
/* A page with only a message (errors, 403, 404); message is plain text. */
void render_message(struct request *r, int status, const char *title, const char *message);
void redirect(struct request *r, const char *location);
void reply_json(struct request *r, int status, json_t *body); /* takes ownership */
/* {"serial", "certificate", "chain", "application"}: an issued certificate
 * with the CA's chain, written straight into the body (api.c). */
void reply_issued_json(struct request *r, int status, const char *serial, const char *pem,
                       const char *number);
void reply_json_error(struct request *r, int status, const char *code, const char *message);
void reply_forbidden(struct request *r);
/* 403: the management system needs a certificate login (page_mgmt.c). */
void reply_needs_key(struct request *r);
void reply_not_found(struct request *r);
/* Upload scan_id (0: none) shown inline and sandboxed, as a scan must be;
 * 404 when there is none.  The caller has decided who may see it. */
void reply_scan(struct request *r, int64_t scan_id);
void reply_server_error(struct request *r, const char *what);
/* A JSON error on the API's routes (R_JSON), a message page elsewhere. */
void reply_error(struct request *r, int status, const char *code, const char *title,
                 const char *message);
/* 503 with Retry-After: the store could not answer in time. */
void reply_busy(struct request *r);
/* 503, Retry-After: 1: no password hash free in time (pwslot.c). */
void reply_hash_busy(struct request *r);

/* Sets the session cookie (value NULL clears it). */
void set_session_cookie(struct request *r, const char *value);
/* The posted fields as a JSON object name → string (new reference). */
json_t *form_values(struct request *r);
/* Hands j (a new reference, or NULL) to the request, which releases it
 * when it ends; returns j, borrowed from then on. */
json_t *req_own_json(struct request *r, json_t *j);

/* Handlers (one file each). */
void page_home(struct request *r);
void page_help(struct request *r);
void page_portal(struct request *r);
void page_register_get(struct request *r);
void page_register_post(struct request *r);
void page_login_get(struct request *r);
void page_login_post(struct request *r);
void page_logout(struct request *r);
void page_logged_out(struct request *r);
void page_status(struct request *r);
void page_registration_edit_get(struct request *r);
void page_registration_edit_post(struct request *r);
void page_review_queue(struct request *r);
void page_review_detail(struct request *r);
void page_review_decide(struct request *r);
void page_change_get(struct request *r);
void page_change_post(struct request *r);
void page_change_queue(struct request *r);
void page_change_review(struct request *r);
void page_change_scan(struct request *r);
void page_change_decide(struct request *r);
void page_healthz(struct request *r);
void page_readyz(struct request *r);
void page_metrics(struct request *r);
void page_static(struct request *r);
void page_home_after_login(struct request *r);
void page_apply(struct request *r);
void page_apply_scan_post(struct request *r);
void page_apply_form_get(struct request *r);
void page_apply_form_post(struct request *r);
void page_application(struct request *r);
void page_application_print(struct request *r);
void page_application_pdf(struct request *r);
void page_application_payment(struct request *r);
void page_application_scan(struct request *r);
void page_application_withdraw_confirm(struct request *r);
void page_application_withdraw(struct request *r);
void page_admin(struct request *r);
void page_admin_directory(struct request *r);
void page_admin_directory_edit(struct request *r);
void page_admin_directory_save(struct request *r);
void page_admin_fees(struct request *r);
void page_admin_fees_save(struct request *r);
void page_admin_staff(struct request *r);
void page_admin_staff_create(struct request *r);
void page_admin_certs(struct request *r);
/* page_mail.c: the e-mail outbox */
void page_admin_mail(struct request *r);
void page_admin_mail_retry(struct request *r);
void page_admin_mail_delivered(struct request *r);
void page_admin_mail_retry_dead(struct request *r);
/* The registration's latest notices ({subject, kind, date, mail}), for the
 * applicant's status page and the management home. New reference. */
json_t *notices_for(struct request *r, int64_t registration_id);
/* page_admin_certs.c: the RA's revocation with a reason */
void page_ra_cert_revoke_get(struct request *r);
void page_ra_cert_revoke_post(struct request *r);
void page_admin_cert_revoke_get(struct request *r);
void page_admin_cert_revoke_post(struct request *r);
void page_application_resubmit(struct request *r);
void page_ra_home(struct request *r);
void page_ra_queue(struct request *r);
void page_ra_queue_csv(struct request *r);
void page_ra_application(struct request *r);
void page_ra_action(struct request *r);
void page_ra_tokens(struct request *r);
void page_ra_tokens_create(struct request *r);
void page_ra_tokens_revoke(struct request *r);
void api_issue_certificate(struct request *r);
void api_revoke_certificate(struct request *r);
void api_openapi(struct request *r);
/* The actor of a workstation's "Authorization: Bearer" API token (api.c):
 * false after answering 401 (none, unknown, revoked) or 503 (store busy). */
bool req_bearer_actor(struct request *r);
/* The request's JSON object (api.c), owned by the request; NULL after
 * answering 415 (not application/json) or 400 (not a JSON object). */
json_t *req_json_body(struct request *r);
void page_ca_chain(struct request *r);
void page_ca_crl(struct request *r);
void page_ocsp_get(struct request *r);
void page_ocsp_post(struct request *r);
/* The OCSP responder: its certificate loaded or made in ca_dir, the URL
 * issued certificates carry, the cache.  0, or 1 (a bad key) / 2 (failure)
 * after saying so on stderr. */
int ocsp_start(struct server *srv, const char *ca_dir);
void ocsp_stop(struct server *srv);
void page_cert_login(struct request *r);
void api_login_challenge(struct request *r);
void api_login_certificate(struct request *r);
void page_mgmt_home(struct request *r);
void page_mgmt_user(struct request *r);
void page_mgmt_lost_get(struct request *r);
void page_mgmt_lost_post(struct request *r);
void page_mgmt_reapply_get(struct request *r);
void page_mgmt_reapply_post(struct request *r);
void page_drivers(struct request *r);
/* page_client.c: the client package 证书应用环境 of this deployment */
json_t *client_packages(struct request *r);
void page_client_download(struct request *r);
void page_driver_download(struct request *r);
void page_admin_drivers(struct request *r);
void page_admin_drivers_upload(struct request *r);
void page_doc_token(struct request *r);
void page_password_get(struct request *r);
void page_password_post(struct request *r);
void page_admin_staff_reset_confirm(struct request *r);
void page_admin_staff_reset(struct request *r);
/* Password login over plain HTTP: when the HTTPS portal is on and the
 * client is not on loopback (http_login_redirect), answers a redirect to
 * the same page on the HTTPS portal and returns true. */
bool redirect_password_page_to_https(struct request *r);
/* True when the client reached espd over TLS: on an HTTPS listener, or
 * through a trusted proxy that says X-Forwarded-Proto: https. */
bool request_over_https(struct request *r);
/* Where the portal's links go from this listener, without a final slash:
 * "" on the portal itself; on the certificate-login listener, the HTTPS
 * portal (https_url, or the host asked for with https_listen's port), else
 * public_url, so that 首页 or 帮助 never lead back into the key login. */
const char *portal_base(struct request *r);
/* Loads the application named by the route (params[0]) into *app (strings
 * in the request's arena) if the policy lets the actor do `act` on it;
 * otherwise answers 404/403/500 itself and returns false. */
struct application;
bool application_for(struct request *r, enum action act, struct application *app);
/* page_renewal.c: 更新 */
void page_renewal(struct request *r);
void page_renewal_apply(struct request *r);
void api_renewal_issue(struct request *r);
void api_renewal_confirm(struct request *r);
/* The renewal table's values (templates/renewal_table.html) into ctx. */
void renewal_context(struct request *r, json_t *ctx);
/* page_replace.c: 丢失补办, 损坏补办 */
void page_replace(struct request *r);
void page_replace_lost(struct request *r);
void page_replace_damaged(struct request *r);
/* The replacement table's values (templates/replace_table.html) into ctx. */
void replace_context(struct request *r, json_t *ctx);
/* page_unlock.c: 密码解锁 */
void page_unlock(struct request *r);
void page_unlock_apply(struct request *r);
void api_token_so_pin(struct request *r);
void api_token_so_pin_confirm(struct request *r);
void api_unlock_release(struct request *r);
void api_unlock_confirm(struct request *r);
/* The one-time authorisation of an approved unlock, for its holder's page. */
void unlock_context(struct request *r, const struct application *app, json_t *ctx);
/* 快捷导航 of the management system for the actor (new reference). */
json_t *mgmt_menu(struct request *r, const char *current);

#endif
