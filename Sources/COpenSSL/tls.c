// TLS for the admin protocol and the etcd client over the system's libssl. See copenssl_tls.h.
//
// Sockets are driven non-blocking, with poll() between OpenSSL's steps, so that every call
// ends by a deadline and a socket shut down from another thread (a server stopping, a stalled
// handshake evicted) ends the call at once. SIGPIPE is blocked in the calling thread, so a
// peer that has gone turns a write into EPIPE instead of ending the process.
#include "copenssl_tls.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void block_sigpipe(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/// The reason OpenSSL's error queue holds (its earliest entry), or `fallback`.
static const char *queued_reason(const char *fallback) {
    unsigned long code = ERR_peek_error();
    const char *reason = code ? ERR_reason_error_string(code) : NULL;
    return reason ? reason : fallback;
}

/// `what FILE: reason` for a context that could not be made, then frees it.
static copenssl_tls_context *context_failure(SSL_CTX *ctx, const char *what, const char *path,
                                             char *error, size_t size) {
    const char *reason = queued_reason("failed");
    // A missing or unreadable file is the common mistake: say it as the system does.
    FILE *file = path ? fopen(path, "r") : NULL;
    if (path && !file) reason = strerror(errno);
    if (file) fclose(file);
    snprintf(error, size, "%s%s%s: %s", what, path ? " " : "", path ? path : "", reason);
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
}

/// TLS 1.2 or later, the certificate chain and its key (none when `cert` is NULL), trusting
/// `ca` (the system's default CAs when NULL: only a client asks for that).
static const char *configure(SSL_CTX *ctx, const char *ca, const char *cert, const char *key, const char **path) {
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (cert) {
        *path = cert;
        if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) return "certificate";
        *path = key;
        if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) return "private key";
        if (SSL_CTX_check_private_key(ctx) != 1) return "private key (does it match the certificate?)";
    }
    *path = ca;
    if (!ca) return SSL_CTX_set_default_verify_paths(ctx) != 1 ? "the system's default CAs" : NULL;
    if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) return "CA";
    return NULL;
}

copenssl_tls_context *copenssl_tls_server_context(const char *ca, const char *cert, const char *key,
                                                  const char *crl, char *error, size_t size) {
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) return context_failure(NULL, "TLS server context", NULL, error, size);
    const char *path = NULL;
    const char *what = configure(ctx, ca, cert, key, &path);
    if (what) return context_failure(ctx, what, path, error, size);
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);
    if (!names) return context_failure(ctx, "CA (no certificate in it)", ca, error, size);
    SSL_CTX_set_client_CA_list(ctx, names);
    if (crl) {
        X509_STORE *store = SSL_CTX_get_cert_store(ctx);
        X509_LOOKUP *lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file());
        if (!lookup || X509_load_crl_file(lookup, crl, X509_FILETYPE_PEM) < 1) {
            return context_failure(ctx, "CRL", crl, error, size);
        }
        X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ctx, 0);
    return (copenssl_tls_context *)ctx;
}

copenssl_tls_context *copenssl_tls_client_context(const char *ca, const char *cert, const char *key,
                                                  char *error, size_t size) {
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) return context_failure(NULL, "TLS client context", NULL, error, size);
    const char *path = NULL;
    const char *what = configure(ctx, ca, cert, key, &path);
    if (what) return context_failure(ctx, what, path, error, size);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    return (copenssl_tls_context *)ctx;
}

void copenssl_tls_context_free(copenssl_tls_context *context) {
    SSL_CTX_free((SSL_CTX *)context);
}

/// Waits until `fd` is ready for `events` or `deadline` passes. 0 when ready (or hung up:
/// the next OpenSSL call sees the end), -1 with the reason.
static int wait_for(int fd, short events, long long deadline, int timeout_ms, const char *what,
                    char *error, size_t size) {
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0) {
            snprintf(error, size, "%s: timed out after %d ms", what, timeout_ms);
            return -1;
        }
        struct pollfd entry = { .fd = fd, .events = events, .revents = 0 };
        int ready = poll(&entry, 1, (int)left);
        if (ready < 0 && errno == EINTR) continue;
        if (ready < 0) {
            snprintf(error, size, "%s: poll: %s", what, strerror(errno));
            return -1;
        }
        if (ready == 0) continue; // the deadline check above ends it
        if (entry.revents & POLLNVAL) {
            snprintf(error, size, "%s: socket closed", what);
            return -1;
        }
        return 0;
    }
}

