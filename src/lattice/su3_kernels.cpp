// Scalar SU(3) kernels (the reference the vector forms are checked against) and the dispatch
// by ISA. Compiled for baseline x86-64.
#include "ukrun/lattice/su3_kernels.hpp"

#include <stdexcept>
#include <string>

#include "su3_kernels_table.hpp"

namespace ukrun::lattice {
namespace {

template <typename T>
Complex<T> conj(Complex<T> a) {
    return {a.re, -a.im};
}

// a * b + acc.
template <typename T>
Complex<T> mul_add(Complex<T> a, Complex<T> b, Complex<T> acc) {
    return {acc.re + a.re * b.re - a.im * b.im, acc.im + a.re * b.im + a.im * b.re};
}

// Element (i, j) of u or of u^dagger.
template <bool Dag, typename T>
Complex<T> elem(const Su3<T>& u, int i, int j) {
    if constexpr (Dag) {
        return conj(u.c[j][i]);
    } else {
        return u.c[i][j];
    }
}

template <bool Dag, typename T>
void mul_vec(const Su3<T>* u, const Su3Vector<T>* in, Su3Vector<T>* out, int n) {
    for (int k = 0; k < n; ++k) {
        for (int i = 0; i < 3; ++i) {
            Complex<T> acc{0, 0};
            for (int j = 0; j < 3; ++j) acc = mul_add(elem<Dag>(u[k], i, j), in[k].c[j], acc);
            out[k].c[i] = acc;
        }
    }
}

// The matrix products for the shared batch loops (su3_kernels_table.hpp).
struct Scalar {
    template <bool DagU, bool DagV>
    static void mat_one(const Su3<double>& u, const Su3<double>& v, Su3<double>& w) {
        for (int i = 0; i < 3; ++i) {
            for (int l = 0; l < 3; ++l) {
                Complex<double> acc{0, 0};
                for (int j = 0; j < 3; ++j)
                    acc = mul_add(elem<DagU>(u, i, j), elem<DagV>(v, j, l), acc);
                w.c[i][l] = acc;
            }
        }
    }
    static Su3<double> expand(const U3Alg<double>& x) { return u3alg_to_su3(x); }
};

}  // namespace

Su3<double> u3alg_to_su3(const U3Alg<double>& x) {
    Su3<double> m;
    m.c[0][0] = {0, x.c1};
    m.c[1][1] = {0, x.c2};
    m.c[2][2] = {0, x.c3};
    m.c[0][1] = {x.c4, x.c5};
    m.c[1][0] = {-x.c4, x.c5};
    m.c[0][2] = {x.c6, x.c7};
    m.c[2][0] = {-x.c6, x.c7};
    m.c[1][2] = {x.c8, x.c9};
    m.c[2][1] = {-x.c8, x.c9};
    return m;
}

namespace detail {
constinit const Su3Kernels kSu3KernelsScalar =
    su3_table<Scalar>(Isa::scalar, {mul_vec<false, float>, mul_vec<true, float>},
                      {mul_vec<false, double>, mul_vec<true, double>});
}  // namespace detail

const Su3Kernels& su3_kernels(Isa isa) {
    if (!isa_supported(isa))
        throw std::runtime_error("SU(3) kernels for " + std::string(isa_name(isa)) +
                                 ": this CPU does not support them (" + cpu_feature_summary() +
                                 "); use --isa auto");
    switch (isa) {
        case Isa::scalar:
            return detail::kSu3KernelsScalar;
        case Isa::avx2:
            return detail::kSu3KernelsAvx2;
        case Isa::avx512:
            return detail::kSu3KernelsAvx512;
    }
    throw std::invalid_argument("SU(3) kernels: unknown ISA value");
}

}  // namespace ukrun::lattice
