/*
 * espctl: ESP's administration tool.  Creates the data directory (store,
 * CA, server certificate, base data, first admin), manages staff accounts,
 * creates the demo set-up, shows counts, verifies and anchors the audit log.
 *
 * Exit status: 0 success, 1 bad usage, 2 failure, 3 nothing to do
 * (init on an initialised directory).
 */
#include "esp/application.h"
#include "esp/audit_anchor.h"
#include "esp/ca.h"
#include "esp/cluster.h"
#include "esp/login.h"
#include "esp/config.h"
#include "esp/core.h"
#include "esp/counts.h"
#include "esp/db.h"
#include "esp/util.h"
#include "esp/certificate.h"
#include "esp/directory.h"
#include "esp/revoke.h"
#include "esp/ocsp.h"
#include "espctl_backup.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct ctl {
	struct esp_config *cfg;
	db_pool *pool;
	db_conn *db;
	bool audit_key_readonly; /* audit verify: never make a key */
};

static void usage(FILE *out)
{
	fputs(
	    "用法 Usage: espctl [--config FILE] [--KEY=VALUE ...] COMMAND [ARGS]\n"
	    "ESP administration (证书U盘申请系统管理工具).\n\n"
	    "Commands:\n"
	    "  ca root --out DIR [--org NAME]   make the root CA (root.key, root.crt) in DIR, a\n"
	    "                                   directory to keep offline (removable medium)\n"
	    "  init [--root DIR] [--admin-password-file F]\n"
	    "                                   create the data directory: store, issuing CA\n"
	    "                                   (signed by the root in DIR; without --root a\n"
	    "                                   throw-away root, for demos), server certificate,\n"
	    "                                   provinces, authority tree, admin\n"
	    "  demo                             create demo accounts (writes "
	    "<data_dir>/demo-accounts.tsv)\n"
	    "  user create --role ROLE --username U [--name NAME] [--authority NAME]\n"
	    "              [--province CODE] [--password-file F]\n"
	    "                                   ROLE: reviewer | ra | trainer | admin\n"
	    "  user list                        list accounts (staff and applicants)\n"
	    "  user disable U | user enable U   stop or allow an account's logins\n"
	    "  user reset-password U            give U a one-time password (printed) that must be\n"
	    "                                   changed at the next login; ends U's sessions\n"
	    "  directory load FILE.csv          load the RA directory: a header line naming the\n"
	    "                                   columns (province_code or province, ra_name, "
	    "payee,\n"
	    "                                   bank, account_no, address, postcode, recipient, "
	    "phone,\n"
	    "                                   trainer_name, trainer_address, trainer_phone, "
	    "email)\n"
	    "  staff-cert --username U --csr FILE [--out FILE]\n"
	    "                                   issue a login certificate for a staff account "
	    "from\n"
	    "                                   a PKCS#10 request made on its token\n"
	    "  cert list                        the latest certificates (holders' and staff's)\n"
	    "  crl sign                         re-sign the CRL now; prints its number\n"
	    "  cert revoke SERIAL REASON        revoke any certificate and re-sign the CRL; "
	    "REASON:\n"
	    "                                   keyCompromise | affiliationChanged | superseded |\n"
	    "                                   cessationOfOperation | unspecified\n"
	    "  deployment show                  what the store records every espd must share\n"
	    "  deployment set-public-url URL    record a new public_url for the deployment (with\n"
	    "                                   every espd stopped; see deployment --help)\n"
	    "  counts                           how many registrations, accounts ... there are\n"
	    "  audit verify                     check every audit entry's MAC and link and every\n"
	    "                                   anchor; exit 0 when intact, 2 when not (names the\n"
	    "                                   first entry that fails, or TRUNCATION)\n"
	    "  audit anchor                     sign the audit log's head with the CA and append "
	    "it\n"
	    "                                   to <data_dir>/audit-anchors (espd does so "
	    "daily)\n"
	    "  backup FILE [--passphrase-file F]\n"
	    "                                   the store (consistent while espd runs), the data\n"
	    "                                   directory's files and the CA's keys, encrypted\n"
	    "                                   under a passphrase (else ESP_BACKUP_PASSPHRASE)\n"
	    "  backup verify FILE [--passphrase-file F]\n"
	    "                                   decrypt and check a backup (checksums, tables)\n"
	    "  restore FILE [--passphrase-file F]\n"
	    "                                   restore into an empty data directory and an\n"
	    "                                   absent SQLite file or an empty PostgreSQL "
	    "database\n\n"
	    "Options: --data_dir=DIR (default var), --database=TARGET, any espd key (see espd "
	    "--help).\n"
	    "Exit status: 0 ok, 1 bad usage, 2 failure, 3 nothing to do.\n",
	    out);
}

static int open_store(struct ctl *ctl, bool migrate)
{
	const char *err = NULL;
	if (!db_set_sqlite_synchronous(config_get(ctl->cfg, "sqlite_synchronous"))) {
		fputs("espctl: sqlite_synchronous must be full or normal\n", stderr);
		return 2;
	}
	ctl->pool = db_pool_open(config_get(ctl->cfg, "database"), 1, &err);
	if (!ctl->pool) {
		fprintf(stderr, "espctl: database %s: %s\n", config_get(ctl->cfg, "database"), err);
		return 2;
	}
	if (migrate) {
		int applied = 0;
		if (db_migrate(ctl->pool, config_get(ctl->cfg, "migrations_dir"), &applied) !=
		    DB_OK) {
			fprintf(stderr, "espctl: database migration failed\n");
			return 2;
		}
	}
	ctl->db = db_acquire(ctl->pool);
	/* Every command that writes may append to the audit log: it needs the
	 * key, made here for a data directory that has none yet. */
	const char *key_file = config_get(ctl->cfg, "audit_key_file");
	enum audit_key_status ks = audit_key_open(ctl->db, key_file, !ctl->audit_key_readonly);
	if (ks != AUDIT_KEY_LOADED && ks != AUDIT_KEY_CREATED &&
	    !(ks == AUDIT_KEY_MISSING && ctl->audit_key_readonly)) {
		fprintf(stderr, "espctl: %s: %s\n", key_file, audit_key_message(ks));
		return 2;
	}
	return 0;
}

