// The per-rank shim: environment filter, rank detection, output monitoring, and the run.
#include "ukrun/runner/shim.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <regex>
#include <stdexcept>

#include "ukrun/runner/backend.hpp"
#include "ukrun/runner/commands.hpp"
#include "ukrun/runner/job.hpp"
#include "ukrun/runner/watchdog.hpp"

namespace ukrun::runner {

namespace {

/// Variables passed to a rank besides the PMIX_*, OMPI_* and SLURM_* families.
constexpr const char* kBasicVariables[] = {"PATH",
                                           "HOME",
                                           "USER",
                                           "LOGNAME",
                                           "SHELL",
                                           "LANG",
                                           "LC_ALL",
                                           "TERM",
                                           "TZ",
                                           "TMPDIR",
                                           "LD_LIBRARY_PATH",
                                           "LD_PRELOAD",
                                           "HOSTNAME",
                                           "OPAL_PREFIX",
                                           "HWLOC_XMLFILE",
                                           "UKRUN_JOB_ID"};

/// Variable-name prefixes always passed to a rank.
constexpr const char* kPassedPrefixes[] = {"PMIX_", "OMPI_", "SLURM_", "OPAL_", "UKRUN_"};

/// How long a rank gets to exit after a forwarded signal before SIGKILL, in ms.
constexpr int kRankGraceMs = 3000;

/// Parses a non-negative decimal integer; nullopt otherwise.
std::optional<int> parse_non_negative(const std::string& text) {
    if (text.empty() || text.size() > 9) return std::nullopt;
    for (char c : text)
        if (c < '0' || c > '9') return std::nullopt;
    return std::stoi(text);
}

/// Writes all of `data` to `fd`, retrying on EINTR and short writes.
void write_all(int fd, const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        done += static_cast<size_t>(n);
    }
}

/// Reads a rank's output, splitting it into lines.
class LineSplitter {
  public:
    /// Appends raw bytes; calls `emit` for each complete line.
    template <typename F>
    void feed(const char* data, size_t size, F&& emit) {
        pending_.append(data, size);
        size_t start = 0;
        for (size_t nl; (nl = pending_.find('\n', start)) != std::string::npos; start = nl + 1)
            emit(pending_.substr(start, nl - start));
        pending_.erase(0, start);
    }

    /// Emits a final unterminated line, if any.
    template <typename F>
    void flush(F&& emit) {
        if (!pending_.empty()) emit(pending_);
        pending_.clear();
    }

  private:
    std::string pending_;
};

/// Everything the shim does once the rank is running: stream, monitor, forward signals.
struct RankSession {
    int rank;
    Child child;
    RankMonitor monitor;
    std::ofstream log;
    BlockedSignals& signals;
    std::string failure;
    bool term_sent = false;
    double kill_at_ms = -1;
    Backend* backend = nullptr;  ///< sees every line (boot markers of instance backends)

    /// Handles one output line: prefixed to stdout, verbatim to the log, into the monitor.
    void on_line(const std::string& line) {
        std::string prefixed = "[r";
        prefixed.append(std::to_string(rank)).append("] ").append(line).push_back('\n');
        write_all(STDOUT_FILENO, prefixed);
        log << line << '\n';
        log.flush();
        const double now_ms = now_epoch_ms();
        monitor.on_line(line, now_ms);
        if (backend) backend->on_rank_line(line, now_ms);
        if (failure.empty() && !monitor.singleton_error().empty()) {
            failure = monitor.singleton_error();
            std::fprintf(stderr, "ukrun shim: rank %d: %s\n", rank, failure.c_str());
            stop(SIGTERM);
        }
    }

    /// Sends `sig` to the rank and arms the SIGKILL deadline.
    void stop(int sig) {
        ::kill(child.pid, sig);
        if (!term_sent) kill_at_ms = now_epoch_ms() + kRankGraceMs;
        term_sent = true;
    }

