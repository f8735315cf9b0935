// `ukrun doctor`: what this host can run (launchers, namespaces, QEMU and KVM, Nanos,
// container runtimes) and how to fix what is missing.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace ukrun::runner {

/// The verdict of one check.
enum class CheckStatus { ok, warn, missing, fail };

/// One row of the doctor's table.
struct Check {
    std::string name;
    CheckStatus status = CheckStatus::ok;
    std::string detail;  ///< what was found, or what is wrong and how to fix it
};

/// What the doctor looks at.
struct DoctorOptions {
    std::optional<std::string> nanos_dir;  ///< --nanos-dir
    int kvm_timeout_ms = 10000;            ///< bound on the KVM probe boot
    bool probe_network = true;             ///< create and remove a throwaway netns and bridge
};

/// Runs every check; never throws (a failing check becomes a row).
std::vector<Check> run_doctor(const DoctorOptions& options);

/// "ok", "warn", "missing", "FAIL".
std::string status_text(CheckStatus status);

/// The table as text: check, status, detail; details wrapped to `width` columns.
std::string format_checks(const std::vector<Check>& checks, int width = 100);

/// True when the default process backend can run: mpirun and ukrun-lattice are ok.
bool process_backend_ready(const std::vector<Check>& checks);

/// The 512-byte boot sector of the KVM probe: enables OSXSAVE, runs xgetbv (where the
/// nested hypervisor here fails), writes 1 to the isa-debug-exit port 0xf4 and halts; QEMU
/// then exits with status 3.
std::vector<unsigned char> kvm_probe_boot_sector();

/// True when QEMU boots the probe sector under KVM and it runs to the end within
/// `timeout_ms` (the doctor's "kvm" check); false without QEMU, /dev/kvm, or on any failure.
bool kvm_probe_passes(int timeout_ms);

/// The PMIx library's own version (PMIx_Get_version from libpmix.so.2), empty when the
/// library cannot be loaded.
std::string pmix_library_version();

/// The QEMU status the probe's guest produces when it ran to the end.
inline constexpr int kProbeExitStatus = 3;

}  // namespace ukrun::runner