static char *read_secret_file(const char *path)
{
	char *s = file_read_all(path, NULL);
	if (!s)
		return NULL;
	s[strcspn(s, "\r\n")] = '\0';
	return s;
}

static char *new_password(void)
{
	/* 12 random bytes: 16 characters of base64url, easy to type from the tsv. */
	return random_token(12);
}

static const char *arg_value(int argc, char **argv, const char *name)
{
	for (int i = 0; i < argc - 1; i++)
		if (strcmp(argv[i], name) == 0)
			return argv[i + 1];
	return NULL;
}

#define CA_ORG "交通运输企业安全生产标准化管理系统"

/* Do a and b name the same existing directory? */
static bool same_directory(const char *a, const char *b)
{
	struct stat sa, sb;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/* espctl ca root --out DIR: the root CA, made where the operator keeps it
 * offline; no store, no data directory involved. */
static int cmd_ca(int argc, char **argv)
{
	const char *out = arg_value(argc, argv, "--out");
	const char *org = arg_value(argc, argv, "--org");
	if (argc < 1 || strcmp(argv[0], "root") != 0 || !out) {
		usage(stderr);
		return 1;
	}
	if (mkdir(out, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "espctl: cannot create %s: %s\n", out, strerror(errno));
		return 2;
	}
	enum ca_status cs = ca_create_root(out, org ? org : CA_ORG);
	if (cs != CA_OK) {
		fprintf(stderr, "espctl: root CA in %s: %s\n", out, ca_status_message(cs));
		return 2;
	}
	printf("root CA created in %s (root.key, root.crt)\n"
	       "sign the issuing CA with: espctl init --root %s\n"
	       "then keep %s offline: espd never needs it\n",
	       out, out, out);
	return 0;
}

/* Records the new CA's fingerprint: espd refuses to run against this store
 * with other CA files. */
static int record_ca(db_conn *c, const esp_ca *ca)
{
	char fp[65], *recorded = NULL;
	if (!deployment_recorded(c))
		return 0;
	ca_fingerprint(ca, fp);
	enum deployment_verdict v = deployment_check(c, "ca_fingerprint", fp, &recorded);
	free(recorded);
	return v == DEPLOYMENT_RECORDED || v == DEPLOYMENT_SAME ? 0 : -1;
}

static int cmd_init(struct ctl *ctl, int argc, char **argv)
{
	const char *dir = config_get(ctl->cfg, "data_dir");
	char *ca_dir = xasprintf("%s/ca", dir);
	/* The issuing certificate, not the directory: a failed init (no root
	 * where --root said) leaves an empty directory and may be run again. */
	char *ca_crt = xasprintf("%s/ca.crt", ca_dir);
	struct stat st;
	bool have_ca = stat(ca_crt, &st) == 0;
	free(ca_crt);
	if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
		fprintf(stderr, "espctl: cannot create %s: %s\n", dir, strerror(errno));
		free(ca_dir);
		return 2;
	}
	int rc = open_store(ctl, true);
	if (rc) {
		free(ca_dir);
		return rc;
	}
	bool have_base = authority_by_name(ctl->db, "交通运输部") != 0;
	if (have_ca && have_base) {
		printf("ESP 数据目录 %s 已经初始化，未做任何更改。(already initialised; nothing "
		       "changed)\n",
		       dir);
		free(ca_dir);
		return 3;
	}
	if (!have_ca && store_has_ca(ctl->db)) {
		fprintf(stderr,
		        "espctl: this store already belongs to a CA (its CRL or certificates were "
		        "signed by it); a second one would sign the shared CRL with another key. "
		        "Copy the CA files of the first data directory into %s instead.\n",
		        ca_dir);
		free(ca_dir);
		return 2;
	}
	if (!have_ca) {
		if (mkdir(ca_dir, 0700) != 0 && errno != EEXIST) {
			fprintf(stderr, "espctl: cannot create %s: %s\n", ca_dir, strerror(errno));
			free(ca_dir);
			return 2;
		}
		const char *root_dir = arg_value(argc, argv, "--root");
		if (root_dir && same_directory(root_dir, ca_dir)) {
			fprintf(stderr, "espctl: --root must be a directory kept offline, not %s\n",
			        ca_dir);
			free(ca_dir);
			return 1;
		}
		enum ca_status cs =
		    root_dir ? ca_create_issuing(ca_dir, root_dir) : ca_create(ca_dir, CA_ORG);
		if (cs == CA_ERR_NOT_FOUND)
			fprintf(
			    stderr,
			    "espctl: no root CA in %s (make one with: espctl ca root --out DIR)\n",
			    root_dir);
		esp_ca *ca = NULL;
		if (cs == CA_OK)
			cs = ca_open(ca_dir, &ca);
		if (cs == CA_OK)
			cs = ca_issue_server_cert(ca, ca_dir, "localhost,127.0.0.1");
		if (cs == CA_OK && record_ca(ctl->db, ca) != 0)
			cs = CA_ERR_INTERNAL;
		ca_free(ca);
		if (cs != CA_OK) {
			fprintf(stderr, "espctl: CA: %s\n", ca_status_message(cs));
			free(ca_dir);
			return 2;
		}
		printf("CA created in %s (issuing CA, server certificate for localhost)\n", ca_dir);
		if (root_dir)
			printf("issuing CA signed by the root in %s: keep that directory offline\n",
			       root_dir);
		else
			printf("demo root CA: its key was not kept (production: espctl ca root "
			       "--out DIR, "
			       "then espctl init --root DIR)\n");
	}
	free(ca_dir);
	if (!have_base) {
		if (seed_base(ctl->db) != DB_OK) {
			fprintf(stderr, "espctl: cannot write base data\n");
			return 2;
		}
		const char *pwfile = arg_value(argc, argv, "--admin-password-file");
		char *pw = pwfile ? read_secret_file(pwfile) : new_password();
		if (!pw) {
			fprintf(stderr, "espctl: cannot read %s\n", pwfile);
			return 2;
		}
		if (account_create(ctl->db, "admin", pw, ROLE_ADMIN, "系统管理员", 0, NULL, 0,
		                   NULL) != DB_OK) {
			fprintf(stderr, "espctl: cannot create the admin account\n");
			free(pw);
			return 2;
		}
		printf("Store initialised: 32 provinces, authority tree, admin account.\n");
		if (!pwfile)
			printf("admin password: %s\n", pw);
		sodium_memzero(pw, strlen(pw));
		free(pw);
	}
	return 0;
}

