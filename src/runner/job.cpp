// `ukrun run`: plan, network, launcher under the watchdog, results, summary, cleanup.
#include "ukrun/runner/job.hpp"

#include <dirent.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "ukrun/runner/backend.hpp"
#include "ukrun/runner/log.hpp"
#include "ukrun/runner/commands.hpp"
#include "ukrun/runner/doctor.hpp"
#include "ukrun/runner/janitor.hpp"
#include "ukrun/runner/job_subnet.hpp"
#include "ukrun/runner/topology.hpp"

namespace ukrun::runner {

namespace fs = std::filesystem;

namespace {

/// The "runner" logger on stderr; its level comes from $UKRUN_LOG (debug, info, warn; default
/// warn).
std::shared_ptr<spdlog::logger> runner_log() {
    return component_log("runner", spdlog::level::warn);
}

/// Lines of a failing rank's log printed to stderr.
constexpr int kFailureLogLines = 20;

/// The whole text of a file, or empty when it cannot be read.
std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

/// The last `count` lines of `text`.
std::string last_lines(const std::string& text, int count) {
    size_t pos = text.size();
    if (pos > 0 && text[pos - 1] == '\n') --pos;
    while (pos > 0 && count > 0) {
        pos = text.rfind('\n', pos - 1);
        if (pos == std::string::npos) return text;
        --count;
    }
    return count > 0 ? text : text.substr(pos + 1);
}

/// Now as ISO 8601 UTC, seconds resolution.
std::string iso_utc_now() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buffer[32];
    std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buffer;
}

/// One command line as text, arguments with spaces quoted.
std::string join_command(const std::vector<std::string>& argv) {
    std::string text;
    for (const auto& a : argv) {
        if (!text.empty()) text += ' ';
        text += a.find_first_of(" \t\"'") == std::string::npos ? a : "'" + a + "'";
    }
    return text;
}

/// ukrun, Open MPI and kernel versions as a JSON object text.
std::string collect_versions(const std::string& mpirun) {
    nlohmann::json v;
    v["ukrun"] = UKRUN_VERSION;
    const auto mpi = run_command({mpirun, "--version"}, 5000);
    v["mpirun"] = mpi.output.substr(0, mpi.output.find('\n'));
    v["pmix"] = pmix_library_version();
    utsname u{};
    if (::uname(&u) == 0) v["kernel"] = std::string(u.sysname) + " " + u.release + " " + u.machine;
    return v.dump();
}

/// The versions object text `versions` plus what the backend adds (QEMU, Nanos).
std::string with_backend_versions(const std::string& versions, const Backend& backend) {
    auto v = nlohmann::json::parse(versions, nullptr, false);
    if (!v.is_object()) v = nlohmann::json::object();
    for (const auto& [name, value] : backend.versions()) v[name] = value;
    return v.dump();
}

/// The path of this executable (/proc/self/exe).
std::string self_exe() {
    std::error_code ec;
    const auto path = fs::read_symlink("/proc/self/exe", ec);
    return ec ? std::string{} : path.string();
}

/// The status files the shims wrote, in rank order (missing ones are skipped).
std::vector<RankStatus> read_rank_statuses(const std::string& job_dir, int ranks) {
    std::vector<RankStatus> statuses;
    for (int r = 0; r < ranks; ++r) {
        const std::string text = read_text(rank_status_path(job_dir, r));
        const auto json = nlohmann::json::parse(text, nullptr, false);
        if (json.is_object()) statuses.push_back(json.get<RankStatus>());
    }
    return statuses;
}

/// The job directory's state and the pieces of a RunRecord built while the job runs.
struct JobState {
    RunOptions options;
    JobPlan plan;
    Topology topology;
    std::string job_dir;
    std::string mpirun;
    std::vector<std::string> command;
    double start_ms = 0;
    RunRecord run;
};

/// Per-rank records, launch time and slowest MPI_Init from the shims' status files.
void fill_rank_records(JobState& job, const std::vector<RankStatus>& statuses) {
    double slowest_init_epoch = -1;
    bool all_init = static_cast<int>(statuses.size()) == job.plan.ranks;
    for (const auto& s : statuses) {
        RankRecord rec;
        rec.rank = s.rank;
        if (s.rank >= 0 && s.rank < static_cast<int>(job.plan.rank_plans.size())) {
            const RankPlan& rp = job.plan.rank_plans[s.rank];
            rec.node = rp.node;
            if (!rp.netns.empty() || !rp.host_if.empty()) rec.address = to_string(rp.address);
        }
        rec.exit_code = s.exit_code;
        rec.boot_ms = s.boot_ms;
        rec.mpi_init_ms = s.mpi_init_ms;
        rec.rss_mib = s.rss_mib;
        rec.image_mib = s.image_mib;
        job.run.rank_records.push_back(rec);
        if (s.mpi_init_ms > job.run.mpi_init_ms) job.run.mpi_init_ms = s.mpi_init_ms;
        all_init = all_init && s.mpi_init_epoch_ms > 0;
        slowest_init_epoch = std::max(slowest_init_epoch, s.mpi_init_epoch_ms);
    }
    if (all_init) job.run.launch_ms = slowest_init_epoch - job.start_ms;
}

/// Prints the last lines of rank `rank`'s log to stderr.
void print_log_tail(const std::string& job_dir, int rank) {
    const std::string log = read_text(rank_log_path(job_dir, rank));
    std::fprintf(stderr, "---- last lines of rank %d's log ----\n%s", rank,
                 last_lines(log, kFailureLogLines).c_str());
    if (!log.empty() && log.back() != '\n') std::fputc('\n', stderr);
    std::fprintf(stderr, "----\n");
}

/// The workload's own explanation of a failure: the first "ukrun-lattice: ..." line other
/// than the MPI_Init notice in the ranks' logs, rank 0 first (it reports collective errors);
/// empty when there is none.
std::string workload_error(const std::string& job_dir, int ranks) {
    const std::string prefix = "ukrun-lattice: ";
    for (int rank = 0; rank < ranks; ++rank) {
        std::istringstream log(read_text(rank_log_path(job_dir, rank)));
        for (std::string line; std::getline(log, line);) {
            const auto at = line.find(prefix);
            if (at == std::string::npos) continue;
            const std::string text = line.substr(at + prefix.size());
            const bool notice = text.starts_with("MPI_Init done") || text == "run" ||
                                text.starts_with("bench ");  // the run header's first line
            if (!notice) return text;
        }
    }
    return "";
}

/// Fills what the command line says about the run (lattice, grid, precision, gauge) when no
/// result line did, so a failed run still shows what was asked.
void fill_from_arguments(const std::vector<std::string>& args, RunRecord& run) {
    auto value_of = [&](const std::string& option) -> std::string {
        for (std::size_t i = 0; i + 1 < args.size(); ++i)
            if (args[i] == option) return args[i + 1];
        return "";
    };
    if (run.lattice.empty()) run.lattice = value_of("--lattice");
    if (run.grid.empty()) run.grid = value_of("--grid");
    if (run.precision.empty()) run.precision = value_of("--precision");
    if (run.gauge.empty()) run.gauge = value_of("--gauge");
}

/// Status and failure text of the run, and the failing rank's last log lines on stderr.
void explain_outcome(JobState& job, const JobEnd& end, const std::string& result_error) {
    RunRecord& run = job.run;
    if (end.outcome == WatchOutcome::timeout) {
        run.status = "timeout";
        run.failure = "--timeout " + std::to_string(job.options.timeout_s) + " s expired";
    } else if (end.outcome == WatchOutcome::interrupted) {
        run.status = "interrupted";
        run.failure =
            std::string("interrupted by ") + (end.signal == SIGINT ? "SIGINT" : "SIGTERM");
    } else if (run.exit_status != kExitOk) {
        run.status = "failed";
    } else {
        run.status = "ok";
    }
    if (run.status == "ok") return;

    const auto failed = failing_rank(end.ranks);
    if (run.failure.empty() && run.cg_iterations >= 0 && !run.result_json.empty() &&
        nlohmann::json::parse(run.result_json)["cg"].value("converged", true) == false) {
        char text[200];
        std::snprintf(text, sizeof text,
                      "CG did not converge: true residual %.3e after %d iterations; raise "
                      "--max-iterations, use --mixed or loosen --tol",
                      run.cg_residual, run.cg_iterations);
        run.failure = text;
    }
    if (run.failure.empty()) {
        const std::string explained = workload_error(job.job_dir, job.plan.ranks);
        if (failed)
            run.failure = "rank " + std::to_string(failed->rank) + " exited with code " +
                          std::to_string(failed->exit_code) +
                          (failed->failure.empty() ? "" : ": " + failed->failure) +
                          (explained.empty() ? "" : "; ukrun-lattice: " + explained);
        else if (end.launcher_code != 0)
            run.failure = "mpirun exited with code " + std::to_string(end.launcher_code);
        else
            run.failure = result_error;
    }
    std::fprintf(stderr, "ukrun run: job %s %s: %s\n", job.plan.job_id.c_str(), run.status.c_str(),
                 run.failure.c_str());
    // The failing rank, and rank 0 when it failed too: it reports collective errors.
    std::vector<int> shown;
    if (failed) shown.push_back(failed->rank);
    for (const auto& r : end.ranks)
        if (r.rank == 0 && r.exit_code != 0 && (!failed || failed->rank != 0)) shown.push_back(0);
    for (int rank : shown) print_log_tail(job.job_dir, rank);
}

/// The human summary printed at the end of a run; figures only when rank 0 gave them.
void print_summary(const RunRecord& run, const std::string& results_path) {
    std::printf("\nukrun run: %s\n", run.status.c_str());
    std::printf("  backend     %s, %d ranks\n", run.backend.c_str(), run.ranks);
    if (!run.result_json.empty()) {
        std::printf("  lattice     %s on grid %s (local %s), %s, isa %s\n", run.lattice.c_str(),
                    run.grid.c_str(), run.local_lattice.c_str(), run.precision.c_str(),
                    run.isa.c_str());
        if (run.plaquette != -1) std::printf("  plaquette   %.12f\n", run.plaquette);
        if (run.dirac_us_per_site >= 0)
            std::printf("  dirac       %.4f us/site, %.3f GFlops, halo %.3f ms\n",
                        run.dirac_us_per_site, run.dirac_gflops, run.halo_ms);
        if (run.cg_iterations >= 0)
            std::printf("  cg          %d iterations, residual %.3e\n", run.cg_iterations,
                        run.cg_residual);
    }
    if (run.launch_ms >= 0)
        std::printf("  launch      %.0f ms to every rank past MPI_Init\n", run.launch_ms);
    std::printf("  results     %s, run id %lld\n", results_path.c_str(),
                static_cast<long long>(run.id));
}

/// Loads the topology and plans the job; writes plan.json into a fresh job directory.
void plan_job(JobState& job) {
    // The built-in topology gets a free subnet per job, so concurrent jobs can share a host.
    const std::string job_id = new_job_id();
    if (!job.options.topology_path.empty())
        job.topology = load_topology(job.options.topology_path);
    else if (job.options.backend == "process")
        job.topology = default_topology();
    else
        job.topology = default_topology(free_job_subnet(job_id));
    job.plan = make_plan(job.topology, job.options.backend, job.options.ranks, job_id);
    job.job_dir = (fs::path(job.options.job_dir_parent) / ("ukrun-" + job.plan.job_id)).string();
    job.plan.job_dir = job.job_dir;
    fs::create_directories(job.job_dir);
    std::ofstream(job.job_dir + "/plan.json") << nlohmann::json(job.plan).dump(2) << '\n';
}

/// Starts mpirun in its own process group with the backend's launcher environment.
pid_t start_launcher(JobState& job, Backend& backend) {
    auto env = current_environment();
    for (const auto& [name, value] : backend.launcher_environment(job.plan)) {
        std::erase_if(env, [&](const std::string& e) { return e.starts_with(name + "="); });
        env.push_back(name + "=" + value);
    }
    env.push_back("UKRUN_JOB_ID=" + job.plan.job_id);
    const Child child = spawn({.argv = job.command,
                               .env = env,
                               .new_process_group = true,
                               .capture_output = false,
                               .death_signal = SIGKILL,
                               .in_child = {}});
    return child.pid;
}

/// Copies the job directory to --keep-logs and removes it.
void finish_job_dir(const JobState& job) {
    std::error_code ec;
    if (!job.options.keep_logs_dir.empty()) {
        const fs::path target = fs::path(job.options.keep_logs_dir) / ("ukrun-" + job.plan.job_id);
        fs::create_directories(target, ec);
        fs::copy(job.job_dir, target,
                 fs::copy_options::recursive | fs::copy_options::overwrite_existing, ec);
        if (ec)
            std::fprintf(stderr, "ukrun run: cannot keep logs in %s: %s\n", target.c_str(),
                         ec.message().c_str());
        else
            std::printf("  logs        %s\n", target.c_str());
    }
    fs::remove_all(job.job_dir, ec);
}

}  // namespace

