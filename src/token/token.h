/*
 * token.h - the token library: all PKCS#11 work on certificate keys (证书U盘)
 * shared by the command line tool esp-token and the desktop window
 * 证书管理工具 (esp-token-gui).  Module loading, token selection, login, PIN
 * change and unlock, key pairs, certificate objects and their display fields.
 *
 * It links nothing of libesp.  Messages are Chinese and go to a sink: stderr
 * by default (esp-token), a dialog in the window (tok_set_msg_sink).
 */
#ifndef ESP_TOKEN_LIB_H
#define ESP_TOKEN_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <libp11.h>
#include <openssl/x509.h>
#include <p11-kit/pkcs11.h>

/* Documented exit codes (docs/esp-token.md); the library's result codes. */
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

/* ---- messages and small helpers (token_util.c) ---- */
enum tok_msg_level { TOK_MSG_ERROR, TOK_MSG_WARN, TOK_MSG_NOTE };
typedef void (*tok_msg_fn)(enum tok_msg_level level, const char *msg, void *data);
/* Send the library's messages to fn instead of stderr (NULL: stderr again). */
void tok_set_msg_sink(tok_msg_fn fn, void *data);
void tok_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tok_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A detail line after an error or warning (printed indented on stderr). */
void tok_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print text that came from outside (server, token) without control chars. */
void tok_fputs_clean(const char *s, FILE *fp);
/* Number of characters (UTF-8 code points) in s. */
size_t tok_utf8_len(const char *s);
void tok_wipe(void *p, size_t n);
char *tok_hex(const unsigned char *p, size_t n); /* malloc'd */
int tok_unhex(const char *hex, unsigned char *out, size_t max, size_t *len);
char *tok_base64(const unsigned char *p, size_t n);      /* malloc'd */
unsigned char *tok_unbase64(const char *s, size_t *len); /* malloc'd */
void *tok_xmalloc(size_t n);
char *tok_xstrdup(const char *s);

/* ---- module and token access (token_p11.c) ---- */
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
/* The PKCS#11 module: ~/.config/esp-token.conf, /etc/esp-token.conf
 * (module = PATH), else OpenSC or SoftHSM2 where installed. malloc'd or NULL. */
char *tok_default_module(void);
/* "key = value" of esp-token.conf (the user's, else /etc/esp-token.conf);
 * malloc'd or NULL. */
char *tok_config_value(const char *key);
/* Load the module (libp11 and raw function list). Returns exit code. */
int tok_load(struct tok_ctx *t, const char *module);
/* Select a token by label or serial (NULL: the only one). Returns exit code. */
int tok_select(struct tok_ctx *t, const char *which);
int tok_open_session(struct tok_ctx *t, bool rw);
/* Log in; on failure reports the reason and the PIN flags. Returns exit code. */
int tok_login(struct tok_ctx *t, CK_USER_TYPE who, const char *pin);
/* Map the result of C_SetPIN / C_InitPIN like tok_login. Returns exit code. */
int tok_pin_result(struct tok_ctx *t, CK_RV rv, const char *what);
int tok_token_info(struct tok_ctx *t, CK_SLOT_ID id, CK_TOKEN_INFO *info);
/* On the selected token: a read-write session logged in as its user with
 * pin; *serial gets the token's serial number (malloc'ed, set whenever the
 * token was read; the caller frees it). Returns an exit code (token_pin.c). */
int tok_login_user(struct tok_ctx *t, const char *pin, char **serial);
/* What the PIN flags say about the retries left (PKCS#11 gives no number). */
const char *tok_pin_flags_hint(CK_FLAGS flags, bool so);
/* Report tok_pin_flags_hint as a note. */
void tok_print_pin_flags(CK_FLAGS flags, bool so);
void tok_unload(struct tok_ctx *t);
/* A blank-padded PKCS#11 string as C string (malloc'd). */
char *tok_p11_string(const unsigned char *p, size_t n);
/* The first certificate of a PEM text, or NULL. */
X509 *tok_x509_from_pem(const char *pem);

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
 * CKA_ID. Returns index, -1 none/ambiguous, -2 bad --id (message reported). */
