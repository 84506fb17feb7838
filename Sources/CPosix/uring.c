// io_uring UDP loop with raw system calls: see cposix_uring.h for the API. _GNU_SOURCE is
// defined here only (for syscall(2) and the socket constants), never in a header.
#define _GNU_SOURCE
#include "cposix_uring.h"

#include <errno.h>

// The loop needs the uapi of Linux 6.1 (IORING_SETUP_DEFER_TASKRUN, struct
// io_uring_recvmsg_out from 6.0, IORING_ASYNC_CANCEL_ANY). With older kernel headers the
// functions below are stubs and io_uring is reported unavailable (ENOSYS), so CPosix and the
// recvmmsg loop still build. CPOSIX_URING_STUBS forces the stubs, to check they compile.
#if !defined(CPOSIX_URING_STUBS) && defined(__has_include)
#if __has_include(<linux/io_uring.h>)
#include <linux/io_uring.h>
#if defined(IORING_SETUP_DEFER_TASKRUN) && defined(IORING_RECV_MULTISHOT) && defined(IORING_ASYNC_CANCEL_ANY)
#define CPOSIX_URING_SUPPORTED 1
#endif
#endif
#endif

#ifdef CPOSIX_URING_SUPPORTED
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/// user_data of the multishot receive; sends carry their slot index, which is smaller.
#define RECEIVE_TAG UINT64_MAX
/// user_data of the cancel request `cposix_uring_quiesce` sends.
#define CANCEL_TAG (UINT64_MAX - 1)
/// user_data of the poll on the wake descriptor.
#define WAKE_TAG (UINT64_MAX - 2)
/// The one provided-buffer group this ring uses.
#define BUFFER_GROUP 0
/// Room for the sender's address in each buffer: a sockaddr_in6 (28 bytes) rounded up to 8,
/// so the control data after it is aligned for struct cmsghdr.
#define NAME_SPACE 32
/// Completion queue entries per submission queue entry: the multishot receive posts one per
/// datagram while the submission side only carries sends.
#define CQ_PER_SQ 4
/// Largest buffer ring the kernel accepts (IORING_REGISTER_PBUF_RING).
#define MAX_BUFFERS 32768
/// How long `cposix_uring_quiesce` waits for cancelled requests to complete.
#define QUIESCE_NS 500000000LL

struct send_slot {
    struct msghdr message;
    struct iovec vector;
    struct sockaddr_storage peer;
    unsigned char *control;
    unsigned char *data;
};

struct cposix_uring {
    int ring_fd;
    int socket_fd;
    int wake_fd;
    int receiving;       // a multishot receive is armed
    int wake_armed;      // the poll on wake_fd was submitted
    int wake_pending;    // ... and has not completed
    int quiesced;
    int quiescing;       // cposix_uring_quiesce runs: no receive is re-armed
    int ever_submitted;
    int dropped;         // io_uring_enter said EBADR: completions (and their buffers) were lost
    int kernel_closed;   // the ring's descriptor and mappings are gone (a quiesce timed out)

    // Submission queue (shared with the kernel).
    void *sq_map;
    size_t sq_map_size;
    unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
    unsigned sq_entries;
    unsigned sq_local_tail;  // SQEs filled in, published at the next enter
    struct io_uring_sqe *sqes;
    size_t sqes_size;

    // Completion queue (shared; may be the same mapping as the submission queue).
    void *cq_map;
    size_t cq_map_size;
    unsigned *cq_head, *cq_tail, *cq_mask;
    unsigned cq_entries;
    struct io_uring_cqe *cqes;

    // Provided buffers: the ring the kernel takes them from, and the memory behind them.
    struct io_uring_buf_ring *buffer_ring;
    size_t buffer_ring_size;
    unsigned buffer_count;
    unsigned buffer_tail;
    unsigned char *buffers;
    size_t buffer_size;
    size_t payload_size; // longer datagrams are dropped, though the rounded buffer may hold them
    size_t control_size;
    size_t header_size;  // io_uring_recvmsg_out + name + control: where the payload starts
    struct msghdr receive_template;

