// Placeholder until the subcommand is implemented.
#include <cstdio>

#include "ukrun/runner/commands.hpp"

namespace ukrun::runner {

int cmd_image(const Args&) {
    std::fprintf(stderr, "ukrun image: not built yet\n");
    return kExitUnavailable;
}

}  // namespace ukrun::runner
