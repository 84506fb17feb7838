// A UDP receive/send loop on io_uring, with raw system calls (no liburing).
//
// One ring serves one socket from one thread: a multishot IORING_OP_RECVMSG takes datagrams
// into a ring of provided buffers, and each answer goes out with IORING_OP_SENDMSG from a send
// slot that stays valid until its completion. Everything is allocated by `cposix_uring_open`;
// nothing is allocated per datagram. Like cposix.h, this header must not define _GNU_SOURCE.
#ifndef CPOSIX_URING_H
#define CPOSIX_URING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/// One socket's ring, its provided buffers and its send slots (opaque).
struct cposix_uring;

/// A received datagram, valid until its buffer is recycled with `cposix_uring_recycle`.
struct cposix_uring_datagram {
    const void *data;
    size_t length;
    /// The sender's address (sockaddr_in or sockaddr_in6).
    const void *peer;
    socklen_t peer_length;
    /// Ancillary data (packet info on a wildcard socket); `control_length` may be 0.
    const void *control;
    size_t control_length;
    /// The provided buffer holding all of it: give it back with `cposix_uring_recycle`.
    uint16_t buffer;
};

/// Sets up a ring for the datagram socket `fd`, disabled until `cposix_uring_enable` is
/// called on the thread that will use it (so it can be opened on another thread and errors
/// surface early). When `wake_fd` (e.g. a pipe's read end; -1: none) becomes readable, the
/// wait in progress ends: how a stop reaches the thread without waiting for the timeout. `buffer_count` (a power of two, at most 32768) buffers each take one
/// datagram of up to `payload_size` bytes with up to `control_size` bytes of ancillary data;
/// as many send slots each hold an answer of up to `reply_size` bytes. `entries` is the
/// submission queue size (a power of two).
///
/// Returns NULL on failure with `*error` set to the errno and `*failed` to the step that
/// failed (`"io_uring_setup"`, `"mmap"`, `"register buffer ring"`, …).
struct cposix_uring *cposix_uring_open(int fd, int wake_fd, unsigned entries, unsigned buffer_count, size_t payload_size,
                                       size_t control_size, size_t reply_size, int *error, const char **failed);

/// Binds the ring to the calling thread and lets it run. Returns 0 or -errno.
int cposix_uring_enable(struct cposix_uring *ring);

/// Submits the queued sends (and a new multishot receive if the last one ended), then waits
/// until a completion other than those sends' is ready or `timeout_ns` passes. Returns 0 when
/// completions may be ready (take them with `cposix_uring_next`), -ETIME when the time ran
/// out with none, -EBADR when the kernel dropped completions (the ring has lost buffers for
/// good: stop using it, see `cposix_uring_abandon`), or -errno (-EINTR: call again).
///
/// Needs Linux 6.1 (deferred task running): `cposix_uring_open` fails with EINVAL before, and
/// with ENOSYS when CPosix was built with older kernel headers.
int cposix_uring_wait(struct cposix_uring *ring, int64_t timeout_ns);

/// Takes the next received datagram from the completions that are ready: returns 1 and fills
/// `*datagram`, 0 when no datagram is left for now, or -errno when the receive failed for
/// good (e.g. -EBADF, or -EBADR as from `cposix_uring_wait`). Send completions, datagrams
/// longer than `payload_size`, with a peer address too long for its space, and empty ones
/// are consumed on the way. When the multishot receive ends, a new one is submitted here at
/// once (with the sends queued so far). Call it while a send slot is free
/// (`cposix_uring_reply_buffer`), at most `buffer_count` times a round, then wait again.
int cposix_uring_next(struct cposix_uring *ring, struct cposix_uring_datagram *datagram);

/// Gives a datagram's buffer back to the kernel. Every buffer `cposix_uring_next` returned
/// must come back, once.
void cposix_uring_recycle(struct cposix_uring *ring, uint16_t buffer);

/// Where to write the next answer (`reply_size` bytes): the buffer of a free send slot, or
/// NULL when every slot still waits for its send to complete (then drop the answer).
void *cposix_uring_reply_buffer(struct cposix_uring *ring);

/// Queues the answer written into `cposix_uring_reply_buffer`'s buffer for sending to `peer`,
/// with `control` as its ancillary data (copied). It goes out at the next `cposix_uring_wait`.
/// Returns 0, or -EINVAL when a length exceeds its slot or no slot was free.
int cposix_uring_send(struct cposix_uring *ring, size_t length, const void *peer, socklen_t peer_length,
                      const void *control, size_t control_length);

/// Cancels the receive and any send in flight and waits (briefly) for the kernel to finish
/// with the buffers. Call it on the ring's thread before that thread ends.
void cposix_uring_quiesce(struct cposix_uring *ring);

/// Stops using the ring for good, on its thread (after -EBADR): quiesces it, and if that does
/// not finish, closes its descriptor so the kernel cancels the rest. The socket can then be
/// read directly; `cposix_uring_close` still frees the memory.
void cposix_uring_abandon(struct cposix_uring *ring);

/// Closes the ring and frees its memory. Call `cposix_uring_quiesce` first if the ring ran;
/// if that timed out, the memory the kernel may still use (buffers, send slots) is kept.
void cposix_uring_close(struct cposix_uring *ring);

#endif
