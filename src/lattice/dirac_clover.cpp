// The Sheikholeslami-Wohlert term, precomputed per site as two hermitian 6x6 blocks:
//   C(x) = (4 + m0) + csw (i/4) sum_{mu,nu} sigma_{mu nu} F_{mu nu}(x),
// sigma_{mu nu} = (i/2) [gamma_mu, gamma_nu], F_{mu nu} = (Q_{mu nu} - Q_{mu nu}^dagger) / 8
// with Q the sum of the four plaquettes (clover leaves) in the mu-nu plane at x.
#include <array>
#include <complex>

#include "ukrun/lattice/dirac_op.hpp"

namespace ukrun::lattice {

namespace {

using Cx = std::complex<double>;
using Mat3 = std::array<std::array<Cx, 3>, 3>;
using Mat4 = std::array<std::array<Cx, 4>, 4>;

Mat3 to_mat(const Su3<double>& u, bool dagger) {
    Mat3 m;
    for (int i = 0; i < 3; ++i) {
        for (int j = 0; j < 3; ++j) {
            const Complex<double>& e = dagger ? u.c[j][i] : u.c[i][j];
            m[i][j] = dagger ? Cx(e.re, -e.im) : Cx(e.re, e.im);
        }
    }
    return m;
}

Mat3 mul(const Mat3& a, const Mat3& b) {
    Mat3 m{};
    for (int i = 0; i < 3; ++i) {
        for (int k = 0; k < 3; ++k) {
            for (int j = 0; j < 3; ++j) m[i][j] += a[i][k] * b[k][j];
        }
    }
    return m;
}

/// openQCD's chiral gamma_mu (mu = 0..3).
Mat4 gamma(int mu) {
    const Cx i(0, 1);
    Mat4 g{};
    switch (mu) {
        case 0:
            g[0][2] = g[1][3] = g[2][0] = g[3][1] = -1.0;
            break;
        case 1:
            g[0][3] = g[1][2] = -i;
            g[2][1] = g[3][0] = i;
            break;
        case 2:
            g[0][3] = -1.0;
            g[1][2] = 1.0;
            g[2][1] = 1.0;
            g[3][0] = -1.0;
            break;
        default:
            g[0][2] = -i;
            g[1][3] = i;
            g[2][0] = i;
            g[3][1] = -i;
            break;
    }
    return g;
}

/// sigma_{mu nu} = (i/2) [gamma_mu, gamma_nu].
Mat4 sigma(int mu, int nu) {
    Mat4 a = gamma(mu), b = gamma(nu), s{};
    for (int r = 0; r < 4; ++r) {
        for (int c = 0; c < 4; ++c) {
            Cx comm = 0;
            for (int k = 0; k < 4; ++k) comm += a[r][k] * b[k][c] - b[r][k] * a[k][c];
            s[r][c] = Cx(0, 0.5) * comm;
        }
    }
    return s;
}

/// F_{mu nu}(x) from the four clover leaves, x in local coordinates.
Mat3 field_strength(const ExtendedGauge& gauge, std::array<int, 4> x, int mu, int nu) {
    auto at = [&](int dmu, int dnu) {
        std::array<int, 4> y = x;
        y[mu] += dmu;
        y[nu] += dnu;
        return y;
    };
    auto u = [&](std::array<int, 4> y, int dir, bool dagger) {
        return to_mat(gauge.link(y, dir), dagger);
    };
    Mat3 leaves[4] = {
        mul(mul(u(at(0, 0), mu, false), u(at(1, 0), nu, false)),
            mul(u(at(0, 1), mu, true), u(at(0, 0), nu, true))),
        mul(mul(u(at(0, 0), nu, false), u(at(-1, 1), mu, true)),
            mul(u(at(-1, 0), nu, true), u(at(-1, 0), mu, false))),
        mul(mul(u(at(-1, 0), mu, true), u(at(-1, -1), nu, true)),
            mul(u(at(-1, -1), mu, false), u(at(0, -1), nu, false))),
        mul(mul(u(at(0, -1), nu, true), u(at(0, -1), mu, false)),
            mul(u(at(1, -1), nu, false), u(at(0, 0), mu, true))),
    };
    Mat3 f{};
    for (int a = 0; a < 3; ++a) {
        for (int b = 0; b < 3; ++b) {
            Cx q = 0, qt = 0;
            for (const Mat3& leaf : leaves) {
                q += leaf[a][b];
                qt += std::conj(leaf[b][a]);
            }
            f[a][b] = (q - qt) / 8.0;
        }
    }
    return f;
}

}  // namespace

std::vector<double> build_clover(const Geometry& geometry, const GaugeField<double>& field,
                                 const DiracParams& params) {
    ExtendedGauge gauge(geometry, field);
    std::array<Mat4, 16> sigmas;
    for (int mu = 0; mu < 4; ++mu) {
        for (int nu = 0; nu < 4; ++nu) sigmas[4 * mu + nu] = sigma(mu, nu);
    }

    const int volume = geometry.volume();
    std::vector<double> clover(static_cast<std::size_t>(volume) * kCloverReals);
    for (int site = 0; site < volume; ++site) {
        std::array<int, 4> x = geometry.local_coords(site);
        // m[(s, a)][(t, b)], spin-major.
        std::array<std::array<Cx, 12>, 12> m{};
        for (int k = 0; k < 12; ++k) m[k][k] = 4.0 + params.mass;
        for (int mu = 0; mu < 4; ++mu) {
            for (int nu = mu + 1; nu < 4; ++nu) {
                Mat3 f = field_strength(gauge, x, mu, nu);
                const Mat4& s = sigmas[4 * mu + nu];
                for (int sa = 0; sa < 4; ++sa) {
                    for (int tb = 0; tb < 4; ++tb) {
                        if (s[sa][tb] == 0.0) continue;
                        Cx factor = Cx(0, 0.5 * params.csw) * s[sa][tb];
                        for (int a = 0; a < 3; ++a) {
                            for (int b = 0; b < 3; ++b)
                                m[3 * sa + a][3 * tb + b] += factor * f[a][b];
                        }
                    }
                }
            }
        }

        double* out = clover.data() + static_cast<std::size_t>(site) * kCloverReals;
        for (int block = 0; block < 2; ++block) {
            const int base = 6 * block;
            int entry = 0;
            for (int i = 0; i < 6; ++i) {
                out[2 * i + block] = m[base + i][base + i].real();
                for (int j = i + 1; j < 6; ++j, ++entry) {
                    out[12 + 4 * entry + 2 * block] = m[base + i][base + j].real();
                    out[12 + 4 * entry + 2 * block + 1] = m[base + i][base + j].imag();
                }
            }
        }
    }
    return clover;
}

}  // namespace ukrun::lattice
