// The system's OpenSSL 3 (libcrypto and libssl), linked through this target and wrapped in
// plain C functions so that Swift never sees OpenSSL's macros or structure layouts.
// DNSSEC signing lives in crypto.c (copenssl_crypto.h), TLS for the admin protocol in
// tls.c (copenssl_tls.h). No cryptography is written here: every primitive is OpenSSL's.
#ifndef COPENSSL_H
#define COPENSSL_H

// Every header of this target, named here so that a new one changes this file: the module
// is an umbrella directory, and a compiler's module cache notices changed headers, not new ones.
#include "copenssl_crypto.h"
#include "copenssl_tls.h"

/// OpenSSL's own version text ("OpenSSL 3.0.x ..."), for `veer --version` and `veer check`.
const char *copenssl_version(void);

#endif
