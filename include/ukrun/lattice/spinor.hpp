// Dirac spinor fields on one rank's local sites and the linear algebra the solver needs:
// global dot products (summed in double, MPI_Allreduce), axpy forms, gamma5, precision copies
// and decomposition-independent random fields.
#pragma once

#include <mpi.h>

#include <complex>
#include <cstdint>
#include <vector>

#include "ukrun/lattice/geometry.hpp"
#include "ukrun/lattice/su3.hpp"

namespace ukrun::lattice {

/// One spinor per local site, in the geometry's lexicographic site order.
template <typename T>
using SpinorField = std::vector<Spinor<T>>;

/// Fills `field` (resized to the local volume) with uniform numbers in [-1, 1) from Random123
/// Philox keyed by `seed` and the global site index: the same global field on any grid.
template <typename T>
void random_spinor(const Geometry& geometry, std::uint64_t seed, SpinorField<T>& field);

/// Sum over all ranks of <a, b> = sum conj(a) b, accumulated in double. Collective.
template <typename T>
std::complex<double> global_dot(MPI_Comm comm, const SpinorField<T>& a, const SpinorField<T>& b);

/// Sum over all ranks of |a|^2, accumulated in double. Collective.
template <typename T>
double global_norm2(MPI_Comm comm, const SpinorField<T>& a);

/// y += alpha x.
template <typename T>
void axpy(double alpha, const SpinorField<T>& x, SpinorField<T>& y);

/// y = x + beta y.
template <typename T>
void xpby(const SpinorField<T>& x, double beta, SpinorField<T>& y);

/// out = gamma5 in (chiral basis: +1 on spin 0, 1 and -1 on spin 2, 3); out may alias in.
template <typename T>
void apply_gamma5(const SpinorField<T>& in, SpinorField<T>& out);

/// Copies with a precision change (or none); `out` is resized.
template <typename To, typename From>
void convert_spinor(const SpinorField<From>& in, SpinorField<To>& out);

/// Largest |a - b| over all components on this rank (no communication).
template <typename T>
double max_abs_difference(const SpinorField<T>& a, const SpinorField<T>& b);

}  // namespace ukrun::lattice
