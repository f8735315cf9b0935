// `ukrun-lattice bench dirac`: Dw per lattice point in single and double precision, once with
// one field pair (in cache where it fits) and once cycling over enough spinor fields that the
// working set exceeds the last-level cache, with halo time and bytes per application.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ostream>

#include "ukrun/lattice/bench.hpp"
#include "ukrun/lattice/dirac_op.hpp"

namespace ukrun::lattice {

namespace {

constexpr double kSecondsPerCase = 1.0;          ///< timing target when repetitions = 0
constexpr long kFallbackCacheBytes = 32L << 20;  ///< when sysconf does not know the LLC
constexpr long kMaxCacheBytes = 64L << 20;       ///< bounds the memory the bench takes
constexpr std::uint64_t kFieldSeed = 0xbe4c;

/// The last-level cache size this process sees, bounded to [1 MiB, kMaxCacheBytes].
long last_level_cache_bytes() {
    long bytes = 0;
#ifdef _SC_LEVEL3_CACHE_SIZE
    bytes = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (bytes <= 0) bytes = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
    if (bytes <= 0) bytes = kFallbackCacheBytes;
    return std::clamp(bytes, 1L << 20, kMaxCacheBytes);
}

struct Case {
    std::string name;
    int fields = 1;          ///< input/output pairs cycled over
    double working_mib = 0;  ///< spinors + links + clover touched per cycle, per rank
    DiracTiming timing;
};

template <typename T>
std::vector<Case> run_precision(const Geometry& geometry, const GaugeField<double>& field,
                                const DiracOptions& options, long cache_bytes) {
    DiracParams params{options.mass, options.csw, options.antiperiodic_time};
    DiracOperator<T> op(geometry, field, params, options.isa);
    const double volume = geometry.volume();
    const double spinor_bytes = volume * sizeof(Spinor<T>);
    const double operator_bytes =
        volume * (4 * sizeof(Su3<T>) + (options.csw != 0 ? kCloverReals * sizeof(T) : 0));
    const int streaming_pairs = static_cast<int>(
        std::clamp((2.0 * cache_bytes - operator_bytes) / (2 * spinor_bytes) + 1, 1.0, 1000.0));

    std::vector<Case> cases;
    for (int pairs : {1, streaming_pairs}) {
        std::vector<SpinorField<T>> in(static_cast<std::size_t>(pairs)), out;
        for (int k = 0; k < pairs; ++k) random_spinor(geometry, kFieldSeed + k, in[k]);
        Case c;
        c.name = pairs == 1 ? "one field" : "streaming";
        c.fields = pairs;
        c.working_mib = (operator_bytes + 2 * pairs * spinor_bytes) / (1 << 20);
        c.timing = time_dirac(op, in, out, options.repetitions, kSecondsPerCase);
        cases.push_back(c);
    }
    return cases;
}

nlohmann::json case_json(const Case& c) {
    return {{"fields", c.fields},
            {"working_set_mib", c.working_mib},
            {"applications", c.timing.applications},
            {"us_per_point", c.timing.us_per_site},
            {"cpu_us_per_point", c.timing.cpu_us_per_site},
            {"gflops", c.timing.gflops},
            {"halo_ms", c.timing.halo_ms},
            {"halo_bytes", c.timing.halo_bytes}};
}

/// The bench proper (bench_dirac aborts the job on its exceptions).
nlohmann::json bench(const Geometry& geometry, const GaugeField<double>& field,
                     const DiracOptions& options, std::ostream& out) {
    const long cache_bytes = last_level_cache_bytes();
    std::vector<Case> single = run_precision<float>(geometry, field, options, cache_bytes);
    std::vector<Case> dbl = run_precision<double>(geometry, field, options, cache_bytes);
    const Isa kernel =
        (options.isa != Isa::scalar && isa_supported(Isa::avx2)) ? Isa::avx2 : Isa::scalar;

    nlohmann::json result = {{"lattice", geometry.global().str()},
                             {"grid", geometry.grid().str()},
                             {"local", geometry.local().str()},
                             {"isa", std::string(isa_name(kernel))},
                             {"mass", options.mass},
                             {"csw", options.csw},
                             {"flops_per_point", options.csw != 0 ? 1920 : 1320},
                             {"llc_bytes", cache_bytes}};
    for (const Case& c : single)
        result["single"][c.fields == 1 ? "cached" : "streaming"] = case_json(c);
    for (const Case& c : dbl)
        result["double"][c.fields == 1 ? "cached" : "streaming"] = case_json(c);

    if (geometry.rank() == 0) {
        char line[200];
        out << "bench dirac: lattice " << geometry.global().str() << ", grid "
            << geometry.grid().str() << ", local " << geometry.local().str() << ", kernel "
            << isa_name(kernel) << ", m0 " << options.mass << ", csw " << options.csw << ", "
            << (options.csw != 0 ? 1920 : 1320) << " flops/point, LLC taken as "
            << cache_bytes / (1 << 20) << " MiB\n";
        out << "precision  working set       fields  MiB/rank  us/point  cpu us/pt   GFlops  "
               "halo ms  halo KiB\n";
        auto row = [&](const char* precision, const Case& c) {
            std::snprintf(line, sizeof line,
                          "%-10s %-16s %7d %9.1f %9.4f %10.4f %8.2f %8.3f %9.1f\n", precision,
                          c.name.c_str(), c.fields, c.working_mib, c.timing.us_per_site,
                          c.timing.cpu_us_per_site, c.timing.gflops, c.timing.halo_ms,
                          c.timing.halo_bytes / 1024);
            out << line;
        };
        for (const Case& c : single) row("single", c);
        for (const Case& c : dbl) row("double", c);
    }
    return result;
}

}  // namespace

nlohmann::json bench_dirac(const Geometry& geometry, const GaugeField<double>& field,
                           const DiracOptions& options, std::ostream& out) {
    return or_abort(geometry, "bench dirac", [&] { return bench(geometry, field, options, out); });
}

}  // namespace ukrun::lattice