    // Send slots and the stack of free ones.
    struct send_slot *slots;
    unsigned *free_slots;
    unsigned free_count;
    unsigned char *slot_memory;
    size_t reply_size;
    unsigned sends_in_flight;
    unsigned sends_queued;  // sends filled in since the last io_uring_enter

    // Completions taken off the completion queue ahead of their turn, to free the send slots
    // of the send completions among them (`harvest`): the others, in order, taken first.
    struct io_uring_cqe *backlog;
    unsigned backlog_capacity, backlog_start, backlog_end;
};

static int sys_setup(unsigned entries, struct io_uring_params *params) {
    return (int)syscall(__NR_io_uring_setup, entries, params);
}

static int sys_enter(int fd, unsigned submit, unsigned wait, unsigned flags, void *arg, size_t size) {
    return (int)syscall(__NR_io_uring_enter, fd, submit, wait, flags, arg, size);
}

static int sys_register(int fd, unsigned opcode, void *arg, unsigned count) {
    return (int)syscall(__NR_io_uring_register, fd, opcode, arg, count);
}

static int is_power_of_two(unsigned value) { return value != 0 && (value & (value - 1)) == 0; }

static size_t round_up(size_t value, size_t to) { return (value + to - 1) / to * to; }

/// Sets up the ring with single issuer and deferred task running (Linux 6.1): completions
/// are posted only inside our own io_uring_enter calls, so a round works on a fixed set of
/// them. Without it they would keep arriving while a round runs (see `cposix_uring_next`'s
/// callers, which bound rounds anyway). Older kernels reject the flags with EINVAL: io_uring
/// then counts as unavailable and the server uses recvmmsg.
static int setup_ring(unsigned entries, struct io_uring_params *params) {
    memset(params, 0, sizeof(*params));
    params->flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED | IORING_SETUP_CQSIZE;
    params->cq_entries = entries * CQ_PER_SQ;
    return sys_setup(entries, params);
}

/// Closes the ring's descriptor and unmaps its queues: memory only we and the ring use.
static void close_kernel_side(struct cposix_uring *ring) {
    if (ring->sqes) munmap(ring->sqes, ring->sqes_size);
    if (ring->cq_map && ring->cq_map != ring->sq_map) munmap(ring->cq_map, ring->cq_map_size);
    if (ring->sq_map) munmap(ring->sq_map, ring->sq_map_size);
    if (ring->ring_fd >= 0) close(ring->ring_fd);
    ring->sqes = NULL;
    ring->cq_map = NULL;
    ring->sq_map = NULL;
    ring->ring_fd = -1;
    ring->kernel_closed = 1;
}

static void release(struct cposix_uring *ring) {
    close_kernel_side(ring);
    if (ring->buffer_ring) munmap(ring->buffer_ring, ring->buffer_ring_size);
    free(ring->buffers);
    free(ring->slot_memory);
    free(ring->slots);
    free(ring->free_slots);
    free(ring->backlog);
    free(ring);
}

static struct cposix_uring *fail(struct cposix_uring *ring, int *error, const char **failed, const char *step, int code) {
    *error = code;
    *failed = step;
    if (ring) release(ring);
    return NULL;
}

/// Hands buffer `id` to the kernel; visible to it once the tail is published.
static void add_buffer(struct cposix_uring *ring, unsigned id) {
    struct io_uring_buf *entry = &ring->buffer_ring->bufs[ring->buffer_tail & (ring->buffer_count - 1)];
    entry->addr = (uint64_t)(uintptr_t)(ring->buffers + (size_t)id * ring->buffer_size);
    entry->len = (uint32_t)ring->buffer_size;
    entry->bid = (uint16_t)id;
    ring->buffer_tail++;
}

static void publish_buffers(struct cposix_uring *ring) {
    __atomic_store_n(&ring->buffer_ring->tail, (uint16_t)ring->buffer_tail, __ATOMIC_RELEASE);
}

