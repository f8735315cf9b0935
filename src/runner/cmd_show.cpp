// `ukrun show FILE.h5 [--run ID] [--json]`: the runs stored in a results file, as a table,
// one run in detail, or JSON.
#include <boost/program_options.hpp>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "ukrun/runner/cli.hpp"
#include "ukrun/runner/commands.hpp"
#include "ukrun/runner/results.hpp"

namespace ukrun::runner {

namespace {

namespace po = boost::program_options;
using Json = nlohmann::ordered_json;

/// A measured figure formatted with printf `format`, or "-" when unknown (-1 or NaN).
std::string figure(double value, const char* format) {
    if (std::isnan(value) || value == -1) return "-";
    char text[64];
    std::snprintf(text, sizeof text, format, value);
    return text;
}

/// A count, or "-" when unknown (negative).
std::string count(long long value) {
    return value < 0 ? "-" : std::to_string(value);
}

void print_table(const std::vector<RunRecord>& runs) {
    std::printf("%5s  %-20s  %-9s %5s  %-9s %-11s %-9s %-7s %-5s %10s %9s %8s %8s  %s\n", "id",
                "time (UTC)", "backend", "ranks", "grid", "lattice", "precision", "isa", "accel",
                "plaquette", "us/site", "GFlops", "CG iters", "status");
    for (const auto& run : runs) {
        std::printf("%5lld  %-20s  %-9s %5d  %-9s %-11s %-9s %-7s %-5s %10s %9s %8s %8s  %s\n",
                    static_cast<long long>(run.id), run.time_utc.c_str(), run.backend.c_str(),
                    run.ranks, run.grid.c_str(), run.lattice.c_str(), run.precision.c_str(),
                    run.isa.c_str(), run.accelerator.c_str(), figure(run.plaquette, "%.6f").c_str(),
                    figure(run.dirac_us_per_site, "%.3f").c_str(),
                    figure(run.dirac_gflops, "%.2f").c_str(), count(run.cg_iterations).c_str(),
                    run.status.c_str());
    }
    if (runs.empty()) std::printf("(no runs)\n");
}

/// Prints `text` under a heading, or nothing when it is empty.
void print_text(const char* heading, const std::string& text) {
    if (text.empty()) return;
    std::printf("\n%s:\n%s%s", heading, text.c_str(), text.back() == '\n' ? "" : "\n");
}

void print_details(const RunRecord& run) {
    const auto line = [](const char* key, const std::string& value) {
        std::printf("%-18s %s\n", key, value.empty() ? "-" : value.c_str());
    };
    line("id", std::to_string(run.id));
    line("time_utc", run.time_utc);
    line("status", run.status + " (exit status " + std::to_string(run.exit_status) + ")");
    line("failure", run.failure);
    line("backend", run.backend);
    line("ranks", std::to_string(run.ranks));
    line("grid", run.grid);
    line("lattice", run.lattice);
    line("local_lattice", run.local_lattice);
    line("precision", run.precision);
    line("isa", run.isa);
    line("accelerator", run.accelerator);
    line("gauge", run.gauge);
    line("launch_ms", figure(run.launch_ms, "%.1f"));
    line("mpi_init_ms", figure(run.mpi_init_ms, "%.1f"));
    line("plaquette", figure(run.plaquette, "%.12f"));
    line("dirac_us_per_site", figure(run.dirac_us_per_site, "%.4f"));
    line("dirac_gflops", figure(run.dirac_gflops, "%.3f"));
    line("halo_ms", figure(run.halo_ms, "%.3f"));
    line("cg_iterations", count(run.cg_iterations));
    line("cg_residual", figure(run.cg_residual, "%.3e"));

    std::printf("\n%5s  %-16s %-16s %9s %9s %11s %9s %9s\n", "rank", "node", "address", "exit code",
                "boot ms", "MPI_Init ms", "RSS MiB", "image MiB");
    for (const auto& rank : run.rank_records) {
        std::printf("%5d  %-16s %-16s %9s %9s %11s %9s %9s\n", rank.rank, rank.node.c_str(),
                    rank.address.c_str(), count(rank.exit_code).c_str(),
                    figure(rank.boot_ms, "%.1f").c_str(), figure(rank.mpi_init_ms, "%.1f").c_str(),
                    figure(rank.rss_mib, "%.1f").c_str(), figure(rank.image_mib, "%.1f").c_str());
    }
    if (run.rank_records.empty()) std::printf("(no per-rank rows)\n");

    print_text("versions", run.versions);
    print_text("command line", run.command_line);
    print_text("result (rank 0)", run.result_json);
    print_text("plan", run.plan_json);
    print_text("topology", run.topology_text);
}

Json to_json(const RunRecord& run) {
    Json ranks = Json::array();
    for (const auto& rank : run.rank_records) {
        ranks.push_back({{"rank", rank.rank},
                         {"node", rank.node},
                         {"address", rank.address},
                         {"exit_code", rank.exit_code},
                         {"boot_ms", rank.boot_ms},
                         {"mpi_init_ms", rank.mpi_init_ms},
                         {"rss_mib", rank.rss_mib},
                         {"image_mib", rank.image_mib}});
    }
    return {{"id", run.id},
            {"time_utc", run.time_utc},
            {"backend", run.backend},
            {"ranks", run.ranks},
            {"grid", run.grid},
            {"lattice", run.lattice},
            {"local_lattice", run.local_lattice},
            {"precision", run.precision},
            {"isa", run.isa},
            {"accelerator", run.accelerator},
            {"gauge", run.gauge},
            {"launch_ms", run.launch_ms},
            {"mpi_init_ms", run.mpi_init_ms},
            {"plaquette", run.plaquette},
            {"dirac_us_per_site", run.dirac_us_per_site},
            {"dirac_gflops", run.dirac_gflops},
            {"halo_ms", run.halo_ms},
            {"cg_iterations", run.cg_iterations},
            {"cg_residual", run.cg_residual},
            {"exit_status", run.exit_status},
            {"status", run.status},
            {"failure", run.failure},
            {"rank_records", ranks},
            {"result_json", run.result_json},
            {"plan_json", run.plan_json},
            {"topology_text", run.topology_text},
            {"versions", run.versions},
            {"command_line", run.command_line}};
}

/// Indented JSON; bytes that are not UTF-8 (a text from a foreign tool) become U+FFFD.
std::string dump(const Json& json) {
    return json.dump(2, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

int cmd_show(const Args& args) {
    po::options_description visible("usage: ukrun show FILE.h5 [--run ID] [--json]\n\noptions");
    visible.add_options()("help,h", "print this help")(
        "run", po::value<long long>(), "show run ID in detail: per-rank rows, failure, texts")(
        "json", "print JSON instead of text (all runs, or the one given by --run)");
    po::variables_map vm;
    if (const auto stop = parse_subcommand_options(
            "show", args, visible, vm, "file",
            "Exit status: 0, 64 bad options, 65 unreadable file or no such run.\n"))
        return *stop;
    if (!vm.count("file")) {
        std::fprintf(stderr, "ukrun show: no results file given (usage: ukrun show FILE.h5)\n");
        return kExitUsage;
    }

    const std::string path = vm["file"].as<std::string>();
    std::vector<RunRecord> runs;
    try {
        runs = read_runs(path);
    } catch (const std::runtime_error& e) {
        std::fprintf(stderr, "ukrun show: %s\n", e.what());
        return kExitBadInput;
    }

    const bool json = vm.count("json") > 0;
    if (!vm.count("run")) {
        if (json) {
            Json out = Json::array();
            for (const auto& run : runs) out.push_back(to_json(run));
            std::cout << dump(out) << "\n";
        } else {
            print_table(runs);
        }
        return kExitOk;
    }

    const long long id = vm["run"].as<long long>();
    for (const auto& run : runs) {
        if (run.id != id) continue;
        if (json) {
            std::cout << dump(to_json(run)) << "\n";
        } else {
            print_details(run);
        }
        return kExitOk;
    }
    std::fprintf(stderr, "ukrun show: %s: no run %lld (the file holds %zu runs%s)\n", path.c_str(),
                 id, runs.size(),
                 runs.empty() ? ""
                              : (", ids " + std::to_string(runs.front().id) + " to " +
                                 std::to_string(runs.back().id))
                                    .c_str());
    return kExitBadInput;
}

}  // namespace ukrun::runner
