/*
 * The admin's certificate pages: every certificate ESP issued, holders' keys
 * and staff keys alike, and the revocation of any of them (a lost staff key
 * is stopped here without disabling the person).  The revocation itself,
 * its audit record and the new CRL are cert_revoke()'s, in one transaction.
 *
 *   GET  /admin/certs                     the latest certificates
 *   GET  /admin/certs/{serial}/revoke     reason and confirmation
 *   POST /admin/certs/{serial}/revoke
 *   GET  /ra/certs/{serial}/revoke        the RA: a holder's certificate of
 *   POST /ra/certs/{serial}/revoke        its province, from the application page
 */
#include "httpd.h"
#include "esp/certificate.h"
#include "esp/revoke.h"

#include <string.h>

enum { LIST_LIMIT = 500 };

/* The reasons an admin picks from (RFC 5280 names), in the order shown. */
static const char *const admin_reasons[] = {"keyCompromise", "affiliationChanged", "superseded",
                                            "cessationOfOperation", "unspecified"};

static json_t *reason_options(const char *selected)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < sizeof admin_reasons / sizeof admin_reasons[0]; i++)
		json_array_append_new(
		    arr, json_pack("{s:s, s:s, s:b}", "value", admin_reasons[i], "label",
		                   crl_reason_label(crl_reason_parse(admin_reasons[i])), "selected",
		                   selected && strcmp(selected, admin_reasons[i]) == 0));
	return arr;
}

void page_admin_certs(struct request *r)
{
	json_t *ctx =
	    json_pack("{s:o, s:i}", "certs", cert_list_all(req_db(r), r->arena, LIST_LIMIT),
	              "limit", LIST_LIMIT);
	const char *done = req_query(r, "revoked");
	if (done)
		json_object_set_new(ctx, "revoked", json_string(done));
	render_page(r, 200, "admin_certs", "证书管理", ctx);
}

/* The certificate of the route; NULL = answered (404). */
static json_t *admin_cert(struct request *r)
{
	json_t *cert = cert_get(req_db(r), r->params[0]);
	if (!cert)
		reply_not_found(r);
	return cert;
}

/* Where the revocation form posts and leads back to: the admin's pages or
 * the RA's application page. */
struct revoke_page {
	const char *action, *back, *back_label;
};

static void show_revoke(struct request *r, int status, json_t *cert, const char *reason,
                        const char *error, const struct revoke_page *p)
{
	json_t *ctx =
	    json_pack("{s:O, s:o, s:s, s:s, s:s}", "cert", cert, "reasons", reason_options(reason),
	              "action", p->action, "back", p->back, "back_label", p->back_label);
	const char *st = json_string_value(json_object_get(cert, "status"));
	json_object_set_new(ctx, "revoked", json_boolean(st && strcmp(st, "revoked") == 0));
	json_object_set_new(ctx, "staff",
	                    json_boolean(json_is_string(json_object_get(cert, "account_id"))));
	if (error)
		json_object_set_new(ctx, "error", json_string(error));
	render_page(r, status, "admin_cert_revoke", "吊销证书", ctx);
}

static struct revoke_page admin_page(struct request *r)
{
	return (struct revoke_page){
	    .action = arena_printf(r->arena, "/admin/certs/%s/revoke", r->params[0]),
	    .back = "/admin/certs",
	    .back_label = "证书管理"};
}

void page_admin_cert_revoke_get(struct request *r)
{
	json_t *cert = admin_cert(r);
	if (!cert)
		return;
	struct revoke_page p = admin_page(r);
	show_revoke(r, 200, cert, NULL, NULL, &p);
	json_decref(cert);
}

/* The reason and the confirmation, then cert_revoke; `done` is where a
 * successful revocation leads. */
static void revoke_post(struct request *r, json_t *cert, const struct revoke_page *p,
                        const char *done)
{
	const char *reason_s = req_form(r, "reason");
	int reason = -1;
	for (size_t i = 0; reason_s && i < sizeof admin_reasons / sizeof admin_reasons[0]; i++)
		if (strcmp(reason_s, admin_reasons[i]) == 0)
			reason = crl_reason_parse(reason_s);
	const char *confirm = req_form(r, "confirm");
	if (reason < 0) {
		show_revoke(r, 422, cert, NULL, "请选择吊销原因", p);
	} else if (!confirm || strcmp(confirm, "yes") != 0) {
		show_revoke(r, 422, cert, reason_s,
		            "请勾选“确认吊销”：吊销后该证书立即作废，不能恢复", p);
	} else {
		enum db_status st =
		    cert_revoke(req_db(r), r->srv->ca, &r->actor, r->params[0], reason,
		                (int)config_get_long(r->srv->cfg, "crl_hours"));
		if (st == DB_OK)
			redirect(r, done);
		else if (st == DB_CONFLICT)
			show_revoke(r, 409, cert, reason_s, "该证书已经吊销", p);
		else
			reply_server_error(r, "revoke failed");
	}
}

void page_admin_cert_revoke_post(struct request *r)
{
	json_t *cert = admin_cert(r);
	if (!cert)
		return;
	struct revoke_page p = admin_page(r);
	revoke_post(r, cert, &p, arena_printf(r->arena, "/admin/certs?revoked=%s", r->params[0]));
	json_decref(cert);
}

/* ---- the RA: a holder's certificate of its province, with a reason ---- */

/* The certificate of the route if this RA may revoke it; NULL = answered. */
static json_t *ra_cert(struct request *r, struct revoke_page *p)
{
	json_t *cert = cert_get(req_db(r), r->params[0]);
	struct policy_object o;
	cert_policy_object(cert, &o);
	const char *number = cert ? json_string_value(json_object_get(cert, "number")) : NULL;
	if (!cert || !number) {
		json_decref(cert);
		reply_not_found(r);
		return NULL;
	}
	if (r->actor.role != ROLE_RA || !policy_allows(&r->actor, ACT_CERT_REVOKE, &o)) {
		json_decref(cert);
		reply_forbidden(r);
		return NULL;
	}
	*p = (struct revoke_page){.action =
	                              arena_printf(r->arena, "/ra/certs/%s/revoke", r->params[0]),
	                          .back = arena_printf(r->arena, "/ra/applications/%s", number),
	                          .back_label = arena_printf(r->arena, "申请 %s", number)};
	return cert;
}

void page_ra_cert_revoke_get(struct request *r)
{
	struct revoke_page p;
	json_t *cert = ra_cert(r, &p);
	if (!cert)
		return;
	show_revoke(r, 200, cert, NULL, NULL, &p);
	json_decref(cert);
}

void page_ra_cert_revoke_post(struct request *r)
{
	struct revoke_page p;
	json_t *cert = ra_cert(r, &p);
	if (!cert)
		return;
	revoke_post(r, cert, &p, p.back);
	json_decref(cert);
}
