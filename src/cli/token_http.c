/*
 * token_http.c - JSON over HTTP(S) for esp-token and the desktop window
 * (libcurl + jansson).
 *
 * HTTPS always verifies the server certificate and host name (libcurl's
 * default trust store, or --ca-file).  Plain http:// is accepted only for a
 * loopback address (local tests), because the bearer token and the PIN-
 * protected key's signatures must not travel in clear text.
 */
#include "token_client.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#define TOK_HTTP_MAX_REPLY (1024 * 1024)

struct reply_buf {
	char *data;
	size_t len;
	bool too_big;
};

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
	struct reply_buf *b = ud;
	if (nmemb && size > SIZE_MAX / nmemb)
		return 0;
	size_t n = size * nmemb;
	if (n > TOK_HTTP_MAX_REPLY - b->len) {
		b->too_big = true;
		return 0;
	}
	char *nd = realloc(b->data, b->len + n + 1);
	if (!nd)
		return 0;
	b->data = nd;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

static bool is_loopback_host(const char *host, size_t n)
{
	static const char *const names[] = {"localhost", "127.0.0.1", "[::1]"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strlen(names[i]) == n && strncasecmp(host, names[i], n) == 0)
			return true;
	return false;
}

char *tok_server_base(const char *url)
{
	const char *host;
	bool https;
	if (strncasecmp(url, "https://", 8) == 0) {
		host = url + 8;
		https = true;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		host = url + 7;
		https = false;
	} else {
		tok_err("--server 必须以 https:// 开头：%s", url);
		return NULL;
	}
	size_t hl = strcspn(host, "/?#");
	if (hl == 0 || memchr(host, '@', hl)) {
		tok_err("--server 地址无效：%s", url);
		return NULL;
	}
	if (host[hl] == '?' || host[hl] == '#') {
		tok_err("--server 地址不能含有 ? 或 #：%s", url);
		return NULL;
	}
	if (!https) {
		/* strip the port, keeping "[::1]" intact */
		size_t name_len = hl;
		const char *colon = NULL;
		for (size_t i = 0; i < hl; i++)
			if (host[i] == ':')
				colon = host + i;
		if (colon && host[0] != '[')
			name_len = (size_t)(colon - host);
		else if (host[0] == '[') {
			const char *rb = memchr(host, ']', hl);
			name_len = rb ? (size_t)(rb - host) + 1 : hl;
		}
		if (!is_loopback_host(host, name_len)) {
			tok_err("不安全的地址 (plain HTTP)：只允许 https://，"
			        "http:// 仅用于本机测试 (localhost)");
			return NULL;
		}
	}
	char *base = tok_xstrdup(url);
	size_t n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		base[--n] = '\0';
	return base;
}

int tok_http_json(const struct tok_http *h, const char *url, const char *body, long *status,
                  json_t **reply)
{
	*status = 0;
	*reply = NULL;
	static bool global_done;
	if (!global_done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
			tok_err("libcurl 初始化失败");
			return TOK_EXIT_NETWORK;
		}
		global_done = true;
		atexit(curl_global_cleanup);
	}
	CURL *c = curl_easy_init();
	if (!c) {
		tok_err("libcurl 初始化失败");
		return TOK_EXIT_NETWORK;
	}
	struct reply_buf buf = {0};
	struct curl_slist *hdr = NULL;
	char *auth = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	hdr = curl_slist_append(hdr, "Accept: application/json");
	if (body)
		hdr = curl_slist_append(hdr, "Content-Type: application/json; charset=utf-8");
	if (h->bearer) {
		size_t n = strlen("Authorization: Bearer ") + strlen(h->bearer) + 1;
		auth = tok_xmalloc(n);
		snprintf(auth, n, "Authorization: Bearer %s", h->bearer);
		hdr = curl_slist_append(hdr, auth);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (h->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "esp-token/0.1");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &buf);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	CURLcode cr = curl_easy_perform(c);
	int rc = TOK_EXIT_OK;
	if (cr != CURLE_OK) {
		if (buf.too_big)
			tok_err("服务器的应答太大");
		else
			tok_err("无法连接服务器 %s：%s", url,
			        errbuf[0] ? errbuf : curl_easy_strerror(cr));
		rc = TOK_EXIT_NETWORK;
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
		if (buf.data) {
			json_error_t je;
			*reply = json_loadb(buf.data, buf.len, 0, &je);
		}
	}
	curl_easy_cleanup(c);
	curl_slist_free_all(hdr);
	if (auth) {
		tok_wipe(auth, strlen(auth));
		free(auth);
	}
	free(buf.data);
	return rc;
}

/* A copy of text from the server with control characters replaced. */
static char *clean_dup(const char *s)
{
	char *d = tok_xstrdup(s);
	for (unsigned char *p = (unsigned char *)d; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
	return d;
}

int tok_http_failure(long status, json_t *reply)
{
	const char *msg = reply ? json_string_value(json_object_get(reply, "message")) : NULL;
	const char *code = reply ? json_string_value(json_object_get(reply, "error")) : NULL;
	char *m = clean_dup(msg ? msg : "");
	char *c = clean_dup(code ? code : "");
	int rc;
	/* one fprintf: one line, written at once */
	if (status >= 400 && status < 500) {
		fprintf(stderr, "esp-token: 错误：服务器拒绝 (HTTP %ld)：%s%s%s%s\n", status,
		        msg ? m : "（无说明）", code ? " [" : "", c, code ? "]" : "");
		rc = TOK_EXIT_REFUSED;
	} else {
		fprintf(stderr, "esp-token: 错误：服务器出错 (HTTP %ld)%s%s\n", status,
		        msg ? "：" : "", m);
		rc = TOK_EXIT_NETWORK;
	}
	free(m);
	free(c);
	return rc;
}

char *tok_url_for(const char *base, const char *fmt, const char *arg)
{
	size_t n = strlen(base) + strlen(fmt) + strlen(arg) + 1;
	char *u = tok_xmalloc(n);
	int k = snprintf(u, n, "%s", base);
	snprintf(u + k, n - (size_t)k, fmt, arg);
	return u;
}

int tok_post_json(const char *ca_file, const char *url, const char *bearer, json_t *body,
                  json_t **reply)
{
	*reply = NULL;
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	if (!text) {
		tok_err("无法生成请求");
		return TOK_EXIT_USAGE;
	}
	struct tok_http h = {.ca_file = ca_file, .bearer = bearer};
	long status = 0;
	json_t *r = NULL;
	int rc = tok_http_json(&h, url, text, &status, &r);
	tok_wipe(text, strlen(text));
	free(text);
	if (rc == TOK_EXIT_OK && status != 200)
		rc = tok_http_failure(status, r);
	if (rc == TOK_EXIT_OK)
		*reply = r;
	else
		json_decref(r);
	return rc;
}