/// The reason a TLS call on `ssl` failed with `ret`: OpenSSL's, with the certificate
/// verification error when there is one, or the system's.
static void describe(SSL *ssl, int ret, int saved_errno, const char *what, char *error, size_t size) {
    int code = SSL_get_error(ssl, ret);
    unsigned long queued = ERR_peek_error();
    long verify = SSL_get_verify_result(ssl);
    if (queued && ERR_GET_REASON(queued) == SSL_R_CERTIFICATE_VERIFY_FAILED && verify != X509_V_OK) {
        snprintf(error, size, "%s: certificate verify failed: %s", what, X509_verify_cert_error_string(verify));
    } else if (queued) {
        snprintf(error, size, "%s: %s", what, queued_reason("TLS error"));
    } else if (code == SSL_ERROR_ZERO_RETURN) {
        snprintf(error, size, "%s: the peer closed the connection", what);
    } else if (code == SSL_ERROR_SYSCALL && saved_errno != 0) {
        snprintf(error, size, "%s: %s", what, strerror(saved_errno));
    } else {
        snprintf(error, size, "%s: the peer closed the connection", what);
    }
    ERR_clear_error();
}

/// One OpenSSL call on `ssl` (a handshake step, a read, a write, a shutdown), with what it
/// needs in `state`: OpenSSL's return value, 1 when it is done.
typedef int (*tls_step)(SSL *ssl, void *state);

/// Repeats `step` until it is done, waiting on the socket whenever OpenSSL wants to read or
/// write, all within `timeout_ms`. 1 when done; 0 when the peer closed the connection cleanly
/// and `end_is_zero` (a read at the end); -1 with the reason in `error`.
static int drive(SSL *ssl, tls_step step, void *state, int end_is_zero, int timeout_ms, const char *what,
                 char *error, size_t size) {
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int ret = step(ssl, state);
        if (ret == 1) return 1;
        int saved_errno = errno;
        int code = SSL_get_error(ssl, ret);
        if (code == SSL_ERROR_ZERO_RETURN && end_is_zero) return 0;
        if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE) {
            if (wait_for(SSL_get_fd(ssl), code == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline, timeout_ms,
                         what, error, size) != 0) {
                return -1;
            }
            continue;
        }
        describe(ssl, ret, saved_errno, what, error, size);
        return -1;
    }
}

static int step_accept(SSL *ssl, void *state) { (void)state; return SSL_accept(ssl); }
static int step_connect(SSL *ssl, void *state) { (void)state; return SSL_connect(ssl); }

/// A buffer to read into or write from, and how much of it was read.
struct transfer { void *buffer; size_t size; size_t count; };

static int step_read(SSL *ssl, void *state) {
    struct transfer *t = state;
    return SSL_read_ex(ssl, t->buffer, t->size, &t->count);
}

/// Without partial writes, a write that had to wait is repeated with the same arguments and
/// succeeds only once all of the buffer is sent.
static int step_write(SSL *ssl, void *state) {
    struct transfer *t = state;
    return SSL_write_ex(ssl, t->buffer, t->size, &t->count);
}

/// 0 from SSL_shutdown (ours sent, the peer's not yet seen) is done too.
static int step_shutdown(SSL *ssl, void *state) {
    (void)state;
    int ret = SSL_shutdown(ssl);
    return ret >= 0 ? 1 : ret;
}

/// A connection on `fd`, made non-blocking; NULL with the reason.
static SSL *connection(copenssl_tls_context *context, int fd, char *error, size_t size) {
    block_sigpipe();
    // Each TLS record is written whole: small records (a command, close_notify) must not
    // wait for the peer's delayed ACK (40 ms on Linux).
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        snprintf(error, size, "TLS: fcntl O_NONBLOCK: %s", strerror(errno));
        return NULL;
    }
    SSL *ssl = SSL_new((SSL_CTX *)context);
    if (!ssl || SSL_set_fd(ssl, fd) != 1) {
        snprintf(error, size, "TLS: %s", queued_reason("cannot make a connection"));
        ERR_clear_error();
        SSL_free(ssl);
        return NULL;
    }
    return ssl;
}

