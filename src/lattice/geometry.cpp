// The 4D lattice split over a periodic Cartesian MPI grid: parsing, validation, the automatic
// grid, and one rank's view (neighbours, origin, global site numbering).
#include "ukrun/lattice/geometry.hpp"

#include <charconv>
#include <limits>
#include <stdexcept>

namespace ukrun::lattice {

namespace {

/// Halo surface (sites sent per rank per exchange, both directions) of a valid grid.
std::int64_t halo_surface(const Dims& global, const Dims& grid) {
    std::int64_t local_volume = 1;
    for (int mu = 0; mu < 4; ++mu) local_volume *= global[mu] / grid[mu];
    std::int64_t surface = 0;
    for (int mu = 0; mu < 4; ++mu) {
        if (grid[mu] > 1) surface += 2 * local_volume / (global[mu] / grid[mu]);
    }
    return surface;
}

/// Tries every factorisation of the remaining ranks over directions mu..3; keeps the valid
/// one with the least surface (the first found on ties).
void search_grids(const Dims& global, int total, int ranks, int mu, Dims& grid, Dims& best,
                  std::int64_t& best_surface) {
    if (mu == 3) {
        grid.n[3] = ranks;
        if (!decomposition_error(global, grid, total).empty()) return;
        std::int64_t surface = halo_surface(global, grid);
        if (surface < best_surface) {
            best_surface = surface;
            best = grid;
        }
        return;
    }
    for (int p = 1; p <= ranks; ++p) {
        if (ranks % p != 0) continue;
        grid.n[mu] = p;
        search_grids(global, total, ranks / p, mu + 1, grid, best, best_surface);
    }
}

}  // namespace

std::int64_t Dims::volume() const {
    return static_cast<std::int64_t>(n[0]) * n[1] * n[2] * n[3];
}

std::string Dims::str() const {
    return std::to_string(n[0]) + "x" + std::to_string(n[1]) + "x" + std::to_string(n[2]) + "x" +
           std::to_string(n[3]);
}

Dims parse_dims(std::string_view text, std::string_view what) {
    auto fail = [&](const std::string& why) {
        throw std::invalid_argument(std::string(what) + " '" + std::string(text) + "': " + why +
                                    "; expected four positive integers like 8x8x8x16");
    };
    Dims dims;
    std::size_t pos = 0;
    for (int mu = 0; mu < 4; ++mu) {
        std::size_t end = text.find('x', pos);
        if (mu < 3 && end == std::string_view::npos) fail("fewer than four extents");
        if (mu == 3) end = text.size();
        std::string_view part = text.substr(pos, end - pos);
        int value = 0;
        auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
        if (part.empty() || ec != std::errc{} || ptr != part.data() + part.size()) {
            fail(std::string(1, '\'').append(part).append("' is not an integer"));
        }
        if (value <= 0) fail("extent " + std::to_string(value) + " is not positive");
        dims.n[mu] = value;
        pos = end + 1;
    }
    return dims;
}

std::string decomposition_error(const Dims& global, const Dims& grid, int ranks) {
    const std::string where = "--lattice " + global.str() + " on grid " + grid.str() + ": ";
    std::int64_t product = 1;
    for (int mu = 0; mu < 4; ++mu) {
        if (global[mu] <= 0) {
            return where + "extent " + std::to_string(global[mu]) + " in direction " +
                   std::to_string(mu) + " is not positive; every extent must be at least 2";
        }
        if (grid[mu] <= 0) {
            return where + "grid entry " + std::to_string(grid[mu]) + " in direction " +
                   std::to_string(mu) + " is not positive; use positive grid entries";
        }
        product *= grid[mu];
    }
    if (product != ranks) {
        return where + "the grid has " + std::to_string(product) + " ranks but the job has " +
               std::to_string(ranks) + "; choose a grid whose product is " + std::to_string(ranks) +
               " or --grid auto";
    }
    for (int mu = 0; mu < 4; ++mu) {
        const std::string ratio = std::to_string(global[mu]) + "/" + std::to_string(grid[mu]);
        const std::string p = std::string(1, 'P').append(std::to_string(mu));
        if (global[mu] % grid[mu] != 0) {
            return where + "local extent " + ratio + " in direction " + std::to_string(mu) +
                   " is not an integer; choose a grid whose " + p + " divides " +
                   std::to_string(global[mu]);
        }
        const int local = global[mu] / grid[mu];
        if (local % 2 != 0) {
            return where + "local extent " + ratio + " = " + std::to_string(local) +
                   " in direction " + std::to_string(mu) +
                   " is odd; local extents must be even, choose a grid whose " + p + " divides " +
                   std::to_string(global[mu] / 2);
        }
    }
    return {};
}

Dims auto_grid(const Dims& global, int ranks) {
    if (ranks <= 0) throw std::invalid_argument("auto grid: rank count must be positive");

    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (initialized && !finalized) {
        Dims grid;
        if (MPI_Dims_create(ranks, 4, grid.n.data()) == MPI_SUCCESS &&
            decomposition_error(global, grid, ranks).empty()) {
            return grid;
        }
    }

    Dims grid, best;
    std::int64_t best_surface = std::numeric_limits<std::int64_t>::max();
    search_grids(global, ranks, ranks, 0, grid, best, best_surface);
    if (best_surface == std::numeric_limits<std::int64_t>::max()) {
        throw std::invalid_argument("--lattice " + global.str() + " cannot be split over " +
                                    std::to_string(ranks) +
                                    " ranks with even local extents; choose another rank "
                                    "count or lattice");
    }
    return best;
}

std::string first_error(MPI_Comm comm, const std::string& error) {
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int mine = error.empty() ? size : rank, first = size;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);
    if (first == size) return {};

    int length = static_cast<int>(error.size());
    MPI_Bcast(&length, 1, MPI_INT, first, comm);
    std::string message = rank == first ? error : std::string(length, '\0');
    MPI_Bcast(message.data(), length, MPI_CHAR, first, comm);
    return message;
}

Geometry::Geometry(const Dims& global, const Dims& grid, MPI_Comm comm)
    : global_(global), grid_(grid) {
    for (int mu = 0; mu < 4; ++mu) local_.n[mu] = global[mu] / grid[mu];
    volume_ = static_cast<int>(local_.volume());

    const std::array<int, 4> periods{1, 1, 1, 1};
    MPI_Cart_create(comm, 4, grid_.n.data(), periods.data(), 0, &cart_);
    MPI_Comm_rank(cart_, &rank_);
    MPI_Comm_size(cart_, &size_);
    MPI_Cart_coords(cart_, rank_, 4, coords_.data());
    for (int mu = 0; mu < 4; ++mu) {
        origin_[mu] = coords_[mu] * local_[mu];
        MPI_Cart_shift(cart_, mu, 1, &down_[mu], &up_[mu]);
    }
}

Geometry::~Geometry() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && cart_ != MPI_COMM_NULL) MPI_Comm_free(&cart_);
}

std::array<int, 4> Geometry::local_coords(int site) const {
    std::array<int, 4> x{};
    for (int mu = 3; mu >= 0; --mu) {
        x[mu] = site % local_[mu];
        site /= local_[mu];
    }
    return x;
}

std::int64_t Geometry::global_index(int site) const {
    const std::array<int, 4> x = local_coords(site);
    std::int64_t index = 0;
    for (int mu = 0; mu < 4; ++mu) index = index * global_[mu] + origin_[mu] + x[mu];
    return index;
}

}  // namespace ukrun::lattice
