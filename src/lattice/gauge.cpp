// Gauge fields: the --gauge source, unit and random SU(3) fields (Random123 Philox, keyed by
// global site and direction), the halo-extended copy, and the plaquette and link trace.
#include "ukrun/lattice/gauge.hpp"

#include <Random123/philox.h>

#include <charconv>
#include <cmath>
#include <numbers>
#include <stdexcept>

#include "gauge_detail.hpp"

namespace ukrun::lattice {

namespace {

using Cplx = Complex<double>;

/// Complex product.
Cplx operator*(Cplx a, Cplx b) {
    return {a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re};
}
/// Complex conjugate.
Cplx conj(Cplx a) {
    return {a.re, -a.im};
}

/// a * b.
Su3<double> mul(const Su3<double>& a, const Su3<double>& b) {
    Su3<double> r{};
    for (int i = 0; i < 3; ++i) {
        for (int j = 0; j < 3; ++j) {
            for (int k = 0; k < 3; ++k) {
                const Cplx p = a.c[i][k] * b.c[k][j];
                r.c[i][j].re += p.re;
                r.c[i][j].im += p.im;
            }
        }
    }
    return r;
}

/// Re tr(a * b^dagger).
double re_trace_mul_dag(const Su3<double>& a, const Su3<double>& b) {
    double sum = 0;
    for (int i = 0; i < 3; ++i) {
        for (int k = 0; k < 3; ++k)
            sum += a.c[i][k].re * b.c[i][k].re + a.c[i][k].im * b.c[i][k].im;
    }
    return sum;
}

/// The 3x3 identity.
Su3<double> unit_matrix() {
    Su3<double> u{};
    for (int i = 0; i < 3; ++i) u.c[i][i].re = 1;
    return u;
}

/// Scales a complex 3-vector to unit norm.
void normalize(Cplx (&v)[3]) {
    double norm = 0;
    for (const Cplx& z : v) norm += z.re * z.re + z.im * z.im;
    const double scale = 1 / std::sqrt(norm);
    for (Cplx& z : v) z = {z.re * scale, z.im * scale};
}

/// A Haar-random SU(3) matrix from 12 Gaussian numbers: Gram-Schmidt on two complex rows,
/// third row the complex conjugate of their cross product (so det = 1).
Su3<double> su3_from_gaussians(const double (&g)[12]) {
    Su3<double> u{};
    for (int j = 0; j < 3; ++j) {
        u.c[0][j] = {g[2 * j], g[2 * j + 1]};
        u.c[1][j] = {g[6 + 2 * j], g[6 + 2 * j + 1]};
    }
    normalize(u.c[0]);

    Cplx overlap{0, 0};  // <row0, row1> = sum conj(row0) row1
    for (int j = 0; j < 3; ++j) {
        const Cplx p = conj(u.c[0][j]) * u.c[1][j];
        overlap.re += p.re;
        overlap.im += p.im;
    }
    for (int j = 0; j < 3; ++j) {
        const Cplx p = overlap * u.c[0][j];
        u.c[1][j].re -= p.re;
        u.c[1][j].im -= p.im;
    }
    normalize(u.c[1]);

    for (int j = 0; j < 3; ++j) {
        const int a = (j + 1) % 3, b = (j + 2) % 3;
        const Cplx p = u.c[0][a] * u.c[1][b];
        const Cplx q = u.c[0][b] * u.c[1][a];
        u.c[2][j] = conj(Cplx{p.re - q.re, p.im - q.im});
    }
    return u;
}

/// The random link U_mu(x) for global site index `site`: Philox4x32-10 keyed by the seed,
/// counter (site low, site high, mu, block), 32-bit uniforms turned Gaussian by Box-Muller.
Su3<double> random_link(std::uint64_t seed, std::int64_t site, int mu) {
    using Rng = r123::Philox4x32;
    const Rng::key_type key = {
        {static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)}};
    const auto site_bits = static_cast<std::uint64_t>(site);
    double gaussians[12];
    for (std::uint32_t block = 0; block < 3; ++block) {
        const Rng::ctr_type counter = {{static_cast<std::uint32_t>(site_bits),
                                        static_cast<std::uint32_t>(site_bits >> 32),
                                        static_cast<std::uint32_t>(mu), block}};
        const Rng::ctr_type bits = Rng{}(counter, key);
        for (int pair = 0; pair < 2; ++pair) {
            const double u1 = (bits.v[2 * pair] + 0.5) * 0x1p-32;  // in (0, 1)
            const double u2 = (bits.v[2 * pair + 1] + 0.5) * 0x1p-32;
            const double radius = std::sqrt(-2 * std::log(u1));
            const double angle = 2 * std::numbers::pi * u2;
            gaussians[4 * block + 2 * pair] = radius * std::cos(angle);
            gaussians[4 * block + 2 * pair + 1] = radius * std::sin(angle);
        }
    }
    return su3_from_gaussians(gaussians);
}

/// Global sum of `value` over `comm`.
double global_sum(double value, MPI_Comm comm) {
    double sum = 0;
    MPI_Allreduce(&value, &sum, 1, MPI_DOUBLE, MPI_SUM, comm);
    return sum;
}

}  // namespace

