// The netns backend: each rank in its own network namespace (a veth on the job bridge) and
// mount namespace (private /tmp and /dev/shm). PMIx and Open MPI's TCP transport are
// restricted to the job subnet (FIELD-NOTES, "Isolated MPI ranks").
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include "ukrun/runner/backend.hpp"

namespace ukrun::runner {

namespace {

/// Throws std::system_error for a failed system call `what` when `result` is negative.
void check_call(int result, const std::string& what) {
    if (result < 0) throw std::system_error(errno, std::generic_category(), what);
}

/// "a.b.c.d/n" for an address in the job subnet.
std::string with_prefix(Ipv4 address, const Cidr& subnet) {
    return to_string(address) + "/" + std::to_string(subnet.prefix);
}

/// Ranks in network + mount namespaces, wired by veths to a bridge owned by the job.
class NetnsBackend final : public SubnetBackend {
  public:
    explicit NetnsBackend(std::unique_ptr<NetworkOps> ops) : ops_(std::move(ops)) {}
    ~NetnsBackend() override { cleanup(); }

    std::string name() const override { return "netns"; }

    void prepare(const JobPlan& plan) override {
        refuse_taken_network(*ops_, plan);
        const std::string gateway = with_prefix(plan.network.gateway, plan.network.subnet);
        ops_->add_bridge(plan.bridge, plan.network.mtu, gateway);
        bridge_ = plan.bridge;
        for (const auto& rank : plan.rank_plans) {
            ops_->add_netns(rank.netns);
            namespaces_.push_back(rank.netns);
            veths_.push_back(rank.host_if);
            ops_->add_veth(rank.host_if, rank.guest_if, plan.bridge, rank.netns,
                           with_prefix(rank.address, plan.network.subnet), plan.network.mtu);
        }
    }

    void cleanup() noexcept override {
        for (auto it = veths_.rbegin(); it != veths_.rend(); ++it)
            quietly([&] {
                if (ops_->link_exists(*it)) ops_->remove_link(*it);
            });
        for (auto it = namespaces_.rbegin(); it != namespaces_.rend(); ++it)
            quietly([&] {
                if (ops_->netns_exists(*it)) ops_->remove_netns(*it);
            });
        if (!bridge_.empty())
            quietly([&] {
                if (ops_->link_exists(bridge_)) ops_->remove_link(bridge_);
            });
        veths_.clear();
        namespaces_.clear();
        bridge_.clear();
    }

    void rank_environment(const JobPlan&, std::vector<std::string>& env) const override {
        // The shared-memory data store lives in the launcher's /tmp, which the rank cannot
        // see; the hash store (PMIX_MCA_gds=hash) is used instead.
        std::erase_if(env, [](const std::string& e) { return e.starts_with("PMIX_DSTORE_"); });
    }

    Child launch_rank(const JobPlan&, const RankPlan& rank, const std::vector<std::string>& argv,
                      const std::vector<std::string>& env) override {
        const std::string netns = rank.netns;
        const std::vector<std::string> keep = paths_kept_under_tmp(argv);
        return spawn({.argv = argv,
                      .env = env,
                      .new_process_group = false,
                      .capture_output = true,
                      .death_signal = SIGKILL,
                      .in_child = [netns, keep] { enter_rank_namespaces(netns, keep); }});
    }

  private:
    /// Runs a cleanup step, swallowing its error (cleanup never throws).
    template <typename F>
    static void quietly(F&& step) noexcept {
        try {
            step();
        } catch (...) {
        }
    }