int tok_choose_cert(struct tok_cert *c, size_t n, const char *id_hex, const char *label);
/* Private key with this CKA_ID via libp11 (requires login). */
PKCS11_KEY *tok_find_p11_key(struct tok_ctx *t, const unsigned char *id, size_t id_len);

/* ---- the inserted tokens and what a user reads of a certificate (token_info.c) ---- */
struct tok_info {
	CK_SLOT_ID slot_id;
	char *label, *manufacturer, *model, *serial; /* malloc'd */
	CK_FLAGS flags;
};
/* Every initialised token of the loaded module. Returns exit code. */
int tok_list_tokens(struct tok_ctx *t, struct tok_info **out, size_t *n);
void tok_infos_free(struct tok_info *v, size_t n);

struct tok_cert_view {
	char *holder;     /* O (unit) and CN (person), as the holder reads them */
	char *subject;    /* the whole subject, RFC 2253 with UTF-8 */
	char *issuer;     /* issuer CN, else the whole issuer */
	char *serial;     /* 证书序列号, upper-case hex */
	char *not_before; /* "YYYY-MM-DD HH:MM" (UTC) */
	char *not_after;
	int days_left; /* -1 once expired */
	bool expiring; /* 0 <= days_left <= TOK_EXPIRY_WARN_DAYS */
	bool ca;       /* a CA certificate (category 2 or basicConstraints CA) */
};
void tok_cert_view_fill(X509 *x, struct tok_cert_view *v);
void tok_cert_view_clear(struct tok_cert_view *v);
/* Whole days until notAfter; -1 once expired. */
int tok_days_left(X509 *x);
/* PEM or DER of the certificate written to path (mode 0644). Returns exit
 * code; reports why it failed. */
int tok_write_cert(X509 *x, bool der, const char *path);

/* ---- PIN rules, change and unlock (token_pin.c) ---- */
/* 6–16 characters, no control characters. Returns exit code (reported). */
int tok_check_new_pin(const char *pin);
/* C_SetPIN on the selected token. Returns exit code (reported). */
int tok_change_pin(struct tok_ctx *t, const char *old_pin, const char *new_pin);
/* 密码解锁: log in as SO, C_InitPIN. Returns exit code (reported). */
int tok_unlock_pin(struct tok_ctx *t, const char *so_pin, const char *new_pin);
/* Replace the SO PIN: log in as SO with so_pin, or, when that is refused as
 * incorrect, with next_so_pin (a run interrupted after the change); set
 * new_user_pin (C_InitPIN, NULL: keep the user PIN) and make next_so_pin the
 * SO PIN. Returns exit code (reported). */
int tok_rotate_so_pin(struct tok_ctx *t, const char *so_pin, const char *next_so_pin,
                      const char *new_user_pin);

/* ---- objects created on the token (token_keys.c) ---- */
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
/* The private key (through libp11) and the public key of the pair with this
 * id, both or neither: says which pair on stderr and returns
 * TOK_EXIT_TOKEN when either is missing. */
int tok_key_pair(struct tok_ctx *t, const unsigned char *id, size_t id_len, const char *label,
                 EVP_PKEY **priv, EVP_PKEY **pub);
/* Write a certificate object; id may be NULL for CA certificates. */
int tok_store_cert(struct tok_ctx *t, X509 *x, const char *label, const unsigned char *id,
                   size_t id_len, CK_ULONG category);
/* Destroy one object (a certificate found by tok_find_certs). Exit code. */
int tok_destroy_object(struct tok_ctx *t, CK_OBJECT_HANDLE h);
/* 1 if an identical certificate (same DER) is already on the token. */
int tok_cert_present(struct tok_ctx *t, X509 *x);
/* The certificate the server issued for the key pair whose public key is
 * pub, written beside it (label, id) unless it is there already (a resumed
 * run). A certificate for another key is refused before anything is
 * written: TOK_EXIT_NETWORK. Exit code. */
int tok_store_issued(struct tok_ctx *t, X509 *cert, EVP_PKEY *pub, const char *label,
                     const unsigned char *id, size_t id_len);

#endif
