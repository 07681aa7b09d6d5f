/* The application both benchmarks render (bench/pdf_bench.c, bench/appform_html.c). */
#ifndef ESP_BENCH_SAMPLE_FORM_H
#define ESP_BENCH_SAMPLE_FORM_H

#include "esp/appform.h"

static const struct appform bench_unit_form = {
    .personal = false,
    .kind = "enterprise",
    .number = "ESP-2026-000123",
    .business_type = "初次办理",
    .date = "2026-01-05",
    .unit_name = "厦门海峡旅游客运有限公司",
    .unit_code = "91350200776049653A",
    .legal_rep = "陈建国",
    .contact_name = "林晓红",
    .contact_id_number = "11010519491231002X",
    .phone = "0592-5551234",
    .mobile = "13912345678",
    .email = "linxiaohong@xmhxky.example.com",
    .address = "福建省厦门市思明区软件园二期观日路四十四号创新大厦B座十八层1801室"
               "（邮件请寄交通运输安全生产标准化工作办公室收）",
    .postcode = "361008",
    .keys = 2,
    .invoice_title = "厦门海峡旅游客运有限公司",
    .taxpayer_id = "91350200776049653A",
    .amount_yuan = 1320,
};

static const struct appform bench_person_form = {
    .personal = true,
    .kind = "evaluator",
    .number = "ESP-2026-000777",
    .business_type = "更新",
    .date = "2026-03-15",
    .person_name = "王志强",
    .id_type = "居民身份证",
    .id_number = "440524188001015368",
    .mobile = "13800138000",
    .email = "wzq@example.org",
    .address = "福建省厦门市思明区软件园二期观日路四十四号",
    .postcode = "361008",
    .work_unit = "福建省交通运输安全生产考评中心",
    .department = "考评一部",
};

#endif
