/*
 * esp_token.h - internal interface of esp-token, the certificate management
 * tool (证书管理工具) for ESP certificate keys (证书U盘).
 *
 * esp-token is self-contained: it does not link libesp.  The pieces are
 *   esp_token.c      main, option parsing, help texts, configuration file
 *   token_util.c     messages, PIN and file input, hex, base64, wiping
 *   token_p11.c      PKCS#11 access: module, token selection, login, objects
 *   token_keys.c     key pair generation and certificate objects on the token
 *   token_http.c     JSON over HTTP(S) with libcurl
 *   token_cmd_*.c    one file per command
 */
#ifndef ESP_TOKEN_H
#define ESP_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include <libp11.h>
#include <openssl/x509.h>
#include <p11-kit/pkcs11.h>

/* Documented exit codes (docs/esp-token.md). */
enum tok_exit {
	TOK_EXIT_OK = 0,
	TOK_EXIT_USAGE = 1,      /* bad arguments, unreadable input files */
	TOK_EXIT_TOKEN = 2,      /* token or PKCS#11 error */
	TOK_EXIT_PIN_WRONG = 3,  /* CKR_PIN_INCORRECT */
	TOK_EXIT_PIN_LOCKED = 4, /* CKR_PIN_LOCKED */
	TOK_EXIT_NETWORK = 5,    /* server unreachable, TLS, 5xx, bad answer */
	TOK_EXIT_REFUSED = 6,    /* server answered 4xx with an error */
};

#define TOK_PIN_MIN 6
#define TOK_PIN_MAX 16
#define TOK_PIN_BUF 256
#define TOK_EXPIRY_WARN_DAYS 60

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
};

/* ---- token_util.c ---- */
void tok_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tok_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print text that came from outside (server, token) without control chars. */
void tok_fputs_clean(const char *s, FILE *fp);
/* First line of a file (trailing CR/LF stripped) into buf. Returns 0 or -1. */
int tok_read_first_line(const char *path, char *buf, size_t size, const char *what);
/* Prompt on /dev/tty with echo off. Returns 0 or -1. */
int tok_read_tty_secret(const char *prompt, char *buf, size_t size);
/* PIN from file if given, else from the terminal. Returns exit code. */
int tok_get_pin(const char *file, const char *prompt, char *buf, size_t size);
/* New PIN: from file (once) or terminal (twice, must match); 6-16 chars. */
int tok_get_new_pin(const char *file, char *buf, size_t size);
/* Number of characters (UTF-8 code points) in s. */
size_t tok_utf8_len(const char *s);
void tok_wipe(void *p, size_t n);
char *tok_hex(const unsigned char *p, size_t n); /* malloc'd */
int tok_unhex(const char *hex, unsigned char *out, size_t max, size_t *len);
char *tok_base64(const unsigned char *p, size_t n);      /* malloc'd */
unsigned char *tok_unbase64(const char *s, size_t *len); /* malloc'd */
void *tok_xmalloc(size_t n);
char *tok_xstrdup(const char *s);

/* ---- token_p11.c ---- */
struct tok_ctx {
	PKCS11_CTX *ctx;
	PKCS11_SLOT *slots;
	unsigned int nslots;
	PKCS11_SLOT *slot;      /* selected slot */
	void *dl;               /* our own reference to the module */
	CK_FUNCTION_LIST_PTR f; /* raw PKCS#11 functions */
	CK_SLOT_ID slot_id;
	CK_SESSION_HANDLE h; /* raw session, CK_INVALID_HANDLE if none */
	bool logged_in;
};

