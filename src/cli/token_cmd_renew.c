/*
 * token_cmd_renew.c - `esp-token renew`: 更新 on the command line. The
 * renewal itself is token_renew.c's (shared with the desktop window); this
 * asks the PIN and prints the progress and the certificates on stdout.
 */
#include "esp_token.h"

#include <string.h>

static void print_progress(const char *text, X509 *cert, void *data)
{
	(void)data;
	printf("%s\n", text);
	if (cert)
		tok_print_cert_summary(cert, "  ");
	fflush(stdout);
}

int tok_cmd_renew(const struct tok_opts *o)
{
	if (!o->server) {
		tok_err("renew 需要 --server（或 esp-token.conf 中的 server "
		        "=，证书应用环境安装时已写好）");
		return TOK_EXIT_USAGE;
	}
	char pin[TOK_PIN_BUF];
	int rc = tok_get_pin(o->pin_file, "PIN码", pin, sizeof pin);
	if (rc != TOK_EXIT_OK)
		return rc;
	struct tok_renew_req r = {.module = o->module,
	                          .token = o->token,
	                          .pin = pin,
	                          .server = o->server,
	                          .ca_file = o->ca_file,
	                          .rsa = o->rsa,
	                          .progress = print_progress};
	rc = tok_renew(&r);
	tok_wipe(pin, sizeof pin);
	return rc;
}
