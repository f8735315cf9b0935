// The portable per-site kernel of the Dirac operator: always available, the reference the
// vector kernels are tested against.
#include "dirac_spin.hpp"
#include "ukrun/lattice/dirac_op.hpp"

namespace ukrun::lattice::detail {

namespace {

/// out = C psi for the two hermitian blocks of one site's clover term (kCloverReals layout).
template <typename T>
void clover_times(const T* clover, const Spinor<T>& psi, Spinor<T>& out) {
    for (int block = 0; block < 2; ++block) {
        auto v = [&](int i) -> const Complex<T>& { return psi.s[2 * block + i / 3].c[i % 3]; };
        Complex<T> y[6];
        for (int i = 0; i < 6; ++i) {
            T d = clover[2 * i + block];
            y[i] = {d * v(i).re, d * v(i).im};
        }
        int entry = 0;
        for (int i = 0; i < 6; ++i) {
            for (int j = i + 1; j < 6; ++j, ++entry) {
                T re = clover[12 + 4 * entry + 2 * block];
                T im = clover[12 + 4 * entry + 2 * block + 1];
                y[i].re += re * v(j).re - im * v(j).im;
                y[i].im += re * v(j).im + im * v(j).re;
                y[j].re += re * v(i).re + im * v(i).im;
                y[j].im += re * v(i).im - im * v(i).re;
            }
        }
        for (int i = 0; i < 6; ++i) out.s[2 * block + i / 3].c[i % 3] = y[i];
    }
}

}  // namespace

template <typename T>
void dirac_sites_scalar(const DiracKernelArgs<T>& args, const int* sites, int count) {
    for (int k = 0; k < count; ++k) {
        const int x = sites[k];
        Spinor<T> acc{};
        for (int mu = 0; mu < 4; ++mu) {
            const Su3<T>& u = args.links[4 * x + mu];
            int n = args.neighbors[8 * x + 2 * mu];
            HalfSpinor<T> h = n >= 0 ? project(mu, T(1), args.in[n]) : args.halo[-1 - n];
            HalfSpinor<T> r = su3_apply<false>(u, h);
            accumulate(mu, T(1), r, acc);

            n = args.neighbors[8 * x + 2 * mu + 1];
            if (n >= 0) {
                h = project(mu, T(-1), args.in[n]);
                r = su3_apply<true>(args.links[4 * n + mu], h);
            } else {
                r = args.halo[-1 - n];
            }
            accumulate(mu, T(-1), r, acc);
        }

        const Spinor<T>& psi = args.in[x];
        Spinor<T> diag;
        if (args.clover) {
            clover_times(args.clover + static_cast<std::size_t>(x) * kCloverReals, psi, diag);
        } else {
            for (int s = 0; s < 4; ++s) diag.s[s] = scaled(psi.s[s], args.diagonal);
        }
        Spinor<T>& out = args.out[x];
        for (int s = 0; s < 4; ++s) {
            for (int c = 0; c < 3; ++c) {
                out.s[s].c[c].re = diag.s[s].c[c].re - T(0.5) * acc.s[s].c[c].re;
                out.s[s].c[c].im = diag.s[s].c[c].im - T(0.5) * acc.s[s].c[c].im;
            }
        }
    }
}

template void dirac_sites_scalar<float>(const DiracKernelArgs<float>&, const int*, int);
template void dirac_sites_scalar<double>(const DiracKernelArgs<double>&, const int*, int);

}  // namespace ukrun::lattice::detail
