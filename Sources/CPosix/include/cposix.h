// Small C wrappers for the Linux-specific calls that need _GNU_SOURCE.
//
// This header must stay free of GNU-only types and must not define _GNU_SOURCE itself:
// Swift also imports <sys/socket.h> through the Glibc module, and two different views of
// the same system headers would clash. Only cposix.c defines _GNU_SOURCE.
#ifndef CPOSIX_H
#define CPOSIX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/// Layout-compatible twin of glibc's `struct mmsghdr` (checked with a static assert in cposix.c).
struct cposix_mmsghdr {
    struct msghdr msg_hdr;
    unsigned int msg_len;
};

/// recvmmsg(2) with MSG_WAITFORONE: blocks until one datagram arrives, then takes whatever
/// else is already queued, up to `vlen`. Returns the count, or -1 with errno set.
int cposix_recvmmsg(int fd, struct cposix_mmsghdr *msgs, unsigned int vlen);

/// sendmmsg(2). Returns how many messages were sent, or -1 with errno set.
int cposix_sendmmsg(int fd, struct cposix_mmsghdr *msgs, unsigned int vlen);

/// Credentials of the process at the other end of a connected Unix socket (SO_PEERCRED).
/// Returns 0, or -1 with errno set.
int cposix_peer_cred(int fd, uint32_t *uid, uint32_t *gid, int32_t *pid);

/// accept4(2) with SOCK_NONBLOCK | SOCK_CLOEXEC.
int cposix_accept_nonblocking(int fd, struct sockaddr *addr, socklen_t *len);

/// accept4(2) with SOCK_CLOEXEC only (blocking socket).
int cposix_accept_cloexec(int fd, struct sockaddr *addr, socklen_t *len);

/// pipe2(2) with O_NONBLOCK | O_CLOEXEC.
int cposix_pipe_nonblocking(int fds[2]);

/// CPUs this process may run on (sched_getaffinity), falling back to the online count.
int cposix_cpu_count(void);

/// malloc_trim(0): returns freed heap memory to the kernel (<malloc.h> is not in Glibc's module map).
int cposix_malloc_trim(void);

/// Thread-safe strerror: the message for `err`, possibly stored in `buf`.
const char *cposix_strerror(int err, char *buf, size_t len);

/// Names the calling thread (visible in top -H, gdb); the name is cut to 15 bytes.
void cposix_set_thread_name(const char *name);

/// Bytes of ancillary data space a UDP message needs for packet info (IP_PKTINFO or
/// IPV6_PKTINFO), for both the received and the reply control buffer.
size_t cposix_pktinfo_space(void);

/// Asks the kernel to report the destination address of each received datagram, so replies
/// from a wildcard-bound socket leave from the address the query was sent to.
/// Returns 0, or -1 with errno set.
int cposix_enable_pktinfo(int fd, int ipv6);

/// Turns the control data of a received datagram into control data for its reply that sets
/// the source address. Returns the reply's msg_controllen, 0 if there was no packet info.
size_t cposix_pktinfo_reply(const void *received, size_t received_len, void *reply, size_t reply_cap);

/// Routes `signal` to a self-pipe: its handler (async-signal-safe) writes the signal number
/// as one byte to `write_fd`, which must be non-blocking. Any thread may take the signal.
/// Returns 0, or -1 with errno set.
int cposix_signal_to_pipe(int signal, int write_fd);

/* HTTPS probes through libcurl, loaded at run time. */
#include "cposix_https.h"

/* The io_uring UDP loop (uring.c). */
#include "cposix_uring.h"

#endif
