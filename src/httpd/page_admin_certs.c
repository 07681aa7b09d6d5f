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
#include "record_json.h"

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
	struct certificate *list;
	size_t n;
	if (cert_list_all(req_db(r), r->arena, LIST_LIMIT, &list, &n) != DB_OK) {
		reply_server_error(r, "certificates could not be read");
		return;
	}
	json_t *ctx = json_pack("{s:o, s:i}", "certs", certs_to_json(list, n, 0, r->arena), "limit",
	                        LIST_LIMIT);
	const char *done = req_query(r, "revoked");
	if (done)
		json_object_set_new(ctx, "revoked", json_string(done));
	render_page(r, 200, "admin_certs", "证书管理", ctx);
}

/* The certificate of the route into *cert; false = answered (404, 500). */
static bool admin_cert(struct request *r, struct certificate *cert)
{
	enum db_status st = cert_get(req_db(r), r->arena, r->params[0], cert);
	if (st == DB_NOT_FOUND)
		reply_not_found(r);
	else if (st != DB_OK)
		reply_server_error(r, "certificate could not be read");
	return st == DB_OK;
}

/* Where the revocation form posts and leads back to: the admin's pages or
 * the RA's application page. */
struct revoke_page {
	const char *action, *back, *back_label;
};

static void show_revoke(struct request *r, int status, const struct certificate *cert,
                        const char *reason, const char *error, const struct revoke_page *p)
{
	json_t *ctx = json_pack("{s:o, s:o, s:b, s:b, s:s, s:s, s:s}", "cert",
	                        cert_to_json(cert, 0, r->arena), "reasons", reason_options(reason),
	                        "revoked", cert->revoked, "staff", cert->account_id != 0, "action",
	                        p->action, "back", p->back, "back_label", p->back_label);
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
	struct certificate cert;
	struct revoke_page p = admin_page(r);
	if (admin_cert(r, &cert))
		show_revoke(r, 200, &cert, NULL, NULL, &p);
}

/* The reason and the confirmation, then cert_revoke; `done` is where a
 * successful revocation leads. */
static void revoke_post(struct request *r, const struct certificate *cert,
                        const struct revoke_page *p, const char *done)
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
	struct certificate cert;
	if (!admin_cert(r, &cert))
		return;
	struct revoke_page p = admin_page(r);
	revoke_post(r, &cert, &p, arena_printf(r->arena, "/admin/certs?revoked=%s", r->params[0]));
}

/* ---- the RA: a holder's certificate of its province, with a reason ---- */

/* The certificate of the route if this RA may revoke it; false = answered
 * (404, 403, 500). */
static bool ra_cert(struct request *r, struct certificate *cert, struct revoke_page *p)
{
	if (!admin_cert(r, cert))
		return false;
	if (!cert->number || !*cert->number) { /* a staff key: the admin's */
		reply_not_found(r);
		return false;
	}
	struct policy_object o;
	cert_policy_object(cert, &o);
	/* The RA desk's revocation is the RA's step on the holder's
	 * application: the RA of its province (the admin has /admin/certs). */
	if (!policy_allows(&r->actor, ACT_APPLICATION_RA, &o)) {
		reply_forbidden(r);
		return false;
	}
	*p = (struct revoke_page){
	    .action = arena_printf(r->arena, "/ra/certs/%s/revoke", r->params[0]),
	    .back = arena_printf(r->arena, "/ra/applications/%s", cert->number),
	    .back_label = arena_printf(r->arena, "申请 %s", cert->number)};
	return true;
}

void page_ra_cert_revoke_get(struct request *r)
{
	struct certificate cert;
	struct revoke_page p;
	if (ra_cert(r, &cert, &p))
		show_revoke(r, 200, &cert, NULL, NULL, &p);
}

void page_ra_cert_revoke_post(struct request *r)
{
	struct certificate cert;
	struct revoke_page p;
	if (ra_cert(r, &cert, &p))
		revoke_post(r, &cert, &p, p.back);
}
