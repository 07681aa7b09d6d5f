/*
 * token_p11.c - PKCS#11 access of the token library (esp-token and the
 * desktop window 证书管理工具).
 *
 * libp11 loads the module, enumerates the slots and hands out private keys as
 * EVP_PKEY.  Everything libp11 cannot do well (EC key generation, exact
 * CKR_* codes of C_Login / C_SetPIN, certificate attributes) goes through the
 * raw function list of the same, already initialised module: we dlopen() the
 * module a second time (which only takes a reference) and call
 * C_GetFunctionList.  We never call C_Initialize / C_Finalize ourselves.
 */
#include "token.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *tok_ckr_text(CK_RV rv)
{
	switch (rv) {
	case CKR_OK:
		return "成功";
	case CKR_PIN_INCORRECT:
		return "PIN码错误 (CKR_PIN_INCORRECT)";
	case CKR_PIN_LOCKED:
		return "PIN码已锁定 (CKR_PIN_LOCKED)";
	case CKR_PIN_LEN_RANGE:
		return "PIN码长度不符合证书U盘要求 (CKR_PIN_LEN_RANGE)";
	case CKR_PIN_INVALID:
		return "PIN码含有不允许的字符 (CKR_PIN_INVALID)";
	case CKR_USER_NOT_LOGGED_IN:
		return "未登录 (CKR_USER_NOT_LOGGED_IN)";
	case CKR_USER_PIN_NOT_INITIALIZED:
		return "用户PIN码尚未设置 (CKR_USER_PIN_NOT_INITIALIZED)";
	case CKR_TOKEN_NOT_PRESENT:
		return "证书U盘未插入 (CKR_TOKEN_NOT_PRESENT)";
	case CKR_DEVICE_REMOVED:
		return "证书U盘已拔出 (CKR_DEVICE_REMOVED)";
	case CKR_DEVICE_MEMORY:
		return "证书U盘存储空间不足 (CKR_DEVICE_MEMORY)";
	case CKR_TOKEN_WRITE_PROTECTED:
		return "证书U盘写保护 (CKR_TOKEN_WRITE_PROTECTED)";
	case CKR_MECHANISM_INVALID:
		return "证书U盘不支持该算法 (CKR_MECHANISM_INVALID)";
	case CKR_TEMPLATE_INCONSISTENT:
		return "属性模板不一致 (CKR_TEMPLATE_INCONSISTENT)";
	case CKR_ATTRIBUTE_VALUE_INVALID:
		return "属性值无效 (CKR_ATTRIBUTE_VALUE_INVALID)";
	case CKR_ATTRIBUTE_TYPE_INVALID:
		return "属性类型无效 (CKR_ATTRIBUTE_TYPE_INVALID)";
	case CKR_SESSION_READ_ONLY:
		return "只读会话 (CKR_SESSION_READ_ONLY)";
	case CKR_USER_TYPE_INVALID:
		return "用户类型无效 (CKR_USER_TYPE_INVALID)";
	case CKR_DEVICE_ERROR:
		return "设备错误 (CKR_DEVICE_ERROR)";
	case CKR_GENERAL_ERROR:
		return "一般错误 (CKR_GENERAL_ERROR)";
	case CKR_FUNCTION_FAILED:
		return "操作失败 (CKR_FUNCTION_FAILED)";
	default:
		return "PKCS#11 错误";
	}
}

static void p11_error(const char *what, CK_RV rv)
{
	tok_err("%s失败：%s [CKR 0x%lx]", what, tok_ckr_text(rv), (unsigned long)rv);
}