struct cposix_uring *cposix_uring_open(int fd, int wake_fd, unsigned entries, unsigned buffer_count, size_t payload_size,
                                       size_t control_size, size_t reply_size, int *error, const char **failed) {
    if (!is_power_of_two(entries) || !is_power_of_two(buffer_count) || buffer_count > MAX_BUFFERS
        || payload_size == 0 || reply_size == 0 || control_size % sizeof(size_t) != 0) {
        return fail(NULL, error, failed, "io_uring arguments", EINVAL);
    }
    struct cposix_uring *ring = calloc(1, sizeof(*ring));
    if (!ring) return fail(NULL, error, failed, "io_uring allocation", ENOMEM);
    ring->ring_fd = -1;
    ring->socket_fd = fd;
    ring->wake_fd = wake_fd;

    struct io_uring_params params;
    ring->ring_fd = setup_ring(entries, &params);
    if (ring->ring_fd < 0 && errno == EINVAL) {
        return fail(ring, error, failed, "io_uring_setup (needs IORING_SETUP_DEFER_TASKRUN, Linux 6.1)", EINVAL);
    }
    if (ring->ring_fd < 0) return fail(ring, error, failed, "io_uring_setup", errno);
    // The timeout on io_uring_enter (5.11) is how the loop notices a stop and goes idle.
    if (!(params.features & IORING_FEAT_EXT_ARG)) return fail(ring, error, failed, "io_uring_setup (no IORING_FEAT_EXT_ARG)", ENOSYS);

    ring->sq_entries = params.sq_entries;
    ring->cq_entries = params.cq_entries;
    ring->sq_map_size = params.sq_off.array + params.sq_entries * sizeof(unsigned);
    ring->cq_map_size = params.cq_off.cqes + params.cq_entries * sizeof(struct io_uring_cqe);
    if (params.features & IORING_FEAT_SINGLE_MMAP) {
        if (ring->cq_map_size > ring->sq_map_size) ring->sq_map_size = ring->cq_map_size;
        ring->cq_map_size = ring->sq_map_size;
    }
    void *sq = mmap(NULL, ring->sq_map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring->ring_fd, IORING_OFF_SQ_RING);
    if (sq == MAP_FAILED) return fail(ring, error, failed, "mmap io_uring submission queue", errno);
    ring->sq_map = sq;
    if (params.features & IORING_FEAT_SINGLE_MMAP) {
        ring->cq_map = sq;
    } else {
        void *cq = mmap(NULL, ring->cq_map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring->ring_fd, IORING_OFF_CQ_RING);
        if (cq == MAP_FAILED) return fail(ring, error, failed, "mmap io_uring completion queue", errno);
        ring->cq_map = cq;
    }
    ring->sqes_size = params.sq_entries * sizeof(struct io_uring_sqe);
    void *sqes = mmap(NULL, ring->sqes_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring->ring_fd, IORING_OFF_SQES);
    if (sqes == MAP_FAILED) return fail(ring, error, failed, "mmap io_uring entries", errno);
    ring->sqes = sqes;

    unsigned char *sq_base = ring->sq_map, *cq_base = ring->cq_map;
    ring->sq_head = (unsigned *)(sq_base + params.sq_off.head);
    ring->sq_tail = (unsigned *)(sq_base + params.sq_off.tail);
    ring->sq_mask = (unsigned *)(sq_base + params.sq_off.ring_mask);
    ring->sq_array = (unsigned *)(sq_base + params.sq_off.array);
    ring->cq_head = (unsigned *)(cq_base + params.cq_off.head);
    ring->cq_tail = (unsigned *)(cq_base + params.cq_off.tail);
    ring->cq_mask = (unsigned *)(cq_base + params.cq_off.ring_mask);
    ring->cqes = (struct io_uring_cqe *)(cq_base + params.cq_off.cqes);
    // Entry i of the indirection array always names SQE i: SQEs are used in ring order.
    for (unsigned index = 0; index < params.sq_entries; index++) ring->sq_array[index] = index;
    ring->sq_local_tail = *ring->sq_tail;

    // Each buffer: io_uring_recvmsg_out, the name, the control data, then the payload.
    ring->control_size = control_size;
    ring->header_size = sizeof(struct io_uring_recvmsg_out) + NAME_SPACE + control_size;
    ring->buffer_size = round_up(ring->header_size + payload_size, 64);
    ring->payload_size = payload_size;
    ring->buffer_count = buffer_count;
    if (posix_memalign((void **)&ring->buffers, 4096, ring->buffer_size * buffer_count) != 0) {
        return fail(ring, error, failed, "io_uring buffers", ENOMEM);
    }
    ring->buffer_ring_size = round_up(buffer_count * sizeof(struct io_uring_buf), (size_t)sysconf(_SC_PAGESIZE));
    void *buffer_ring = mmap(NULL, ring->buffer_ring_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buffer_ring == MAP_FAILED) return fail(ring, error, failed, "mmap io_uring buffer ring", errno);
    ring->buffer_ring = buffer_ring;
    struct io_uring_buf_reg registration;
    memset(&registration, 0, sizeof(registration));
    registration.ring_addr = (uint64_t)(uintptr_t)buffer_ring;
    registration.ring_entries = buffer_count;
    registration.bgid = BUFFER_GROUP;
    if (sys_register(ring->ring_fd, IORING_REGISTER_PBUF_RING, &registration, 1) != 0) {
        return fail(ring, error, failed, "register io_uring buffer ring", errno);
    }
    for (unsigned id = 0; id < buffer_count; id++) add_buffer(ring, id);
    publish_buffers(ring);
    // Only the lengths matter for a multishot receive: the kernel lays the buffer out by them.
    ring->receive_template.msg_namelen = NAME_SPACE;
    ring->receive_template.msg_controllen = control_size;

    // As many send slots as buffers: at most one answer per datagram taken in a round.
    ring->reply_size = reply_size;
    size_t slot_bytes = round_up(reply_size + control_size, 64);
    ring->slots = calloc(buffer_count, sizeof(struct send_slot));
    ring->free_slots = calloc(buffer_count, sizeof(unsigned));
    if (!ring->slots || !ring->free_slots || posix_memalign((void **)&ring->slot_memory, 64, slot_bytes * buffer_count) != 0) {
        return fail(ring, error, failed, "io_uring send slots", ENOMEM);
    }
    for (unsigned index = 0; index < buffer_count; index++) {
        struct send_slot *slot = &ring->slots[index];
        slot->data = ring->slot_memory + (size_t)index * slot_bytes;
        slot->control = slot->data + reply_size;
        ring->free_slots[index] = buffer_count - 1 - index;
    }
    ring->free_count = buffer_count;
    ring->backlog_capacity = params.cq_entries;
    ring->backlog = calloc(ring->backlog_capacity, sizeof(struct io_uring_cqe));
    if (!ring->backlog) return fail(ring, error, failed, "io_uring completion backlog", ENOMEM);
    return ring;
}

