/*
 * national_fill: fills an initialised ESP store (espctl init) with the data of
 * a national deployment, for bench/national_bench.sh:
 *
 *   - ten city authorities under each of the 31 provincial ones;
 *   - N registrations spread over the provinces and their cities (enterprises
 *     most, then evaluators, agencies, authorities), each with a valid
 *     统一社会信用代码 or 身份证号码 and its applicant account; 5 % pending,
 *     1 % returned, the rest approved;
 *   - one application for each approved registration, most of them received;
 *   - three certificates per received application until C are made, the
 *     first R of them revoked. Their DER and PEM are a real certificate's
 *     with the serial changed, so the store has the size real ones give.
 *
 *   national_fill --database=TARGET [--registrations=N] [--certificates=C]
 *                 [--revoked=R]
 *
 * Rows go in with multi-row INSERTs, many per transaction: the figure to
 * measure is ESP's work on the data, not the generator's.
 */
#include "esp/authority.h"
#include "esp/db.h"
#include "esp/util.h"
#include "esp/validate.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CITIES_PER_PROVINCE 10
#define ROWS_PER_STATEMENT 64
#define STATEMENTS_PER_TX 64
#define SLOT 64 /* bytes per text value of a row, DER/PEM apart */

/* ---- a multi-row INSERT filled row by row ---- */

/* Folded back after every commit: ESP's SQLite connections leave the
 * write-ahead log to espd's maintenance, which does not run here. */
static db_pool *fill_pool;

struct batch {
	db_conn *c;
	char *sql_full;     /* ROWS_PER_STATEMENT rows */
	const char *prefix; /* "INSERT INTO t (a, b) VALUES " */
	int ncols, rows, statements;
	struct db_param *params;
	char *text; /* ROWS_PER_STATEMENT * ncols slots of SLOT bytes */
	long long total;
};

static char *values_sql(const char *prefix, int ncols, int rows)
{
	struct buf b = {0};
	buf_puts(&b, prefix);
	for (int r = 0, n = 1; r < rows; r++) {
		buf_puts(&b, r ? ", (" : "(");
		for (int col = 0; col < ncols; col++)
			buf_printf(&b, col ? ", $%d" : "$%d", n++);
		buf_puts(&b, ")");
	}
	return buf_steal(&b);
}

static void batch_init(struct batch *b, db_conn *c, const char *prefix, int ncols)
{
	*b = (struct batch){.c = c, .prefix = prefix, .ncols = ncols};
	b->sql_full = values_sql(prefix, ncols, ROWS_PER_STATEMENT);
	b->params = xcalloc((size_t)ROWS_PER_STATEMENT * ncols, sizeof *b->params);
	b->text = xcalloc((size_t)ROWS_PER_STATEMENT * ncols, SLOT);
}

static void die_db(const char *what)
{
	fprintf(stderr, "national_fill: %s failed\n", what);
	exit(1);
}

static void batch_flush(struct batch *b, bool end_tx)
{
	if (b->rows) {
		char *sql = b->rows == ROWS_PER_STATEMENT
		                ? b->sql_full
		                : values_sql(b->prefix, b->ncols, b->rows);
		if (db_exec(b->c, sql, b->params, b->rows * b->ncols, NULL) != DB_OK)
			die_db(b->prefix);
		if (sql != b->sql_full)
			free(sql);
		b->total += b->rows;
		b->rows = 0;
		b->statements++;
	}
	if (end_tx || b->statements >= STATEMENTS_PER_TX) {
		if (DB_EXEC0(b->c, "COMMIT", NULL) != DB_OK ||
		    DB_EXEC0(b->c, "BEGIN", NULL) != DB_OK)
			die_db("commit");
		b->statements = 0;
	}
}

static struct db_param *row_param(struct batch *b, int col)
{
	return &b->params[b->rows * b->ncols + col];
}

