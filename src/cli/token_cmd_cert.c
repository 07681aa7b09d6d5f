/*
 * token_cmd_cert.c - the read-only commands of esp-token: `list`,
 * `show-cert` and `export-cert`, and the certificate summary they share.
 * None of them needs the PIN (certificates are public objects).
 */
#include "esp_token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/pem.h>

static void print_name(BIO *b, const X509_NAME *n)
{
	X509_NAME_print_ex(b, n, 0,
	                   (XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) | ASN1_STRFLGS_UTF8_CONVERT);
}

void tok_print_cert_summary(X509 *x, const char *indent)
{
	BIO *b = BIO_new_fp(stdout, BIO_NOCLOSE);
	if (!b)
		return;
	BIO_printf(b, "%s主题 (subject)：", indent);
	print_name(b, X509_get_subject_name(x));
	BIO_printf(b, "\n%s颁发者 (issuer)：", indent);
	print_name(b, X509_get_issuer_name(x));
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	BIO_printf(b, "\n%s序列号 (serial)：%s\n", indent, hex ? hex : "?");
	OPENSSL_free(hex);
	BN_free(bn);
	BIO_printf(b, "%s有效期起 (notBefore)：", indent);
	ASN1_TIME_print(b, X509_get0_notBefore(x));
	BIO_printf(b, "\n%s有效期至 (notAfter)：", indent);
	ASN1_TIME_print(b, X509_get0_notAfter(x));
	int days = tok_days_left(x);
	if (days < 0)
		BIO_printf(b, "\n%s剩余天数：证书已过期 (expired)\n", indent);
	else
		BIO_printf(b, "\n%s剩余天数 (days left)：%d\n", indent, days);
	if (days >= 0 && days <= TOK_EXPIRY_WARN_DAYS)
		BIO_printf(b, "%s警告：证书将在%d天后过期\n", indent, days);
	BIO_free(b);
}

static void print_token_flags(CK_FLAGS fl)
{
	printf("  状态 (flags)：");
	bool any = false;
	if (fl & CKF_USER_PIN_LOCKED) {
		printf("PIN码已锁定 (user PIN locked) ");
		any = true;
	} else if (fl & CKF_USER_PIN_FINAL_TRY) {
		printf("PIN码只剩最后一次机会 (final try) ");
		any = true;
	} else if (fl & CKF_USER_PIN_COUNT_LOW) {
		printf("PIN码剩余重试次数不多 (count low) ");
		any = true;
	}
	if (!(fl & CKF_USER_PIN_INITIALIZED)) {
		printf("用户PIN码未设置 (user PIN not initialized) ");
		any = true;
	}
	if (fl & CKF_USER_PIN_TO_BE_CHANGED) {
		printf("PIN码需要修改 (to be changed) ");
		any = true;
	}
	if (fl & CKF_SO_PIN_LOCKED) {
		printf("管理员PIN码已锁定 (SO PIN locked) ");
		any = true;
	}
	if (fl & CKF_WRITE_PROTECTED) {
		printf("写保护 (write protected) ");
		any = true;
	}
	printf("%s\n", any ? "" : "正常 (ok)");
}

static int list_one(struct tok_ctx *t, PKCS11_SLOT *s, unsigned int n)
{
	t->slot = s;
	t->slot_id = PKCS11_get_slotid_from_slot(s);
	CK_TOKEN_INFO info;
	int rc = tok_token_info(t, t->slot_id, &info);
	if (rc != TOK_EXIT_OK)
		return rc;
	char *label = tok_p11_string(info.label, sizeof info.label);
	char *manu = tok_p11_string(info.manufacturerID, sizeof info.manufacturerID);
	char *model = tok_p11_string(info.model, sizeof info.model);
	char *serial = tok_p11_string(info.serialNumber, sizeof info.serialNumber);
	printf("证书U盘 %u：\n  标签 (label)：", n);
	tok_fputs_clean(label, stdout);
	printf("\n  制造商 (manufacturer)：");
	tok_fputs_clean(manu, stdout);
	printf("\n  型号 (model)：");
	tok_fputs_clean(model, stdout);
	printf("\n  序列号 (serial)：");
	tok_fputs_clean(serial, stdout);
	printf("\n");
	free(label);
	free(manu);
	free(model);
	free(serial);
	print_token_flags(info.flags);

	struct tok_cert *c;
	size_t nc;
	rc = tok_open_session(t, false);
	if (rc != TOK_EXIT_OK)
		return rc;
	rc = tok_find_certs(t, &c, &nc);
	t->f->C_CloseSession(t->h);
	t->h = CK_INVALID_HANDLE;
	if (rc != TOK_EXIT_OK)
		return rc;
	if (nc == 0)
		printf("  证书：无\n");
	for (size_t i = 0; i < nc; i++) {
		char *id = tok_hex(c[i].id, c[i].id_len);
		printf("  证书 %zu%s：标签 ", i + 1, c[i].category == 2 ? "（CA证书）" : "");
		tok_fputs_clean(c[i].label[0] ? c[i].label : "(无)", stdout);
		printf("  CKA_ID %s\n", c[i].id_len ? id : "(无)");
		free(id);
		fflush(stdout);
		tok_print_cert_summary(c[i].x509, "    ");
	}
	tok_certs_free(c, nc);
	return TOK_EXIT_OK;
}

