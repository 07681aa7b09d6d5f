/* The fee schedule: the row in force, every row, and adding one. */
#include "esp/fee.h"

#include <stdlib.h>

#define FEE_COLUMNS                                                                                \
	"SELECT id, price_yuan, medium_yuan, years, valid_from, created_at, renewal_yuan, "        \
	"COALESCE(replacement_yuan, price_yuan) FROM fee_schedule "

static void fee_row(const db_result *r, int i, struct fee *out)
{
	out->id = db_get_int(r, i, 0, 0);
	out->price_yuan = (long)db_get_int(r, i, 1, 0);
	out->medium_yuan = (long)db_get_int(r, i, 2, 0);
	out->years = (int)db_get_int(r, i, 3, 0);
	out->valid_from = db_get_int(r, i, 4, 0);
	out->created_at = db_get_int(r, i, 5, 0);
	out->renewal_yuan = (long)db_get_int(r, i, 6, 0);
	out->replacement_yuan = (long)db_get_int(r, i, 7, 0);
}

enum db_status fee_current(db_conn *c, struct fee *out)
{
	db_result *r = NULL;
	enum db_status st = DB_EXEC(
	    c, FEE_COLUMNS "WHERE valid_from <= $1 ORDER BY valid_from DESC, id DESC LIMIT 1", &r,
	    P_INT(time_now()));
	if (st == DB_OK && r->nrows == 0)
		st = DB_NOT_FOUND;
	if (st == DB_OK)
		fee_row(r, 0, out);
	db_result_free(r);
	return st;
}

long fee_amount(const struct fee *f, enum reg_kind k, int sets)
{
	if (k == KIND_EVALUATOR || sets <= 0)
		return 0;
	return f->price_yuan * sets;
}

enum db_status fee_list(db_conn *c, struct arena *a, struct fee **rows, size_t *n)
{
	db_result *r = NULL;
	*rows = NULL;
	*n = 0;
	enum db_status st = DB_EXEC0(c, FEE_COLUMNS "ORDER BY valid_from DESC, id DESC", &r);
	if (st == DB_OK && r->nrows > 0) {
		*rows = arena_alloc(a, (size_t)r->nrows * sizeof **rows);
		for (int i = 0; i < r->nrows; i++)
			fee_row(r, i, &(*rows)[i]);
		*n = (size_t)r->nrows;
	}
	db_result_free(r);
	return st;
}

enum db_status fee_add(db_conn *c, const struct actor *a, const struct fee *f)
{
	const struct db_param params[] = {
	    P_INT(f->price_yuan),   P_INT(f->medium_yuan),
	    P_INT(f->years),        P_INT(f->valid_from),
	    P_INT(a->account_id),   P_INT(time_now()),
	    P_INT(f->renewal_yuan), f->replacement_yuan <= 0 ? P_NULL : P_INT(f->replacement_yuan),
	};
	char *after = f->replacement_yuan <= 0
	                  ? xasprintf("%ld/%ld/%d/%ld", f->price_yuan, f->medium_yuan, f->years,
	                              f->renewal_yuan)
	                  : xasprintf("%ld/%ld/%d/%ld/%ld", f->price_yuan, f->medium_yuan, f->years,
	                              f->renewal_yuan, f->replacement_yuan);
	enum db_status st = db_exec_audited(
	    c,
	    "INSERT INTO fee_schedule (price_yuan, medium_yuan, years, valid_from, created_by, "
	    "created_at, renewal_yuan, replacement_yuan) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
	    params, 8, NULL, a, "fee_schedule.add", "fee_schedule", "", after);
	free(after);
	return st;
}