int cposix_uring_enable(struct cposix_uring *ring) {
    return sys_register(ring->ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0) == 0 ? 0 : -errno;
}

static unsigned pending_submissions(const struct cposix_uring *ring) {
    return ring->sq_local_tail - __atomic_load_n(ring->sq_head, __ATOMIC_ACQUIRE);
}

/// Publishes the filled SQEs and enters the kernel: submit, and wait for `wait` completions
/// (0: none) for at most `timeout_ns`.
static int enter(struct cposix_uring *ring, unsigned wait, int64_t timeout_ns) {
    __atomic_store_n(ring->sq_tail, ring->sq_local_tail, __ATOMIC_RELEASE);
    unsigned submit = pending_submissions(ring);
    if (submit > 0) ring->ever_submitted = 1;
    struct __kernel_timespec timeout = {
        .tv_sec = timeout_ns / 1000000000LL,
        .tv_nsec = timeout_ns % 1000000000LL,
    };
    struct io_uring_getevents_arg arg;
    memset(&arg, 0, sizeof(arg));
    arg.sigmask_sz = _NSIG / 8;
    arg.ts = (uint64_t)(uintptr_t)&timeout;
    ring->sends_queued = 0;
    int result = sys_enter(ring->ring_fd, submit, wait, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg, sizeof(arg));
    // EBADR: the kernel dropped completions (it could not even queue them as overflow), so
    // buffers and send slots may be gone for good. Reported once by the kernel; kept here.
    if (result < 0 && errno == EBADR) ring->dropped = 1;
    return result;
}

