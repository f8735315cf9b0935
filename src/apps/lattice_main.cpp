// ukrun-lattice: one MPI rank of the lattice workload. Parses the command line, sets up the
// geometry and the gauge field, prints the run header and the observables, runs the Dirac
// phase (or a bench), and ends with one `UKRUN-RESULT {json}` line from rank 0.
//
// It forks and execs nothing and reads no file but an optional MILC gauge file, so it runs
// unchanged inside a unikernel. Exit status: 0 success, 2 bad input (one line from rank 0 on
// stderr, every rank exits 2), 3 an unexpected failure (the job is aborted), 4 CG did not
// converge (after the result line, on every rank).
#include <mpi.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "ukrun/lattice/bench.hpp"
#include "ukrun/lattice/dirac.hpp"
#include "ukrun/lattice/gauge.hpp"
#include "ukrun/lattice/geometry.hpp"
#include "ukrun/lattice/isa.hpp"

namespace po = boost::program_options;
using namespace ukrun::lattice;

namespace {

/// Taken during static initialisation, the closest portable mark of process start.
const auto kProcessStart = std::chrono::steady_clock::now();

constexpr int kExitBadInput = 2;
constexpr int kExitFailure = 3;
constexpr int kExitNotConverged = 4;  ///< CG stopped above --tol

/// Thrown for input errors: rank 0 prints the text, every rank exits kExitBadInput.
struct InputError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Everything the command line says, validated.
struct Options {
    std::string command = "run";  ///< run or bench
    std::string bench;            ///< su3, dirac or pingpong
    Dims lattice;
    std::optional<Dims> grid;  ///< empty for auto
    GaugeSource gauge;
    DiracOptions dirac;
    std::string isa_requested;
    double bench_seconds = 0.5;
    int fail_rank = -1;  ///< testing aid: this rank exits with fail_code after MPI_Init
    int fail_code = 3;   ///< exit status of fail_rank, 1..255
    bool help = false;
};

/// The documented options, as --help prints them.
po::options_description option_descriptions() {
    po::options_description desc(
        "Usage: ukrun-lattice [run] [options]\n"
        "       ukrun-lattice bench su3|dirac|pingpong [options]\n\n"
        "run (default): gauge field, plaquette, link trace, timed Dirac operator and, with\n"
        "--solve, a CG solve. bench su3: SU(3) kernel timings in cache (rank 0). bench dirac:\n"
        "Dirac operator per site in single and double. bench pingpong: latency and bandwidth\n"
        "between ranks 0 and 1, 8 B to 4 MiB. Rank 0 ends with one line 'UKRUN-RESULT {json}'.\n"
        "Exit status: 0 success, 2 bad input, 3 failure, 4 CG did not converge (result line\n"
        "still printed).\n\nOptions",
        100, 50);
    desc.add_options()("help,h", "print this help and exit")(
        "lattice", po::value<std::string>()->default_value("8x8x8x8"),
        "global lattice L0xL1xL2xL3 in sites, direction 0 (time) first")(
        "grid", po::value<std::string>()->default_value("auto"),
        "process grid P0xP1xP2xP3 (product = number of ranks, each L_mu/P_mu even) or auto")(
        "gauge", po::value<std::string>()->default_value("random:1"),
        "gauge field: unit, random:SEED (SEED a 64-bit integer) or milc:PATH (MILC v5 binary)")(
        "ignore-checksum", po::bool_switch(),
        "read a MILC file whose checksums do not match (warning instead of error)")(
        "precision", po::value<std::string>()->default_value("double"),
        "floating-point precision of the Dirac phase: single or double")(
        "mass", po::value<double>()->default_value(0.1, "0.1"),
        "bare quark mass m0 in lattice units (kappa = 1 / (2 m0 + 8)); must exceed -4")(
        "csw", po::value<double>()->default_value(1.0),
        "clover coefficient c_sw (dimensionless); 0 gives the plain Wilson operator")(
        "bc-time", po::value<std::string>()->default_value("periodic"),
        "fermion boundary condition in time: periodic or antiperiodic")(
        "solve", po::bool_switch(), "solve Dw^dagger Dw x = b with conjugate gradient")(
        "tol", po::value<double>()->default_value(1e-8),
        "CG target relative residual |b - A x| / |b| (dimensionless, > 0)")(
        "max-iterations", po::value<int>()->default_value(10000),
        "CG iteration limit (count, > 0)")(
        "mixed", po::bool_switch(),
        "mixed-precision CG: single-precision inner solves, double corrections")(
        "isa", po::value<std::string>()->default_value("auto"),
        "vector instruction set: auto (widest the CPU and OS allow), scalar, avx2 or avx512")(
        "repetitions", po::value<int>()->default_value(0),
        "Dirac operator applications to time (count); 0 chooses about one second")(
        "seconds", po::value<double>()->default_value(0.5),
        "bench su3: target time per kernel in seconds")(
        "fail-rank", po::value<int>()->default_value(-1),
        "testing aid: rank R exits with --fail-code right after MPI_Init without finalising;\n"
        "the other ranks proceed and are torn down by the launcher (-1: none)")(
        "fail-code", po::value<int>()->default_value(3),
        "testing aid: the exit status of --fail-rank, 1..255");
    return desc;
}

/// Parses and validates the command line for a job of `ranks` ranks. Throws InputError.
Options parse_options(int argc, char** argv, int ranks) {
    po::options_description desc = option_descriptions();
    po::options_description hidden;
    hidden.add_options()("command", po::value<std::string>())("target", po::value<std::string>());
    po::options_description all;
    all.add(desc).add(hidden);
    po::positional_options_description positional;
    positional.add("command", 1).add("target", 1);

    po::variables_map vm;
    try {
        po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(),
                  vm);
        po::notify(vm);
    } catch (const po::error& e) {
        throw InputError(std::string(e.what()) + "; see ukrun-lattice --help");
    }