int run_job(const RunOptions& options) {
    JobState job;
    job.options = options;
    job.start_ms = now_epoch_ms();
    job.run.time_utc = iso_utc_now();

    const std::string ukrun = self_exe();
    const std::string lattice = find_lattice_binary(ukrun);
    job.mpirun = find_in_path("mpirun");
    if (lattice.empty() || job.mpirun.empty()) {
        std::fprintf(stderr, "ukrun run: %s not found; %s\n",
                     lattice.empty() ? "ukrun-lattice" : "mpirun",
                     lattice.empty() ? "build it next to ukrun, set UKRUN_LATTICE or add it to PATH"
                                     : "install Open MPI (apt-get install openmpi-bin)");
        return kExitUnavailable;
    }
    if (const std::string problem = results_file_problem(options.results_path); !problem.empty()) {
        std::fprintf(stderr, "ukrun run: %s\n", problem.c_str());
        return kExitBadInput;
    }
    auto backend = make_backend(options.backend, {.nanos_dir = options.nanos_dir});
    BlockedSignals signals;  // Ctrl-C from here on is handled, not fatal
    for (const auto& line : reap_stale_jobs(options.job_dir_parent, make_host_network_ops))
        runner_log()->warn("{}", line);
    plan_job(job);
    // Removes what the job owns if this process dies without cleaning up (even by SIGKILL).
    Janitor janitor(job.job_dir, job.plan.job_id);

    LaunchSettings launch;
    launch.mpirun = job.mpirun;
    launch.ranks = options.ranks;
    launch.as_root = ::geteuid() == 0;
    launch.cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    launch.backend_mca = backend->launcher_mca(job.plan);
    launch.ukrun = ukrun;
    launch.job_dir = job.job_dir;
    launch.lattice = lattice;
    launch.lattice_args = options.lattice_args;
    job.command = mpirun_command(launch);

    RunRecord& run = job.run;
    run.backend = options.backend;
    run.ranks = options.ranks;
    run.accelerator = "none";
    run.plan_json = nlohmann::json(job.plan).dump();
    run.topology_text = job.topology.text;
    run.versions = collect_versions(job.mpirun);
    run.command_line = join_command(job.command);
    std::printf("ukrun run: job %s, backend %s, %d ranks, job dir %s\n", job.plan.job_id.c_str(),
                options.backend.c_str(), options.ranks, job.job_dir.c_str());
    std::fflush(stdout);

    JobEnd end;
    try {
        runner_log()->info("preparing {} ranks of backend {} (bridge {})", job.plan.ranks,
                           backend->name(), backend->isolated() ? job.plan.bridge : "none");
        if (const auto objects = planned_objects(job.plan); !objects.empty()) {
            refuse_taken_network(*make_host_network_ops(), job.plan);
            janitor.own(objects);  // recorded before they exist
        }
        backend->prepare(job.plan);
        run.accelerator = backend->accelerator();
        run.versions = with_backend_versions(run.versions, *backend);
        runner_log()->debug("launcher: {}", run.command_line);
        runner_log()->debug("plan: {}/plan.json", job.job_dir);
        const pid_t launcher = start_launcher(job, *backend);
        const WatchResult watched = Watchdog(signals, options.timeout_s).wait(launcher);
        end.outcome = watched.outcome;
        end.launcher_code = watched.exit_code;
        end.signal = watched.signal;
    } catch (const std::exception& e) {
        kill_job_leftovers(job.plan.job_id);
        backend->cleanup();
        janitor.finish();
        run.status = "failed";
        run.failure = std::string("set-up failed: ") + e.what();
        run.exit_status = kExitUnavailable;
        std::fprintf(stderr, "ukrun run: %s\n", run.failure.c_str());
        try {
            append_run(options.results_path, run);
        } catch (const std::exception& write_error) {
            std::fprintf(stderr, "ukrun run: %s\n", write_error.what());
        }
        finish_job_dir(job);
        return kExitUnavailable;
    }
    if (const int left = kill_job_leftovers(job.plan.job_id))
        runner_log()->warn("killed {} process(es) of job {} the launcher left behind", left,
                           job.plan.job_id);
    backend->cleanup();
    janitor.finish();

    end.ranks = read_rank_statuses(job.job_dir, job.plan.ranks);
    fill_rank_records(job, end.ranks);
    std::string result_error;
    if (const auto result = find_result(read_text(rank_log_path(job.job_dir, 0)), result_error)) {
        fill_from_result(*result, run);
        end.result_found = true;
    }
    fill_from_arguments(job.options.lattice_args, run);
    run.exit_status = job_exit_code(end);
    explain_outcome(job, end, result_error);

    int code = run.exit_status;
    try {
        run.id = append_run(options.results_path, run);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ukrun run: the run was not stored: %s\n", e.what());
        if (code == kExitOk) code = kExitInternal;
    }
    print_summary(run, options.results_path);
    finish_job_dir(job);
    return code;
}

}  // namespace ukrun::runner
