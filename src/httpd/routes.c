/*
 * The route table: every URL espd answers, the action the policy must allow
 * before its handler runs (dispatch, server.c), and how dispatch treats it
 * (router.h's flags). Checks that need the record (ownership, region) are
 * the handlers', asked of the policy with the record.
 */
#include "httpd.h"

/* The common shapes: anyone; a signed-in actor the policy lets do `act`;
 * the same for the management system (a holder's key session, R_HOLDER). */
#define ANYONE R_PUBLIC, ACT_ANYONE
#define SIGNED(act) R_LOGIN, act
#define MGMT(act) R_LOGIN | R_HOLDER, act

const struct route routes[] = {
    {"GET", "/", page_home, ANYONE},
    {"GET", "/help", page_help, ANYONE},
    /* Health and figures (metrics.c): /metrics only to metrics_allow. */
    {"GET", "/healthz", page_healthz, R_NO_SESSION | R_NO_STORE, ACT_ANYONE},
    {"GET", "/readyz", page_readyz, R_NO_SESSION, ACT_ANYONE},
    {"GET", "/metrics", page_metrics, R_NO_SESSION | R_NO_STORE, ACT_ANYONE},
    {"GET", "/static/*", page_static, R_NO_SESSION | R_NO_STORE, ACT_ANYONE},
    {"GET", "/portal/{}", page_portal, ANYONE},
    {"GET", "/register/{}", page_register_get, ANYONE},
    {"POST", "/register/{}", page_register_post, ANYONE},
    {"GET", "/login", page_login_get, ANYONE},
    {"POST", "/login", page_login_post, ANYONE},
    {"POST", "/logout", page_logout, R_LOGIN | R_MUST_CHANGE_OK, ACT_SESSION},
    {"GET", "/logged-out", page_logged_out, ANYONE},
    {"GET", "/password", page_password_get, R_LOGIN | R_MUST_CHANGE_OK, ACT_SESSION},
    {"POST", "/password", page_password_post, R_LOGIN | R_MUST_CHANGE_OK, ACT_SESSION},
    {"GET", "/home", page_home_after_login, SIGNED(ACT_SESSION)},
    {"GET", "/status", page_status, R_LOGIN | R_ELSE_HOME, ACT_REGISTRANT},
    {"GET", "/registration/edit", page_registration_edit_get, SIGNED(ACT_REGISTRANT)},
    {"POST", "/registration/edit", page_registration_edit_post, SIGNED(ACT_REGISTRANT)},
    {"GET", "/review", page_review_queue, SIGNED(ACT_REVIEW_QUEUE)},
    {"GET", "/review/{}", page_review_detail, SIGNED(ACT_SESSION)},
    {"POST", "/review/{}", page_review_decide, SIGNED(ACT_SESSION)},
    {"GET", "/apply", page_apply, SIGNED(ACT_REGISTRANT)},
    {"POST", "/apply/scan", page_apply_scan_post, SIGNED(ACT_REGISTRANT)},
    {"GET", "/apply/form", page_apply_form_get, SIGNED(ACT_REGISTRANT)},
    {"POST", "/apply/form", page_apply_form_post, SIGNED(ACT_REGISTRANT)},
    {"GET", "/applications/{}", page_application, SIGNED(ACT_SESSION)},
    {"GET", "/applications/{}/print", page_application_print, SIGNED(ACT_SESSION)},
    {"GET", "/applications/{}/form.pdf", page_application_pdf, SIGNED(ACT_SESSION)},
    {"GET", "/applications/{}/payment", page_application_payment, SIGNED(ACT_SESSION)},
    {"GET", "/applications/{}/scan", page_application_scan, SIGNED(ACT_SESSION)},
    {"GET", "/applications/{}/withdraw", page_application_withdraw_confirm, SIGNED(ACT_SESSION)},
    {"POST", "/applications/{}/withdraw", page_application_withdraw, SIGNED(ACT_SESSION)},
    {"GET", "/admin", page_admin, SIGNED(ACT_ADMIN)},
    {"GET", "/admin/directory", page_admin_directory, SIGNED(ACT_ADMIN)},
    {"GET", "/admin/directory/{}", page_admin_directory_edit, SIGNED(ACT_ADMIN)},
    {"POST", "/admin/directory/{}", page_admin_directory_save, SIGNED(ACT_ADMIN)},
    {"GET", "/admin/fees", page_admin_fees, SIGNED(ACT_ADMIN)},
    {"POST", "/admin/fees", page_admin_fees_save, SIGNED(ACT_ADMIN)},
    {"POST", "/applications/{}/resubmit", page_application_resubmit, SIGNED(ACT_SESSION)},
    {"GET", "/ra", page_ra_home, SIGNED(ACT_OPERATOR)},
    {"GET", "/ra/queue", page_ra_queue, SIGNED(ACT_OPERATOR)},
    {"GET", "/ra/queue.csv", page_ra_queue_csv, SIGNED(ACT_OPERATOR)},
    {"GET", "/ra/applications/{}", page_ra_application, SIGNED(ACT_OPERATOR)},
    {"POST", "/ra/applications/{}/{}", page_ra_action, SIGNED(ACT_OPERATOR)},
    {"GET", "/ra/tokens", page_ra_tokens, SIGNED(ACT_API_TOKENS)},
    {"POST", "/ra/tokens", page_ra_tokens_create, SIGNED(ACT_API_TOKENS)},
    {"POST", "/ra/tokens/{}/revoke", page_ra_tokens_revoke, SIGNED(ACT_API_TOKENS)},
    {"GET", "/admin/staff", page_admin_staff, SIGNED(ACT_ADMIN)},
    {"POST", "/admin/staff", page_admin_staff_create, SIGNED(ACT_ADMIN)},
    {"GET", "/admin/staff/{}/reset-password", page_admin_staff_reset_confirm, SIGNED(ACT_ADMIN)},
    {"POST", "/admin/staff/{}/reset-password", page_admin_staff_reset, SIGNED(ACT_ADMIN)},
    {"GET", "/admin/certs", page_admin_certs, SIGNED(ACT_ADMIN)},
    {"GET", "/admin/certs/{}/revoke", page_admin_cert_revoke_get, SIGNED(ACT_ADMIN)},
    {"POST", "/admin/certs/{}/revoke", page_admin_cert_revoke_post, SIGNED(ACT_ADMIN)},
    /* The workstations' API: a Bearer API token, checked by the handler. */
    {"POST", "/api/v1/applications/{}/certificates", api_issue_certificate, R_NO_CSRF | R_JSON,
     ACT_ANYONE},
    {"POST", "/api/v1/certificates/{}/revoke", api_revoke_certificate, R_NO_CSRF | R_JSON,
     ACT_ANYONE},
    {"GET", "/api/v1/openapi.json", api_openapi, R_NO_SESSION | R_NO_STORE | R_JSON, ACT_ANYONE},
    {"GET", "/ca/chain.pem", page_ca_chain, ANYONE},
    {"GET", "/ca/crl", page_ca_crl, ANYONE},
    /* OCSP (RFC 6960): anyone, no session, no form token. */
    {"GET", "/ocsp/*", page_ocsp_get, R_NO_SESSION, ACT_ANYONE},
    {"POST", "/ocsp", page_ocsp_post, R_NO_SESSION | R_NO_CSRF, ACT_ANYONE},
    {"GET", "/login/certificate", page_cert_login, ANYONE},
    {"GET", "/api/v1/login/challenge", api_login_challenge, R_JSON, ACT_ANYONE},
    {"POST", "/api/v1/login/certificate", api_login_certificate, R_NO_CSRF | R_JSON, ACT_ANYONE},
    /* 更新: the page, and the holder's tool proving the key itself (no session). */
    {"GET", "/renewal", page_renewal, SIGNED(ACT_REGISTRANT)},
    {"POST", "/renewal/{}", page_renewal_apply, SIGNED(ACT_REGISTRANT)},
    {"POST", "/api/v1/renewals", api_renewal_issue, R_NO_CSRF | R_JSON, ACT_ANYONE},
    {"POST", "/api/v1/renewals/confirm", api_renewal_confirm, R_NO_CSRF | R_JSON, ACT_ANYONE},
    /* 丢失补办, 损坏补办: the holder's page (password or key session) and its buttons. */
    {"GET", "/replace", page_replace, SIGNED(ACT_REGISTRANT)},
    {"POST", "/replace/{}/lost", page_replace_lost, SIGNED(ACT_REGISTRANT)},
    {"POST", "/replace/{}/damaged", page_replace_damaged, SIGNED(ACT_REGISTRANT)},
    /* 密码解锁: the holder's page; the SO PIN's custody (RA workstation) and
     * its one-time release to the holder's tool (the authorisation). */
    {"GET", "/unlock", page_unlock, SIGNED(ACT_REGISTRANT)},
    {"POST", "/unlock/{}", page_unlock_apply, SIGNED(ACT_REGISTRANT)},
    {"POST", "/api/v1/tokens/{}/so-pin", api_token_so_pin, R_NO_CSRF | R_JSON, ACT_ANYONE},
    {"POST", "/api/v1/tokens/{}/so-pin/confirm", api_token_so_pin_confirm, R_NO_CSRF | R_JSON,
     ACT_ANYONE},
    {"POST", "/api/v1/unlocks/{}/release", api_unlock_release, R_NO_CSRF | R_JSON, ACT_ANYONE},
    {"POST", "/api/v1/unlocks/{}/confirm", api_unlock_confirm, R_NO_CSRF | R_JSON, ACT_ANYONE},
    {"GET", "/mgmt", page_mgmt_home, MGMT(ACT_SESSION)},
    {"GET", "/mgmt/user", page_mgmt_user, MGMT(ACT_SESSION)},
    /* 再次申请 tells the registrant why it refuses (no key, an evaluator). */
    {"GET", "/mgmt/reapply", page_mgmt_reapply_get, SIGNED(ACT_REGISTRANT)},
    {"POST", "/mgmt/reapply", page_mgmt_reapply_post, SIGNED(ACT_REGISTRANT)},
    {"GET", "/mgmt/certs/{}/lost", page_mgmt_lost_get, MGMT(ACT_SESSION)},
    {"POST", "/mgmt/certs/{}/lost", page_mgmt_lost_post, MGMT(ACT_SESSION)},
    {"GET", "/admin/mail", page_admin_mail, SIGNED(ACT_ADMIN)},
    {"POST", "/admin/mail/{}/retry", page_admin_mail_retry, SIGNED(ACT_ADMIN)},
    {"POST", "/admin/mail/{}/delivered", page_admin_mail_delivered, SIGNED(ACT_ADMIN)},
    {"POST", "/admin/mail/retry-dead", page_admin_mail_retry_dead, SIGNED(ACT_ADMIN)},
    {"GET", "/ra/certs/{}/revoke", page_ra_cert_revoke_get, SIGNED(ACT_OPERATOR)},
    {"POST", "/ra/certs/{}/revoke", page_ra_cert_revoke_post, SIGNED(ACT_OPERATOR)},
    {"GET", "/drivers", page_drivers, ANYONE},
    {"GET", "/drivers/{}/download", page_driver_download, ANYONE},
    {"GET", "/drivers/client/{}", page_client_download, ANYONE},
    {"GET", "/docs/esp-token", page_doc_token, ANYONE},
    {"GET", "/admin/drivers", page_admin_drivers, SIGNED(ACT_ADMIN)},
    {"POST", "/admin/drivers", page_admin_drivers_upload, SIGNED(ACT_ADMIN)},
    {NULL, NULL, NULL, 0, ACT_ANYONE},
};