static int create_user(struct ctl *ctl, enum role role, const char *username, const char *name,
                       const char *authority, const char *province, const char *password,
                       char **password_out)
{
	int64_t auth_id = 0;
	if (role == ROLE_REVIEWER) {
		if (!authority || !(auth_id = authority_by_name(ctl->db, authority))) {
			fprintf(
			    stderr,
			    "espctl: reviewer needs --authority with an existing authority name\n");
			return 1;
		}
	}
	if ((role == ROLE_RA || role == ROLE_TRAINER) &&
	    (!province || !province_exists(ctl->db, province))) {
		fprintf(stderr,
		        "espctl: %s needs --province with a province code (e.g. 11, 35, XJBT)\n",
		        role_name(role));
		return 1;
	}
	char *pw = password ? xstrdup(password) : new_password();
	struct actor admin_tool = {.username = "espctl"};
	enum db_status st = staff_account_create(ctl->db, &admin_tool, username, pw, role,
	                                         name ? name : username, auth_id, province);
	if (st == DB_CONFLICT) {
		fprintf(stderr, "espctl: username '%s' already exists\n", username);
		free(pw);
		return 2;
	}
	if (st != DB_OK) {
		fprintf(stderr, "espctl: cannot create account\n");
		free(pw);
		return 2;
	}
	if (password_out)
		*password_out = pw;
	else
		free(pw);
	return 0;
}

static int cmd_user(struct ctl *ctl, int argc, char **argv)
{
	if (argc < 1) {
		usage(stderr);
		return 1;
	}
	int rc = open_store(ctl, true);
	if (rc)
		return rc;
	if (strcmp(argv[0], "create") == 0) {
		enum role role = role_parse(arg_value(argc, argv, "--role"));
		const char *username = arg_value(argc, argv, "--username");
		if (role == ROLE_NONE || role == ROLE_APPLICANT || !username) {
			fprintf(stderr, "espctl: user create needs --role "
			                "reviewer|ra|trainer|admin and --username\n");
			return 1;
		}
		const char *pwfile = arg_value(argc, argv, "--password-file");
		char *given = pwfile ? read_secret_file(pwfile) : NULL;
		if (pwfile && !given) {
			fprintf(stderr, "espctl: cannot read %s\n", pwfile);
			return 2;
		}
		if (given) {
			struct esp_limits l;
			limits_load(ctl->db, &l);
			struct arena *a = arena_new();
			const char *why =
			    password_policy_check(a, l.password_min_length, username, given);
			if (why)
				fprintf(stderr, "espctl: %s: %s\n", pwfile, why);
			arena_free(a);
			if (why) {
				sodium_memzero(given, strlen(given));
				free(given);
				return 1;
			}
		}
		char *pw = NULL;
		rc = create_user(ctl, role, username, arg_value(argc, argv, "--name"),
		                 arg_value(argc, argv, "--authority"),
		                 arg_value(argc, argv, "--province"), given, &pw);
		if (rc == 0) {
			printf("created %s account %s\n", role_name(role), username);
			if (!given)
				printf("password: %s\n", pw);
			sodium_memzero(pw, strlen(pw));
			free(pw);
		}
		free(given);
		return rc;
	}
	if (strcmp(argv[0], "list") == 0) {
		struct arena *ar = arena_new();
		struct account_entry *list;
		size_t n;
		if (account_list(ctl->db, ar, false, &list, &n) != DB_OK) {
			arena_free(ar);
			return 2;
		}
		printf("username\trole\tstatus\tname\tauthority\tprovince\n");
		for (size_t i = 0; i < n; i++)
			printf("%s\t%s\t%s\t%s\t%s\t%s\n", list[i].username,
			       role_name(list[i].role), list[i].active ? "active" : "disabled",
			       list[i].display_name, list[i].authority_name, list[i].province_code);
		arena_free(ar);
		return 0;
	}
	if (strcmp(argv[0], "reset-password") == 0 && argc == 2) {
		struct actor admin_tool = {.username = "espctl"};
		char *pw = NULL;
		enum db_status st = account_password_reset(ctl->db, &admin_tool, argv[1], &pw);
		if (st == DB_NOT_FOUND) {
			fprintf(stderr, "espctl: no account '%s'\n", argv[1]);
			return 2;
		}
		if (st != DB_OK) {
			fprintf(stderr, "espctl: cannot reset the password of '%s'\n", argv[1]);
			return 2;
		}
		printf("one-time password: %s\n", pw);
		printf(
		    "%s 下次登录后须先修改密码；原有登录已退出。(must change it at the next login; "
		    "its sessions ended)\n",
		    argv[1]);
		sodium_memzero(pw, strlen(pw));
		free(pw);
		return 0;
	}
	if ((strcmp(argv[0], "disable") == 0 || strcmp(argv[0], "enable") == 0) && argc == 2) {
		bool disable = strcmp(argv[0], "disable") == 0;
		enum db_status st =
		    account_set_status(ctl->db, argv[1], disable ? "disabled" : "active");
		if (st == DB_NOT_FOUND) {
			fprintf(stderr, "espctl: no account '%s'\n", argv[1]);
			return 2;
		}
		if (st != DB_OK)
			return 2;
		printf("%s %s\n", argv[1], disable ? "disabled" : "enabled");
		return 0;
	}
	usage(stderr);
	return 1;
}

