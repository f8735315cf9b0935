// Placeholder until the subcommand is implemented.
#include <cstdio>

#include "ukrun/runner/commands.hpp"

namespace ukrun::runner {

int cmd_validate(const Args&) {
    std::fprintf(stderr, "ukrun validate: not built yet\n");
    return kExitUnavailable;
}

}  // namespace ukrun::runner