    Options o;
    if (vm.count("help")) {
        o.help = true;
        return o;
    }
    if (vm.count("command")) o.command = vm["command"].as<std::string>();
    if (o.command != "run" && o.command != "bench") {
        throw InputError("unknown command '" + o.command + "'; expected run or bench");
    }
    if (o.command == "bench") {
        o.bench = vm.count("target") ? vm["target"].as<std::string>() : "";
        if (o.bench != "su3" && o.bench != "dirac" && o.bench != "pingpong") {
            throw InputError("bench '" + o.bench + "': expected bench su3, dirac or pingpong");
        }
    } else if (vm.count("target")) {
        throw InputError("unexpected argument '" + vm["target"].as<std::string>() +
                         "' after run; see ukrun-lattice --help");
    }

    try {
        o.lattice = parse_dims(vm["lattice"].as<std::string>(), "--lattice");
        const std::string grid = vm["grid"].as<std::string>();
        o.grid = grid == "auto" ? auto_grid(o.lattice, ranks) : parse_dims(grid, "--grid");
        if (const std::string error = decomposition_error(o.lattice, *o.grid, ranks);
            !error.empty()) {
            throw InputError(error);
        }
        o.gauge = parse_gauge_source(vm["gauge"].as<std::string>());
        o.gauge.ignore_checksum = vm["ignore-checksum"].as<bool>();
        o.dirac.precision = parse_precision(vm["precision"].as<std::string>());
        o.isa_requested = vm["isa"].as<std::string>();
        o.dirac.isa = resolve_isa(o.isa_requested);
    } catch (const std::invalid_argument& e) {
        throw InputError(e.what());
    } catch (const InputError&) {
        throw;
    } catch (const std::runtime_error& e) {
        throw InputError(e.what());
    }

    o.dirac.mass = vm["mass"].as<double>();
    if (!(o.dirac.mass > -4)) {
        throw InputError("--mass " + std::to_string(o.dirac.mass) +
                         ": kappa = 1 / (2 m0 + 8) needs m0 > -4");
    }
    o.dirac.csw = vm["csw"].as<double>();
    const std::string bc = vm["bc-time"].as<std::string>();
    if (bc != "periodic" && bc != "antiperiodic") {
        throw InputError("--bc-time '" + bc + "': expected periodic or antiperiodic");
    }
    o.dirac.antiperiodic_time = bc == "antiperiodic";
    o.dirac.solve = vm["solve"].as<bool>();
    o.dirac.tol = vm["tol"].as<double>();
    if (!(o.dirac.tol > 0 && o.dirac.tol < 1)) {
        throw InputError("--tol " + std::to_string(o.dirac.tol) + ": expected 0 < tol < 1");
    }
    o.dirac.max_iterations = vm["max-iterations"].as<int>();
    if (o.dirac.max_iterations <= 0) throw InputError("--max-iterations must be positive");
    o.dirac.mixed = vm["mixed"].as<bool>();
    o.dirac.repetitions = vm["repetitions"].as<int>();
    if (o.dirac.repetitions < 0) throw InputError("--repetitions must be 0 (auto) or positive");
    o.bench_seconds = vm["seconds"].as<double>();
    if (!(o.bench_seconds > 0)) throw InputError("--seconds must be positive");
    o.fail_rank = vm["fail-rank"].as<int>();
    o.fail_code = vm["fail-code"].as<int>();
    if (o.fail_rank < -1) throw InputError("--fail-rank must be a rank number or -1 (none)");
    if (o.fail_code < 1 || o.fail_code > 255) throw InputError("--fail-code must be 1..255");
    return o;
}