static int cmd_counts(struct ctl *ctl)
{
	int rc = open_store(ctl, true);
	if (rc)
		return rc;
	int64_t n[COUNT_KINDS];
	if (store_counts(ctl->db, n) != DB_OK)
		return 2;
	for (int k = 0; k < COUNT_KINDS; k++)
		printf("%-24s %lld\n", store_count_name(k), (long long)n[k]);
	return 0;
}

static void audit_usage(FILE *out)
{
	fputs(
	    "用法 Usage: espctl [OPTIONS] audit verify | audit anchor\n\n"
	    "  verify   checks the audit log: every entry's MAC (HMAC-SHA-256 with the key in\n"
	    "           audit_key_file, default <data_dir>/audit.key; entries older than the key\n"
	    "           by their old SHA-256) and link to the one before, then every anchor in\n"
	    "           audit_anchor_file (default <data_dir>/audit-anchors): its CA signature\n"
	    "           (<data_dir>/ca/ca.crt) and that the anchored entry is still there,\n"
	    "           unchanged.  Prints one line (Chinese, then English) naming the first\n"
	    "           entry that fails, or TRUNCATION when the log ends before an anchored\n"
	    "           entry or that entry differs.\n"
	    "  anchor   checks the log as verify does and, when intact, signs its newest entry\n"
	    "           (seq and MAC) with the issuing CA, appends the line to the anchor file\n"
	    "           and prints it.  espd anchors every audit_anchor_hours (default 24).\n\n"
	    "Exit status: 0 intact (anchor written), 1 bad usage, 2 not intact or cannot check.\n",
	    out);
}

/* The line that says what a check found, and the exit status. */
static int audit_report(struct ctl *ctl, enum audit_fault f, const struct audit_check *chk)
{
	const char *anchors = config_get(ctl->cfg, "audit_anchor_file");
	long long seq = chk->seq, head = chk->head;
	switch (f) {
	case AUDIT_INTACT:
		printf("审计日志完整：%lld 条（其中 %lld 条早于审计密钥），%d 个锚点，最后锚定 "
		       "seq=%lld "
		       "(audit chain intact, %lld entries, %lld unkeyed, %d anchors, last anchored "
		       "seq %lld)\n",
		       (long long)chk->entries, (long long)chk->legacy, chk->anchors,
		       (long long)chk->anchor_seq, (long long)chk->entries, (long long)chk->legacy,
		       chk->anchors, (long long)chk->anchor_seq);
		if (!chk->anchors)
			printf(
			    "注意：%s 中还没有锚点，无法发现末尾条目被删除 (note: no anchors yet, "
			    "so "
			    "deleted newest entries cannot be detected; run espctl audit anchor)\n",
			    anchors);
		return 0;
	case AUDIT_BROKEN:
		printf("审计日志链断裂：第一个未通过检查的条目 "
		       "seq=%lld，该条目或其前一条被修改、插入或删除 "
		       "(audit chain broken at seq %lld: it or the entry before was edited, "
		       "inserted or "
		       "deleted)\n",
		       seq, seq);
		return 2;
	case AUDIT_TRUNCATED:
		if (seq > head)
			printf("审计日志被截断 TRUNCATION：%s 第 %d 行的锚点记录了 "
			       "seq=%lld，但日志只到 seq=%lld "
			       "(TRUNCATION: the anchor on line %d vouches for seq %lld, the log "
			       "ends at seq %lld)\n",
			       anchors, chk->anchor_line, seq, head, chk->anchor_line, seq, head);
		else
			printf("审计日志被截断或重写 TRUNCATION：%s 第 %d 行锚定的条目 seq=%lld "
			       "已与锚点不同 "
			       "(TRUNCATION: the entry seq %lld anchored on line %d differs from "
			       "the anchor)\n",
			       anchors, chk->anchor_line, seq, seq, chk->anchor_line);
		return 2;
	case AUDIT_ANCHOR_BAD:
		printf("审计锚点无效：%s 第 %d 行格式错误或CA签名不符 (anchor on line %d is "
		       "malformed or its "
		       "CA signature does not verify)\n",
		       anchors, chk->anchor_line, chk->anchor_line);
		return 2;
	case AUDIT_NO_KEY:
		printf("无法验证：缺少审计密钥 %s，seq=%lld 起的条目带密钥 (cannot check: no audit "
		       "key, "
		       "entries from seq %lld on are keyed)\n",
		       config_get(ctl->cfg, "audit_key_file"), seq, seq);
		return 2;
	case AUDIT_ERROR:
		break;
	}
	fprintf(stderr, "espctl: %s\n", audit_fault_message(f));
	return 2;
}

