// The 4D lattice and its split over a Cartesian MPI process grid. Direction 0 is time,
// 1..3 are space (openQCD's convention); --lattice L0xL1xL2xL3 and --grid P0xP1xP2xP3.
#pragma once

#include <mpi.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace ukrun::lattice {

/// Four extents, direction 0 (time) first.
struct Dims {
    std::array<int, 4> n{};
    std::int64_t volume() const;
    std::string str() const;  ///< "8x8x8x16"
    int operator[](int mu) const { return n[mu]; }
    friend bool operator==(const Dims&, const Dims&) = default;
};

/// Parses "AxBxCxD" (positive integers). Throws std::invalid_argument naming `what`
/// (e.g. "--lattice") and the text.
Dims parse_dims(std::string_view text, std::string_view what);

/// Why `grid` cannot split `global` over `ranks` ranks (product mismatch, an extent not
/// divisible, a local extent odd or zero); empty when it can.
std::string decomposition_error(const Dims& global, const Dims& grid, int ranks);

/// A process grid for `ranks` ranks: MPI_Dims_create's choice when it is valid, else the
/// valid factorisation with the smallest halo surface. Throws std::invalid_argument when no
/// factorisation gives even local extents.
Dims auto_grid(const Dims& global, int ranks);

/// The error text of the lowest rank of `comm` whose `error` is non-empty, identical on every
/// rank; empty when no rank has one. Collective: lets all ranks fail together, never hang.
std::string first_error(MPI_Comm comm, const std::string& error);

/// One rank's view of the decomposed lattice. Local sites are numbered lexicographically
/// with direction 3 fastest: index = ((x0 * l1 + x1) * l2 + x2) * l3 + x3.
class Geometry {
public:
    /// Creates the periodic Cartesian communicator over `comm`. Call only after
    /// decomposition_error() returned empty on every rank.
    Geometry(const Dims& global, const Dims& grid, MPI_Comm comm);
    ~Geometry();
    Geometry(const Geometry&) = delete;
    Geometry& operator=(const Geometry&) = delete;

    const Dims& global() const { return global_; }
    const Dims& grid() const { return grid_; }
    const Dims& local() const { return local_; }
    MPI_Comm comm() const { return cart_; }  ///< the Cartesian communicator
    int rank() const { return rank_; }        ///< rank in comm()
    int size() const { return size_; }
    const std::array<int, 4>& coords() const { return coords_; }  ///< grid position
    const std::array<int, 4>& origin() const { return origin_; }  ///< global coords of site 0

    /// Local number of sites.
    int volume() const { return volume_; }

    /// Sites on the face orthogonal to mu (volume / l_mu).
    int face_volume(int mu) const { return volume_ / local_[mu]; }

    /// Rank of the neighbour in direction mu, forward (+1) or backward (-1).
    int neighbor_rank(int mu, int dir) const { return dir > 0 ? up_[mu] : down_[mu]; }

    /// Local index of local coordinates (each in [0, l_mu)).
    int index(const std::array<int, 4>& x) const {
        return ((x[0] * local_[1] + x[1]) * local_[2] + x[2]) * local_[3] + x[3];
    }

    /// Local coordinates of a local index.
    std::array<int, 4> local_coords(int site) const;

    /// Global lexicographic index (direction 3 fastest) of a local site: the key for
    /// decomposition-independent random fields.
    std::int64_t global_index(int site) const;

    /// True when the rank grid is split in direction mu (halo exchange needed).
    bool split(int mu) const { return grid_[mu] > 1; }

private:
    Dims global_, grid_, local_;
    MPI_Comm cart_ = MPI_COMM_NULL;
    int rank_ = 0, size_ = 1, volume_ = 0;
    std::array<int, 4> coords_{}, origin_{}, up_{}, down_{};
};

}  // namespace ukrun::lattice
