/*
 * token_client.h - what esp-token and the desktop window 证书管理工具 share
 * to talk to ESP's server: JSON over HTTP(S) (token_http.c), the token's
 * signatures, certificate requests and CA chain (token_sign.c), and the
 * whole online renewal 更新 (token_renew.c), run by `esp-token renew` and by
 * the window's 【证书更新】 alike.
 *
 * Built as a static library (src/cli/meson.build) linked by both programs;
 * it needs the token library, jansson and libcurl, nothing of libesp.
 */
#ifndef ESP_TOKEN_CLIENT_H
#define ESP_TOKEN_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "token.h"

/* ---- token_http.c ---- */
struct tok_http {
	const char *ca_file;
	const char *bearer; /* may be NULL */
};
/* GET or POST (body != NULL) JSON. *status gets the HTTP status, *reply the
 * parsed JSON (may be NULL if the body was not JSON). Returns exit code
 * (TOK_EXIT_NETWORK on transport errors). */
int tok_http_json(const struct tok_http *h, const char *url, const char *body, long *status,
                  json_t **reply);
/* Check the server URL (http(s)://, plain http only to loopback); returns a
 * malloc'd copy without trailing '/', or NULL (message printed). */
char *tok_server_base(const char *url);
/* Map a non-2xx answer to an exit code, printing the server's message. */
int tok_http_failure(long status, json_t *reply);
/* base followed by fmt with its one %s replaced by arg (malloc'd). */
char *tok_url_for(const char *base, const char *fmt, const char *arg);
/* POST body to url, expecting 200; the request text is wiped after (it may
 * carry PINs or codes). *reply (on 200) is the caller's. Exit code (reported). */
int tok_post_json(const char *ca_file, const char *url, const char *bearer, json_t *body,
                  json_t **reply);

/* ---- token_sign.c ---- */
/* Sign data with SHA-256; malloc'd base64 or NULL (reported). */
char *tok_sign_b64(EVP_PKEY *key, const unsigned char *data, size_t len);
/* The certificate as PEM text (malloc'd) or NULL. */
char *tok_cert_pem(X509 *x);
/* A CSR for pub signed by priv; malloc'd PEM or NULL. */
char *tok_make_csr_pem(EVP_PKEY *priv, EVP_PKEY *pub, const char *cn);
/* Store the CA certificates of the chain PEM not yet on the token. Exit code. */
int tok_store_chain(struct tok_ctx *t, const char *chain_pem, X509 *leaf);

/* Where an online operation is, told as it goes: a line of Chinese text for
 * the holder and, with some lines, the certificate it speaks of (NULL
 * otherwise). Called on the thread that runs the operation. */
typedef void (*tok_progress_fn)(const char *text, X509 *cert, void *data);

/* ---- token_renew.c ---- */
struct tok_renew_req {
	const char *module, *token; /* the token (token NULL: the only one) */
	const char *pin;            /* its user PIN; the caller wipes it */
	const char *server, *ca_file;
	bool rsa; /* the new key pair: RSA 2048 rather than EC P-256 */
	tok_progress_fn progress;
	void *data;
};
/* The online renewal of the token's certificate (see token_renew.c): new key
 * pair, certificate, confirmation, old one removed; resumes an interrupted
 * one. Errors go to the token library's message sink. Returns an exit code. */
int tok_renew(const struct tok_renew_req *r);

/* ---- token_unlock_remote.c ---- */
struct tok_unlock_req {
	const char *module, *token; /* the locked token (token NULL: the only one) */
	const char *server, *ca_file;
	const char *application; /* the approved 密码解锁 application's number */
	const char *code;        /* its one-time authorisation */
	const char *new_pin;     /* the holder's new user PIN (checked here) */
	tok_progress_fn progress;
	void *data;
};
/* 密码解锁 remotely (see token_unlock_remote.c): the SO PIN in ESP's custody
 * released once, the new user PIN set, a fresh SO PIN set and confirmed.
 * Errors go to the token library's sink. Returns an exit code. */
int tok_unlock_remote(const struct tok_unlock_req *r);
/* true when s can be an application number ([A-Za-z0-9-], 1-40). */
bool tok_valid_application(const char *s);
/* A PIN string of the reply, copied into buf; false when absent. */
bool tok_reply_pin(json_t *reply, const char *name, char *buf, size_t size);

#endif
