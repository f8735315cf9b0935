// For unit tests that build a Geometry on MPI_COMM_SELF: initialises MPI (as a singleton) once
// before the first test and finalises it after the last.
#pragma once

#include <gtest/gtest.h>
#include <mpi.h>

namespace ukrun::test {

/// Registered by including this header; MPI_Init failing aborts the test program.
class MpiSelfEnvironment : public ::testing::Environment {
  public:
    void SetUp() override {
        int initialized = 0;
        MPI_Initialized(&initialized);
        if (!initialized) MPI_Init(nullptr, nullptr);
    }
    void TearDown() override { MPI_Finalize(); }
};

inline const auto* const kMpiSelfEnvironment =
    ::testing::AddGlobalTestEnvironment(new MpiSelfEnvironment);

}  // namespace ukrun::test