char *tok_p11_string(const unsigned char *p, size_t n)
{
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\0'))
		n--;
	char *s = tok_xmalloc(n + 1);
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

int tok_load(struct tok_ctx *t, const char *module)
{
	memset(t, 0, sizeof *t);
	t->h = CK_INVALID_HANDLE;
	if (!module) {
		tok_err("没有找到 PKCS#11 模块；请用 --module 指定");
		return TOK_EXIT_USAGE;
	}
	if (access(module, R_OK) != 0) {
		tok_err("PKCS#11 模块 %s 不存在或不可读", module);
		return TOK_EXIT_TOKEN;
	}
	t->ctx = PKCS11_CTX_new();
	if (!t->ctx) {
		tok_err("libp11 初始化失败");
		return TOK_EXIT_TOKEN;
	}
	if (PKCS11_CTX_load(t->ctx, module) != 0) {
		tok_err("无法加载 PKCS#11 模块 %s", module);
		PKCS11_CTX_free(t->ctx);
		t->ctx = NULL;
		return TOK_EXIT_TOKEN;
	}
	t->dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);
	CK_C_GetFunctionList get = NULL;
	if (t->dl)
		*(void **)&get = dlsym(t->dl, "C_GetFunctionList");
	if (!get || get(&t->f) != CKR_OK || !t->f) {
		tok_err("PKCS#11 模块 %s 没有 C_GetFunctionList", module);
		tok_unload(t);
		return TOK_EXIT_TOKEN;
	}
	if (PKCS11_enumerate_slots(t->ctx, &t->slots, &t->nslots) != 0) {
		/* OpenSC says this when no reader is attached or pcscd is not
		 * running: name the module tried and how to choose another. */
		tok_err("无法列出 PKCS#11 插槽 (slots)：使用的模块是 %s。请确认证书U盘已插入、"
		        "读卡器服务 (pcscd) 已运行；证书U盘使用厂商提供的模块时，请用 --module "
		        "模块路径 指定（或写入 esp-token.conf 的 module =）",
		        module);
		t->slots = NULL;
		t->nslots = 0;
		tok_unload(t);
		return TOK_EXIT_TOKEN;
	}
	return TOK_EXIT_OK;
}

static bool usable(PKCS11_SLOT *s)
{
	return s->token && s->token->initialized;
}

int tok_select(struct tok_ctx *t, const char *which)
{
	PKCS11_SLOT *found = NULL;
	unsigned int count = 0;
	for (unsigned int i = 0; i < t->nslots; i++) {
		PKCS11_SLOT *s = &t->slots[i];
		if (!usable(s))
			continue;
		if (which && strcmp(which, s->token->label) != 0 &&
		    strcmp(which, s->token->serialnr) != 0)
			continue;
		count++;
		if (!found)
			found = s;
	}
	if (count == 0) {
		if (which)
			tok_err("没有找到标签 (label) 或序列号 (serial) 为“%s”的证书U盘", which);
		else
			tok_err("没有找到证书U盘 (token)；请插入证书U盘");
		return TOK_EXIT_TOKEN;
	}
	if (count > 1) {
		tok_err("有多个证书U盘%s，请用 --token 标签或序列号 选择其中一个：",
		        which ? "符合条件" : "");
		for (unsigned int i = 0; i < t->nslots; i++) {
			PKCS11_SLOT *s = &t->slots[i];
			if (usable(s))
				tok_note("标签 %s  序列号 %s", s->token->label, s->token->serialnr);
		}
		return TOK_EXIT_USAGE;
	}
	t->slot = found;
	t->slot_id = PKCS11_get_slotid_from_slot(found);
	return TOK_EXIT_OK;
}

int tok_open_session(struct tok_ctx *t, bool rw)
{
	CK_FLAGS fl = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);
	CK_RV rv = t->f->C_OpenSession(t->slot_id, fl, NULL, NULL, &t->h);
	if (rv != CKR_OK) {
		t->h = CK_INVALID_HANDLE;
		p11_error("打开会话 (C_OpenSession)", rv);
		return TOK_EXIT_TOKEN;
	}
	return TOK_EXIT_OK;
}

int tok_token_info(struct tok_ctx *t, CK_SLOT_ID id, CK_TOKEN_INFO *info)
{
	CK_RV rv = t->f->C_GetTokenInfo(id, info);
	if (rv != CKR_OK) {
		p11_error("读取证书U盘信息 (C_GetTokenInfo)", rv);
		return TOK_EXIT_TOKEN;
	}
	return TOK_EXIT_OK;
}

const char *tok_pin_flags_hint(CK_FLAGS flags, bool so)
{
	CK_FLAGS locked = so ? CKF_SO_PIN_LOCKED : CKF_USER_PIN_LOCKED;
	CK_FLAGS final = so ? CKF_SO_PIN_FINAL_TRY : CKF_USER_PIN_FINAL_TRY;
	CK_FLAGS low = so ? CKF_SO_PIN_COUNT_LOW : CKF_USER_PIN_COUNT_LOW;
	if (flags & locked)
		return "证书U盘报告：PIN码已锁定 (PIN locked)";
	if (flags & final)
		return "证书U盘报告：只剩最后一次机会 (final try)，再错将被锁定";
	if (flags & low)
		return "证书U盘报告：剩余重试次数不多 (PIN count low)；证书U盘不提供具体次数";
	return "证书U盘未报告剩余重试次数；多次输错可能导致锁定";
}

