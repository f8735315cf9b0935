// Non-blocking exchange of half-spinor faces between Cartesian neighbours (see halo.hpp).
#include "ukrun/lattice/halo.hpp"

namespace ukrun::lattice {

namespace {

/// Tag of a message travelling from its sender towards the sender's neighbour (mu, dir).
int message_tag(int mu, int dir) {
    return 2 * mu + (dir > 0 ? 1 : 0);
}

}  // namespace

template <typename T>
HaloExchange<T>::HaloExchange(const Geometry& geometry) : geometry_(geometry) {
    const Dims& local = geometry.local();
    int total = 0;
    for (int mu = 0; mu < 4; ++mu) {
        if (!geometry.split(mu)) continue;
        split_.push_back(mu);
        for (int dir : {-1, 1}) {
            offset_[slot(mu, dir)] = total;
            total += geometry.face_volume(mu);
        }
    }
    for (int site = 0; site < geometry.volume(); ++site) {
        std::array<int, 4> x = geometry.local_coords(site);
        for (int mu : split_) {
            if (x[mu] == 0) face_[slot(mu, -1)].push_back(site);
            if (x[mu] == local[mu] - 1) face_[slot(mu, 1)].push_back(site);
        }
    }
    send_.resize(static_cast<std::size_t>(total));
    recv_.resize(static_cast<std::size_t>(total));
    requests_.reserve(4 * split_.size());
}

template <typename T>
void HaloExchange<T>::post(bool send) {
    for (int mu : split_) {
        for (int dir : {-1, 1}) {
            const int count = geometry_.face_volume(mu) * static_cast<int>(sizeof(HalfSpinor<T>));
            const int peer = geometry_.neighbor_rank(mu, dir);
            requests_.emplace_back();
            if (send) {
                MPI_Isend(send_.data() + offset_[slot(mu, dir)], count, MPI_BYTE, peer,
                          message_tag(mu, dir), geometry_.comm(), &requests_.back());
                stats_.bytes_sent += count;
            } else {
                // The neighbour at (mu, dir) sends towards its own (mu, -dir).
                MPI_Irecv(recv_.data() + offset_[slot(mu, dir)], count, MPI_BYTE, peer,
                          message_tag(mu, -dir), geometry_.comm(), &requests_.back());
            }
        }
    }
}

template <typename T>
void HaloExchange<T>::progress() {
    int done = 0;
    MPI_Testall(static_cast<int>(requests_.size()), requests_.data(), &done, MPI_STATUSES_IGNORE);
}

template <typename T>
void HaloExchange<T>::wait() {
    double start = MPI_Wtime();
    MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE);
    stats_.wait_seconds += MPI_Wtime() - start;
    requests_.clear();
    ++stats_.exchanges;
}

template class HaloExchange<float>;
template class HaloExchange<double>;

}  // namespace ukrun::lattice
