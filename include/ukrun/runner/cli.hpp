// Shared command-line handling of the subcommands: Boost.Program_options parsing with one
// usage-error line and --help.
#pragma once

#include <boost/program_options.hpp>
#include <optional>

#include "ukrun/runner/commands.hpp"

namespace ukrun::runner {

/// Parses `args` into `vm` with `desc` (which must define "help"). A non-null `positional`
/// names one hidden positional string option (e.g. "file"). --help prints `desc`, then
/// `help_epilog` when given. Returns the exit code to stop with: kExitOk after printing
/// --help, kExitUsage after one error line naming `command`; nullopt when the command should
/// go on.
std::optional<int> parse_subcommand_options(const char* command, const Args& args,
                                            const boost::program_options::options_description& desc,
                                            boost::program_options::variables_map& vm,
                                            const char* positional = nullptr,
                                            const char* help_epilog = nullptr);

/// Prints "ukrun COMMAND: MESSAGE (see ukrun COMMAND --help)" to stderr; returns kExitUsage.
int usage_error(const char* command, const std::string& message);

}  // namespace ukrun::runner
