// The nanos backend: one MPI rank per Nanos unikernel under QEMU, each guest on a tap in the
// job's bridge, wired to the host's launcher over the job subnet (docs/nanos.md).
#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <stdexcept>

#include "ukrun/runner/backend.hpp"
#include "ukrun/runner/log.hpp"
#include "ukrun/runner/commands.hpp"
#include "ukrun/runner/doctor.hpp"
#include "ukrun/runner/image.hpp"
#include "ukrun/runner/job.hpp"
#include "ukrun/runner/qemu.hpp"
#include "ukrun/runner/shim.hpp"

namespace ukrun::runner {

namespace nanos {

// Declared in image.hpp; shared by `ukrun image build` and the backend.
fs::path find_compat_library() {
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    for (const auto& candidate : {exe.parent_path() / "libukrun-nanos-compat.so",
                                  fs::path(UKRUN_LIBEXEC_DIR).parent_path().parent_path() / "lib" /
                                      "ukrun" / "libukrun-nanos-compat.so"})
        if (fs::is_regular_file(candidate, ec)) return candidate;
    return {};
}

}  // namespace nanos

namespace {

using namespace nanos;

/// The file in the job directory that hands the shims what prepare() found and collected.
constexpr const char* kJobFile = "nanos.json";

/// The kernel's line once en1 has its static address: the kernel is up.
constexpr std::string_view kBootMarker = "en1: assigned";

/// Bound on doctor's KVM probe boot in prepare(), in ms.
constexpr int kKvmProbeTimeoutMs = 4000;

/// The "nanos" logger on stderr; level from $UKRUN_LOG, default info.
std::shared_ptr<spdlog::logger> nanos_log() {
    return component_log("nanos", spdlog::level::info);
}

/// What prepare() writes for the shims: the install, the accelerator and the base manifest.
struct JobFile {
    NanosInstall install;
    Accelerator accel = Accelerator::tcg;
    NanosManifest base;
    std::string base_image;  ///< the cached base image (validated by mkfs), for the operator
};

/// `m` as JSON (host paths as strings).
nlohmann::json manifest_json(const NanosManifest& m) {
    nlohmann::json files = nlohmann::json::object();
    for (const auto& [guest, host] : m.files) files[guest] = host.string();
    return {{"files", files},           {"directories", m.directories}, {"program", m.program},
            {"arguments", m.arguments}, {"environment", m.environment}, {"settings", m.settings}};
}

/// The manifest manifest_json wrote; throws nlohmann::json::exception when a field is missing.
NanosManifest manifest_from_json(const nlohmann::json& j) {
    NanosManifest m;
    for (const auto& [guest, host] : j.at("files").items())
        m.files[guest] = host.get<std::string>();
    m.directories = j.at("directories").get<std::vector<std::string>>();
    m.program = j.at("program").get<std::string>();
    m.arguments = j.at("arguments").get<std::vector<std::string>>();
    m.environment = j.at("environment").get<std::map<std::string, std::string>>();
    m.settings = j.at("settings").get<std::map<std::string, std::string>>();
    return m;
}

/// Writes `job` to `path`; throws std::runtime_error naming the file.
void write_job_file(const fs::path& path, const JobFile& job) {
    const NanosInstall& n = job.install;
    const nlohmann::json j = {{"install",
                               {{"dir", n.dir},
                                {"kernel", n.kernel},
                                {"boot", n.boot},
                                {"klibs", n.klibs},
                                {"mkfs", n.mkfs},
                                {"source", n.source}}},
                              {"accelerator", accelerator_name(job.accel)},
                              {"base_image", job.base_image},
                              {"manifest", manifest_json(job.base)}};
    std::ofstream out(path);
    out << j.dump(1) << '\n';
    if (!out) throw std::runtime_error("cannot write " + path.string());
}

/// Reads the job file; throws std::runtime_error naming it.
JobFile read_job_file(const fs::path& path) {
    std::ifstream in(path);
    if (!in)
        throw std::runtime_error("cannot read " + path.string() +
                                 "; the nanos job was not prepared by ukrun run");
    try {
        const auto j = nlohmann::json::parse(in);
        JobFile job;
        const auto& n = j.at("install");
        job.install = {n.at("dir").get<std::string>(),  n.at("kernel").get<std::string>(),
                       n.at("boot").get<std::string>(), n.at("klibs").get<std::string>(),
                       n.at("mkfs").get<std::string>(), n.at("source").get<std::string>()};
        job.accel = j.at("accelerator") == "kvm" ? Accelerator::kvm : Accelerator::tcg;
        job.base_image = j.at("base_image").get<std::string>();
        job.base = manifest_from_json(j.at("manifest"));
        return job;
    } catch (const nlohmann::json::exception& e) {
        throw std::runtime_error(path.string() + ": " + e.what());
    }
}

/// True when `argv` chooses an instruction set (--isa X or --isa=X).
bool has_isa_option(const std::vector<std::string>& argv) {
    return std::any_of(argv.begin(), argv.end(), [](const std::string& a) {
        return a == "--isa" || a.starts_with("--isa=");
    });
}

/// The value after `--gauge` when it names an existing host file (it goes into the image).
fs::path gauge_file(const std::vector<std::string>& argv) {
    for (size_t i = 0; i + 1 < argv.size(); ++i) {
        std::error_code ec;
        if (argv[i] == "--gauge" && fs::is_regular_file(argv[i + 1], ec))
            return fs::absolute(argv[i + 1]).lexically_normal();
    }
    return {};
}

/// Ranks as Nanos guests under QEMU, one tap each on a bridge owned by the job.
class NanosBackend final : public SubnetBackend {
  public:
    NanosBackend(std::unique_ptr<NetworkOps> ops, BackendOptions options)
        : ops_(std::move(ops)), options_(std::move(options)) {}
    ~NanosBackend() override { cleanup(); }

