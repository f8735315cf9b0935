// The `ukrun-lattice bench` programs: su3 (openQCD su3fcts time1/2/3), dirac, pingpong.
#pragma once

#include <nlohmann/json.hpp>

#include <iosfwd>

#include "ukrun/lattice/dirac.hpp"
#include "ukrun/lattice/isa.hpp"

namespace ukrun::lattice {

/// SU(3) kernel timings in cache, in the given ISA: prints a table to `out` (ns per call,
/// Mflops at 66 / 198 flops per call, max |vector - scalar|) and returns the same figures.
/// `seconds` is the target time per kernel.
nlohmann::json bench_su3(Isa isa, double seconds, std::ostream& out);

/// Dw per lattice point in single and double with a working set larger than the last-level
/// cache, plus halo time and bytes per application. Collective; rank 0 prints.
nlohmann::json bench_dirac(const Geometry& geometry, const GaugeField<double>& field,
                           const DiracOptions& options, std::ostream& out);

/// OSU-style ping-pong between ranks 0 and 1 from 8 B to 4 MiB: latency (us) and bandwidth
/// (MB/s). Collective over `comm`; needs at least 2 ranks; rank 0 prints.
nlohmann::json bench_pingpong(MPI_Comm comm, std::ostream& out);

}  // namespace ukrun::lattice
