/* ukrun's compatibility library for Nanos guests, preloaded (LD_PRELOAD) into every rank.
 *
 * Stock Nanos kernels since commit 6be7e380 skip the first iovec in readv() on sockets and in
 * writev() on pipes, which hangs Open MPI's TCP transport; they also return interface names
 * that are not NUL-terminated. This library routes the affected calls through correct ones:
 *   readv  on a socket -> recvmsg with the same iovecs; on a pipe -> read per buffer
 *   writev on a socket -> sendmsg with the same iovecs; on a pipe -> write per buffer
 *   getifaddrs, ioctl(SIOCGIFCONF, SIOCGIFNAME) -> names cut at the first non-alphanumeric byte
 * Everything else goes to the next definition (dlsym RTLD_NEXT).
 *
 * With UKRUN_NANOS_SELFTEST=1 a constructor probes the kernel with raw system calls (so this
 * library cannot hide the bugs), checks its own wrappers, prints one line and exits:
 *   ukrun-nanos-selftest: readv-first-iov-lost=yes|no ifname-nul=yes|no
 *       writev-pipe-first-iov-lost=yes|no compat=ok|broken
 * where "yes" means the kernel has the bug ("ifname-nul=yes": names lack their NUL). */
#define _GNU_SOURCE
#include <ctype.h>
#include <dlfcn.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

/* The library's version; bump when the set of wrapped calls changes. */
int ukrun_nanos_compat_version(void) {
    return 1;
}

static void* next_symbol(const char* name) {
    return dlsym(RTLD_NEXT, name);
}

static mode_t fd_type(int fd) {
    struct stat st;
    return fstat(fd, &st) == 0 ? (st.st_mode & S_IFMT) : 0;
}

/* ---- readv / writev ---- */

static ssize_t readv_pipe(int fd, const struct iovec* iov, int iovcnt) {
    ssize_t total = 0;
    for (int i = 0; i < iovcnt; ++i) {
        if (iov[i].iov_len == 0) continue;
        if (total > 0) { /* never block once something was read */
            int available = 0;
            if (ioctl(fd, FIONREAD, &available) != 0 || available <= 0) break;
        }
        ssize_t n = read(fd, iov[i].iov_base, iov[i].iov_len);
        if (n < 0) return total > 0 ? total : n;
        total += n;
        if ((size_t)n < iov[i].iov_len) break;
    }
    return total;
}

static ssize_t writev_pipe(int fd, const struct iovec* iov, int iovcnt) {
    ssize_t total = 0;
    for (int i = 0; i < iovcnt; ++i) {
        if (iov[i].iov_len == 0) continue;
        ssize_t n = write(fd, iov[i].iov_base, iov[i].iov_len);
        if (n < 0) return total > 0 ? total : n;
        total += n;
        if ((size_t)n < iov[i].iov_len) break;
    }
    return total;
}

typedef ssize_t (*vector_io)(int, const struct iovec*, int);

/* Sockets go through recvmsg/sendmsg, pipes through `pipe_io`, anything else to the next
 * definition of `name` (or the raw system call `sysno`). */
static ssize_t route_vector_io(int fd, const struct iovec* iov, int iovcnt, int sending,
                               vector_io pipe_io, const char* name, long sysno) {
    mode_t type = fd_type(fd);
    if (type == S_IFSOCK) {
        struct msghdr msg = {0};
        msg.msg_iov = (struct iovec*)iov;
        msg.msg_iovlen = (size_t)iovcnt;
        return sending ? sendmsg(fd, &msg, 0) : recvmsg(fd, &msg, 0);
    }
    if (type == S_IFIFO) return pipe_io(fd, iov, iovcnt);
    vector_io real = (vector_io)next_symbol(name);
    return real ? real(fd, iov, iovcnt) : syscall(sysno, fd, iov, iovcnt);
}

ssize_t readv(int fd, const struct iovec* iov, int iovcnt) {
    return route_vector_io(fd, iov, iovcnt, 0, readv_pipe, "readv", SYS_readv);
}

ssize_t writev(int fd, const struct iovec* iov, int iovcnt) {
    return route_vector_io(fd, iov, iovcnt, 1, writev_pipe, "writev", SYS_writev);
}

/* ---- interface names ---- */

/* Cuts `name` (at most IFNAMSIZ bytes) at its first byte that is not a letter or digit. */
static void terminate_ifname(char* name) {
    for (int i = 0; i < IFNAMSIZ; ++i) {
        if (!isalnum((unsigned char)name[i])) {
            name[i] = '\0';
            return;
        }
    }
    name[IFNAMSIZ - 1] = '\0';
}

int getifaddrs(struct ifaddrs** out) {
    int (*real)(struct ifaddrs**) = next_symbol("getifaddrs");
    if (!real) return -1;
    int rc = real(out);
    if (rc == 0)
        for (struct ifaddrs* ifa = *out; ifa; ifa = ifa->ifa_next)
            if (ifa->ifa_name) terminate_ifname(ifa->ifa_name);
    return rc;
}

int ioctl(int fd, unsigned long request, ...) {
    va_list ap;
    va_start(ap, request);
    void* arg = va_arg(ap, void*);
    va_end(ap);

    int (*real)(int, unsigned long, ...) = next_symbol("ioctl");
    int rc = real ? real(fd, request, arg) : (int)syscall(SYS_ioctl, fd, request, arg);
    if (rc < 0 || !arg) return rc;
    if (request == SIOCGIFCONF) {
        struct ifconf* conf = arg;
        if (conf->ifc_req)
            for (size_t i = 0; i < conf->ifc_len / sizeof(struct ifreq); ++i)
                terminate_ifname(conf->ifc_req[i].ifr_name);
    } else if (request == SIOCGIFNAME) {
        terminate_ifname(((struct ifreq*)arg)->ifr_name);
    }
    return rc;
}