const char *tok_ckr_text(CK_RV rv);
/* Load the module (libp11 and raw function list). Returns exit code. */
int tok_load(struct tok_ctx *t, const char *module);
/* Select a token by label or serial (NULL: the only one). Returns exit code. */
int tok_select(struct tok_ctx *t, const char *which);
int tok_open_session(struct tok_ctx *t, bool rw);
/* Log in; on failure prints the reason and the PIN flags. Returns exit code. */
int tok_login(struct tok_ctx *t, CK_USER_TYPE who, const char *pin);
/* Map the result of C_SetPIN / C_InitPIN like tok_login. Returns exit code. */
int tok_pin_result(struct tok_ctx *t, CK_RV rv, const char *what);
int tok_token_info(struct tok_ctx *t, CK_SLOT_ID id, CK_TOKEN_INFO *info);
/* Print the hints for the PIN flags of the selected token to stderr. */
void tok_print_pin_flags(CK_FLAGS flags, bool so);
void tok_unload(struct tok_ctx *t);
/* A blank-padded PKCS#11 string as C string (malloc'd). */
char *tok_p11_string(const unsigned char *p, size_t n);

/* Read one attribute into a malloc'd buffer. Returns 0, or -1 if absent. */
int tok_get_attr(struct tok_ctx *t, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, unsigned char **val,
                 size_t *len);

/* A certificate object found on the token. */
struct tok_cert {
	CK_OBJECT_HANDLE handle;
	unsigned char id[64];
	size_t id_len;
	char label[256];
	CK_ULONG category; /* CKA_CERTIFICATE_CATEGORY, 0 if absent */
	X509 *x509;
};
/* All X.509 certificates on the token (caller frees with tok_certs_free). */
int tok_find_certs(struct tok_ctx *t, struct tok_cert **out, size_t *n);
void tok_certs_free(struct tok_cert *c, size_t n);
/* Choose the certificate named by id_hex or label, or the only one with a
 * CKA_ID. Returns index, -1 none/ambiguous, -2 bad --id (message printed). */
int tok_choose_cert(struct tok_cert *c, size_t n, const char *id_hex, const char *label);
/* Private key with this CKA_ID via libp11 (requires login). */
PKCS11_KEY *tok_find_p11_key(struct tok_ctx *t, const unsigned char *id, size_t id_len);

/* ---- token_keys.c ---- */
/* Find a private key by label. Returns 1 found (id filled), 0 none, -1 error. */
int tok_find_key_by_label(struct tok_ctx *t, const char *label, unsigned char *id, size_t id_max,
                          size_t *id_len);
/* Generate a key pair (EC P-256, or RSA 2048 if rsa). Returns exit code. */
int tok_generate_keypair(struct tok_ctx *t, const char *label, bool rsa, unsigned char *id,
                         size_t id_max, size_t *id_len);
/* Destroy the private and public key objects with this CKA_ID. Exit code. */
int tok_destroy_keypair(struct tok_ctx *t, const unsigned char *id, size_t id_len);
/* The public key object with this CKA_ID as EVP_PKEY (EC P-256 or RSA), built
 * from its attributes. NULL if absent or unsupported. */
EVP_PKEY *tok_public_key(struct tok_ctx *t, const unsigned char *id, size_t id_len);
/* Write a certificate object; id may be NULL for CA certificates. */
int tok_store_cert(struct tok_ctx *t, X509 *x, const char *label, const unsigned char *id,
                   size_t id_len, CK_ULONG category);
/* 1 if an identical certificate (same DER) is already on the token. */
int tok_cert_present(struct tok_ctx *t, X509 *x);

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

/* ---- certificate display (token_cmd_cert.c) ---- */
void tok_print_cert_summary(X509 *x, const char *indent);
int tok_days_left(X509 *x);

/* ---- commands ---- */
int tok_cmd_list(const struct tok_opts *o);
int tok_cmd_show_cert(const struct tok_opts *o);
int tok_cmd_export_cert(const struct tok_opts *o);
int tok_cmd_passwd(const struct tok_opts *o);
int tok_cmd_unlock(const struct tok_opts *o);
int tok_cmd_enroll(const struct tok_opts *o);
int tok_cmd_login(const struct tok_opts *o);

#endif
