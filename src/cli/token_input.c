/*
 * token_input.c - how esp-token gets PINs and secrets: the first line of a
 * file named by a --*-file option, or the terminal without echo (new PINs
 * twice).  The rules a new PIN must follow are the library's
 * (tok_check_new_pin), shared with the desktop window.
 */
#include "esp_token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

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

int tok_get_new_pin(const char *file, char *buf, size_t size)
{
	int rc;
	if (file) {
		if (tok_read_first_line(file, buf, size, "新PIN码") != 0)
			return TOK_EXIT_USAGE;
		rc = tok_check_new_pin(buf);
		if (rc != TOK_EXIT_OK)
			tok_wipe(buf, size);
		return rc;
	}
	if (tok_read_tty_secret("新PIN码 (new PIN, 6–16位)", buf, size) != 0)
		return TOK_EXIT_USAGE;
	rc = tok_check_new_pin(buf);
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

int tok_open_user(struct tok_ctx *t, const struct tok_opts *o, char **serial)
{
	char pin[TOK_PIN_BUF];
	int rc = tok_load(t, o->module);
	if (rc != TOK_EXIT_OK)
		return rc;
	if ((rc = tok_select(t, o->token)) != TOK_EXIT_OK)
		return rc;
	if ((rc = tok_get_pin(o->pin_file, "PIN码", pin, sizeof pin)) != TOK_EXIT_OK)
		return rc;
	rc = tok_login_user(t, pin, serial);
	tok_wipe(pin, sizeof pin);
	return rc;
}