    std::string name() const override { return "nanos"; }
    std::string accelerator() const override { return accelerator_name(accel_); }
    std::vector<std::pair<std::string, std::string>> versions() const override { return versions_; }

    void prepare(const JobPlan& plan) override {
        if (plan.job_dir.empty())
            throw std::runtime_error("the nanos backend needs the plan's job directory");
        JobFile job = find_and_collect();
        refuse_taken_network(*ops_, plan);

        const auto gateway =
            to_string(plan.network.gateway) + "/" + std::to_string(plan.network.subnet.prefix);
        bridge_ = plan.bridge;
        ops_->add_bridge(plan.bridge, plan.network.mtu, gateway);
        for (const auto& rank : plan.rank_plans) {
            taps_.push_back(rank.host_if);
            ops_->add_tap(rank.host_if, plan.bridge, plan.network.mtu);
        }
        nanos_log()->debug("bridge {} ({}), taps {}..{}, MTU {}", plan.bridge, gateway,
                           taps_.front(), taps_.back(), plan.network.mtu);
        write_job_file(fs::path(plan.job_dir) / kJobFile, job);
    }

    void cleanup() noexcept override {
        for (auto it = taps_.rbegin(); it != taps_.rend(); ++it) quietly_remove(*it);
        if (!bridge_.empty()) quietly_remove(bridge_);
        taps_.clear();
        bridge_.clear();
    }

    // guest_environment() in launch_rank picks and completes the guest's variables.
    void rank_environment(const JobPlan&, std::vector<std::string>&) const override {}