static void put_text(struct batch *b, int col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void put_text(struct batch *b, int col, const char *fmt, ...)
{
	char *slot = b->text + ((size_t)b->rows * b->ncols + col) * SLOT;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(slot, SLOT, fmt, ap);
	va_end(ap);
	*row_param(b, col) = P_TEXT(slot);
}

static void put_int(struct batch *b, int col, int64_t v)
{
	*row_param(b, col) = P_INT(v);
}

static void put_null(struct batch *b, int col)
{
	*row_param(b, col) = P_NULL;
}

static void row_done(struct batch *b)
{
	if (++b->rows == ROWS_PER_STATEMENT)
		batch_flush(b, false);
}

static void batch_free(struct batch *b)
{
	batch_flush(b, true);
	free(b->sql_full);
	free(b->params);
	free(b->text);
}

/* A stable 0..99 for row i and one of its choices (kind, state, where):
 * the same data every run, spread as the percentages say at any size. */
static int percent(long i, unsigned choice)
{
	uint64_t x = (uint64_t)i * 0x9E3779B97F4A7C15u + choice * 0xBF58476D1CE4E5B9u;
	x ^= x >> 31;
	x *= 0x94D049BB133111EBu;
	x ^= x >> 29;
	return (int)(x % 100);
}

/* ---- codes that pass ESP's own checks ---- */

static const char check_chars[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/* 统一社会信用代码 of unit n in province p: the check character is the one
 * validate_uscc accepts. */
static void make_uscc(char out[32], const char *province, long n)
{
	snprintf(out, 32, "91%.2s0100%09ld0", province, n % 1000000000L);
	for (const char *c = check_chars; *c; c++) {
		out[17] = *c;
		if (validate_uscc(out))
			return;
	}
	abort();
}

static void make_id_number(char out[32], const char *province, long n)
{
	snprintf(out, 32, "%.2s0105%04ld%02ld%02ld%03ld0", province, 1960 + n % 40, 1 + n / 40 % 12,
	         1 + n / 480 % 28, n / 13440 % 1000);
	for (const char *c = "0123456789X"; *c; c++) {
		out[17] = *c;
		if (validate_id_number(out))
			return;
	}
	abort();
}

/* ---- one real certificate as the model of the stored ones ---- */

struct model {
	unsigned char *der;
	int der_len;
	int serial_at; /* offset of the 16 serial bytes inside der */
};

static struct model make_model(void)
{
	struct model m = {0};
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_set_version(x, 2);
	unsigned char serial[16];
	memset(serial, 0x5a, sizeof serial);
	BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	BN_free(bn);
	X509_NAME *n = X509_NAME_new();
	X509_NAME_add_entry_by_txt(n, "C", MBSTRING_UTF8, (const unsigned char *)"CN", -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "ST", MBSTRING_UTF8, (const unsigned char *)"福建省", -1, -1,
	                           0);
	X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
	                           (const unsigned char *)"福建省某某交通运输有限公司", -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_UTF8, (const unsigned char *)"交通运输企业",
	                           -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	                           (const unsigned char *)"福建省某某交通运输有限公司", -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "serialNumber", MBSTRING_UTF8,
	                           (const unsigned char *)"91350100123456789X", -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, n);
	X509_NAME_free(n);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3L * 365 * 86400);
	X509_set_pubkey(x, key);
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	const char *ext[][2] = {
	    {"basicConstraints", "critical,CA:FALSE"},
	    {"keyUsage", "critical,digitalSignature"},
	    {"extendedKeyUsage", "clientAuth"},
	    {"subjectKeyIdentifier", "hash"},
	    {"crlDistributionPoints", "URI:https://esp.example.gov.cn/ca/crl"},
	    {"authorityInfoAccess", "OCSP;URI:https://esp.example.gov.cn/ocsp"},
	};
	for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
		X509_EXTENSION *e = X509V3_EXT_conf(NULL, &ctx, ext[i][0], ext[i][1]);
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	X509_sign(x, key, EVP_sha256());
	m.der_len = i2d_X509(x, &m.der);
	for (int i = 0; i + 16 <= m.der_len; i++)
		if (memcmp(m.der + i, serial, 16) == 0) {
			m.serial_at = i;
			break;
		}
	X509_free(x);
	EVP_PKEY_free(key);
	if (m.der_len <= 0 || !m.serial_at)
		abort();
	return m;
}