void tok_print_pin_flags(CK_FLAGS flags, bool so)
{
	tok_note("%s", tok_pin_flags_hint(flags, so));
}

static const char LOCKED_MSG[] = "证书U盘已锁定，请联系数字证书注册机构解锁（密码解锁）";

int tok_login(struct tok_ctx *t, CK_USER_TYPE who, const char *pin)
{
	bool so = who == CKU_SO;
	CK_RV rv = t->f->C_Login(t->h, who, (CK_UTF8CHAR_PTR)pin, (CK_ULONG)strlen(pin));
	if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) {
		t->logged_in = true;
		return TOK_EXIT_OK;
	}
	CK_TOKEN_INFO info;
	CK_FLAGS flags = 0;
	if (t->f->C_GetTokenInfo(t->slot_id, &info) == CKR_OK)
		flags = info.flags;
	if (rv == CKR_PIN_LOCKED ||
	    (rv == CKR_PIN_INCORRECT && (flags & (so ? CKF_SO_PIN_LOCKED : CKF_USER_PIN_LOCKED)))) {
		if (so)
			tok_err("管理员PIN码 (SO PIN) 已锁定，证书U盘无法解锁");
		else
			tok_err("%s", LOCKED_MSG);
		return TOK_EXIT_PIN_LOCKED;
	}
	if (rv == CKR_PIN_INCORRECT) {
		tok_err("%s", so ? "管理员PIN码 (SO PIN) 错误" : "PIN码错误");
		tok_print_pin_flags(flags, so);
		return TOK_EXIT_PIN_WRONG;
	}
	p11_error(so ? "管理员登录 (C_Login CKU_SO)" : "登录 (C_Login)", rv);
	return TOK_EXIT_TOKEN;
}

int tok_pin_result(struct tok_ctx *t, CK_RV rv, const char *what)
{
	if (rv == CKR_OK)
		return TOK_EXIT_OK;
	CK_TOKEN_INFO info;
	CK_FLAGS flags = 0;
	if (t->f->C_GetTokenInfo(t->slot_id, &info) == CKR_OK)
		flags = info.flags;
	if (rv == CKR_PIN_LOCKED || (rv == CKR_PIN_INCORRECT && (flags & CKF_USER_PIN_LOCKED))) {
		tok_err("%s", LOCKED_MSG);
		return TOK_EXIT_PIN_LOCKED;
	}
	if (rv == CKR_PIN_INCORRECT) {
		tok_err("PIN码错误");
		tok_print_pin_flags(flags, false);
		return TOK_EXIT_PIN_WRONG;
	}
	if (rv == CKR_PIN_LEN_RANGE || rv == CKR_PIN_INVALID) {
		p11_error(what, rv);
		return TOK_EXIT_USAGE;
	}
	p11_error(what, rv);
	return TOK_EXIT_TOKEN;
}

void tok_unload(struct tok_ctx *t)
{
	if (t->f && t->h != CK_INVALID_HANDLE) {
		if (t->logged_in)
			t->f->C_Logout(t->h);
		t->f->C_CloseSession(t->h);
	}
	t->h = CK_INVALID_HANDLE;
	t->logged_in = false;
	if (t->ctx) {
		if (t->slots)
			PKCS11_release_all_slots(t->ctx, t->slots, t->nslots);
		PKCS11_CTX_unload(t->ctx);
		PKCS11_CTX_free(t->ctx);
	}
	if (t->dl)
		dlclose(t->dl);
	memset(t, 0, sizeof *t);
	t->h = CK_INVALID_HANDLE;
}

