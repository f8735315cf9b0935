// Proves the run-time ISA selection: auto picks a supported ISA, forcing an unsupported one
// or an unknown name is an error that names the value.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "ukrun/lattice/isa.hpp"

using namespace ukrun::lattice;

TEST(Isa, AutoResolvesToTheDetectedSupportedIsa) {
    const Isa isa = resolve_isa("auto");
    EXPECT_EQ(isa, detect_isa());
    EXPECT_TRUE(isa_supported(isa));
}

TEST(Isa, ScalarIsAlwaysSupported) {
    EXPECT_TRUE(isa_supported(Isa::scalar));
    EXPECT_EQ(resolve_isa("scalar"), Isa::scalar);
}

TEST(Isa, WiderIsaImpliesNarrower) {
    if (isa_supported(Isa::avx512)) {
        EXPECT_TRUE(isa_supported(Isa::avx2));
    }
    EXPECT_EQ(isa_supported(Isa::avx2), detect_isa() != Isa::scalar);
}

TEST(Isa, UnknownNameIsRejectedWithTheChoices) {
    try {
        resolve_isa("sse9");
        FAIL() << "no exception";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("sse9"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("auto, scalar, avx2 or avx512"), std::string::npos);
    }
}

TEST(Isa, ForcedUnsupportedIsaNamesTheCpuFeatures) {
    for (Isa isa : {Isa::avx2, Isa::avx512}) {
        if (isa_supported(isa)) continue;
        try {
            resolve_isa(isa_name(isa));
            FAIL() << "no exception for " << isa_name(isa);
        } catch (const std::runtime_error& e) {
            EXPECT_NE(std::string(e.what()).find("does not support"), std::string::npos);
        }
    }
}