/// The next free SQE, submitting what is queued first when the queue is full; NULL if even
/// that frees none.
static struct io_uring_sqe *next_sqe(struct cposix_uring *ring) {
    if (pending_submissions(ring) >= ring->sq_entries) {
        if (enter(ring, 0, 0) < 0 && errno != ETIME && errno != EINTR && errno != EBUSY && errno != EAGAIN) return NULL;
        if (pending_submissions(ring) >= ring->sq_entries) return NULL;
    }
    struct io_uring_sqe *sqe = &ring->sqes[ring->sq_local_tail & *ring->sq_mask];
    memset(sqe, 0, sizeof(*sqe));
    ring->sq_local_tail++;
    return sqe;
}

static int arm_receive(struct cposix_uring *ring) {
    struct io_uring_sqe *sqe = next_sqe(ring);
    if (!sqe) return -EBUSY;
    sqe->opcode = IORING_OP_RECVMSG;
    sqe->fd = ring->socket_fd;
    sqe->addr = (uint64_t)(uintptr_t)&ring->receive_template;
    sqe->ioprio = IORING_RECV_MULTISHOT;
    sqe->flags = IOSQE_BUFFER_SELECT;
    sqe->buf_group = BUFFER_GROUP;
    sqe->user_data = RECEIVE_TAG;
    ring->receiving = 1;
    return 0;
}

/// One poll on the wake descriptor, for the life of the ring: it completes when the server
/// stops, which ends the wait at once instead of at its timeout.
static int arm_wake(struct cposix_uring *ring) {
    struct io_uring_sqe *sqe = next_sqe(ring);
    if (!sqe) return -EBUSY;
    sqe->opcode = IORING_OP_POLL_ADD;
    sqe->fd = ring->wake_fd;
    sqe->poll32_events = POLLIN;
    sqe->user_data = WAKE_TAG;
    ring->wake_armed = 1;
    ring->wake_pending = 1;
    return 0;
}

/// Completions on the kernel's queue.
static unsigned queued_completions(const struct cposix_uring *ring) {
    return __atomic_load_n(ring->cq_tail, __ATOMIC_ACQUIRE) - *ring->cq_head;
}

/// Completions to take: the backlog's and the kernel queue's.
static unsigned ready_completions(const struct cposix_uring *ring) {
    return ring->backlog_end - ring->backlog_start + queued_completions(ring);
}

/// Takes the next completion off the kernel's queue; 0 when there is none.
static int pop_queued(struct cposix_uring *ring, struct io_uring_cqe *cqe) {
    if (queued_completions(ring) == 0) return 0;
    unsigned head = *ring->cq_head;
    *cqe = ring->cqes[head & *ring->cq_mask];
    __atomic_store_n(ring->cq_head, head + 1, __ATOMIC_RELEASE);
    return 1;
}

/// Takes the next completion, from the backlog first; 0 when none is ready.
static int take_completion(struct cposix_uring *ring, struct io_uring_cqe *cqe) {
    if (ring->backlog_start < ring->backlog_end) {
        *cqe = ring->backlog[ring->backlog_start++];
        if (ring->backlog_start == ring->backlog_end) ring->backlog_start = ring->backlog_end = 0;
        return 1;
    }
    return pop_queued(ring, cqe);
}

/// Frees the slot of a completed send (or of one that failed: an unreachable peer loses its
/// answer, as with sendmmsg).
static void finish_send(struct cposix_uring *ring, uint64_t index) {
    if (index < ring->buffer_count && ring->sends_in_flight > 0) {
        ring->free_slots[ring->free_count++] = (unsigned)index;
        ring->sends_in_flight--;
    }
}

