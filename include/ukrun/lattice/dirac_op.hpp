// The O(a)-improved Wilson-Dirac operator of openQCD on one rank's sites:
//   Dw psi(x) = (4 + m0) psi(x) + csw (i/4) sum_{mu,nu} sigma_{mu nu} F_{mu nu}(x) psi(x)
//             - 1/2 sum_mu [(1 - gamma_mu) U_mu(x) psi(x + mu)
//                           + (1 + gamma_mu) U_mu(x - mu)^dagger psi(x - mu)]
// in openQCD's chiral gamma basis, with F_{mu nu} from the clover-leaf average. The halo of
// half spinors is exchanged while the interior sites are computed.
#pragma once

#include <cstdio>
#include <exception>
#include <vector>

#include "ukrun/lattice/gauge.hpp"
#include "ukrun/lattice/halo.hpp"
#include "ukrun/lattice/isa.hpp"
#include "ukrun/lattice/spinor.hpp"

namespace ukrun::lattice {

/// The physics parameters of Dw.
struct DiracParams {
    double mass = 0.1;               ///< bare mass m0
    double csw = 1.0;                ///< clover coefficient; 0 gives plain Wilson
    bool antiperiodic_time = false;  ///< a -1 on the links crossing the global time boundary
};

/// Real numbers per site of the clover term: two hermitian 6x6 blocks (spin 0,1 and spin 2,3,
/// index 3 * spin + colour) stored interleaved: 6 pairs (d+_i, d-_i) of diagonals, then for
/// i < j in row-major order (re+, im+, re-, im-) of the upper triangle entries A_ij.
inline constexpr int kCloverReals = 72;

/// Builds the per-site clover blocks in double, (4 + m0) included on the diagonal.
/// Collective (it exchanges link halos through ExtendedGauge).
std::vector<double> build_clover(const Geometry& geometry, const GaugeField<double>& field,
                                 const DiracParams& params);

namespace detail {

/// Raw pointers the per-site kernels work on. A neighbour entry n >= 0 is a local site, n < 0
/// is the half spinor halo[-1 - n] (forward: projected, not multiplied; backward: projected
/// and multiplied by U^dagger on the sending rank).
template <typename T>
struct DiracKernelArgs {
    const Spinor<T>* in = nullptr;
    Spinor<T>* out = nullptr;
    const Su3<T>* links = nullptr;   ///< 4 per site, boundary phases applied
    const T* clover = nullptr;       ///< kCloverReals per site, or null for plain Wilson
    T diagonal = 0;                  ///< 4 + m0, used when clover is null
    const int* neighbors = nullptr;  ///< 8 per site: (mu forward, mu backward) for mu = 0..3
    const HalfSpinor<T>* halo = nullptr;
};

/// One direction's send buffers: (1 - gamma_mu) psi of the `lower` face sites (x_mu = 0) into
/// `down`, U_mu(x)^dagger (1 + gamma_mu) psi(x) of the `upper` face sites into `up`.
template <typename T>
struct FacePackArgs {
    const Spinor<T>* in = nullptr;
    const Su3<T>* links = nullptr;
    int mu = 0;
    int count = 0;  ///< sites per face
    const int* lower = nullptr;
    const int* upper = nullptr;
    HalfSpinor<T>* down = nullptr;
    HalfSpinor<T>* up = nullptr;
};

/// Packs one direction's faces with AVX2 + FMA; call only when isa_supported(Isa::avx2).
template <typename T>
void pack_faces_avx2(const FacePackArgs<T>& args);

/// Computes out at `count` sites listed in `sites`: portable code.
template <typename T>
void dirac_sites_scalar(const DiracKernelArgs<T>& args, const int* sites, int count);

/// The same with AVX2 + FMA; call only when isa_supported(Isa::avx2).
template <typename T>
void dirac_sites_avx2(const DiracKernelArgs<T>& args, const int* sites, int count);

}  // namespace detail

/// Dw in precision T on the local sites of `geometry` (which must outlive it).
template <typename T>
class DiracOperator {
  public:
    /// Copies the links in precision T with the time boundary phase and precomputes the
    /// clover blocks (csw != 0) and the neighbour table. Collective. `isa` picks the kernel:
    /// avx2 and avx512 use the AVX2 kernel when the CPU has it, else the portable one.
    DiracOperator(const Geometry& geometry, const GaugeField<double>& field,
                  const DiracParams& params, Isa isa);
    DiracOperator(const DiracOperator&) = delete;
    DiracOperator& operator=(const DiracOperator&) = delete;

