// AVX2 + FMA SU(3) kernels. Compiled with -mavx2 -mfma and reached only through the dispatch
// table when isa_supported(Isa::avx2). Everything here has internal linkage, so no function
// built with these flags can be picked by the linker for baseline code.
//
// Every product is written as out = sum_j s_j * x_j with complex scalars s_j (broadcast) and
// colour vectors x_j (a matrix row or column). With acc_r = sum Re(s_j) x_j and
// acc_i = sum Im(s_j) x_j, s * x = addsub(acc_r, swap(acc_i)), where swap exchanges the real
// and imaginary parts: 6 multiply-adds per three complex lanes, one shuffle, one addsub.
#include <immintrin.h>

#include "su3_kernels_table.hpp"
#include "ukrun/lattice/su3_kernels.hpp"

namespace ukrun::lattice {
namespace {

// Which factors of sum_j s_j * x_j are conjugated: none, the scalars, the result, or both.
enum class Conj { none, scalar, out, both };

inline __m256d swap_ri(__m256d x) {
    return _mm256_permute_pd(x, 0x5);
}
inline __m128d swap_ri(__m128d x) {
    return _mm_permute_pd(x, 0x1);
}
inline __m256 swap_ri(__m256 x) {
    return _mm256_permute_ps(x, 0xb1);
}
inline __m256d addsub(__m256d a, __m256d b) {
    return _mm256_addsub_pd(a, b);
}
inline __m128d addsub(__m128d a, __m128d b) {
    return _mm_addsub_pd(a, b);
}
inline __m256 addsub(__m256 a, __m256 b) {
    return _mm256_addsub_ps(a, b);
}
inline __m256d flip(__m256d x, __m256d mask) {
    return _mm256_xor_pd(x, mask);
}
inline __m128d flip(__m128d x, __m256d mask) {
    return _mm_xor_pd(x, _mm256_castpd256_pd128(mask));
}
inline __m256 flip(__m256 x, __m256 mask) {
    return _mm256_xor_ps(x, mask);
}

inline __m256d sign_all(__m256d) {
    return _mm256_set1_pd(-0.0);
}
inline __m256d sign_imag(__m256d) {
    return _mm256_setr_pd(0.0, -0.0, 0.0, -0.0);
}
inline __m256d sign_all(__m128d) {
    return _mm256_set1_pd(-0.0);
}
inline __m256d sign_imag(__m128d) {
    return _mm256_setr_pd(0.0, -0.0, 0.0, -0.0);
}
inline __m256 sign_all(__m256) {
    return _mm256_set1_ps(-0.0f);
}
inline __m256 sign_imag(__m256) {
    return _mm256_setr_ps(0.0f, -0.0f, 0.0f, -0.0f, 0.0f, -0.0f, 0.0f, -0.0f);
}

// Turns the two accumulators into the complex result, applying the conjugations.
template <Conj C, typename V>
inline V finish(V acc_r, V acc_i) {
    const V sw = swap_ri(acc_i);
    if constexpr (C == Conj::none) {
        return addsub(acc_r, sw);
    } else if constexpr (C == Conj::scalar) {
        return addsub(acc_r, flip(sw, sign_all(acc_r)));
    } else if constexpr (C == Conj::out) {
        return flip(addsub(acc_r, sw), sign_imag(acc_r));
    } else {
        return addsub(sw, flip(acc_r, sign_all(acc_r)));
    }
}

// ---- double precision: three complex numbers as a ymm (0, 1) and an xmm (2) ----

struct Vec3d {
    __m256d lo;
    __m128d hi;
};

inline Vec3d load_row(const Complex<double>* p) {
    return {_mm256_loadu_pd(&p[0].re), _mm_loadu_pd(&p[2].re)};
}

// The three columns of u from four 32-byte loads and one 16-byte load (not nine 16-byte
// loads): the loads at complex offsets 0, 2, 4 hold (u00 u01), (u02 u10), (u11 u12), and two
// blends and one lane swap pair them as (u0j u1j); row 2 is (u20 u21) and u22.
inline void load_cols(const Su3<double>& u, Vec3d& c0, Vec3d& c1, Vec3d& c2) {
    const double* p = &u.c[0][0].re;
    const __m256d l0 = _mm256_loadu_pd(p), l1 = _mm256_loadu_pd(p + 4);
    const __m256d l2 = _mm256_loadu_pd(p + 8), l3 = _mm256_loadu_pd(p + 12);
    c0 = {_mm256_blend_pd(l0, l1, 0xc), _mm256_castpd256_pd128(l3)};
    c1 = {_mm256_permute2f128_pd(l0, l2, 0x21), _mm256_extractf128_pd(l3, 1)};
    c2 = {_mm256_blend_pd(l1, l2, 0xc), _mm_loadu_pd(p + 16)};
}

inline void store(Complex<double>* p, const Vec3d& v) {
    _mm256_storeu_pd(&p[0].re, v.lo);
    _mm_storeu_pd(&p[2].re, v.hi);
}

template <Conj C>
inline Vec3d combine(const Complex<double>& s0, const Complex<double>& s1,
                     const Complex<double>& s2, const Vec3d& x0, const Vec3d& x1, const Vec3d& x2) {
    __m256d r = _mm256_set1_pd(s0.re), i = _mm256_set1_pd(s0.im);
    __m256d rlo = _mm256_mul_pd(r, x0.lo), ilo = _mm256_mul_pd(i, x0.lo);
    __m128d rhi = _mm_mul_pd(_mm256_castpd256_pd128(r), x0.hi);
    __m128d ihi = _mm_mul_pd(_mm256_castpd256_pd128(i), x0.hi);

    r = _mm256_set1_pd(s1.re), i = _mm256_set1_pd(s1.im);
    rlo = _mm256_fmadd_pd(r, x1.lo, rlo), ilo = _mm256_fmadd_pd(i, x1.lo, ilo);
    rhi = _mm_fmadd_pd(_mm256_castpd256_pd128(r), x1.hi, rhi);
    ihi = _mm_fmadd_pd(_mm256_castpd256_pd128(i), x1.hi, ihi);

    r = _mm256_set1_pd(s2.re), i = _mm256_set1_pd(s2.im);
    rlo = _mm256_fmadd_pd(r, x2.lo, rlo), ilo = _mm256_fmadd_pd(i, x2.lo, ilo);
    rhi = _mm_fmadd_pd(_mm256_castpd256_pd128(r), x2.hi, rhi);
    ihi = _mm_fmadd_pd(_mm256_castpd256_pd128(i), x2.hi, ihi);

    return {finish<C>(rlo, ilo), finish<C>(rhi, ihi)};
}

void mul_vec_d(const Su3<double>* u, const Su3Vector<double>* in, Su3Vector<double>* out, int n) {
    for (int k = 0; k < n; ++k) {
        const Su3<double>& m = u[k];
        const Complex<double>* v = in[k].c;
        Vec3d c0, c1, c2;
        load_cols(m, c0, c1, c2);
        store(out[k].c, combine<Conj::none>(v[0], v[1], v[2], c0, c1, c2));
    }
}

// u^dagger v = conj(sum_j conj(v_j) row_j(u)).
void dag_mul_vec_d(const Su3<double>* u, const Su3Vector<double>* in, Su3Vector<double>* out,
                   int n) {
    for (int k = 0; k < n; ++k) {
        const Su3<double>& m = u[k];
        const Complex<double>* v = in[k].c;
        store(out[k].c, combine<Conj::both>(v[0], v[1], v[2], load_row(m.c[0]), load_row(m.c[1]),
                                            load_row(m.c[2])));
    }
}

// The matrix products for the shared batch loops (su3_kernels_table.hpp). Row i of
// w = op(u) * op(v) combines the rows of v (or its columns for v^dagger) with the scalars
// u_ij (or u_ji for u^dagger).
struct Avx2 {
    template <bool DagU, bool DagV>
    static void mat_one(const Su3<double>& u, const Su3<double>& v, Su3<double>& w) {
        constexpr Conj kConj =
            DagU ? (DagV ? Conj::out : Conj::scalar) : (DagV ? Conj::both : Conj::none);
        Vec3d x0, x1, x2;
        if constexpr (DagV) {
            load_cols(v, x0, x1, x2);
        } else {
            x0 = load_row(v.c[0]), x1 = load_row(v.c[1]), x2 = load_row(v.c[2]);
        }
        for (int i = 0; i < 3; ++i) {
            if constexpr (DagU) {
                store(w.c[i], combine<kConj>(u.c[0][i], u.c[1][i], u.c[2][i], x0, x1, x2));
            } else {
                store(w.c[i], combine<kConj>(u.c[i][0], u.c[i][1], u.c[i][2], x0, x1, x2));
            }
        }
    }

