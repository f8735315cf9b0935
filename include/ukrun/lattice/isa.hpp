// Instruction-set selection at run time: what the CPU and the OS allow, and what was asked.
#pragma once

#include <string>
#include <string_view>

namespace ukrun::lattice {

/// The vector instruction sets the kernels are built for, narrowest first.
enum class Isa { scalar, avx2, avx512 };

/// "scalar", "avx2" (AVX2 + FMA) or "avx512" (AVX-512 F/DQ/VL).
std::string_view isa_name(Isa isa);

/// The widest ISA that CPUID reports and XGETBV shows the OS saves state for.
Isa detect_isa();

/// True when `isa` can run on this CPU (scalar always can).
bool isa_supported(Isa isa);

/// Resolves `--isa auto|scalar|avx2|avx512`. Throws std::invalid_argument naming the value
/// and the choices for an unknown name, and std::runtime_error naming what the CPU lacks
/// when a forced ISA is not supported.
Isa resolve_isa(std::string_view requested);

/// One line describing the CPU features seen, for the run header (e.g. "avx2 fma, no avx512f").
std::string cpu_feature_summary();

}  // namespace ukrun::lattice