copenssl_tls_connection *copenssl_tls_accept(copenssl_tls_context *context, int fd, int timeout_ms,
                                             char *error, size_t size) {
    SSL *ssl = connection(context, fd, error, size);
    if (!ssl) return NULL;
    if (drive(ssl, step_accept, NULL, 0, timeout_ms, "TLS handshake", error, size) != 1) {
        SSL_free(ssl);
        return NULL;
    }
    // Without session tickets nothing follows the client's last handshake flight from here,
    // so its ACK would be delayed and a client with Nagle on would hold its first line back
    // until then: acknowledge now.
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
    return (copenssl_tls_connection *)ssl;
}

copenssl_tls_connection *copenssl_tls_connect(copenssl_tls_context *context, int fd, const char *host,
                                              int timeout_ms, char *error, size_t size) {
    SSL *ssl = connection(context, fd, error, size);
    if (!ssl) return NULL;
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
    // An IP address is checked against the certificate's IP SANs; anything else is a DNS
    // name, checked against its DNS SANs (or CN) and sent as SNI.
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host) != 1) {
        ERR_clear_error();
        SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (SSL_set1_host(ssl, host) != 1 || SSL_set_tlsext_host_name(ssl, host) != 1) {
            snprintf(error, size, "TLS: host name \"%s\": %s", host, queued_reason("not usable"));
            ERR_clear_error();
            SSL_free(ssl);
            return NULL;
        }
    }
    if (drive(ssl, step_connect, NULL, 0, timeout_ms, "TLS handshake", error, size) != 1) {
        SSL_free(ssl);
        return NULL;
    }
    return (copenssl_tls_connection *)ssl;
}

long copenssl_tls_read(copenssl_tls_connection *connection, void *buffer, size_t size, int timeout_ms,
                       char *error, size_t error_size) {
    struct transfer t = { buffer, size, 0 };
    int done = drive((SSL *)connection, step_read, &t, 1, timeout_ms, "TLS read", error, error_size);
    return done == 1 ? (long)t.count : done;
}

int copenssl_tls_write(copenssl_tls_connection *connection, const void *buffer, size_t size, int timeout_ms,
                       char *error, size_t error_size) {
    struct transfer t = { (void *)buffer, size, 0 };
    return drive((SSL *)connection, step_write, &t, 0, timeout_ms, "TLS write", error, error_size) == 1 ? 0 : -1;
}

int copenssl_tls_close_write(copenssl_tls_connection *connection, int timeout_ms, char *error, size_t error_size) {
    return drive((SSL *)connection, step_shutdown, NULL, 0, timeout_ms, "TLS close", error, error_size) == 1 ? 0 : -1;
}

/// Appends `name` and a newline when it holds no control character; false if out of room.
static int append_name(const unsigned char *name, int length, char *buffer, size_t size, size_t *used) {
    for (int i = 0; i < length; i++) {
        if (name[i] < 0x20 || name[i] == 0x7F) return 1; // left out, as documented
    }
    if (*used + (size_t)length + 2 > size) return 0;
    memcpy(buffer + *used, name, (size_t)length);
    *used += (size_t)length;
    buffer[(*used)++] = '\n';
    buffer[*used] = 0;
    return 1;
}

long copenssl_tls_peer_names(copenssl_tls_connection *connection, char *buffer, size_t size) {
    if (size < 2) return -1;
    size_t used = 0;
    buffer[0] = 0;
    X509 *cert = SSL_get0_peer_certificate((SSL *)connection);
    if (!cert) return 0;
    X509_NAME *subject = X509_get_subject_name(cert);
    int index = subject ? X509_NAME_get_index_by_NID(subject, NID_commonName, -1) : -1;
    unsigned char *cn = NULL;
    int cn_length = index >= 0
        ? ASN1_STRING_to_UTF8(&cn, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index))) : -1;
    size_t before = used;
    int fits = cn_length >= 0 ? append_name(cn, cn_length, buffer, size, &used) : 1;
    OPENSSL_free(cn);
    if (!fits) return -1;
    if (used == before) { // no usable CN: an empty first line
        buffer[used++] = '\n';
        buffer[used] = 0;
    }
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, i);
        if (name->type != GEN_DNS) continue;
        if (!append_name(ASN1_STRING_get0_data(name->d.dNSName), ASN1_STRING_length(name->d.dNSName),
                         buffer, size, &used)) {
            GENERAL_NAMES_free(names);
            return -1;
        }
    }
    GENERAL_NAMES_free(names);
    ERR_clear_error();
    return (long)used;
}

void copenssl_tls_free(copenssl_tls_connection *connection) {
    SSL_free((SSL *)connection);
}