/* PEM as OpenSSL writes it: base64 in lines of 64. */
static void pem_of(char *out, size_t cap, const unsigned char *der, int len)
{
	char *b64 = xmalloc((size_t)len * 2 + 4);
	int n = EVP_EncodeBlock((unsigned char *)b64, der, len);
	struct buf b = {0};
	buf_puts(&b, "-----BEGIN CERTIFICATE-----\n");
	for (int i = 0; i < n; i += 64)
		buf_printf(&b, "%.*s\n", n - i < 64 ? n - i : 64, b64 + i);
	buf_puts(&b, "-----END CERTIFICATE-----\n");
	if (b.len >= cap)
		abort();
	memcpy(out, b.data, b.len + 1);
	buf_free(&b);
	free(b64);
}

/* ---- the fill ---- */

struct fill_province {
	char code[8], name[64];
	int64_t authority_id, city_id[CITIES_PER_PROVINCE];
};

static int load_provinces(db_conn *c, struct fill_province *p)
{
	db_result *r = NULL;
	if (DB_EXEC0(c,
	             "SELECT a.province_code, a.id, p.name FROM authorities a "
	             "JOIN provinces p ON p.code = a.province_code "
	             "WHERE a.level = 'provincial' ORDER BY a.id",
	             &r) != DB_OK)
		die_db("provinces");
	int n = r->nrows > 40 ? 40 : r->nrows;
	for (int i = 0; i < n; i++) {
		snprintf(p[i].code, sizeof p[i].code, "%s", db_get(r, i, 0));
		p[i].authority_id = db_get_int(r, i, 1, 0);
		snprintf(p[i].name, sizeof p[i].name, "%s", db_get(r, i, 2));
	}
	db_result_free(r);
	return n;
}

static void add_cities(db_conn *c, struct fill_province *p, int n)
{
	for (int i = 0; i < n; i++)
		for (int k = 0; k < CITIES_PER_PROVINCE; k++) {
			char name[128];
			snprintf(name, sizeof name, "%.60s第%d市交通运输局", p[i].name, k + 1);
			int64_t id = 0;
			db_result *r = NULL;
			if (DB_EXEC(c, "SELECT id FROM authorities WHERE name = $1", &r,
			            P_TEXT(name)) == DB_OK &&
			    r->nrows)
				id = db_get_int(r, 0, 0, 0);
			db_result_free(r);
			if (!id && authority_insert(c, p[i].authority_id, name, p[i].code, "city",
			                            &id) != DB_OK)
				die_db("authority_insert");
			p[i].city_id[k] = id;
		}
}

static int64_t next_id(db_conn *c, const char *table)
{
	db_result *r = NULL;
	char *sql = xasprintf("SELECT COALESCE(MAX(id), 0) + 1 FROM %s", table);
	if (DB_EXEC0(c, sql, &r) != DB_OK)
		die_db(sql);
	int64_t v = db_get_int(r, 0, 0, 1);
	db_result_free(r);
	free(sql);
	return v;
}

static void pg_sequences(db_conn *c, bool pg)
{
	if (!pg)
		return;
	const char *tables[] = {"registrations", "accounts", "applications", "certificates"};
	for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
		char *sql = xasprintf("SELECT setval(pg_get_serial_sequence('%s', 'id'), "
		                      "(SELECT MAX(id) FROM %s))",
		                      tables[i], tables[i]);
		if (DB_EXEC0(c, sql, NULL) != DB_OK)
			die_db(sql);
		free(sql);
	}
}

