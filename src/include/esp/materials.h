/*
 * What each applicant kind hands in, as the operation manual lists it: the
 * one table behind the printed form's 填表说明 (HTML and PDF), the payment
 * page's 申请材料 and the RA's materials checklist, so the three never
 * disagree.
 */
#ifndef ESP_MATERIALS_H
#define ESP_MATERIALS_H

#include "esp/registration.h"

#define MATERIALS_MAX 4

struct materials {
	const char *items[MATERIALS_MAX]; /* the manual's list, in its order; NULL ends it */
	const char *submit_to; /* 所在省的数字证书注册机构 / 所在省的培训机构 */
	const char *first_copy;  /* the form's 第一联: 注册机构留存 / 培训机构留存 */
	const char *second_copy; /* 第二联: 申请单位留存 / 申请人留存 */
	const char *sign;        /* how the form is signed: 签名并加盖部门章 ... */
	const char *party;       /* 申请单位 / 申请人 */
};

/* The row of kind k; NULL for KIND_NONE. */
const struct materials *materials_of(enum reg_kind k);
/* The same by kind name ("authority" ...); NULL if unknown. */
const struct materials *materials_of_name(const char *kind);
/* The form's 填表说明 for kind k, built from its row (malloc'ed; NULL for an
 * unknown kind). */
char *materials_form_notes(enum reg_kind k);

#endif