    Child launch_rank(const JobPlan& plan, const RankPlan& rank,
                      const std::vector<std::string>& argv,
                      const std::vector<std::string>& env) override {
        const JobFile job = read_job_file(fs::path(plan.job_dir) / kJobFile);
        rank_ = rank.rank;
        const fs::path rank_dir = fs::path(plan.job_dir) / ("nanos-r" + std::to_string(rank.rank));
        const BuiltImage image = write_image(rank_image(plan, rank, job, argv, env, rank_dir),
                                             job.install, rank_dir / "nanos.img");
        image_mib_ = static_cast<double>(image.bytes) / (1024.0 * 1024.0);

        QemuMachine machine;
        machine.image = image.image;
        machine.accel = job.accel;
        machine.memory_mib = plan.instance.memory_mib;
        machine.vcpus = plan.instance.vcpus;
        machine.tap = rank.host_if;
        machine.mac = rank.mac;
        const auto command = qemu_command(machine);
        std::string line;
        for (const auto& a : command) line += (line.empty() ? "" : " ") + a;
        nanos_log()->debug("rank {}: image {} ({:.0f} ms), qemu: {}", rank.rank,
                           image.image.string(), image.build_ms, line);

        qemu_start_ms_ = now_epoch_ms();
        return spawn({.argv = command,
                      .env = std::nullopt,
                      .new_process_group = false,
                      .capture_output = true,
                      .death_signal = SIGKILL,  // QEMU dies with the shim, even on SIGKILL
                      .in_child = [] {
                          // The serial console reads stdin: give it nothing.
                          const int null = ::open("/dev/null", O_RDONLY);
                          if (null >= 0) ::dup2(null, STDIN_FILENO);
                      }});
    }

    void on_rank_line(const std::string& line, double now_ms) override {
        if (boot_ms_ < 0 && line.find(kBootMarker) != std::string::npos)
            boot_ms_ = now_ms - qemu_start_ms_;
        if (line.find("MPI_Init done") != std::string::npos) mpi_init_seen_ = true;
        if (line.find(kResultTag) != std::string::npos) result_seen_ = true;
    }

    void finish_rank(int wait_status, RankStatus& status) override {
        status.boot_ms = boot_ms_;
        status.image_mib = image_mib_;
        if (status.mpi_init_epoch_ms > 0)
            status.mpi_init_ms = status.mpi_init_epoch_ms - qemu_start_ms_;

        const GuestExit guest = decode_guest_wait_status(wait_status);
        if (guest.kind == GuestExit::Kind::killed) return;  // 128 + signal, as the shim says
        if (guest.kind == GuestExit::Kind::program_exit && boot_ms_ >= 0) {
            status.exit_code = guest.status;
            if (rank_ == 0 && guest.status == 0 && !result_seen_) {
                status.exit_code = kExitJobFailed;
                status.failure = "the guest program exited 0 without a UKRUN-RESULT line";
            }
            return;
        }
        status.exit_code = kExitJobFailed;
        status.failure = (guest.kind == GuestExit::Kind::program_exit
                              ? std::string("QEMU exited with code 1 before the guest booted "
                                            "(its message is in the console lines)")
                              : guest.describe()) +
                         "; " + likely_cause();
    }

  private:
    /// Finds Nanos, QEMU and ukrun-lattice, collects the base manifest, builds or reuses the
    /// cached base image and picks the accelerator.
    JobFile find_and_collect() {
        JobFile job;
        job.install = find_nanos(nanos_search_from_env(
            options_.nanos_dir.empty() ? std::nullopt
                                       : std::optional<fs::path>(options_.nanos_dir)));
        if (job.install.mkfs.empty())
            throw std::runtime_error(
                "the Nanos in " + job.install.dir.string() +
                " has no mkfs, which the nanos backend needs for per-rank images; build "
                "nanovms/nanos (`make kernel tools`) and pass --nanos-dir to its output/");
        if (find_in_path("qemu-system-x86_64").empty())
            throw std::runtime_error(
                "qemu-system-x86_64 not in PATH; apt-get install qemu-system-x86");

        std::error_code ec;
        LatticeImageOptions image;
        image.lattice = find_lattice_binary(fs::read_symlink("/proc/self/exe", ec).string());
        image.compat_library = find_compat_library();
        if (image.compat_library.empty())
            nanos_log()->warn(
                "no libukrun-nanos-compat.so beside ukrun or installed: Open MPI "
                "hangs on Nanos kernels with the readv bug");
        job.base = lattice_manifest(image);
        const BuiltImage base = cached_image(job.base, job.install, default_image_cache());
        job.base_image = base.image.string();
        nanos_log()->info("Nanos from {} ({}); base image {} ({} files, {:.1f} MiB, {})",
                          job.install.dir.string(), job.install.source, job.base_image,
                          job.base.files.size(), base.bytes / (1024.0 * 1024.0),
                          base.reused ? "reused" : "built");

        job.accel = kvm_probe_passes(kKvmProbeTimeoutMs) ? Accelerator::kvm : Accelerator::tcg;
        accel_ = job.accel;
        const auto qemu = run_command({"qemu-system-x86_64", "--version"}, 5000).output;
        versions_ = {{"qemu", qemu.substr(0, qemu.find('\n'))},
                     {"nanos", job.install.kernel.string() + " (" + job.install.source +
                                   "), base image " + base.hash}};
        if (accel_ == Accelerator::tcg)
            nanos_log()->info(
                "KVM probe failed: guests run under TCG (emulated; timings are "
                "marked tcg)");
        return job;
    }

