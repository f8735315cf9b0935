// The Wilson-Dirac operator: free-field plane waves against the analytic result, gauge
// covariance, gamma5-hermiticity, the clover term on the unit field, decomposition
// independence against a whole-lattice reference, AVX2 against portable code, and single
// against double precision. Runs under 1 to 4 ranks.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <complex>
#include <numbers>

#include "dirac_fixtures.hpp"

namespace ukrun::test {
namespace {

using Cx = std::complex<double>;

const Dims kSmall{{6, 4, 4, 4}};
const Dims kLarger{{12, 4, 4, 8}};

/// The kernels this CPU can run.
std::vector<Isa> kernels() {
    std::vector<Isa> isas{Isa::scalar};
    if (isa_supported(Isa::avx2)) isas.push_back(Isa::avx2);
    return isas;
}

/// openQCD's chiral gamma_mu, written out independently of the operator's code.
std::array<std::array<Cx, 4>, 4> dense_gamma(int mu) {
    const Cx i(0, 1), o(0, 0), one(1, 0);
    switch (mu) {
        case 0:
            return {{{o, o, -one, o}, {o, o, o, -one}, {-one, o, o, o}, {o, -one, o, o}}};
        case 1:
            return {{{o, o, o, -i}, {o, o, -i, o}, {o, i, o, o}, {i, o, o, o}}};
        case 2:
            return {{{o, o, o, -one}, {o, o, one, o}, {o, one, o, o}, {-one, o, o, o}}};
        default:
            return {{{o, o, -i, o}, {o, o, o, i}, {i, o, o, o}, {o, -i, o, o}}};
    }
}

Cx get(const Spinor<double>& s, int spin, int c) {
    return {s.s[spin].c[c].re, s.s[spin].c[c].im};
}
void set(Spinor<double>& s, int spin, int c, Cx v) {
    s.s[spin].c[c] = {v.real(), v.imag()};
}

/// Largest |a - b| over all ranks.
double world_max_difference(const SpinorField<double>& a, const SpinorField<double>& b) {
    double local = max_abs_difference(a, b), global = 0;
    MPI_Allreduce(&local, &global, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return global;
}

void free_field_plane_wave(bool antiperiodic) {
    Geometry geometry(kSmall, auto_grid(kSmall, world_size()), MPI_COMM_WORLD);
    DiracParams params{-0.3, 1.7, antiperiodic};  // the clover term must vanish here
    const std::array<int, 4> n{1, 2, 1, 3};
    std::array<double, 4> p{};
    for (int mu = 0; mu < 4; ++mu) {
        p[mu] = 2 * std::numbers::pi * n[mu] / kSmall[mu];
        if (mu == 0 && antiperiodic) p[mu] += std::numbers::pi / kSmall[0];
    }
    // A fixed spin-colour vector u and D(p) u = (m0 + sum(1 - cos p)) u + i sum sin(p) g u.
    Cx u[4][3], du[4][3];
    double mass_term = params.mass;
    for (int mu = 0; mu < 4; ++mu) mass_term += 1 - std::cos(p[mu]);
    for (int s = 0; s < 4; ++s) {
        for (int c = 0; c < 3; ++c) u[s][c] = Cx(0.3 * s - 0.5 + 0.1 * c, 0.2 * c + 0.05 * s);
    }
    for (int s = 0; s < 4; ++s) {
        for (int c = 0; c < 3; ++c) {
            du[s][c] = mass_term * u[s][c];
            for (int mu = 0; mu < 4; ++mu) {
                auto g = dense_gamma(mu);
                for (int t = 0; t < 4; ++t) du[s][c] += Cx(0, std::sin(p[mu])) * g[s][t] * u[t][c];
            }
        }
    }

    SpinorField<double> psi(geometry.volume()), expected(geometry.volume()), out;
    for (int site = 0; site < geometry.volume(); ++site) {
        std::array<int, 4> x = geometry.local_coords(site);
        double phase = 0;
        for (int mu = 0; mu < 4; ++mu) phase += p[mu] * (x[mu] + geometry.origin()[mu]);
        Cx wave = std::polar(1.0, phase);
        for (int s = 0; s < 4; ++s) {
            for (int c = 0; c < 3; ++c) {
                set(psi[site], s, c, wave * u[s][c]);
                set(expected[site], s, c, wave * du[s][c]);
            }
        }
    }
    GaugeField<double> field = unit_field(geometry);
    for (Isa isa : kernels()) {
        DiracOperator<double> op(geometry, field, params, isa);
        op.apply(psi, out);
        EXPECT_LT(world_max_difference(out, expected), 1e-13) << isa_name(isa);
    }
}

TEST(Dirac, FreeFieldPlaneWavePeriodic) {
    free_field_plane_wave(false);
}

TEST(Dirac, FreeFieldPlaneWaveAntiperiodicTime) {
    free_field_plane_wave(true);
}

TEST(Dirac, CloverTermVanishesOnUnitField) {
    Geometry geometry(kSmall, auto_grid(kSmall, world_size()), MPI_COMM_WORLD);
    DiracParams params{0.25, 1.5, false};
    std::vector<double> unit = build_clover(geometry, unit_field(geometry), params);
    std::vector<double> random = build_clover(geometry, random_field(geometry, 3), params);
    double unit_off = 0, unit_diag = 0, random_off = 0;
    for (int site = 0; site < geometry.volume(); ++site) {
        const double* a = unit.data() + static_cast<std::size_t>(site) * kCloverReals;
        const double* b = random.data() + static_cast<std::size_t>(site) * kCloverReals;
        for (int k = 0; k < 12; ++k) unit_diag = std::max(unit_diag, std::abs(a[k] - 4.25));
        for (int k = 12; k < kCloverReals; ++k) {
            unit_off = std::max(unit_off, std::abs(a[k]));
            random_off = std::max(random_off, std::abs(b[k]));
        }
    }
    EXPECT_LT(unit_diag, 1e-14);
    EXPECT_LT(unit_off, 1e-14);
    EXPECT_GT(random_off, 0.1) << "a random field must give a non-trivial clover term";
}

/// Complex 3x3 helpers on the stored types for the gauge transformation.
Su3<double> mul_dag(const Su3<double>& a, const Su3<double>& b, bool dagger_b) {
    Su3<double> out{};
    for (int i = 0; i < 3; ++i) {
        for (int j = 0; j < 3; ++j) {
            Cx sum = 0;
            for (int k = 0; k < 3; ++k) {
                Cx x(a.c[i][k].re, a.c[i][k].im);
                Cx y = dagger_b ? std::conj(Cx(b.c[j][k].re, b.c[j][k].im))
                                : Cx(b.c[k][j].re, b.c[k][j].im);
                sum += x * y;
            }
            out.c[i][j] = {sum.real(), sum.imag()};
        }
    }
    return out;
}

Spinor<double> rotate(const Su3<double>& g, const Spinor<double>& psi) {
    Spinor<double> out{};
    for (int s = 0; s < 4; ++s) {
        for (int i = 0; i < 3; ++i) {
            Cx sum = 0;
            for (int j = 0; j < 3; ++j) sum += Cx(g.c[i][j].re, g.c[i][j].im) * get(psi, s, j);
            set(out, s, i, sum);
        }
    }
    return out;
}

TEST(Dirac, GaugeCovariance) {
    Geometry geometry(kSmall, auto_grid(kSmall, world_size()), MPI_COMM_WORLD);
    DiracParams params{-0.2, 1.3, true};
    GaugeField<double> field = random_field(geometry, 11);
    GaugeField<double> transform = random_field(geometry, 12);  // g(x) = its link 0
    ExtendedGauge g(geometry, transform);

    GaugeField<double> rotated = field;
    SpinorField<double> psi, g_psi(geometry.volume());
    random_spinor(geometry, 13, psi);
    for (int site = 0; site < geometry.volume(); ++site) {
        std::array<int, 4> x = geometry.local_coords(site);
        for (int mu = 0; mu < 4; ++mu) {
            std::array<int, 4> y = x;
            ++y[mu];
            rotated.link(site, mu) =
                mul_dag(mul_dag(g.link(x, 0), field.link(site, mu), false), g.link(y, 0), true);
        }
        g_psi[site] = rotate(g.link(x, 0), psi[site]);
    }

    for (Isa isa : kernels()) {
        DiracOperator<double> op(geometry, field, params, isa);
        DiracOperator<double> op_rotated(geometry, rotated, params, isa);
        SpinorField<double> d_psi, lhs, rhs(geometry.volume());
        op.apply(psi, d_psi);
        op_rotated.apply(g_psi, lhs);
        for (int site = 0; site < geometry.volume(); ++site) {
            rhs[site] = rotate(g.link(geometry.local_coords(site), 0), d_psi[site]);
        }
        EXPECT_LT(world_max_difference(lhs, rhs), 1e-12) << isa_name(isa);
    }
}

TEST(Dirac, Gamma5Hermiticity) {
    Geometry geometry(kSmall, auto_grid(kSmall, world_size()), MPI_COMM_WORLD);
    DiracParams params{0.05, 1.4, true};
    GaugeField<double> field = random_field(geometry, 21);
    SpinorField<double> phi, psi, d_psi, d_dagger_phi;
    random_spinor(geometry, 22, phi);
    random_spinor(geometry, 23, psi);
    for (Isa isa : kernels()) {
        DiracOperator<double> op(geometry, field, params, isa);
        op.apply(psi, d_psi);
        op.apply_dagger(phi, d_dagger_phi);  // gamma5 Dw gamma5 phi
        std::complex<double> left = global_dot(geometry.comm(), phi, d_psi);
        std::complex<double> right = global_dot(geometry.comm(), d_dagger_phi, psi);
        EXPECT_LT(std::abs(left - right), 1e-12 * std::abs(left)) << isa_name(isa);
        EXPECT_GT(std::abs(left), 1.0) << "the overlap must not vanish trivially";
    }
}

TEST(Dirac, DecompositionIndependence) {
    DiracParams params{-0.1, 1.1, true};
    auto whole = whole_lattice(kLarger);
    SpinorField<double> psi_whole, reference;
    random_spinor(*whole, 31, psi_whole);
    DiracOperator<double> op_whole(*whole, random_field(*whole, 32), params, Isa::scalar);
    op_whole.apply(psi_whole, reference);

    for (const Dims& grid : valid_grids(kLarger, 3)) {
        Geometry geometry(kLarger, grid, MPI_COMM_WORLD);
        GaugeField<double> field = random_field(geometry, 32);
        SpinorField<double> psi, out;
        random_spinor(geometry, 31, psi);
        for (Isa isa : kernels()) {
            DiracOperator<double> op(geometry, field, params, isa);
            op.apply(psi, out);
            op.apply(psi, out);
            EXPECT_LT(max_relative_difference(geometry, out, reference), 1e-12)
                << "grid " << grid.str() << ", " << isa_name(isa);

            double bytes = 0;
            for (int mu = 0; mu < 4; ++mu) {
                if (geometry.split(mu)) bytes += 2.0 * geometry.face_volume(mu) * 12 * 8;
            }
            EXPECT_EQ(op.halo_stats().bytes_sent, 2 * bytes) << "grid " << grid.str();
            EXPECT_EQ(op.halo_stats().exchanges, geometry.size() > 1 ? 2 : 0);
        }
    }
}

TEST(Dirac, VectorKernelMatchesPortable) {
    if (!isa_supported(Isa::avx2)) GTEST_SKIP() << "this CPU has no AVX2+FMA";
    Geometry geometry(kSmall, auto_grid(kSmall, world_size()), MPI_COMM_WORLD);
    GaugeField<double> field = random_field(geometry, 41);
    SpinorField<double> psi;
    random_spinor(geometry, 42, psi);
    SpinorField<float> psi_single;
    convert_spinor(psi, psi_single);
    for (double csw : {0.0, 1.2}) {
        DiracParams params{0.1, csw, false};
        SpinorField<double> a, b;
        DiracOperator<double>(geometry, field, params, Isa::scalar).apply(psi, a);
        DiracOperator<double>(geometry, field, params, Isa::avx2).apply(psi, b);
        EXPECT_LT(world_max_difference(a, b), 1e-13) << "double, csw " << csw;

        SpinorField<float> c, d;
        DiracOperator<float>(geometry, field, params, Isa::scalar).apply(psi_single, c);
        DiracOperator<float>(geometry, field, params, Isa::avx2).apply(psi_single, d);
        double local = max_abs_difference(c, d), worst = 0;
        MPI_Allreduce(&local, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        EXPECT_LT(worst, 1e-5) << "single, csw " << csw;
    }
}

TEST(Dirac, SingleMatchesDouble) {
    Geometry geometry(kSmall, auto_grid(kSmall, world_size()), MPI_COMM_WORLD);
    DiracParams params{0.1, 1.0, true};
    GaugeField<double> field = random_field(geometry, 51);
    SpinorField<double> psi, out, widened;
    random_spinor(geometry, 52, psi);
    SpinorField<float> psi_single, out_single;
    convert_spinor(psi, psi_single);
    for (Isa isa : kernels()) {
        DiracOperator<double>(geometry, field, params, isa).apply(psi, out);
        DiracOperator<float>(geometry, field, params, isa).apply(psi_single, out_single);
        convert_spinor(out_single, widened);
        EXPECT_LT(world_max_difference(out, widened), 1e-5) << isa_name(isa);
        EXPECT_GT(world_max_difference(out, widened), 0) << "single must differ from double";
    }
}

}  // namespace
}  // namespace ukrun::test
