// _GNU_SOURCE is needed for recvmmsg/sendmmsg, struct ucred, accept4, pipe2, CPU_COUNT and
// pthread_setname_np. It is defined here only, never in the header (see cposix.h).
#define _GNU_SOURCE
#include "cposix.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

_Static_assert(sizeof(struct cposix_mmsghdr) == sizeof(struct mmsghdr), "mmsghdr layout");
_Static_assert(offsetof(struct cposix_mmsghdr, msg_len) == offsetof(struct mmsghdr, msg_len),
               "mmsghdr layout");

// The system calls themselves, not glibc's wrappers: those are thread cancellation points and
// switch asynchronous cancellation on and off around every call, which the UDP workers (never
// cancelled) would pay on every batch. Same arguments, same -1 and errno on failure.
int cposix_recvmmsg(int fd, struct cposix_mmsghdr *msgs, unsigned int vlen) {
    return (int)syscall(SYS_recvmmsg, fd, (struct mmsghdr *)msgs, vlen, MSG_WAITFORONE, NULL);
}

int cposix_sendmmsg(int fd, struct cposix_mmsghdr *msgs, unsigned int vlen) {
    return (int)syscall(SYS_sendmmsg, fd, (struct mmsghdr *)msgs, vlen, MSG_NOSIGNAL);
}

int cposix_peer_cred(int fd, uint32_t *uid, uint32_t *gid, int32_t *pid) {
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -1;
    *uid = (uint32_t)cred.uid;
    *gid = (uint32_t)cred.gid;
    *pid = (int32_t)cred.pid;
    return 0;
}

int cposix_accept_nonblocking(int fd, struct sockaddr *addr, socklen_t *len) {
    return accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

int cposix_accept_cloexec(int fd, struct sockaddr *addr, socklen_t *len) {
    return accept4(fd, addr, len, SOCK_CLOEXEC);
}

int cposix_pipe_nonblocking(int fds[2]) {
    return pipe2(fds, O_NONBLOCK | O_CLOEXEC);
}

int cposix_cpu_count(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (int)online : 1;
}

int cposix_malloc_trim(void) {
    return malloc_trim(0);
}

const char *cposix_strerror(int err, char *buf, size_t len) {
    // The GNU strerror_r returns a pointer that may or may not be `buf`.
    return strerror_r(err, buf, len);
}

void cposix_set_thread_name(const char *name) {
    char shortName[16]; // The kernel's limit: 15 bytes plus the terminating NUL.
    strncpy(shortName, name, sizeof(shortName) - 1);
    shortName[sizeof(shortName) - 1] = '\0';
    pthread_setname_np(pthread_self(), shortName);
}

size_t cposix_pktinfo_space(void) {
    size_t v4 = CMSG_SPACE(sizeof(struct in_pktinfo));
    size_t v6 = CMSG_SPACE(sizeof(struct in6_pktinfo));
    return v4 > v6 ? v4 : v6;
}

int cposix_enable_pktinfo(int fd, int ipv6) {
    int on = 1;
    if (ipv6) return setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof(on));
    return setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
}

size_t cposix_pktinfo_reply(const void *received, size_t received_len, void *reply, size_t reply_cap) {
    struct msghdr in;
    memset(&in, 0, sizeof(in));
    in.msg_control = (void *)received;
    in.msg_controllen = received_len;
    struct msghdr out;
    memset(&out, 0, sizeof(out));
    out.msg_control = reply;
    out.msg_controllen = reply_cap;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&in); c != NULL; c = CMSG_NXTHDR(&in, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            if (reply_cap < CMSG_SPACE(sizeof(struct in_pktinfo))) return 0;
            struct in_pktinfo got;
            memcpy(&got, CMSG_DATA(c), sizeof(got));
            struct in_pktinfo send;
            memset(&send, 0, sizeof(send));
            // Source address = the address the query was sent to; interface 0 lets routing choose.
            send.ipi_spec_dst = got.ipi_addr;
            struct cmsghdr *o = CMSG_FIRSTHDR(&out);
            o->cmsg_level = IPPROTO_IP;
            o->cmsg_type = IP_PKTINFO;
            o->cmsg_len = CMSG_LEN(sizeof(send));
            memcpy(CMSG_DATA(o), &send, sizeof(send));
            return CMSG_SPACE(sizeof(send));
        }
        if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
            if (reply_cap < CMSG_SPACE(sizeof(struct in6_pktinfo))) return 0;
            struct in6_pktinfo send;
            memcpy(&send, CMSG_DATA(c), sizeof(send));
            // Keep the interface index: link-local sources need it.
            struct cmsghdr *o = CMSG_FIRSTHDR(&out);
            o->cmsg_level = IPPROTO_IPV6;
            o->cmsg_type = IPV6_PKTINFO;
            o->cmsg_len = CMSG_LEN(sizeof(send));
            memcpy(CMSG_DATA(o), &send, sizeof(send));
            return CMSG_SPACE(sizeof(send));
        }
    }
    return 0;
}

/// Write end of the self-pipe for signals; set before any handler is installed.
static volatile sig_atomic_t signal_pipe_fd = -1;

static void cposix_signal_handler(int signal) {
    int saved = errno;
    unsigned char byte = (unsigned char)signal;
    // A full pipe drops the byte: the signal is already pending for the reader.
    ssize_t ignored = write(signal_pipe_fd, &byte, 1);
    (void)ignored;
    errno = saved;
}

int cposix_signal_to_pipe(int signal, int write_fd) {
    signal_pipe_fd = write_fd;
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = cposix_signal_handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    return sigaction(signal, &action, NULL);
}
