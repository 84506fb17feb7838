// DNSSEC keys and signatures through libcrypto's EVP interface. See copenssl_crypto.h.
#include "copenssl_crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

enum {
    ALGORITHM_P256 = 13,
    ALGORITHM_ED25519 = 15,
    P256_HALF = 32,      // octets of one coordinate, of r and of s (RFC 6605 §4)
    ED25519_KEY = 32,    // RFC 8080 §3
    ED25519_SIGNATURE = 64,
};

struct copenssl_key {
    EVP_PKEY *pkey;
    int algorithm;
};

// Writes "what: <OpenSSL's reason>" into the caller's buffer and clears OpenSSL's error queue.
static void fail(char *error, size_t capacity, const char *what) {
    unsigned long code = ERR_get_error();
    if (error != NULL && capacity > 0) {
        if (code != 0) {
            char reason[256];
            ERR_error_string_n(code, reason, sizeof reason);
            snprintf(error, capacity, "%s: %s", what, reason);
        } else {
            snprintf(error, capacity, "%s", what);
        }
    }
    ERR_clear_error();
}

static int known(int algorithm) {
    return algorithm == ALGORITHM_P256 || algorithm == ALGORITHM_ED25519;
}

int copenssl_algorithm_available(int algorithm, char *error, size_t error_capacity) {
    if (!known(algorithm)) { fail(error, error_capacity, "unknown DNSSEC algorithm"); return 0; }
    const char *name = algorithm == ALGORITHM_P256 ? "EC" : "ED25519";
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, name, NULL);
    if (ctx == NULL) { fail(error, error_capacity, "libcrypto lacks the algorithm"); return 0; }
    EVP_PKEY_CTX_free(ctx);
    if (algorithm == ALGORITHM_P256) {
        EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
        if (md == NULL) { fail(error, error_capacity, "libcrypto lacks SHA-256"); return 0; }
        EVP_MD_free(md);
    }
    return 1;
}

static copenssl_key *wrap(EVP_PKEY *pkey, int algorithm, char *error, size_t capacity) {
    copenssl_key *key = malloc(sizeof *key);
    if (key == NULL) { EVP_PKEY_free(pkey); fail(error, capacity, "out of memory"); return NULL; }
    key->pkey = pkey;
    key->algorithm = algorithm;
    return key;
}

copenssl_key *copenssl_key_generate(int algorithm, char *error, size_t error_capacity) {
    EVP_PKEY *pkey = NULL;
    if (algorithm == ALGORITHM_P256) {
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    } else if (algorithm == ALGORITHM_ED25519) {
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    } else {
        fail(error, error_capacity, "unknown DNSSEC algorithm");
        return NULL;
    }
    if (pkey == NULL) { fail(error, error_capacity, "key generation"); return NULL; }
    return wrap(pkey, algorithm, error, error_capacity);
}

// Whether `pkey` is what `algorithm` needs: an Ed25519 key, or an EC key on P-256.
static int matches(EVP_PKEY *pkey, int algorithm) {
    if (algorithm == ALGORITHM_ED25519) return EVP_PKEY_is_a(pkey, "ED25519");
    if (algorithm != ALGORITHM_P256 || !EVP_PKEY_is_a(pkey, "EC")) return 0;
    char group[64];
    size_t length = 0;
    if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &length)) return 0;
    return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0;
}

copenssl_key *copenssl_key_from_pem(int algorithm, const uint8_t *pem, size_t length,
                                    char *error, size_t error_capacity) {
    if (!known(algorithm)) { fail(error, error_capacity, "unknown DNSSEC algorithm"); return NULL; }
    BIO *bio = BIO_new_mem_buf(pem, (int)length);
    if (bio == NULL) { fail(error, error_capacity, "reading the key"); return NULL; }
    EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (pkey == NULL) { fail(error, error_capacity, "not a PEM private key"); return NULL; }
    if (!matches(pkey, algorithm)) {
        EVP_PKEY_free(pkey);
        fail(error, error_capacity, algorithm == ALGORITHM_P256
             ? "the key is not an ECDSA P-256 key (algorithm 13)"
             : "the key is not an Ed25519 key (algorithm 15)");
        return NULL;
    }
    return wrap(pkey, algorithm, error, error_capacity);
}

