// The per-rank shim: what mpirun (or srun) starts in place of each rank. It finds its rank,
// passes the launcher's environment on, starts the rank through the job's backend, prefixes
// and logs its output and reports how it ended.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace ukrun::runner {

/// Keeps the variables a rank needs: every PMIX_*, OMPI_*, SLURM_* (without them a rank
/// silently starts as a singleton) plus the basics (PATH, HOME, LD_LIBRARY_PATH, ...).
/// Entries are "NAME=value"; malformed entries are dropped; order is kept.
std::vector<std::string> filter_environment(const std::vector<std::string>& env);

/// The value of NAME in "NAME=value" entries, or nullopt.
std::optional<std::string> env_value(const std::vector<std::string>& env, const std::string& name);

/// The rank of this process from OMPI_COMM_WORLD_RANK, PMIX_RANK or SLURM_PROCID (first set
/// wins); nullopt when none is set or the value is not a non-negative integer.
std::optional<int> detect_rank(const std::vector<std::string>& env);

/// Watches one rank's output lines: times to first output and to "MPI_Init done", the MPI
/// size the rank reports, and whether it came up as a singleton.
class RankMonitor {
  public:
    /// `expected_size` is the job's rank count; `start_ms` the rank's start (epoch ms).
    RankMonitor(int expected_size, double start_ms);

    /// Feeds one output line (without newline) seen at `now_ms` (epoch ms).
    void on_line(const std::string& line, double now_ms);

    /// A message when the rank reported MPI size 1 while the job has more ranks, else empty.
    std::string singleton_error() const;

    double first_output_ms() const { return first_output_ms_; }      ///< since start; -1: none
    double mpi_init_ms() const { return mpi_init_ms_; }              ///< since start; -1: not yet
    double mpi_init_epoch_ms() const { return mpi_init_epoch_ms_; }  ///< -1: not yet
    int reported_size() const { return reported_size_; }             ///< -1 when never reported

  private:
    int expected_size_;
    double start_ms_;
    double first_output_ms_ = -1;
    double mpi_init_ms_ = -1;
    double mpi_init_epoch_ms_ = -1;
    int reported_size_ = -1;
};

/// The MPI size stated in a line of the workload's output ("MPI_Init done ... of N",
/// "ranks N", "size N", or the "ranks" field of a UKRUN-RESULT line); -1 when absent.
int size_in_line(const std::string& line);

/// What the shim writes to DIR/rank-N.json when its rank has ended.
struct RankStatus {
    int rank = 0;
    int exit_code = -1;          ///< the rank's code, 128 + signal when killed
    double start_epoch_ms = -1;  ///< when the shim started the rank
    double end_epoch_ms = -1;    ///< when the rank ended
    double boot_ms = -1;         ///< start to first output
    double mpi_init_ms = -1;     ///< start to "MPI_Init done"
    double mpi_init_epoch_ms = -1;
    double rss_mib = -1;    ///< peak resident memory of the rank process tree
    double image_mib = -1;  ///< the instance's disk image (nanos), else -1
    std::string failure;    ///< why the shim failed the rank, empty otherwise
};

void to_json(nlohmann::json& j, const RankStatus& status);
void from_json(const nlohmann::json& j, RankStatus& status);

/// The path of rank `rank`'s log file in job directory `job_dir`.
std::string rank_log_path(const std::string& job_dir, int rank);

/// The path of rank `rank`'s status file in job directory `job_dir`.
std::string rank_status_path(const std::string& job_dir, int rank);

/// Runs the shim: reads DIR/plan.json, starts `program` as rank through the plan's backend,
/// streams "[rN] " lines to stdout and DIR/rank-N.log, writes the status file and returns the
/// rank's exit code (kExitUnavailable for a singleton, kExitBadInput for an unreadable plan).
int run_shim(const std::string& job_dir, const std::vector<std::string>& program);

}  // namespace ukrun::runner
