// ukrun: the runner and coordinator. Argument dispatch only; the subcommands live in
// src/runner/cmd_*.cpp.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "ukrun/runner/commands.hpp"

namespace {

using ukrun::runner::Args;

struct Subcommand {
    const char* name;
    int (*run)(const Args&);
    const char* summary;
};

constexpr Subcommand kSubcommands[] = {
    {"run", ukrun::runner::cmd_run, "run one job (default: process backend, 2 ranks)"},
    {"shim", ukrun::runner::cmd_shim, "started by mpirun/srun per rank: boots that rank"},
    {"validate", ukrun::runner::cmd_validate, "check a topology file, statically or --live"},
    {"doctor", ukrun::runner::cmd_doctor, "what this host can run and how to fix the rest"},
    {"show", ukrun::runner::cmd_show, "print the runs stored in an HDF5 results file"},
    {"image", ukrun::runner::cmd_image, "build and cache instance images (nanos)"},
};

void print_usage(std::FILE* out) {
    std::fprintf(out, "usage: ukrun <subcommand> [options]   (ukrun <subcommand> --help)\n\n");
    for (const auto& sub : kSubcommands) std::fprintf(out, "  %-9s %s\n", sub.name, sub.summary);
    std::fprintf(out, "\nWith no arguments, ukrun runs the default job (ukrun run).\n");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc >= 2 && (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h"))) {
        print_usage(stdout);
        return ukrun::runner::kExitOk;
    }
    if (argc >= 2 && !std::strcmp(argv[1], "--version")) {
        std::printf("ukrun %s\n", UKRUN_VERSION);
        return ukrun::runner::kExitOk;
    }

    const std::string name = argc >= 2 ? argv[1] : "run";
    const Args args(argv + (argc >= 2 ? 2 : 1), argv + argc);
    for (const auto& sub : kSubcommands) {
        if (name != sub.name) continue;
        try {
            return sub.run(args);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "ukrun %s: %s\n", sub.name, e.what());
            return ukrun::runner::kExitInternal;
        }
    }
    std::fprintf(stderr, "ukrun: unknown subcommand '%s'\n", name.c_str());
    print_usage(stderr);
    return ukrun::runner::kExitUsage;
}
