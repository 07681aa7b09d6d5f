/*
 * token_util.c - small helpers of esp-token: messages on stderr, reading
 * PINs and secrets (file or terminal without echo), hex and base64, wiping.
 */
#include "esp_token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

/*
 * One message line in a single write: stderr is unbuffered, and a prefix
 * written on its own ("esp-token: 错误：") looks like a prompt on a terminal.
 */
static void message_line(const char *prefix, const char *fmt, va_list ap)
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
	size_t len = strlen(prefix) + strlen(msg) + 2;
	char *line = malloc(len);
	if (line) {
		snprintf(line, len, "%s%s\n", prefix, n < 0 ? "" : msg);
		fputs(line, stderr);
		free(line);
	} else {
		fprintf(stderr, "%s%s\n", prefix, n < 0 ? "" : msg);
	}
	if (msg != small)
		free(msg);
}

void tok_err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	message_line("esp-token: 错误：", fmt, ap);
	va_end(ap);
}

void tok_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	message_line("esp-token: 警告：", fmt, ap);
	va_end(ap);
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

static void strip_eol(char *buf)
{
	size_t n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
}

int tok_read_first_line(const char *path, char *buf, size_t size, const char *what)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		tok_err("无法读取%s文件 %s：%s", what, path, strerror(errno));
		return -1;
	}
	size_t len = 0;
	bool eol = false;
	while (len + 1 < size && !eol) {
		ssize_t r = read(fd, buf + len, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			tok_err("读取%s文件 %s 失败：%s", what, path, strerror(errno));
			close(fd);
			tok_wipe(buf, size);
			return -1;
		}
		if (r == 0)
			break;
		if (buf[len] == '\n')
			eol = true;
		len++;
	}
	close(fd);
	buf[len] = '\0';
	if (!eol && len + 1 >= size) {
		tok_err("%s文件 %s 第一行太长", what, path);
		tok_wipe(buf, size);
		return -1;
	}
	strip_eol(buf);
	if (buf[0] == '\0') {
		tok_err("%s文件 %s 的第一行为空", what, path);
		return -1;
	}
	return 0;
}

int tok_read_tty_secret(const char *prompt, char *buf, size_t size)
{
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		tok_err("没有终端 (no terminal) 可以输入%s；请使用相应的 --*-file 选项", prompt);
		return -1;
	}
	struct termios old, quiet;
	bool restore = false;
	if (tcgetattr(fd, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		quiet.c_lflag |= ICANON;
		if (tcsetattr(fd, TCSAFLUSH, &quiet) == 0)
			restore = true;
	}
	if (write(fd, prompt, strlen(prompt)) < 0 || write(fd, "：", strlen("：")) < 0) {
		/* ignore: the prompt is a courtesy */
	}
	size_t len = 0;
	int rc = 0;
	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || c == '\n')
			break;
		if (len + 1 >= size) {
			rc = -1;
			continue; /* drain the line */
		}
		buf[len++] = c;
	}
	buf[len] = '\0';
	if (restore)
		tcsetattr(fd, TCSAFLUSH, &old);
	if (write(fd, "\n", 1) < 0) {
		/* nothing to do */
	}
	close(fd);
	strip_eol(buf);
	if (rc < 0) {
		tok_wipe(buf, size);
		tok_err("输入太长");
	}
	return rc;
}

int tok_get_pin(const char *file, const char *prompt, char *buf, size_t size)
{
	int rc = file ? tok_read_first_line(file, buf, size, prompt)
	              : tok_read_tty_secret(prompt, buf, size);
	if (rc != 0)
		return TOK_EXIT_USAGE;
	if (buf[0] == '\0') {
		tok_err("%s为空", prompt);
		return TOK_EXIT_USAGE;
	}
	return TOK_EXIT_OK;
}

size_t tok_utf8_len(const char *s)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p & 0xc0) != 0x80)
			n++;
	return n;
}

static int check_new_pin(const char *pin)
{
	size_t n = tok_utf8_len(pin);
	if (n < TOK_PIN_MIN || n > TOK_PIN_MAX) {
		tok_err("新PIN码长度必须为%d–%d个字符（现为%zu个）", TOK_PIN_MIN, TOK_PIN_MAX, n);
		return TOK_EXIT_USAGE;
	}
	for (const unsigned char *p = (const unsigned char *)pin; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			tok_err("新PIN码含有控制字符");
			return TOK_EXIT_USAGE;
		}
	}
	return TOK_EXIT_OK;
}

int tok_get_new_pin(const char *file, char *buf, size_t size)
{
	int rc;
	if (file) {
		if (tok_read_first_line(file, buf, size, "新PIN码") != 0)
			return TOK_EXIT_USAGE;
		rc = check_new_pin(buf);
		if (rc != TOK_EXIT_OK)
			tok_wipe(buf, size);
		return rc;
	}
	if (tok_read_tty_secret("新PIN码 (new PIN, 6–16位)", buf, size) != 0)
		return TOK_EXIT_USAGE;
	rc = check_new_pin(buf);
	if (rc != TOK_EXIT_OK) {
		tok_wipe(buf, size);
		return rc;
	}
	char again[TOK_PIN_BUF];
	if (tok_read_tty_secret("再次输入新PIN码 (repeat new PIN)", again, sizeof again) != 0) {
		tok_wipe(buf, size);
		return TOK_EXIT_USAGE;
	}
	bool same = strcmp(buf, again) == 0;
	tok_wipe(again, sizeof again);
	if (!same) {
		tok_wipe(buf, size);
		tok_err("两次输入的新PIN码不一致");
		return TOK_EXIT_USAGE;
	}
	return TOK_EXIT_OK;
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
