// `ukrun validate FILE [--ranks N] [--live]`: every static problem of a topology file, one
// line each, or a summary; with --live, the checks on this host (root).
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <string>

#include "ukrun/runner/cli.hpp"
#include "ukrun/runner/commands.hpp"
#include "ukrun/runner/live_check.hpp"
#include "ukrun/runner/topology.hpp"

namespace ukrun::runner {

namespace {

namespace po = boost::program_options;

void print_summary(const Topology& t, int ranks) {
    const auto& net = t.network;
    std::printf("%s: valid\n", t.path.c_str());
    std::printf("  subnet    %s, gateway %s, mtu %d\n", to_string(net.subnet).c_str(),
                to_string(net.gateway).c_str(), net.mtu);
    std::printf("  bridge    %s\n",
                net.bridge.empty() ? "one per job, named ukb<job id>" : net.bridge.c_str());
    std::printf("  instance  %d MiB, %d vCPU%s\n", t.instance.memory_mib, t.instance.vcpus,
                t.instance.vcpus == 1 ? "" : "s");
    int slots = 0;
    std::int64_t by_memory = 0;
    for (const auto& node : t.nodes) {
        std::printf("  node      %s (%s, %d cpus, %d MiB)\n", node.name.c_str(),
                    to_string(node.address).c_str(), node.cpus, node.memory_mib);
        slots += std::max(1, node.cpus / t.instance.vcpus);
        by_memory += node.memory_mib / t.instance.memory_mib;
    }
    std::printf("  capacity  %lld addresses, %d ranks without sharing CPUs, %lld by memory\n",
                static_cast<long long>(address_capacity(t)), slots,
                static_cast<long long>(by_memory));
    std::printf("  ranks     %d fit%s\n", ranks,
                ranks > slots ? " (CPUs oversubscribed: expect slower ranks)" : "");
}

int run_live(const Topology& topology, const std::string& path) {
    if (geteuid() != 0) {
        std::fprintf(stderr,
                     "%s: --live needs root (it creates a bridge, namespaces and veth pairs); "
                     "run it as root or drop --live\n",
                     path.c_str());
        return kExitUnavailable;
    }
    const LiveReport report = run_live_checks(topology);
    for (const auto& r : report.results) {
        if (r.ok) {
            std::printf("  live ok   %s\n", r.text.c_str());
        } else {
            std::fflush(stdout);
            std::fprintf(stderr, "%s\n",
                         Diagnostic{path, r.line, "live: " + r.text}.text().c_str());
        }
    }
    if (report.interrupted) {
        std::fflush(stdout);
        std::fprintf(stderr, "%s: live checks interrupted; everything they created is removed\n",
                     path.c_str());
        return kExitInterrupted;
    }
    if (!report.all_ok()) return kExitUnavailable;
    std::printf("  live      all %zu checks passed\n", report.results.size());
    return kExitOk;
}

}  // namespace

int cmd_validate(const Args& args) {
    po::options_description options("ukrun validate FILE [options]");
    int ranks = 1;
    options.add_options()("help,h", "print this help")(
        "ranks,n", po::value<int>(&ranks)->default_value(1),
        "check that this many ranks fit (addresses, memory)")(
        "live",
        "also check on this host (root): bridge, subnet unused, full-MTU pings in "
        "throwaway namespaces");
    po::variables_map vm;
    if (const auto stop = parse_subcommand_options(
            "validate", args, options, vm, "file",
            "Exit codes: 0 valid, 64 bad command line, 65 invalid topology (each problem on one "
            "line\nFILE:LINE: what is wrong; how to fix it), 69 a live check failed or not "
            "root,\n130 interrupted.\n"))
        return *stop;
    if (!vm.count("file")) {
        std::fprintf(stderr,
                     "ukrun validate: no topology file given; e.g. ukrun validate "
                     "topology/local.toml\n");
        return kExitUsage;
    }

    if (ranks < 1) return usage_error("validate", "--ranks must be at least 1");

    const std::string path = vm["file"].as<std::string>();
    Topology topology;
    try {
        topology = load_topology(path);
    } catch (const TopologyError& e) {
        for (const auto& d : e.diagnostics()) std::fprintf(stderr, "%s\n", d.text().c_str());
        return kExitBadInput;
    }
    const auto problems = check_capacity(topology, ranks);
    if (!problems.empty()) {
        for (const auto& d : problems) std::fprintf(stderr, "%s\n", d.text().c_str());
        return kExitBadInput;
    }
    print_summary(topology, ranks);
    return vm.count("live") ? run_live(topology, path) : kExitOk;
}

}  // namespace ukrun::runner
