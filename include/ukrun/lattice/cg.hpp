// Conjugate gradient on the normal equations Dw^dagger Dw x = b, in one precision or mixed
// (single-precision inner solves restarted from the double-precision true residual).
#pragma once

#include "ukrun/lattice/dirac_op.hpp"

namespace ukrun::lattice {

/// What a solve did. Identical on every rank.
struct CgResult {
    int iterations = 0;      ///< operator applications of Dw^dagger Dw (inner ones when mixed)
    double residual = 0;     ///< true |b - A x| / |b|, recomputed in double at the end
    bool converged = false;  ///< residual <= tol within the iteration cap
    double seconds = 0;      ///< wall time of the solve on rank 0's clock
    int restarts = 0;        ///< passes on the true residual (1 unless it drifted or mixed)
};

/// Solves Dw^dagger Dw x = b to |b - A x| / |b| <= tol from x = 0, at most max_iterations
/// iterations. Stops early, unconverged, when a pass no longer shrinks the true residual
/// (single precision cannot go much below 1e-6). A zero b gives x = 0 and residual 0.
/// Throws only std::bad_alloc. Collective.
template <typename T>
CgResult cg_solve(DiracOperator<T>& op, const SpinorField<T>& b, SpinorField<T>& x, double tol,
                  int max_iterations);

/// The same in mixed precision: inner CG in single on the residual, accumulated into x in
/// double, until the double true residual meets tol. Both operators must describe the same
/// Dw on the same geometry. Collective.
CgResult cg_solve_mixed(DiracOperator<double>& op, DiracOperator<float>& op_single,
                        const SpinorField<double>& b, SpinorField<double>& x, double tol,
                        int max_iterations);

}  // namespace ukrun::lattice
