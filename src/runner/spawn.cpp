// Child processes: fork/exec with an exec-error pipe, short captured commands.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "ukrun/runner/process.hpp"

extern char** environ;

namespace ukrun::runner {

namespace {

/// Writes errno and a short stage name to `fd` and leaves the child with status 127.
[[noreturn]] void child_fail(int fd, int error, const char* stage) {
    char buffer[128];
    const int n = std::snprintf(buffer, sizeof buffer, "%d %s", error, stage);
    if (n > 0) [[maybe_unused]]
        auto ignored = ::write(fd, buffer, static_cast<size_t>(n));
    ::_exit(127);
}

/// Everything the child does between fork and exec.
[[noreturn]] void run_child(const SpawnOptions& options, const std::vector<char*>& argv,
                            const std::vector<char*>* envp, int error_fd, int output_fd) {
    sigset_t empty;
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, nullptr);
    for (int sig : {SIGINT, SIGTERM, SIGCHLD, SIGPIPE, SIGHUP, SIGQUIT}) signal(sig, SIG_DFL);

    if (options.new_process_group && setpgid(0, 0) != 0) child_fail(error_fd, errno, "setpgid");
    if (options.death_signal != 0 && prctl(PR_SET_PDEATHSIG, options.death_signal) != 0)
        child_fail(error_fd, errno, "prctl");
    if (output_fd >= 0) {
        if (dup2(output_fd, STDOUT_FILENO) < 0 || dup2(output_fd, STDERR_FILENO) < 0)
            child_fail(error_fd, errno, "dup2");
        ::close(output_fd);
    }
    if (options.in_child) {
        try {
            options.in_child();
        } catch (const std::system_error& e) {
            child_fail(error_fd, e.code().value(), e.what());
        } catch (...) {
            child_fail(error_fd, EINVAL, "pre-exec setup");
        }
    }
    if (envp)
        ::execvpe(argv[0], argv.data(), envp->data());
    else
        ::execvp(argv[0], argv.data());
    child_fail(error_fd, errno, "exec");
}

}  // namespace

Child spawn(const SpawnOptions& options) {
    if (options.argv.empty()) throw std::invalid_argument("spawn: empty command line");
    std::vector<char*> argv;
    for (const auto& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    if (options.env) {
        for (const auto& e : *options.env) envp.push_back(const_cast<char*>(e.c_str()));
        envp.push_back(nullptr);
    }

    int error_pipe[2];
    if (::pipe2(error_pipe, O_CLOEXEC) != 0)
        throw std::system_error(errno, std::generic_category(), "pipe for " + options.argv[0]);
    int output_pipe[2] = {-1, -1};
    if (options.capture_output && ::pipe2(output_pipe, O_CLOEXEC) != 0) {
        const int error = errno;
        ::close(error_pipe[0]);
        ::close(error_pipe[1]);
        throw std::system_error(error, std::generic_category(), "pipe for " + options.argv[0]);
    }

    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(error_pipe[0]);
        if (output_pipe[0] >= 0) ::close(output_pipe[0]);
        run_child(options, argv, options.env ? &envp : nullptr, error_pipe[1], output_pipe[1]);
    }
    const int fork_errno = errno;
    ::close(error_pipe[1]);
    if (output_pipe[1] >= 0) ::close(output_pipe[1]);
    if (pid < 0) {
        ::close(error_pipe[0]);
        if (output_pipe[0] >= 0) ::close(output_pipe[0]);
        throw std::system_error(fork_errno, std::generic_category(), "fork for " + options.argv[0]);
    }
    if (options.new_process_group) ::setpgid(pid, pid);  // closes the race with the child

    char report[128] = {};
    ssize_t n;
    do n = ::read(error_pipe[0], report, sizeof report - 1);
    while (n < 0 && errno == EINTR);
    ::close(error_pipe[0]);
    if (n > 0) {
        ::waitpid(pid, nullptr, 0);
        if (output_pipe[0] >= 0) ::close(output_pipe[0]);
        int error = EINVAL;
        char stage[100] = {};
        std::sscanf(report, "%d %99[^\n]", &error, stage);
        throw std::system_error(error, std::generic_category(),
                                "cannot start " + options.argv[0] + " (" + stage + ")");
    }
    return Child{pid, output_pipe[0]};
}

CommandResult run_command(const std::vector<std::string>& argv, int timeout_ms,
                          const std::optional<std::vector<std::string>>& env) {
    CommandResult result;
    Child child;
    try {
        child = spawn({.argv = argv,
                       .env = env,
                       .new_process_group = true,
                       .capture_output = true,
                       .death_signal = SIGKILL,
                       .in_child = {}});
    } catch (const std::system_error& e) {
        result.output = e.what();
        return result;
    }

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    char buffer[4096];
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            result.timed_out = true;
            break;
        }
        pollfd pfd{child.output_fd, POLLIN, 0};
        const int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) continue;
        const ssize_t n = ::read(child.output_fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        result.output.append(buffer, static_cast<size_t>(n));
    }
    ::close(child.output_fd);
    if (result.timed_out) ::kill(-child.pid, SIGKILL);

    int status = 0;
    while (::waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
    }
    result.exit_code = exit_code_from_status(status);
    return result;
}

int exit_code_from_status(int wait_status) {
    if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
    if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
    return -1;
}

std::string find_in_path(const std::string& name) {
    if (name.empty()) return {};
    if (name.find('/') != std::string::npos)
        return ::access(name.c_str(), X_OK) == 0 ? name : std::string{};
    const char* path = std::getenv("PATH");
    std::string rest = path ? path : "/usr/local/bin:/usr/bin:/bin";
    size_t start = 0;
    while (start <= rest.size()) {
        size_t end = rest.find(':', start);
        if (end == std::string::npos) end = rest.size();
        const std::string dir = rest.substr(start, end - start);
        const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
        if (::access(candidate.c_str(), X_OK) == 0 && !std::filesystem::is_directory(candidate))
            return candidate;
        start = end + 1;
    }
    return {};
}

std::vector<std::string> current_environment() {
    std::vector<std::string> env;
    for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
    return env;
}

double now_epoch_ms() {
    using namespace std::chrono;
    return duration<double, std::milli>(system_clock::now().time_since_epoch()).count();
}

}  // namespace ukrun::runner
