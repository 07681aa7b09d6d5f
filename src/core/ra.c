/*
 * The RA back office: queue, figures and the recorded steps of an
 * application. Which step the state allows, to whom, and what the state
 * becomes is the state machine's (core/appstate.c).
 */
#include "esp/ra.h"
#include "esp/validate.h"

#include <stdlib.h>
#include <string.h>

#define DAY 86400

/* When the 20 days start: the later of payment and materials (evaluators:
 * materials only); NULL while either is missing. The kind and province are
 * the application's own copies of its registration's (migration 019), so
 * that the back office's lists need no other table to find and order rows. */
#define START_SQL                                                                                  \
	"(CASE WHEN a.kind = 'evaluator' THEN a.materials_at "                                     \
	"WHEN a.paid_at IS NULL OR a.materials_at IS NULL THEN NULL "                              \
	"WHEN a.paid_at > a.materials_at THEN a.paid_at ELSE a.materials_at END)"
/* Never NULL: an application without a start is not overdue. */
#define OVERDUE_SQL(limit)                                                                         \
	"(a.state IN ('ready_to_issue', 'issued') AND COALESCE(" START_SQL ", " limit ") < " limit \
	")"

void ra_filter_scope(const struct actor *a, struct ra_filter *f)
{
	f->province = a->role == ROLE_ADMIN ? NULL : a->province_code;
	f->evaluators_only = a->role == ROLE_TRAINER;
}

static char *like_pattern(const char *q)
{
	struct buf b = {0};
	buf_putc(&b, '%');
	for (const char *p = q; *p; p++) {
		if (*p == '%' || *p == '_' || *p == '\\')
			buf_putc(&b, '\\');
		buf_putc(&b, *p);
	}
	buf_putc(&b, '%');
	return buf_steal(&b);
}

/*
 * The WHERE of a filter, holding only the tests the filter asks for: a test
 * written as "($2 = '' OR x = $2)" keeps the store from every index, and at a
 * national scale (a million applications) each list then read them all.
 * Statements are prepared once per shape (few: the filters' combinations).
 * With an overdue limit it is $1; PostgreSQL refuses a parameter that a
 * statement does not use, so statements without the overdue test have none.
 */
struct where {
	struct buf sql;
	struct db_param p[12];
	int n;
	char *like;     /* the search's pattern, owned */
	bool needs_reg; /* a test reads the registration (r) */
};

/* Adds a test; every "$?" in it names the value v (when given). */
static void where_add(struct where *w, const char *test, const struct db_param *v)
{
	buf_puts(&w->sql, w->sql.len ? " AND " : " WHERE ");
	if (v)
		w->p[w->n++] = *v;
	for (const char *t = test; *t;) {
		if (v && t[0] == '$' && t[1] == '?') {
			buf_printf(&w->sql, "$%d", w->n);
			t += 2;
		} else {
			buf_putc(&w->sql, *t++);
		}
	}
}

/* The search: number, name or code contains the text. A text of three
 * characters or more without LIKE's own characters is looked up in the
 * trigram indexes of migration 019 (SQLite: the FTS5 table app_search, whose
 * index serves a LIKE without ESCAPE, one column at a time; PostgreSQL:
 * pg_trgm's GIN indexes); anything else is tested row by row. A whole
 * 申请编号 or 统一社会信用代码/身份证号码 (what an operator copies from a
 * transfer's remark or a form) is looked up as what it is, by equality: its
 * trigrams are in nearly every number and code, and intersecting those lists
 * took seconds with a million applications. */
#define SEARCH_SCAN                                                                                \
	"(a.number LIKE $? ESCAPE '\\' OR r.name LIKE $? ESCAPE '\\' OR r.code LIKE $? ESCAPE "    \
	"'\\')"
/* Only the columns that can hold the text are looked up: an application
 * number is "ESP-", digits and dashes, a code digits and Latin letters, so a
 * text with a Chinese character is looked up in the names alone (each column
 * read costs its trigram lists: on a national store, "输单位24204" in the
 * codes took 1 ms of the search's 5). Letters in either case: SQLite's LIKE
 * ignores the case of ASCII letters. */
static bool only_chars(const char *q, const char *set)
{
	for (const unsigned char *p = (const unsigned char *)q; *p; p++)
		if (!(*p >= '0' && *p <= '9') && !strchr(set, *p))
			return false;
	return true;
}