copenssl_key *copenssl_key_from_raw(int algorithm, const uint8_t *raw, size_t length,
                                    char *error, size_t error_capacity) {
    if (algorithm != ALGORITHM_ED25519 || length != ED25519_KEY) {
        fail(error, error_capacity, "a raw private key must be a 32-octet Ed25519 seed");
        return NULL;
    }
    EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, raw, length);
    if (pkey == NULL) { fail(error, error_capacity, "raw Ed25519 key"); return NULL; }
    return wrap(pkey, algorithm, error, error_capacity);
}

void copenssl_key_free(copenssl_key *key) {
    if (key == NULL) return;
    EVP_PKEY_free(key->pkey);
    free(key);
}

int copenssl_key_algorithm(const copenssl_key *key) { return key->algorithm; }

long copenssl_key_to_pem(const copenssl_key *key, uint8_t *out, size_t capacity,
                         char *error, size_t error_capacity) {
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL) { fail(error, error_capacity, "writing the key"); return -1; }
    long result = -1;
    if (!PEM_write_bio_PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL, NULL)) {
        fail(error, error_capacity, "writing the key as PEM");
    } else {
        char *data = NULL;
        long length = BIO_get_mem_data(bio, &data);
        if (length < 0 || (size_t)length > capacity) {
            fail(error, error_capacity, "PEM key larger than the buffer");
        } else {
            memcpy(out, data, (size_t)length);
            result = length;
        }
    }
    BIO_free(bio);
    return result;
}

long copenssl_key_public(const copenssl_key *key, uint8_t *out, size_t capacity,
                         char *error, size_t error_capacity) {
    if (key->algorithm == ALGORITHM_ED25519) {
        size_t length = capacity;
        if (capacity < ED25519_KEY || !EVP_PKEY_get_raw_public_key(key->pkey, out, &length)) {
            fail(error, error_capacity, "Ed25519 public key");
            return -1;
        }
        return (long)length;
    }
    BIGNUM *x = NULL, *y = NULL;
    long result = -1;
    if (capacity < 2 * P256_HALF
        || !EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x)
        || !EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y)
        || BN_bn2binpad(x, out, P256_HALF) != P256_HALF
        || BN_bn2binpad(y, out + P256_HALF, P256_HALF) != P256_HALF) {
        fail(error, error_capacity, "ECDSA P-256 public key");
    } else {
        result = 2 * P256_HALF;
    }
    BN_free(x);
    BN_free(y);
    return result;
}

// ECDSA's DER signature (RFC 3279) to r||s with each half padded to 32 octets (RFC 6605 §4).
static long der_to_raw(const uint8_t *der, size_t length, uint8_t *out, char *error, size_t capacity) {
    const unsigned char *cursor = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &cursor, (long)length);
    if (sig == NULL) { fail(error, capacity, "ECDSA signature"); return -1; }
    const BIGNUM *r = NULL, *s = NULL;
    ECDSA_SIG_get0(sig, &r, &s);
    long result = -1;
    if (BN_bn2binpad(r, out, P256_HALF) == P256_HALF && BN_bn2binpad(s, out + P256_HALF, P256_HALF) == P256_HALF) {
        result = 2 * P256_HALF;
    } else {
        fail(error, capacity, "ECDSA signature halves");
    }
    ECDSA_SIG_free(sig);
    return result;
}

long copenssl_key_sign(const copenssl_key *key, const uint8_t *data, size_t length,
                       uint8_t *out, size_t capacity, char *error, size_t error_capacity) {
    if (capacity < ED25519_SIGNATURE) { fail(error, error_capacity, "signature buffer too small"); return -1; }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL) { fail(error, error_capacity, "signing"); return -1; }
    long result = -1;
    const EVP_MD *md = key->algorithm == ALGORITHM_P256 ? EVP_sha256() : NULL;
    unsigned char der[128];  // an ECDSA P-256 DER signature is at most 72 octets
    size_t signature_length = sizeof der;
    if (EVP_DigestSignInit(ctx, NULL, md, NULL, key->pkey) != 1
        || EVP_DigestSign(ctx, der, &signature_length, data, length) != 1) {
        fail(error, error_capacity, "signing");
    } else if (key->algorithm == ALGORITHM_ED25519) {
        memcpy(out, der, signature_length);
        result = (long)signature_length;
    } else {
        result = der_to_raw(der, signature_length, out, error, error_capacity);
    }
    EVP_MD_CTX_free(ctx);
    return result;
}