    // The anti-hermitian matrix of x, stored row by row in the same 32 + 16-byte pieces that
    // load_row reads, so the loads that follow take their data straight from the stores.
    static Su3<double> expand(const U3Alg<double>& x) {
        Su3<double> m;
        store(m.c[0], {_mm256_setr_pd(0.0, x.c1, x.c4, x.c5), _mm_setr_pd(x.c6, x.c7)});
        store(m.c[1], {_mm256_setr_pd(-x.c4, x.c5, 0.0, x.c2), _mm_setr_pd(x.c8, x.c9)});
        store(m.c[2], {_mm256_setr_pd(-x.c6, x.c7, -x.c8, x.c9), _mm_setr_pd(0.0, x.c3)});
        return m;
    }
};

// ---- single precision: three complex numbers in lanes 0-2 of a ymm, lane 3 unused ----

inline __m256 bcast(float x) {
    return _mm256_set1_ps(x);
}

// The 64-bit complex number at p in every lane.
inline __m256 bcast_complex(const Complex<float>* p) {
    return _mm256_castsi256_ps(_mm256_broadcastq_epi64(_mm_loadu_si64(p)));
}

// Row r of u; the last row is read in two parts so nothing past the matrix is touched.
inline __m256 load_row(const Su3<float>& u, int r) {
    if (r < 2) return _mm256_loadu_ps(&u.c[r][0].re);
    const __m128 head = _mm_loadu_ps(&u.c[2][0].re);
    return _mm256_insertf128_ps(_mm256_castps128_ps256(head),
                                _mm_castsi128_ps(_mm_loadu_si64(&u.c[2][2])), 1);
}

// The three columns of u from unaligned loads at complex offsets 0..5 (lane l of the load at
// offset k holds element k + l) blended so lane l of column j holds u_lj; u_22 is broadcast.
inline void load_cols(const Su3<float>& u, __m256& c0, __m256& c1, __m256& c2) {
    const float* p = &u.c[0][0].re;
    const __m256 l0 = _mm256_loadu_ps(p), l1 = _mm256_loadu_ps(p + 2);
    const __m256 l2 = _mm256_loadu_ps(p + 4), l3 = _mm256_loadu_ps(p + 6);
    const __m256 l4 = _mm256_loadu_ps(p + 8), l5 = _mm256_loadu_ps(p + 10);
    const __m256 b8 = bcast_complex(&u.c[2][2]);
    c0 = _mm256_blend_ps(_mm256_blend_ps(l0, l2, 0x0c), l4, 0x30);
    c1 = _mm256_blend_ps(_mm256_blend_ps(l1, l3, 0x0c), l5, 0x30);
    c2 = _mm256_blend_ps(_mm256_blend_ps(l2, l4, 0x0c), b8, 0x30);
}

inline void store(Su3Vector<float>& out, __m256 v) {
    _mm_storeu_ps(&out.c[0].re, _mm256_castps256_ps128(v));
    _mm_storeu_si64(&out.c[2], _mm_castps_si128(_mm256_extractf128_ps(v, 1)));
}

template <Conj C>
inline __m256 combine(const Complex<float>* s, __m256 x0, __m256 x1, __m256 x2) {
    __m256 acc_r = _mm256_mul_ps(bcast(s[0].re), x0);
    __m256 acc_i = _mm256_mul_ps(bcast(s[0].im), x0);
    acc_r = _mm256_fmadd_ps(bcast(s[1].re), x1, acc_r);
    acc_i = _mm256_fmadd_ps(bcast(s[1].im), x1, acc_i);
    acc_r = _mm256_fmadd_ps(bcast(s[2].re), x2, acc_r);
    acc_i = _mm256_fmadd_ps(bcast(s[2].im), x2, acc_i);
    return finish<C>(acc_r, acc_i);
}

void mul_vec_f(const Su3<float>* u, const Su3Vector<float>* in, Su3Vector<float>* out, int n) {
    for (int k = 0; k < n; ++k) {
        __m256 c0, c1, c2;
        load_cols(u[k], c0, c1, c2);
        store(out[k], combine<Conj::none>(in[k].c, c0, c1, c2));
    }
}

void dag_mul_vec_f(const Su3<float>* u, const Su3Vector<float>* in, Su3Vector<float>* out, int n) {
    for (int k = 0; k < n; ++k) {
        const Su3<float>& m = u[k];
        store(out[k], combine<Conj::both>(in[k].c, load_row(m, 0), load_row(m, 1), load_row(m, 2)));
    }
}

}  // namespace

namespace detail {
constinit const Su3Kernels kSu3KernelsAvx2 =
    su3_table<Avx2>(Isa::avx2, {mul_vec_f, dag_mul_vec_f}, {mul_vec_d, dag_mul_vec_d});
}  // namespace detail

}  // namespace ukrun::lattice
