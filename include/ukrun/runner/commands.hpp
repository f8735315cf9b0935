// The `ukrun` subcommands. Each takes the arguments after its name and returns the process
// exit code; exceptions stop at src/apps/ukrun_main.cpp, which prints them as one line.
#pragma once

#include <string>
#include <vector>

namespace ukrun::runner {

/// Documented exit codes of `ukrun` (README, "Exit codes"). A failed rank's own non-zero
/// code is passed through by `ukrun run` when it is below 64.
inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 64;        ///< bad command line
inline constexpr int kExitBadInput = 65;     ///< invalid topology or other input file
inline constexpr int kExitUnavailable = 69;  ///< the host lacks what is needed (see doctor)
inline constexpr int kExitInternal = 70;     ///< a bug or an unexpected system error
inline constexpr int kExitJobFailed = 71;    ///< a rank died of a signal or a code >= 64, the
                                             ///< launcher failed, or rank 0 gave no result
inline constexpr int kExitTimeout = 124;     ///< --timeout expired
inline constexpr int kExitInterrupted = 130; ///< SIGINT or SIGTERM

using Args = std::vector<std::string>;

int cmd_run(const Args& args);
int cmd_shim(const Args& args);
int cmd_validate(const Args& args);
int cmd_doctor(const Args& args);
int cmd_show(const Args& args);
int cmd_image(const Args& args);

}  // namespace ukrun::runner
