// Paths the tests need: the source tree, the built programs, the shared sample data.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace ukrun::test {

/// The repository root.
inline std::filesystem::path source_dir() { return UKRUN_SOURCE_DIR; }

/// The CMake build directory.
inline std::filesystem::path binary_dir() { return UKRUN_BINARY_DIR; }

/// The built `ukrun` program.
inline std::filesystem::path ukrun_bin() { return UKRUN_BIN; }

/// The built `ukrun-lattice` program.
inline std::filesystem::path lattice_bin() { return UKRUN_LATTICE_BIN; }

/// ../shared/data beside the checkout (or $UKRUN_SHARED_DATA); empty when absent, so a test
/// that needs it can skip with one line.
inline std::filesystem::path shared_data() {
    if (const char* env = std::getenv("UKRUN_SHARED_DATA"); env && *env) return env;
    auto dir = source_dir().parent_path() / "shared" / "data";
    return std::filesystem::exists(dir) ? dir : std::filesystem::path{};
}

}  // namespace ukrun::test
