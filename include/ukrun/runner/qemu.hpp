// QEMU command lines for Nanos guests, as typed values (no shell strings).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace ukrun::runner {

/// How QEMU executes guest code.
enum class Accelerator {
    kvm,  ///< hardware virtualization: only where doctor's probe booted a guest
    tcg,  ///< emulation: always works, timings are marked emulated
};

/// "kvm" or "tcg".
const char* accelerator_name(Accelerator accel);

/// One Nanos guest's machine.
struct QemuMachine {
    std::string qemu = "qemu-system-x86_64";  ///< program (looked up in PATH)
    std::filesystem::path image;              ///< the Nanos boot disk (raw)
    Accelerator accel = Accelerator::tcg;
    std::string cpu;       ///< CPU model; empty: "host" under KVM, "max" under TCG
    int memory_mib = 512;  ///< guest RAM in MiB
    int vcpus = 1;
    std::string tap;               ///< host tap for virtio-net; empty: no network device
    std::string mac;               ///< the NIC's MAC, "52:54:00:xx:xx:xx" (unique per guest)
    bool debug_exit = true;        ///< isa-debug-exit: QEMU's exit code carries the program status
    std::string serial = "stdio";  ///< -serial target: "stdio", "file:PATH", "pipe:PATH"
};

/// The full argv (argv[0] = machine.qemu). Throws std::invalid_argument for a missing image,
/// a non-positive size, or a tap without a MAC.
std::vector<std::string> qemu_command(const QemuMachine& machine);

/// A locally administered MAC "52:54:jj:jj:ii:ii" (jj: hash of `job_id`, ii: `index`):
/// distinct for indexes below 65536 in one job, and stable.
std::string instance_mac(const std::string& job_id, int index);

}  // namespace ukrun::runner
