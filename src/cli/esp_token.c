/*
 * esp_token.c - main of esp-token (证书管理工具): option parsing, help texts,
 * the configuration file (module = ...) and dispatch to the commands.
 *
 * PINs and the API token are never taken from argv: only from files named by
 * --*-file options or from the terminal without echo.
 */
#include "esp_token.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOK_VERSION "0.1.0"

enum opt_bit {
	O_MODULE = 1 << 0,
	O_TOKEN = 1 << 1,
	O_PIN = 1 << 2,
	O_NEWPIN = 1 << 3,
	O_SOPIN = 1 << 4,
	O_API = 1 << 5,
	O_SERVER = 1 << 6,
	O_APP = 1 << 7,
	O_RSA = 1 << 8,
	O_CA = 1 << 9,
	O_ID = 1 << 10,
	O_LABEL = 1 << 11,
	O_OUT = 1 << 12,
	O_DER = 1 << 13,
	O_REMOVE = 1 << 14,
	O_REMOTE = 1 << 15,
	O_CODE = 1 << 16,
};

struct command {
	const char *name;
	int (*run)(const struct tok_opts *o);
	unsigned allowed;
	const char *usage;
	const char *help;
};

#define GLOBAL_OPTS (O_MODULE | O_TOKEN)

static const struct command commands[] = {
    {"list", tok_cmd_list, GLOBAL_OPTS, "list",
     "列出证书U盘 (tokens)：标签、制造商、序列号、PIN状态，以及其上的证书\n"
     "（主题、序列号、有效期、剩余天数；60天内过期时给出警告）。不需要PIN码。\n"},
    {"enroll", tok_cmd_enroll,
     GLOBAL_OPTS | O_SERVER | O_APP | O_RSA | O_CA | O_API | O_PIN | O_SOPIN,
     "enroll --server URL --application N [--rsa] [--ca-file FILE]\n"
     "                 --api-token-file F [--pin-file F] [--so-pin-file F]",
     "申请证书：在证书U盘上生成密钥对（默认 EC P-256，--rsa 为 RSA 2048，\n"
     "标签 esp-<N>），用它签名证书请求 (CSR)，提交给服务器，把证书和CA证书链\n"
     "写入证书U盘。中断后重新运行会继续使用已有的密钥对 (resume)。\n"
     "  --server URL          ESP 服务器地址（https://...）\n"
     "  --application N       申请编号（如 ESP-2026-000123，见申请页面）\n"
     "  --rsa                 生成 RSA 2048 而不是 EC P-256\n"
     "  --ca-file FILE        用此CA证书验证服务器（默认系统信任库）\n"
     "  --api-token-file F    API令牌 (API token) 所在文件（第一行）\n"
     "  --pin-file F          PIN码所在文件（第一行）；否则从终端输入\n"
     "  --so-pin-file F       证书U盘当前的管理员PIN码 (SO PIN)：给出时，证书写入后把\n"
     "                        管理员PIN码换成系统生成的随机PIN码并交系统加密保管，\n"
     "                        以便日后远程密码解锁 (unlock --remote)\n"},
    {"renew", tok_cmd_renew, GLOBAL_OPTS | O_SERVER | O_RSA | O_CA | O_PIN,
     "renew --server URL [--rsa] [--ca-file FILE] [--pin-file F]",
     "证书更新 (更新)：证书到期前后，在【证书更新】申请并付款后，在同一个证书U盘上\n"
     "生成新密钥对（标签 esp-renew-<原证书序列号>），证书请求由新密钥签名、并由\n"
     "原证书的私钥再签名（证明是同一持有人）；写入新证书并向服务器确认后，原证书\n"
     "才作废（已被替代）并从证书U盘上删除。中断后重新运行会继续 (resume)，\n"
     "更新过程中原证书始终有效。\n"
     "  --server URL          ESP 服务器地址（https://...）\n"
     "  --rsa                 新密钥用 RSA 2048 而不是 EC P-256\n"
     "  --ca-file FILE        用此CA证书验证服务器（默认系统信任库）\n"
     "  --pin-file F          PIN码所在文件（第一行）；否则从终端输入\n"},
    {"passwd", tok_cmd_passwd, GLOBAL_OPTS | O_PIN | O_NEWPIN,
     "passwd [--pin-file F] [--new-pin-file F]",
     "修改用户PIN码 (C_SetPIN)。新PIN码6–16个字符，从终端输入时须输入两次。\n"
     "  --pin-file F          当前PIN码所在文件\n"
     "  --new-pin-file F      新PIN码所在文件\n"},
    {"unlock", tok_cmd_unlock,
     GLOBAL_OPTS | O_SOPIN | O_NEWPIN | O_REMOTE | O_SERVER | O_APP | O_CODE | O_CA,
     "unlock [--so-pin-file F] [--new-pin-file F]\n"
     "       unlock --remote --server URL --application N --code-file F [--new-pin-file F]",
     "密码解锁：用管理员PIN码 (SO PIN) 登录并设置新的用户PIN码\n"
     "(C_Login CKU_SO + C_InitPIN)。由数字证书注册机构 (RA) 操作。\n"
     "  --so-pin-file F       管理员PIN码所在文件\n"
     "  --new-pin-file F      新用户PIN码所在文件\n"
     "--remote：持有人自己解锁。在系统中申请密码解锁并经注册机构批准后，用申请页面\n"
     "上的一次性授权码，从服务器取得系统保管的管理员PIN码，设置新的用户PIN码，再把\n"
     "管理员PIN码换成服务器新生成的随机PIN码并确认；授权码和取得的管理员PIN码随即作废。\n"
     "中断后用同一授权码重新运行即可继续。\n"
     "  --server URL          ESP 服务器地址（https://...）\n"
     "  --application N       解锁申请编号\n"
     "  --code-file F         一次性授权码所在文件（第一行）\n"
     "  --ca-file FILE        用此CA证书验证服务器\n"},
    {"show-cert", tok_cmd_show_cert, GLOBAL_OPTS | O_ID | O_LABEL,
     "show-cert [--id HEX | --label L]",
     "显示证书的主题、颁发者、序列号、有效期和 PEM。默认选择唯一的用户证书。\n"
     "  --id HEX              按 CKA_ID 选择证书\n"
     "  --label L             按 CKA_LABEL 选择证书\n"},
    {"export-cert", tok_cmd_export_cert, GLOBAL_OPTS | O_ID | O_LABEL | O_OUT | O_DER,
     "export-cert --out FILE [--der] [--id HEX | --label L]",
     "把证书导出到文件（默认 PEM，--der 为 DER）。\n"
     "  --out FILE            输出文件\n"
     "  --der                 DER 格式\n"
     "  --id HEX / --label L  选择证书\n"},
    {"login", tok_cmd_login, GLOBAL_OPTS | O_SERVER | O_CA | O_PIN | O_ID | O_LABEL,
     "login --server URL [--ca-file FILE] [--pin-file F] [--id HEX | --label L]",
     "签名挑战登录 (signed-challenge login)：从服务器取挑战，用证书U盘上的私钥\n"
     "签名，提交签名和证书，在标准输出打印会话令牌 (session token)。\n"},
    {"setup-browser", tok_cmd_setup_browser, O_MODULE | O_CA | O_REMOVE,
     "setup-browser [--ca-file CHAIN.pem] [--remove]",
     "让 Chromium / Chrome 浏览器使用证书U盘：把证书U盘的 PKCS#11 模块和本系统的\n"
     "CA证书链加入当前用户的浏览器证书数据库 (~/.pki/nssdb，不存在时创建)。\n"
     "每个用户运行一次，然后重新启动浏览器。需要 libnss3-tools。\n"
     "  --ca-file CHAIN.pem   CA证书链（默认 /usr/share/esp-client/ca-chain.pem）\n"
     "  --remove              从浏览器证书数据库中删除模块和CA证书\n"},
};

