// Shared command-line handling of the subcommands.
#include "ukrun/runner/cli.hpp"

#include <cstdio>
#include <iostream>

namespace ukrun::runner {

namespace po = boost::program_options;

int usage_error(const char* command, const std::string& message) {
    std::fprintf(stderr, "ukrun %s: %s (see ukrun %s --help)\n", command, message.c_str(), command);
    return kExitUsage;
}

std::optional<int> parse_subcommand_options(const char* command, const Args& args,
                                            const po::options_description& desc,
                                            po::variables_map& vm) {
    try {
        po::store(po::command_line_parser(args).options(desc).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        return usage_error(command, e.what());
    }
    if (vm.count("help")) {
        std::cout << desc << "\n";
        return kExitOk;
    }
    return std::nullopt;
}

}  // namespace ukrun::runner