std::string GaugeSource::str() const {
    switch (kind) {
        case Kind::unit:
            return "unit";
        case Kind::random:
            return "random:" + std::to_string(seed);
        case Kind::milc:
            return "milc:" + path;
    }
    return {};
}

GaugeSource parse_gauge_source(const std::string& text) {
    const std::string accepted =
        "; expected unit, random:SEED (SEED a non-negative integer) or "
        "milc:PATH";
    GaugeSource source;
    if (text == "unit") return source;
    if (text.starts_with("random:")) {
        const std::string digits = text.substr(7);
        auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), source.seed);
        if (digits.empty() || ec != std::errc{} || ptr != digits.data() + digits.size()) {
            throw std::invalid_argument("--gauge '" + text + "': seed '" + digits +
                                        "' is not a non-negative 64-bit integer" + accepted);
        }
        source.kind = GaugeSource::Kind::random;
        return source;
    }
    if (text.starts_with("milc:")) {
        source.path = text.substr(5);
        if (source.path.empty()) {
            throw std::invalid_argument("--gauge '" + text + "': the file path is empty" +
                                        accepted);
        }
        source.kind = GaugeSource::Kind::milc;
        return source;
    }
    throw std::invalid_argument("--gauge '" + text + "' is not a gauge source" + accepted);
}

GaugeField<double> make_gauge_field(const Geometry& geometry, const GaugeSource& source,
                                    MilcInfo* milc_info) {
    GaugeField<double> field;
    field.links.resize(4 * static_cast<std::size_t>(geometry.volume()));
    switch (source.kind) {
        case GaugeSource::Kind::unit:
            std::fill(field.links.begin(), field.links.end(), unit_matrix());
            break;
        case GaugeSource::Kind::random:
            for (int site = 0; site < geometry.volume(); ++site) {
                const std::int64_t global = geometry.global_index(site);
                for (int mu = 0; mu < 4; ++mu) {
                    field.link(site, mu) = random_link(source.seed, global, mu);
                }
            }
            break;
        case GaugeSource::Kind::milc:
            detail::read_milc(geometry, source, field, milc_info);
            break;
    }
    return field;
}

GaugeField<float> to_single(const GaugeField<double>& field) {
    GaugeField<float> single;
    single.links.resize(field.links.size());
    for (std::size_t n = 0; n < field.links.size(); ++n) {
        for (int i = 0; i < 3; ++i) {
            for (int j = 0; j < 3; ++j) {
                single.links[n].c[i][j] = {static_cast<float>(field.links[n].c[i][j].re),
                                           static_cast<float>(field.links[n].c[i][j].im)};
            }
        }
    }
    return single;
}

// ---- ExtendedGauge ----

namespace {

/// Index of extended coordinates (each x[mu] in [-1, l_mu]) in a lattice of extents `ext`.
std::size_t extended_index(const Dims& ext, const std::array<int, 4>& x) {
    return ((static_cast<std::size_t>(x[0] + 1) * ext[1] + (x[1] + 1)) * ext[2] + (x[2] + 1)) *
               ext[3] +
           (x[3] + 1);
}

/// Calls f(x) for every extended site whose coordinate in direction mu is `layer`.
template <typename F>
void for_each_in_layer(const Dims& ext, int mu, int layer, F&& f) {
    const int count = static_cast<int>(ext.volume() / ext[mu]);
    for (int n = 0; n < count; ++n) {
        std::array<int, 4> x{};
        int rest = n;
        for (int nu = 3; nu >= 0; --nu) {
            if (nu == mu) continue;
            x[nu] = rest % ext[nu] - 1;
            rest /= ext[nu];
        }
        x[mu] = layer;
        f(x);
    }
}

}  // namespace

