/*
 * Routing: which route of the table answers a method and path, and with
 * which {} parameters. dispatch (server.c) calls it once per request.
 */
#include "router.h"

#include <assert.h>
#include <string.h>

bool route_match(const char *pattern, const char *path, const char *params[ROUTE_MAX_PARAMS],
                 struct arena *a)
{
	int np = 0;
	while (*pattern && *path) {
		if (pattern[0] == '{' && pattern[1] == '}') {
			/* More {} than slots is a bug of the table, not input. */
			assert(np < ROUTE_MAX_PARAMS);
			const char *end = strchr(path, '/');
			size_t n = end ? (size_t)(end - path) : strlen(path);
			if (n == 0 || np >= ROUTE_MAX_PARAMS)
				return false;
			params[np++] = arena_strndup(a, path, n);
			path += n;
			pattern += 2;
		} else if (*pattern == '*') {
			assert(np < ROUTE_MAX_PARAMS && pattern[1] == '\0');
			if (np >= ROUTE_MAX_PARAMS)
				return false;
			params[np++] = path;
			return true;
		} else if (*pattern++ != *path++) {
			return false;
		}
	}
	return !*pattern && !*path;
}

static bool method_fits(const char *route_method, const char *method)
{
	return strcmp(route_method, method) == 0 ||
	       (strcmp(route_method, "GET") == 0 && strcmp(method, "HEAD") == 0);
}

/* The last answer of each thread for a method and path that took no
 * parameters: a kept-alive client asks for the same page again and again,
 * and the scan of the table (over twenty patterns before the reviewers'
 * queue) is then a string comparison. The tables are constant. */
#define MEMO_PATH 96
static _Thread_local struct {
	const struct route *table, *found, *same;
	char method[8];
	char path[MEMO_PATH];
} memo;

static const struct route *scan(const struct route *table, const char *method, const char *path,
                                const char *params[ROUTE_MAX_PARAMS], struct arena *a,
                                const struct route **same_path)
{
	*same_path = NULL;
	for (const struct route *rt = table; rt->method; rt++) {
		const char *p[ROUTE_MAX_PARAMS] = {0};
		if (!route_match(rt->pattern, path, p, a))
			continue;
		if (!*same_path)
			*same_path = rt;
		if (method_fits(rt->method, method)) {
			memcpy(params, p, sizeof p);
			return rt;
		}
	}
	return NULL;
}

const struct route *route_find(const struct route *table, const char *method, const char *path,
                               const char *params[ROUTE_MAX_PARAMS], struct arena *a,
                               const struct route **same_path)
{
	size_t nm = strlen(method), np = strlen(path);
	bool memo_fits = nm < sizeof memo.method && np < sizeof memo.path;
	if (memo_fits && memo.table == table && strcmp(memo.method, method) == 0 &&
	    strcmp(memo.path, path) == 0) {
		for (int i = 0; i < ROUTE_MAX_PARAMS; i++)
			params[i] = NULL;
		if (same_path)
			*same_path = memo.same;
		return memo.found;
	}
	const struct route *same = NULL;
	const char *p[ROUTE_MAX_PARAMS] = {0};
	const struct route *found = scan(table, method, path, p, a, &same);
	if (found)
		memcpy(params, p, sizeof p);
	if (same_path)
		*same_path = same;
	bool no_params = true;
	for (int i = 0; i < ROUTE_MAX_PARAMS; i++)
		no_params = no_params && !p[i];
	if (memo_fits && no_params) {
		memo.table = table;
		memcpy(memo.method, method, nm + 1);
		memcpy(memo.path, path, np + 1);
		memo.found = found;
		memo.same = same;
	}
	return found;
}

static bool pattern_valid(const char *p)
{
	if (*p != '/')
		return false;
	int n = 0;
	for (; *p; p++) {
		if (p[0] == '{') {
			if (p[1] != '}')
				return false;
			n++;
		} else if (p[0] == '*') {
			if (p[1] != '\0')
				return false;
			n++;
		}
	}
	return n <= ROUTE_MAX_PARAMS;
}

bool route_table_valid(const struct route *table)
{
	for (const struct route *rt = table; rt->method; rt++) {
		if (!rt->pattern || !rt->fn || !pattern_valid(rt->pattern))
			return false;
		if (strcmp(rt->method, "GET") != 0 && strcmp(rt->method, "POST") != 0)
			return false;
		bool login = rt->flags & R_LOGIN;
		if (login != (rt->action != ACT_ANYONE))
			return false;
		if ((rt->flags & (R_HOLDER | R_ELSE_HOME)) && !login)
			return false;
		if ((rt->flags & R_NO_SESSION) && login)
			return false;
	}
	return true;
}
