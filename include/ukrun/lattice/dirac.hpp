// The O(a)-improved Wilson-Dirac operator (Wilson hopping term + Sheikholeslami-Wohlert
// clover term) with overlapped halo exchange, and the CG solve: the workload's main phase.
#pragma once

#include <string>

#include "ukrun/lattice/gauge.hpp"
#include "ukrun/lattice/isa.hpp"

namespace ukrun::lattice {

enum class Precision { single, dbl };

/// "single" or "double"; throws std::invalid_argument otherwise.
Precision parse_precision(const std::string& text);
std::string precision_name(Precision precision);

/// What the main phase does.
struct DiracOptions {
    Precision precision = Precision::dbl;
    double mass = 0.1;            ///< bare quark mass m0 (kappa = 1 / (2 m0 + 8))
    double csw = 1.0;             ///< clover coefficient; 0 gives plain Wilson
    bool antiperiodic_time = false;
    Isa isa = Isa::scalar;
    bool solve = false;           ///< run CG on Dw^dagger Dw
    double tol = 1e-8;            ///< relative residual |b - A x| / |b|
    int max_iterations = 10000;
    bool mixed = false;           ///< single-precision inner solves with double corrections
    int repetitions = 0;          ///< Dw applications timed; 0 chooses about one second
};

/// What the main phase measured. Collective results: identical on every rank.
struct DiracReport {
    double us_per_site = 0;       ///< microseconds per local site per Dw application
    double gflops = 0;            ///< per rank, 1920 (clover) or 1320 flops per site
    double halo_ms = 0;           ///< time spent waiting for the halo per application
    double halo_bytes = 0;        ///< bytes sent per rank per application
    int applications = 0;
    int cg_iterations = -1;       ///< -1 when not solved
    double cg_residual = -1;      ///< true relative residual recomputed at the end
    double cg_seconds = 0;
    bool cg_converged = false;
};

/// Times Dw on a Random123 source and, with options.solve, solves Dw^dagger Dw x = b.
/// Collective over geometry.comm().
DiracReport run_dirac(const Geometry& geometry, const GaugeField<double>& field,
                      const DiracOptions& options);

}  // namespace ukrun::lattice