static int cmd_audit(struct ctl *ctl, int argc, char **argv)
{
	if (argc == 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "help") == 0)) {
		audit_usage(stdout);
		return 0;
	}
	bool verify = argc == 1 && strcmp(argv[0], "verify") == 0;
	bool anchor = argc == 1 && strcmp(argv[0], "anchor") == 0;
	if (!verify && !anchor) {
		audit_usage(stderr);
		return 1;
	}
	/* Checking must not make a key: a missing one is reported instead. */
	ctl->audit_key_readonly = verify;
	int rc = open_store(ctl, true);
	if (rc)
		return rc;
	char *ca_dir = xasprintf("%s/ca", config_get(ctl->cfg, "data_dir"));
	const char *anchors = config_get(ctl->cfg, "audit_anchor_file");
	struct audit_check chk;
	enum audit_fault f;
	if (verify) {
		char *crt_path = xasprintf("%s/ca.crt", ca_dir);
		char *crt = file_read_all(crt_path, NULL);
		if (!crt)
			fprintf(stderr, "espctl: cannot read %s: anchors cannot be checked\n",
			        crt_path);
		f = audit_check_anchored(ctl->db, anchors, crt, &chk);
		free(crt);
		free(crt_path);
	} else {
		esp_ca *ca = NULL;
		if (ca_open(ca_dir, &ca) != CA_OK) {
			fprintf(stderr, "espctl: no CA in %s\n", ca_dir);
			free(ca_dir);
			return 2;
		}
		struct audit_anchor a;
		f = audit_anchor_write(ctl->db, ca, anchors, &chk, &a);
		ca_free(ca);
		if (f == AUDIT_INTACT)
			printf("审计锚点已写入 %s：seq=%lld mac=%s (audit anchor written)\n",
			       anchors, (long long)a.seq, a.mac);
	}
	free(ca_dir);
	return f == AUDIT_INTACT && anchor ? 0 : audit_report(ctl, f, &chk);
}

/* One CSV record (RFC 4180: quotes, doubled quotes, commas and newlines in
 * quotes) from *p; fields are malloc'ed into out. Returns the field count,
 * 0 at the end of input, -1 on a malformed record. */
static int csv_record(const char **p, char **out, int max)
{
	const char *s = *p;
	if (!*s)
		return 0;
	int n = 0;
	for (;;) {
		struct buf f = {0};
		buf_puts(&f, "");
		if (*s == '"') {
			s++;
			for (;;) {
				if (!*s) {
					buf_free(&f);
					return -1;
				}
				if (*s == '"' && s[1] == '"') {
					buf_putc(&f, '"');
					s += 2;
				} else if (*s == '"') {
					s++;
					break;
				} else {
					buf_putc(&f, *s++);
				}
			}
		} else {
			while (*s && *s != ',' && *s != '\n' && *s != '\r')
				buf_putc(&f, *s++);
		}
		if (n < max)
			out[n++] = buf_steal(&f);
		else
			buf_free(&f);
		if (*s == ',') {
			s++;
			continue;
		}
		if (*s == '\r')
			s++;
		if (*s == '\n')
			s++;
		else if (*s) {
			return -1;
		}
		break;
	}
	*p = s;
	return n;
}

