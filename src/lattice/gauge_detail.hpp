// Internals shared by gauge.cpp and milc.cpp: collective error agreement and the MILC reader.
#pragma once

#include <mpi.h>

#include <string>

#include "ukrun/lattice/gauge.hpp"

namespace ukrun::lattice::detail {

/// Like first_error, but throws std::runtime_error with the message on every rank.
void throw_if_any(MPI_Comm comm, const std::string& error);

/// Reads this rank's sites of a MILC v5 file into `field` (already sized). Collective; throws
/// std::runtime_error on every rank naming the file when any rank fails or the checksums
/// differ (unless source.ignore_checksum, then rank 0 warns on stderr).
void read_milc(const Geometry& geometry, const GaugeSource& source, GaugeField<double>& field,
               MilcInfo* info);

}  // namespace ukrun::lattice::detail