    /// out = Dw in (out resized; must not alias in). Collective.
    void apply(const SpinorField<T>& in, SpinorField<T>& out);

    /// out = Dw^dagger in = gamma5 Dw gamma5 in. Collective.
    void apply_dagger(const SpinorField<T>& in, SpinorField<T>& out);

    /// out = Dw^dagger Dw in, using the operator's scratch field. Collective.
    void apply_normal(const SpinorField<T>& in, SpinorField<T>& out);

    /// Flops per site per application as openQCD counts them: 1920 with clover, 1320 without.
    double flops_per_site() const { return clover_.empty() ? 1320.0 : 1920.0; }

    /// The kernel actually used (scalar or avx2).
    Isa isa() const { return isa_; }

    /// The lattice the operator acts on.
    const Geometry& geometry() const { return geometry_; }
    /// Mass, clover coefficient and time boundary condition.
    const DiracParams& params() const { return params_; }

    /// Halo wait time and bytes, summed over applications since the last reset.
    const HaloStats& halo_stats() const { return halo_.stats(); }
    /// Zeroes halo_stats().
    void reset_halo_stats() { halo_.reset_stats(); }

  private:
    /// links_ in precision T with the antiperiodic sign on the last time slice.
    void build_links(const GaugeField<double>& field);
    /// neighbors_ (local index or halo slot) and the interior / boundary site lists.
    void build_neighbors();
    /// Projects (and for the backward hop multiplies) the face spinors into the send buffers.
    void pack_faces(const SpinorField<T>& in);
    /// The chosen kernel on `count` sites.
    void run_sites(const detail::DiracKernelArgs<T>& args, const int* sites, int count) const;

    const Geometry& geometry_;
    DiracParams params_;
    Isa isa_;
    std::vector<Su3<T>> links_;
    std::vector<T> clover_;
    std::vector<int> neighbors_;
    std::vector<int> interior_, boundary_;
    HaloExchange<T> halo_;
    SpinorField<T> scratch_;
};

/// Per-application cost of Dw: the maxima over ranks, so identical on every rank.
struct DiracTiming {
    int applications = 0;
    double seconds = 0;           ///< wall time of all applications
    double us_per_site = 0;       ///< microseconds per local site per application
    double cpu_us_per_site = -1;  ///< the same in this thread's CPU time; -1 if unavailable
    double gflops = 0;            ///< per rank, at flops_per_site()
    double halo_ms = 0;           ///< time blocked waiting for the halo per application
    double halo_bytes = 0;        ///< bytes sent per rank per application
};

/// Applies `op` to in[k % n] into out[k % n], k = 0..repetitions-1; repetitions = 0 picks
/// about `target_seconds` from a trial on rank 0 (broadcast). `out` is resized like `in`,
/// which must not be empty. Collective.
template <typename T>
DiracTiming time_dirac(DiracOperator<T>& op, const std::vector<SpinorField<T>>& in,
                       std::vector<SpinorField<T>>& out, int repetitions, double target_seconds);

/// Returns f(); an exception from it becomes one line on stderr naming the rank and `what`,
/// then MPI_Abort of the geometry's communicator, so no exception crosses MPI calls.
template <typename F>
auto or_abort(const Geometry& geometry, const char* what, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const std::exception& error) {
        std::fprintf(stderr, "ukrun-lattice: rank %d: %s failed: %s\n", geometry.rank(), what,
                     error.what());
        MPI_Abort(geometry.comm(), 1);
    }
    return decltype(f()){};
}

}  // namespace ukrun::lattice