static const char GLOBAL_HELP[] =
    "全局选项 (global options)：\n"
    "  --module PATH         PKCS#11 模块（默认取配置文件 ~/.config/esp-token.conf 或\n"
    "                        /etc/esp-token.conf 中的 module = ...，否则 OpenSC 或 SoftHSM2）\n"
    "  --token LABEL|SERIAL  选择证书U盘（插有多个时必需）\n"
    "  -h, --help            显示帮助\n";

static const char EXIT_HELP[] =
    "退出码 (exit codes)：0 成功，1 用法错误，2 证书U盘/PKCS#11 错误，3 PIN码错误，\n"
    "4 PIN码已锁定，5 服务器/网络错误，6 服务器拒绝。\n";

static void usage_all(FILE *fp)
{
	fprintf(fp, "用法 (usage)：esp-token [全局选项] 命令 [选项]\n\n"
	            "esp-token 是证书管理工具，管理证书U盘 (USB token) 上的密钥、证书和PIN码。\n\n"
	            "命令 (commands)：\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(fp, "  esp-token %s\n", commands[i].usage);
	fprintf(fp,
	        "\n%s\n%s\n每个命令都有 --help，例如 esp-token enroll --help。\n"
	        "PIN码从不出现在命令行上：从终端输入（不回显）或用 --*-file 选项从文件读取。\n",
	        GLOBAL_HELP, EXIT_HELP);
}

static void usage_cmd(const struct command *c, FILE *fp)
{
	fprintf(fp, "用法 (usage)：esp-token %s\n\n%s\n%s\n%s", c->usage, c->help, GLOBAL_HELP,
	        EXIT_HELP);
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"module", required_argument, NULL, 'm'},
	    {"token", required_argument, NULL, 't'},
	    {"pin-file", required_argument, NULL, 'p'},
	    {"new-pin-file", required_argument, NULL, 'n'},
	    {"so-pin-file", required_argument, NULL, 's'},
	    {"api-token-file", required_argument, NULL, 'a'},
	    {"server", required_argument, NULL, 'S'},
	    {"application", required_argument, NULL, 'A'},
	    {"rsa", no_argument, NULL, 'r'},
	    {"ca-file", required_argument, NULL, 'c'},
	    {"id", required_argument, NULL, 'i'},
	    {"label", required_argument, NULL, 'l'},
	    {"out", required_argument, NULL, 'o'},
	    {"der", no_argument, NULL, 'd'},
	    {"remove", no_argument, NULL, 'R'},
	    {"remote", no_argument, NULL, 'E'},
	    {"code-file", required_argument, NULL, 'C'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct tok_opts o = {0};
	unsigned given = 0;
	bool help = false;
	int ch;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'm':
			o.module = optarg;
			given |= O_MODULE;
			break;
		case 't':
			o.token = optarg;
			given |= O_TOKEN;
			break;
		case 'p':
			o.pin_file = optarg;
			given |= O_PIN;
			break;
		case 'n':
			o.new_pin_file = optarg;
			given |= O_NEWPIN;
			break;
		case 's':
			o.so_pin_file = optarg;
			given |= O_SOPIN;
			break;
		case 'a':
			o.api_token_file = optarg;
			given |= O_API;
			break;
		case 'S':
			o.server = optarg;
			given |= O_SERVER;
			break;
		case 'A':
			o.application = optarg;
			given |= O_APP;
			break;
		case 'r':
			o.rsa = true;
			given |= O_RSA;
			break;
		case 'c':
			o.ca_file = optarg;
			given |= O_CA;
			break;
		case 'i':
			o.id_hex = optarg;
			given |= O_ID;
			break;
		case 'l':
			o.label = optarg;
			given |= O_LABEL;
			break;
		case 'o':
			o.out = optarg;
			given |= O_OUT;
			break;
		case 'd':
			o.der = true;
			given |= O_DER;
			break;
		case 'R':
			o.remove = true;
			given |= O_REMOVE;
			break;
		case 'E':
			o.remote = true;
			given |= O_REMOTE;
			break;
		case 'C':
			o.code_file = optarg;
			given |= O_CODE;
			break;
		case 'h':
			help = true;
			break;
		case 'V':
			printf("esp-token %s\n", TOK_VERSION);
			return TOK_EXIT_OK;
		default:
			tok_err("选项 %s 无效或缺少参数", argv[optind - 1]);
			fputs("请运行 esp-token --help 查看用法\n", stderr);
			return TOK_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage_all(help ? stdout : stderr);
		return help ? TOK_EXIT_OK : TOK_EXIT_USAGE;
	}
	const struct command *cmd = find_command(argv[optind]);
	if (!cmd) {
		tok_err("未知命令 (unknown command)：%s", argv[optind]);
		usage_all(stderr);
		return TOK_EXIT_USAGE;
	}
	if (help) {
		usage_cmd(cmd, stdout);
		return TOK_EXIT_OK;
	}
	if (optind + 1 < argc) {
		tok_err("多余的参数：%s（PIN码不能写在命令行上）", argv[optind + 1]);
		return TOK_EXIT_USAGE;
	}
	if (given & ~cmd->allowed) {
		static const char *const bit_names[] = {
		    "--module",       "--token",       "--pin-file",
		    "--new-pin-file", "--so-pin-file", "--api-token-file",
		    "--server",       "--application", "--rsa",
		    "--ca-file",      "--id",          "--label",
		    "--out",          "--der",         "--remove",
		    "--remote",       "--code-file",
		};
		unsigned bad = given & ~cmd->allowed;
		for (unsigned i = 0; i < sizeof bit_names / sizeof bit_names[0]; i++)
			if (bad & (1u << i))
				tok_err("命令 %s 不接受选项 %s", cmd->name, bit_names[i]);
		usage_cmd(cmd, stderr);
		return TOK_EXIT_USAGE;
	}
	char *module = NULL;
	if (!o.module) {
		module = tok_default_module();
		o.module = module;
	}
	/* The client package writes the deployment's address and CA into
	 * /etc/esp-token.conf, so a holder types neither. */
	char *server = NULL, *ca_file = NULL;
	bool online = (cmd->allowed & O_SERVER) && (cmd->run != tok_cmd_unlock || o.remote);
	if (online && !o.server)
		o.server = server = tok_config_value("server");
	if (online && (cmd->allowed & O_CA) && !o.ca_file)
		o.ca_file = ca_file = tok_config_value("ca-file");
	int rc = cmd->run(&o);
	free(module);
	free(server);
	free(ca_file);
	fflush(stdout);
	return rc;
}
