/* espd's listeners and the libmicrohttpd callbacks. */
#ifndef ESPD_SERVER_H
#define ESPD_SERVER_H

#include "httpd.h"

struct listener_ctx {
	struct server *srv;
	enum listener kind;
	struct MHD_Daemon *daemon;
};

enum MHD_Result server_access(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls);
void server_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                      enum MHD_RequestTerminationCode toe);

#endif
