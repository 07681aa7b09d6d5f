/* espd's request limits: configuration, reservation and the 429/503 answers. */
#include "throttle.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static struct throttle_config conf;

void throttle_init(const struct esp_config *cfg)
{
	conf = (struct throttle_config){
	    .login_failures_per_account = (int)config_get_long(cfg, "login_failures_per_account"),
	    .login_failures_per_address = (int)config_get_long(cfg, "login_failures_per_address"),
	    .login_checks_per_second = (int)config_get_long(cfg, "login_checks_per_second"),
	    .registrations_per_address_hour =
	        (int)config_get_long(cfg, "registrations_per_address_hour"),
	    .challenges_per_address_minute =
	        (int)config_get_long(cfg, "challenges_per_address_minute"),
	    .challenges_max = (int)config_get_long(cfg, "challenges_max"),
	    .scans_per_account_minute = (int)config_get_long(cfg, "scans_per_account_minute"),
	    .scans_unreferenced_hours = (int)config_get_long(cfg, "scans_unreferenced_hours"),
	};
}

const struct throttle_config *throttle_config(void)
{
	return &conf;
}

struct login_limits throttle_login_limits(const struct request *r)
{
	return (struct login_limits){
	    .per_user_address = r->srv->limits.login_max_failures,
	    .per_user = conf.login_failures_per_account,
	    .per_address = conf.login_failures_per_address,
	    .window_seconds = r->srv->limits.login_lockout_seconds,
	    .checks_per_second = conf.login_checks_per_second,
	};
}

const char *throttle_client(struct request *r)
{
	struct in6_addr a;
	if (inet_pton(AF_INET6, r->client_addr, &a) != 1)
		return r->client_addr;
	char text[INET6_ADDRSTRLEN];
	if (IN6_IS_ADDR_V4MAPPED(&a)) {
		inet_ntop(AF_INET, a.s6_addr + 12, text, sizeof text);
		return arena_strdup(r->arena, text);
	}
	memset(a.s6_addr + 8, 0, 8);
	inet_ntop(AF_INET6, &a, text, sizeof text);
	return arena_printf(r->arena, "%s/64", text);
}

const char *throttle_wait_text(struct request *r, int64_t s)
{
	if (s < 1)
		s = 1;
	if (s < 60)
		return arena_printf(r->arena, "%lld秒", (long long)s);
	if (s < 3600)
		return arena_printf(r->arena, "%lld分钟", (long long)((s + 59) / 60));
	return arena_printf(r->arena, "%lld小时", (long long)((s + 3599) / 3600));
}

void throttle_refuse(struct request *r, int status, int64_t retry_after, const char *what,
                     bool json)
{
	if (retry_after < 1)
		retry_after = 1;
	req_header(r, "Retry-After", arena_printf(r->arena, "%lld", (long long)retry_after));
	const char *msg = status == 503 ? arena_printf(r->arena, "系统繁忙：%s，请%s后再试。", what,
	                                               throttle_wait_text(r, retry_after))
	                                : arena_printf(r->arena, "%s，请%s后再试。", what,
	                                               throttle_wait_text(r, retry_after));
	if (json)
		reply_json_error(r, status, status == 503 ? "busy" : "too_many_requests", msg);
	else
		render_message(r, status, status == 503 ? "系统繁忙" : "操作过于频繁", msg);
}

bool throttle_allow(struct request *r, const char *key, int limit, int window_seconds,
                    const char *what, bool json, struct ratelimit_verdict *out)
{
	struct ratelimit_verdict v;
	enum db_status st = ratelimit_reserve(req_db(r), key, limit, window_seconds, &v);
	if (st == DB_RETRY) {
		/* The store stayed busy past the reservation's budget: nothing is
		 * wrong with the request, the client may send it again. */
		log_info("req=%llu %s: reservation %s found the store busy, answered 503",
		         (unsigned long long)r->id, r->path, key);
		req_header(r, "Retry-After", "1");
		if (json)
			reply_json_error(r, 503, "busy", "系统繁忙，请1秒后再试。");
		else
			render_message(r, 503, "系统繁忙", "系统繁忙，请1秒后再试。");
		return false;
	}
	if (st != DB_OK) {
		if (json)
			reply_json_error(r, 500, "internal", "系统内部错误，请稍后重试");
		else
			reply_server_error(r, "rate limit reservation failed");
		return false;
	}
	if (out)
		*out = v;
	if (v.allowed)
		return true;
	log_info("req=%llu %s refused: %s over %d per %ds", (unsigned long long)r->id, r->path, key,
	         limit, window_seconds);
	throttle_refuse(r, 429, v.retry_after, what, json);
	return false;
}
