/* The route table: every URL espd answers, with who may reach it. */
#include "httpd.h"

const struct route routes[] = {
	{"GET", "/", page_home, R_PUBLIC},
	{"GET", "/help", page_help, R_PUBLIC},
	{"GET", "/healthz", page_healthz, R_PUBLIC},
	{"GET", "/static/*", page_static, R_PUBLIC},
	{"GET", "/portal/{}", page_portal, R_PUBLIC},
	{"GET", "/register/{}", page_register_get, R_PUBLIC},
	{"POST", "/register/{}", page_register_post, R_PUBLIC},
	{"GET", "/login", page_login_get, R_PUBLIC},
	{"POST", "/login", page_login_post, R_PUBLIC},
	{"POST", "/logout", page_logout, R_LOGIN},
	{"GET", "/home", page_home_after_login, R_LOGIN},
	{"GET", "/status", page_status, R_LOGIN},
	{"GET", "/registration/edit", page_registration_edit_get, R_LOGIN},
	{"POST", "/registration/edit", page_registration_edit_post, R_LOGIN},
	{"GET", "/review", page_review_queue, R_LOGIN},
	{"GET", "/review/{}", page_review_detail, R_LOGIN},
	{"POST", "/review/{}", page_review_decide, R_LOGIN},
	{NULL, NULL, NULL, 0},
};
