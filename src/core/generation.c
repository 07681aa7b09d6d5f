/* Generations: counters the store's triggers bump (007_generations.sql,
 * 013_cluster.sql: on PostgreSQL a counter is the sum of its shards). */
#include "esp/generation.h"

#include <string.h>

bool generations_read(db_conn *c, int64_t out[GEN_COUNT])
{
	static const char *const names[GEN_COUNT] = {[GEN_REGISTRATIONS] = "registrations",
	                                             [GEN_SESSIONS] = "sessions",
	                                             [GEN_SETTINGS] = "settings",
	                                             [GEN_APPLICATIONS] = "applications"};
	for (int g = 0; g < GEN_COUNT; g++)
		out[g] = -1;
	db_result *r = NULL;
	if (DB_EXEC0(c, "SELECT name, SUM(value) FROM generations GROUP BY name", &r) != DB_OK)
		return false;
	for (int i = 0; i < r->nrows; i++)
		for (int g = 0; g < GEN_COUNT; g++)
			if (strcmp(db_get(r, i, 0), names[g]) == 0)
				out[g] = db_get_int(r, i, 1, -1);
	db_result_free(r);
	return true;
}
