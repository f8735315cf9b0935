// Waiting for a launcher with a deadline: SIGINT, SIGTERM and the timeout end it by
// SIGTERM to its process group, then SIGKILL after a grace period (mpirun 4.1 can ignore
// SIGTERM).
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <csignal>

namespace ukrun::runner {

/// Blocks SIGINT, SIGTERM and SIGCHLD for this thread and reads them from a signalfd;
/// restores the previous mask on destruction. Children started by spawn() get an empty mask.
class BlockedSignals {
  public:
    /// Throws std::system_error when the mask or the signalfd cannot be set up.
    BlockedSignals();
    ~BlockedSignals();
    BlockedSignals(const BlockedSignals&) = delete;
    BlockedSignals& operator=(const BlockedSignals&) = delete;

    /// The signalfd (non-blocking) to poll for readability.
    int fd() const { return fd_; }

    /// The next pending signal number, or 0 when none is pending.
    int take();

  private:
    sigset_t previous_{};
    int fd_ = -1;
};

/// How a watched launcher ended.
enum class WatchOutcome { exited, timeout, interrupted };

/// What Watchdog::wait returns.
struct WatchResult {
    WatchOutcome outcome = WatchOutcome::exited;
    int exit_code = -1;   ///< the launcher's code (128 + signal when killed)
    int signal = 0;       ///< SIGINT or SIGTERM for interrupted
    bool killed = false;  ///< SIGKILL was needed after the grace period
};

/// Watches one launcher process that leads its own process group.
class Watchdog {
  public:
    /// `timeout_s` <= 0 means no deadline; `grace_ms` is the SIGTERM-to-SIGKILL wait.
    Watchdog(BlockedSignals& signals, double timeout_s, int grace_ms = 3000);

    /// Waits for `pid` (which leads process group `pid`) to exit, ending it on the deadline
    /// or on SIGINT/SIGTERM. Always reaps it and finally SIGKILLs whatever is left in its
    /// group. Never throws.
    WatchResult wait(pid_t pid);

  private:
    /// SIGTERM to the group, up to grace_ms for `pid` to exit, then SIGKILL; returns the
    /// wait status.
    int terminate_group(pid_t pid, bool& killed);

    BlockedSignals& signals_;
    double timeout_s_;
    int grace_ms_;
};

/// Polls `fd` and the signal fd; returns the readable set as a bit mask (1: fd, 2: signals),
/// 0 on timeout. `timeout_ms` < 0 waits forever.
int wait_readable(int fd, int signal_fd, int timeout_ms);

}  // namespace ukrun::runner