/* ---- self-test ---- */

/* A connected TCP pair over 127.0.0.1 (TCP_NODELAY), or -1s. */
static int tcp_pair(int fds[2]) {
    struct sockaddr_in addr = {0};
    socklen_t len = sizeof addr;
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    fds[0] = fds[1] = -1;
    if (listener < 0 || bind(listener, (struct sockaddr*)&addr, sizeof addr) != 0 ||
        listen(listener, 1) != 0 || getsockname(listener, (struct sockaddr*)&addr, &len) != 0)
        goto fail;
    fds[0] = socket(AF_INET, SOCK_STREAM, 0);
    if (fds[0] < 0 || connect(fds[0], (struct sockaddr*)&addr, sizeof addr) != 0) goto fail;
    fds[1] = accept(listener, NULL, NULL);
    if (fds[1] < 0) goto fail;
    setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    close(listener);
    return 0;
fail:
    if (listener >= 0) close(listener);
    if (fds[0] >= 0) close(fds[0]);
    return -1;
}

/* Sends "headbody" on wfd, reads it back into two 4-byte buffers with `reader`; 1 when the
 * buffers hold "head" and "body", 0 when not, -1 when the probe itself failed. */
static int two_buffer_probe(int wfd, int rfd, ssize_t (*reader)(int, const struct iovec*, int),
                            int raw) {
    char a[4] = {0}, b[4] = {0};
    struct iovec iov[2] = {{a, 4}, {b, 4}};
    if (write(wfd, "headbody", 8) != 8) return -1;
    ssize_t got = 0;
    for (int tries = 0; got < 8 && tries < 8; ++tries) {
        /* the rest (if the first call returned short) into the buffers still empty */
        struct iovec rest[2];
        int n = 0;
        size_t skip = (size_t)got;
        for (int i = 0; i < 2; ++i) {
            if (skip >= 4) {
                skip -= 4;
                continue;
            }
            rest[n].iov_base = (char*)iov[i].iov_base + skip;
            rest[n].iov_len = 4 - skip;
            skip = 0;
            ++n;
        }
        ssize_t r = raw ? syscall(SYS_readv, rfd, rest, n) : reader(rfd, rest, n);
        if (r <= 0) break;
        got += r;
    }
    return memcmp(a, "head", 4) == 0 && memcmp(b, "body", 4) == 0;
}

/* two_buffer_probe on a fresh loopback TCP connection, with the raw system call or this
 * library's readv; -1 when the connection could not be made. */
static int readv_probe(int raw) {
    int fds[2];
    if (tcp_pair(fds) != 0) return -1;
    int result = two_buffer_probe(fds[0], fds[1], readv, raw);
    close(fds[0]);
    close(fds[1]);
    return result;
}

/* 1 when writev with two buffers on a pipe delivers both, 0 when not, -1 on failure. */
static int pipe_writev_probe(int raw) {
    int p[2];
    if (pipe(p) != 0) return -1;
    struct iovec iov[2] = {{"head", 4}, {"body", 4}};
    ssize_t w = raw ? syscall(SYS_writev, p[1], iov, 2) : writev(p[1], iov, 2);
    char buf[9] = {0};
    ssize_t r = w > 0 ? read(p[0], buf, (size_t)w) : -1;
    close(p[0]);
    close(p[1]);
    if (w < 0 || r < 0) return -1;
    return r == 8 && memcmp(buf, "headbody", 8) == 0;
}

/* 1 when some interface name from the kernel (real getifaddrs) holds a non-alphanumeric byte
 * before its NUL within IFNAMSIZ, 0 when all are clean, -1 when getifaddrs failed. */
static int ifname_probe(void) {
    int (*real)(struct ifaddrs**) = next_symbol("getifaddrs");
    void (*real_free)(struct ifaddrs*) = next_symbol("freeifaddrs");
    struct ifaddrs* list = NULL;
    if (!real || real(&list) != 0) return -1;
    int bad = 0;
    for (struct ifaddrs* ifa = list; ifa; ifa = ifa->ifa_next) {
        if (!ifa->ifa_name) continue;
        for (int i = 0; i < IFNAMSIZ && ifa->ifa_name[i]; ++i)
            if (!isalnum((unsigned char)ifa->ifa_name[i])) bad = 1;
    }
    if (real_free) real_free(list);
    return bad;
}

static const char* yes_no(int clean_result) {
    return clean_result < 0 ? "unknown" : clean_result ? "no" : "yes";
}

__attribute__((constructor)) static void ukrun_nanos_selftest(void) {
    const char* mode = getenv("UKRUN_NANOS_SELFTEST");
    if (!mode || strcmp(mode, "1") != 0) return;

    /* A fresh connection per probe: a buggy readv may leave bytes behind. */
    int raw_readv = readv_probe(1);
    int compat_readv = readv_probe(0);
    int raw_writev = pipe_writev_probe(1);
    int compat_writev = pipe_writev_probe(0);
    int ifname = ifname_probe();

    const char* ifname_bug = ifname < 0 ? "unknown" : ifname ? "yes" : "no";
    const char* compat = "ok";
    if (compat_readv != 1 || compat_writev != 1)
        compat = compat_readv == 1    ? "broken(writev)"
                 : compat_writev == 1 ? "broken(readv)"
                                      : "broken(both)";
    printf(
        "ukrun-nanos-selftest: readv-first-iov-lost=%s ifname-nul=%s "
        "writev-pipe-first-iov-lost=%s compat=%s\n",
        yes_no(raw_readv), ifname_bug, yes_no(raw_writev), compat);
    fflush(stdout);
    _exit(compat_readv == 1 && compat_writev == 1 ? 0 : 1);
}
