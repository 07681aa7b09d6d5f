/*
 * esp_token.h - internal interface of esp-token, the certificate management
 * tool (证书管理工具) for ESP certificate keys (证书U盘).
 *
 * esp-token does not link libesp.  Its PKCS#11 work is the token library
 * (src/token/token.h), shared with the desktop window.  The pieces here are
 *   esp_token.c      main, option parsing, help texts
 *   token_input.c    PINs from files or the terminal
 *   token_client.h   what the window shares: HTTP, signatures, renewal
 *   token_cmd_browser.c  setup-browser: Chromium's NSS database
 *   token_cmd_*.c    one file per command
 */
#ifndef ESP_TOKEN_H
#define ESP_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "token.h"
#include "token_client.h"

/* All command line options; each command accepts a subset. */
struct tok_opts {
	const char *module;
	const char *token;
	const char *pin_file;
	const char *new_pin_file;
	const char *so_pin_file;
	const char *api_token_file;
	const char *server;
	const char *application;
	const char *ca_file;
	const char *id_hex;
	const char *label;
	const char *out;
	bool rsa;
	bool der;
	bool remove;
	bool remote;
	const char *code_file;
};

/* ---- token_input.c ---- */
/* First line of a file (trailing CR/LF stripped) into buf. Returns 0 or -1. */
int tok_read_first_line(const char *path, char *buf, size_t size, const char *what);
/* Prompt on /dev/tty with echo off. Returns 0 or -1. */
int tok_read_tty_secret(const char *prompt, char *buf, size_t size);
/* PIN from file if given, else from the terminal. Returns exit code. */
int tok_get_pin(const char *file, const char *prompt, char *buf, size_t size);
/* New PIN: from file (once) or terminal (twice, must match); 6-16 chars. */
int tok_get_new_pin(const char *file, char *buf, size_t size);
/* The token of o (module, token), with a read-write session logged in as
 * its user (the PIN asked and wiped) and *serial its serial number
 * (malloc'ed, set whenever the token was read; the caller frees it).
 * Returns an exit code. */
int tok_open_user(struct tok_ctx *t, const struct tok_opts *o, char **serial);

/* ---- certificate display (token_cmd_cert.c) ---- */
void tok_print_cert_summary(X509 *x, const char *indent);

/* ---- commands ---- */
int tok_cmd_list(const struct tok_opts *o);
int tok_cmd_show_cert(const struct tok_opts *o);
int tok_cmd_export_cert(const struct tok_opts *o);
int tok_cmd_passwd(const struct tok_opts *o);
int tok_cmd_unlock(const struct tok_opts *o);
int tok_cmd_enroll(const struct tok_opts *o);
int tok_cmd_renew(const struct tok_opts *o);
int tok_cmd_unlock_remote(const struct tok_opts *o);
/* enroll --so-pin-file: the SO PIN into ESP's custody (token_cmd_unlock_remote.c). */
int tok_so_pin_custody(const struct tok_opts *o, const char *base, const char *api_token,
                       const char *token_serial);
int tok_cmd_login(const struct tok_opts *o);
int tok_cmd_setup_browser(const struct tok_opts *o);

#endif
