// DNSSEC signing primitives from the system's libcrypto, behind plain C functions: byte
// buffers in and out, an opaque key handle, and every OpenSSL error turned into a message in
// the caller's `error` buffer. Algorithms are DNSSEC algorithm numbers (RFC 8624):
// 13 ECDSA P-256 with SHA-256, 15 Ed25519. No cryptography is written here.
#ifndef COPENSSL_CRYPTO_H
#define COPENSSL_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

/// A private key held by libcrypto. Opaque to Swift; freed with copenssl_key_free.
typedef struct copenssl_key copenssl_key;

/// 1 when libcrypto can make and check signatures of `algorithm`, 0 otherwise (message set).
int copenssl_algorithm_available(int algorithm, char *error, size_t error_capacity);

/// Makes a new private key of `algorithm`. NULL on failure (message set).
copenssl_key *copenssl_key_generate(int algorithm, char *error, size_t error_capacity);

/// Reads a PEM private key (PKCS#8, or any form PEM_read_bio_PrivateKey takes) and checks that
/// it is of `algorithm` (P-256 for 13). NULL on failure (message set).
copenssl_key *copenssl_key_from_pem(int algorithm, const uint8_t *pem, size_t length,
                                    char *error, size_t error_capacity);

/// Makes a key from its raw private half: the 32-octet Ed25519 seed (RFC 8032). For test
/// vectors published as raw private keys. Only algorithm 15. NULL on failure (message set).
copenssl_key *copenssl_key_from_raw(int algorithm, const uint8_t *raw, size_t length,
                                    char *error, size_t error_capacity);

/// Frees a key made by one of the functions above. NULL is allowed.
void copenssl_key_free(copenssl_key *key);

/// The key's algorithm number, as given when it was made or read.
int copenssl_key_algorithm(const copenssl_key *key);

/// Writes the private key as PKCS#8 PEM. Returns the length written, or -1 (message set, also
/// when `capacity` is too small).
long copenssl_key_to_pem(const copenssl_key *key, uint8_t *out, size_t capacity,
                         char *error, size_t error_capacity);

/// The public key in DNSKEY form: x||y (64 octets, RFC 6605 §4) or the 32-octet Ed25519 key
/// (RFC 8080 §3). Returns the length, or -1 (message set).
long copenssl_key_public(const copenssl_key *key, uint8_t *out, size_t capacity,
                         char *error, size_t error_capacity);

/// Signs `data` in the DNSSEC form: r||s (64 octets, RFC 6605 §4) or the 64-octet Ed25519
/// signature (RFC 8080 §4). Returns the length, or -1 (message set).
long copenssl_key_sign(const copenssl_key *key, const uint8_t *data, size_t length,
                       uint8_t *out, size_t capacity, char *error, size_t error_capacity);

/// Checks a DNSSEC-form signature with a DNSKEY-form public key. 1 valid, 0 invalid,
/// -1 when the key or signature cannot be used at all (message set).
int copenssl_verify(int algorithm, const uint8_t *public_key, size_t public_length,
                    const uint8_t *data, size_t length, const uint8_t *signature,
                    size_t signature_length, char *error, size_t error_capacity);

/// SHA-256 (bits 256) or SHA-384 (bits 384) of `data` into `out`. Returns the digest length,
/// or -1 (message set).
long copenssl_digest(int bits, const uint8_t *data, size_t length, uint8_t *out, size_t capacity,
                     char *error, size_t error_capacity);

#endif
