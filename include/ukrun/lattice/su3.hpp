// SU(3) data types shared by every lattice module: complex numbers, 3x3 matrices, colour
// vectors, Dirac spinors. Plain aggregates with the memory layout of openQCD (row-major
// matrices, real part first), so vector kernels can load them directly.
#pragma once

namespace ukrun::lattice {

/// A complex number stored as (re, im).
template <typename T>
struct Complex {
    T re, im;
};

/// A 3x3 complex matrix, row-major: c[row][col].
template <typename T>
struct alignas(sizeof(T) * 2) Su3 {
    Complex<T> c[3][3];
};

/// A colour vector.
template <typename T>
struct Su3Vector {
    Complex<T> c[3];
};

/// A Dirac spinor: four colour vectors (spin components 0..3).
template <typename T>
struct Spinor {
    Su3Vector<T> s[4];
};

/// A spin-projected half spinor: what the halo exchange sends.
template <typename T>
struct HalfSpinor {
    Su3Vector<T> s[2];
};

/// An element X of the Lie algebra of U(3): an anti-hermitian 3x3 matrix stored as openQCD's
/// u3_alg, nine reals with X_11 = i c1, X_22 = i c2, X_33 = i c3, X_12 = c4 + i c5,
/// X_13 = c6 + i c7, X_23 = c8 + i c9, and X_ji = -conj(X_ij).
template <typename T>
struct U3Alg {
    T c1, c2, c3, c4, c5, c6, c7, c8, c9;
};

}  // namespace ukrun::lattice
