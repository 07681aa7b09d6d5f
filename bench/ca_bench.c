/*
 * ca_bench: ESP's CA work alone, in one thread, on the CSRs of the issuance
 * benchmark -- what every certificate costs before any TLS, HTTP, JSON or
 * store work: ca_csr_parse (decode, key check, the CSR's self-signature
 * verified) and ca_issue_csr (the certificate built and signed by the
 * issuing CA).  bench/issue_bench.sh runs it in the same run as `openssl
 * speed` to show the ceiling those two steps set.  Never a test.
 *
 * Usage: ca_bench CA_DIR CSRS_FILE
 *   CSRS_FILE: one PEM per line with "\n" escaped, as bench/issue_csrgen writes.
 * Prints: RESULT count=N parse_us=.. issue_us=.. per_second=..
 * (CPU time of this thread per certificate, and certificates per CPU second).
 */
#include "esp/ca.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Turns the two characters \ and n back into a line feed, in place. */
static size_t unescape(char *s)
{
	char *w = s;
	for (const char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] == 'n') {
			*w++ = '\n';
			r++;
		} else if (*r != '\n') {
			*w++ = *r;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: ca_bench CA_DIR CSRS_FILE\n");
		return 2;
	}
	esp_ca *ca = NULL;
	if (ca_open(argv[1], &ca) != CA_OK) {
		fprintf(stderr, "ca_bench: cannot open the CA in %s\n", argv[1]);
		return 1;
	}
	FILE *f = fopen(argv[2], "r");
	if (!f) {
		perror(argv[2]);
		ca_free(ca);
		return 1;
	}
	const struct cert_profile profile = {
	    .common_name = "福建省基准测试运输有限公司",
	    .organization = "福建省基准测试运输有限公司",
	    .org_unit = "交通运输企业",
	    .province = "福建省",
	    .code = "91350100M000100Y43",
	    .code_kind = "uscc",
	    .validity_days = 1095,
	    .crl_url = "http://127.0.0.1:8080/ca/crl",
	};
	char *line = NULL;
	size_t cap = 0;
	long count = 0, failed = 0;
	double parse = 0, issue = 0;
	while (getline(&line, &cap, f) > 0) {
		size_t len = unescape(line);
		ca_csr *csr = NULL;
		double t0 = cpu_seconds();
		enum ca_status st = ca_csr_parse(line, len, &csr);
		double t1 = cpu_seconds();
		char *serial = NULL, *pem = NULL;
		unsigned char *der = NULL;
		size_t der_len = 0;
		time_t nb, na;
		if (st == CA_OK)
			st = ca_issue_csr(ca, csr, &profile, &serial, &pem, &der, &der_len, &nb,
			                  &na);
		double t2 = cpu_seconds();
		if (st != CA_OK) {
			failed++;
		} else {
			count++;
			parse += t1 - t0;
			issue += t2 - t1;
		}
		free(serial);
		free(pem);
		free(der);
		ca_csr_free(csr);
	}
	free(line);
	fclose(f);
	ca_free(ca);
	if (!count || failed) {
		fprintf(stderr, "ca_bench: %ld certificates, %ld failed\n", count, failed);
		return 1;
	}
	printf("RESULT count=%ld parse_us=%.1f issue_us=%.1f per_second=%.1f\n", count,
	       parse / (double)count * 1e6, issue / (double)count * 1e6,
	       (double)count / (parse + issue));
	return 0;
}
