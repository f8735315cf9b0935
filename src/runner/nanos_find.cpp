// Finding a Nanos kernel: --nanos-dir, $UKRUN_NANOS_DIR, then the newest ~/.ops/<version>/.
#include <algorithm>
#include <cstdlib>
#include <sstream>

#include "ukrun/runner/nanos.hpp"

namespace ukrun::runner::nanos {
namespace {

/// The install in `dir` when it holds kernel.img and boot.img, else nullopt.
std::optional<NanosInstall> probe_dir(const fs::path& dir, const std::string& source) {
    std::error_code ec;
    if (!fs::is_regular_file(dir / "kernel.img", ec) || !fs::is_regular_file(dir / "boot.img", ec))
        return std::nullopt;
    NanosInstall install;
    install.dir = dir;
    install.kernel = dir / "kernel.img";
    install.boot = dir / "boot.img";
    if (fs::is_directory(dir / "klibs", ec)) install.klibs = dir / "klibs";
    if (fs::is_regular_file(dir / "mkfs", ec)) install.mkfs = dir / "mkfs";
    install.source = source;
    return install;
}

/// Splits "0.1.53" or "nightly" into numbers for ordering; non-numeric parts count as -1.
std::vector<long> version_key(const std::string& name) {
    std::vector<long> key;
    std::stringstream in(name);
    for (std::string part; std::getline(in, part, '.');) {
        char* end = nullptr;
        const long n = std::strtol(part.c_str(), &end, 10);
        key.push_back(end && *end == '\0' && !part.empty() ? n : -1);
    }
    return key;
}

/// Version directories under ~/.ops, newest first.
std::vector<fs::path> ops_versions(const fs::path& home) {
    std::vector<fs::path> dirs;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(home / ".ops", ec))
        if (entry.is_directory(ec)) dirs.push_back(entry.path());
    std::sort(dirs.begin(), dirs.end(), [](const fs::path& a, const fs::path& b) {
        return version_key(a.filename().string()) > version_key(b.filename().string());
    });
    return dirs;
}

std::string missing_files(const fs::path& dir, const std::string& what) {
    return what + " " + dir.string() + " has no kernel.img and boot.img";
}

}  // namespace

NanosSearch nanos_search_from_env(std::optional<fs::path> nanos_dir) {
    NanosSearch search;
    search.nanos_dir = std::move(nanos_dir);
    if (const char* env = std::getenv("UKRUN_NANOS_DIR"); env && *env) search.env_dir = env;
    if (const char* home = std::getenv("HOME"); home && *home) search.home = home;
    return search;
}

NanosInstall find_nanos(const NanosSearch& search) {
    if (search.nanos_dir) {
        if (auto found = probe_dir(*search.nanos_dir, "--nanos-dir")) return *found;
        throw NanosNotFound(missing_files(*search.nanos_dir, "--nanos-dir") +
                            ": point it at a Nanos build output or an ops version directory");
    }
    if (search.env_dir) {
        if (auto found = probe_dir(*search.env_dir, "UKRUN_NANOS_DIR")) return *found;
        throw NanosNotFound(missing_files(*search.env_dir, "UKRUN_NANOS_DIR") +
                            ": fix or unset UKRUN_NANOS_DIR");
    }

    std::vector<std::string> looked = {"--nanos-dir (not given)", "UKRUN_NANOS_DIR (not set)"};
    if (search.home) {
        const auto versions = ops_versions(*search.home);
        for (const auto& dir : versions)
            if (auto found = probe_dir(dir, "ops")) return *found;
        looked.push_back((*search.home / ".ops").string() + "/<version>/ (" +
                         (versions.empty() ? "none"
                                           : std::to_string(versions.size()) +
                                                 " without kernel.img and boot.img") +
                         ")");
    } else {
        looked.push_back("~/.ops/<version>/ (HOME not set)");
    }

    std::string message = "no Nanos kernel found; looked in:";
    for (const auto& place : looked) message += " " + place + ";";
    message +=
        " get Nanos by installing ops (NanoVMs' command-line tool, then `ops update`) or by "
        "building nanovms/nanos (make kernel tools) and passing --nanos-dir to its output";
    throw NanosNotFound(message);
}

}  // namespace ukrun::runner::nanos
