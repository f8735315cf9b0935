// QEMU command lines for Nanos guests.
#include "ukrun/runner/qemu.hpp"

#include <cstdio>
#include <stdexcept>

namespace ukrun::runner {

const char* accelerator_name(Accelerator accel) {
    return accel == Accelerator::kvm ? "kvm" : "tcg";
}

std::vector<std::string> qemu_command(const QemuMachine& m) {
    if (m.image.empty()) throw std::invalid_argument("QEMU machine without a disk image");
    if (m.memory_mib <= 0 || m.vcpus <= 0)
        throw std::invalid_argument("QEMU machine needs positive memory and vCPUs (got " +
                                    std::to_string(m.memory_mib) + " MiB, " +
                                    std::to_string(m.vcpus) + " vCPUs)");
    if (!m.tap.empty() && m.mac.empty())
        throw std::invalid_argument("tap " + m.tap + " needs a MAC: every guest must have its own");

    const bool kvm = m.accel == Accelerator::kvm;
    std::vector<std::string> argv = {m.qemu, "-M", "q35", "-accel", accelerator_name(m.accel)};
    argv.insert(argv.end(), {"-cpu", m.cpu.empty() ? (kvm ? "host" : "max") : m.cpu});
    argv.insert(argv.end(),
                {"-m", std::to_string(m.memory_mib) + "M", "-smp", std::to_string(m.vcpus)});
    argv.insert(argv.end(), {"-nodefaults", "-nographic", "-no-reboot", "-serial", m.serial,
                             "-monitor", "none"});
    if (m.debug_exit) argv.insert(argv.end(), {"-device", "isa-debug-exit"});

    argv.insert(argv.end(),
                {"-drive", "if=none,id=hd0,format=raw,file=" + m.image.string(), "-device",
                 "virtio-scsi-pci,id=scsi0", "-device", "scsi-hd,bus=scsi0.0,drive=hd0"});
    if (!m.tap.empty()) {
        argv.insert(argv.end(),
                    {"-netdev", "tap,id=n0,ifname=" + m.tap + ",script=no,downscript=no", "-device",
                     "virtio-net-pci,netdev=n0,romfile=,mac=" + m.mac});
    }
    return argv;
}

std::string instance_mac(const std::string& job_id, int index) {
    std::uint32_t h = 2166136261u;
    for (unsigned char c : job_id) h = (h ^ c) * 16777619u;
    char mac[18];
    std::snprintf(mac, sizeof mac, "52:54:%02x:%02x:%02x:%02x", (h >> 8) & 0xff, h & 0xff,
                  (index >> 8) & 0xff, index & 0xff);
    return mac;
}

}  // namespace ukrun::runner
