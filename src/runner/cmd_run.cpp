// Placeholder until the subcommand is implemented.
#include <cstdio>

#include "ukrun/runner/commands.hpp"

namespace ukrun::runner {

int cmd_run(const Args&) {
    std::fprintf(stderr, "ukrun run: not built yet\n");
    return kExitUnavailable;
}

int cmd_shim(const Args&) { return kExitUnavailable; }

}  // namespace ukrun::runner
