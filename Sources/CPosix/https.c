// HTTPS probes through libcurl.so.4, opened with dlopen once. See cposix_https.h.
#define _GNU_SOURCE
#include "cposix_https.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

// libcurl's ABI, declared here so the build needs no curl headers. Option numbers are a
// type base plus an index (curl.h: CURLOPTTYPE_LONG 0, OBJECTPOINT/STRINGPOINT/SLISTPOINT/
// CBPOINT 10000, FUNCTIONPOINT 20000); libcurl never renumbers them within soname 4.
enum {
    OPT_WRITEDATA = 10001,          // CBPOINT + 1: the write callback's user pointer
    OPT_URL = 10002,                // STRINGPOINT + 2
    OPT_ERRORBUFFER = 10010,        // OBJECTPOINT + 10: char[CURL_ERROR_SIZE] for details
    OPT_USERAGENT = 10018,          // STRINGPOINT + 18
    OPT_FOLLOWLOCATION = 52,        // LONG + 52: 0 = do not follow redirects
    OPT_SSL_VERIFYPEER = 64,        // LONG + 64: verify the certificate chain
    OPT_CAINFO = 10065,             // STRINGPOINT + 65: CA bundle file
    OPT_SSL_VERIFYHOST = 81,        // LONG + 81: 2 = the certificate must name the host
    OPT_CAPATH = 10097,             // STRINGPOINT + 97: CA directory; NULL = none
    OPT_NOSIGNAL = 99,              // LONG + 99: no SIGALRM for resolver timeouts (threads)
    OPT_TIMEOUT_MS = 155,           // LONG + 155: whole request
    OPT_CONNECTTIMEOUT_MS = 156,    // LONG + 156: TCP connect (and TLS handshake)
    OPT_NOPROXY = 10177,            // STRINGPOINT + 177: "*" = never a proxy
    OPT_CONNECT_TO = 10243,         // SLISTPOINT + 243: "HOST:PORT:CONNECT-HOST:CONNECT-PORT"
    OPT_WRITEFUNCTION = 20011,      // FUNCTIONPOINT + 11: receives the body
};
/// CURLINFO_LONG (0x200000) + 2: the last HTTP status.
static const int INFO_RESPONSE_CODE = 0x200002;
/// CURLE_OK and the two codes told apart here.
enum { CODE_OK = 0, CODE_WRITE_ERROR = 23, CODE_OPERATION_TIMEDOUT = 28 };
/// CURL_GLOBAL_DEFAULT: CURL_GLOBAL_SSL | CURL_GLOBAL_WIN32.
static const long GLOBAL_DEFAULT = 3;
/// CURL_ERROR_SIZE: the size curl requires of an error buffer.
#define ERROR_SIZE 256

struct curl_slist;

static struct {
    int (*global_init)(long flags);
    void *(*easy_init)(void);
    int (*easy_setopt)(void *handle, int option, ...);
    int (*easy_perform)(void *handle);
    int (*easy_getinfo)(void *handle, int info, ...);
    void (*easy_cleanup)(void *handle);
    const char *(*easy_strerror)(int code);
    struct curl_slist *(*slist_append)(struct curl_slist *list, const char *text);
    void (*slist_free_all)(struct curl_slist *list);
    /// Why libcurl is unusable, or "" when it is loaded.
    char failure[256];
} curl;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

/// Opens libcurl.so.4 and resolves what the probe calls; on any failure leaves `curl.failure` set.
static void load_curl(void) {
    void *library = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        snprintf(curl.failure, sizeof curl.failure,
                 "libcurl.so.4 not found: https checks need libcurl4 (%s)", dlerror());
        return;
    }
    // Never dlclose'd: the library stays for the life of the process.
#define LOAD(field, symbol)                                                                   \
    do {                                                                                      \
        *(void **)&curl.field = dlsym(library, symbol);                                       \
        if (curl.field == NULL) {                                                             \
            snprintf(curl.failure, sizeof curl.failure, "libcurl.so.4 lacks %s", symbol);     \
            return;                                                                           \
        }                                                                                     \
    } while (0)
    LOAD(global_init, "curl_global_init");
    LOAD(easy_init, "curl_easy_init");
    LOAD(easy_setopt, "curl_easy_setopt");
    LOAD(easy_perform, "curl_easy_perform");
    LOAD(easy_getinfo, "curl_easy_getinfo");
    LOAD(easy_cleanup, "curl_easy_cleanup");
    LOAD(easy_strerror, "curl_easy_strerror");
    LOAD(slist_append, "curl_slist_append");
    LOAD(slist_free_all, "curl_slist_free_all");
