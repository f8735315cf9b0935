// The pure parts of a job: mpirun command line, result line, exit-code rule, binary lookup.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "ukrun/runner/commands.hpp"
#include "ukrun/runner/job.hpp"
#include "ukrun/runner/process.hpp"

namespace ukrun::runner {

namespace {

/// A lattice or grid given as "8x8x8x8" or as [8,8,8,8]; empty when neither.
std::string dims_text(const nlohmann::json& value) {
    if (value.is_string()) return value.get<std::string>();
    if (!value.is_array()) return {};
    std::string text;
    for (const auto& v : value) {
        if (!text.empty()) text += 'x';
        text += v.dump();
    }
    return text;
}

/// result[key] as a double when it is a number, else `fallback`.
double number_or(const nlohmann::json& object, const char* key, double fallback) {
    if (!object.is_object() || !object.contains(key) || !object[key].is_number()) return fallback;
    return object[key].get<double>();
}

/// result[key] as text (strings verbatim, others dumped), else empty.
std::string text_or_empty(const nlohmann::json& object, const char* key) {
    if (!object.contains(key)) return {};
    const auto& v = object[key];
    return v.is_string() ? v.get<std::string>() : v.dump();
}

}  // namespace

std::vector<std::string> default_lattice_args() {
    return {"--lattice", "8x8x8x8", "--gauge", "random:1", "--solve"};
}

std::vector<std::string> mpirun_command(const LaunchSettings& s) {
    std::vector<std::string> cmd = {s.mpirun, "-np", std::to_string(s.ranks)};
    if (s.as_root) cmd.push_back("--allow-run-as-root");
    cmd.insert(cmd.end(), {"--oversubscribe", "--bind-to", s.ranks <= s.cores ? "core" : "none"});
    cmd.insert(cmd.end(), s.backend_mca.begin(), s.backend_mca.end());
    cmd.insert(cmd.end(), {s.ukrun, "shim", "--job", s.job_dir, "--", s.lattice});
    cmd.insert(cmd.end(), s.lattice_args.begin(), s.lattice_args.end());
    return cmd;
}

std::optional<nlohmann::json> find_result(const std::string& text, std::string& error) {
    const auto tag = text.rfind(kResultTag);
    if (tag == std::string::npos) {
        error = "rank 0 printed no '" + std::string(kResultTag) + "{...}' line";
        return std::nullopt;
    }
    const auto start = tag + kResultTag.size();
    const auto end = text.find('\n', start);
    const std::string body = text.substr(start, end == std::string::npos ? end : end - start);
    auto json = nlohmann::json::parse(body, nullptr, false);
    if (json.is_discarded() || !json.is_object()) {
        error = "rank 0's result line is not a JSON object: " + body.substr(0, 200);
        return std::nullopt;
    }
    return json;
}

void fill_from_result(const nlohmann::json& r, RunRecord& run) {
    run.result_json = r.dump();
    if (r.contains("lattice")) run.lattice = dims_text(r["lattice"]);
    if (r.contains("grid")) run.grid = dims_text(r["grid"]);
    if (r.contains("local_lattice")) run.local_lattice = dims_text(r["local_lattice"]);
    run.precision = text_or_empty(r, "precision");
    run.isa = text_or_empty(r, "isa");
    run.gauge = text_or_empty(r, "gauge");
    run.plaquette = number_or(r, "plaquette", run.plaquette);
    // The shims' per-rank figures (from instance start) win over the program's own.
    if (run.mpi_init_ms < 0) run.mpi_init_ms = number_or(r, "mpi_init_ms", run.mpi_init_ms);
    if (r.contains("dirac")) {
        run.dirac_us_per_site = number_or(r["dirac"], "us_per_site", run.dirac_us_per_site);
        run.dirac_gflops = number_or(r["dirac"], "gflops", run.dirac_gflops);
        run.halo_ms = number_or(r["dirac"], "halo_ms", run.halo_ms);
    }
    if (r.contains("cg")) {
        run.cg_iterations = static_cast<int>(number_or(r["cg"], "iterations", run.cg_iterations));
        run.cg_residual = number_or(r["cg"], "residual", run.cg_residual);
    }
}

std::optional<RankStatus> failing_rank(const std::vector<RankStatus>& ranks) {
    std::optional<RankStatus> first;
    for (const auto& r : ranks) {
        if (r.exit_code == 0) continue;
        if (!first || r.end_epoch_ms < first->end_epoch_ms) first = r;
    }
    return first;
}

int job_exit_code(const JobEnd& end) {
    if (end.outcome == WatchOutcome::timeout) return kExitTimeout;
    if (end.outcome == WatchOutcome::interrupted) return kExitInterrupted;
    if (const auto failed = failing_rank(end.ranks)) {
        return failed->exit_code > 0 && failed->exit_code < 64 ? failed->exit_code : kExitJobFailed;
    }
    if (end.launcher_code != 0 || !end.result_found) return kExitJobFailed;
    return kExitOk;
}

std::string find_lattice_binary(const std::string& self_exe) {
    namespace fs = std::filesystem;
    if (!self_exe.empty()) {
        const fs::path beside = fs::path(self_exe).parent_path() / "ukrun-lattice";
        if (::access(beside.c_str(), X_OK) == 0) return beside.string();
    }
    if (const char* env = std::getenv("UKRUN_LATTICE"); env && *env && ::access(env, X_OK) == 0)
        return env;
    return find_in_path("ukrun-lattice");
}

}  // namespace ukrun::runner
