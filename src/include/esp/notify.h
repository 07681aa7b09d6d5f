/*
 * Notifications (core/notify.c): the events a holder and the RA are told
 * of by e-mail, and as notices on the applicant's pages.
 *
 * Call notify_enqueue inside the transaction of the change that causes the
 * event: the outbox row commits or rolls back with it, so a change is never
 * made without its message, nor a message written for a change that was not
 * made.  Sending is espd's mail worker's (httpd/mailer.c, core/outbox.c).
 *
 *   st = notify_enqueue(c, NOTICE_UNLOCK_APPROVED,
 *                       &(struct notice){.registration_id = reg, .token_serial = tk});
 */
#ifndef ESP_NOTIFY_H
#define ESP_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "esp/db.h"
#include "esp/util.h"

enum notice_kind {
	NOTICE_REG_APPROVED,    /* 注册审核通过 */
	NOTICE_REG_RETURNED,    /* 注册审核未通过 (reason) */
	NOTICE_APP_RETURNED,    /* application returned (reason); RA too */
	NOTICE_APP_ISSUED,      /* every set issued; RA too */
	NOTICE_APP_SHIPPED,     /* shipped, or handed to the trainer; RA too */
	NOTICE_APP_OVERDUE,     /* past the delivery promise; RA too */
	NOTICE_RENEWAL_WINDOW,  /* certificate enters its 60/30/7-day window (days) */
	NOTICE_CERT_REVOKED,    /* certificate revoked (reason) */
	NOTICE_UNLOCK_APPROVED, /* remote PIN unlock approved */
	NOTICE_CHANGE_APPROVED, /* 信息变更 approved (detail: certificates to renew) */
	NOTICE_CHANGE_RETURNED, /* 信息变更 returned (reason) */
	NOTICE_RENEWED,         /* renewal confirmed: new certificate on the token, old revoked */
	NOTICE_KIND_COUNT
};

/* What the message is about. Only registration_id is required; a field
 * left NULL/0 is left out of the message. */
struct notice {
	int64_t registration_id;
	const char *application_number;
	const char *cert_serial;
	const char *token_serial;
	const char *reason; /* why returned / revoked, in Chinese */
	const char *detail; /* shipped: courier and tracking number (none: to be picked up) */
	int days;           /* NOTICE_RENEWAL_WINDOW: 60, 30 or 7 */
	int64_t not_after;  /* NOTICE_RENEWAL_WINDOW: the certificate's expiry */
	/* Non-NULL: the event is told once for this key, whatever calls again
	 * (the daily job's reminders); a second call adds nothing. The daily
	 * job's keys are "renewal:<days>:<serial>" and "overdue:<number>": an
	 * event emitted elsewhere for the same window uses the same key, and
	 * the holder is told once either way. */
	const char *once_key;
	/* NOTICE_RENEWED: the certificate the new one superseded. */
	const char *old_serial;
};

/* Writes the holder's message (to the registration's e-mail) and, for the
 * application events, the RA's (to its address in the RA directory) into
 * the outbox. DB_NOT_FOUND: no such registration. */
enum db_status notify_enqueue(db_conn *c, enum notice_kind k, const struct notice *n);

/* application_event's hook: the steps the holder and the RA hear of
 * (returned, every set issued, shipped or ready for pickup); any other step
 * adds nothing. note is the step's note (the reason of a return). */
enum db_status notify_application_step(db_conn *c, int64_t app_id, const char *action,
                                       const char *from, const char *to, const char *note);

/* "reg_approved" ...: the kind's name, which is also its template's
 * ("mail_<name>"); notice_kind_parse answers -1 for an unknown name. */
const char *notice_kind_name(enum notice_kind k);
int notice_kind_parse(const char *name);

/* The daily job: holders' certificates that entered their 60/30/7-day
 * renewal window, and applications past their delivery promise of
 * delivery_days; each is told once per window (per application). Safe to
 * run as often as one likes. Sets *enqueued to the certificates and
 * applications found (told now or before). */
enum db_status notify_daily(db_conn *c, int64_t now, int delivery_days, int *enqueued);

/* The holder's notices of a registration, newest first (*out and its
 * strings in arena): the kind, the facts (the row's JSON text, rendered by
 * render/notice.c), when, and the e-mail's state. */
struct notice_row {
	const char *kind, *params, *state;
	int64_t created_at;
};
enum db_status notify_list_for(db_conn *c, struct arena *a, int64_t registration_id, int limit,
                               struct notice_row **out, size_t *n);
/* What a notice's e-mail state means to its reader, in Chinese. */
const char *notice_mail_label(const char *state);

#endif
