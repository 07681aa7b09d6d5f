/*
 * The route table's shape and the matching of a request's path against it
 * (router.c): pure functions of their arguments, so that the unit tests run
 * them without a server.
 */
#ifndef ESPD_ROUTER_H
#define ESPD_ROUTER_H

#include <stdbool.h>

#include "esp/core.h"
#include "esp/util.h"

/* A pattern has at most this many {} segments (and a trailing *). */
#define ROUTE_MAX_PARAMS 4

struct request;
typedef void (*handler_fn)(struct request *r);

/* Route flags: how dispatch treats the route before its handler runs. */
enum {
	R_PUBLIC = 0,
	R_LOGIN = 1 << 0,      /* needs a session: the anonymous go to the login page (401 JSON) */
	R_NO_CSRF = 1 << 1,    /* POST without the form token (token-authenticated APIs) */
	R_JSON = 1 << 2,       /* the API: errors in JSON, bodies kept raw (never form-parsed) */
	R_NO_SESSION = 1 << 3, /* neither session nor form token (static files, health check) */
	R_NO_STORE = 1 << 4,   /* never uses the store: no pooled connection is taken */
	R_HOLDER = 1 << 5, /* the management system: needs ACT_MGMT, refused with "use your key" */
	R_ELSE_HOME = 1 << 6, /* a signed-in actor the policy refuses is sent to /home, not 403 */
	R_MUST_CHANGE_OK = 1 << 7, /* reachable before a reset password is changed */
};

struct route {
	const char *method;  /* "GET" | "POST"; a GET route answers HEAD too */
	const char *pattern; /* "/review/{}": {} matches one segment, a final * the rest */
	handler_fn fn;
	unsigned flags;
	enum action action; /* asked of the policy before the handler runs */
};

/* Whether path matches pattern; params[] gets the {} segments (copied into
 * a) and the * tail, in order. */
bool route_match(const char *pattern, const char *path, const char *params[ROUTE_MAX_PARAMS],
                 struct arena *a);

/* The route of table (ended by a NULL method) for method and path, its
 * parameters in params[]; NULL when none. *same_path (may be NULL) gets the
 * first route whose pattern matches the path whatever its method (to tell
 * 405 from 404, and the API's flags for a wrong method), or NULL. */
const struct route *route_find(const struct route *table, const char *method, const char *path,
                               const char *params[ROUTE_MAX_PARAMS], struct arena *a,
                               const struct route **same_path);

/* Whether every route of table is well formed: at most ROUTE_MAX_PARAMS
 * parameters, a * only at the end, a handler, and an action other than
 * ACT_ANYONE exactly when R_LOGIN is set (else the anonymous would get a
 * 403 instead of the login page), no session asked of an R_NO_SESSION
 * route. Checked once at start. */
bool route_table_valid(const struct route *table);

#endif
