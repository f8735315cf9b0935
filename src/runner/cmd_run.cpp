// `ukrun run` and `ukrun shim`: command-line parsing only; the work is in job.cpp, shim.cpp.
#include <algorithm>
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "ukrun/runner/backend.hpp"
#include "ukrun/runner/cli.hpp"
#include "ukrun/runner/commands.hpp"
#include "ukrun/runner/job.hpp"
#include "ukrun/runner/shim.hpp"
#include "ukrun/runner/topology.hpp"

namespace ukrun::runner {

namespace po = boost::program_options;

namespace {

/// Splits `args` at the first "--": options before, program arguments after.
std::pair<Args, Args> split_at_dashes(const Args& args) {
    const auto dashes = std::find(args.begin(), args.end(), "--");
    Args after;
    if (dashes != args.end()) after.assign(dashes + 1, args.end());
    return {Args(args.begin(), dashes), after};
}

}  // namespace

int cmd_run(const Args& args) {
    const auto [own, program] = split_at_dashes(args);
    RunOptions options;
    po::options_description desc(
        "usage: ukrun run [options] [-- ukrun-lattice arguments]\n\n"
        "Runs one MPI job of ukrun-lattice, one rank per instance, and appends it to the\n"
        "results file. Without workload arguments: --lattice 8x8x8x8 --gauge random:1 --solve.\n"
        "If ukrun run is killed, even by SIGKILL, its janitor process removes the job's\n"
        "processes, links and namespaces; the next ukrun run reaps jobs whose janitor died too.\n"
        "Exit codes: 0 ok, a failing rank's code when below 64, 64 usage, 65 bad input,\n"
        "69 host lacks something (ukrun doctor), 70 internal, 71 job failed otherwise,\n"
        "124 timeout, 130 interrupted.\n\noptions");
    desc.add_options()("help,h", "print this help")(
        "backend,b", po::value(&options.backend)->default_value(options.backend),
        "where ranks live: process, netns or nanos")(
        "ranks,n", po::value(&options.ranks)->default_value(options.ranks),
        "number of MPI ranks (instances)")(
        "topology,t", po::value(&options.topology_path),
        "topology TOML file (default: the built-in one-node topology)")(
        "results,r", po::value(&options.results_path)->default_value(options.results_path),
        "HDF5 results file the run is appended to (created when missing)")(
        "timeout", po::value(&options.timeout_s)->default_value(0),
        "seconds before the job is killed; 0 means no limit")(
        "keep-logs", po::value(&options.keep_logs_dir),
        "copy the job directory (plan, per-rank logs) to DIR/ukrun-<jobid>")(
        "job-dir", po::value(&options.job_dir_parent)->default_value(options.job_dir_parent),
        "parent of the job directory ukrun-<jobid>")(
        "nanos-dir", po::value(&options.nanos_dir),
        "Nanos kernel.img, boot.img and mkfs (nanos backend; default $UKRUN_NANOS_DIR, ~/.ops)");
    po::variables_map vm;
    if (const auto stop = parse_subcommand_options("run", own, desc, vm)) return *stop;
    if (options.ranks < 1) return usage_error("run", "--ranks must be at least 1");
    if (options.timeout_s < 0)
        return usage_error("run", "--timeout must be 0 (no limit) or a number of seconds");
    const auto names = backend_names();
    if (std::find(names.begin(), names.end(), options.backend) == names.end())
        return usage_error(
            "run", "unknown backend '" + options.backend + "'; choose process, netns or nanos");
    options.lattice_args = program.empty() ? default_lattice_args() : program;

    try {
        return run_job(options);
    } catch (const TopologyError& e) {
        for (const auto& d : e.diagnostics()) std::fprintf(stderr, "%s\n", d.text().c_str());
        return kExitBadInput;
    }
}

int cmd_shim(const Args& args) {
    const auto [own, program] = split_at_dashes(args);
    std::string job_dir;
    po::options_description desc(
        "usage: ukrun shim --job DIR -- PROGRAM [ARGS...]\n\n"
        "Started by mpirun or srun once per rank in place of PROGRAM: finds its rank, starts\n"
        "PROGRAM in that rank's instance as the job plan DIR/plan.json says, prefixes its\n"
        "output with [rN], logs it to DIR/rank-N.log and returns its exit code.\n\noptions");
    desc.add_options()("help,h", "print this help")("job", po::value(&job_dir),
                                                    "the job directory written by ukrun run");
    po::variables_map vm;
    if (const auto stop = parse_subcommand_options("shim", own, desc, vm)) return *stop;
    if (job_dir.empty()) return usage_error("shim", "--job DIR is required");
    if (program.empty()) return usage_error("shim", "no program after --");
    return run_shim(job_dir, program);
}

}  // namespace ukrun::runner
