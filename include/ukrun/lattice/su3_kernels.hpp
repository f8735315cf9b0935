// SU(3) kernels batched over arrays, in scalar, AVX2+FMA and AVX-512 forms, and a dispatch
// table chosen by Isa: the products openQCD's su3fcts time1/time2/time3 programs measure.
#pragma once

#include "ukrun/lattice/isa.hpp"
#include "ukrun/lattice/su3.hpp"

namespace ukrun::lattice {

/// out[i] = u[i] * in[i] (or u[i]^dagger * in[i]) for 0 <= i < n. `out` must not alias the
/// inputs; n <= 0 does nothing. No alignment is required.
template <typename T>
using Su3VecFn = void (*)(const Su3<T>* u, const Su3Vector<T>* in, Su3Vector<T>* out, int n);

/// w[i] = op(u[i]) * op(v[i]) for 0 <= i < n; `w` must not alias `u` or `v`.
using Su3MatFn = void (*)(const Su3<double>* u, const Su3<double>* v, Su3<double>* w, int n);

/// v[i] = op(u[i]) * X[i] for 0 <= i < n; `v` must not alias `u`.
using Su3AlgFn = void (*)(const Su3<double>* u, const U3Alg<double>* x, Su3<double>* v, int n);

/// v[i] = X[i] * op(u[i]) for 0 <= i < n; `v` must not alias `u`.
using AlgSu3Fn = void (*)(const U3Alg<double>* x, const Su3<double>* u, Su3<double>* v, int n);

/// SU(3) x colour-vector kernels of one precision.
template <typename T>
struct Su3VecKernels {
    Su3VecFn<T> mul;      ///< u * v (openQCD su3_multiply), 66 flops per call
    Su3VecFn<T> dag_mul;  ///< u^dagger * v (openQCD su3_inverse_multiply), 66 flops per call
};

/// Every kernel for one ISA. The matrices need not be unitary: they are general 3x3 complex.
struct Su3Kernels {
    Isa isa = Isa::scalar;
    Su3VecKernels<float> single;
    Su3VecKernels<double> dbl;
    Su3MatFn su3xsu3;        ///< u * v, 198 flops per call
    Su3MatFn su3dagxsu3;     ///< u^dagger * v, 198 flops
    Su3MatFn su3xsu3dag;     ///< u * v^dagger, 198 flops
    Su3MatFn su3dagxsu3dag;  ///< u^dagger * v^dagger, 198 flops
    Su3AlgFn su3xu3alg;      ///< u * X, counted as 198 flops as openQCD does
    Su3AlgFn su3dagxu3alg;   ///< u^dagger * X, counted as 198 flops
    AlgSu3Fn u3algxsu3;      ///< X * u, counted as 198 flops
    AlgSu3Fn u3algxsu3dag;   ///< X * u^dagger, counted as 198 flops

    /// The vector kernels of precision T (float or double).
    template <typename T>
    const Su3VecKernels<T>& vec() const {
        if constexpr (sizeof(T) == sizeof(float)) {
            return single;
        } else {
            return dbl;
        }
    }
};

/// The kernels for `isa`. Throws std::runtime_error naming the ISA and the CPU features when
/// this CPU cannot run it (never returns code that would die of an illegal instruction).
const Su3Kernels& su3_kernels(Isa isa);

/// The full 3x3 anti-hermitian matrix that `x` stands for.
Su3<double> u3alg_to_su3(const U3Alg<double>& x);

/// Flops counted per call, as openQCD counts them.
inline constexpr int kSu3VecFlops = 66;
inline constexpr int kSu3MatFlops = 198;

namespace detail {
/// The per-ISA tables, each defined in the file compiled for that ISA. Constant-initialised:
/// reading them runs no vector instruction.
extern const Su3Kernels kSu3KernelsScalar;
extern const Su3Kernels kSu3KernelsAvx2;
extern const Su3Kernels kSu3KernelsAvx512;
}  // namespace detail

}  // namespace ukrun::lattice