int tok_cmd_list(const struct tok_opts *o)
{
	struct tok_ctx t;
	int rc = tok_load(&t, o->module);
	if (rc != TOK_EXIT_OK)
		return rc;
	unsigned int shown = 0;
	if (o->token) {
		rc = tok_select(&t, o->token);
		if (rc == TOK_EXIT_OK) {
			rc = list_one(&t, t.slot, 1);
			shown = 1;
		}
	} else {
		for (unsigned int i = 0; i < t.nslots && rc == TOK_EXIT_OK; i++) {
			PKCS11_SLOT *s = &t.slots[i];
			if (!s->token || !s->token->initialized)
				continue;
			if (shown)
				printf("\n");
			rc = list_one(&t, s, ++shown);
		}
		if (rc == TOK_EXIT_OK && shown == 0)
			printf("没有找到证书U盘 (no token)\n");
	}
	fflush(stdout);
	tok_unload(&t);
	return rc;
}

/* Load, select the token and choose the certificate for show/export. */
static int open_chosen_cert(const struct tok_opts *o, struct tok_ctx *t, struct tok_cert **c,
                            size_t *n, int *pick)
{
	*c = NULL;
	*n = 0;
	int rc = tok_load(t, o->module);
	if (rc != TOK_EXIT_OK)
		return rc;
	rc = tok_select(t, o->token);
	if (rc == TOK_EXIT_OK)
		rc = tok_find_certs(t, c, n);
	if (rc == TOK_EXIT_OK) {
		*pick = tok_choose_cert(*c, *n, o->id_hex, o->label);
		if (*pick < 0)
			rc = *pick == -2 ? TOK_EXIT_USAGE : TOK_EXIT_TOKEN;
	}
	if (rc != TOK_EXIT_OK) {
		tok_certs_free(*c, *n);
		*c = NULL;
		tok_unload(t);
	}
	return rc;
}

int tok_cmd_show_cert(const struct tok_opts *o)
{
	struct tok_ctx t;
	struct tok_cert *c;
	size_t n;
	int pick;
	int rc = open_chosen_cert(o, &t, &c, &n, &pick);
	if (rc != TOK_EXIT_OK)
		return rc;
	char *id = tok_hex(c[pick].id, c[pick].id_len);
	printf("标签 (label)：");
	tok_fputs_clean(c[pick].label, stdout);
	printf("\nCKA_ID：%s\n", c[pick].id_len ? id : "(无)");
	free(id);
	fflush(stdout);
	tok_print_cert_summary(c[pick].x509, "");
	PEM_write_X509(stdout, c[pick].x509);
	fflush(stdout);
	tok_certs_free(c, n);
	tok_unload(&t);
	return TOK_EXIT_OK;
}

int tok_cmd_export_cert(const struct tok_opts *o)
{
	if (!o->out) {
		tok_err("export-cert 需要 --out 文件");
		return TOK_EXIT_USAGE;
	}
	struct tok_ctx t;
	struct tok_cert *c;
	size_t n;
	int pick;
	int rc = open_chosen_cert(o, &t, &c, &n, &pick);
	if (rc != TOK_EXIT_OK)
		return rc;
	rc = tok_write_cert(c[pick].x509, o->der, o->out);
	if (rc == TOK_EXIT_OK)
		printf("已将证书导出到 %s（%s 格式）\n", o->out, o->der ? "DER" : "PEM");
	tok_certs_free(c, n);
	tok_unload(&t);
	return rc;
}
