// Portable spin projection, reconstruction and colour algebra of the Dirac operator (private
// to the baseline-ISA sources; the AVX2 kernel has its own).
//
// In openQCD's chiral basis (gamma_0 = [[0,-1],[-1,0]], gamma_k = [[0,-i s_k],[i s_k,0]])
// the upper half of (1 -+ gamma_mu) psi is h = (psi_0, psi_1) +- S_mu(psi_2, psi_3) with
//   S_0(a, b) = (a, b), S_1(a, b) = (i b, i a), S_2(a, b) = (b, -a), S_3(a, b) = (i a, -i b),
// and the lower half of (1 -+ gamma_mu) chi with upper half r is +- sigma_mu S_mu(r), where
// sigma_0 = +1 and sigma_k = -1.
#pragma once

#include "ukrun/lattice/su3.hpp"

namespace ukrun::lattice::detail {

template <typename T>
inline Su3Vector<T> times_i(const Su3Vector<T>& v, T sign) {
    Su3Vector<T> out;
    for (int c = 0; c < 3; ++c) out.c[c] = {-sign * v.c[c].im, sign * v.c[c].re};
    return out;
}

template <typename T>
inline Su3Vector<T> scaled(const Su3Vector<T>& v, T factor) {
    Su3Vector<T> out;
    for (int c = 0; c < 3; ++c) out.c[c] = {factor * v.c[c].re, factor * v.c[c].im};
    return out;
}

/// (S_mu(a, b))_0 and _1 for the lower pair (a, b).
template <typename T>
inline void spin_s(int mu, const Su3Vector<T>& a, const Su3Vector<T>& b, Su3Vector<T>& s0,
                   Su3Vector<T>& s1) {
    switch (mu) {
        case 0:
            s0 = a;
            s1 = b;
            break;
        case 1:
            s0 = times_i(b, T(1));
            s1 = times_i(a, T(1));
            break;
        case 2:
            s0 = b;
            s1 = scaled(a, T(-1));
            break;
        default:
            s0 = times_i(a, T(1));
            s1 = times_i(b, T(-1));
            break;
    }
}

/// Upper half of (1 - sign * gamma_mu) psi: sign = +1 for the forward hop, -1 backward.
template <typename T>
inline HalfSpinor<T> project(int mu, T sign, const Spinor<T>& psi) {
    Su3Vector<T> s0, s1;
    spin_s(mu, psi.s[2], psi.s[3], s0, s1);
    HalfSpinor<T> h;
    for (int c = 0; c < 3; ++c) {
        h.s[0].c[c] = {psi.s[0].c[c].re + sign * s0.c[c].re, psi.s[0].c[c].im + sign * s0.c[c].im};
        h.s[1].c[c] = {psi.s[1].c[c].re + sign * s1.c[c].re, psi.s[1].c[c].im + sign * s1.c[c].im};
    }
    return h;
}

/// acc += (1 - sign * gamma_mu) chi, where chi's upper half is r.
template <typename T>
inline void accumulate(int mu, T sign, const HalfSpinor<T>& r, Spinor<T>& acc) {
    Su3Vector<T> s0, s1;
    spin_s(mu, r.s[0], r.s[1], s0, s1);
    T lower = mu == 0 ? sign : -sign;
    for (int c = 0; c < 3; ++c) {
        acc.s[0].c[c].re += r.s[0].c[c].re;
        acc.s[0].c[c].im += r.s[0].c[c].im;
        acc.s[1].c[c].re += r.s[1].c[c].re;
        acc.s[1].c[c].im += r.s[1].c[c].im;
        acc.s[2].c[c].re += lower * s0.c[c].re;
        acc.s[2].c[c].im += lower * s0.c[c].im;
        acc.s[3].c[c].re += lower * s1.c[c].re;
        acc.s[3].c[c].im += lower * s1.c[c].im;
    }
}

/// U v, or U^dagger v when `dagger`.
template <bool dagger, typename T>
inline Su3Vector<T> su3_apply(const Su3<T>& u, const Su3Vector<T>& v) {
    Su3Vector<T> out;
    for (int i = 0; i < 3; ++i) {
        T re = 0, im = 0;
        for (int j = 0; j < 3; ++j) {
            const Complex<T>& e = dagger ? u.c[j][i] : u.c[i][j];
            const T e_im = dagger ? -e.im : e.im;
            re += e.re * v.c[j].re - e_im * v.c[j].im;
            im += e.re * v.c[j].im + e_im * v.c[j].re;
        }
        out.c[i] = {re, im};
    }
    return out;
}

/// Both colour vectors of a half spinor times U (or U^dagger).
template <bool dagger, typename T>
inline HalfSpinor<T> su3_apply(const Su3<T>& u, const HalfSpinor<T>& h) {
    return {{su3_apply<dagger>(u, h.s[0]), su3_apply<dagger>(u, h.s[1])}};
}

}  // namespace ukrun::lattice::detail
