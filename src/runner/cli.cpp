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
                                            po::variables_map& vm, const char* positional,
                                            const char* help_epilog) {
    po::options_description all;
    all.add(desc);
    po::positional_options_description positions;
    if (positional) {
        all.add_options()(positional, po::value<std::string>());
        positions.add(positional, 1);
    }
    try {
        po::store(po::command_line_parser(args).options(all).positional(positions).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        return usage_error(command, e.what());
    }
    if (vm.count("help")) {
        std::cout << desc << "\n";
        if (help_epilog) std::cout << help_epilog;
        return kExitOk;
    }
    return std::nullopt;
}

}  // namespace ukrun::runner