#undef LOAD
    // Not thread-safe in older libcurl, hence here, under pthread_once.
    int code = curl.global_init(GLOBAL_DEFAULT);
    if (code != CODE_OK) {
        snprintf(curl.failure, sizeof curl.failure, "curl_global_init failed: %s", curl.easy_strerror(code));
    }
}

/// Where the write callback puts the body.
struct sink {
    unsigned char *bytes;
    size_t cap;
    size_t len;
    /// Set when the body went past `cap` and the transfer was ended on purpose.
    int full;
};

static size_t write_body(char *data, size_t size, size_t count, void *context) {
    struct sink *sink = context;
    size_t total = size * count;
    size_t room = sink->cap - sink->len;
    size_t take = total < room ? total : room;
    memcpy(sink->bytes + sink->len, data, take);
    sink->len += take;
    if (take < total) {
        // Enough for the status and body checks: a short count makes curl stop reading.
        sink->full = 1;
        return take;
    }
    return total;
}

static void copy_text(char *to, size_t cap, const char *text) {
    if (cap == 0) return;
    snprintf(to, cap, "%s", text);
}

int cposix_https_get(const char *url, const char *connect_to, const char *user_agent, long timeout_ms, int insecure,
                     const char *ca_file, unsigned char *body, size_t body_cap, size_t *body_len,
                     long *status, char *error, size_t error_cap) {
    *body_len = 0;
    *status = 0;
    copy_text(error, error_cap, "");
    pthread_once(&curl_once, load_curl);
    if (curl.failure[0] != '\0') {
        copy_text(error, error_cap, curl.failure);
        return CPOSIX_HTTPS_UNAVAILABLE;
    }
    void *handle = curl.easy_init();
    if (handle == NULL) {
        copy_text(error, error_cap, "curl_easy_init failed");
        return CPOSIX_HTTPS_UNAVAILABLE;
    }
    struct curl_slist *connect_list = NULL;
    if (connect_to != NULL) {
        connect_list = curl.slist_append(NULL, connect_to);
        if (connect_list == NULL) {
            curl.easy_cleanup(handle);
            copy_text(error, error_cap, "out of memory");
            return CPOSIX_HTTPS_FAILED;
        }
    }
    char details[ERROR_SIZE] = "";
    struct sink sink = {body, body_cap, 0, 0};
    curl.easy_setopt(handle, OPT_URL, url);
    curl.easy_setopt(handle, OPT_NOSIGNAL, 1L);
    curl.easy_setopt(handle, OPT_NOPROXY, "*");
    curl.easy_setopt(handle, OPT_FOLLOWLOCATION, 0L);
    curl.easy_setopt(handle, OPT_TIMEOUT_MS, timeout_ms);
    curl.easy_setopt(handle, OPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl.easy_setopt(handle, OPT_USERAGENT, user_agent);
    curl.easy_setopt(handle, OPT_ERRORBUFFER, details);
    curl.easy_setopt(handle, OPT_WRITEFUNCTION, write_body);
    curl.easy_setopt(handle, OPT_WRITEDATA, &sink);
    if (connect_list != NULL) curl.easy_setopt(handle, OPT_CONNECT_TO, connect_list);
    if (insecure) {
        curl.easy_setopt(handle, OPT_SSL_VERIFYPEER, 0L);
        curl.easy_setopt(handle, OPT_SSL_VERIFYHOST, 0L);
    } else if (ca_file != NULL) {
        // Only this bundle: no built-in CA directory either.
        curl.easy_setopt(handle, OPT_CAINFO, ca_file);
        curl.easy_setopt(handle, OPT_CAPATH, (const char *)NULL);
    }
    int code = curl.easy_perform(handle);
    *body_len = sink.len;
    int result;
    if (code == CODE_OK || (code == CODE_WRITE_ERROR && sink.full)) {
        curl.easy_getinfo(handle, INFO_RESPONSE_CODE, status);
        result = CPOSIX_HTTPS_OK;
    } else {
        copy_text(error, error_cap, details[0] != '\0' ? details : curl.easy_strerror(code));
        result = code == CODE_OPERATION_TIMEDOUT ? CPOSIX_HTTPS_TIMEOUT : CPOSIX_HTTPS_FAILED;
    }
    curl.easy_cleanup(handle);
    curl.slist_free_all(connect_list);
    return result;
}