int tok_get_attr(struct tok_ctx *t, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, unsigned char **val,
                 size_t *len)
{
	CK_ATTRIBUTE a = {type, NULL, 0};
	if (t->f->C_GetAttributeValue(t->h, o, &a, 1) != CKR_OK ||
	    a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
		return -1;
	*val = tok_xmalloc(a.ulValueLen + 1);
	a.pValue = *val;
	if (t->f->C_GetAttributeValue(t->h, o, &a, 1) != CKR_OK) {
		free(*val);
		*val = NULL;
		return -1;
	}
	(*val)[a.ulValueLen] = 0;
	*len = a.ulValueLen;
	return 0;
}

int tok_find_certs(struct tok_ctx *t, struct tok_cert **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (t->h == CK_INVALID_HANDLE && tok_open_session(t, false) != TOK_EXIT_OK)
		return TOK_EXIT_TOKEN;
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE ct = CKC_X_509;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof cls},
	    {CKA_CERTIFICATE_TYPE, &ct, sizeof ct},
	};
	CK_RV rv = t->f->C_FindObjectsInit(t->h, tmpl, 2);
	if (rv != CKR_OK) {
		p11_error("查找证书 (C_FindObjectsInit)", rv);
		return TOK_EXIT_TOKEN;
	}
	CK_OBJECT_HANDLE handles[256];
	CK_ULONG found = 0;
	rv = t->f->C_FindObjects(t->h, handles, 256, &found);
	t->f->C_FindObjectsFinal(t->h);
	if (rv != CKR_OK) {
		p11_error("查找证书 (C_FindObjects)", rv);
		return TOK_EXIT_TOKEN;
	}
	struct tok_cert *c = calloc(found ? found : 1, sizeof *c);
	if (!c)
		abort();
	size_t k = 0;
	for (CK_ULONG i = 0; i < found; i++) {
		unsigned char *v = NULL;
		size_t len = 0;
		if (tok_get_attr(t, handles[i], CKA_VALUE, &v, &len) != 0)
			continue;
		const unsigned char *p = v;
		X509 *x = d2i_X509(NULL, &p, (long)len);
		free(v);
		if (!x)
			continue;
		struct tok_cert *e = &c[k++];
		e->handle = handles[i];
		e->x509 = x;
		if (tok_get_attr(t, handles[i], CKA_ID, &v, &len) == 0) {
			if (len <= sizeof e->id) {
				memcpy(e->id, v, len);
				e->id_len = len;
			}
			free(v);
		}
		if (tok_get_attr(t, handles[i], CKA_LABEL, &v, &len) == 0) {
			size_t m = len < sizeof e->label - 1 ? len : sizeof e->label - 1;
			memcpy(e->label, v, m);
			e->label[m] = '\0';
			free(v);
		}
		if (tok_get_attr(t, handles[i], CKA_CERTIFICATE_CATEGORY, &v, &len) == 0) {
			if (len == sizeof(CK_ULONG))
				memcpy(&e->category, v, sizeof(CK_ULONG));
			free(v);
		}
	}
	*out = c;
	*n = k;
	return TOK_EXIT_OK;
}

void tok_certs_free(struct tok_cert *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		X509_free(c[i].x509);
	free(c);
}

int tok_choose_cert(struct tok_cert *c, size_t n, const char *id_hex, const char *label)
{
	unsigned char id[64];
	size_t id_len = 0;
	if (id_hex && tok_unhex(id_hex, id, sizeof id, &id_len) != 0) {
		tok_err("--id 必须是十六进制 (hex)，例如 --id 01");
		return -2;
	}
	int pick = -1, count = 0;
	for (size_t i = 0; i < n; i++) {
		bool match;
		if (id_hex)
			match = c[i].id_len == id_len && memcmp(c[i].id, id, id_len) == 0;
		else if (label)
			match = strcmp(c[i].label, label) == 0;
		else
			match = c[i].id_len > 0 && c[i].category != 2;
		if (match) {
			count++;
			if (pick < 0)
				pick = (int)i;
		}
	}
	if (count == 1)
		return pick;
	if (count == 0) {
		if (id_hex || label)
			tok_err("证书U盘上没有符合条件的证书");
		else
			tok_err("证书U盘上没有用户证书 (user certificate)");
		return -1;
	}
	tok_err("证书U盘上有多个符合条件的证书，请用 --id 或 --label 选择：");
	for (size_t i = 0; i < n; i++) {
		char *h = tok_hex(c[i].id, c[i].id_len);
		tok_note("--id %s  --label %s", c[i].id_len ? h : "(无)", c[i].label);
		free(h);
	}
	return -1;
}

PKCS11_KEY *tok_find_p11_key(struct tok_ctx *t, const unsigned char *id, size_t id_len)
{
	PKCS11_KEY *keys = NULL;
	unsigned int n = 0;
	if (PKCS11_enumerate_keys(t->slot->token, &keys, &n) != 0) {
		tok_err("无法列出证书U盘上的私钥 (private keys)");
		return NULL;
	}
	for (unsigned int i = 0; i < n; i++)
		if (keys[i].id_len == id_len && memcmp(keys[i].id, id, id_len) == 0)
			return &keys[i];
	return NULL;
}
