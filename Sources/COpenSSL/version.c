// What OpenSSL this binary runs with. See copenssl.h.
#include "copenssl.h"

#include <openssl/crypto.h>

const char *copenssl_version(void) {
    return OpenSSL_version(OPENSSL_VERSION);
}
