// CPUID and XGETBV probing. This file is compiled without vector flags on purpose.
#include "ukrun/lattice/isa.hpp"

#include <cpuid.h>

#include <cstdint>
#include <stdexcept>

namespace ukrun::lattice {
namespace {

struct Features {
    bool avx = false, avx2 = false, fma = false;
    bool avx512f = false, avx512dq = false, avx512vl = false;
    bool os_ymm = false, os_zmm = false;
};

// XGETBV(0) without -mxsave: the raw encoding, only called when CPUID says OSXSAVE is set.
std::uint64_t xgetbv0() {
    std::uint32_t eax = 0, edx = 0;
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
    return (std::uint64_t{edx} << 32) | eax;
}

Features probe() {
    Features f;
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
    const bool osxsave = c & bit_OSXSAVE;
    f.avx = c & bit_AVX;
    f.fma = c & bit_FMA;
    if (osxsave) {
        const std::uint64_t xcr0 = xgetbv0();
        f.os_ymm = (xcr0 & 0x6) == 0x6;    // SSE and AVX state
        f.os_zmm = (xcr0 & 0xe6) == 0xe6;  // plus opmask, ZMM_Hi256, Hi16_ZMM
    }
    if (__get_cpuid_max(0, nullptr) >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        f.avx2 = b & bit_AVX2;
        f.avx512f = b & bit_AVX512F;
        f.avx512dq = b & bit_AVX512DQ;
        f.avx512vl = b & bit_AVX512VL;
    }
    return f;
}

const Features& features() {
    static const Features f = probe();
    return f;
}

}  // namespace

std::string_view isa_name(Isa isa) {
    switch (isa) {
        case Isa::scalar: return "scalar";
        case Isa::avx2: return "avx2";
        case Isa::avx512: return "avx512";
    }
    return "unknown";
}

bool isa_supported(Isa isa) {
    const Features& f = features();
    const bool avx2 = f.avx && f.avx2 && f.fma && f.os_ymm;
    switch (isa) {
        case Isa::scalar: return true;
        case Isa::avx2: return avx2;
        case Isa::avx512: return avx2 && f.avx512f && f.avx512dq && f.avx512vl && f.os_zmm;
    }
    return false;
}

Isa detect_isa() {
    if (isa_supported(Isa::avx512)) return Isa::avx512;
    if (isa_supported(Isa::avx2)) return Isa::avx2;
    return Isa::scalar;
}

Isa resolve_isa(std::string_view requested) {
    if (requested == "auto") return detect_isa();
    for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512}) {
        if (requested != isa_name(isa)) continue;
        if (!isa_supported(isa))
            throw std::runtime_error("--isa " + std::string(requested) +
                                     ": this CPU does not support it (" + cpu_feature_summary() +
                                     "); use --isa auto");
        return isa;
    }
    throw std::invalid_argument("--isa " + std::string(requested) +
                                ": unknown; choose auto, scalar, avx2 or avx512");
}

std::string cpu_feature_summary() {
    const Features& f = features();
    std::string have, lack;
    auto add = [&](bool on, const char* name) {
        std::string& s = on ? have : lack;
        if (!s.empty()) s += ' ';
        s += name;
    };
    add(f.avx, "avx");
    add(f.avx2, "avx2");
    add(f.fma, "fma");
    add(f.avx512f, "avx512f");
    add(f.os_ymm, "os-ymm");
    add(f.os_zmm, "os-zmm");
    if (have.empty()) have = "none";
    return lack.empty() ? have : have + ", no " + lack;
}

}  // namespace ukrun::lattice