ExtendedGauge::ExtendedGauge(const Geometry& geometry, const GaugeField<double>& field) {
    const Dims& local = geometry.local();
    for (int mu = 0; mu < 4; ++mu) ext_.n[mu] = local[mu] + 2;
    links_.resize(4 * static_cast<std::size_t>(ext_.volume()));

    for (int site = 0; site < geometry.volume(); ++site) {
        const std::size_t e = extended_index(ext_, geometry.local_coords(site));
        for (int mu = 0; mu < 4; ++mu) links_[4 * e + mu] = field.link(site, mu);
    }

    // One direction after the other, each face spanning the full extended range of the other
    // directions, so edges and corners arrive through the earlier exchanges.
    for (int mu = 0; mu < 4; ++mu) {
        const int layer_links = static_cast<int>(4 * ext_.volume() / ext_[mu]);
        std::vector<Su3<double>> send(layer_links), recv(layer_links);
        const int bytes = layer_links * static_cast<int>(sizeof(Su3<double>));

        // dir +1: my last layer becomes the up neighbour's layer -1; dir -1: my first layer
        // becomes the down neighbour's layer l_mu.
        for (int dir : {+1, -1}) {
            const int from = dir > 0 ? local[mu] - 1 : 0;
            const int to = dir > 0 ? -1 : local[mu];
            std::size_t n = 0;
            for_each_in_layer(ext_, mu, from, [&](const std::array<int, 4>& x) {
                for (int nu = 0; nu < 4; ++nu) send[n++] = links_[4 * extended_index(ext_, x) + nu];
            });
            if (geometry.split(mu)) {
                MPI_Sendrecv(send.data(), bytes, MPI_BYTE, geometry.neighbor_rank(mu, dir), mu,
                             recv.data(), bytes, MPI_BYTE, geometry.neighbor_rank(mu, -dir), mu,
                             geometry.comm(), MPI_STATUS_IGNORE);
            } else {
                recv.swap(send);
            }
            n = 0;
            for_each_in_layer(ext_, mu, to, [&](const std::array<int, 4>& x) {
                for (int nu = 0; nu < 4; ++nu) links_[4 * extended_index(ext_, x) + nu] = recv[n++];
            });
        }
    }
}

const Su3<double>& ExtendedGauge::link(const std::array<int, 4>& x, int mu) const {
    return links_[4 * extended_index(ext_, x) + mu];
}

// ---- observables ----

Plaquette plaquette(const Geometry& geometry, const GaugeField<double>& field) {
    const ExtendedGauge gauge(geometry, field);
    double sums[2] = {0, 0};  // space-time, space-space
    for (int site = 0; site < geometry.volume(); ++site) {
        const std::array<int, 4> x = geometry.local_coords(site);
        for (int mu = 0; mu < 4; ++mu) {
            for (int nu = mu + 1; nu < 4; ++nu) {
                std::array<int, 4> x_mu = x, x_nu = x;
                ++x_mu[mu];
                ++x_nu[nu];
                // Re tr U_mu(x) U_nu(x+mu) U_mu(x+nu)^dagger U_nu(x)^dagger
                const Su3<double> forward = mul(gauge.link(x, mu), gauge.link(x_mu, nu));
                const Su3<double> backward = mul(gauge.link(x, nu), gauge.link(x_nu, mu));
                sums[mu == 0 ? 0 : 1] += re_trace_mul_dag(forward, backward);
            }
        }
    }

    double global[2] = {0, 0};
    MPI_Allreduce(sums, global, 2, MPI_DOUBLE, MPI_SUM, geometry.comm());
    const double planes = 3 * 3 * static_cast<double>(geometry.global().volume());
    Plaquette p;
    p.space_time = global[0] / planes;
    p.space_space = global[1] / planes;
    p.total = (p.space_time + p.space_space) / 2;
    return p;
}

double average_link_trace(const Geometry& geometry, const GaugeField<double>& field) {
    double sum = 0;
    for (const Su3<double>& u : field.links) sum += u.c[0][0].re + u.c[1][1].re + u.c[2][2].re;
    return global_sum(sum, geometry.comm()) /
           (3 * 4 * static_cast<double>(geometry.global().volume()));
}

namespace detail {

void throw_if_any(MPI_Comm comm, const std::string& error) {
    std::string message = first_error(comm, error);
    if (!message.empty()) throw std::runtime_error(message);
}

}  // namespace detail

}  // namespace ukrun::lattice
