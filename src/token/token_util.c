/*
 * token_util.c - small helpers of the token library: where its messages go
 * (stderr for esp-token, a dialog for the desktop window), hex, base64,
 * UTF-8 length and wiping.
 */
#include "token.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

static tok_msg_fn sink;
static void *sink_data;

void tok_set_msg_sink(tok_msg_fn fn, void *data)
{
	sink = fn;
	sink_data = data;
}

/*
 * The default sink writes one message line in a single write: stderr is
 * unbuffered, and a prefix written on its own ("esp-token: 错误：") looks
 * like a prompt on a terminal.
 */
static void deliver(enum tok_msg_level level, const char *msg)
{
	if (sink) {
		sink(level, msg, sink_data);
		return;
	}
	const char *prefix = level == TOK_MSG_ERROR  ? "esp-token: 错误："
	                     : level == TOK_MSG_WARN ? "esp-token: 警告："
	                                             : "  ";
	size_t len = strlen(prefix) + strlen(msg) + 2;
	char *line = malloc(len);
	if (line) {
		snprintf(line, len, "%s%s\n", prefix, msg);
		fputs(line, stderr);
		free(line);
	} else {
		fprintf(stderr, "%s%s\n", prefix, msg);
	}
}

static void message(enum tok_msg_level level, const char *fmt, va_list ap)
{
	char small[1024];
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	char *msg = small;
	if (n >= (int)sizeof small) {
		char *big = malloc((size_t)n + 1);
		if (big) {
			vsnprintf(big, (size_t)n + 1, fmt, ap2);
			msg = big;
		}
	}
	va_end(ap2);
	deliver(level, n < 0 ? "" : msg);
	if (msg != small)
		free(msg);
}

void tok_err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	message(TOK_MSG_ERROR, fmt, ap);
	va_end(ap);
}

void tok_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	message(TOK_MSG_WARN, fmt, ap);
	va_end(ap);
}

void tok_note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	message(TOK_MSG_NOTE, fmt, ap);
	va_end(ap);
}

size_t tok_utf8_len(const char *s)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p & 0xc0) != 0x80)
			n++;
	return n;
}

void tok_fputs_clean(const char *s, FILE *fp)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			fputc('?', fp);
		else
			fputc(*p, fp);
	}
}

void tok_wipe(void *p, size_t n)
{
	if (p && n)
		OPENSSL_cleanse(p, n);
}

void *tok_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fputs("esp-token: 内存不足 (out of memory)\n", stderr);
		abort();
	}
	return p;
}

char *tok_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = tok_xmalloc(n);
	memcpy(p, s, n);
	return p;
}

char *tok_hex(const unsigned char *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char *s = tok_xmalloc(2 * n + 1);
	for (size_t i = 0; i < n; i++) {
		s[2 * i] = digits[p[i] >> 4];
		s[2 * i + 1] = digits[p[i] & 15];
	}
	s[2 * n] = '\0';
	return s;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int tok_unhex(const char *hex, unsigned char *out, size_t max, size_t *len)
{
	size_t n = strlen(hex);
	if (n == 0 || n % 2 != 0 || n / 2 > max)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	*len = n / 2;
	return 0;
}

char *tok_base64(const unsigned char *p, size_t n)
{
	if (n > INT32_MAX / 2)
		return NULL;
	size_t cap = 4 * ((n + 2) / 3) + 1;
	char *s = tok_xmalloc(cap);
	int w = EVP_EncodeBlock((unsigned char *)s, p, (int)n);
	if (w < 0) {
		free(s);
		return NULL;
	}
	s[w] = '\0';
	return s;
}

unsigned char *tok_unbase64(const char *s, size_t *len)
{
	size_t n = strlen(s);
	if (n == 0 || n % 4 != 0 || n > INT32_MAX / 2)
		return NULL;
	unsigned char *out = tok_xmalloc(n / 4 * 3 + 1);
	int w = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
	if (w < 0) {
		free(out);
		return NULL;
	}
	/* EVP_DecodeBlock counts the '=' padding as zero bytes. */
	size_t pad = 0;
	if (s[n - 1] == '=')
		pad++;
	if (s[n - 2] == '=')
		pad++;
	*len = (size_t)w - pad;
	return out;
}

X509 *tok_x509_from_pem(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	return x;
}
