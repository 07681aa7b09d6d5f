/*
 * The base data every ESP starts with: provinces (GB/T 2260) with
 * 新疆生产建设兵团, and the authority tree 交通运输部 → provincial authorities,
 * with 长江航务管理局 and 珠江航务管理局 under the ministry.
 */
#include "esp/seed.h"
#include "esp/audit.h"
#include "esp/authority.h"

#include <string.h>

static const struct {
	const char *code, *name, *authority;
} provinces[] = {
    {"11", "北京市", "北京市交通委员会"},
    {"12", "天津市", "天津市交通运输委员会"},
    {"13", "河北省", "河北省交通运输厅"},
    {"14", "山西省", "山西省交通运输厅"},
    {"15", "内蒙古自治区", "内蒙古自治区交通运输厅"},
    {"21", "辽宁省", "辽宁省交通运输厅"},
    {"22", "吉林省", "吉林省交通运输厅"},
    {"23", "黑龙江省", "黑龙江省交通运输厅"},
    {"31", "上海市", "上海市交通委员会"},
    {"32", "江苏省", "江苏省交通运输厅"},
    {"33", "浙江省", "浙江省交通运输厅"},
    {"34", "安徽省", "安徽省交通运输厅"},
    {"35", "福建省", "福建省交通运输厅"},
    {"36", "江西省", "江西省交通运输厅"},
    {"37", "山东省", "山东省交通运输厅"},
    {"41", "河南省", "河南省交通运输厅"},
    {"42", "湖北省", "湖北省交通运输厅"},
    {"43", "湖南省", "湖南省交通运输厅"},
    {"44", "广东省", "广东省交通运输厅"},
    {"45", "广西壮族自治区", "广西壮族自治区交通运输厅"},
    {"46", "海南省", "海南省交通运输厅"},
    {"50", "重庆市", "重庆市交通运输委员会"},
    {"51", "四川省", "四川省交通运输厅"},
    {"52", "贵州省", "贵州省交通运输厅"},
    {"53", "云南省", "云南省交通运输厅"},
    {"54", "西藏自治区", "西藏自治区交通运输厅"},
    {"61", "陕西省", "陕西省交通运输厅"},
    {"62", "甘肃省", "甘肃省交通运输厅"},
    {"63", "青海省", "青海省交通运输厅"},
    {"64", "宁夏回族自治区", "宁夏回族自治区交通运输厅"},
    {"65", "新疆维吾尔自治区", "新疆维吾尔自治区交通运输厅"},
    /* No GB/T 2260 code exists for the 兵团; "66" must never be used. */
    {"XJBT", "新疆生产建设兵团", "新疆生产建设兵团交通运输局"},
};

static enum db_status seed_tx(db_conn *c, void *arg)
{
	(void)arg;
	enum db_status st;
	for (size_t i = 0; i < sizeof provinces / sizeof provinces[0]; i++) {
		st =
		    DB_EXEC(c, "INSERT INTO provinces (code, name, sort) VALUES ($1, $2, $3)", NULL,
		            P_TEXT(provinces[i].code), P_TEXT(provinces[i].name), P_INT(i + 1));
		if (st != DB_OK)
			return st;
	}
	int64_t ministry = 0;
	st = authority_insert(c, 0, "交通运输部", NULL, "ministry", &ministry);
	if (st != DB_OK)
		return st;
	for (size_t i = 0; i < sizeof provinces / sizeof provinces[0] && st == DB_OK; i++)
		st = authority_insert(c, ministry, provinces[i].authority, provinces[i].code,
		                      "provincial", NULL);
	if (st == DB_OK)
		st = authority_insert(c, ministry, "长江航务管理局", NULL, "river", NULL);
	if (st == DB_OK)
		st = authority_insert(c, ministry, "珠江航务管理局", NULL, "river", NULL);
	if (st == DB_OK)
		st = audit_append(c, NULL, "system.init", "base", "", "provinces+authorities");
	return st;
}

enum db_status seed_base(db_conn *c)
{
	return db_transaction(c, seed_tx, NULL);
}

int64_t authority_by_name(db_conn *c, const char *name)
{
	db_result *r = NULL;
	int64_t id = 0;
	if (DB_EXEC(c, "SELECT id FROM authorities WHERE name = $1", &r, P_TEXT(name)) == DB_OK &&
	    r->nrows == 1)
		id = db_get_int(r, 0, 0, 0);
	db_result_free(r);
	return id;
}
