// The workload's main phase: time Dw on a random source and optionally solve with CG.
#include "ukrun/lattice/dirac.hpp"

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

/// Repetitions for about kAutoSeconds, measured on one application, decided on rank 0.
template <typename T>
int auto_repetitions(DiracOperator<T>& op, const SpinorField<T>& in, SpinorField<T>& out) {
    MPI_Comm comm = op.geometry().comm();
    MPI_Barrier(comm);
    double start = MPI_Wtime();
    op.apply(in, out);
    op.apply(in, out);
    double seconds = (MPI_Wtime() - start) / 2;
    int repetitions = static_cast<int>(std::clamp(kAutoSeconds / std::max(seconds, 1e-9), 1.0,
                                                  static_cast<double>(kMaxAutoRepetitions)));
    MPI_Bcast(&repetitions, 1, MPI_INT, 0, comm);
    return repetitions;
}

template <typename T>
void time_operator(DiracOperator<T>& op, int repetitions, DiracReport& report) {
    const Geometry& geometry = op.geometry();
    MPI_Comm comm = geometry.comm();
    SpinorField<T> in, out(static_cast<std::size_t>(geometry.volume()));
    random_spinor(geometry, kSourceSeed, in);
    if (repetitions <= 0) repetitions = auto_repetitions(op, in, out);

    op.reset_halo_stats();
    MPI_Barrier(comm);
    double start = MPI_Wtime();
    for (int k = 0; k < repetitions; ++k) op.apply(in, out);
    double local[3] = {MPI_Wtime() - start, op.halo_stats().wait_seconds,
                       op.halo_stats().bytes_sent};
    double worst[3];
    MPI_Allreduce(local, worst, 3, MPI_DOUBLE, MPI_MAX, comm);

    const double sites = static_cast<double>(geometry.volume()) * repetitions;
    report.applications = repetitions;
    report.us_per_site = worst[0] / sites * 1e6;
    report.gflops = op.flops_per_site() * sites / worst[0] * 1e-9;
    report.halo_ms = worst[1] / repetitions * 1e3;
    report.halo_bytes = worst[2] / repetitions;
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
    try {
        return run(geometry, field, options);
    } catch (const std::exception& error) {
        std::fprintf(stderr, "ukrun-lattice: rank %d: Dirac phase failed: %s\n", geometry.rank(),
                     error.what());
        MPI_Abort(geometry.comm(), 1);
    }
    return {};
}

}  // namespace ukrun::lattice