static void add_application(struct batch *app, int64_t app_id, long seq, int64_t reg_id, long i,
                            long nreg, int64_t now, const char *type, long sets, bool received)
{
	put_int(app, 0, app_id);
	put_text(app, 1, "ESP-%04ld-%06ld", 2024 + seq / 1000000, seq % 1000000 + 1);
	put_int(app, 2, reg_id);
	put_text(app, 3, "%s", type);
	put_text(app, 4, "%s", received ? "received" : "paid");
	put_int(app, 5, sets);
	put_text(app, 6, "联系人%ld", i % 1000);
	put_text(app, 7, "139%08ld", i % 100000000L);
	put_text(app, 8, "unit%ld@example.cn", i);
	put_text(app, 9, "某市某区交通路%ld号", i % 1000);
	put_text(app, 10, "350001");
	put_int(app, 11, 660);
	put_int(app, 12, 80);
	put_int(app, 13, 3);
	put_int(app, 14, 660 * sets);
	put_text(app, 15, "fill-%lld", (long long)app_id);
	put_int(app, 16, now - (nreg - i) * 30 + 7200);
	put_int(app, 17, now - (nreg - i) * 30 + 86400);
	if (received)
		put_int(app, 18, now - (nreg - i) * 30 + 20 * 86400);
	else
		put_null(app, 18);
	put_int(app, 19, now);
	row_done(app);
}

/* Certificate number `n` of application app_id: the model with n as its
 * serial, its PEM, a token of its own. */
static void add_certificate(struct batch *cert, const struct model *m, unsigned char *ders,
                            char *pems, size_t pem_cap, int64_t n, int64_t app_id, int64_t reg_id,
                            long i, int64_t now, bool revoked)
{
	int slot = cert->rows;
	unsigned char *der = ders + (size_t)slot * m->der_len;
	memcpy(der, m->der, (size_t)m->der_len);
	/* 16 serial bytes: n, high bit clear (a positive INTEGER as ESP's own
	 * serials are). */
	unsigned char serial[16] = {0x1e};
	for (int b = 0; b < 8; b++)
		serial[15 - b] = (unsigned char)(n >> (8 * b));
	memcpy(der + m->serial_at, serial, 16);
	char hex[33];
	for (int b = 0; b < 16; b++)
		snprintf(hex + 2 * b, 3, "%02x", serial[b]);
	char *pem = pems + (size_t)slot * pem_cap;
	pem_of(pem, pem_cap, der, m->der_len);
	put_int(cert, 0, n);
	put_text(cert, 1, "%s", hex);
	put_int(cert, 2, app_id);
	put_int(cert, 3, reg_id);
	put_text(cert, 4, "TK%012lld", (long long)n);
	put_text(cert, 5, "CN=单位%ld", i);
	*row_param(cert, 6) = P_TEXT(pem);
	*row_param(cert, 7) = P_BLOB(der, (size_t)m->der_len);
	put_int(cert, 8, now - 86400);
	put_int(cert, 9, now + 3L * 365 * 86400);
	put_text(cert, 10, "%s", revoked ? "revoked" : "valid");
	if (revoked) {
		put_int(cert, 11, now - 3600);
		put_int(cert, 12, 1);
	} else {
		put_null(cert, 11);
		put_null(cert, 12);
	}
	put_int(cert, 13, now - 86400);
	row_done(cert);
}

static long arg_long(int argc, char **argv, const char *name, long def)
{
	size_t n = strlen(name);
	for (int i = 1; i < argc; i++)
		if (strncmp(argv[i], name, n) == 0 && argv[i][n] == '=')
			return strtol(argv[i] + n + 1, NULL, 10);
	return def;
}

