// The HDF5 results file: one `runs` table row per job plus one group per run with per-rank
// figures and the job's environment. Appending never corrupts earlier runs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ukrun::runner {

/// Figures for one rank of one run (NaN / -1 where unknown).
struct RankRecord {
    int rank = 0;
    std::string node;
    std::string address;
    int exit_code = -1;
    double boot_ms = -1;         ///< instance start to the rank's first output
    double mpi_init_ms = -1;     ///< instance start to MPI_Init returning
    double rss_mib = -1;         ///< resident memory of the instance (QEMU) or process
    double image_mib = -1;       ///< image size (nanos, vm), else -1
};

/// One job, as stored in the `runs` table and its group.
struct RunRecord {
    std::int64_t id = 0;             ///< assigned by ResultsFile::append (1, 2, ...)
    std::string time_utc;            ///< ISO 8601 start time
    std::string backend;
    int ranks = 0;
    std::string grid;                ///< "1x1x1x2"
    std::string lattice;             ///< global, "8x8x8x8"
    std::string local_lattice;       ///< per rank
    std::string precision;           ///< single, double
    std::string isa;                 ///< what rank 0 used
    std::string accelerator;         ///< none (process, netns), kvm, tcg
    std::string gauge;               ///< gauge source as given
    double launch_ms = -1;           ///< `ukrun run` start to every rank past MPI_Init
    double mpi_init_ms = -1;         ///< slowest rank's time to MPI_Init
    double plaquette = -1;
    double dirac_us_per_site = -1;
    double dirac_gflops = -1;
    double halo_ms = -1;
    int cg_iterations = -1;
    double cg_residual = -1;
    int exit_status = -1;            ///< the job's exit code; 0 is success
    std::string status;              ///< ok, failed, timeout, interrupted
    std::string failure;             ///< why it failed, empty on success
    std::string result_json;         ///< rank 0's UKRUN-RESULT object, verbatim
    std::string plan_json;
    std::string topology_text;
    std::string versions;            ///< ukrun, Open MPI, QEMU, Nanos, kernel
    std::string command_line;        ///< the launcher command line
    std::vector<RankRecord> rank_records;
};

/// Version of the file layout, stored as the root attribute `ukrun_schema_version`; a reader
/// refuses files with a newer version.
inline constexpr std::int64_t kResultsSchemaVersion = 1;

/// The group holding run `id`'s per-rank table and texts: "/run/000001" (six digits or more).
std::string run_group_path(std::int64_t id);

/// Appends `run` to the results file at `path` (created when missing) and returns the id
/// given to it. Throws std::runtime_error naming the file and the HDF5 operation on failure.
std::int64_t append_run(const std::string& path, RunRecord run);

/// Reads every run in the file, in id order (groups' per-rank data and texts included).
/// Throws std::runtime_error "PATH: what is wrong" for a missing file, a file that is not
/// HDF5, or one without the `runs` table or with a newer schema.
std::vector<RunRecord> read_runs(const std::string& path);

/// Why a run could not be appended to `path` (its directory missing or read-only, or an
/// existing file that is not a readable ukrun results file), naming the file; empty when it
/// can. Checked before a job starts, so a bad --results costs no run.
std::string results_file_problem(const std::string& path);

}  // namespace ukrun::runner
