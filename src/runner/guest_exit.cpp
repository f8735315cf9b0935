// Decoding how a Nanos guest ended from QEMU's exit (debug_exit:t + isa-debug-exit).
#include <sys/wait.h>

#include <cstring>

#include "ukrun/runner/nanos.hpp"

namespace ukrun::runner::nanos {

std::string GuestExit::describe() const {
    switch (kind) {
        case Kind::program_exit:
            return "guest program exited with status " + std::to_string(status);
        case Kind::killed:
            return "QEMU was killed by signal " + std::to_string(status) + " (" +
                   strsignal(status) + ")";
        case Kind::qemu_failed:
            break;
    }
    return "QEMU exited with code " + std::to_string(status) +
           ": QEMU failed or the guest stopped without exiting (crash, reboot, no "
           "debug_exit:t in the image, or no isa-debug-exit device); see the console log";
}

GuestExit decode_guest_exit(int qemu_exit_code) {
    if (qemu_exit_code % 2 == 1)
        return GuestExit{GuestExit::Kind::program_exit, (qemu_exit_code - 1) / 2};
    return GuestExit{GuestExit::Kind::qemu_failed, qemu_exit_code};
}

GuestExit decode_guest_wait_status(int wait_status) {
    if (WIFSIGNALED(wait_status)) return GuestExit{GuestExit::Kind::killed, WTERMSIG(wait_status)};
    return decode_guest_exit(WEXITSTATUS(wait_status));
}

}  // namespace ukrun::runner::nanos
