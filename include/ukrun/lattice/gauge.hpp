// The SU(3) gauge field on one rank's local sites: unit, random (Random123 Philox keyed by
// global site and direction, so the field does not depend on the decomposition) or read from
// a MILC v5 binary file; and the observables computed from it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ukrun/lattice/geometry.hpp"
#include "ukrun/lattice/su3.hpp"

namespace ukrun::lattice {

/// Links U_mu(x) of the local sites, stored site-major: link(site, mu) = links[4 * site + mu].
/// U_mu(x) connects x to x + mu.
template <typename T>
struct GaugeField {
    std::vector<Su3<T>> links;
    Su3<T>& link(int site, int mu) { return links[4 * static_cast<std::size_t>(site) + mu]; }
    const Su3<T>& link(int site, int mu) const {
        return links[4 * static_cast<std::size_t>(site) + mu];
    }
};

/// Where a gauge field comes from, parsed from --gauge unit|random:SEED|milc:PATH.
struct GaugeSource {
    enum class Kind { unit, random, milc } kind = Kind::unit;
    std::uint64_t seed = 0;
    std::string path;
    bool ignore_checksum = false;
    std::string str() const;  ///< the --gauge text
};

/// Throws std::invalid_argument naming the text and the accepted forms.
GaugeSource parse_gauge_source(const std::string& text);

/// Facts read from a MILC file's header and checked.
struct MilcInfo {
    Dims dims;                       ///< in ukrun order (t, x, y, z)
    bool byte_swapped = false;
    std::uint32_t sum29 = 0, sum31 = 0;  ///< from the header
    std::uint32_t computed_sum29 = 0, computed_sum31 = 0;
    std::string time_stamp;
};

/// Fills the local links of `geometry` in double precision. Collective over
/// geometry.comm(). MILC errors (missing file, bad magic, truncation, dimension or checksum
/// mismatch) are detected on every rank consistently and thrown as std::runtime_error naming
/// the file and the values; the caller turns that into one message from rank 0 and a
/// non-zero exit of every rank.
GaugeField<double> make_gauge_field(const Geometry& geometry, const GaugeSource& source,
                                    MilcInfo* milc_info = nullptr);

/// Writes the field as a MILC v5 binary file (native byte order, correct checksums). Collective.
void write_milc(const Geometry& geometry, const GaugeField<double>& field,
                const std::string& path);

/// Converts a field to single precision.
GaugeField<float> to_single(const GaugeField<double>& field);

/// Links on the local sites plus a halo of depth 1 in every direction, edges and corners
/// included, copied from the neighbour ranks (or wrapped periodically on one rank). Local
/// coordinates run over [-1, l_mu]. Used by the plaquette and the clover term. Collective.
class ExtendedGauge {
public:
    ExtendedGauge(const Geometry& geometry, const GaugeField<double>& field);
    /// U_mu(x) for x with every x[nu] in [-1, l_nu].
    const Su3<double>& link(const std::array<int, 4>& x, int mu) const;

private:
    Dims ext_;  ///< l_mu + 2
    std::vector<Su3<double>> links_;
};

/// Average plaquette, normalised so the unit field gives 1. Collective.
struct Plaquette {
    double total = 0, space_space = 0, space_time = 0;
};
Plaquette plaquette(const Geometry& geometry, const GaugeField<double>& field);

/// Average of Re tr U_mu(x) / 3 over all links. Collective.
double average_link_trace(const Geometry& geometry, const GaugeField<double>& field);

}  // namespace ukrun::lattice
