/*
 * The fee schedule (收费标准): the price of a key set, the part of it that is
 * the medium, and the years a certificate runs, each row in force from its
 * valid_from on.  The admin adds rows; none is ever changed or removed, so
 * what an application was charged can always be read back.
 */
#ifndef ESP_FEE_H
#define ESP_FEE_H

#include <stddef.h>
#include <stdint.h>

#include "esp/core.h"
#include "esp/registration.h"

struct fee {
	int64_t id;
	long price_yuan, medium_yuan;
	long renewal_yuan; /* 更新: a new certificate on the same token, no medium */
	/* 丢失补办, 损坏补办: a new token and certificate. Read: the row's own, or
	 * its price_yuan when it has none; fee_add: 0 stores none. */
	long replacement_yuan;
	int years;
	int64_t valid_from; /* unix time; 0 for the row the first migration made */
	int64_t created_at;
};
/* The fee in force now (newest row whose valid_from is not in the future).
 * DB_NOT_FOUND when no row is in force yet. */
enum db_status fee_current(db_conn *c, struct fee *out);
/* Amount due for sets; evaluators pay nothing (the manual). */
long fee_amount(const struct fee *f, enum reg_kind k, int sets);
/* Every row, newest valid_from first; *rows in arena (NULL when *n is 0). */
enum db_status fee_list(db_conn *c, struct arena *a, struct fee **rows, size_t *n);
/* Adds a row (price, medium, years and valid_from of f) made by a, audited
 * as fee_schedule.add. */
enum db_status fee_add(db_conn *c, const struct actor *a, const struct fee *f);

#endif