// An EVP_PKEY holding only the public key in its DNSKEY form.
static EVP_PKEY *public_key(int algorithm, const uint8_t *bytes, size_t length, char *error, size_t capacity) {
    if (algorithm == ALGORITHM_ED25519) {
        if (length != ED25519_KEY) { fail(error, capacity, "an Ed25519 public key has 32 octets"); return NULL; }
        EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, bytes, length);
        if (pkey == NULL) fail(error, capacity, "Ed25519 public key");
        return pkey;
    }
    if (algorithm != ALGORITHM_P256) { fail(error, capacity, "unknown DNSSEC algorithm"); return NULL; }
    if (length != 2 * P256_HALF) { fail(error, capacity, "an ECDSA P-256 public key has 64 octets"); return NULL; }
    unsigned char point[1 + 2 * P256_HALF];
    point[0] = 0x04;  // uncompressed point (SEC 1 §2.3.3)
    memcpy(point + 1, bytes, length);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point),
        OSSL_PARAM_construct_end(),
    };
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *pkey = NULL;
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        fail(error, capacity, "ECDSA P-256 public key");
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

// r||s to DER for EVP_DigestVerify. Returns the DER length, or -1.
static int raw_to_der(const uint8_t *raw, unsigned char **der, char *error, size_t capacity) {
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, P256_HALF, NULL);
    BIGNUM *s = BN_bin2bn(raw + P256_HALF, P256_HALF, NULL);
    if (sig == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(sig);
        fail(error, capacity, "ECDSA signature");
        return -1;
    }
    int length = i2d_ECDSA_SIG(sig, der);
    ECDSA_SIG_free(sig);
    if (length <= 0) { fail(error, capacity, "ECDSA signature"); return -1; }
    return length;
}

int copenssl_verify(int algorithm, const uint8_t *public_bytes, size_t public_length,
                    const uint8_t *data, size_t length, const uint8_t *signature,
                    size_t signature_length, char *error, size_t error_capacity) {
    if (signature_length != (algorithm == ALGORITHM_P256 ? 2 * P256_HALF : ED25519_SIGNATURE)) {
        fail(error, error_capacity, "signature of the wrong length");
        return 0;
    }
    EVP_PKEY *pkey = public_key(algorithm, public_bytes, public_length, error, error_capacity);
    if (pkey == NULL) return -1;
    unsigned char *der = NULL;
    const unsigned char *checked = signature;
    size_t checked_length = signature_length;
    if (algorithm == ALGORITHM_P256) {
        int der_length = raw_to_der(signature, &der, error, error_capacity);
        if (der_length < 0) { EVP_PKEY_free(pkey); return -1; }
        checked = der;
        checked_length = (size_t)der_length;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    const EVP_MD *md = algorithm == ALGORITHM_P256 ? EVP_sha256() : NULL;
    int result = -1;
    if (ctx == NULL || EVP_DigestVerifyInit(ctx, NULL, md, NULL, pkey) != 1) {
        fail(error, error_capacity, "verifying");
    } else {
        result = EVP_DigestVerify(ctx, checked, checked_length, data, length) == 1 ? 1 : 0;
        if (result == 0) fail(error, error_capacity, "signature does not verify");
    }
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    EVP_PKEY_free(pkey);
    return result;
}

long copenssl_digest(int bits, const uint8_t *data, size_t length, uint8_t *out, size_t capacity,
                     char *error, size_t error_capacity) {
    const EVP_MD *md = bits == 256 ? EVP_sha256() : bits == 384 ? EVP_sha384() : NULL;
    if (md == NULL) { fail(error, error_capacity, "unknown digest"); return -1; }
    if (capacity < (size_t)EVP_MD_get_size(md)) { fail(error, error_capacity, "digest buffer too small"); return -1; }
    unsigned int written = 0;
    if (EVP_Digest(data, length, out, &written, md, NULL) != 1) { fail(error, error_capacity, "digest"); return -1; }
    return (long)written;
}
