/*
 * The materials table (see esp/materials.h): the manual's 申请材料 for each
 * applicant kind.  主管机关 hand in the form with the 部门章 only; 考评机构
 * and 交通运输企业 the form with the 公章 and a stamped copy of the
 * 组织机构代码证; 考评员 the signed personal form and a copy of their ID,
 * given to the training institution, not posted to the RA.
 */
#include "esp/materials.h"
#include "esp/util.h"

#include <string.h>

static const struct materials table[KIND_COUNT] = {
    [KIND_AUTHORITY] = {{"《单位数字证书申请表》一份（加盖部门章）"},
                        "所在省的数字证书注册机构",
                        "注册机构留存",
                        "申请单位留存",
                        "请用黑色签字笔签名并加盖部门章",
                        "申请单位"},
    [KIND_AGENCY] = {{"《单位数字证书申请表》一份（加盖公章）",
                      "《组织机构代码证（副本）》复印件（加盖公章）"},
                     "所在省的数字证书注册机构",
                     "注册机构留存",
                     "申请单位留存",
                     "请用黑色签字笔签名并加盖公章",
                     "申请单位"},
    [KIND_ENTERPRISE] = {{"《单位数字证书申请表》一份（加盖公章）",
                          "《组织机构代码证（副本）》复印件（加盖公章）"},
                         "所在省的数字证书注册机构",
                         "注册机构留存",
                         "申请单位留存",
                         "请用黑色签字笔签名并加盖公章",
                         "申请单位"},
    [KIND_EVALUATOR] = {{"《个人数字证书申请表》一份（本人签字）", "个人有效身份证件复印件一份"},
                        "所在省的培训机构",
                        "培训机构留存",
                        "申请人留存",
                        "请用黑色签字笔签字",
                        "申请人"},
};

const struct materials *materials_of(enum reg_kind k)
{
	if ((int)k < 0 || (int)k >= KIND_COUNT)
		return NULL;
	return &table[k];
}

const struct materials *materials_of_name(const char *kind)
{
	return kind ? materials_of(kind_parse(kind)) : NULL;
}

/* Item 0 is the form itself; the others go with it ("连同…一并提交"). A kind
 * with nothing else (主管机关) is told so, since a unit expects to add copies. */
char *materials_form_notes(enum reg_kind k)
{
	const struct materials *m = materials_of(k);
	if (m == NULL)
		return NULL;
	char others[512] = "";
	for (int i = 1; i < MATERIALS_MAX && m->items[i]; i++) {
		if (i > 1)
			strncat(others, "、", sizeof others - strlen(others) - 1);
		strncat(others, m->items[i], sizeof others - strlen(others) - 1);
	}
	const char *first_to =
	    k == KIND_EVALUATOR ? "交所在省的培训机构" : "由数字证书注册机构留存";
	if (*others)
		return xasprintf("填表说明：1. 本表一式两联，第一联%s，第二联由%s留存。"
		                 "2. %s，连同%s一并提交%s。"
		                 "3. “受理审批”栏由数字证书注册机构填写，%s请勿填写。",
		                 first_to, m->party, m->sign, others, m->submit_to, m->party);
	return xasprintf("填表说明：1. 本表一式两联，第一联%s，第二联由%s留存。"
	                 "2. %s后提交%s，无需其他材料。"
	                 "3. “受理审批”栏由数字证书注册机构填写，%s请勿填写。",
	                 first_to, m->party, m->sign, m->submit_to, m->party);
}
