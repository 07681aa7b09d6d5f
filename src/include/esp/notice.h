/*
 * One outbox row as words (render/notice.c): the template mail_<kind> over
 * the row's facts. Its first line is the subject, the rest the body (plain
 * text). The mail worker sends it; the applicant's pages show the subject
 * as a notice, so both say the same thing.
 */
#ifndef ESP_NOTICE_H
#define ESP_NOTICE_H

#include <jansson.h>

#include "esp/template.h"

/* params: the row's JSON object; site: ESP's public address for links (may
 * be NULL). Returns 0 with *subject and *body malloc'ed (the subject on one
 * line, without control characters), or -1 (unknown template, bad JSON). */
int notice_render(const struct tpl_set *set, const char *kind, const char *params, const char *site,
                  char **subject, char **body);

#endif
