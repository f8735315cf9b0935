// One job as `ukrun run` drives it: options, the mpirun command line, rank 0's result line,
// the exit-code rule and the run itself (plan, network, launcher, watchdog, results).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ukrun/runner/results.hpp"
#include "ukrun/runner/shim.hpp"
#include "ukrun/runner/watchdog.hpp"

namespace ukrun::runner {

/// The tag that starts rank 0's result line: "UKRUN-RESULT {json}".
inline constexpr std::string_view kResultTag = "UKRUN-RESULT ";

/// The workload arguments of the default job (`ukrun` or `ukrun run` with no arguments).
std::vector<std::string> default_lattice_args();

/// `ukrun run`'s options.
struct RunOptions {
    std::string backend = "process";
    int ranks = 2;
    std::string topology_path;  ///< empty: default_topology()
    std::string results_path = "results.h5";
    double timeout_s = 0;                 ///< <= 0: no deadline
    std::string keep_logs_dir;            ///< empty: the job directory is removed
    std::string job_dir_parent = "/tmp";  ///< the job directory is PARENT/ukrun-<jobid>
    std::string nanos_dir;                ///< --nanos-dir (nanos backend); empty: search
    std::vector<std::string> lattice_args;
};

/// Everything that shapes the mpirun command line.
struct LaunchSettings {
    std::string mpirun = "mpirun";
    int ranks = 2;
    bool as_root = false;                  ///< adds --allow-run-as-root
    int cores = 1;                         ///< bind to cores only when ranks <= cores
    std::vector<std::string> backend_mca;  ///< from Backend::launcher_mca
    std::string ukrun;                     ///< the ukrun binary (runs the shim)
    std::string job_dir;
    std::string lattice;  ///< the ukrun-lattice binary
    std::vector<std::string> lattice_args;
};

/// The launcher command line: mpirun ... ukrun shim --job DIR -- ukrun-lattice ARGS.
std::vector<std::string> mpirun_command(const LaunchSettings& settings);

/// Rank 0's result: the JSON object after kResultTag on the last such line of `text` (a log
/// or output, lines possibly prefixed). Returns nullopt and sets `error` when the line is
/// missing or its JSON is malformed.
std::optional<nlohmann::json> find_result(const std::string& text, std::string& error);

/// Copies the fields of a UKRUN-RESULT object into `run` (missing fields keep their defaults).
void fill_from_result(const nlohmann::json& result, RunRecord& run);

/// How a job ended, as input to job_exit_code.
struct JobEnd {
    WatchOutcome outcome = WatchOutcome::exited;
    int launcher_code = 0;          ///< mpirun's exit code
    int signal = 0;                 ///< SIGINT or SIGTERM when interrupted
    std::vector<RankStatus> ranks;  ///< status files found (may miss ranks)
    bool result_found = false;      ///< rank 0's result line was parsed
};

/// The failing rank: the earliest-ending rank with a non-zero code; nullopt when none.
std::optional<RankStatus> failing_rank(const std::vector<RankStatus>& ranks);

/// The documented exit code of `ukrun run`: 124 timeout, 130 interrupted, else the failing
/// rank's code when below 64, kExitJobFailed for larger codes, signals, a failed launcher or
/// a missing result line, 0 on success.
int job_exit_code(const JobEnd& end);

/// The ukrun-lattice binary: next to `self_exe`, else $UKRUN_LATTICE, else PATH; empty when
/// not found.
std::string find_lattice_binary(const std::string& self_exe);

/// Runs one job and returns its documented exit code. Throws std::runtime_error for errors
/// before launch (bad topology, network set-up), after cleaning up.
int run_job(const RunOptions& options);

}  // namespace ukrun::runner