    std::unique_ptr<NetworkOps> ops_;
    std::string bridge_;
    std::vector<std::string> namespaces_;
    std::vector<std::string> veths_;
};

}  // namespace

std::vector<std::pair<std::string, std::string>> SubnetBackend::launcher_environment(
    const JobPlan& plan) const {
    return {{"PMIX_MCA_ptl_tcp_if_include", to_string(plan.network.subnet)},
            {"PMIX_MCA_gds", "hash"}};
}

std::vector<std::string> SubnetBackend::launcher_mca(const JobPlan& plan) const {
    return {"--mca",
            "pml",
            "ob1",
            "--mca",
            "btl",
            "self,tcp",
            "--mca",
            "btl_tcp_if_include",
            to_string(plan.network.subnet)};
}

void refuse_taken_network(NetworkOps& ops, const JobPlan& plan) {
    // A job never touches an interface it did not create: existing names are an error.
    auto refuse = [](const std::string& what, const std::string& name) {
        throw std::runtime_error(what + " '" + name +
                                 "' already exists; it belongs to another job or was left "
                                 "behind: remove it (ip link del / ip netns del) or use "
                                 "another job id");
    };
    if (ops.link_exists(plan.bridge)) refuse("bridge", plan.bridge);
    if (const auto users = ops.subnet_users(plan.network.subnet); !users.empty())
        throw std::runtime_error("the job subnet " + to_string(plan.network.subnet) +
                                 " is already used on this host by " + users.front() +
                                 "; choose another [network] subnet in the topology or "
                                 "wait for the job that uses it");
    for (const auto& rank : plan.rank_plans) {
        if (!rank.host_if.empty() && ops.link_exists(rank.host_if))
            refuse("interface", rank.host_if);
        if (!rank.netns.empty() && ops.netns_exists(rank.netns))
            refuse("network namespace", rank.netns);
    }
}

std::unique_ptr<Backend> make_netns_backend(std::unique_ptr<NetworkOps> ops) {
    return std::make_unique<NetnsBackend>(std::move(ops));
}

std::vector<std::string> paths_kept_under_tmp(const std::vector<std::string>& argv) {
    std::vector<std::string> keep;
    auto consider = [&](const std::string& text) {
        if (!text.starts_with('/')) return;
        std::error_code error;
        const auto real = std::filesystem::canonical(text, error).string();
        if (error || !real.starts_with("/tmp/") || !std::filesystem::is_regular_file(real))
            return;
        if (std::find(keep.begin(), keep.end(), real) == keep.end()) keep.push_back(real);
    };
    for (const auto& arg : argv) {
        consider(arg);
        if (const auto colon = arg.find(':'); colon != std::string::npos)
            consider(arg.substr(colon + 1));
    }
    return keep;
}

namespace {

/// Bind-mounts `file` (a real path under /tmp) read-only from the host's /tmp, reached through
/// `old_tmp` (a descriptor of it opened before the private /tmp was mounted over it).
void keep_file(int old_tmp, const std::string& file) {
    const std::string relative = file.substr(std::string("/tmp/").size());
    for (auto slash = relative.find('/'); slash != std::string::npos;
         slash = relative.find('/', slash + 1)) {
        const std::string dir = "/tmp/" + relative.substr(0, slash);
        if (::mkdir(dir.c_str(), 0755) < 0 && errno != EEXIST) check_call(-1, "mkdir " + dir);
    }
    const int target = ::open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    check_call(target, "create mount point " + file);
    ::close(target);

    const std::string source = "/proc/self/fd/" + std::to_string(old_tmp) + "/" + relative;
    check_call(::mount(source.c_str(), file.c_str(), nullptr, MS_BIND, nullptr),
               "bind-mount " + file + " into the private /tmp");
    check_call(::mount(nullptr, file.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr),
               "make " + file + " read-only");
}

}  // namespace

void enter_rank_namespaces(const std::string& netns, const std::vector<std::string>& keep) {
    const std::string path = "/run/netns/" + netns;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    check_call(fd, "open " + path);
    check_call(::setns(fd, CLONE_NEWNET), "setns " + path);
    ::close(fd);

    check_call(::unshare(CLONE_NEWNS), "unshare mount namespace");
    check_call(::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr),
               "make / private in the rank's mount namespace");
    const int old_tmp = ::open("/tmp", O_PATH | O_DIRECTORY | O_CLOEXEC);
    check_call(old_tmp, "open /tmp");
    check_call(::mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"),
               "mount a private /tmp");
    for (const auto& file : keep) keep_file(old_tmp, file);
    ::close(old_tmp);
    check_call(::mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"),
               "mount a private /dev/shm");
    // /sys shows the namespace's own interfaces, as `ip netns exec` arranges.
    if (::umount2("/sys", MNT_DETACH) == 0) ::mount("sysfs", "/sys", "sysfs", 0, nullptr);
}

}  // namespace ukrun::runner
