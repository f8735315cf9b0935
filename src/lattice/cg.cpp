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

/// |b - A x| / |b| in precision T.
template <typename T>
double true_residual(DiracOperator<T>& op, const SpinorField<T>& b, const SpinorField<T>& x,
                     double norm_b) {
    SpinorField<T> ax(b.size()), r = b;
    op.apply_normal(x, ax);
    axpy(-1.0, ax, r);
    return std::sqrt(global_norm2(op.geometry().comm(), r)) / norm_b;
}

double elapsed_on_root(MPI_Comm comm, double start) {
    double seconds = MPI_Wtime() - start;
    MPI_Bcast(&seconds, 1, MPI_DOUBLE, 0, comm);
    return seconds;
}

}  // namespace

template <typename T>
CgResult cg_solve(DiracOperator<T>& op, const SpinorField<T>& b, SpinorField<T>& x, double tol,
                  int max_iterations) {
    MPI_Comm comm = op.geometry().comm();
    double start = MPI_Wtime();
    CgResult result;
    double norm_b = std::sqrt(global_norm2(comm, b));
    if (norm_b == 0) {
        x.assign(b.size(), Spinor<T>{});
        result.converged = true;
        return result;
    }
    result.iterations = cg_iterate(op, b, x, tol * norm_b, max_iterations);
    result.residual = true_residual(op, b, x, norm_b);
    result.converged = result.residual <= tol;
    result.seconds = elapsed_on_root(comm, start);
    return result;
}

CgResult cg_solve_mixed(DiracOperator<double>& op, DiracOperator<float>& op_single,
                        const SpinorField<double>& b, SpinorField<double>& x, double tol,
                        int max_iterations) {
    // Single precision reduces a residual by about this much per inner solve.
    constexpr double kInnerReduction = 1e-5;
    constexpr int kMaxRestarts = 100;
    MPI_Comm comm = op.geometry().comm();
    double start = MPI_Wtime();
    CgResult result;
    double norm_b = std::sqrt(global_norm2(comm, b));
    x.assign(b.size(), Spinor<double>{});
    if (norm_b == 0) {
        result.converged = true;
        return result;
    }

    SpinorField<double> r = b, ax(b.size()), correction;
    SpinorField<float> r_single, e_single;
    double norm_r = norm_b;
    while (norm_r > tol * norm_b && result.iterations < max_iterations &&
           result.restarts < kMaxRestarts) {
        // Solve A e = r / |r| in single: scaling keeps the numbers in range.
        convert_spinor(r, r_single);
        axpy(1.0 / norm_r - 1.0, r_single, r_single);
        double inner_target = std::max(kInnerReduction, 0.5 * tol * norm_b / norm_r);
        result.iterations += cg_iterate(op_single, r_single, e_single, inner_target,
                                        max_iterations - result.iterations);
        convert_spinor(e_single, correction);
        axpy(norm_r, correction, x);
        ++result.restarts;

        // Reliable update: the true residual in double.
        op.apply_normal(x, ax);
        r = b;
        axpy(-1.0, ax, r);
        norm_r = std::sqrt(global_norm2(comm, r));
    }
    result.residual = norm_r / norm_b;
    result.converged = result.residual <= tol;
    result.seconds = elapsed_on_root(comm, start);
    return result;
}

template CgResult cg_solve<float>(DiracOperator<float>&, const SpinorField<float>&,
                                  SpinorField<float>&, double, int);
template CgResult cg_solve<double>(DiracOperator<double>&, const SpinorField<double>&,
                                   SpinorField<double>&, double, int);

}  // namespace ukrun::lattice
