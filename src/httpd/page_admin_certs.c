/*
 * The admin's certificate pages: every certificate ESP issued, holders' keys
 * and staff keys alike, and the revocation of any of them (a lost staff key
 * is stopped here without disabling the person).  The revocation itself,
 * its audit record and the new CRL are cert_revoke()'s, in one transaction.
 *
 *   GET  /admin/certs                     the latest certificates
 *   GET  /admin/certs/{serial}/revoke     reason and confirmation
 *   POST /admin/certs/{serial}/revoke
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

static void show_revoke(struct request *r, int status, const struct certificate *cert,
                        const char *reason, const char *error)
{
	json_t *ctx = json_pack("{s:o, s:o, s:b, s:b}", "cert", cert_to_json(cert, 0, r->arena),
	                        "reasons", reason_options(reason), "revoked", cert->revoked,
	                        "staff", cert->account_id != 0);
	if (error)
		json_object_set_new(ctx, "error", json_string(error));
	render_page(r, status, "admin_cert_revoke", "吊销证书", ctx);
}

void page_admin_cert_revoke_get(struct request *r)
{
	struct certificate cert;
	if (admin_cert(r, &cert))
		show_revoke(r, 200, &cert, NULL, NULL);
}

void page_admin_cert_revoke_post(struct request *r)
{
	struct certificate cert;
	if (!admin_cert(r, &cert))
		return;
	const char *reason_s = req_form(r, "reason");
	int reason = -1;
	for (size_t i = 0; reason_s && i < sizeof admin_reasons / sizeof admin_reasons[0]; i++)
		if (strcmp(reason_s, admin_reasons[i]) == 0)
			reason = crl_reason_parse(reason_s);
	const char *confirm = req_form(r, "confirm");
	if (reason < 0) {
		show_revoke(r, 422, &cert, NULL, "请选择吊销原因");
	} else if (!confirm || strcmp(confirm, "yes") != 0) {
		show_revoke(r, 422, &cert, reason_s,
		            "请勾选“确认吊销”：吊销后该证书立即作废，不能恢复");
	} else {
		enum db_status st =
		    cert_revoke(req_db(r), r->srv->ca, &r->actor, r->params[0], reason,
		                (int)config_get_long(r->srv->cfg, "crl_hours"));
		if (st == DB_OK) {
			char *to = xasprintf("/admin/certs?revoked=%s", r->params[0]);
			redirect(r, to);
			free(to);
		} else if (st == DB_CONFLICT) {
			show_revoke(r, 409, &cert, reason_s, "该证书已经吊销");
		} else {
			reply_server_error(r, "admin revoke failed");
		}
	}
}
