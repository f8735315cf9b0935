// The AVX2 + FMA per-site kernel of the Dirac operator. A register holds two complex numbers:
// the same colour of two spin components ([psi_0, psi_1] or [psi_2, psi_3] for the hopping
// term, [psi_s, psi_{s+2}] for the clover blocks). Double uses 256-bit registers, single
// 128-bit ones. Everything here is internal to this file so no AVX code leaks into the
// portable objects.
#include <immintrin.h>

#include "ukrun/lattice/dirac_op.hpp"

namespace ukrun::lattice::detail {

namespace {

/// Two complex doubles.
struct PairD {
    using T = double;
    using V = __m256d;
    static V load2(const T* lo, const T* hi) { return _mm256_loadu2_m128d(hi, lo); }
    static void store2(T* lo, T* hi, V v) { _mm256_storeu2_m128d(hi, lo, v); }
    static V bcast(const T* p) { return _mm256_broadcast_sd(p); }
    static V set1(T t) { return _mm256_set1_pd(t); }
    static V zero() { return _mm256_setzero_pd(); }
    static V add(V a, V b) { return _mm256_add_pd(a, b); }
    static V sub(V a, V b) { return _mm256_sub_pd(a, b); }
    static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
    static V fmadd(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
    static V fnmadd(V a, V b, V c) { return _mm256_fnmadd_pd(a, b, c); }
    static V addsub(V a, V b) { return _mm256_addsub_pd(a, b); }
    static V flip(V a, V mask) { return _mm256_xor_pd(a, mask); }
    /// Sign mask: -0.0 where the flag is set, per (re0, im0, re1, im1).
    static V mask(bool r0, bool i0, bool r1, bool i1) {
        return _mm256_set_pd(i1 ? -0.0 : 0.0, r1 ? -0.0 : 0.0, i0 ? -0.0 : 0.0, r0 ? -0.0 : 0.0);
    }
    static V swap_ri(V a) { return _mm256_permute_pd(a, 0x5); }
    static V swap_pair(V a) { return _mm256_permute2f128_pd(a, a, 0x01); }
    static V dup_re(V a) { return _mm256_movedup_pd(a); }
    static V dup_im(V a) { return _mm256_permute_pd(a, 0xF); }
    static V low_pair(V a, V b) { return _mm256_permute2f128_pd(a, b, 0x20); }
    static V high_pair(V a, V b) { return _mm256_permute2f128_pd(a, b, 0x31); }
    static V load_diag(const T* p) {
        return _mm256_permute4x64_pd(_mm256_castpd128_pd256(_mm_loadu_pd(p)), 0x50);
    }
    static V load_entry(const T* p) { return _mm256_loadu_pd(p); }
};

/// Two complex floats.
struct PairF {
    using T = float;
    using V = __m128;
    static V load2(const T* lo, const T* hi) {
        __m128d l = _mm_load_sd(reinterpret_cast<const double*>(lo));
        return _mm_castpd_ps(_mm_loadh_pd(l, reinterpret_cast<const double*>(hi)));
    }
    static void store2(T* lo, T* hi, V v) {
        _mm_store_sd(reinterpret_cast<double*>(lo), _mm_castps_pd(v));
        _mm_storeh_pd(reinterpret_cast<double*>(hi), _mm_castps_pd(v));
    }
    static V bcast(const T* p) { return _mm_broadcast_ss(p); }
    static V set1(T t) { return _mm_set1_ps(t); }
    static V zero() { return _mm_setzero_ps(); }
    static V add(V a, V b) { return _mm_add_ps(a, b); }
    static V sub(V a, V b) { return _mm_sub_ps(a, b); }
    static V mul(V a, V b) { return _mm_mul_ps(a, b); }
    static V fmadd(V a, V b, V c) { return _mm_fmadd_ps(a, b, c); }
    static V fnmadd(V a, V b, V c) { return _mm_fnmadd_ps(a, b, c); }
    static V addsub(V a, V b) { return _mm_addsub_ps(a, b); }
    static V flip(V a, V mask) { return _mm_xor_ps(a, mask); }
    static V mask(bool r0, bool i0, bool r1, bool i1) {
        return _mm_set_ps(i1 ? -0.0f : 0.0f, r1 ? -0.0f : 0.0f, i0 ? -0.0f : 0.0f,
                          r0 ? -0.0f : 0.0f);
    }
    static V swap_ri(V a) { return _mm_permute_ps(a, 0xB1); }
    static V swap_pair(V a) { return _mm_permute_ps(a, 0x4E); }
    static V dup_re(V a) { return _mm_moveldup_ps(a); }
    static V dup_im(V a) { return _mm_movehdup_ps(a); }
    static V low_pair(V a, V b) { return _mm_movelh_ps(a, b); }
    static V high_pair(V a, V b) { return _mm_movehl_ps(b, a); }
    static V load_diag(const T* p) {
        return _mm_permute_ps(_mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(p))), 0x50);
    }
    static V load_entry(const T* p) { return _mm_loadu_ps(p); }
};

/// i z for both complex numbers of a pair.
template <class P>
inline typename P::V times_i(typename P::V z) {
    return P::flip(P::swap_ri(z), P::mask(true, false, true, false));
}

/// S_mu of the lower pair (see dirac_spin.hpp for the definition).
template <class P, int mu>
inline typename P::V spin_s(typename P::V z) {
    if constexpr (mu == 0) {
        return z;
    } else if constexpr (mu == 1) {
        return times_i<P>(P::swap_pair(z));
    } else if constexpr (mu == 2) {
        return P::flip(P::swap_pair(z), P::mask(false, false, true, true));
    } else {
        return P::flip(P::swap_ri(z), P::mask(true, false, false, true));
    }
}

/// r = U h (dagger = false) or U^dagger h for three pairs.
template <class P, bool dagger>
inline void su3_pairs(const typename P::T* u, const typename P::V* h, typename P::V* r) {
    using V = typename P::V;
    V ih[3] = {times_i<P>(h[0]), times_i<P>(h[1]), times_i<P>(h[2])};
#pragma GCC unroll 6
    for (int i = 0; i < 3; ++i) {
        V sum = P::zero();
#pragma GCC unroll 6
        for (int j = 0; j < 3; ++j) {
            const int e = dagger ? 2 * (3 * j + i) : 2 * (3 * i + j);
            sum = P::fmadd(P::bcast(u + e), h[j], sum);
            sum = dagger ? P::fnmadd(P::bcast(u + e + 1), ih[j], sum)
                         : P::fmadd(P::bcast(u + e + 1), ih[j], sum);
        }
        r[i] = sum;
    }
}

/// Adds the forward and backward hops in direction mu to the accumulators.
template <class P, int mu>
inline void hop(const DiracKernelArgs<typename P::T>& args, int x, typename P::V* up,
                typename P::V* low) {
    using T = typename P::T;
    using V = typename P::V;
    V h[3], r[3], diff[3];

    int n = args.neighbors[8 * x + 2 * mu];
    if (n >= 0) {
        const T* p = reinterpret_cast<const T*>(args.in + n);
#pragma GCC unroll 6
        for (int c = 0; c < 3; ++c) {
            h[c] = P::add(P::load2(p + 2 * c, p + 6 + 2 * c),
                          spin_s<P, mu>(P::load2(p + 12 + 2 * c, p + 18 + 2 * c)));
        }
    } else {
        const T* q = reinterpret_cast<const T*>(args.halo + (-1 - n));
#pragma GCC unroll 6
        for (int c = 0; c < 3; ++c) h[c] = P::load2(q + 2 * c, q + 6 + 2 * c);
    }
    su3_pairs<P, false>(reinterpret_cast<const T*>(args.links + 4 * x + mu), h, r);
#pragma GCC unroll 6
    for (int c = 0; c < 3; ++c) {
        up[c] = P::add(up[c], r[c]);
        diff[c] = r[c];
    }

    n = args.neighbors[8 * x + 2 * mu + 1];
    if (n >= 0) {
        const T* p = reinterpret_cast<const T*>(args.in + n);
#pragma GCC unroll 6
        for (int c = 0; c < 3; ++c) {
            h[c] = P::sub(P::load2(p + 2 * c, p + 6 + 2 * c),
                          spin_s<P, mu>(P::load2(p + 12 + 2 * c, p + 18 + 2 * c)));
        }
        su3_pairs<P, true>(reinterpret_cast<const T*>(args.links + 4 * n + mu), h, r);
    } else {
        const T* q = reinterpret_cast<const T*>(args.halo + (-1 - n));
#pragma GCC unroll 6
        for (int c = 0; c < 3; ++c) r[c] = P::load2(q + 2 * c, q + 6 + 2 * c);
    }
#pragma GCC unroll 6
    for (int c = 0; c < 3; ++c) {
        // Lower half: sigma_mu S_mu(r_forward - r_backward), S being linear.
        up[c] = P::add(up[c], r[c]);
        const V s = spin_s<P, mu>(P::sub(diff[c], r[c]));
        low[c] = mu == 0 ? P::add(low[c], s) : P::sub(low[c], s);
    }
}

/// out(x) = C(x) psi(x) - acc / 2 with the clover blocks, pairs [psi_s, psi_{s+2}].
template <class P>
inline void finish_clover(const typename P::T* cl, const typename P::T* p, typename P::T* o,
                          const typename P::V* up, const typename P::V* low) {
    using V = typename P::V;
    V x[6], xs[6], re[6], im[6];
#pragma GCC unroll 6
    for (int i = 0; i < 6; ++i) {
        const int s = i / 3, c = i % 3;
        x[i] = P::load2(p + 6 * s + 2 * c, p + 6 * (s + 2) + 2 * c);
        xs[i] = P::swap_ri(x[i]);
        re[i] = P::mul(P::load_diag(cl + 2 * i), x[i]);
        im[i] = P::zero();
    }
    int entry = 0;
#pragma GCC unroll 6
    for (int i = 0; i < 6; ++i) {
#pragma GCC unroll 6
        for (int j = i + 1; j < 6; ++j, ++entry) {
            V a = P::load_entry(cl + 12 + 4 * entry);
            V ar = P::dup_re(a), ai = P::dup_im(a);
            re[i] = P::fmadd(ar, x[j], re[i]);
            im[i] = P::fmadd(ai, xs[j], im[i]);
            re[j] = P::fmadd(ar, x[i], re[j]);
            im[j] = P::fnmadd(ai, xs[i], im[j]);
        }
    }
    const V half = P::set1(typename P::T(0.5));
#pragma GCC unroll 6
    for (int c = 0; c < 3; ++c) {
        V y0 = P::fnmadd(half, P::low_pair(up[c], low[c]), P::addsub(re[c], im[c]));
        V y1 = P::fnmadd(half, P::high_pair(up[c], low[c]), P::addsub(re[3 + c], im[3 + c]));
        P::store2(o + 2 * c, o + 12 + 2 * c, y0);
        P::store2(o + 6 + 2 * c, o + 18 + 2 * c, y1);
    }
}

/// out(x) = (4 + m0) psi(x) - acc / 2.
template <class P>
inline void finish_wilson(typename P::T diagonal, const typename P::T* p, typename P::T* o,
                          const typename P::V* up, const typename P::V* low) {
    using V = typename P::V;
    const V half = P::set1(typename P::T(0.5));
    const V d = P::set1(diagonal);
#pragma GCC unroll 6
    for (int c = 0; c < 3; ++c) {
        V u = P::fnmadd(half, up[c], P::mul(d, P::load2(p + 2 * c, p + 6 + 2 * c)));
        V l = P::fnmadd(half, low[c], P::mul(d, P::load2(p + 12 + 2 * c, p + 18 + 2 * c)));
        P::store2(o + 2 * c, o + 6 + 2 * c, u);
        P::store2(o + 12 + 2 * c, o + 18 + 2 * c, l);
    }
}

template <class P>
void sites(const DiracKernelArgs<typename P::T>& args, const int* list, int count) {
    using T = typename P::T;
    using V = typename P::V;
    for (int k = 0; k < count; ++k) {
        const int x = list[k];
        V up[3] = {P::zero(), P::zero(), P::zero()};
        V low[3] = {P::zero(), P::zero(), P::zero()};
        hop<P, 0>(args, x, up, low);
        hop<P, 1>(args, x, up, low);
        hop<P, 2>(args, x, up, low);
        hop<P, 3>(args, x, up, low);

        const T* p = reinterpret_cast<const T*>(args.in + x);
        T* o = reinterpret_cast<T*>(args.out + x);
        if (args.clover) {
            finish_clover<P>(args.clover + static_cast<std::size_t>(x) * kCloverReals, p, o, up,
                             low);
        } else {
            finish_wilson<P>(args.diagonal, p, o, up, low);
        }
    }
}

/// Both faces of direction mu (see FacePackArgs).
template <class P, int mu>
void pack(const FacePackArgs<typename P::T>& args) {
    using T = typename P::T;
    using V = typename P::V;
    for (int k = 0; k < args.count; ++k) {
        const T* p = reinterpret_cast<const T*>(args.in + args.lower[k]);
        T* q = reinterpret_cast<T*>(args.down + k);
#pragma GCC unroll 3
        for (int c = 0; c < 3; ++c) {
            V h = P::add(P::load2(p + 2 * c, p + 6 + 2 * c),
                         spin_s<P, mu>(P::load2(p + 12 + 2 * c, p + 18 + 2 * c)));
            P::store2(q + 2 * c, q + 6 + 2 * c, h);
        }

        const int x = args.upper[k];
        p = reinterpret_cast<const T*>(args.in + x);
        q = reinterpret_cast<T*>(args.up + k);
        V h[3], r[3];
#pragma GCC unroll 3
        for (int c = 0; c < 3; ++c) {
            h[c] = P::sub(P::load2(p + 2 * c, p + 6 + 2 * c),
                          spin_s<P, mu>(P::load2(p + 12 + 2 * c, p + 18 + 2 * c)));
        }
        su3_pairs<P, true>(reinterpret_cast<const T*>(args.links + 4 * x + mu), h, r);
#pragma GCC unroll 3
        for (int c = 0; c < 3; ++c) P::store2(q + 2 * c, q + 6 + 2 * c, r[c]);
    }
}

template <class P>
void pack_any(const FacePackArgs<typename P::T>& args) {
    switch (args.mu) {
        case 0:
            pack<P, 0>(args);
            break;
        case 1:
            pack<P, 1>(args);
            break;
        case 2:
            pack<P, 2>(args);
            break;
        default:
            pack<P, 3>(args);
            break;
    }
}

}  // namespace

template <typename T>
void pack_faces_avx2(const FacePackArgs<T>& args) {
    if constexpr (sizeof(T) == sizeof(double)) {
        pack_any<PairD>(args);
    } else {
        pack_any<PairF>(args);
    }
}

template void pack_faces_avx2<float>(const FacePackArgs<float>&);
template void pack_faces_avx2<double>(const FacePackArgs<double>&);

template <typename T>
void dirac_sites_avx2(const DiracKernelArgs<T>& args, const int* list, int count) {
    if constexpr (sizeof(T) == sizeof(double)) {
        sites<PairD>(args, list, count);
    } else {
        sites<PairF>(args, list, count);
    }
}

template void dirac_sites_avx2<float>(const DiracKernelArgs<float>&, const int*, int);
template void dirac_sites_avx2<double>(const DiracKernelArgs<double>&, const int*, int);

}  // namespace ukrun::lattice::detail
