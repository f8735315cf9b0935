// The workload's main phase: time Dw on a random source and optionally solve with CG.
#include "ukrun/lattice/dirac.hpp"

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "ukrun/lattice/cg.hpp"

namespace ukrun::lattice {

namespace {

constexpr std::uint64_t kSourceSeed = 0x5eed2026;  ///< key of the Random123 source field
constexpr double kAutoSeconds = 1.0;               ///< timing target for repetitions = 0
constexpr int kMaxAutoRepetitions = 100000;

DiracParams params_of(const DiracOptions& options) {
    DiracParams params;
    params.mass = options.mass;
    params.csw = options.csw;
    params.antiperiodic_time = options.antiperiodic_time;
    return params;
}

template <typename T>
void time_operator(DiracOperator<T>& op, int repetitions, DiracReport& report) {
    std::vector<SpinorField<T>> in(1), out(1);
    random_spinor(op.geometry(), kSourceSeed, in[0]);
    DiracTiming timing = time_dirac(op, in, out, repetitions, kAutoSeconds);
    report.applications = timing.applications;
    report.us_per_site = timing.us_per_site;
    report.gflops = timing.gflops;
    report.halo_ms = timing.halo_ms;
    report.halo_bytes = timing.halo_bytes;
}

/// This thread's CPU time in seconds (shows the kernel's cost on a shared or oversubscribed
/// machine); -1 where the clock is missing (some unikernels).
double thread_cpu_seconds() {
    timespec now{};
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now) != 0) return -1;
    return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

void fill_cg(const CgResult& result, DiracReport& report) {
    report.cg_iterations = result.iterations;
    report.cg_residual = result.residual;
    report.cg_converged = result.converged;
    report.cg_seconds = result.seconds;
}

DiracReport run(const Geometry& geometry, const GaugeField<double>& field,
                const DiracOptions& options) {
    DiracReport report;
    const DiracParams params = params_of(options);
    SpinorField<double> b, x;
    if (options.solve) random_spinor(geometry, kSourceSeed, b);

    if (options.precision == Precision::single) {
        DiracOperator<float> op(geometry, field, params, options.isa);
        time_operator(op, options.repetitions, report);
        if (options.solve && options.mixed) {
            DiracOperator<double> op_double(geometry, field, params, options.isa);
            fill_cg(cg_solve_mixed(op_double, op, b, x, options.tol, options.max_iterations),
                    report);
        } else if (options.solve) {
            SpinorField<float> b_single, x_single;
            convert_spinor(b, b_single);
            fill_cg(cg_solve(op, b_single, x_single, options.tol, options.max_iterations), report);
        }
        return report;
    }

    DiracOperator<double> op(geometry, field, params, options.isa);
    time_operator(op, options.repetitions, report);
    if (options.solve && options.mixed) {
        DiracOperator<float> op_single(geometry, field, params, options.isa);
        fill_cg(cg_solve_mixed(op, op_single, b, x, options.tol, options.max_iterations), report);
    } else if (options.solve) {
        fill_cg(cg_solve(op, b, x, options.tol, options.max_iterations), report);
    }
    return report;
}

}  // namespace

template <typename T>
DiracTiming time_dirac(DiracOperator<T>& op, const std::vector<SpinorField<T>>& in,
                       std::vector<SpinorField<T>>& out, int repetitions, double target_seconds) {
    const Geometry& geometry = op.geometry();
    MPI_Comm comm = geometry.comm();
    const std::size_t fields = in.size();
    out.resize(fields);
    for (std::size_t k = 0; k < fields; ++k) out[k].resize(in[k].size());

    if (repetitions <= 0) {
        // A trial pass over every field (at least two applications) sets the count.
        const int trial = static_cast<int>(std::max<std::size_t>(2, fields));
        MPI_Barrier(comm);
        double start = MPI_Wtime();
        for (int k = 0; k < trial; ++k) op.apply(in[k % fields], out[k % fields]);
        double each = (MPI_Wtime() - start) / trial;
        repetitions = static_cast<int>(std::clamp(target_seconds / std::max(each, 1e-9), 1.0,
                                                  static_cast<double>(kMaxAutoRepetitions)));
        MPI_Bcast(&repetitions, 1, MPI_INT, 0, comm);
    }

    op.reset_halo_stats();
    MPI_Barrier(comm);
    const double cpu_start = thread_cpu_seconds();
    const double start = MPI_Wtime();
    for (int k = 0; k < repetitions; ++k) op.apply(in[k % fields], out[k % fields]);
    const double cpu_end = thread_cpu_seconds();
    double local[4] = {MPI_Wtime() - start, op.halo_stats().wait_seconds,
                       op.halo_stats().bytes_sent,
                       cpu_start < 0 || cpu_end < 0 ? -1.0 : cpu_end - cpu_start};
    double worst[4];
    MPI_Allreduce(local, worst, 4, MPI_DOUBLE, MPI_MAX, comm);

    DiracTiming timing;
    const double sites = static_cast<double>(geometry.volume()) * repetitions;
    timing.applications = repetitions;
    timing.seconds = worst[0];
    timing.us_per_site = worst[0] / sites * 1e6;
    timing.cpu_us_per_site = worst[3] < 0 ? -1 : worst[3] / sites * 1e6;
    timing.gflops = op.flops_per_site() * sites / worst[0] * 1e-9;
    timing.halo_ms = worst[1] / repetitions * 1e3;
    timing.halo_bytes = worst[2] / repetitions;
    return timing;
}

template DiracTiming time_dirac<float>(DiracOperator<float>&,
                                       const std::vector<SpinorField<float>>&,
                                       std::vector<SpinorField<float>>&, int, double);
template DiracTiming time_dirac<double>(DiracOperator<double>&,
                                        const std::vector<SpinorField<double>>&,
                                        std::vector<SpinorField<double>>&, int, double);

Precision parse_precision(const std::string& text) {
    if (text == "single") return Precision::single;
    if (text == "double") return Precision::dbl;
    throw std::invalid_argument("--precision '" + text + "': expected single or double");
}

std::string precision_name(Precision precision) {
    return precision == Precision::single ? "single" : "double";
}

DiracReport run_dirac(const Geometry& geometry, const GaugeField<double>& field,
                      const DiracOptions& options) {
    return or_abort(geometry, "Dirac phase", [&] { return run(geometry, field, options); });
}

}  // namespace ukrun::lattice