int main(int argc, char **argv)
{
	const char *target = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			puts("national_fill --database=TARGET [--registrations=1000000] "
			     "[--certificates=3000000] [--revoked=100000]");
			return 0;
		}
		if (strncmp(argv[i], "--database=", 11) == 0)
			target = argv[i] + 11;
	}
	if (!target) {
		fprintf(stderr, "national_fill: --database=TARGET is required (see --help)\n");
		return 1;
	}
	long nreg = arg_long(argc, argv, "--registrations", 1000000);
	long ncert = arg_long(argc, argv, "--certificates", 3000000);
	long nrevoked = arg_long(argc, argv, "--revoked", 100000);
	const char *err = NULL;
	db_pool *pool = db_pool_open(target, 2, &err);
	if (!pool) {
		fprintf(stderr, "national_fill: %s\n", err);
		return 1;
	}
	fill_pool = pool;
	bool pg = strcmp(db_pool_backend(pool)->name, "postgresql") == 0;
	db_conn *c = db_acquire(pool);
	struct fill_province prov[40];
	int np = load_provinces(c, prov);
	if (np == 0) {
		fprintf(stderr,
		        "national_fill: no provincial authorities (run espctl init first)\n");
		return 1;
	}
	add_cities(c, prov, np);

	int64_t now = time_now();
	int64_t reg0 = next_id(c, "registrations"), acc0 = next_id(c, "accounts");
	int64_t app0 = next_id(c, "applications"), cert0 = next_id(c, "certificates");
	if (DB_EXEC0(c, "BEGIN", NULL) != DB_OK)
		die_db("begin");

	/* Registrations and their applicant accounts. */
	struct batch reg, acc;
	batch_init(&reg, c,
	           "INSERT INTO registrations (id, kind, state, authority_id, province_code, name, "
	           "code, legal_rep, contact_name, phone, mobile, email, address, postcode, "
	           "category, created_at, updated_at, reviewed_at) VALUES ",
	           18);
	batch_init(&acc, c,
	           "INSERT INTO accounts (id, username, password_hash, role, display_name, "
	           "province_code, registration_id, created_at) VALUES ",
	           8);
	static const char *kinds[] = {"enterprise", "evaluator", "agency", "authority"};
	for (long i = 0; i < nreg; i++) {
		const struct fill_province *p = &prov[i % np];
		/* 85 % enterprises, 8 % evaluators, 5 % agencies, 2 % authorities. */
		int kr = percent(i, 1);
		int kind = kr < 85 ? 0 : kr < 93 ? 1 : kr < 98 ? 2 : 3;
		int sr = percent(i, 2);
		const char *state = sr < 5 ? "pending" : sr < 6 ? "rejected" : "approved";
		/* Nine in ten are filed under a city, the rest under the province. */
		int64_t authority = percent(i, 3) >= 10
		                        ? p->city_id[percent(i, 4) % CITIES_PER_PROVINCE]
		                        : p->authority_id;
		char code[32];
		/* 新疆生产建设兵团's codes carry the division 66. */
		const char *division = strlen(p->code) == 2 ? p->code : "66";
		if (kind == 1)
			make_id_number(code, division, i);
		else
			make_uscc(code, division, i);
		int64_t id = reg0 + i;
		put_int(&reg, 0, id);
		put_text(&reg, 1, "%s", kinds[kind]);
		put_text(&reg, 2, "%s", state);
		put_int(&reg, 3, authority);
		put_text(&reg, 4, "%s", p->code);
		if (kind == 1)
			put_text(&reg, 5, "测评员%ld", i);
		else
			put_text(&reg, 5, "%s测试交通运输单位%ld", p->name, i);
		put_text(&reg, 6, "%s", code);
		put_text(&reg, 7, "法人%ld", i % 1000);
		put_text(&reg, 8, "联系人%ld", i % 1000);
		put_text(&reg, 9, "0591-%08ld", i % 100000000L);
		put_text(&reg, 10, "139%08ld", i % 100000000L);
		put_text(&reg, 11, "unit%ld@example.cn", i);
		put_text(&reg, 12, "%s某市某区交通路%ld号", p->name, i % 1000);
		put_text(&reg, 13, "350001");
		if (kind == 0)
			put_text(&reg, 14, "道路运输");
		else
			put_null(&reg, 14);
		put_int(&reg, 15, now - (nreg - i) * 30);
		put_int(&reg, 16, now - (nreg - i) * 30);
		if (sr < 5)
			put_null(&reg, 17);
		else
			put_int(&reg, 17, now - (nreg - i) * 30 + 3600);
		row_done(&reg);

		put_int(&acc, 0, acc0 + i);
		put_text(&acc, 1, "%s", code);
		put_text(&acc, 2, "$argon2id$v=19$m=8,t=1,p=1$bm90LWEtaGFzaA$bm90LWEtaGFzaA");
		put_text(&acc, 3, "applicant");
		put_text(&acc, 4, "单位%ld", i);
		put_text(&acc, 5, "%s", p->code);
		put_int(&acc, 6, id);
		put_int(&acc, 7, now);
		row_done(&acc);
		if (i % 100000 == 99999)
			fprintf(stderr, "registrations: %ld\n", i + 1);
	}
	batch_free(&reg);
	batch_free(&acc);

	/* One application per approved registration; three certificates for
	 * each received one until ncert are made. */
	struct model m = make_model();
	size_t pem_cap = (size_t)m.der_len * 2 + 128;
	char *pems = xmalloc(pem_cap * ROWS_PER_STATEMENT);
	unsigned char *ders = xmalloc((size_t)m.der_len * ROWS_PER_STATEMENT);
	struct batch app, cert;
	batch_init(
	    &app, c,
	    "INSERT INTO applications (id, number, registration_id, type, state, sets, "
	    "contact_name, mobile, email, address, postcode, price_yuan, medium_yuan, years, "
	    "amount_yuan, idem_key, submitted_at, paid_at, received_at, updated_at) VALUES ",
	    20);
	batch_init(&cert, c,
	           "INSERT INTO certificates (id, serial, application_id, registration_id, "
	           "token_serial, subject, pem, der, not_before, not_after, status, revoked_at, "
	           "revoke_reason, created_at) VALUES ",
	           14);
	/* Every approved registration has its initial application, 7 % of them
	 * one more (增加数量); one application in twenty is still on its way.
	 * The received ones share the certificates evenly. Applications go in
	 * first, then their certificates: a certificate row refers to an
	 * application already in the store. */
	long apps = 0, certs = 0, received_total = 0;
	for (int pass = -1; pass < 2; pass++) {
		long received_seen = 0;
		apps = 0;
		for (long i = 0; i < nreg; i++) {
			if (percent(i, 2) < 6)
				continue;
			int napps = percent(i, 5) < 7 ? 2 : 1;
			for (int a = 0; a < napps; a++) {
				int64_t app_id = app0 + apps;
				bool received = apps % 20 != 0;
				apps++;
				long share = 3;
				if (received && pass >= 0) {
					share = (received_seen + 1) * ncert / received_total -
					        received_seen * ncert / received_total;
					received_seen++;
				}
				if (pass == -1) {
					received_total += received;
				} else if (pass == 0) {
					add_application(&app, app_id, apps - 1, reg0 + i, i, nreg,
					                now, a ? "additional" : "initial",
					                share ? share : 1, received);
				} else if (received) {
					for (long k = 0; k < share; k++, certs++)
						add_certificate(&cert, &m, ders, pems, pem_cap,
						                cert0 + certs, app_id, reg0 + i, i,
						                now, certs < nrevoked);
					if (certs / 500000 != (certs - share) / 500000)
						fprintf(stderr, "certificates: %ld\n", certs);
				}
			}
		}
		if (pass == -1 && received_total == 0)
			received_total = 1;
		if (pass == 0) {
			batch_flush(&app, true);
			fprintf(stderr, "applications: %ld\n", apps);
		}
	}
	batch_free(&app);
	batch_free(&cert);
	if (DB_EXEC0(c, "COMMIT", NULL) != DB_OK)
		die_db("commit");
	pg_sequences(c, pg);
	if (DB_EXEC0(c, "ANALYZE", NULL) != DB_OK)
		die_db("analyze");
	printf("registrations %ld, applications %ld, certificates %ld (%ld revoked), "
	       "authorities +%d\n",
	       nreg, apps, certs, certs < nrevoked ? certs : nrevoked, np * CITIES_PER_PROVINCE);
	free(pems);
	free(ders);
	OPENSSL_free(m.der);
	db_release(pool, c);
	db_pool_close(pool);
	return 0;
}
