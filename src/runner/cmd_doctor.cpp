// Placeholder until the subcommand is implemented.
#include <cstdio>

#include "ukrun/runner/commands.hpp"

namespace ukrun::runner {

int cmd_doctor(const Args&) {
    std::fprintf(stderr, "ukrun doctor: not built yet\n");
    return kExitUnavailable;
}

}  // namespace ukrun::runner