static char *search_indexed(db_conn *c, const char *q)
{
	bool number = only_chars(q, "ESPesp-"),
	     code = only_chars(q, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
	static const struct db_sql name = {
	    "SELECT rowid FROM app_search WHERE name LIKE $?",
	    "SELECT a2.id FROM applications a2 JOIN registrations r2 ON r2.id = a2.registration_id "
	    "WHERE r2.name LIKE $?",
	};
	static const struct db_sql name_code = {
	    "SELECT rowid FROM app_search WHERE name LIKE $? "
	    "UNION SELECT rowid FROM app_search WHERE code LIKE $?",
	    "SELECT a2.id FROM applications a2 JOIN registrations r2 ON r2.id = a2.registration_id "
	    "WHERE r2.name LIKE $? OR r2.code LIKE $?",
	};
	static const struct db_sql by_number = {
	    "SELECT rowid FROM app_search WHERE number LIKE $? UNION ",
	    "SELECT id FROM applications WHERE number LIKE $? UNION ",
	};
	return xasprintf("a.id IN (%s%s)", number ? db_sql(c, &by_number) : "",
	                 db_sql(c, code ? &name_code : &name));
}

#define SEARCH_WHOLE                                                                               \
	"a.id IN (SELECT id FROM applications WHERE number = $? UNION SELECT a2.id FROM "          \
	"applications a2 JOIN registrations r2 ON r2.id = a2.registration_id WHERE r2.code = $?)"

/* A whole application number (ESP-YYYY-NNNNNN) or a whole code. */
static bool whole_number_or_code(const char *q)
{
	size_t n = strlen(q);
	if (n == 15 && strncmp(q, "ESP-", 4) == 0 && q[8] == '-' &&
	    strspn(q + 4, "0123456789") == 4 && strspn(q + 9, "0123456789") == 6)
		return true;
	return n == 18 && (validate_uscc(q) || validate_id_number(q));
}

static bool searchable(const char *q)
{
	return utf8_length(q) >= 3 && !strpbrk(q, "%_\\");
}

/* The tests a filter makes; `state` says whether its state counts (the
 * figures ignore it); limit_at < 0: no overdue limit. */
static void where_of(db_conn *c, struct where *w, const struct ra_filter *f, int64_t limit_at,
                     bool state)
{
	*w = (struct where){0};
	buf_puts(&w->sql, "");
	if (limit_at >= 0)
		w->p[w->n++] = P_INT(limit_at);
	struct db_param v;
	if (f->province) {
		v = P_TEXT(f->province);
		where_add(w, "a.province_code = $?", &v);
	}
	if (f->evaluators_only)
		where_add(w, "a.kind = 'evaluator'", NULL);
	if (state && f->state && *f->state) {
		v = P_TEXT(f->state);
		where_add(w, "a.state = $?", &v);
	}
	if (f->kind && *f->kind) {
		v = P_TEXT(f->kind);
		where_add(w, "a.kind = $?", &v);
	}
	if (f->from) {
		v = P_INT(f->from);
		where_add(w, "a.submitted_at >= $?", &v);
	}
	if (f->to) {
		v = P_INT(f->to);
		where_add(w, "a.submitted_at < $?", &v);
	}
	if (f->q && *f->q) {
		w->like = like_pattern(f->q);
		v = P_TEXT(w->like);
		struct db_param whole = P_TEXT(f->q);
		w->needs_reg = !searchable(f->q);
		if (w->needs_reg)
			where_add(w, SEARCH_SCAN, &v);
		else if (whole_number_or_code(f->q))
			where_add(w, SEARCH_WHOLE, &whole);
		else {
			char *test = search_indexed(c, f->q);
			where_add(w, test, &v);
			free(test);
		}
	}
}

static void where_free(struct where *w)
{
	buf_free(&w->sql);
	free(w->like);
}

/* " WHERE tests" or " AND tests" for a further test `also`. */
static const char *where_and(const struct where *w)
{
	return w->sql.len ? " AND " : " WHERE ";
}

/* The applications a WHERE reads from, with their registrations when a
 * test needs them. */
static const char *from_of(const struct where *w)
{
	return w->needs_reg
	           ? " FROM applications a JOIN registrations r ON r.id = a.registration_id"
	           : " FROM applications a";
}
#define ITEM_SQL                                                                                   \
	"SELECT a.number, a.state, a.sets, a.amount_yuan, a.submitted_at, a.kind, r.name, "        \
	"r.code, p.name AS province, " START_SQL " AS started, "                                   \
	"CASE WHEN " OVERDUE_SQL("$1") " THEN 1 ELSE 0 END AS overdue, a.type, a.replaces_serial"

/* Appends the rows of an ITEM_SQL statement to out. */
static void read_items(struct arena *a, const db_result *r, struct ra_queue_item *out, size_t *n)
{
	int64_t now = time_now();
	for (int i = 0; i < r->nrows; i++) {
		int64_t started = db_get_int(r, i, 9, 0);
		out[(*n)++] = (struct ra_queue_item){
		    .number = arena_strdup(a, db_get(r, i, 0)),
		    .state = arena_strdup(a, db_get(r, i, 1)),
		    .sets = (int)db_get_int(r, i, 2, 0),
		    .amount_yuan = db_get_int(r, i, 3, 0),
		    .submitted_at = db_get_int(r, i, 4, 0),
		    .kind = kind_parse(db_get(r, i, 5)),
		    .name = arena_strdup(a, db_get(r, i, 6)),
		    .code = arena_strdup(a, db_get(r, i, 7)),
		    .province = arena_strdup(a, db_get(r, i, 8)),
		    .overdue = db_get_int(r, i, 10, 0) != 0,
		    .days = started ? (now - started) / DAY : -1,
		    .type = app_type_parse(db_get(r, i, 11)),
		    .replaces_serial = db_get(r, i, 12) ? arena_strdup(a, db_get(r, i, 12)) : NULL,
		};
	}
}

/* Appends up to limit rows of one part of the queue (overdue or not),
 * oldest first, to *out: the page's ids from the index in submission order
 * (which holds what the tests read), then their rows. */
static enum db_status queue_part(db_conn *c, struct arena *a, const struct where *w,
                                 const char *part, int limit, int64_t offset,
                                 struct ra_queue_item *out, size_t *n)
{
	char *sql = xasprintf(
	    "%s FROM (SELECT a.id FROM applications a%s%s%s%s ORDER BY a.submitted_at, a.id "
	    "LIMIT %d OFFSET %lld) x JOIN applications a ON a.id = x.id "
	    "JOIN registrations r ON r.id = a.registration_id "
	    "JOIN provinces p ON p.code = a.province_code ORDER BY a.submitted_at, a.id",
	    ITEM_SQL, from_of(w) + strlen(" FROM applications a"), w->sql.data, where_and(w), part,
	    limit, (long long)offset);
	db_result *r = NULL;
	enum db_status st = db_exec(c, sql, w->p, w->n, &r);
	free(sql);
	if (st == DB_OK)
		read_items(a, r, out, n);
	db_result_free(r);
	return st;
}

/* How many applications a WHERE (and a further test) holds. */
static enum db_status count_where(db_conn *c, const struct where *w, const char *also, int64_t *out)
{
	char *sql = xasprintf("SELECT COUNT(*)%s%s%s%s", from_of(w), w->sql.data,
	                      also ? where_and(w) : "", also ? also : "");
	db_result *r = NULL;
	enum db_status st = db_exec(c, sql, w->p, w->n, &r);
	free(sql);
	*out = st == DB_OK ? db_get_int(r, 0, 0, 0) : 0;
	db_result_free(r);
	return st;
}

/* The counts by state that app_counts (migration 019) keeps, for a filter
 * without search or dates: a few hundred rows instead of every application. */
static enum db_status kept_counts(db_conn *c, const struct ra_filter *f, bool state,
                                  int64_t count[APP_STATE_COUNT])
{
	struct buf sql = {0};
	struct db_param p[3];
	int n = 0;
	buf_puts(&sql, "SELECT state, COALESCE(SUM(n), 0) FROM app_counts WHERE 1 = 1");
	if (f->province) {
		p[n++] = P_TEXT(f->province);
		buf_printf(&sql, " AND province_code = $%d", n);
	}
	if (f->evaluators_only)
		buf_puts(&sql, " AND kind = 'evaluator'");
	if (f->kind && *f->kind) {
		p[n++] = P_TEXT(f->kind);
		buf_printf(&sql, " AND kind = $%d", n);
	}
	if (state && f->state && *f->state) {
		p[n++] = P_TEXT(f->state);
		buf_printf(&sql, " AND state = $%d", n);
	}
	buf_puts(&sql, " GROUP BY state");
	db_result *r = NULL;
	enum db_status st = db_exec(c, sql.data, p, n, &r);
	buf_free(&sql);
	memset(count, 0, sizeof(int64_t) * APP_STATE_COUNT);
	if (st == DB_OK)
		for (int i = 0; i < r->nrows; i++) {
			enum app_state k = appstate_parse(db_get(r, i, 0));
			if ((int)k >= 0 && k < APP_STATE_COUNT)
				count[k] = db_get_int(r, i, 1, 0);
		}
	db_result_free(r);
	return st;
}

static bool searched_or_dated(const struct ra_filter *f)
{
	return (f->q && *f->q) || f->from || f->to;
}

/*
 * A search's queue from one evaluation of the text search. The search test
 * of where_of is a walk of the trigram indexes (or, for a short text, of
 * every application), and the path of ra_queue below runs it up to four
 * times a page: the overdue count, the total, and the overdue and other
 * parts. Here one statement reads each match's id, submission time and
 * overdue mark; the queue's order, the total and the page's ids are made
 * from them in C, and a second statement reads the page's rows by id.
 *
 * RA_SEARCH_ROWS bounds what the first statement reads into memory (three
 * numbers a match: about a megabyte at 20,000 with the result's own
 * overhead, for each of the connections answering at once). A search that
 * matches more (a word in many names, 运输) takes the path of ra_queue below,
 * which pages in the store and reads one page: the operator still gets the
 * whole list, its total and the pages after it (and the CSV export), as
 * before; a refusal would lose them, and the fallback's cost is one more read
 * that stops at the bound.
 */
#define RA_SEARCH_ROWS 20000
static int search_rows = RA_SEARCH_ROWS;

void ra_search_rows_set(int n)
{
	search_rows = n > 0 ? n : RA_SEARCH_ROWS;
}

struct match {
	int64_t id, submitted_at;
	int overdue;
};

/* The queue's order: overdue first, then oldest first, the id breaking ties. */
static int match_cmp(const void *x, const void *y)
{
	const struct match *a = x, *b = y;
	if (a->overdue != b->overdue)
		return b->overdue - a->overdue;
	if (a->submitted_at != b->submitted_at)
		return a->submitted_at < b->submitted_at ? -1 : 1;
	return (a->id > b->id) - (a->id < b->id);
}

/* The page's applications: $2 is a JSON array of their ids, one parameter
 * whatever their number, so that the statement is prepared once. */
static const struct db_sql page_ids = {
    "a.id IN (SELECT value FROM json_each($2))",
    "a.id IN (SELECT CAST(value AS bigint) FROM json_array_elements_text(CAST($2 AS json)))",
};

static enum db_status search_page(db_conn *c, struct arena *a, const struct match *m, size_t n,
                                  int64_t limit_at, struct ra_queue_item *out, size_t *got)
{
	struct buf ids = {0};
	buf_putc(&ids, '[');
	for (size_t i = 0; i < n; i++)
		buf_printf(&ids, "%s%lld", i ? "," : "", (long long)m[i].id);
	buf_putc(&ids, ']');
	char *sql = xasprintf("%s FROM applications a "
	                      "JOIN registrations r ON r.id = a.registration_id "
	                      "JOIN provinces p ON p.code = a.province_code WHERE %s "
	                      "ORDER BY overdue DESC, a.submitted_at, a.id",
	                      ITEM_SQL, db_sql(c, &page_ids));
	struct db_param p[2] = {P_INT(limit_at), P_TEXT(ids.data)};
	db_result *r = NULL;
	enum db_status st = db_exec(c, sql, p, 2, &r);
	free(sql);
	buf_free(&ids);
	if (st == DB_OK)
		read_items(a, r, out, got);
	db_result_free(r);
	return st;
}

/* *done is false when the search matched more than search_rows: then
 * nothing is set, and the caller takes the general path. */
static enum db_status search_queue(db_conn *c, struct arena *a, const struct ra_filter *f,
                                   int64_t limit_at, struct ra_queue_item **out, size_t *n,
                                   int64_t *total, bool *done)
{
	struct where w;
	where_of(c, &w, f, limit_at, true);
	char *sql = xasprintf("SELECT a.id, a.submitted_at, CASE WHEN " OVERDUE_SQL(
	                          "$1") " THEN 1 ELSE 0 END%s%s%s%s LIMIT %d",
	                      from_of(&w), w.sql.data, f->overdue ? where_and(&w) : "",
	                      f->overdue ? OVERDUE_SQL("$1") : "", search_rows + 1);
	/* Planned for the text each time (db_exec_once): PostgreSQL's generic
	 * plan hashed the province's 31,515 applications and started two
	 * parallel workers (9 ms) to join the 12 matches of "输单位24204":
	 * 11-41 ms against 5 ms planned for the text, 0.5 ms of it planning. */
	db_result *r = NULL;
	enum db_status st = db_exec_once(c, sql, w.p, w.n, &r);
	free(sql);
	where_free(&w);
	*done = st != DB_OK || r->nrows <= search_rows;
	if (st != DB_OK || !*done) {
		db_result_free(r);
		return st;
	}
	size_t m = (size_t)r->nrows;
	struct match *all = xcalloc(m ? m : 1, sizeof *all);
	for (size_t i = 0; i < m; i++)
		all[i] = (struct match){.id = db_get_int(r, (int)i, 0, 0),
		                        .submitted_at = db_get_int(r, (int)i, 1, 0),
		                        .overdue = db_get_int(r, (int)i, 2, 0) != 0};
	db_result_free(r);
	qsort(all, m, sizeof *all, match_cmp);
	*total = (int64_t)m;
	if (f->limit > 0 && f->offset >= 0 && f->offset < *total) {
		size_t from = (size_t)f->offset, k = m - from;
		if (k > (size_t)f->limit)
			k = (size_t)f->limit;
		*out = arena_alloc(a, k * sizeof **out);
		st = search_page(c, a, all + from, k, limit_at, *out, n);
	}
	free(all);
	return st;
}

enum db_status ra_queue(db_conn *c, struct arena *a, const struct ra_filter *f, int delivery_days,
                        struct ra_queue_item **out, size_t *n, int64_t *total)
{
	int64_t limit_at = time_now() - (int64_t)delivery_days * DAY;
	*total = 0;
	*out = NULL;
	*n = 0;
	if (f->q && *f->q) {
		bool done = false;
		enum db_status st = search_queue(c, a, f, limit_at, out, n, total, &done);
		if (st != DB_OK || done)
			return st;
	}
	struct where w;
	where_of(c, &w, f, limit_at, true);
	/* Overdue first, then the rest, each oldest first: two walks of an
	 * index in submission order, the first over the few overdue ones. */
	int64_t overdue = 0;
	enum db_status st = count_where(c, &w, OVERDUE_SQL("$1"), &overdue);
	if (st == DB_OK && f->overdue) {
		*total = overdue;
	} else if (st == DB_OK && searched_or_dated(f)) {
		struct where plain;
		where_of(c, &plain, f, -1, true);
		st = count_where(c, &plain, NULL, total);
		where_free(&plain);
	} else if (st == DB_OK) {
		int64_t count[APP_STATE_COUNT];
		st = kept_counts(c, f, true, count);
		for (int k = APP_SUBMITTED; st == DB_OK && k < APP_STATE_COUNT; k++)
			*total += count[k];
	}
	int limit = f->limit > 0 ? f->limit : 0;
	if (st == DB_OK && limit > 0 && f->offset < *total) {
		*out = arena_alloc(a, (size_t)limit * sizeof **out);
		int64_t offset = f->offset;
		if (offset < overdue)
			st = queue_part(c, a, &w, OVERDUE_SQL("$1"), limit, offset, *out, n);
		int rest = limit - (int)*n;
		if (st == DB_OK && rest > 0 && !f->overdue)
			st = queue_part(c, a, &w, "NOT " OVERDUE_SQL("$1"), rest,
			                offset > overdue ? offset - overdue : 0, *out, n);
	}
	where_free(&w);
	return st;
}

enum db_status ra_stats(db_conn *c, const struct ra_filter *f, int delivery_days,
                        struct ra_stats *out)
{
	int64_t limit_at = time_now() - (int64_t)delivery_days * DAY;
	memset(out, 0, sizeof(*out));
	struct where w;
	where_of(c, &w, f, limit_at, false);
	enum db_status st = count_where(c, &w, OVERDUE_SQL("$1"), &out->overdue);
	where_free(&w);
	if (st == DB_OK && searched_or_dated(f)) {
		where_of(c, &w, f, -1, false);
		char *sql = xasprintf("SELECT a.state, COUNT(*)%s%s GROUP BY a.state", from_of(&w),
		                      w.sql.data);
		db_result *r = NULL;
		st = db_exec(c, sql, w.p, w.n, &r);
		free(sql);
		if (st == DB_OK)
			for (int i = 0; i < r->nrows; i++) {
				enum app_state k = appstate_parse(db_get(r, i, 0));
				if ((int)k >= 0 && k < APP_STATE_COUNT)
					out->count[k] = db_get_int(r, i, 1, 0);
			}
		db_result_free(r);
	} else if (st == DB_OK) {
		st = kept_counts(c, f, false, out->count);
	}
	/* Only the states an application reaches once submitted count. */
	for (int k = 0; k < APP_SUBMITTED; k++)
		out->count[k] = 0;
	return st;
}

enum db_status ra_daily(db_conn *c, struct arena *a, const struct ra_filter *f, int days,
                        struct ra_day **out)
{
	int64_t now = time_now();
	/* Day boundaries in China Standard Time. */
	int64_t today = ((now + 8 * 3600) / DAY) * DAY - 8 * 3600;
	int64_t since = today - (int64_t)(days - 1) * DAY;
	struct ra_day *d = arena_alloc(a, (size_t)days * sizeof *d);
	for (int i = 0; i < days; i++)
		d[i] = (struct ra_day){.start = since + (int64_t)i * DAY};
	*out = d;
	struct ra_filter all = *f;
	all.from = since;
	all.to = 0;
	struct where w;
	where_of(c, &w, &all, -1, false);
	/* Counted per day by the store: a province's month is thousands of
	 * rows, which were sent one by one to be counted here. */
	struct db_param since_p = P_INT(since);
	w.p[w.n++] = since_p;
	char *sql =
	    xasprintf("SELECT (a.submitted_at - $%d) / %d AS day, COUNT(*)%s%s GROUP BY day", w.n,
	              DAY, from_of(&w), w.sql.data);
	db_result *r = NULL;
	enum db_status st = db_exec(c, sql, w.p, w.n, &r);
	free(sql);
	if (st == DB_OK)
		for (int i = 0; i < r->nrows; i++) {
			int64_t k = db_get_int(r, i, 0, -1);
			if (k >= 0 && k < days)
				d[k].received += db_get_int(r, i, 1, 0);
		}
	db_result_free(r);
	r = NULL;
	where_free(&w);
	/* Keys shipped (units) or handed to the training institution
	 * (evaluators) since then, whenever they applied. */
	all.from = 0;
	where_of(c, &w, &all, -1, false);
	where_add(&w, "(a.shipped_at >= $? OR a.pickup_at >= $?)", &since_p);
	/* A key shipped before `since` and picked up after is not counted:
	 * its day would round towards zero, into the first bar. */
	where_add(&w, "COALESCE(a.shipped_at, a.pickup_at) >= $?", &since_p);
	sql = xasprintf("SELECT (COALESCE(a.shipped_at, a.pickup_at) - $%d) / %d AS day, "
	                "SUM(a.sets)%s%s GROUP BY day",
	                w.n, DAY, from_of(&w), w.sql.data);
	if (st == DB_OK)
		st = db_exec(c, sql, w.p, w.n, &r);
	free(sql);
	if (st == DB_OK)
		for (int i = 0; i < r->nrows; i++) {
			int64_t k = db_get_int(r, i, 0, -1);
			if (k >= 0 && k < days)
				d[k].shipped += db_get_int(r, i, 1, 0);
		}
	db_result_free(r);
	where_free(&w);
	return st;
}

enum db_status application_history(db_conn *c, struct arena *a, int64_t app_id,
                                   struct app_event **out, size_t *n)
{
	db_result *r = NULL;
	*out = NULL;
	*n = 0;
	enum db_status st =
	    DB_EXEC(c,
	            "SELECT at, actor, action, from_state, to_state, note FROM application_events "
	            "WHERE application_id = $1 ORDER BY at, id",
	            &r, P_INT(app_id));
	if (st == DB_OK && r->nrows) {
		*out = arena_alloc(a, (size_t)r->nrows * sizeof **out);
		*n = (size_t)r->nrows;
		for (int i = 0; i < r->nrows; i++) {
			const char *from = db_get(r, i, 3), *to = db_get(r, i, 4),
			           *note = db_get(r, i, 5);
			(*out)[i] = (struct app_event){
			    .at = db_get_int(r, i, 0, 0),
			    .actor = arena_strdup(a, db_get(r, i, 1)),
			    .action = arena_strdup(a, db_get(r, i, 2)),
			    .from_state = from ? arena_strdup(a, from) : NULL,
			    .to_state = to ? arena_strdup(a, to) : NULL,
			    .note = note ? arena_strdup(a, note) : NULL,
			};
		}
	}
	db_result_free(r);
	return st;
}

/* ---- steps ---- */

struct app_row {
	int64_t id;
	enum app_state state;
	unsigned facts; /* APP_FACT_EVALUATOR, _PAID, _MATERIALS, _CERTS */
};

static enum db_status load_row(db_conn *c, const char *number, struct app_row *row)
{
	db_result *r = NULL;
	enum db_status st =
	    DB_EXEC(c,
	            "SELECT a.id, a.state, r.kind, a.paid_at, a.materials_at, "
	            "(SELECT COUNT(*) FROM certificates ce WHERE ce.application_id = a.id), a.type "
	            "FROM applications a JOIN registrations r ON r.id = a.registration_id WHERE "
	            "a.number = $1",
	            &r, P_TEXT(number));
	if (st == DB_OK && r->nrows == 0)
		st = DB_NOT_FOUND;
	if (st == DB_OK) {
		row->id = db_get_int(r, 0, 0, 0);
		row->state = appstate_parse(db_get(r, 0, 1));
		row->facts =
		    (kind_parse(db_get(r, 0, 2)) == KIND_EVALUATOR ? APP_FACT_EVALUATOR : 0) |
		    (db_get(r, 0, 3) ? APP_FACT_PAID : 0) |
		    (db_get(r, 0, 4) ? APP_FACT_MATERIALS : 0) |
		    (db_get_int(r, 0, 5, 0) > 0 ? APP_FACT_CERTS : 0) |
		    app_type_facts(app_type_parse(db_get(r, 0, 6)));
	}
	db_result_free(r);
	return st;
}

/* Loads the application and asks the state machine whether the actor's
 * role takes `step` now: DB_CONFLICT when it does not. */
static enum db_status step_begin(db_conn *c, const struct actor *a, const char *number,
                                 enum app_step step, struct app_row *row, enum app_state *to)
{
	enum db_status st = load_row(c, number, row);
	if (st != DB_OK)
		return st;
	if (!appstate_next(row->state, step, a ? a->role : ROLE_NONE, row->facts, to))
		return DB_CONFLICT;
	return DB_OK;
}

static enum db_status set_state(db_conn *c, const struct actor *a, const struct app_row *row,
                                enum app_state to, enum app_step step, const char *note)
{
	enum db_status st =
	    DB_EXEC(c, "UPDATE applications SET state = $2, updated_at = $3 WHERE id = $1", NULL,
	            P_INT(row->id), P_TEXT(appstate_name(to)), P_INT(time_now()));
	if (st != DB_OK)
		return st;
	return application_event(c, a, row->id, appstep_name(step), appstate_name(row->state),
	                         appstate_name(to), note);
}

struct step {
	const struct actor *a;
	const char *number;
	long amount;
	int64_t date;
	const char *s1, *s2, *s3;
};

static enum db_status payment_tx(db_conn *c, void *arg)
{
	struct step *s = arg;
	struct app_row row;
	enum app_state to;
	enum db_status st = step_begin(c, s->a, s->number, STEP_PAYMENT, &row, &to);
	if (st != DB_OK)
		return st;
	int64_t now = time_now();
	st = DB_EXEC(
	    c,
	    "INSERT INTO payments (application_id, amount_yuan, paid_on, payer, bank_ref, note, "
	    "recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
	    NULL, P_INT(row.id), P_INT(s->amount), P_INT(s->date), P_TEXT(s->s1), P_TEXT(s->s2),
	    P_TEXT(s->s3 && *s->s3 ? s->s3 : NULL), P_INT(s->a->account_id), P_INT(now));
	if (st != DB_OK)
		return st;
	st = DB_EXEC(c, "UPDATE applications SET paid_at = $2 WHERE id = $1", NULL, P_INT(row.id),
	             P_INT(now));
	if (st != DB_OK)
		return st;
	char *note = xasprintf("%ld元 %s %s%s%s", s->amount, s->s1, s->s2,
	                       s->s3 && *s->s3 ? " " : "", s->s3 ? s->s3 : "");
	st = set_state(c, s->a, &row, to, STEP_PAYMENT, note);
	free(note);
	return st;
}

enum db_status ra_record_payment(db_conn *c, const struct actor *a, const char *number, long amount,
                                 int64_t paid_on, const char *payer, const char *bank_ref,
                                 const char *note)
{
	struct step s = {.a = a,
	                 .number = number,
	                 .amount = amount,
	                 .date = paid_on,
	                 .s1 = payer,
	                 .s2 = bank_ref,
	                 .s3 = note};
	return db_transaction(c, payment_tx, &s);
}

static enum db_status materials_tx(db_conn *c, void *arg)
{
	struct step *s = arg;
	struct app_row row;
	enum app_state to;
	enum db_status st = step_begin(c, s->a, s->number, STEP_MATERIALS, &row, &to);
	if (st != DB_OK)
		return st;
	int64_t now = time_now();
	st = DB_EXEC(c,
	             "INSERT INTO materials (application_id, checklist, recorded_by, recorded_at) "
	             "VALUES ($1, $2, $3, $4)",
	             NULL, P_INT(row.id), P_TEXT(s->s1), P_INT(s->a->account_id), P_INT(now));
	if (st != DB_OK)
		return st;
	st = DB_EXEC(c, "UPDATE applications SET materials_at = $2 WHERE id = $1", NULL,
	             P_INT(row.id), P_INT(now));
	if (st != DB_OK)
		return st;
	return set_state(c, s->a, &row, to, STEP_MATERIALS, s->s1);
}

enum db_status ra_record_materials(db_conn *c, const struct actor *a, const char *number,
                                   const char *checklist)
{
	struct step s = {.a = a, .number = number, .s1 = checklist};
	return db_transaction(c, materials_tx, &s);
}

static enum db_status return_tx(db_conn *c, void *arg)
{
	struct step *s = arg;
	struct app_row row;
	enum app_state to;
	enum db_status st = step_begin(c, s->a, s->number, STEP_RETURN, &row, &to);
	if (st != DB_OK)
		return st;
	int64_t now = time_now();
	st =
	    DB_EXEC(c, "UPDATE applications SET returned_at = $2, return_reason = $3 WHERE id = $1",
	            NULL, P_INT(row.id), P_INT(now), P_TEXT(s->s1));
	if (st != DB_OK)
		return st;
	return set_state(c, s->a, &row, to, STEP_RETURN, s->s1);
}

enum db_status ra_return(db_conn *c, const struct actor *a, const char *number, const char *reason)
{
	struct step s = {.a = a, .number = number, .s1 = reason};
	return db_transaction(c, return_tx, &s);
}

static enum db_status resubmit_tx(db_conn *c, void *arg)
{
	struct step *s = arg;
	struct app_row row;
	enum app_state to;
	enum db_status st = step_begin(c, s->a, s->number, STEP_RESUBMIT, &row, &to);
	if (st != DB_OK)
		return st;
	/* The materials are sent again; a payment made stays made. */
	st = DB_EXEC(c, "UPDATE applications SET materials_at = NULL WHERE id = $1", NULL,
	             P_INT(row.id));
	if (st != DB_OK)
		return st;
	return set_state(c, s->a, &row, to, STEP_RESUBMIT, NULL);
}

enum db_status application_resubmit(db_conn *c, const struct actor *a, const char *number)
{
	struct step s = {.a = a, .number = number};
	return db_transaction(c, resubmit_tx, &s);
}

static enum db_status ship_tx(db_conn *c, void *arg)
{
	struct step *s = arg;
	struct app_row row;
	enum app_state to;
	enum db_status st = load_row(c, s->number, &row);
	if (st != DB_OK)
		return st;
	/* Evaluators' keys go to the training institution to be picked up. */
	bool pickup = row.facts & APP_FACT_EVALUATOR;
	enum app_step step = pickup ? STEP_PICKUP : STEP_SHIP;
	if (!appstate_next(row.state, step, s->a ? s->a->role : ROLE_NONE, row.facts, &to))
		return DB_CONFLICT;
	int64_t now = time_now();
	if (pickup) {
		st = DB_EXEC(c, "UPDATE applications SET pickup_at = $2 WHERE id = $1", NULL,
		             P_INT(row.id), P_INT(now));
		return st == DB_OK ? set_state(c, s->a, &row, to, step, NULL) : st;
	}
	st = DB_EXEC(c,
	             "UPDATE applications SET shipped_at = $2, courier = $3, tracking_no = $4 "
	             "WHERE id = $1",
	             NULL, P_INT(row.id), P_INT(now), P_TEXT(s->s1), P_TEXT(s->s2));
	if (st != DB_OK)
		return st;
	char *note = xasprintf("%s %s", s->s1, s->s2);
	st = set_state(c, s->a, &row, to, step, note);
	free(note);
	return st;
}

enum db_status ra_ship(db_conn *c, const struct actor *a, const char *number, const char *courier,
                       const char *tracking)
{
	struct step s = {.a = a, .number = number, .s1 = courier, .s2 = tracking};
	return db_transaction(c, ship_tx, &s);
}

static enum db_status received_tx(db_conn *c, void *arg)
{
	struct step *s = arg;
	struct app_row row;
	enum app_state to;
	enum db_status st = step_begin(c, s->a, s->number, STEP_RECEIVED, &row, &to);
	if (st != DB_OK)
		return st;
	st = DB_EXEC(c, "UPDATE applications SET received_at = $2 WHERE id = $1", NULL,
	             P_INT(row.id), P_INT(time_now()));
	return st == DB_OK ? set_state(c, s->a, &row, to, STEP_RECEIVED, NULL) : st;
}

enum db_status ra_mark_received(db_conn *c, const struct actor *a, const char *number)
{
	struct step s = {.a = a, .number = number};
	return db_transaction(c, received_tx, &s);
}
