// The Dirac operator's set-up and its overlapped application (see dirac_op.hpp).
#include "ukrun/lattice/dirac_op.hpp"

#include <algorithm>

#include "dirac_spin.hpp"

namespace ukrun::lattice {

template <typename T>
DiracOperator<T>::DiracOperator(const Geometry& geometry, const GaugeField<double>& field,
                                const DiracParams& params, Isa isa)
    : geometry_(geometry), params_(params), isa_(Isa::scalar), halo_(geometry) {
    if (isa != Isa::scalar && isa_supported(Isa::avx2)) isa_ = Isa::avx2;
    build_links(field);
    build_neighbors();
    if (params.csw != 0) {
        std::vector<double> clover = build_clover(geometry, field, params);
        clover_.assign(clover.begin(), clover.end());
    }
    scratch_.resize(static_cast<std::size_t>(geometry.volume()));
}

template <typename T>
void DiracOperator<T>::build_links(const GaugeField<double>& field) {
    const int volume = geometry_.volume();
    links_.resize(4 * static_cast<std::size_t>(volume));
    const int last_time = geometry_.global()[0] - 1;
    for (int site = 0; site < volume; ++site) {
        bool at_boundary = geometry_.origin()[0] + geometry_.local_coords(site)[0] == last_time;
        for (int mu = 0; mu < 4; ++mu) {
            T sign = (params_.antiperiodic_time && mu == 0 && at_boundary) ? T(-1) : T(1);
            const Su3<double>& u = field.link(site, mu);
            Su3<T>& v = links_[4 * static_cast<std::size_t>(site) + mu];
            for (int i = 0; i < 3; ++i) {
                for (int j = 0; j < 3; ++j) {
                    v.c[i][j] = {sign * static_cast<T>(u.c[i][j].re),
                                 sign * static_cast<T>(u.c[i][j].im)};
                }
            }
        }
    }
}

template <typename T>
void DiracOperator<T>::build_neighbors() {
    const Dims& local = geometry_.local();
    const int volume = geometry_.volume();
    neighbors_.assign(8 * static_cast<std::size_t>(volume), 0);

    // Position of each face site in its face list, per (mu, dir) slot.
    std::vector<int> position(8 * static_cast<std::size_t>(volume), -1);
    for (int mu : halo_.split_directions()) {
        for (int dir : {-1, 1}) {
            const std::vector<int>& face = halo_.face(mu, dir);
            for (std::size_t k = 0; k < face.size(); ++k) {
                position[8 * static_cast<std::size_t>(face[k]) + 2 * mu + (dir > 0)] =
                    static_cast<int>(k);
            }
        }
    }

    for (int site = 0; site < volume; ++site) {
        std::array<int, 4> x = geometry_.local_coords(site);
        bool boundary = false;
        for (int mu = 0; mu < 4; ++mu) {
            const bool split = geometry_.split(mu);
            for (int dir : {1, -1}) {
                const bool leaves = dir > 0 ? x[mu] == local[mu] - 1 : x[mu] == 0;
                int& entry = neighbors_[8 * static_cast<std::size_t>(site) + 2 * mu + (dir < 0)];
                if (split && leaves) {
                    int p = position[8 * static_cast<std::size_t>(site) + 2 * mu + (dir > 0)];
                    entry = -1 - (halo_.recv_offset(mu, dir) + p);
                    boundary = true;
                } else {
                    std::array<int, 4> y = x;
                    y[mu] = (x[mu] + dir + local[mu]) % local[mu];
                    entry = geometry_.index(y);
                }
            }
        }
        (boundary ? boundary_ : interior_).push_back(site);
    }
}

template <typename T>
void DiracOperator<T>::pack_faces(const SpinorField<T>& in) {
    using detail::project;
    for (int mu : halo_.split_directions()) {
        detail::FacePackArgs<T> args;
        args.in = in.data();
        args.links = links_.data();
        args.mu = mu;
        args.count = geometry_.face_volume(mu);
        args.lower = halo_.face(mu, -1).data();
        args.upper = halo_.face(mu, 1).data();
        args.down = halo_.send_buffer(mu, -1);  // its forward hop needs (1 - gamma_mu) psi
        args.up = halo_.send_buffer(mu, 1);     // its backward hop needs U^dagger (1 + gamma) psi
        if (isa_ == Isa::avx2) {
            detail::pack_faces_avx2(args);
            continue;
        }
        for (int k = 0; k < args.count; ++k) {
            args.down[k] = project(mu, T(1), in[args.lower[k]]);
            const int x = args.upper[k];
            args.up[k] = detail::su3_apply<true>(links_[4 * static_cast<std::size_t>(x) + mu],
                                                 project(mu, T(-1), in[x]));
        }
    }
}

template <typename T>
void DiracOperator<T>::run_sites(const detail::DiracKernelArgs<T>& args, const int* sites,
                                 int count) const {
    if (count <= 0) return;
    if (isa_ == Isa::avx2) {
        detail::dirac_sites_avx2(args, sites, count);
    } else {
        detail::dirac_sites_scalar(args, sites, count);
    }
}

template <typename T>
void DiracOperator<T>::apply(const SpinorField<T>& in, SpinorField<T>& out) {
    out.resize(in.size());
    detail::DiracKernelArgs<T> args;
    args.in = in.data();
    args.out = out.data();
    args.links = links_.data();
    args.clover = clover_.empty() ? nullptr : clover_.data();
    args.diagonal = static_cast<T>(4.0 + params_.mass);
    args.neighbors = neighbors_.data();
    args.halo = halo_.received();

    if (halo_.active()) {
        halo_.post_receives();
        pack_faces(in);
        halo_.post_sends();
    }
    if (halo_.active()) {
        // Interior sites in chunks, letting MPI progress the halo in between.
        constexpr int kChunks = 8;
        const int total = static_cast<int>(interior_.size());
        const int chunk = std::max(64, (total + kChunks - 1) / kChunks);
        for (int first = 0; first < total; first += chunk) {
            run_sites(args, interior_.data() + first, std::min(chunk, total - first));
            halo_.progress();
        }
        halo_.wait();
    } else {
        run_sites(args, interior_.data(), static_cast<int>(interior_.size()));
    }
    run_sites(args, boundary_.data(), static_cast<int>(boundary_.size()));
}

template <typename T>
void DiracOperator<T>::apply_dagger(const SpinorField<T>& in, SpinorField<T>& out) {
    apply_gamma5(in, scratch_);
    apply(scratch_, out);
    apply_gamma5(out, out);
}

template <typename T>
void DiracOperator<T>::apply_normal(const SpinorField<T>& in, SpinorField<T>& out) {
    apply(in, scratch_);
    apply_gamma5(scratch_, scratch_);
    apply(scratch_, out);
    apply_gamma5(out, out);
}

template class DiracOperator<float>;
template class DiracOperator<double>;

}  // namespace ukrun::lattice
