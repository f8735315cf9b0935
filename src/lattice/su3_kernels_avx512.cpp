// AVX-512 (F, DQ, VL) SU(3) kernels. Compiled with AVX-512 flags and reached only through the
// dispatch table when isa_supported(Isa::avx512); everything here has internal linkage.
//
// Same scheme as the AVX2 file (out = sum_j s_j * x_j, two accumulators, one shuffle), but a
// colour vector sits in one register (double: 6 of the 8 lanes of a zmm; single: 6 of the 8
// lanes of a ymm) and is read and written with masked loads and stores, which never touch
// memory in masked-off lanes: a column is three masked loads, with no blend.
#include <immintrin.h>

#include "su3_kernels_table.hpp"
#include "ukrun/lattice/su3_kernels.hpp"

namespace ukrun::lattice {
namespace {

enum class Conj { none, scalar, out, both };

constexpr __mmask8 kLane0 = 0x03, kLane1 = 0x0c, kLane2 = 0x30, kLanes = 0x3f;

// Overloads that let one template serve both precisions.
inline __m512d splat(double x) {
    return _mm512_set1_pd(x);
}
inline __m256 splat(float x) {
    return _mm256_set1_ps(x);
}
inline __m512d mul(__m512d a, __m512d b) {
    return _mm512_mul_pd(a, b);
}
inline __m256 mul(__m256 a, __m256 b) {
    return _mm256_mul_ps(a, b);
}
inline __m512d fmadd(__m512d a, __m512d b, __m512d c) {
    return _mm512_fmadd_pd(a, b, c);
}
inline __m256 fmadd(__m256 a, __m256 b, __m256 c) {
    return _mm256_fmadd_ps(a, b, c);
}
inline __m512d swap_ri(__m512d x) {
    return _mm512_shuffle_pd(x, x, 0x55);
}
inline __m256 swap_ri(__m256 x) {
    return _mm256_permute_ps(x, 0xb1);
}
// Even lanes a - b, odd lanes a + b; and the opposite.
inline __m512d sub_add(__m512d a, __m512d b) {
    return _mm512_fmaddsub_pd(a, _mm512_set1_pd(1.0), b);
}
inline __m256 sub_add(__m256 a, __m256 b) {
    return _mm256_fmaddsub_ps(a, _mm256_set1_ps(1.0f), b);
}
inline __m512d add_sub(__m512d a, __m512d b) {
    return _mm512_fmsubadd_pd(a, _mm512_set1_pd(1.0), b);
}
inline __m256 add_sub(__m256 a, __m256 b) {
    return _mm256_fmsubadd_ps(a, _mm256_set1_ps(1.0f), b);
}
inline __m512d conj(__m512d x) {
    return _mm512_xor_pd(x, _mm512_setr_pd(0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0, -0.0));
}
inline __m256 conj(__m256 x) {
    return _mm256_xor_ps(x, _mm256_setr_ps(0.0f, -0.0f, 0.0f, -0.0f, 0.0f, -0.0f, 0.0f, -0.0f));
}

inline __m512d load_masked(__mmask8 m, const double* p) {
    return _mm512_maskz_loadu_pd(m, p);
}
inline __m256 load_masked(__mmask8 m, const float* p) {
    return _mm256_maskz_loadu_ps(m, p);
}
inline __m512d load_masked(__m512d src, __mmask8 m, const double* p) {
    return _mm512_mask_loadu_pd(src, m, p);
}
inline __m256 load_masked(__m256 src, __mmask8 m, const float* p) {
    return _mm256_mask_loadu_ps(src, m, p);
}
inline void store_masked(double* p, __m512d v) {
    _mm512_mask_storeu_pd(p, kLanes, v);
}
inline void store_masked(float* p, __m256 v) {
    _mm256_mask_storeu_ps(p, kLanes, v);
}

// The register type holding one colour vector of precision T.
template <typename T>
struct RegOf;
template <>
struct RegOf<double> {
    using type = __m512d;
};
template <>
struct RegOf<float> {
    using type = __m256;
};
template <typename T>
using Reg = typename RegOf<T>::type;

template <typename T>
inline Reg<T> load_row(const Complex<T>* p) {
    return load_masked(kLanes, &p->re);
}

// Column j: element (l, j) sits 6 l reals after element (0, j) and belongs in lane pair l.
template <typename T>
inline Reg<T> load_col(const Su3<T>& u, int j) {
    const T* p = &u.c[0][j].re;
    Reg<T> c = load_masked(kLane0, p);
    c = load_masked(c, kLane1, p + 4);
    return load_masked(c, kLane2, p + 8);
}

template <Conj C, typename V>
inline V finish(V acc_r, V acc_i) {
    const V sw = swap_ri(acc_i);
    if constexpr (C == Conj::none) {
        return sub_add(acc_r, sw);
    } else if constexpr (C == Conj::scalar) {
        return add_sub(acc_r, sw);
    } else if constexpr (C == Conj::out) {
        return conj(sub_add(acc_r, sw));
    } else {
        return add_sub(sw, acc_r);
    }
}

template <Conj C, typename T>
inline Reg<T> combine(const Complex<T>& s0, const Complex<T>& s1, const Complex<T>& s2, Reg<T> x0,
                      Reg<T> x1, Reg<T> x2) {
    Reg<T> acc_r = mul(splat(s0.re), x0), acc_i = mul(splat(s0.im), x0);
    acc_r = fmadd(splat(s1.re), x1, acc_r), acc_i = fmadd(splat(s1.im), x1, acc_i);
    acc_r = fmadd(splat(s2.re), x2, acc_r), acc_i = fmadd(splat(s2.im), x2, acc_i);
    return finish<C>(acc_r, acc_i);
}

template <typename T>
void mul_vec(const Su3<T>* u, const Su3Vector<T>* in, Su3Vector<T>* out, int n) {
    for (int k = 0; k < n; ++k) {
        const Complex<T>* v = in[k].c;
        store_masked(&out[k].c[0].re, combine<Conj::none, T>(v[0], v[1], v[2], load_col(u[k], 0),
                                                             load_col(u[k], 1), load_col(u[k], 2)));
    }
}

// u^dagger v = conj(sum_j conj(v_j) row_j(u)).
template <typename T>
void dag_mul_vec(const Su3<T>* u, const Su3Vector<T>* in, Su3Vector<T>* out, int n) {
    for (int k = 0; k < n; ++k) {
        const Complex<T>* v = in[k].c;
        const Su3<T>& m = u[k];
        store_masked(&out[k].c[0].re, combine<Conj::both, T>(v[0], v[1], v[2], load_row(m.c[0]),
                                                             load_row(m.c[1]), load_row(m.c[2])));
    }
}

// The matrix products for the shared batch loops (su3_kernels_table.hpp).
struct Avx512 {
    template <bool DagU, bool DagV>
    static void mat_one(const Su3<double>& u, const Su3<double>& v, Su3<double>& w) {
        constexpr Conj kConj =
            DagU ? (DagV ? Conj::out : Conj::scalar) : (DagV ? Conj::both : Conj::none);
        __m512d x[3];
        for (int j = 0; j < 3; ++j) x[j] = DagV ? load_col(v, j) : load_row(v.c[j]);
        for (int i = 0; i < 3; ++i) {
            const __m512d r =
                DagU ? combine<kConj, double>(u.c[0][i], u.c[1][i], u.c[2][i], x[0], x[1], x[2])
                     : combine<kConj, double>(u.c[i][0], u.c[i][1], u.c[i][2], x[0], x[1], x[2]);
            store_masked(&w.c[i][0].re, r);
        }
    }

    // The anti-hermitian matrix of x, written row by row with masked stores.
    static Su3<double> expand(const U3Alg<double>& x) {
        Su3<double> m;
        store_masked(&m.c[0][0].re, _mm512_setr_pd(0.0, x.c1, x.c4, x.c5, x.c6, x.c7, 0.0, 0.0));
        store_masked(&m.c[1][0].re, _mm512_setr_pd(-x.c4, x.c5, 0.0, x.c2, x.c8, x.c9, 0.0, 0.0));
        store_masked(&m.c[2][0].re, _mm512_setr_pd(-x.c6, x.c7, -x.c8, x.c9, 0.0, x.c3, 0.0, 0.0));
        return m;
    }
};

}  // namespace

namespace detail {
constinit const Su3Kernels kSu3KernelsAvx512 = su3_table<Avx512>(
    Isa::avx512, {mul_vec<float>, dag_mul_vec<float>}, {mul_vec<double>, dag_mul_vec<double>});
}  // namespace detail

}  // namespace ukrun::lattice
