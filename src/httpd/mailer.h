/*
 * espd's mail worker (mailer.c): started after the store is open, stopped
 * before it closes. A NULL from mailer_start is logged; espd runs on and
 * the messages wait in the outbox.
 */
#ifndef ESP_MAILER_H
#define ESP_MAILER_H

struct server;
struct mailer;

struct mailer *mailer_start(struct server *srv);
/* Waits for the message being sent, if any (at most smtp_timeout_seconds). */
void mailer_stop(struct mailer *m);

#endif