    /// This rank's manifest: the base plus its environment, address, host files and arguments.
    NanosManifest rank_image(const JobPlan& plan, const RankPlan& rank, const JobFile& job,
                             const std::vector<std::string>& argv,
                             const std::vector<std::string>& env, const fs::path& rank_dir) {
        RankSettings settings;
        settings.environment = guest_environment(env);
        settings.network = {to_string(rank.address), to_string(plan.network.subnet.netmask()),
                            to_string(plan.network.gateway)};
        settings.hostname = rank.instance;
        settings.hosts = {{to_string(rank.address), rank.instance}};
        NanosManifest manifest = rank_manifest(job.base, settings, rank_dir);

        manifest.arguments = {job.base.program};
        manifest.arguments.insert(manifest.arguments.end(), argv.begin() + 1, argv.end());
        if (job.accel == Accelerator::tcg && !has_isa_option(argv)) {
            manifest.arguments.insert(manifest.arguments.end(), {"--isa", "scalar"});
            if (rank.rank == 0)
                nanos_log()->info(
                    "TCG: passing --isa scalar to ukrun-lattice (emulated AVX2 is "
                    "about 4x slower); give --isa to choose");
        }
        if (const fs::path gauge = gauge_file(argv); !gauge.empty())
            manifest.files[gauge.string()] = gauge;
        return manifest;
    }

    /// Why a guest probably stopped without exiting, from what its console showed.
    std::string likely_cause() const {
        if (boot_ms_ < 0)
            return "the kernel never configured en1: QEMU could not start, or Nanos did not boot "
                   "(see the console lines)";
        if (!mpi_init_seen_)
            return "the guest stopped before MPI_Init completed: the program or a library "
                   "crashed, or PMIx could not reach the launcher over the job bridge";
        return "the guest stopped after MPI_Init without exiting: the program crashed or the "
               "kernel faulted (see the console lines)";
    }

    /// Deletes link `name` when it exists; never throws.
    void quietly_remove(const std::string& name) noexcept {
        try {
            if (ops_->link_exists(name)) ops_->remove_link(name);
        } catch (const std::exception& e) {
            nanos_log()->warn("could not remove {}: {}; remove it with ip link del {}", name,
                              e.what(), name);
        }
    }

    std::unique_ptr<NetworkOps> ops_;
    BackendOptions options_;
    Accelerator accel_ = Accelerator::tcg;
    std::vector<std::pair<std::string, std::string>> versions_;
    std::string bridge_;
    std::vector<std::string> taps_;
    // Shim side: one rank.
    int rank_ = -1;
    double qemu_start_ms_ = -1;
    double boot_ms_ = -1;
    double image_mib_ = -1;
    bool mpi_init_seen_ = false;
    bool result_seen_ = false;
};

}  // namespace

std::unique_ptr<Backend> make_nanos_backend(std::unique_ptr<NetworkOps> ops,
                                            const BackendOptions& options) {
    return std::make_unique<NanosBackend>(std::move(ops), options);
}

}  // namespace ukrun::runner
