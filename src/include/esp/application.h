/*
 * Certificate key applications (证书U盘申请): the form's fields and their
 * validation, numbering, creation (idempotent per form) and reading, as
 * typed records (core/application.c); the pages make their JSON.  The fee
 * schedule is in fee.h, scans in upload.h, the RA directory in directory.h.
 */
#ifndef ESP_APPLICATION_H
#define ESP_APPLICATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esp/appstate.h"
#include "esp/core.h"
#include "esp/fee.h"
#include "esp/field_error.h"
#include "esp/registration.h"

/* The kinds of application: the first (初次办理), more keys (增加数量), a
 * new certificate on the same key (更新, core/renewal.c) and a remote
 * unlock (密码解锁, core/sopin.c); a new key for a lost (丢失补办) or a broken
 * (损坏补办) one (core/replace.c). */
enum app_type {
	APP_TYPE_INITIAL,
	APP_TYPE_ADDITIONAL,
	APP_TYPE_RENEWAL,
	APP_TYPE_UNLOCK,
	APP_TYPE_REPLACE_LOST,
	APP_TYPE_REPLACE_DAMAGED,
};
const char *app_type_name(enum app_type t);  /* "initial", "additional", ... (stored) */
const char *app_type_label(enum app_type t); /* 初次办理, 增加数量, 更新, 密码解锁 */
enum app_type app_type_parse(const char *name); /* an unknown name is initial */
/* The state machine's kind facts of a type: APP_FACT_RENEWAL, APP_FACT_UNLOCK or 0. */
unsigned app_type_facts(enum app_type t);

/* What the applicant types into the form (strings; NULL counts as ""):
 * application_validate trims and normalises them in place. */
struct application_input {
	const char *contact_name;
	const char *contact_id_number; /* units */
	const char *mobile;
	const char *phone;
	const char *email;
	const char *address;
	const char *postcode;
	const char *sets;          /* units; an evaluator's is "1" */
	const char *invoice_title; /* units */
	const char *taxpayer_id;   /* units; enterprises must give it */
};

/* One field of a kind's form. */
struct app_field {
	const char *name;
	const char *label; /* Chinese, as on the form */
	const char *type;  /* text, tel, email, number */
	bool required;     /* for every kind; see application_field_required */
	int maxlen;        /* in characters */
	const char *hint;
	size_t offset; /* of its value in struct application_input */
};
/* The fields of kind k's form, in form order (static). */
const struct app_field *application_fields(enum reg_kind k, size_t *n);
bool application_field_required(enum reg_kind k, const struct app_field *f);
/* The value of field f in in. */
const char **application_input_at(struct application_input *in, const struct app_field *f);

/* Trims and normalises in's fields of kind k in place (new strings in
 * arena; an evaluator's sets become "1") and records what is wrong in
 * *errors, field by field. */
void application_validate(const struct esp_limits *l, enum reg_kind k, struct application_input *in,
                          struct arena *a, struct field_errors *errors);

/* Creates the application in one transaction: number, fee snapshot, event,
 * audit, from in as application_validate left it without errors. idem_key
 * makes it idempotent: the same key returns the application
 * made before (*existing = true). *number is malloc'ed (caller frees). */
enum db_status application_create(db_conn *c, const struct actor *a, int64_t registration_id,
                                  enum reg_kind k, const struct application_input *in,
                                  enum app_type type, int64_t scan_id, const char *idem_key,
                                  char **number, bool *existing);

/* The registration's open (not withdrawn) initial application: a registrant
 * applies once, more keys are asked for with 再次申请. *number (malloc'ed) is
 * NULL when there is none. */
enum db_status application_open_initial(db_conn *c, int64_t registration_id, char **number);

/* An application with what it needs of its registration. Text the store
 * does not have is NULL; a time not yet reached is 0 (Unix seconds). */
struct application {
	int64_t id;
	const char *number;
	int64_t registration_id;
	enum app_type type;
	enum app_state state;
	int sets;
	const char *contact_name, *contact_id_number, *mobile, *phone, *email, *address, *postcode;
	const char *invoice_title, *taxpayer_id;
	int64_t price_yuan, medium_yuan, years, amount_yuan; /* the fee when applied */
	int64_t scan_id;                                     /* 0: none */
	int64_t submitted_at, paid_at, materials_at, issued_at, shipped_at, pickup_at, received_at,
	    returned_at, withdrawn_at;
	const char *return_reason, *courier, *tracking_no;
	int64_t updated_at;
	const char *renews_serial; /* 更新: the certificate renewed */
	const char *unlock_token;  /* 密码解锁: the token unlocked */
	/* 丢失补办, 损坏补办: the certificate replaced */
	const char *replaces_serial;
	int64_t change_id; /* 信息变更: the approved change this free 更新 re-issues for; 0: none */
	/* its registration */
	enum reg_kind kind;
	const char *reg_state;
	const char *reg_name, *reg_code, *legal_rep, *work_unit, *department;
	const char *province_code, *province; /* code and name */
	const char *authority_path, *authority_name;
};

/* The next application number, ESP-YYYY-NNNNNN, inside the caller's transaction. */
enum db_status application_next_number(db_conn *c, char **number);

/* One application by number (strings in arena); DB_NOT_FOUND when there is
 * none (or the number cannot be one). */
enum db_status application_get(db_conn *c, struct arena *a, const char *number,
                               struct application *out);
/* The applications of a registration, newest first (strings, *out in arena). */
enum db_status application_list_for(db_conn *c, struct arena *a, int64_t registration_id,
                                    struct application **out, size_t *n);
/* The scan of the registration's newest application that has one (the
 * unit's document on file); DB_NOT_FOUND when none has. */
enum db_status application_latest_scan(db_conn *c, int64_t registration_id, int64_t *scan_id);
/* Policy object of an application (borrows its strings). */
void application_policy_object(const struct application *app, struct policy_object *o);
/* What the state machine needs to know of an application besides its
 * state: APP_FACT_EVALUATOR, _PAID, _MATERIALS, and its type's (certificates are counted
 * by the caller that has them). */
unsigned application_facts(const struct application *app);
/* The materials the manual lists for a kind (static; *n of them). */
const char *const *application_materials(enum reg_kind k, size_t *n);

/* 撤销: submitted and nothing paid → withdrawn, with event and audit, in one
 * transaction. DB_CONFLICT when the state does not allow it. */
enum db_status application_withdraw(db_conn *c, const struct actor *a, const char *number);
/* Records an event of the application's history (inside a transaction). */
enum db_status application_event(db_conn *c, const struct actor *a, int64_t app_id,
                                 const char *action, const char *from, const char *to,
                                 const char *note);
/* The same for a caller that has read the application's number (its audit
 * entry names it): one statement less, for every certificate issued. */
enum db_status application_event_numbered(db_conn *c, const struct actor *a, int64_t app_id,
                                          const char *number, const char *action, const char *from,
                                          const char *to, const char *note);

#endif
