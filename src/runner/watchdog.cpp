// The launcher watchdog and the blocked-signal set it reads from.
#include "ukrun/runner/watchdog.hpp"

#include <poll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <system_error>

#include "ukrun/runner/process.hpp"

namespace ukrun::runner {

namespace {

using Clock = std::chrono::steady_clock;

/// Milliseconds left until `deadline`, at least 0.
int ms_until(Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

/// Reaps `pid` if it has exited; true then, with its status in `status`.
bool try_reap(pid_t pid, int& status) {
    pid_t r;
    do r = ::waitpid(pid, &status, WNOHANG);
    while (r < 0 && errno == EINTR);
    return r == pid || (r < 0 && errno == ECHILD);
}

}  // namespace

BlockedSignals::BlockedSignals() {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGINT, SIGTERM, SIGCHLD}) sigaddset(&set, sig);
    if (::sigprocmask(SIG_BLOCK, &set, &previous_) != 0)
        throw std::system_error(errno, std::generic_category(), "blocking SIGINT/SIGTERM");
    fd_ = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd_ < 0) {
        const int error = errno;
        ::sigprocmask(SIG_SETMASK, &previous_, nullptr);
        throw std::system_error(error, std::generic_category(), "signalfd");
    }
}

BlockedSignals::~BlockedSignals() {
    ::close(fd_);
    ::sigprocmask(SIG_SETMASK, &previous_, nullptr);
}

int BlockedSignals::take() {
    signalfd_siginfo info{};
    const ssize_t n = ::read(fd_, &info, sizeof info);
    return n == static_cast<ssize_t>(sizeof info) ? static_cast<int>(info.ssi_signo) : 0;
}

int wait_readable(int fd, int signal_fd, int timeout_ms) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {signal_fd, POLLIN, 0}};
    const int ready = ::poll(fds, 2, timeout_ms);
    if (ready <= 0) return 0;
    int mask = 0;
    if (fds[0].revents) mask |= 1;
    if (fds[1].revents) mask |= 2;
    return mask;
}

Watchdog::Watchdog(BlockedSignals& signals, double timeout_s, int grace_ms)
    : signals_(signals), timeout_s_(timeout_s), grace_ms_(grace_ms) {}

WatchResult Watchdog::wait(pid_t pid) {
    WatchResult result;
    const bool has_deadline = timeout_s_ > 0;
    const auto deadline =
        Clock::now() + std::chrono::milliseconds(static_cast<long>(timeout_s_ * 1000.0));
    int status = 0;
    for (;;) {
        if (try_reap(pid, status)) {
            result.exit_code = exit_code_from_status(status);
            break;
        }
        const int timeout_ms = has_deadline ? ms_until(deadline) : -1;
        if (has_deadline && timeout_ms == 0) {
            result.outcome = WatchOutcome::timeout;
            result.exit_code = exit_code_from_status(terminate_group(pid, result.killed));
            break;
        }
        if (wait_readable(-1, signals_.fd(), timeout_ms) == 0) continue;
        const int sig = signals_.take();
        if (sig == SIGINT || sig == SIGTERM) {
            result.outcome = WatchOutcome::interrupted;
            result.signal = sig;
            result.exit_code = exit_code_from_status(terminate_group(pid, result.killed));
            break;
        }
    }
    ::kill(-pid, SIGKILL);  // stragglers left in the group; ESRCH when none
    return result;
}

int Watchdog::terminate_group(pid_t pid, bool& killed) {
    ::kill(-pid, SIGTERM);
    const auto deadline = Clock::now() + std::chrono::milliseconds(grace_ms_);
    int status = 0;
    while (!try_reap(pid, status)) {
        const int left = ms_until(deadline);
        if (left == 0) {
            killed = true;
            ::kill(-pid, SIGKILL);
            while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            break;
        }
        if (wait_readable(-1, signals_.fd(), left) & 2) signals_.take();
    }
    return status;
}

}  // namespace ukrun::runner
