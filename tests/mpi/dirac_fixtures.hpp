// Shared set-up of the Dirac operator and CG tests: process grids, random fields, and the
// whole-lattice reference on MPI_COMM_SELF that each rank compares its own part against.
#pragma once

#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "ukrun/lattice/dirac_op.hpp"

namespace ukrun::test {

using namespace ukrun::lattice;

/// Ranks in MPI_COMM_WORLD.
inline int world_size() {
    int size = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    return size;
}

/// Every valid process grid for world_size() ranks on `global`, at most `limit` of them,
/// auto_grid's choice first.
inline std::vector<Dims> valid_grids(const Dims& global, std::size_t limit) {
    const int ranks = world_size();
    std::vector<Dims> grids{auto_grid(global, ranks)};
    for (int p0 = 1; p0 <= ranks; ++p0) {
        for (int p1 = 1; p0 * p1 <= ranks; ++p1) {
            for (int p2 = 1; p0 * p1 * p2 <= ranks; ++p2) {
                if (ranks % (p0 * p1 * p2) != 0) continue;
                Dims grid{{p0, p1, p2, ranks / (p0 * p1 * p2)}};
                if (!decomposition_error(global, grid, ranks).empty()) continue;
                if (grid == grids.front() || grids.size() >= limit) continue;
                grids.push_back(grid);
            }
        }
    }
    return grids;
}

/// A random gauge field keyed by `seed` (the same global field on every grid).
inline GaugeField<double> random_field(const Geometry& geometry, std::uint64_t seed) {
    GaugeSource source;
    source.kind = GaugeSource::Kind::random;
    source.seed = seed;
    return make_gauge_field(geometry, source);
}

/// The unit gauge field.
inline GaugeField<double> unit_field(const Geometry& geometry) {
    return make_gauge_field(geometry, GaugeSource{});
}

/// The whole lattice on this rank alone: a reference independent of the decomposition.
inline std::unique_ptr<Geometry> whole_lattice(const Dims& global) {
    return std::make_unique<Geometry>(global, Dims{{1, 1, 1, 1}}, MPI_COMM_SELF);
}

/// Largest |part(site) - whole(global index of site)| over this rank's sites, relative to the
/// largest |whole| component; reduced with MPI_MAX over the world.
template <typename T>
double max_relative_difference(const Geometry& geometry, const SpinorField<T>& part,
                               const SpinorField<T>& whole) {
    double diff = 0, scale = 0;
    for (int site = 0; site < geometry.volume(); ++site) {
        const T* a = reinterpret_cast<const T*>(&part[static_cast<std::size_t>(site)]);
        const T* b = reinterpret_cast<const T*>(
            &whole[static_cast<std::size_t>(geometry.global_index(site))]);
        for (int k = 0; k < 24; ++k) {
            diff = std::max(diff, std::abs(static_cast<double>(a[k]) - b[k]));
            scale = std::max(scale, std::abs(static_cast<double>(b[k])));
        }
    }
    double local = scale > 0 ? diff / scale : diff, global = 0;
    MPI_Allreduce(&local, &global, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return global;
}

}  // namespace ukrun::test
