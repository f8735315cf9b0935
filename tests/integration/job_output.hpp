// Reading `ukrun run`'s output in integration tests.
#pragma once

#include <regex>
#include <string>

namespace ukrun::test {

/// The job id from ukrun run's first line "ukrun run: job ID, ...", or empty.
inline std::string job_id_in(const std::string& output) {
    static const std::regex pattern(R"(ukrun run: job ([a-z0-9]+),)");
    std::smatch m;
    return std::regex_search(output, m, pattern) ? m[1].str() : std::string{};
}

}  // namespace ukrun::test