    /// Streams output until the rank closes it, forwarding SIGINT/SIGTERM.
    void stream() {
        LineSplitter splitter;
        char buffer[8192];
        auto emit = [this](const std::string& line) { on_line(line); };
        for (;;) {
            const int timeout = term_sent ? 200 : -1;
            const int ready = wait_readable(child.output_fd, signals.fd(), timeout);
            if (term_sent && now_epoch_ms() > kill_at_ms) ::kill(child.pid, SIGKILL);
            if (ready & 2) {
                const int sig = signals.take();
                if (sig == SIGINT || sig == SIGTERM) stop(sig);
            }
            if (!(ready & 1)) continue;
            const ssize_t n = ::read(child.output_fd, buffer, sizeof buffer);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            splitter.feed(buffer, static_cast<size_t>(n), emit);
        }
        splitter.flush(emit);
        ::close(child.output_fd);
    }
};

/// Loads DIR/plan.json; throws std::runtime_error naming the file.
JobPlan read_plan(const std::string& job_dir) {
    const std::string path = job_dir + "/plan.json";
    std::ifstream in(path);
    if (!in)
        throw std::runtime_error("cannot read " + path + "; was the job prepared by ukrun run?");
    try {
        return nlohmann::json::parse(in).get<JobPlan>();
    } catch (const std::exception& e) {
        throw std::runtime_error(path + ": " + e.what());
    }
}

}  // namespace

std::vector<std::string> filter_environment(const std::vector<std::string>& env) {
    std::vector<std::string> kept;
    for (const auto& entry : env) {
        const auto eq = entry.find('=');
        if (eq == std::string::npos || eq == 0) continue;
        const std::string name = entry.substr(0, eq);
        bool keep = false;
        for (const char* prefix : kPassedPrefixes) keep = keep || name.starts_with(prefix);
        for (const char* basic : kBasicVariables) keep = keep || name == basic;
        if (keep) kept.push_back(entry);
    }
    return kept;
}

std::optional<std::string> env_value(const std::vector<std::string>& env, const std::string& name) {
    for (const auto& entry : env)
        if (entry.size() > name.size() && entry[name.size()] == '=' && entry.starts_with(name))
            return entry.substr(name.size() + 1);
    return std::nullopt;
}

std::optional<int> detect_rank(const std::vector<std::string>& env) {
    for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "SLURM_PROCID"})
        if (auto value = env_value(env, name)) return parse_non_negative(*value);
    return std::nullopt;
}

int size_in_line(const std::string& line) {
    if (const auto tag = line.find(kResultTag); tag != std::string::npos) {
        const auto json =
            nlohmann::json::parse(line.substr(tag + kResultTag.size()), nullptr, false);
        if (json.is_object() && json.contains("ranks") && json["ranks"].is_number_integer())
            return json["ranks"].get<int>();
        return -1;
    }
    static const std::regex pattern(R"(MPI_Init done.*?\b(?:of|size|ranks)[ =:]*(\d+))",
                                    std::regex::icase);
    std::smatch match;
    if (std::regex_search(line, match, pattern)) return std::stoi(match[1].str());
    return -1;
}

RankMonitor::RankMonitor(int expected_size, double start_ms)
    : expected_size_(expected_size), start_ms_(start_ms) {}

void RankMonitor::on_line(const std::string& line, double now_ms) {
    if (first_output_ms_ < 0) first_output_ms_ = now_ms - start_ms_;
    if (mpi_init_ms_ < 0 && line.find("MPI_Init done") != std::string::npos) {
        mpi_init_ms_ = now_ms - start_ms_;
        mpi_init_epoch_ms_ = now_ms;
    }
    if (const int size = size_in_line(line); size > 0) reported_size_ = size;
}

std::string RankMonitor::singleton_error() const {
    if (reported_size_ != 1 || expected_size_ <= 1) return {};
    return "the rank came up as a singleton (MPI size 1, job has " +
           std::to_string(expected_size_) +
           " ranks): the launcher's PMIX_*/OMPI_* environment did not reach it; check that "
           "`ukrun shim` runs under mpirun and that the PMIx server listens on the job subnet";
}

void to_json(nlohmann::json& j, const RankStatus& s) {
    j = {{"rank", s.rank},
         {"exit_code", s.exit_code},
         {"start_epoch_ms", s.start_epoch_ms},
         {"end_epoch_ms", s.end_epoch_ms},
         {"boot_ms", s.boot_ms},
         {"mpi_init_ms", s.mpi_init_ms},
         {"mpi_init_epoch_ms", s.mpi_init_epoch_ms},
         {"rss_mib", s.rss_mib},
         {"image_mib", s.image_mib},
         {"failure", s.failure}};
}