/// UTC wall-clock time with microseconds, ISO 8601.
std::string utc_now() {
    const auto now = std::chrono::system_clock::now();
    const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    const auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() %
        1000000;
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char text[48];
    const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(text + n, sizeof text - n, ".%06ldZ", static_cast<long>(micros));
    return text;
}

/// Every rank's host name, on rank 0 (empty elsewhere). Collective.
std::vector<std::string> gather_hostnames(MPI_Comm comm, int rank, int size) {
    constexpr int kLength = 256;
    char mine[kLength] = {};
    if (gethostname(mine, kLength - 1) != 0) std::snprintf(mine, kLength, "unknown");
    std::vector<char> all(rank == 0 ? static_cast<std::size_t>(size) * kLength : 0);
    MPI_Gather(mine, kLength, MPI_CHAR, all.data(), kLength, MPI_CHAR, 0, comm);
    std::vector<std::string> names;
    for (int r = 0; rank == 0 && r < size; ++r) names.emplace_back(all.data() + r * kLength);
    return names;
}

/// "host" when every rank runs there, else "rank 0: a, rank 1: b, ...".
std::string hostnames_text(const std::vector<std::string>& names) {
    bool same = true;
    for (const auto& name : names) same = same && name == names.front();
    if (same) return names.front() + " (all " + std::to_string(names.size()) + " ranks)";
    std::string text;
    for (std::size_t r = 0; r < names.size(); ++r) {
        text += (r ? ", rank " : "rank ") + std::to_string(r) + ": " + names[r];
    }
    return text;
}

/// The hopping parameter of the bare mass m0.
double kappa_of(double mass) {
    return 1 / (2 * mass + 8);
}

/// The run header, printed by rank 0 before any figure.
void print_header(const Options& o, const Geometry& geometry,
                  const std::vector<std::string>& hosts) {
    std::printf("ukrun-lattice: %s%s\n", o.command.c_str(),
                o.bench.empty() ? "" : (" " + o.bench).c_str());
    std::printf("lattice         %s (t x y z), %lld sites\n", o.lattice.str().c_str(),
                static_cast<long long>(o.lattice.volume()));
    std::printf("process grid    %s, %d ranks\n", geometry.grid().str().c_str(), geometry.size());
    std::printf("local lattice   %s, %d sites per rank\n", geometry.local().str().c_str(),
                geometry.volume());
    std::printf("precision       %s\n", precision_name(o.dirac.precision).c_str());
    std::printf("ISA             %s (requested %s; cpu: %s)\n",
                std::string(isa_name(o.dirac.isa)).c_str(), o.isa_requested.c_str(),
                cpu_feature_summary().c_str());
    std::printf("hosts           %s\n", hostnames_text(hosts).c_str());
    if (o.bench == "su3" || o.bench == "pingpong") {
        std::fflush(stdout);
        return;
    }
    std::printf("gauge           %s\n", o.gauge.str().c_str());
    std::printf("Dirac           mass %.6g, kappa %.8f, csw %.6g, time boundary %s\n", o.dirac.mass,
                kappa_of(o.dirac.mass), o.dirac.csw,
                o.dirac.antiperiodic_time ? "antiperiodic" : "periodic");
    if (o.dirac.solve) {
        std::printf("CG              tol %.3g, max %d iterations%s\n", o.dirac.tol,
                    o.dirac.max_iterations, o.dirac.mixed ? ", mixed precision" : "");
    }
    std::fflush(stdout);
}

