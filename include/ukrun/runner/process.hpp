// Child processes behind one narrow interface: spawn with a chosen environment, process group
// and pre-exec hook; run a short command and capture its output; decode wait statuses.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ukrun::runner {

/// What to start and how.
struct SpawnOptions {
    std::vector<std::string> argv;                ///< argv[0] is looked up in PATH when bare
    std::optional<std::vector<std::string>> env;  ///< "NAME=value" entries; nullopt inherits
    bool new_process_group = false;               ///< the child leads its own process group
    bool capture_output = false;                  ///< stdout and stderr into one pipe
    int death_signal = 0;                         ///< sent to the child when this process dies
    /// Runs in the child after fork, before exec; throws std::system_error to fail the spawn.
    std::function<void()> in_child;
};

/// A started child: its pid and, with capture_output, the read end of its output pipe.
struct Child {
    pid_t pid = -1;
    int output_fd = -1;  ///< owned by the caller; -1 without capture_output
};

/// Forks and execs `options.argv`. The child starts with an empty signal mask and default
/// signal handlers. Throws std::system_error naming the program when fork, the pre-exec hook
/// or exec fails (exec errors are reported back through a close-on-exec pipe).
Child spawn(const SpawnOptions& options);

/// A finished short command.
struct CommandResult {
    int exit_code = -1;      ///< see exit_code_from_status; -1 when it could not start
    std::string output;      ///< stdout and stderr, interleaved
    bool timed_out = false;  ///< killed (SIGKILL, whole group) after the timeout
};

/// Runs `argv` to completion with its output captured, killing it (and its process group)
/// after `timeout_ms`. Never throws for a missing program: exit_code -1 and the reason in
/// output.
CommandResult run_command(const std::vector<std::string>& argv, int timeout_ms = 10000,
                          const std::optional<std::vector<std::string>>& env = std::nullopt);

/// The shell convention: the exit status, or 128 + signal number for a killed process.
int exit_code_from_status(int wait_status);

/// The absolute path of `name` found in $PATH, or empty. A name with a slash is returned
/// unchanged when it is executable.
std::string find_in_path(const std::string& name);

/// This process's environment as "NAME=value" entries.
std::vector<std::string> current_environment();

/// Milliseconds since the Unix epoch (wall clock), for timestamps shared across processes.
double now_epoch_ms();

}  // namespace ukrun::runner
