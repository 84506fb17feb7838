// TLS for the admin protocol (issue 26) and the etcd client (issue 25), from the system's libssl: contexts made from PEM
// files, a handshake on a connected socket within a deadline, reads and writes with a
// deadline, and what the peer's certificate names. Swift sees two opaque pointer types and
// plain C values; every failure is a message in the caller's buffer. Accept and connect block
// SIGPIPE in the calling thread (a peer gone makes a write fail with EPIPE instead of ending
// the process), so a connection is used from the thread that made it.
#ifndef COPENSSL_TLS_H
#define COPENSSL_TLS_H

#include <stddef.h>

/// A TLS configuration (certificates, keys, what is trusted): OpenSSL's SSL_CTX.
typedef struct copenssl_tls_context copenssl_tls_context;
/// One TLS connection on a socket: OpenSSL's SSL. It does not own the socket.
typedef struct copenssl_tls_connection copenssl_tls_connection;

/// A server context: TLS 1.2 or later, `cert` (a PEM chain) with `key`, and only clients whose
/// certificate chains to `ca`; with `crl` (may be NULL), a client certificate listed there is
/// refused. No session tickets or cache: every connection verifies its certificate afresh.
/// NULL on failure, with the reason in `error`.
copenssl_tls_context *copenssl_tls_server_context(const char *ca, const char *cert, const char *key,
                                                  const char *crl, char *error, size_t error_size);

/// A client context: TLS 1.2 or later, presenting `cert` with `key` (none when `cert` is NULL;
/// `key` is then ignored), trusting only `ca` for the server's certificate, or the system's
/// default CAs (OpenSSL's default verify paths) when `ca` is NULL. NULL on failure, with the
/// reason in `error`.
copenssl_tls_context *copenssl_tls_client_context(const char *ca, const char *cert, const char *key,
                                                  char *error, size_t error_size);

/// Releases a context; connections made from it keep what they need.
void copenssl_tls_context_free(copenssl_tls_context *context);

/// The server side of a handshake on the connected socket `fd` (made non-blocking here),
/// finished within `timeout_ms`. NULL on failure (timeout, no or untrusted certificate,
/// socket shut down), with the reason in `error`.
copenssl_tls_connection *copenssl_tls_accept(copenssl_tls_context *context, int fd, int timeout_ms,
                                             char *error, size_t error_size);

/// The client side of a handshake on the connected socket `fd` (made non-blocking here),
/// within `timeout_ms`. The server's certificate must chain to the context's CA and name
/// `host`: an IP address (v4 or v6, checked against the IP SANs) or a DNS name (also sent as
/// SNI). NULL on failure, with the reason in `error`.
copenssl_tls_connection *copenssl_tls_connect(copenssl_tls_context *context, int fd, const char *host,
                                              int timeout_ms, char *error, size_t error_size);

/// Reads up to `size` bytes, waiting at most `timeout_ms` for some. The count read; 0 when
/// the peer closed (close_notify or end of stream); -1 on failure or timeout, with the reason.
long copenssl_tls_read(copenssl_tls_connection *connection, void *buffer, size_t size, int timeout_ms,
                       char *error, size_t error_size);

/// Writes all `size` bytes within `timeout_ms` in total. 0, or -1 with the reason.
int copenssl_tls_write(copenssl_tls_connection *connection, const void *buffer, size_t size, int timeout_ms,
                       char *error, size_t error_size);

/// Sends close_notify: this side writes nothing more, and may still read (TLS 1.3 half
/// close). 0, or -1 with the reason.
int copenssl_tls_close_write(copenssl_tls_connection *connection, int timeout_ms, char *error, size_t error_size);

/// The names of the peer's certificate, one per line: its subject CN first (an empty line
/// when it has none), then each DNS subjectAltName. Names holding control characters or
/// newlines are left out. The length written (without the NUL), or -1 if `size` is too small.
long copenssl_tls_peer_names(copenssl_tls_connection *connection, char *buffer, size_t size);

/// Releases the connection; the socket stays open (the caller closes it).
void copenssl_tls_free(copenssl_tls_connection *connection);

#endif