/// A checksum as eight hexadecimal digits, as MILC's .info files write it.
std::string hex(std::uint32_t value) {
    char text[16];
    std::snprintf(text, sizeof text, "%08x", value);
    return text;
}

/// The common part of the result line.
nlohmann::json result_base(const Options& o, const Geometry& geometry,
                           const std::vector<std::string>& hosts, double mpi_init_ms) {
    return {{"command", o.command},
            {"lattice", o.lattice.str()},
            {"grid", geometry.grid().str()},
            {"local_lattice", geometry.local().str()},
            {"ranks", geometry.size()},
            {"precision", precision_name(o.dirac.precision)},
            {"isa", std::string(isa_name(o.dirac.isa))},
            {"cpu", cpu_feature_summary()},
            {"gauge", o.gauge.str()},
            {"mass", o.dirac.mass},
            {"kappa", kappa_of(o.dirac.mass)},
            {"csw", o.dirac.csw},
            {"bc_time", o.dirac.antiperiodic_time ? "antiperiodic" : "periodic"},
            {"hostnames", hosts},
            {"mpi_init_ms", mpi_init_ms}};
}

/// The gauge field, its observables printed and added to `result`. Collective; throws
/// InputError on every rank for an unusable gauge file.
GaugeField<double> gauge_phase(const Options& o, const Geometry& geometry, nlohmann::json& result) {
    MilcInfo milc;
    GaugeField<double> field;
    try {
        field = make_gauge_field(geometry, o.gauge, &milc);
    } catch (const std::runtime_error& e) {
        throw InputError(e.what());
    }
    const Plaquette p = plaquette(geometry, field);
    const double trace = average_link_trace(geometry, field);
    if (geometry.rank() == 0) {
        if (o.gauge.kind == GaugeSource::Kind::milc) {
            std::printf("MILC file       %s, time stamp '%s', %s byte order, checksums %s %s %s\n",
                        o.gauge.path.c_str(), milc.time_stamp.c_str(),
                        milc.byte_swapped ? "swapped" : "native", hex(milc.sum29).c_str(),
                        hex(milc.sum31).c_str(),
                        milc.sum29 == milc.computed_sum29 && milc.sum31 == milc.computed_sum31
                            ? "verified"
                            : "MISMATCH (ignored)");
        }
        std::printf("plaquette       %.12f (space-space %.12f, space-time %.12f)\n", p.total,
                    p.space_space, p.space_time);
        std::printf("link trace      %.12f\n", trace);
        if (o.gauge.kind == GaugeSource::Kind::milc) {
            std::printf("MILC .info form gauge.ssplaq %.6f, gauge.stplaq %.6f (unit field = 3)\n",
                        3 * p.space_space, 3 * p.space_time);
        }
        std::fflush(stdout);
    }
    result["plaquette"] = p.total;
    result["plaquette_ss"] = p.space_space;
    result["plaquette_st"] = p.space_time;
    result["link_trace"] = trace;
    if (o.gauge.kind == GaugeSource::Kind::milc) {
        result["milc"] = {{"sum29", hex(milc.sum29)},
                          {"sum31", hex(milc.sum31)},
                          {"computed_sum29", hex(milc.computed_sum29)},
                          {"computed_sum31", hex(milc.computed_sum31)},
                          {"time_stamp", milc.time_stamp}};
    }
    return field;
}

/// The Dirac phase of `run`: prints and adds dirac {...} and, with --solve, cg {...}.
void dirac_phase(const Options& o, const Geometry& geometry, const GaugeField<double>& field,
                 nlohmann::json& result) {
    const DiracReport r = run_dirac(geometry, field, o.dirac);
    result["dirac"] = {{"us_per_site", r.us_per_site},
                       {"gflops", r.gflops},
                       {"halo_ms", r.halo_ms},
                       {"halo_bytes", r.halo_bytes},
                       {"applications", r.applications}};
    if (geometry.rank() == 0) {
        std::printf(
            "Dirac operator  %.4f us per site, %.2f Gflops per rank, halo %.4f ms and "
            "%.0f bytes per application (%d applications)\n",
            r.us_per_site, r.gflops, r.halo_ms, r.halo_bytes, r.applications);
    }
    if (o.dirac.solve) {
        result["cg"] = {{"iterations", r.cg_iterations},
                        {"residual", r.cg_residual},
                        {"converged", r.cg_converged},
                        {"seconds", r.cg_seconds},
                        {"tol", o.dirac.tol},
                        {"mixed", o.dirac.mixed}};
        if (geometry.rank() == 0) {
            std::printf("CG              %s after %d iterations, true residual %.3e, %.3f s\n",
                        r.cg_converged ? "converged" : "NOT converged", r.cg_iterations,
                        r.cg_residual, r.cg_seconds);
        }
    }
    std::fflush(stdout);
}

