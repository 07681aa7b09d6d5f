/*
 * token_cmd_browser.c - `esp-token setup-browser [--remove]`: Chromium and
 * Chrome on Linux read certificate keys and locally trusted CAs from the
 * user's NSS database ($HOME/.pki/nssdb), not from p11-kit or the system
 * trust store.  This adds the token's PKCS#11 module and the deployment's CA
 * chain (the client package's /usr/share/esp-client/ca-chain.pem, or
 * --ca-file) to it, creating the database if needed; --remove takes both out.
 *
 * The NSS tools (modutil, certutil from libnss3-tools) do the work: they are
 * run directly (no shell) with fixed arguments.
 */
#include "esp_token.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/pem.h>

extern char **environ;

#define MODULE_NAME "证书U盘 (esp-token)"
#define CA_NICK "ESP 证书U盘系统 CA"
#define PACKAGE_CHAIN "/usr/share/esp-client/ca-chain.pem"

/* Runs argv[0] (searched in PATH) with stdout and stderr to /dev/null unless
 * verbose. Returns its exit status, 127 if it could not be started. */
static int run(char *const argv[], bool quiet)
{
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	if (quiet) {
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	}
	pid_t pid;
	int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return 127;
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 126;
}

static bool module_listed(const char *db)
{
	char *argv[] = {"modutil", "-dbdir", (char *)db, "-list", MODULE_NAME, NULL};
	return run(argv, true) == 0;
}

/* $HOME/.pki/nssdb, created with an empty password if missing. */
static int open_db(char *db, size_t size, bool create)
{
	const char *home = getenv("HOME");
	if (!home || !home[0]) {
		tok_err("没有设置 HOME，找不到浏览器的证书数据库");
		return TOK_EXIT_USAGE;
	}
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/.pki/nssdb", home);
	snprintf(db, size, "sql:%s", dir);
	char probe[4200];
	snprintf(probe, sizeof probe, "%s/cert9.db", dir);
	if (access(probe, F_OK) == 0 || !create)
		return TOK_EXIT_OK;
	char pki[4096];
	snprintf(pki, sizeof pki, "%s/.pki", home);
	if ((mkdir(pki, 0700) != 0 && errno != EEXIST) ||
	    (mkdir(dir, 0700) != 0 && errno != EEXIST)) {
		tok_err("无法创建 %s：%s", dir, strerror(errno));
		return TOK_EXIT_USAGE;
	}
	char *argv[] = {"certutil", "-N", "-d", db, "--empty-password", NULL};
	int rc = run(argv, true);
	if (rc == 127) {
		tok_err(
		    "没有找到 certutil：请先安装 libnss3-tools（sudo apt install libnss3-tools）");
		return TOK_EXIT_USAGE;
	}
	if (rc != 0) {
		tok_err("无法创建浏览器的证书数据库 %s", dir);
		return TOK_EXIT_TOKEN;
	}
	return TOK_EXIT_OK;
}

/* Imports every certificate of the chain as a trusted CA (nick 1, 2, ...). */
static int import_chain(const char *db, const char *chain)
{
	FILE *fp = fopen(chain, "r");
	if (!fp) {
		tok_err("无法读取CA证书链 %s：%s", chain, strerror(errno));
		return TOK_EXIT_USAGE;
	}
	int n = 0, rc = TOK_EXIT_OK;
	X509 *x;
	while (rc == TOK_EXIT_OK && (x = PEM_read_X509(fp, NULL, NULL, NULL))) {
		char tmp[] = "/tmp/esp-token-ca.XXXXXX";
		int fd = mkstemp(tmp);
		FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
		if (!out || PEM_write_X509(out, x) != 1 || fclose(out) != 0) {
			tok_err("无法写入临时文件");
			rc = TOK_EXIT_USAGE;
		} else {
			char nick[128];
			snprintf(nick, sizeof nick, "%s %d", CA_NICK, ++n);
			char *argv[] = {"certutil", "-A",     "-d", (char *)db, "-n", nick,
			                "-t",       "CT,C,C", "-i", tmp,        NULL};
			if (run(argv, true) != 0) {
				tok_err("无法把CA证书导入浏览器的证书数据库");
				rc = TOK_EXIT_TOKEN;
			}
		}
		if (fd >= 0)
			unlink(tmp);
		X509_free(x);
	}
	fclose(fp);
	if (rc == TOK_EXIT_OK && n == 0) {
		tok_err("%s 中没有证书", chain);
		rc = TOK_EXIT_USAGE;
	}
	if (rc == TOK_EXIT_OK)
		printf("已信任本系统的CA证书（%d 个）。\n", n);
	return rc;
}

static int remove_all(const char *db)
{
	if (module_listed(db)) {
		char *argv[] = {"modutil",   "-dbdir", (char *)db, "-delete",
		                MODULE_NAME, "-force", NULL};
		if (run(argv, true) != 0) {
			tok_err("无法从浏览器的证书数据库中删除证书U盘模块");
			return TOK_EXIT_TOKEN;
		}
	}
	for (int i = 1; i <= 16; i++) {
		char nick[128];
		snprintf(nick, sizeof nick, "%s %d", CA_NICK, i);
		char *argv[] = {"certutil", "-D", "-d", (char *)db, "-n", nick, NULL};
		if (run(argv, true) != 0)
			break;
	}
	printf("已从浏览器的证书数据库中删除证书U盘模块和本系统的CA证书。\n");
	return TOK_EXIT_OK;
}

int tok_cmd_setup_browser(const struct tok_opts *o)
{
	char db[4200];
	int rc = open_db(db, sizeof db, !o->remove);
	if (rc != TOK_EXIT_OK)
		return rc;
	if (o->remove)
		return remove_all(db);
	if (!o->module) {
		tok_err("没有找到 PKCS#11 模块；请用 --module 指定");
		return TOK_EXIT_USAGE;
	}
	if (access(o->module, R_OK) != 0) {
		tok_err("PKCS#11 模块 %s 不存在或不可读", o->module);
		return TOK_EXIT_TOKEN;
	}
	if (module_listed(db)) {
		printf("浏览器的证书数据库中已有证书U盘模块。\n");
	} else {
		char *argv[] = {"modutil",  "-dbdir",          db,       "-add", MODULE_NAME,
		                "-libfile", (char *)o->module, "-force", NULL};
		int r = run(argv, true);
		if (r == 127) {
			tok_err("没有找到 modutil：请先安装 libnss3-tools（sudo apt install "
			        "libnss3-tools）");
			return TOK_EXIT_USAGE;
		}
		if (r != 0) {
			tok_err("无法把证书U盘模块 %s 加入浏览器的证书数据库", o->module);
			return TOK_EXIT_TOKEN;
		}
		printf("已把证书U盘模块加入浏览器的证书数据库（%s）。\n", db + 4);
	}
	const char *chain = o->ca_file;
	if (!chain && access(PACKAGE_CHAIN, R_OK) == 0)
		chain = PACKAGE_CHAIN;
	if (chain)
		rc = import_chain(db, chain);
	if (rc == TOK_EXIT_OK)
		printf("请重新启动 Chromium 或 Chrome 浏览器，然后插入证书U盘登录。\n");
	return rc;
}
