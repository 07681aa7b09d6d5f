/*
 * An in-process espd for fuzz targets: the real libmicrohttpd callbacks of
 * src/httpd/server.c (server_access, server_completed), the real route table
 * and handlers, driven over a socketpair without a listening socket.
 */
#ifndef ESP_FUZZ_HTTP_H
#define ESP_FUZZ_HTTP_H

#include <stdbool.h>
#include <stddef.h>

/* Starts the server once per process, as espd's main() does, with the
 * default configuration and a SQLite store in a temporary directory
 * (removed at exit) that holds one RA account with an API token
 * (fuzz_http_token()). */
void fuzz_http_init(void);
const char *fuzz_http_token(void);

/* Sends `head` (the request line and headers, each ending in CRLF, without
 * the blank line and without Content-Length, which is added) and `body`,
 * then reads the reply to its end.  Returns the HTTP status of the reply;
 * aborts when no status line comes back, since espd must answer every
 * complete request. */
int fuzz_http_request(const char *head, const void *body, size_t len);

#endif