void from_json(const nlohmann::json& j, RankStatus& s) {
    s.rank = j.value("rank", 0);
    s.exit_code = j.value("exit_code", -1);
    s.start_epoch_ms = j.value("start_epoch_ms", -1.0);
    s.end_epoch_ms = j.value("end_epoch_ms", -1.0);
    s.boot_ms = j.value("boot_ms", -1.0);
    s.mpi_init_ms = j.value("mpi_init_ms", -1.0);
    s.mpi_init_epoch_ms = j.value("mpi_init_epoch_ms", -1.0);
    s.rss_mib = j.value("rss_mib", -1.0);
    s.image_mib = j.value("image_mib", -1.0);
    s.failure = j.value("failure", std::string{});
}

std::string rank_log_path(const std::string& job_dir, int rank) {
    return job_dir + "/rank-" + std::to_string(rank) + ".log";
}

std::string rank_status_path(const std::string& job_dir, int rank) {
    return job_dir + "/rank-" + std::to_string(rank) + ".json";
}

int run_shim(const std::string& job_dir, const std::vector<std::string>& program) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // the launcher died: end the rank too
    const auto environment = current_environment();
    const auto rank = detect_rank(environment);
    if (!rank) {
        std::fprintf(stderr,
                     "ukrun shim: no rank in OMPI_COMM_WORLD_RANK, PMIX_RANK or "
                     "SLURM_PROCID; the shim must be started by mpirun or srun\n");
        return kExitUsage;
    }
    JobPlan plan;
    try {
        plan = read_plan(job_dir);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ukrun shim: rank %d: %s\n", *rank, e.what());
        return kExitBadInput;
    }
    if (*rank >= static_cast<int>(plan.rank_plans.size())) {
        std::fprintf(stderr, "ukrun shim: rank %d is outside the plan's %zu ranks\n", *rank,
                     plan.rank_plans.size());
        return kExitBadInput;
    }

    auto backend = make_backend(plan.backend);
    auto env = filter_environment(environment);
    backend->rank_environment(plan, env);
    BlockedSignals signals;
    RankStatus status;
    status.rank = *rank;
    status.start_epoch_ms = now_epoch_ms();
    RankSession session{*rank,
                        {},
                        RankMonitor(plan.ranks, status.start_epoch_ms),
                        std::ofstream(rank_log_path(job_dir, *rank)),
                        signals,
                        {},
                        false,
                        -1,
                        backend.get()};
    try {
        session.child = backend->launch_rank(plan, plan.rank_plans[*rank], program, env);
    } catch (const std::exception& e) {
        status.failure = e.what();
        status.exit_code = kExitUnavailable;
        session.log << "ukrun shim: " << e.what() << '\n';
        std::fprintf(stderr, "ukrun shim: rank %d: %s\n", *rank, e.what());
        std::ofstream(rank_status_path(job_dir, *rank)) << nlohmann::json(status).dump(2);
        return status.exit_code;
    }
    session.stream();

    int wait_status = 0;
    rusage usage{};
    while (::wait4(session.child.pid, &wait_status, 0, &usage) < 0 && errno == EINTR) {
    }
    status.end_epoch_ms = now_epoch_ms();
    status.exit_code = exit_code_from_status(wait_status);
    status.boot_ms = session.monitor.first_output_ms();
    status.mpi_init_ms = session.monitor.mpi_init_ms();
    status.mpi_init_epoch_ms = session.monitor.mpi_init_epoch_ms();
    status.rss_mib = static_cast<double>(usage.ru_maxrss) / 1024.0;
    backend->finish_rank(wait_status, status);
    if (!session.failure.empty()) status.failure = session.failure;
    if (!session.failure.empty()) status.exit_code = kExitUnavailable;
    std::ofstream(rank_status_path(job_dir, *rank)) << nlohmann::json(status).dump(2);
    return status.exit_code;
}

}  // namespace ukrun::runner
