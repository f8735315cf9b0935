// Internal to the su3_kernels*.cpp files: the batch loops of the matrix kernels and the
// dispatch table, written once over one ISA's per-element products.
//
// `Impl` must be a type with internal linkage (declared in an anonymous namespace) so that
// every instantiation stays in the file compiled with that ISA's flags: the linker can then
// never hand AVX code to a caller built for baseline x86-64. Impl provides
//   template <bool DagU, bool DagV> static void mat_one(const Su3<double>& u,
//                                                       const Su3<double>& v, Su3<double>& w);
//   static Su3<double> expand(const U3Alg<double>& x);   // the matrix x stands for
#pragma once

#include "ukrun/lattice/su3_kernels.hpp"

namespace ukrun::lattice::detail {

template <typename Impl, bool DagU, bool DagV>
void mat_batch(const Su3<double>* u, const Su3<double>* v, Su3<double>* w, int n) {
    for (int k = 0; k < n; ++k) Impl::template mat_one<DagU, DagV>(u[k], v[k], w[k]);
}

template <typename Impl, bool DagU>
void su3_alg_batch(const Su3<double>* u, const U3Alg<double>* x, Su3<double>* v, int n) {
    for (int k = 0; k < n; ++k) Impl::template mat_one<DagU, false>(u[k], Impl::expand(x[k]), v[k]);
}

template <typename Impl, bool DagU>
void alg_su3_batch(const U3Alg<double>* x, const Su3<double>* u, Su3<double>* v, int n) {
    for (int k = 0; k < n; ++k) Impl::template mat_one<false, DagU>(Impl::expand(x[k]), u[k], v[k]);
}

/// The table of one ISA: its vector kernels and Impl's matrix products.
template <typename Impl>
constexpr Su3Kernels su3_table(Isa isa, Su3VecKernels<float> single, Su3VecKernels<double> dbl) {
    return {isa,
            single,
            dbl,
            mat_batch<Impl, false, false>,
            mat_batch<Impl, true, false>,
            mat_batch<Impl, false, true>,
            mat_batch<Impl, true, true>,
            su3_alg_batch<Impl, false>,
            su3_alg_batch<Impl, true>,
            alg_su3_batch<Impl, false>,
            alg_su3_batch<Impl, true>};
}

}  // namespace ukrun::lattice::detail