/// With every send slot taken, the completions that free them may sit behind datagrams on the
/// completion queue: moves the queue to the backlog, finishing the sends on the way.
static void harvest(struct cposix_uring *ring) {
    if (ring->backlog_start > 0) {
        unsigned count = ring->backlog_end - ring->backlog_start;
        memmove(ring->backlog, ring->backlog + ring->backlog_start, count * sizeof(struct io_uring_cqe));
        ring->backlog_start = 0;
        ring->backlog_end = count;
    }
    struct io_uring_cqe cqe;
    while (ring->backlog_end < ring->backlog_capacity && pop_queued(ring, &cqe)) {
        if (cqe.user_data < ring->buffer_count) {
            finish_send(ring, cqe.user_data);
        } else {
            ring->backlog[ring->backlog_end++] = cqe;
        }
    }
}

int cposix_uring_wait(struct cposix_uring *ring, int64_t timeout_ns) {
    if (ring->dropped) return -EBADR;
    if (ring->wake_fd >= 0 && !ring->wake_armed) {
        int armed = arm_wake(ring);
        if (armed < 0) return armed;
    }
    if (!ring->receiving) {
        int armed = arm_receive(ring);
        if (armed < 0) return armed;
    }
    unsigned ready = ready_completions(ring);
    unsigned wait;
    if (ring->free_count == 0) {
        // Every send slot is taken: the round ended to get these sends out. Wait for anything
        // new on the kernel's queue (a send's completion frees a slot) rather than spin on
        // the datagrams waiting.
        wait = queued_completions(ring) + 1;
    } else if (ready > 0) {
        // Completions already waiting are taken first: submit without blocking.
        wait = 0;
    } else {
        // The sends submitted now complete at once (their completions are posted within this
        // call); waiting for just one completion would return on those alone, an empty round
        // and a second io_uring_enter per query. Wait for one more: the next datagram (or the
        // wake poll, or the timeout).
        wait = ring->sends_queued + 1;
    }
    if (wait > ring->cq_entries) wait = ring->cq_entries;
    int result = enter(ring, wait, timeout_ns);
    int code = result < 0 ? errno : 0;
    if (ring->dropped) return -EBADR;
    if (ready_completions(ring) > 0) return 0;
    if (code == 0 || code == ETIME) return -ETIME;
    // EBUSY/EAGAIN: the completion queue overflowed or memory ran short; taking completions
    // is the cure, and the next call retries the submission.
    if (code == EBUSY || code == EAGAIN) return 0;
    return -code;
}

/// Returns buffer `id` to the kernel now.
void cposix_uring_recycle(struct cposix_uring *ring, uint16_t buffer) {
    if (buffer >= ring->buffer_count) return;
    add_buffer(ring, buffer);
    publish_buffers(ring);
}

/// Checks a receive completion's buffer and fills `datagram`; 0 when it is to be dropped.
static int read_datagram(struct cposix_uring *ring, const struct io_uring_cqe *cqe, uint16_t id,
                         struct cposix_uring_datagram *datagram) {
    // The kernel says how much of the buffer it used: the layout header, then the payload.
    if (cqe->res < 0 || (size_t)cqe->res < ring->header_size || (size_t)cqe->res > ring->buffer_size) return 0;
    const unsigned char *buffer = ring->buffers + (size_t)id * ring->buffer_size;
    struct io_uring_recvmsg_out out;
    memcpy(&out, buffer, sizeof(out));
    size_t length = (size_t)cqe->res - ring->header_size;
    // MSG_TRUNC: longer than the payload space (a query over UDPServer.maxQuery). A name
    // longer than its space is cut short and could not be answered.
    if ((out.flags & MSG_TRUNC) || out.payloadlen != length || out.namelen > NAME_SPACE) return 0;
    // The buffer is rounded up and holds a few bytes more than `payload_size`: drop what the
    // recvmmsg loop would have seen truncated.
    if (length == 0 || length > ring->payload_size || out.namelen < sizeof(sa_family_t)) return 0;
    datagram->data = buffer + ring->header_size;
    datagram->length = length;
    datagram->peer = buffer + sizeof(out);
    datagram->peer_length = (socklen_t)out.namelen;
    datagram->control = buffer + sizeof(out) + NAME_SPACE;
    // MSG_CTRUNC leaves what fitted; the packet info comes first and fits its space.
    datagram->control_length = out.controllen < ring->control_size ? out.controllen : ring->control_size;
    datagram->buffer = id;
    return 1;
}

