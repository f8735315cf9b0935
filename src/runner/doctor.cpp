// The doctor's checks. Each is a small function returning one row; none throws.
#include "ukrun/runner/doctor.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "ukrun/runner/backend.hpp"
#include "ukrun/runner/job.hpp"
#include "ukrun/runner/nanos.hpp"
#include "ukrun/runner/netlink.hpp"
#include "ukrun/runner/process.hpp"

namespace ukrun::runner {

namespace fs = std::filesystem;

namespace {

/// The first line of `text`, trimmed of trailing blanks.
std::string first_line(const std::string& text) {
    std::string line = text.substr(0, text.find('\n'));
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
    return line;
}

/// `program --version`'s first line, or nullopt when the program is not in PATH.
std::optional<std::string> version_of(const std::string& program) {
    const std::string path = find_in_path(program);
    if (path.empty()) return std::nullopt;
    return path + ": " + first_line(run_command({path, "--version"}, 5000).output);
}

Check check_mpirun() {
    const auto version = version_of("mpirun");
    if (!version)
        return {"mpirun", CheckStatus::missing, "not in PATH; apt-get install openmpi-bin"};
    return {"mpirun", CheckStatus::ok, *version};
}

/// The PMIx library's own version string (PMIx_Get_version), and Open MPI's PMIx component.
Check check_pmix() {
    const std::string detail = pmix_library_version();
    const auto info = run_command({"ompi_info", "--parsable"}, 10000);
    std::string component;
    std::istringstream lines(info.output);
    for (std::string line; std::getline(lines, line);)
        if (line.starts_with("mca:pmix:") && line.find("ext") != std::string::npos)
            component = line.substr(9, line.find(':', 9) - 9);
    if (detail.empty())
        return {"PMIx", CheckStatus::warn,
                "libpmix.so.2 not loadable; isolated backends need PMIx over TCP: apt-get "
                "install libpmix2"};
    return {"PMIx", CheckStatus::ok,
            detail + (component.empty() ? "" : " (Open MPI component " + component + ")")};
}

Check check_lattice() {
    std::error_code ec;
    const std::string lattice = find_lattice_binary(fs::read_symlink("/proc/self/exe", ec));
    if (lattice.empty())
        return {"ukrun-lattice", CheckStatus::missing,
                "not next to ukrun, in $UKRUN_LATTICE or PATH; build it (cmake --build)"};
    return {"ukrun-lattice", CheckStatus::ok, lattice};
}

Check check_srun() {
    const std::string srun = find_in_path("srun");
    if (srun.empty())
        return {"srun", CheckStatus::missing,
                "Slurm not installed; for srun --mpi=pmix: apt-get install slurm-wlm munge; "
                "ukrun run launches with mpirun and works without it"};
    const auto list = run_command({srun, "--mpi=list"}, 10000);
    std::string plugins = list.output;
    std::replace(plugins.begin(), plugins.end(), '\n', ' ');
    const bool pmix = plugins.find("pmix") != std::string::npos;
    return {"srun", pmix ? CheckStatus::ok : CheckStatus::warn,
            srun + "; --mpi=list: " + plugins +
                (pmix ? "" : " (no pmix: install slurm-wlm's pmix plugin)")};
}

/// Creates and removes a throwaway namespace and bridge named from our pid.
Check check_network() {
    if (::geteuid() != 0)
        return {"netns+bridge", CheckStatus::fail,
                "not root: the netns backend needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN)"};
    const std::string id = std::to_string(::getpid() % 100000);
    const std::string netns = "ukrun-doctor-" + id;
    const std::string bridge = "ukdoc" + id;
    try {
        auto ops = make_host_network_ops();
        ops->add_netns(netns);
        std::string error;
        try {
            ops->add_bridge(bridge, 1500, "10.254.254.1/30");
        } catch (const std::exception& e) {
            error = e.what();
        }
        if (ops->link_exists(bridge)) ops->remove_link(bridge);
        ops->remove_netns(netns);
        if (!error.empty()) return {"netns+bridge", CheckStatus::fail, "bridge: " + error};
    } catch (const std::exception& e) {
        return {"netns+bridge", CheckStatus::fail, e.what()};
    }
    return {"netns+bridge", CheckStatus::ok,
            "created and removed namespace " + netns + " and bridge " + bridge};
}

/// Boots the probe sector with `accel_args`; returns QEMU's status and output.
CommandResult boot_probe(const std::string& qemu, const std::vector<std::string>& accel_args,
                         int timeout_ms) {
    const fs::path image =
        fs::temp_directory_path() / ("ukrun-kvm-probe-" + std::to_string(::getpid()) + ".img");
    const auto sector = kvm_probe_boot_sector();
    std::ofstream(image, std::ios::binary)
        .write(reinterpret_cast<const char*>(sector.data()), static_cast<long>(sector.size()));
    std::vector<std::string> argv = {qemu};
    argv.insert(argv.end(), accel_args.begin(), accel_args.end());
    argv.insert(argv.end(), {"-M", "pc", "-m", "16", "-display", "none", "-nodefaults",
                             "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                             "-drive", "file=" + image.string() + ",format=raw,if=ide"});
    auto result = run_command(argv, timeout_ms);
    std::error_code ec;
    fs::remove(image, ec);
    return result;
}

/// The most telling line of QEMU's output: an error or internal-error line, else the last.
std::string qemu_reason(const std::string& output) {
    std::istringstream lines(output);
    std::string chosen, last;
    for (std::string line; std::getline(lines, line);) {
        if (line.empty()) continue;
        last = line;
        if (chosen.empty() && (line.find("error") != std::string::npos ||
                               line.find("Assertion") != std::string::npos))
            chosen = line;
    }
    return chosen.empty() ? last : chosen;
}

/// QEMU's version, KVM really usable (probe boot), and TCG as the fallback.
std::vector<Check> check_qemu_and_kvm(int timeout_ms) {
    const std::string qemu = find_in_path("qemu-system-x86_64");
    if (qemu.empty())
        return {{"qemu", CheckStatus::missing,
                 "qemu-system-x86_64 not in PATH; apt-get install qemu-system-x86 (vm, nanos)"}};
    std::vector<Check> rows = {{"qemu", CheckStatus::ok,
                                qemu + ": " + first_line(run_command({qemu, "--version"}).output)}};

    if (::access("/dev/kvm", R_OK | W_OK) != 0) {
        rows.push_back({"kvm", CheckStatus::warn,
                        "/dev/kvm absent or not accessible; QEMU backends use TCG (emulated, "
                        "marked in results)"});
    } else {
        const auto kvm = boot_probe(qemu, {"-accel", "kvm", "-cpu", "host"}, timeout_ms);
        if (kvm.exit_code == kProbeExitStatus) {
            rows.push_back({"kvm", CheckStatus::ok, "probe guest booted and exited under KVM"});
        } else {
            const std::string why = kvm.timed_out
                                        ? "no exit within " + std::to_string(timeout_ms / 1000) +
                                              " s (guest stuck or paused)"
                                        : "QEMU status " + std::to_string(kvm.exit_code);
            rows.push_back({"kvm", CheckStatus::warn,
                            "/dev/kvm present but unusable: " + why + ": " +
                                qemu_reason(kvm.output) +
                                "; QEMU backends use TCG (emulated, marked in results)"});
        }
    }
    const auto tcg = boot_probe(qemu, {"-accel", "tcg", "-cpu", "max"}, timeout_ms);
    rows.push_back(tcg.exit_code == kProbeExitStatus
                       ? Check{"tcg", CheckStatus::ok, "probe guest booted and exited under TCG"}
                       : Check{"tcg", CheckStatus::fail,
                               "probe guest failed under TCG: " + qemu_reason(tcg.output)});
    return rows;
}

Check check_nanos(const std::optional<std::string>& nanos_dir) {
    try {
        std::optional<fs::path> dir;
        if (nanos_dir) dir = *nanos_dir;
        const auto found = nanos::find_nanos(nanos::nanos_search_from_env(dir));
        std::string detail = found.kernel.string() + " (from " + found.source + ")";
        detail += found.mkfs.empty() ? "; no mkfs: images are built with ops" : "; mkfs found";
        return {"nanos", CheckStatus::ok, detail};
    } catch (const std::exception& e) {
        std::string text = e.what();
        std::replace(text.begin(), text.end(), '\n', ' ');
        return {"nanos", CheckStatus::missing, text};
    }
}

Check check_containers() {
    std::string found;
    for (const char* tool : {"podman", "ch-run"})
        if (const auto v = version_of(tool)) found += (found.empty() ? "" : "; ") + *v;
    if (found.empty())
        return {"containers", CheckStatus::missing,
                "neither podman nor ch-run in PATH; apt-get install podman runc (or "
                "charliecloud) for the container backend"};
    return {"containers", CheckStatus::ok, found};
}

}  // namespace

std::string pmix_library_version() {
    std::string version;
    if (void* lib = ::dlopen("libpmix.so.2", RTLD_LAZY | RTLD_LOCAL)) {
        using GetVersion = const char* (*)();
        if (auto get = reinterpret_cast<GetVersion>(::dlsym(lib, "PMIx_Get_version")))
            version = first_line(get());
        ::dlclose(lib);
    }
    return version;
}

bool kvm_probe_passes(int timeout_ms) {
    const std::string qemu = find_in_path("qemu-system-x86_64");
    if (qemu.empty() || ::access("/dev/kvm", R_OK | W_OK) != 0) return false;
    return boot_probe(qemu, {"-accel", "kvm", "-cpu", "host"}, timeout_ms).exit_code ==
           kProbeExitStatus;
}

std::vector<unsigned char> kvm_probe_boot_sector() {
    static constexpr unsigned char kCode[] = {0xFA,              // cli
                                              0x0F, 0x20, 0xE0,  // mov eax, cr4
                                              0x66, 0x0D, 0x00,
                                              0x00, 0x04, 0x00,  // or eax, 1 << 18 (OSXSAVE)
                                              0x0F, 0x22, 0xE0,  // mov cr4, eax
                                              0x66, 0x31, 0xC9,  // xor ecx, ecx
                                              0x0F, 0x01, 0xD0,  // xgetbv
                                              0xB0, 0x01,        // mov al, 1
                                              0xE6, 0xF4,        // out 0xf4, al (isa-debug-exit)
                                              0xF4,              // hlt
                                              0xEB, 0xFD};       // jmp back to hlt
    std::vector<unsigned char> sector(512, 0);
    std::copy(std::begin(kCode), std::end(kCode), sector.begin());
    sector[510] = 0x55;
    sector[511] = 0xAA;
    return sector;
}

std::vector<Check> run_doctor(const DoctorOptions& options) {
    std::vector<Check> checks = {check_mpirun(), check_pmix(), check_lattice(), check_srun()};
    if (options.probe_network) checks.push_back(check_network());
    for (auto& row : check_qemu_and_kvm(options.kvm_timeout_ms)) checks.push_back(row);
    checks.push_back(check_nanos(options.nanos_dir));
    checks.push_back(check_containers());
    return checks;
}

std::string status_text(CheckStatus status) {
    switch (status) {
        case CheckStatus::ok:
            return "ok";
        case CheckStatus::warn:
            return "warn";
        case CheckStatus::missing:
            return "missing";
        case CheckStatus::fail:
            return "FAIL";
    }
    return "?";
}

std::string format_checks(const std::vector<Check>& checks, int width) {
    constexpr int kName = 14, kStatus = 9;
    const int detail_width = std::max(20, width - kName - kStatus);
    std::ostringstream out;
    char head[64];
    std::snprintf(head, sizeof head, "%-*s%-*s%s\n", kName, "check", kStatus, "status", "detail");
    out << head;
    for (const auto& c : checks) {
        std::string detail = c.detail;
        bool first = true;
        do {
            size_t cut = detail.size();
            if (static_cast<int>(cut) > detail_width) {
                cut = detail.rfind(' ', static_cast<size_t>(detail_width));
                if (cut == std::string::npos || cut == 0) cut = static_cast<size_t>(detail_width);
            }
            char row[64];
            std::snprintf(row, sizeof row, "%-*s%-*s", kName, first ? c.name.c_str() : "", kStatus,
                          first ? status_text(c.status).c_str() : "");
            out << row << detail.substr(0, cut) << '\n';
            detail = cut < detail.size() ? detail.substr(cut + (detail[cut] == ' ')) : "";
            first = false;
        } while (!detail.empty());
    }
    return out.str();
}

bool process_backend_ready(const std::vector<Check>& checks) {
    int ready = 0;
    for (const auto& c : checks)
        if ((c.name == "mpirun" || c.name == "ukrun-lattice") && c.status == CheckStatus::ok)
            ++ready;
    return ready == 2;
}

}  // namespace ukrun::runner
