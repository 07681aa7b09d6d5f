/*
 * token_info.c - what the user sees of the inserted certificate keys and of
 * their certificates: label, serial and manufacturer of each token; holder,
 * 证书序列号, issuer, validity and days left of each certificate; and the
 * certificate written to a file (PEM or DER).  Certificates are public
 * objects: nothing here needs the PIN.
 */
#include "token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

int tok_list_tokens(struct tok_ctx *t, struct tok_info **out, size_t *n)
{
	*out = calloc(t->nslots ? t->nslots : 1, sizeof **out);
	*n = 0;
	if (!*out)
		abort();
	for (unsigned int i = 0; i < t->nslots; i++) {
		PKCS11_SLOT *s = &t->slots[i];
		if (!s->token || !s->token->initialized)
			continue;
		CK_SLOT_ID id = PKCS11_get_slotid_from_slot(s);
		CK_TOKEN_INFO info;
		if (t->f->C_GetTokenInfo(id, &info) != CKR_OK)
			continue; /* pulled out between the two calls */
		struct tok_info *v = &(*out)[(*n)++];
		v->slot_id = id;
		v->label = tok_p11_string(info.label, sizeof info.label);
		v->manufacturer = tok_p11_string(info.manufacturerID, sizeof info.manufacturerID);
		v->model = tok_p11_string(info.model, sizeof info.model);
		v->serial = tok_p11_string(info.serialNumber, sizeof info.serialNumber);
		v->flags = info.flags;
	}
	return TOK_EXIT_OK;
}

void tok_infos_free(struct tok_info *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].label);
		free(v[i].manufacturer);
		free(v[i].model);
		free(v[i].serial);
	}
	free(v);
}

int tok_days_left(X509 *x)
{
	int days = 0, secs = 0;
	if (!ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)))
		return 0;
	if (days < 0 || (days == 0 && secs < 0))
		return -1;
	return days;
}

static char *name_text(const X509_NAME *n)
{
	BIO *b = BIO_new(BIO_s_mem());
	if (!b)
		abort();
	X509_NAME_print_ex(b, n, 0,
	                   (XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) | ASN1_STRFLGS_UTF8_CONVERT);
	char *data = NULL;
	long len = BIO_get_mem_data(b, &data);
	char *s = tok_xmalloc((size_t)len + 1);
	memcpy(s, data, (size_t)len);
	s[len] = '\0';
	BIO_free(b);
	return s;
}

/* The first entry of this kind as UTF-8, or NULL. */
static char *name_entry(const X509_NAME *n, int nid)
{
	int i = X509_NAME_get_index_by_NID(n, nid, -1);
	if (i < 0)
		return NULL;
	unsigned char *utf8 = NULL;
	int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i)));
	if (len < 0)
		return NULL;
	char *s = tok_xmalloc((size_t)len + 1);
	memcpy(s, utf8, (size_t)len);
	s[len] = '\0';
	OPENSSL_free(utf8);
	return s;
}

static char *time_text(const ASN1_TIME *t)
{
	struct tm tm;
	char buf[32];
	if (!ASN1_TIME_to_tm(t, &tm) || strftime(buf, sizeof buf, "%Y-%m-%d", &tm) == 0)
		return tok_xstrdup("?");
	return tok_xstrdup(buf);
}

void tok_cert_view_fill(X509 *x, struct tok_cert_view *v)
{
	memset(v, 0, sizeof *v);
	const X509_NAME *subj = X509_get_subject_name(x);
	char *o = name_entry(subj, NID_organizationName);
	char *cn = name_entry(subj, NID_commonName);
	if (o && cn && strcmp(o, cn) != 0) {
		size_t len = strlen(o) + strlen(cn) + 4;
		v->holder = tok_xmalloc(len);
		snprintf(v->holder, len, "%s / %s", o, cn);
	} else if (cn || o) {
		v->holder = tok_xstrdup(cn ? cn : o);
	}
	free(o);
	free(cn);
	v->subject = name_text(subj);
	if (!v->holder)
		v->holder = tok_xstrdup(v->subject);
	v->issuer = name_entry(X509_get_issuer_name(x), NID_commonName);
	if (!v->issuer)
		v->issuer = name_text(X509_get_issuer_name(x));
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	v->serial = tok_xstrdup(hex ? hex : "?");
	OPENSSL_free(hex);
	BN_free(bn);
	v->not_before = time_text(X509_get0_notBefore(x));
	v->not_after = time_text(X509_get0_notAfter(x));
	v->days_left = tok_days_left(x);
	v->expiring = v->days_left >= 0 && v->days_left <= TOK_EXPIRY_WARN_DAYS;
	v->ca = X509_check_ca(x) != 0;
}

void tok_cert_view_clear(struct tok_cert_view *v)
{
	free(v->holder);
	free(v->subject);
	free(v->issuer);
	free(v->serial);
	free(v->not_before);
	free(v->not_after);
	memset(v, 0, sizeof *v);
}

int tok_write_cert(X509 *x, bool der, const char *path)
{
	BIO *b = BIO_new(BIO_s_mem());
	int ok = b && (der ? i2d_X509_bio(b, x) : PEM_write_bio_X509(b, x));
	char *data = NULL;
	long len = ok ? BIO_get_mem_data(b, &data) : 0;
	int rc = TOK_EXIT_USAGE;
	int fd = ok ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
	if (!ok) {
		tok_err("无法编码证书");
		rc = TOK_EXIT_TOKEN;
	} else if (fd < 0) {
		tok_err("无法写入 %s：%s", path, strerror(errno));
	} else {
		ssize_t w = write(fd, data, (size_t)len);
		if (close(fd) != 0 || w != len)
			tok_err("写入 %s 失败", path);
		else
			rc = TOK_EXIT_OK;
	}
	BIO_free(b);
	return rc;
}
