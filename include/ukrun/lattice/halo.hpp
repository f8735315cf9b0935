// The halo exchange of the Dirac operator: spin-projected half spinors sent to the forward and
// backward neighbour in every split direction with non-blocking MPI, so interior sites can be
// computed while the messages fly. Directions with one rank wrap locally and send nothing.
#pragma once

#include <mpi.h>

#include <array>
#include <vector>

#include "ukrun/lattice/geometry.hpp"
#include "ukrun/lattice/su3.hpp"

namespace ukrun::lattice {

/// What the exchange cost, accumulated over applications.
struct HaloStats {
    double wait_seconds = 0;  ///< time blocked in MPI_Waitall
    double bytes_sent = 0;    ///< payload bytes sent by this rank
    long exchanges = 0;       ///< completed exchanges
};

/// Buffers and requests for one field's exchange. Face sites are listed in increasing local
/// index, which orders the other three coordinates the same way on both sides of a face.
template <typename T>
class HaloExchange {
  public:
    explicit HaloExchange(const Geometry& geometry);
    HaloExchange(const HaloExchange&) = delete;
    HaloExchange& operator=(const HaloExchange&) = delete;

    /// True when some direction is split over ranks.
    bool active() const { return !split_.empty(); }

    /// Split directions, in increasing order.
    const std::vector<int>& split_directions() const { return split_; }

    /// Local sites with x_mu = 0 (dir < 0) or x_mu = l_mu - 1 (dir > 0); empty if mu unsplit.
    const std::vector<int>& face(int mu, int dir) const { return face_[slot(mu, dir)]; }

    /// Where to pack the half spinors sent to the neighbour (mu, dir), face(mu, dir) order.
    HalfSpinor<T>* send_buffer(int mu, int dir) { return send_.data() + offset_[slot(mu, dir)]; }

    /// Index in received() of the first half spinor that came from the neighbour (mu, dir).
    int recv_offset(int mu, int dir) const { return offset_[slot(mu, dir)]; }

    /// All received half spinors.
    const HalfSpinor<T>* received() const { return recv_.data(); }

    /// Posts every MPI_Irecv; call before packing.
    void post_receives() { post(false); }

    /// Posts every MPI_Isend of the packed buffers.
    void post_sends() { post(true); }

    /// Lets MPI advance the transfers (MPI_Testall) between chunks of interior work: Open MPI
    /// moves large (rendezvous) messages only inside MPI calls.
    void progress();

    /// Waits for all messages (timed into stats()).
    void wait();

    /// Wait time, bytes and exchanges since construction or the last reset_stats().
    const HaloStats& stats() const { return stats_; }
    /// Zeroes stats().
    void reset_stats() { stats_ = HaloStats{}; }

  private:
    static int slot(int mu, int dir) { return 2 * mu + (dir > 0 ? 1 : 0); }
    void post(bool send);

    const Geometry& geometry_;
    std::vector<int> split_;
    std::array<std::vector<int>, 8> face_;
    std::array<int, 8> offset_{};
    std::vector<HalfSpinor<T>> send_, recv_;
    std::vector<MPI_Request> requests_;
    HaloStats stats_;
};

}  // namespace ukrun::lattice
