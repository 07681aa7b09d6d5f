/*
 * issue_csrgen: writes COUNT PKCS#10 requests, each for a fresh ECDSA P-256
 * key, to OUT, one request per line with its PEM already escaped for a JSON
 * string ("\n" as the two characters \ and n), so that bench/issue_bench can
 * paste it into the request body as it is.  Part of the issuance benchmark
 * (bench/issue_bench.sh); never a test.  The keys are thrown away.
 *
 * Usage: issue_csrgen COUNT OUT
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static X509_REQ *make_csr(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = X509_NAME_new();
	int ok = key && req && name && X509_REQ_set_version(req, X509_REQ_VERSION_1) == 1 &&
	         X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                                    (const unsigned char *)"ignored by the CA", -1, -1,
	                                    0) == 1 &&
	         X509_REQ_set_subject_name(req, name) == 1 && X509_REQ_set_pubkey(req, key) == 1 &&
	         X509_REQ_sign(req, key, EVP_sha256()) > 0;
	X509_NAME_free(name);
	EVP_PKEY_free(key);
	if (!ok) {
		X509_REQ_free(req);
		return NULL;
	}
	return req;
}

int main(int argc, char **argv)
{
	if (argc != 3 || atol(argv[1]) < 1) {
		fprintf(stderr, "usage: issue_csrgen COUNT OUT\n");
		return 2;
	}
	long count = atol(argv[1]);
	FILE *out = fopen(argv[2], "w");
	if (!out) {
		perror(argv[2]);
		return 1;
	}
	BIO *mem = BIO_new(BIO_s_mem());
	for (long i = 0; i < count; i++) {
		X509_REQ *req = make_csr();
		if (!req || PEM_write_bio_X509_REQ(mem, req) != 1) {
			fprintf(stderr, "issue_csrgen: cannot make CSR %ld\n", i);
			return 1;
		}
		X509_REQ_free(req);
		char *pem;
		long len = BIO_get_mem_data(mem, &pem);
		for (long j = 0; j < len; j++) {
			if (pem[j] == '\n')
				fputs("\\n", out);
			else
				fputc(pem[j], out);
		}
		fputc('\n', out);
		(void)BIO_reset(mem);
	}
	BIO_free(mem);
	if (fclose(out) != 0) {
		perror(argv[2]);
		return 1;
	}
	return 0;
}