/// Arms a new multishot receive and submits it now (with any sends queued so far).
static void rearm_receive(struct cposix_uring *ring) {
    if (ring->quiescing || ring->receiving) return;
    if (arm_receive(ring) == 0) enter(ring, 0, 0);
}

int cposix_uring_next(struct cposix_uring *ring, struct cposix_uring_datagram *datagram) {
    // While quiescing, completions are still taken: the cancel's may yet show all is done.
    if (ring->dropped && !ring->quiescing) return -EBADR;
    struct io_uring_cqe cqe;
    while (take_completion(ring, &cqe)) {
        if (cqe.user_data == CANCEL_TAG) continue;
        if (cqe.user_data == WAKE_TAG) {
            ring->wake_pending = 0;
            continue;
        }
        if (cqe.user_data != RECEIVE_TAG) {
            finish_send(ring, cqe.user_data);
            continue;
        }
        // Without F_MORE the multishot receive has ended: out of buffers, completion queue
        // overflow, or an empty datagram (the kernel ends a multishot receive on a 0-byte
        // read as if the peer had closed, so any client can end it). Until a new one is
        // armed, datagrams stay in the socket. Left to the next wait, everything queued
        // behind an empty datagram would wait a round more; submitted now, the new receive
        // takes what the socket holds at once and this round answers it. Every completion
        // before this one has been taken and its buffer recycled (but for the datagram
        // returned last), so buffers are free for it.
        int ended = !(cqe.flags & IORING_CQE_F_MORE);
        if (ended) ring->receiving = 0;
        if (cqe.flags & IORING_CQE_F_BUFFER) {
            unsigned id = cqe.flags >> IORING_CQE_BUFFER_SHIFT;
            if (ended) rearm_receive(ring);
            if (id >= ring->buffer_count) continue;
            if (read_datagram(ring, &cqe, (uint16_t)id, datagram)) return 1;
            cposix_uring_recycle(ring, (uint16_t)id);
            continue;
        }
        if (cqe.res < 0 && cqe.res != -ENOBUFS && cqe.res != -EOVERFLOW && cqe.res != -EINTR
            && cqe.res != -ECANCELED && cqe.res != -EAGAIN) {
            return cqe.res;
        }
        // Ran out of buffers or room for completions: all are back or on their way now.
        if (ended && cqe.res != -ECANCELED) rearm_receive(ring);
        if (ring->dropped && !ring->quiescing) return -EBADR;
    }
    return 0;
}

void *cposix_uring_reply_buffer(struct cposix_uring *ring) {
    if (ring->free_count == 0) harvest(ring);
    if (ring->free_count == 0) return NULL;
    return ring->slots[ring->free_slots[ring->free_count - 1]].data;
}

int cposix_uring_send(struct cposix_uring *ring, size_t length, const void *peer, socklen_t peer_length,
                      const void *control, size_t control_length) {
    if (ring->free_count == 0 || length > ring->reply_size || peer_length > sizeof(struct sockaddr_storage)
        || control_length > ring->control_size) {
        return -EINVAL;
    }
    unsigned index = ring->free_slots[ring->free_count - 1];
    struct send_slot *slot = &ring->slots[index];
    struct io_uring_sqe *sqe = next_sqe(ring);
    if (!sqe) return -EBUSY;
    ring->free_count--;
    ring->sends_in_flight++;
    ring->sends_queued++;
    memcpy(&slot->peer, peer, peer_length);
    if (control_length > 0) memcpy(slot->control, control, control_length);
    slot->vector.iov_base = slot->data;
    slot->vector.iov_len = length;
    memset(&slot->message, 0, sizeof(slot->message));
    slot->message.msg_name = &slot->peer;
    slot->message.msg_namelen = peer_length;
    slot->message.msg_iov = &slot->vector;
    slot->message.msg_iovlen = 1;
    slot->message.msg_control = control_length > 0 ? slot->control : NULL;
    slot->message.msg_controllen = control_length;
    sqe->opcode = IORING_OP_SENDMSG;
    sqe->fd = ring->socket_fd;
    sqe->addr = (uint64_t)(uintptr_t)&slot->message;
    sqe->len = 1;
    sqe->msg_flags = MSG_NOSIGNAL;
    sqe->user_data = index;
    return 0;
}

