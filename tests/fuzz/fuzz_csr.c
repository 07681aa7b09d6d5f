/*
 * libFuzzer target for CSR screening (ca_csr_parse and ca_check_csr in
 * src/pki/ca.c): what a RA workstation posts to the issuance API, decoded,
 * its key judged and its self-signature verified before anything is signed.
 *
 * The first byte chooses the form: even, the rest is the PEM text as sent;
 * odd, the rest is DER, wrapped here in a "CERTIFICATE REQUEST" PEM block so
 * that the mutations reach the ASN.1 decoder directly instead of mostly
 * breaking the base64.  Both entry points must agree, and a refusal must
 * leave no CSR behind.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "esp/ca.h"
#include "esp/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *der_to_pem(const uint8_t *der, size_t len, size_t *out_len)
{
	struct buf b = {0};
	buf_puts(&b, "-----BEGIN CERTIFICATE REQUEST-----\n");
	for (size_t off = 0; off < len; off += 48) {
		size_t n = len - off < 48 ? len - off : 48;
		unsigned char line[65];
		int w = EVP_EncodeBlock(line, der + off, (int)n);
		buf_put(&b, line, (size_t)w);
		buf_putc(&b, '\n');
	}
	buf_puts(&b, "-----END CERTIFICATE REQUEST-----\n");
	*out_len = b.len;
	return buf_steal(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t len;
	char *pem;
	if (data[0] & 1) {
		pem = der_to_pem(data + 1, size - 1, &len);
	} else {
		len = size - 1;
		pem = xmalloc(len + 1);
		memcpy(pem, data + 1, len);
		pem[len] = '\0';
	}
	ca_csr *csr = (ca_csr *)(uintptr_t)1;
	enum ca_status st = ca_csr_parse(pem, len, &csr);
	if ((st == CA_OK) != (csr != NULL))
		abort();
	if (ca_check_csr(pem, len) != st)
		abort();
	ca_csr_free(csr);
	free(pem);
	return 0;
}
