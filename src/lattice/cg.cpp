// Conjugate gradient on Dw^dagger Dw (see cg.hpp).
#include "ukrun/lattice/cg.hpp"

#include <algorithm>
#include <cmath>

namespace ukrun::lattice {

namespace {

/// Plain CG on A = Dw^dagger Dw from x = 0 until |r| <= target (the recursive residual).
/// Returns the iterations used.
template <typename T>
int cg_iterate(DiracOperator<T>& op, const SpinorField<T>& b, SpinorField<T>& x, double target,
               int max_iterations) {
    MPI_Comm comm = op.geometry().comm();
    x.assign(b.size(), Spinor<T>{});
    SpinorField<T> r = b, p = b, ap(b.size());
    double rr = global_norm2(comm, r);
    int iterations = 0;
    while (std::sqrt(rr) > target && iterations < max_iterations) {
        op.apply_normal(p, ap);
        ++iterations;
        double pap = global_dot(comm, p, ap).real();
        if (!(pap > 0)) break;  // breakdown: A is positive definite, so only rounding
        double alpha = rr / pap;
        axpy(alpha, p, x);
        axpy(-alpha, ap, r);
        double rr_new = global_norm2(comm, r);
        xpby(r, rr_new / rr, p);
        rr = rr_new;
    }
    return iterations;
}

double elapsed_on_root(MPI_Comm comm, double start) {
    double seconds = MPI_Wtime() - start;
    MPI_Bcast(&seconds, 1, MPI_DOUBLE, 0, comm);
    return seconds;
}

/// Defect correction: CG in precision Inner on the normalised true residual of precision
/// Outer, each pass reducing it by the remaining factor (but by at most `max_reduction`),
/// until the true residual meets tol. With Inner = Outer the first pass is plain CG and
/// later passes only repair a recursive residual that drifted from the true one.
template <typename Outer, typename Inner>
CgResult defect_correction(DiracOperator<Outer>& op, DiracOperator<Inner>& inner_op,
                           const SpinorField<Outer>& b, SpinorField<Outer>& x, double tol,
                           int max_iterations, double max_reduction) {
    constexpr int kMaxPasses = 100;
    constexpr double kStagnation = 0.9;  ///< a pass must shrink the true residual this much
    MPI_Comm comm = op.geometry().comm();
    const double start = MPI_Wtime();
    CgResult result;
    const double norm_b = std::sqrt(global_norm2(comm, b));
    x.assign(b.size(), Spinor<Outer>{});
    if (norm_b == 0) {
        result.converged = true;
        return result;
    }

    SpinorField<Outer> r = b, ax(b.size()), correction;
    SpinorField<Inner> r_inner, e_inner;
    double norm_r = norm_b;
    while (norm_r > tol * norm_b && result.iterations < max_iterations &&
           result.restarts < kMaxPasses) {
        convert_spinor(r, r_inner);
        axpy(1.0 / norm_r - 1.0, r_inner, r_inner);  // unit norm keeps floats in range
        // Later passes aim below tol so a slightly drifted residual is not chased twice.
        const double aim = result.restarts == 0 ? 1.0 : 0.5;
        const double target = std::max(max_reduction, aim * tol * norm_b / norm_r);
        result.iterations +=
            cg_iterate(inner_op, r_inner, e_inner, target, max_iterations - result.iterations);
        convert_spinor(e_inner, correction);
        axpy(norm_r, correction, x);
        ++result.restarts;

        op.apply_normal(x, ax);  // the true residual
        r = b;
        axpy(-1.0, ax, r);
        const double previous = norm_r;
        norm_r = std::sqrt(global_norm2(comm, r));
        if (norm_r > kStagnation * previous) break;  // the precision's limit is reached
    }
    result.residual = norm_r / norm_b;
    result.converged = result.residual <= tol;
    result.seconds = elapsed_on_root(comm, start);
    return result;
}

}  // namespace

template <typename T>
CgResult cg_solve(DiracOperator<T>& op, const SpinorField<T>& b, SpinorField<T>& x, double tol,
                  int max_iterations) {
    return defect_correction(op, op, b, x, tol, max_iterations, 0.0);
}

CgResult cg_solve_mixed(DiracOperator<double>& op, DiracOperator<float>& op_single,
                        const SpinorField<double>& b, SpinorField<double>& x, double tol,
                        int max_iterations) {
    // Single precision reduces a residual by about this much per pass.
    constexpr double kSingleReduction = 1e-5;
    return defect_correction(op, op_single, b, x, tol, max_iterations, kSingleReduction);
}

template CgResult cg_solve<float>(DiracOperator<float>&, const SpinorField<float>&,
                                  SpinorField<float>&, double, int);
template CgResult cg_solve<double>(DiracOperator<double>&, const SpinorField<double>&,
                                   SpinorField<double>&, double, int);

}  // namespace ukrun::lattice
