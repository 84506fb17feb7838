// HTTPS GET through the system's libcurl, loaded at run time with dlopen.
//
// FoundationNetworking links libcurl.so.4 itself, so every machine that runs the Swift
// runtime has it; loading it here (instead of linking it) keeps curl's headers out of the
// build and turns a missing library into an error message instead of a failed start.
// Like cposix.h, this header must not define _GNU_SOURCE.
#ifndef CPOSIX_HTTPS_H
#define CPOSIX_HTTPS_H

#include <stddef.h>

/// What `cposix_https_get` returns.
enum cposix_https_result {
    /// A reply arrived: `*status` and the body are set.
    CPOSIX_HTTPS_OK = 0,
    /// The probe took longer than `timeout_ms` (connect, handshake or reply).
    CPOSIX_HTTPS_TIMEOUT = 1,
    /// Any other failure (connect, TLS, protocol); `error` says which, in curl's words.
    CPOSIX_HTTPS_FAILED = 2,
    /// libcurl could not be loaded or initialised; `error` says why.
    CPOSIX_HTTPS_UNAVAILABLE = 3,
};

/// One blocking GET of `url` (https://HOST:PORT/PATH) with libcurl; safe to call from many
/// threads at once (each call has its own easy handle).
///
/// - `connect_to`: curl's CURLOPT_CONNECT_TO entry, e.g. "::192.0.2.7:8443" or "::[::1]:443":
///   connect there while the URL's host stays the TLS SNI, the name the certificate must
///   match, and the Host header; NULL connects to the URL's host.
/// - `timeout_ms`: limit for the connect and for the whole request.
/// - `insecure`: non-zero skips certificate and host name verification.
/// - `ca_file`: PEM file of the CAs to trust instead of the system's; NULL for the system's.
/// - `body`/`body_cap`/`body_len`: the first `body_cap` bytes of the reply body; a longer
///   body ends the transfer there (still CPOSIX_HTTPS_OK).
/// - `error`/`error_cap`: a NUL-terminated reason for any result but CPOSIX_HTTPS_OK.
///
/// - `user_agent`: the User-Agent header.
///
/// No proxy (environment variables included), no redirects, no signals (CURLOPT_NOSIGNAL).
int cposix_https_get(const char *url, const char *connect_to, const char *user_agent, long timeout_ms, int insecure,
                     const char *ca_file, unsigned char *body, size_t body_cap, size_t *body_len,
                     long *status, char *error, size_t error_cap);

#endif
