// Conjugate gradient on Dw^dagger Dw: convergence with a true residual below tol in double,
// single and mixed precision, the same iteration count and solution on every process grid
// as on the whole lattice alone, run_dirac's report, and the MILC sample configuration.
#include "ukrun/lattice/cg.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "dirac_fixtures.hpp"
#include "test_paths.hpp"
#include "ukrun/lattice/dirac.hpp"

namespace ukrun::test {
namespace {

const Dims kLattice{{12, 4, 4, 8}};
const DiracParams kParams{0.05, 1.2, true};
constexpr std::uint64_t kGaugeSeed = 61, kSourceSeed = 62;

int rank() {
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

TEST(Cg, DoubleConvergesLikeTheWholeLattice) {
    constexpr double kTol = 1e-10;
    auto whole = whole_lattice(kLattice);
    DiracOperator<double> op_whole(*whole, random_field(*whole, kGaugeSeed), kParams, detect_isa());
    SpinorField<double> b_whole, x_whole;
    random_spinor(*whole, kSourceSeed, b_whole);
    CgResult reference = cg_solve(op_whole, b_whole, x_whole, kTol, 1000);
    ASSERT_TRUE(reference.converged);
    EXPECT_LT(reference.residual, kTol);
    EXPECT_GT(reference.iterations, 10) << "too easy a system to prove anything";

    for (const Dims& grid : valid_grids(kLattice, 2)) {
        Geometry geometry(kLattice, grid, MPI_COMM_WORLD);
        DiracOperator<double> op(geometry, random_field(geometry, kGaugeSeed), kParams,
                                 detect_isa());
        SpinorField<double> b, x;
        random_spinor(geometry, kSourceSeed, b);
        CgResult result = cg_solve(op, b, x, kTol, 1000);
        EXPECT_TRUE(result.converged) << "grid " << grid.str();
        EXPECT_LT(result.residual, kTol) << "grid " << grid.str();
        EXPECT_EQ(result.iterations, reference.iterations) << "grid " << grid.str();
        EXPECT_LT(max_relative_difference(geometry, x, x_whole), 1e-8) << "grid " << grid.str();
    }
}

TEST(Cg, SingleAndMixedPrecision) {
    Geometry geometry(kLattice, auto_grid(kLattice, world_size()), MPI_COMM_WORLD);
    GaugeField<double> field = random_field(geometry, kGaugeSeed);
    DiracOperator<double> op(geometry, field, kParams, detect_isa());
    DiracOperator<float> op_single(geometry, field, kParams, detect_isa());
    SpinorField<double> b, x_double, x_mixed;
    random_spinor(geometry, kSourceSeed, b);
    SpinorField<float> b_single, x_single;
    convert_spinor(b, b_single);

    CgResult single = cg_solve(op_single, b_single, x_single, 1e-5, 1000);
    EXPECT_TRUE(single.converged);
    EXPECT_LT(single.residual, 1e-5);

    CgResult dbl = cg_solve(op, b, x_double, 1e-11, 1000);
    CgResult mixed = cg_solve_mixed(op, op_single, b, x_mixed, 1e-11, 2000);
    EXPECT_TRUE(mixed.converged);
    EXPECT_LT(mixed.residual, 1e-11);
    EXPECT_GE(mixed.restarts, 2) << "single precision cannot reach 1e-11 in one pass";
    EXPECT_LT(mixed.iterations, 2 * dbl.iterations);
    double local = max_abs_difference(x_mixed, x_double), worst = 0;
    MPI_Allreduce(&local, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    EXPECT_LT(worst, 1e-8);
}

TEST(Cg, RunDiracReportsTimingAndSolve) {
    Geometry geometry(kLattice, auto_grid(kLattice, world_size()), MPI_COMM_WORLD);
    GaugeField<double> field = random_field(geometry, kGaugeSeed);
    DiracOptions options;
    options.mass = kParams.mass;
    options.csw = kParams.csw;
    options.antiperiodic_time = kParams.antiperiodic_time;
    options.isa = detect_isa();
    options.solve = true;
    options.tol = 1e-9;
    options.repetitions = 3;
    DiracReport report = run_dirac(geometry, field, options);
    EXPECT_EQ(report.applications, 3);
    EXPECT_GT(report.us_per_site, 0);
    EXPECT_GT(report.gflops, 0);
    EXPECT_TRUE(report.cg_converged);
    EXPECT_LT(report.cg_residual, 1e-9);
    EXPECT_GT(report.cg_seconds, 0);
    double expected_bytes = 0;
    for (int mu = 0; mu < 4; ++mu) {
        if (geometry.split(mu)) expected_bytes += 2.0 * geometry.face_volume(mu) * 96;
    }
    EXPECT_EQ(report.halo_bytes, expected_bytes);

    options.precision = Precision::single;
    options.mixed = true;
    DiracReport mixed = run_dirac(geometry, field, options);
    EXPECT_TRUE(mixed.cg_converged);
    EXPECT_LT(mixed.cg_residual, 1e-9);
    EXPECT_EQ(mixed.halo_bytes, expected_bytes / 2) << "single precision halves the halo";
}

// The MILC 8^4 quenched sample (beta 6.0) through run_dirac with ukrun-lattice's defaults:
// m0 = 0.1, csw = 1, periodic time, tol 1e-8, double: 115 iterations (true residual 1.0e-8)
// on 1, 2 and 4 ranks, as `ukrun-lattice --gauge milc:... --solve` prints.
TEST(Cg, ConvergesOnMilcSample) {
    const auto data = shared_data();
    if (data.empty()) GTEST_SKIP() << "../shared/data is absent: no MILC sample to solve on";
    const Dims global{{8, 8, 8, 8}};
    if (8 % world_size() != 0) {
        GTEST_SKIP() << "8^4 cannot be split over " << world_size() << " ranks (odd extents)";
    }
    Geometry geometry(global, auto_grid(global, world_size()), MPI_COMM_WORLD);
    GaugeSource source;
    source.kind = GaugeSource::Kind::milc;
    source.path = (data / "milc" / "lat.sample.l8888").string();
    GaugeField<double> field = make_gauge_field(geometry, source);

    DiracOptions options;
    options.isa = detect_isa();
    options.solve = true;
    options.repetitions = 1;
    DiracReport report = run_dirac(geometry, field, options);
    EXPECT_TRUE(report.cg_converged);
    EXPECT_LT(report.cg_residual, options.tol);
    EXPECT_NEAR(report.cg_iterations, 115, 8) << "115 iterations measured on 1, 2 and 4 ranks";
    if (rank() == 0) {
        std::printf("MILC 8^4 sample, m0 %g, csw %g: %d CG iterations, residual %.3g\n",
                    options.mass, options.csw, report.cg_iterations, report.cg_residual);
    }
}

}  // namespace
}  // namespace ukrun::test