static int cmd_directory(struct ctl *ctl, int argc, char **argv)
{
	if (argc != 2 || strcmp(argv[0], "load") != 0) {
		usage(stderr);
		return 1;
	}
	char *text = file_read_all(argv[1], NULL);
	if (!text) {
		fprintf(stderr, "espctl: cannot read %s\n", argv[1]);
		return 2;
	}
	int rc = open_store(ctl, true);
	if (rc) {
		free(text);
		return rc;
	}
	const char *p = text;
	if (strncmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3; /* a BOM, as spreadsheet programs write */
	enum { MAXF = 32 };
	char *head[MAXF] = {0};
	int nh = csv_record(&p, head, MAXF);
	struct actor system_actor = {.username = "espctl", .role = ROLE_ADMIN};
	int line = 1, loaded = 0;
	rc = nh > 0 ? 0 : 1;
	if (nh <= 0)
		fprintf(stderr, "espctl: %s: no header line\n", argv[1]);
	while (rc == 0) {
		char *rec[MAXF] = {0};
		int n = csv_record(&p, rec, MAXF);
		line++;
		if (n == 0)
			break;
		if (n < 0) {
			fprintf(stderr, "espctl: %s:%d: malformed CSV record\n", argv[1], line);
			rc = 1;
			break;
		}
		struct ra_directory_entry e = {0};
		const char *province = NULL;
		struct arena *ar = arena_new();
		for (int i = 0; i < n && i < nh; i++) {
			str_trim(rec[i]);
			enum ra_dir_field f;
			if (strcmp(head[i], "province_code") == 0) {
				province = rec[i];
			} else if (strcmp(head[i], "province") == 0) {
				const char *code;
				if (province_code_of(ctl->db, ar, rec[i], &code) == DB_OK)
					e.province_code = code;
			} else if (ra_directory_field_parse(head[i], &f)) {
				e.field[f] = rec[i];
			}
		}
		if (!province)
			province = e.province_code;
		if (!province || !*province ||
		    ra_directory_save(ctl->db, &system_actor, province, &e) != DB_OK) {
			fprintf(stderr, "espctl: %s:%d: unknown province\n", argv[1], line);
			rc = 1;
		} else {
			loaded++;
		}
		arena_free(ar);
		for (int i = 0; i < MAXF; i++)
			free(rec[i]);
	}
	for (int i = 0; i < MAXF; i++)
		free(head[i]);
	free(text);
	if (rc == 0)
		printf("loaded %d RA directory entries\n", loaded);
	return rc ? 2 : 0;
}

static int cmd_staff_cert(struct ctl *ctl, int argc, char **argv)
{
	const char *user = arg_value(argc, argv, "--username");
	const char *csr_file = arg_value(argc, argv, "--csr");
	const char *out = arg_value(argc, argv, "--out");
	if (!user || !csr_file) {
		usage(stderr);
		return 1;
	}
	char *csr = file_read_all(csr_file, NULL);
	if (!csr) {
		fprintf(stderr, "espctl: cannot read %s\n", csr_file);
		return 2;
	}
	int rc = open_store(ctl, true);
	char *ca_dir = xasprintf("%s/ca", config_get(ctl->cfg, "data_dir"));
	esp_ca *ca = NULL;
	if (!rc && ca_open(ca_dir, &ca) != CA_OK) {
		fprintf(stderr, "espctl: no CA in %s\n", ca_dir);
		rc = 2;
	}
	if (!rc) {
		/* The certificate names espd's OCSP responder, as espd's would. */
		char *ocsp = ocsp_responder_url(config_get(ctl->cfg, "ocsp_url"),
		                                config_get(ctl->cfg, "public_url"));
		if (!ca_set_ocsp_url(ca, ocsp)) {
			fprintf(stderr, "espctl: ocsp_url: '%s' is not a URL\n", ocsp);
			rc = 1;
		}
		free(ocsp);
	}
	char *serial = NULL, *pem = NULL;
	if (!rc) {
		struct esp_limits l;
		limits_load(ctl->db, &l);
		char *crl = xasprintf("%s/ca/crl", config_get(ctl->cfg, "public_url"));
		enum db_status st = staff_cert_issue(ctl->db, ca, user, csr, l.cert_validity_days,
		                                     crl, &serial, &pem);
		free(crl);
		if (st == DB_NOT_FOUND) {
			fprintf(stderr, "espctl: no staff account '%s'\n", user);
			rc = 2;
		} else if (st != DB_OK) {
			fprintf(stderr, "espctl: the request was refused (bad CSR or weak key)\n");
			rc = 2;
		}
	}
	if (!rc) {
		if (out && file_write_atomic(out, pem, strlen(pem), 0644) != 0) {
			fprintf(stderr, "espctl: cannot write %s\n", out);
			rc = 2;
		} else if (!out) {
			fputs(pem, stdout);
		}
		if (!rc)
			fprintf(stderr, "issued certificate %s for %s\n", serial, user);
	}
	free(serial);
	free(pem);
	ca_free(ca);
	free(ca_dir);
	free(csr);
	return rc;
}

static int cert_revoke_cmd(struct ctl *ctl, const char *serial, const char *reason_s)
{
	int reason = crl_reason_parse(reason_s);
	if (reason < 0) {
		fprintf(stderr,
		        "espctl: unknown reason '%s' (keyCompromise, affiliationChanged, "
		        "superseded, cessationOfOperation, unspecified)\n",
		        reason_s);
		return 1;
	}
	char *ca_dir = xasprintf("%s/ca", config_get(ctl->cfg, "data_dir"));
	esp_ca *ca = NULL;
	int rc = 0;
	if (ca_open(ca_dir, &ca) != CA_OK) {
		fprintf(stderr, "espctl: no CA in %s\n", ca_dir);
		rc = 2;
	}
	free(ca_dir);
	struct actor admin_tool = {.username = "espctl", .role = ROLE_ADMIN};
	enum db_status st = rc ? DB_ERROR
	                       : cert_revoke(ctl->db, ca, &admin_tool, serial, reason,
	                                     (int)config_get_long(ctl->cfg, "crl_hours"));
	ca_free(ca);
	if (rc)
		return rc;
	if (st == DB_NOT_FOUND)
		fprintf(stderr, "espctl: no certificate with serial '%s'\n", serial);
	else if (st == DB_CONFLICT)
		fprintf(stderr, "espctl: certificate %s is already revoked\n", serial);
	else if (st != DB_OK)
		fprintf(stderr, "espctl: revocation failed\n");
	else
		printf("revoked certificate %s (%s); CRL re-signed\n", serial, reason_s);
	return st == DB_OK ? 0 : 2;
}

/* crl sign: re-signs the CRL now (in one transaction with its number
 * locked) and prints the number it carries. */
static int cmd_crl(struct ctl *ctl, int argc, char **argv)
{
	if (argc != 1 || strcmp(argv[0], "sign") != 0) {
		usage(stderr);
		return 1;
	}
	int rc = open_store(ctl, true);
	if (rc)
		return rc;
	char *ca_dir = xasprintf("%s/ca", config_get(ctl->cfg, "data_dir"));
	esp_ca *ca = NULL;
	if (ca_open(ca_dir, &ca) != CA_OK) {
		fprintf(stderr, "espctl: no CA in %s\n", ca_dir);
		free(ca_dir);
		return 2;
	}
	free(ca_dir);
	int64_t number = 0;
	enum db_status st =
	    crl_refresh(ctl->db, ca, (int)config_get_long(ctl->cfg, "crl_hours"), true, &number);
	ca_free(ca);
	if (st != DB_OK) {
		fprintf(stderr, "espctl: the CRL could not be signed\n");
		return 2;
	}
	printf("CRL %lld signed\n", (long long)number);
	return 0;
}

static int cmd_cert(struct ctl *ctl, int argc, char **argv)
{
	bool list = argc == 1 && strcmp(argv[0], "list") == 0;
	bool revoke = argc == 3 && strcmp(argv[0], "revoke") == 0;
	if (!list && !revoke) {
		usage(stderr);
		return 1;
	}
	int rc = open_store(ctl, true);
	if (rc)
		return rc;
	if (revoke)
		return cert_revoke_cmd(ctl, argv[1], argv[2]);
	struct arena *ar = arena_new();
	struct certificate *rows;
	size_t n;
	if (cert_list_all(ctl->db, ar, 1000, &rows, &n) != DB_OK) {
		fprintf(stderr, "espctl: the certificates could not be read\n");
		arena_free(ar);
		return 1;
	}
	printf("serial\tkind\tholder\tusername\tstatus\texpires\n");
	int64_t now = time_now();
	for (size_t i = 0; i < n; i++) {
		const struct certificate *ce = &rows[i];
		bool staff = *ce->staff_username != '\0';
		printf("%s\t%s\t%s\t%s\t%s\t%s\n", ce->serial, staff ? "staff" : "token",
		       ce->holder, ce->staff_username,
		       ce->revoked           ? "已吊销"
		       : ce->not_after < now ? "已过期"
		                             : "有效",
		       time_date(ar, ce->not_after));
	}
	arena_free(ar);
	return 0;
}

/* Demo accounts: reviewers at every level, RA and trainers of two provinces. */
static const struct {
	enum role role;
	const char *username, *name, *authority, *province;
} demo[] = {
    {ROLE_REVIEWER, "mot_reviewer", "交通运输部初审员", "交通运输部", ""},
    {ROLE_REVIEWER, "bj_reviewer", "北京市初审员", "北京市交通委员会", "11"},
    {ROLE_REVIEWER, "fj_reviewer", "福建省初审员", "福建省交通运输厅", "35"},
    {ROLE_REVIEWER, "fz_reviewer", "福州市初审员", "福州市交通运输局", "35"},
    {ROLE_RA, "bj_ra", "北京市数字证书注册机构", NULL, "11"},
    {ROLE_RA, "fj_ra", "福建省数字证书注册机构", NULL, "35"},
    {ROLE_TRAINER, "bj_trainer", "北京市培训机构", NULL, "11"},
    {ROLE_TRAINER, "fj_trainer", "福建省培训机构", NULL, "35"},
};

static int cmd_demo(struct ctl *ctl)
{
	const char *dir = config_get(ctl->cfg, "data_dir");
	char *tsv = xasprintf("%s/demo-accounts.tsv", dir);
	int rc = open_store(ctl, true);
	if (rc) {
		free(tsv);
		return rc;
	}
	enum db_status found = account_find(ctl->db, demo[0].username, NULL);
	if (found != DB_OK && found != DB_NOT_FOUND) {
		free(tsv);
		return 2;
	}
	if (found == DB_OK) {
		char *old = file_read_all(tsv, NULL);
		if (old)
			fputs(old, stdout);
		printf("demo accounts already exist (%s); nothing changed\n", tsv);
		free(old);
		free(tsv);
		return 3;
	}
	/* A city authority under 福建 so that the demo has three levels. */
	if (!authority_by_name(ctl->db, "福州市交通运输局")) {
		int64_t fj = authority_by_name(ctl->db, "福建省交通运输厅");
		if (!fj || authority_insert(ctl->db, fj, "福州市交通运输局", "35", "city", NULL) !=
		               DB_OK) {
			fprintf(stderr, "espctl: run espctl init first\n");
			free(tsv);
			return 2;
		}
	}
	struct buf out = {0};
	buf_puts(&out, "role\torganisation\tprovince\tusername\tpassword\n");
	char *admin_pw = new_password();
	/* The admin's password from init is not kept anywhere: the demo sets a
	 * new one so that the table is complete. */
	struct actor admin_tool = {.username = "espctl"};
	if (account_password_set(ctl->db, &admin_tool, "admin", admin_pw, false,
	                         "account.password_set") != DB_OK) {
		fprintf(stderr, "espctl: cannot set the admin's password\n");
		free(admin_pw);
		buf_free(&out);
		free(tsv);
		return 2;
	}
	buf_printf(&out, "admin\t系统管理员\t\tadmin\t%s\n", admin_pw);
	free(admin_pw);
	for (size_t i = 0; i < sizeof demo / sizeof demo[0]; i++) {
		char *pw = NULL;
		rc = create_user(ctl, demo[i].role, demo[i].username, demo[i].name,
		                 demo[i].authority, demo[i].province, NULL, &pw);
		if (rc) {
			buf_free(&out);
			free(tsv);
			return rc;
		}
		const char *org = demo[i].authority ? demo[i].authority : demo[i].name;
		struct arena *ar = arena_new();
		const char *prov = NULL;
		if (*demo[i].province)
			province_name_of(ctl->db, ar, demo[i].province, &prov);
		buf_printf(&out, "%s\t%s\t%s\t%s\t%s\n", role_name(demo[i].role), org,
		           prov ? prov : "", demo[i].username, pw);
		arena_free(ar);
		free(pw);
	}
	if (file_write_atomic(tsv, out.data, out.len, 0600) != 0) {
		fprintf(stderr, "espctl: cannot write %s\n", tsv);
		buf_free(&out);
		free(tsv);
		return 2;
	}
	fputs(out.data, stdout);
	printf("(written to %s)\n", tsv);
	buf_free(&out);
	free(tsv);
	return 0;
}

static void deployment_usage(FILE *out)
{
	fputs("用法 Usage: espctl [OPTIONS] deployment show\n"
	      "       espctl [OPTIONS] deployment set-public-url URL\n\n"
	      "Every espd on one store must run with the CA and the public_url the store records\n"
	      "(table deployment); espd refuses to start otherwise. To move a deployment to a new\n"
	      "address: stop every espd, run set-public-url with the new address (http:// or\n"
	      "https://, no path, query or final slash), change public_url in every espd's\n"
	      "configuration, start them again. The change is recorded in the audit log\n"
	      "(deployment.set). Certificates issued before keep the old address in their CRL\n"
	      "and OCSP fields: keep it reachable (a redirect) until they expire.\n\n"
	      "Exit status: 0 recorded, 1 bad usage or bad URL, 2 store failure, 3 the store\n"
	      "records this URL already.\n",
	      out);
}

/* An absolute http(s) URL without path, query, fragment or final slash:
 * espd appends paths to it ("<public_url>/ocsp") and prints it in
 * certificates, so anything else would make broken addresses. */
static bool public_url_ok(const char *u)
{
	size_t skip = strncmp(u, "http://", 7) == 0 ? 7 : strncmp(u, "https://", 8) == 0 ? 8 : 0;
	if (!skip || !u[skip] || strlen(u) > 200)
		return false;
	for (const unsigned char *p = (const unsigned char *)u + skip; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f || strchr("/?#\\\"<>`{}|^@", *p))
			return false;
	return true;
}

static int cmd_deployment(struct ctl *ctl, int argc, char **argv)
{
	if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "help") == 0)) {
		deployment_usage(stdout);
		return 0;
	}
	bool show = argc == 1 && strcmp(argv[0], "show") == 0;
	bool set = argc == 2 && strcmp(argv[0], "set-public-url") == 0;
	if (!show && !set) {
		deployment_usage(stderr);
		return 1;
	}
	if (set && !public_url_ok(argv[1])) {
		fprintf(stderr,
		        "espctl: public_url '%s' 不可用: 需要 http:// 或 https:// 开头的地址, "
		        "不含路径、查询或结尾的斜杠 (e.g. https://esp.example.cn)\n",
		        argv[1]);
		return 1;
	}
	int rc = open_store(ctl, true);
	if (rc)
		return rc;
	if (show) {
		static const char *const names[] = {"ca_fingerprint", "public_url"};
		for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
			char *v = deployment_get(ctl->db, names[k]);
			printf("%s\t%s\n", names[k], v ? v : "(not recorded)");
			free(v);
		}
		return 0;
	}
	struct actor admin_tool = {.username = "espctl", .role = ROLE_ADMIN};
	char *before = NULL;
	bool same = false;
	enum db_status st =
	    deployment_set(ctl->db, &admin_tool, "public_url", argv[1], &before, &same);
	if (st != DB_OK) {
		fprintf(stderr, "espctl: the deployment record could not be changed\n");
		free(before);
		return 2;
	}
	if (same) {
		fprintf(stderr, "espctl: the store records public_url %s already\n", argv[1]);
		free(before);
		return 3;
	}
	printf("public_url %s recorded (was %s); start every espd with --public_url=%s\n", argv[1],
	       before ? before : "not recorded", argv[1]);
	free(before);
	return 0;
}

