/* The RA directory: each province's registration authority, as the portal shows it. */
#include "esp/directory.h"
#include "esp/audit.h"
#include "esp/authority.h"
#include "esp/util.h"
#include "esp/db_json.h"
#include "esp/json_util.h"

#include <stdlib.h>
#include <string.h>

static const char *const dir_fields[][2] = {
    {"ra_name", "注册机构名称"},
    {"payee", "收款单位"},
    {"bank", "开户银行"},
    {"account_no", "收款账号"},
    {"address", "邮寄地址"},
    {"postcode", "邮政编码"},
    {"recipient", "收件人"},
    {"phone", "联系电话"},
    {"trainer_name", "培训机构名称"},
    {"trainer_address", "培训机构地址"},
    {"trainer_phone", "培训机构电话"},
    {"email", "注册机构电子邮箱"}, /* where the RA's notices go (core/notify.c) */
};
#define NDIR (sizeof dir_fields / sizeof dir_fields[0])

json_t *ra_directory_fields(void)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < NDIR; i++)
		json_array_append_new(arr, json_pack("{s:s, s:s}", "name", dir_fields[i][0],
		                                     "label", dir_fields[i][1]));
	return arr;
}

#define DIR_SELECT                                                                                 \
	"SELECT p.code AS province_code, p.name AS province, d.ra_name, d.payee, d.bank, "         \
	"d.account_no, d.address, d.postcode, d.recipient, d.phone, d.trainer_name, "              \
	"d.trainer_address, d.trainer_phone, d.email, d.updated_at FROM provinces p "              \
	"LEFT JOIN ra_directory d ON d.province_code = p.code "

static json_t *dir_row(const db_result *r, int i)
{
	json_t *o = db_row_json(r, i);
	for (int col = 0; col < r->ncols; col++) /* the form shows "" for a field not set */
		if (!db_get(r, i, col))
			json_object_set_new(o, r->names[col], json_string(""));
	const char *need[] = {"payee", "account_no", "address"};
	bool configured = true;
	for (size_t k = 0; k < 3; k++)
		configured = configured && *json_string_value(json_object_get(o, need[k]));
	json_object_set_new(o, "configured", json_boolean(configured));
	json_object_set_new(
	    o, "trainer_configured",
	    json_boolean(*json_string_value(json_object_get(o, "trainer_name")) &&
	                 *json_string_value(json_object_get(o, "trainer_address"))));
	return o;
}

json_t *ra_directory_get(db_conn *c, const char *province_code)
{
	db_result *r = NULL;
	json_t *o = NULL;
	if (DB_EXEC(c, DIR_SELECT "WHERE p.code = $1", &r, P_TEXT(province_code)) == DB_OK &&
	    r->nrows)
		o = dir_row(r, 0);
	db_result_free(r);
	return o;
}

json_t *ra_directory_list(db_conn *c)
{
	db_result *r = NULL;
	json_t *arr = json_array();
	if (DB_EXEC0(c, DIR_SELECT "ORDER BY p.sort", &r) == DB_OK)
		for (int i = 0; i < r->nrows; i++)
			json_array_append_new(arr, dir_row(r, i));
	db_result_free(r);
	return arr;
}

struct save_ctx {
	const struct actor *a;
	const char *province;
	json_t *values;
};

static enum db_status save_tx(db_conn *c, void *arg)
{
	struct save_ctx *s = arg;
	const char *v[NDIR];
	for (size_t i = 0; i < NDIR; i++) {
		v[i] = json_string_value(json_object_get(s->values, dir_fields[i][0]));
		if (!v[i])
			v[i] = "";
	}
	enum db_status st = DB_EXEC(c, "DELETE FROM ra_directory WHERE province_code = $1", NULL,
	                            P_TEXT(s->province));
	if (st != DB_OK)
		return st;
	st = DB_EXEC(
	    c,
	    "INSERT INTO ra_directory (province_code, ra_name, payee, bank, account_no, address, "
	    "postcode, recipient, phone, trainer_name, trainer_address, trainer_phone, email, "
	    "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $14, $13)",
	    NULL, P_TEXT(s->province), P_TEXT(v[0]), P_TEXT(v[1]), P_TEXT(v[2]), P_TEXT(v[3]),
	    P_TEXT(v[4]), P_TEXT(v[5]), P_TEXT(v[6]), P_TEXT(v[7]), P_TEXT(v[8]), P_TEXT(v[9]),
	    P_TEXT(v[10]), P_INT(time_now()), P_TEXT(v[11]));
	if (st != DB_OK)
		return st;
	char *obj = xasprintf("ra_directory:%s", s->province);
	st = audit_append(c, s->a, "ra_directory.save", obj, "", v[1]);
	free(obj);
	return st;
}

enum db_status ra_directory_save(db_conn *c, const struct actor *a, const char *province_code,
                                 json_t *values)
{
	if (!province_exists(c, province_code))
		return DB_NOT_FOUND;
	struct save_ctx s = {.a = a, .province = province_code, .values = values};
	return db_transaction(c, save_tx, &s);
}
