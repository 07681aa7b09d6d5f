/* The rules' numbers from the settings table, over built-in defaults. */
#include "esp/settings.h"
#include "esp/util.h"

#include <stdlib.h>

char *setting_get(db_conn *c, const char *name)
{
	db_result *r = NULL;
	char *v = NULL;
	if (DB_EXEC(c, "SELECT value FROM settings WHERE name = $1", &r, P_TEXT(name)) == DB_OK &&
	    r->nrows == 1)
		v = xstrdup(db_get(r, 0, 0));
	db_result_free(r);
	return v;
}

void limits_load(db_conn *c, struct esp_limits *l)
{
	*l = (struct esp_limits){
	    .login_max_failures = 5,
	    .login_lockout_seconds = 900,
	    .delivery_days = 20,
	    .expiry_warning_days = 60,
	    .keys_per_application_max = 99,
	    .scan_max_bytes = 10L * 1024 * 1024,
	    .cert_validity_days = 1095,
	    .password_min_length = 8,
	};
	struct {
		const char *name;
		long *lp;
		int *ip;
	} map[] = {
	    {"login_max_failures", NULL, &l->login_max_failures},
	    {"login_lockout_seconds", NULL, &l->login_lockout_seconds},
	    {"delivery_days", NULL, &l->delivery_days},
	    {"expiry_warning_days", NULL, &l->expiry_warning_days},
	    {"keys_per_application_max", NULL, &l->keys_per_application_max},
	    {"scan_max_bytes", &l->scan_max_bytes, NULL},
	    {"cert_validity_days", NULL, &l->cert_validity_days},
	    {"password_min_length", NULL, &l->password_min_length},
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
		char *v = setting_get(c, map[i].name);
		if (!v)
			continue;
		if (map[i].lp)
			*map[i].lp = strtol(v, NULL, 10);
		else
			*map[i].ip = (int)strtol(v, NULL, 10);
		free(v);
	}
}

void limits_publish(struct esp_limits *dst, const struct esp_limits *src)
{
	__atomic_store_n(&dst->login_max_failures, src->login_max_failures, __ATOMIC_RELAXED);
	__atomic_store_n(&dst->login_lockout_seconds, src->login_lockout_seconds, __ATOMIC_RELAXED);
	__atomic_store_n(&dst->delivery_days, src->delivery_days, __ATOMIC_RELAXED);
	__atomic_store_n(&dst->expiry_warning_days, src->expiry_warning_days, __ATOMIC_RELAXED);
	__atomic_store_n(&dst->keys_per_application_max, src->keys_per_application_max,
	                 __ATOMIC_RELAXED);
	__atomic_store_n(&dst->scan_max_bytes, src->scan_max_bytes, __ATOMIC_RELAXED);
	__atomic_store_n(&dst->cert_validity_days, src->cert_validity_days, __ATOMIC_RELAXED);
	__atomic_store_n(&dst->password_min_length, src->password_min_length, __ATOMIC_RELAXED);
}