int main(int argc, char **argv)
{
	struct ctl ctl = {.cfg = config_new()};
	const char *config_file = NULL;
	int i = 1;
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			config_file = argv[++i];
	}
	/* The file first, the command line over it, as espd does. Without --config a
	 * package's espctl reads the same /etc/esp/esp.conf as its espd. */
	const char *err = NULL;
	if (config_load_file(ctl.cfg, config_file ? config_file : ESP_CONFIG_FILE,
	                     config_file != NULL, &err) != 0) {
		fprintf(stderr, "espctl: %s\n", err);
		return 1;
	}
	for (int k = 1; k < i; k++) {
		if (strcmp(argv[k], "--config") == 0) {
			k++;
			continue;
		}
		if (config_set_arg(ctl.cfg, argv[k]) != 0) {
			fprintf(stderr, "espctl: unknown option '%s' (see --help)\n", argv[k]);
			return 1;
		}
	}
	config_finish(ctl.cfg);
	if (i >= argc) {
		usage(stderr);
		return 1;
	}
	if (sodium_init() < 0)
		return 2;
	password_set_cost(config_get(ctl.cfg, "password_hash"));
	const char *cmd = argv[i++];
	int rc;
	if (strcmp(cmd, "ca") == 0)
		rc = cmd_ca(argc - i, argv + i);
	else if (strcmp(cmd, "init") == 0)
		rc = cmd_init(&ctl, argc - i, argv + i);
	else if (strcmp(cmd, "demo") == 0)
		rc = cmd_demo(&ctl);
	else if (strcmp(cmd, "user") == 0)
		rc = cmd_user(&ctl, argc - i, argv + i);
	else if (strcmp(cmd, "directory") == 0)
		rc = cmd_directory(&ctl, argc - i, argv + i);
	else if (strcmp(cmd, "staff-cert") == 0)
		rc = cmd_staff_cert(&ctl, argc - i, argv + i);
	else if (strcmp(cmd, "cert") == 0)
		rc = cmd_cert(&ctl, argc - i, argv + i);
	else if (strcmp(cmd, "crl") == 0)
		rc = cmd_crl(&ctl, argc - i, argv + i);
	else if (strcmp(cmd, "counts") == 0)
		rc = cmd_counts(&ctl);
	else if (strcmp(cmd, "deployment") == 0)
		rc = cmd_deployment(&ctl, argc - i, argv + i);
	else if (strcmp(cmd, "audit") == 0)
		rc = cmd_audit(&ctl, argc - i, argv + i);
	else if (strcmp(cmd, "backup") == 0)
		rc = cmd_backup(ctl.cfg, argc - i, argv + i);
	else if (strcmp(cmd, "restore") == 0)
		rc = cmd_restore(ctl.cfg, argc - i, argv + i);
	else if (strcmp(cmd, "help") == 0) {
		usage(stdout);
		rc = 0;
	} else {
		fprintf(stderr, "espctl: unknown command '%s' (see --help)\n", cmd);
		rc = 1;
	}
	if (ctl.db)
		db_release(ctl.pool, ctl.db);
	db_pool_close(ctl.pool);
	audit_key_forget();
	config_free(ctl.cfg);
	return rc;
}
