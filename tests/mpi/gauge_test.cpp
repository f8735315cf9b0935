// Gauge fields on 1-4 ranks: the random field, its halo and its plaquette do not depend on the
// decomposition (compared with a one-rank copy built on MPI_COMM_SELF), links are SU(3), and
// MILC files are read and written in parallel with consistent errors.
#include "ukrun/lattice/gauge.hpp"

#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <vector>

#include "test_paths.hpp"

namespace ukrun::lattice {
namespace {

namespace fs = std::filesystem;

/// A global lattice every rank count from 1 to 4 can split with even local extents.
const Dims kLattice{{4, 4, 6, 8}};

int world_size() {
    int size = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    return size;
}

/// Every valid process grid for the world's size (at most `limit`), auto_grid's choice first.
std::vector<Dims> grids(const Dims& global, std::size_t limit = 6) {
    const int ranks = world_size();
    std::vector<Dims> result{auto_grid(global, ranks)};
    for (int a = 1; a <= ranks; ++a) {
        for (int b = 1; a * b <= ranks; ++b) {
            for (int c = 1; a * b * c <= ranks; ++c) {
                const Dims grid{{a, b, c, ranks / (a * b * c)}};
                if (result.size() < limit && !(grid == result[0]) &&
                    decomposition_error(global, grid, ranks).empty()) {
                    result.push_back(grid);
                }
            }
        }
    }
    return result;
}

/// Global coordinates of a local (or halo) site, wrapped periodically.
std::array<int, 4> global_coords(const Geometry& geometry, std::array<int, 4> x) {
    for (int mu = 0; mu < 4; ++mu) {
        const int n = geometry.global()[mu];
        x[mu] = ((geometry.origin()[mu] + x[mu]) % n + n) % n;
    }
    return x;
}

bool same(const Su3<double>& a, const Su3<double>& b) {
    return std::memcmp(&a, &b, sizeof a) == 0;
}

/// The field on one rank holding the whole lattice: the reference.
struct Reference {
    Geometry geometry{kLattice, Dims{{1, 1, 1, 1}}, MPI_COMM_SELF};
    GaugeField<double> field = make_gauge_field(geometry, parse_gauge_source("random:2026"));
};

TEST(RandomGauge, LinksAndPlaquetteIndependentOfDecomposition) {
    const Reference ref;
    const Plaquette p_ref = plaquette(ref.geometry, ref.field);
    const double trace_ref = average_link_trace(ref.geometry, ref.field);
    EXPECT_LT(std::abs(p_ref.total), 0.1);  // a random field averages near zero

    for (const Dims& grid : grids(kLattice)) {
        SCOPED_TRACE("grid " + grid.str());
        Geometry geometry(kLattice, grid, MPI_COMM_WORLD);
        const auto field = make_gauge_field(geometry, parse_gauge_source("random:2026"));
        int mismatched = 0;
        for (int site = 0; site < geometry.volume(); ++site) {
            const int ref_site =
                ref.geometry.index(global_coords(geometry, geometry.local_coords(site)));
            for (int mu = 0; mu < 4; ++mu) {
                mismatched += !same(field.link(site, mu), ref.field.link(ref_site, mu));
            }
        }
        EXPECT_EQ(mismatched, 0);

        const Plaquette p = plaquette(geometry, field);
        EXPECT_NEAR(p.total, p_ref.total, 1e-12);
        EXPECT_NEAR(p.space_space, p_ref.space_space, 1e-12);
        EXPECT_NEAR(p.space_time, p_ref.space_time, 1e-12);
        EXPECT_NEAR(average_link_trace(geometry, field), trace_ref, 1e-12);
    }
}

TEST(RandomGauge, HaloHoldsTheNeighboursLinksIncludingCorners) {
    const Reference ref;
    for (const Dims& grid : grids(kLattice, 3)) {
        SCOPED_TRACE("grid " + grid.str());
        Geometry geometry(kLattice, grid, MPI_COMM_WORLD);
        const auto field = make_gauge_field(geometry, parse_gauge_source("random:2026"));
        const ExtendedGauge extended(geometry, field);
        const Dims& l = geometry.local();
        int mismatched = 0, checked = 0;
        std::array<int, 4> x{};
        for (x[0] = -1; x[0] <= l[0]; ++x[0]) {
            for (x[1] = -1; x[1] <= l[1]; ++x[1]) {
                for (x[2] = -1; x[2] <= l[2]; ++x[2]) {
                    for (x[3] = -1; x[3] <= l[3]; ++x[3]) {
                        const int ref_site = ref.geometry.index(global_coords(geometry, x));
                        for (int mu = 0; mu < 4; ++mu) {
                            mismatched += !same(extended.link(x, mu), ref.field.link(ref_site, mu));
                            ++checked;
                        }
                    }
                }
            }
        }
        EXPECT_EQ(mismatched, 0) << "of " << checked;
    }
}

TEST(RandomGauge, LinksAreUnitaryWithDeterminantOne) {
    Geometry geometry(kLattice, auto_grid(kLattice, world_size()), MPI_COMM_WORLD);
    const auto field = make_gauge_field(geometry, parse_gauge_source("random:99"));
    double worst_unitarity = 0, worst_det = 0;
    for (const Su3<double>& u : field.links) {
        for (int i = 0; i < 3; ++i) {
            for (int j = 0; j < 3; ++j) {  // (U U^dagger)_ij - delta_ij
                double re = i == j ? -1 : 0, im = 0;
                for (int k = 0; k < 3; ++k) {
                    re += u.c[i][k].re * u.c[j][k].re + u.c[i][k].im * u.c[j][k].im;
                    im += u.c[i][k].im * u.c[j][k].re - u.c[i][k].re * u.c[j][k].im;
                }
                worst_unitarity = std::max(worst_unitarity, std::hypot(re, im));
            }
        }
        double det_re = 0, det_im = 0;  // expansion along row 0
        for (int j = 0; j < 3; ++j) {
            const auto& a = u.c[1][(j + 1) % 3];
            const auto& b = u.c[2][(j + 2) % 3];
            const auto& c = u.c[1][(j + 2) % 3];
            const auto& d = u.c[2][(j + 1) % 3];
            const double minor_re = a.re * b.re - a.im * b.im - (c.re * d.re - c.im * d.im);
            const double minor_im = a.re * b.im + a.im * b.re - (c.re * d.im + c.im * d.re);
            det_re += u.c[0][j].re * minor_re - u.c[0][j].im * minor_im;
            det_im += u.c[0][j].re * minor_im + u.c[0][j].im * minor_re;
        }
        worst_det = std::max(worst_det, std::hypot(det_re - 1, det_im));
    }
    EXPECT_LT(worst_unitarity, 1e-14);
    EXPECT_LT(worst_det, 1e-14);
    // Not the unit field: a generator that returned 1 would pass the checks above.
    EXPECT_LT(average_link_trace(geometry, field), 0.1);
}

TEST(UnitGauge, PlaquetteAndTraceAreOne) {
    for (const Dims& grid : grids(kLattice)) {
        Geometry geometry(kLattice, grid, MPI_COMM_WORLD);
        const auto field = make_gauge_field(geometry, parse_gauge_source("unit"));
        const Plaquette p = plaquette(geometry, field);
        EXPECT_DOUBLE_EQ(p.total, 1.0) << grid.str();
        EXPECT_DOUBLE_EQ(p.space_space, 1.0) << grid.str();
        EXPECT_DOUBLE_EQ(p.space_time, 1.0) << grid.str();
        EXPECT_DOUBLE_EQ(average_link_trace(geometry, field), 1.0) << grid.str();
    }
}

TEST(MilcParallel, WriteThenReadOnOneRankGivesTheSameField) {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    int pid = getpid();
    MPI_Bcast(&pid, 1, MPI_INT, 0, MPI_COMM_WORLD);
    const fs::path path = fs::temp_directory_path() / ("ukrun-gauge-test-" + std::to_string(pid));

    Geometry geometry(kLattice, auto_grid(kLattice, world_size()), MPI_COMM_WORLD);
    const auto field = make_gauge_field(geometry, parse_gauge_source("random:2026"));
    write_milc(geometry, field, path.string());
    MilcInfo parallel_info;
    const auto parallel =
        make_gauge_field(geometry, parse_gauge_source("milc:" + path.string()), &parallel_info);
    const double p_parallel = plaquette(geometry, parallel).total;

    const Reference ref;
    MilcInfo serial_info;
    const auto serial =
        make_gauge_field(ref.geometry, parse_gauge_source("milc:" + path.string()), &serial_info);
    EXPECT_EQ(serial_info.computed_sum29, serial_info.sum29);
    EXPECT_EQ(serial_info.computed_sum31, serial_info.sum31);
    EXPECT_EQ(parallel_info.computed_sum29, serial_info.sum29);
    EXPECT_EQ(parallel_info.computed_sum31, serial_info.sum31);
    EXPECT_NEAR(plaquette(ref.geometry, serial).total, p_parallel, 1e-12);
    EXPECT_NEAR(p_parallel, plaquette(ref.geometry, ref.field).total, 1e-6);

    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) fs::remove(path);
}

TEST(MilcParallel, SampleReadOnEveryGridMatchesItsInfo) {
    if (test::shared_data().empty()) GTEST_SKIP() << "no ../shared/data: MILC samples absent";
    const Dims lattice{{8, 8, 8, 8}};
    if (world_size() == 3) GTEST_SKIP() << "8^4 cannot be split over 3 ranks";
    const std::string path = (test::shared_data() / "milc" / "lat.sample.l8888").string();
    for (const Dims& grid : grids(lattice, 3)) {
        Geometry geometry(lattice, grid, MPI_COMM_WORLD);
        const auto field = make_gauge_field(geometry, parse_gauge_source("milc:" + path));
        const Plaquette p = plaquette(geometry, field);
        EXPECT_NEAR(3 * p.space_space, 1.779002, 1e-6) << grid.str();
        EXPECT_NEAR(3 * p.space_time, 1.782359, 1e-6) << grid.str();
    }
}

TEST(MilcParallel, EveryRankThrowsTheSameMessage) {
    Geometry geometry(kLattice, auto_grid(kLattice, world_size()), MPI_COMM_WORLD);
    const std::string missing = "/nonexistent/ukrun/gauge.milc";
    std::string message;
    try {
        make_gauge_field(geometry, parse_gauge_source("milc:" + missing));
    } catch (const std::runtime_error& e) {
        message = e.what();
    }
    EXPECT_EQ(message.rfind(missing + ": cannot open MILC gauge file", 0), 0u) << message;

    int length = static_cast<int>(message.size()), min = 0, max = 0;
    MPI_Allreduce(&length, &min, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(&length, &max, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    EXPECT_EQ(min, max);
}

}  // namespace
}  // namespace ukrun::lattice