static int64_t now_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
}

void cposix_uring_quiesce(struct cposix_uring *ring) {
    ring->quiescing = 1;
    if (ring->quiesced || ring->kernel_closed) return;
    if (!ring->ever_submitted) {
        ring->quiesced = 1;
        return;
    }
    struct io_uring_sqe *sqe = next_sqe(ring);
    if (!sqe) return;
    sqe->opcode = IORING_OP_ASYNC_CANCEL;
    sqe->fd = -1;
    sqe->cancel_flags = IORING_ASYNC_CANCEL_ANY;
    sqe->user_data = CANCEL_TAG;
    int64_t deadline = now_ns() + QUIESCE_NS;
    struct cposix_uring_datagram datagram;
    while (ring->receiving || ring->wake_pending || ring->sends_in_flight > 0) {
        int64_t left = deadline - now_ns();
        if (left <= 0) return;
        enter(ring, 1, left);
        // Datagrams that raced the cancel are dropped; their buffers go back.
        while (cposix_uring_next(ring, &datagram) == 1) cposix_uring_recycle(ring, datagram.buffer);
    }
    ring->quiesced = 1;
}

void cposix_uring_abandon(struct cposix_uring *ring) {
    cposix_uring_quiesce(ring);
    // Closing the ring makes the kernel cancel what is left, in the background.
    if (!ring->quiesced) close_kernel_side(ring);
}

void cposix_uring_close(struct cposix_uring *ring) {
    if (!ring) return;
    if (!ring->quiesced && ring->ever_submitted) {
        // The kernel may still write the buffers (and read the send slots) until it has
        // cancelled the requests left: closing the ring and unmapping its queues is safe,
        // freeing that memory is not. It stays allocated, with this structure (whose receive
        // header the kernel was given). This happens only if quiesce timed out.
        close_kernel_side(ring);
        free(ring->free_slots);
        ring->free_slots = NULL;
        return;
    }
    release(ring);
}

#else  // No io_uring uapi of Linux 6.1: every ring fails to open, with ENOSYS.

struct cposix_uring {
    int unused;
};

struct cposix_uring *cposix_uring_open(int fd, int wake_fd, unsigned entries, unsigned buffer_count, size_t payload_size,
                                       size_t control_size, size_t reply_size, int *error, const char **failed) {
    (void)fd, (void)wake_fd, (void)entries, (void)buffer_count, (void)payload_size, (void)control_size, (void)reply_size;
    *error = ENOSYS;
    *failed = "io_uring_setup (built without the Linux 6.1 io_uring headers)";
    return NULL;
}

int cposix_uring_enable(struct cposix_uring *ring) { (void)ring; return -ENOSYS; }
int cposix_uring_wait(struct cposix_uring *ring, int64_t timeout_ns) { (void)ring, (void)timeout_ns; return -ENOSYS; }
int cposix_uring_next(struct cposix_uring *ring, struct cposix_uring_datagram *datagram) { (void)ring, (void)datagram; return -ENOSYS; }
void cposix_uring_recycle(struct cposix_uring *ring, uint16_t buffer) { (void)ring, (void)buffer; }
void *cposix_uring_reply_buffer(struct cposix_uring *ring) { (void)ring; return NULL; }
int cposix_uring_send(struct cposix_uring *ring, size_t length, const void *peer, socklen_t peer_length,
                      const void *control, size_t control_length) {
    (void)ring, (void)length, (void)peer, (void)peer_length, (void)control, (void)control_length;
    return -ENOSYS;
}
void cposix_uring_quiesce(struct cposix_uring *ring) { (void)ring; }
void cposix_uring_abandon(struct cposix_uring *ring) { (void)ring; }
void cposix_uring_close(struct cposix_uring *ring) { (void)ring; }

#endif
