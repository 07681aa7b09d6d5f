/* The RA directory: each province's registration authority, as the portal shows it. */
#include "esp/directory.h"
#include "esp/audit.h"
#include "esp/authority.h"
#include "esp/util.h"

#include <stdlib.h>
#include <string.h>

static const char *const dir_fields[DIR_FIELD_COUNT][2] = {
    [DIR_RA_NAME] = {"ra_name", "注册机构名称"},
    [DIR_PAYEE] = {"payee", "收款单位"},
    [DIR_BANK] = {"bank", "开户银行"},
    [DIR_ACCOUNT_NO] = {"account_no", "收款账号"},
    [DIR_ADDRESS] = {"address", "邮寄地址"},
    [DIR_POSTCODE] = {"postcode", "邮政编码"},
    [DIR_RECIPIENT] = {"recipient", "收件人"},
    [DIR_PHONE] = {"phone", "联系电话"},
    [DIR_TRAINER_NAME] = {"trainer_name", "培训机构名称"},
    [DIR_TRAINER_ADDRESS] = {"trainer_address", "培训机构地址"},
    [DIR_TRAINER_PHONE] = {"trainer_phone", "培训机构电话"},
};

const char *ra_directory_field_name(enum ra_dir_field f)
{
	return f < DIR_FIELD_COUNT ? dir_fields[f][0] : "";
}

const char *ra_directory_field_label(enum ra_dir_field f)
{
	return f < DIR_FIELD_COUNT ? dir_fields[f][1] : "";
}

bool ra_directory_field_parse(const char *name, enum ra_dir_field *out)
{
	for (int f = 0; name && f < DIR_FIELD_COUNT; f++)
		if (strcmp(name, dir_fields[f][0]) == 0) {
			*out = (enum ra_dir_field)f;
			return true;
		}
	return false;
}

bool ra_directory_configured(const struct ra_directory_entry *e)
{
	return *e->field[DIR_PAYEE] && *e->field[DIR_ACCOUNT_NO] && *e->field[DIR_ADDRESS];
}

bool ra_directory_trainer_configured(const struct ra_directory_entry *e)
{
	return *e->field[DIR_TRAINER_NAME] && *e->field[DIR_TRAINER_ADDRESS];
}

/* The columns of the fields follow the province's code and name, in
 * enum ra_dir_field's order. */
#define DIR_SELECT                                                                                 \
	"SELECT p.code, p.name, d.ra_name, d.payee, d.bank, "                                      \
	"d.account_no, d.address, d.postcode, d.recipient, d.phone, d.trainer_name, "              \
	"d.trainer_address, d.trainer_phone, d.updated_at FROM provinces p "                       \
	"LEFT JOIN ra_directory d ON d.province_code = p.code "

static void dir_row(const db_result *r, int i, struct arena *a, struct ra_directory_entry *e)
{
	e->province_code = arena_strdup(a, db_get(r, i, 0));
	e->province = arena_strdup(a, db_get(r, i, 1));
	for (int f = 0; f < DIR_FIELD_COUNT; f++) {
		const char *v = db_get(r, i, 2 + f);
		e->field[f] = arena_strdup(a, v ? v : "");
	}
	e->updated_at = db_get_int(r, i, 2 + DIR_FIELD_COUNT, 0);
}

enum db_status ra_directory_get(db_conn *c, struct arena *a, const char *province_code,
                                struct ra_directory_entry *out)
{
	db_result *r = NULL;
	enum db_status st = DB_EXEC(c, DIR_SELECT "WHERE p.code = $1", &r, P_TEXT(province_code));
	if (st == DB_OK && r->nrows == 0)
		st = DB_NOT_FOUND;
	if (st == DB_OK)
		dir_row(r, 0, a, out);
	db_result_free(r);
	return st;
}

enum db_status ra_directory_list(db_conn *c, struct arena *a, struct ra_directory_entry **out,
                                 size_t *n)
{
	db_result *r = NULL;
	*out = NULL;
	*n = 0;
	enum db_status st = DB_EXEC0(c, DIR_SELECT "ORDER BY p.sort", &r);
	if (st == DB_OK && r->nrows) {
		*out = arena_alloc(a, (size_t)r->nrows * sizeof **out);
		*n = (size_t)r->nrows;
		for (int i = 0; i < r->nrows; i++)
			dir_row(r, i, a, &(*out)[i]);
	}
	db_result_free(r);
	return st;
}

struct save_ctx {
	const struct actor *a;
	const char *province;
	const struct ra_directory_entry *e;
};

static enum db_status save_tx(db_conn *c, void *arg)
{
	struct save_ctx *s = arg;
	const char *v[DIR_FIELD_COUNT];
	for (size_t i = 0; i < DIR_FIELD_COUNT; i++)
		v[i] = s->e->field[i] ? s->e->field[i] : "";
	enum db_status st = DB_EXEC(c, "DELETE FROM ra_directory WHERE province_code = $1", NULL,
	                            P_TEXT(s->province));
	if (st != DB_OK)
		return st;
	st = DB_EXEC(
	    c,
	    "INSERT INTO ra_directory (province_code, ra_name, payee, bank, account_no, address, "
	    "postcode, recipient, phone, trainer_name, trainer_address, trainer_phone, updated_at) "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
	    NULL, P_TEXT(s->province), P_TEXT(v[0]), P_TEXT(v[1]), P_TEXT(v[2]), P_TEXT(v[3]),
	    P_TEXT(v[4]), P_TEXT(v[5]), P_TEXT(v[6]), P_TEXT(v[7]), P_TEXT(v[8]), P_TEXT(v[9]),
	    P_TEXT(v[10]), P_INT(time_now()));
	if (st != DB_OK)
		return st;
	char *obj = xasprintf("ra_directory:%s", s->province);
	st = audit_append(c, s->a, "ra_directory.save", obj, "", v[1]);
	free(obj);
	return st;
}

enum db_status ra_directory_save(db_conn *c, const struct actor *a, const char *province_code,
                                 const struct ra_directory_entry *e)
{
	if (!province_exists(c, province_code))
		return DB_NOT_FOUND;
	struct save_ctx s = {.a = a, .province = province_code, .e = e};
	return db_transaction(c, save_tx, &s);
}