/// The job after MPI_Init; returns the exit status. InputError propagates.
int run_job(int argc, char** argv, double mpi_init_ms) {
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    std::string error;
    Options o;
    try {
        o = parse_options(argc, argv, size);
    } catch (const InputError& e) {
        error = e.what();
    }
    if (std::string first = first_error(MPI_COMM_WORLD, error); !first.empty()) {
        throw InputError(first);
    }
    if (o.help) {
        if (rank == 0) std::cout << option_descriptions() << std::endl;
        return 0;
    }
    if (o.fail_rank == rank) {
        // Testing aid: a rank that dies without MPI_Finalize, as a crashing rank would.
        std::fprintf(stderr, "ukrun-lattice: rank %d exits with code %d (--fail-rank)\n", rank,
                     o.fail_code);
        std::fflush(stderr);
        std::fflush(stdout);
        std::_Exit(o.fail_code);
    }

    const Geometry geometry(o.lattice, *o.grid, MPI_COMM_WORLD);
    const std::vector<std::string> hosts = gather_hostnames(geometry.comm(), geometry.rank(), size);
    if (geometry.rank() == 0) print_header(o, geometry, hosts);
    nlohmann::json result = result_base(o, geometry, hosts, mpi_init_ms);

    std::ostream null_stream(nullptr);
    std::ostream& out = geometry.rank() == 0 ? std::cout : null_stream;
    if (o.command == "bench" && o.bench == "pingpong") {
        if (size < 2) throw InputError("bench pingpong needs at least 2 ranks; use mpirun -np 2");
        result["bench"] = bench_pingpong(geometry.comm(), out);
    } else if (o.command == "bench" && o.bench == "su3") {
        if (geometry.rank() == 0) result["bench"] = bench_su3(o.dirac.isa, o.bench_seconds, out);
        MPI_Barrier(geometry.comm());
    } else {
        const GaugeField<double> field = gauge_phase(o, geometry, result);
        if (o.command == "bench") {
            result["bench"] = bench_dirac(geometry, field, o.dirac, out);
        } else {
            dirac_phase(o, geometry, field, result);
        }
    }

    if (geometry.rank() == 0) {
        std::cout << std::flush;
        std::printf("UKRUN-RESULT %s\n", result.dump().c_str());
        std::fflush(stdout);
    }
    // The CG result is collective, so every rank takes the same exit.
    if (result.contains("cg") && !result["cg"]["converged"].get<bool>()) {
        if (geometry.rank() == 0)
            std::fprintf(stderr,
                         "ukrun-lattice: CG did not converge to --tol %g (true residual %.3e "
                         "after %d iterations); raise --max-iterations, use --mixed or double "
                         "precision, or loosen --tol\n",
                         o.dirac.tol, result["cg"]["residual"].get<double>(),
                         result["cg"]["iterations"].get<int>());
        return kExitNotConverged;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    const double since_start =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - kProcessStart)
            .count();
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    std::printf("ukrun-lattice: MPI_Init done: rank %d of %d on %s at %s, %.1f ms after start\n",
                rank, size, host, utc_now().c_str(), since_start);
    std::fflush(stdout);

    double mpi_init_ms = 0;
    MPI_Allreduce(&since_start, &mpi_init_ms, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);

    int status = 0;
    try {
        status = run_job(argc, argv, mpi_init_ms);
    } catch (const InputError& e) {
        // Raised identically on every rank (options are parsed everywhere, collective phases
        // agree on their errors): one line from rank 0, every rank exits together.
        if (rank == 0) std::fprintf(stderr, "ukrun-lattice: %s\n", e.what());
        status = kExitBadInput;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ukrun-lattice: rank %d: %s\n", rank, e.what());
        std::fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, kExitFailure);
    }
    MPI_Finalize();
    return status;
}
