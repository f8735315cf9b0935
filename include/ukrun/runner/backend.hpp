// Backends: where a rank lives. Each implements the same small interface: prepare the job
// (coordinator side), describe the launcher's environment, start one rank (shim side) and
// clean up. A new backend is one file plus one line in make_backend.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "ukrun/runner/plan.hpp"
#include "ukrun/runner/process.hpp"

namespace ukrun::runner {

struct RankStatus;

/// One backend. Coordinator calls: prepare, launcher_environment, launcher_mca, cleanup.
/// Shim calls: rank_environment, launch_rank.
class Backend {
  public:
    virtual ~Backend() = default;

    /// "process", "netns", ...
    virtual std::string name() const = 0;

    /// True when ranks are isolated from the host network (PMIx over the job subnet).
    virtual bool isolated() const = 0;

    /// Creates what the job needs before the launcher starts (bridge, veths, namespaces).
    /// Throws std::runtime_error naming what failed and how to fix it; whatever was created
    /// before the failure is removed by cleanup().
    virtual void prepare(const JobPlan& plan) = 0;

    /// Removes everything prepare created, and nothing else. Safe to call twice; never throws.
    virtual void cleanup() noexcept = 0;

    /// Variables for the launcher's (PMIx server's) environment, as NAME, value.
    virtual std::vector<std::pair<std::string, std::string>> launcher_environment(
        const JobPlan& plan) const = 0;

    /// MCA arguments for mpirun ("--mca", name, value, ...).
    virtual std::vector<std::string> launcher_mca(const JobPlan& plan) const = 0;

    /// Adjusts a rank's filtered environment ("NAME=value") for this backend.
    virtual void rank_environment(const JobPlan& plan, std::vector<std::string>& env) const = 0;

    /// Starts one rank as a child of the shim with its output captured. Throws
    /// std::system_error naming the rank when it cannot start.
    virtual Child launch_rank(const JobPlan& plan, const RankPlan& rank,
                              const std::vector<std::string>& argv,
                              const std::vector<std::string>& env) = 0;

    /// Shim side: sees each output line of the launched rank at `now_ms` (epoch ms).
    virtual void on_rank_line(const std::string& line, double now_ms) {
        (void)line;
        (void)now_ms;
    }

    /// Shim side: completes the status of the ended rank from its waitpid `wait_status`
    /// (instance backends decode the guest's exit, boot time, image size). Never throws.
    virtual void finish_rank(int wait_status, RankStatus& status) {
        (void)wait_status;
        (void)status;
    }

    /// The accelerator the run is recorded with: "none", "kvm" or "tcg"; valid after prepare().
    virtual std::string accelerator() const { return "none"; }

    /// Versions recorded with the run besides ukrun's, Open MPI's and the kernel's, as name,
    /// value (e.g. "qemu", "nanos"); valid after prepare().
    virtual std::vector<std::pair<std::string, std::string>> versions() const { return {}; }
};

/// The names make_backend accepts.
std::vector<std::string> backend_names();

/// The backend called `name`. Throws std::invalid_argument listing the known names.
std::unique_ptr<Backend> make_backend(const std::string& name);

/// Command-line settings some backends take.
struct BackendOptions {
    std::string nanos_dir;  ///< --nanos-dir; empty: $UKRUN_NANOS_DIR, then ~/.ops
};

/// The backend called `name` with `options`. Throws like make_backend(name).
std::unique_ptr<Backend> make_backend(const std::string& name, const BackendOptions& options);

/// The host network operations the netns backend needs; faked in unit tests.
class NetworkOps {
  public:
    virtual ~NetworkOps() = default;
    /// Creates a named network namespace (/run/netns/NAME) with lo up.
    virtual void add_netns(const std::string& name) = 0;
    virtual void remove_netns(const std::string& name) = 0;
    /// Creates a bridge with `mtu`, address `address_cidr` ("10.0.0.1/24"), and sets it up.
    virtual void add_bridge(const std::string& name, int mtu, const std::string& address_cidr) = 0;
    /// Creates a veth pair: `host_if` enslaved to `bridge` and up, `peer_if` moved into
    /// `netns` with `address_cidr` and `mtu`, up.
    virtual void add_veth(const std::string& host_if, const std::string& peer_if,
                          const std::string& bridge, const std::string& netns,
                          const std::string& address_cidr, int mtu) = 0;
    /// Deletes a link (a veth end takes its peer with it).
    virtual void remove_link(const std::string& name) = 0;
    /// True when a link called `name` exists in the host namespace.
    virtual bool link_exists(const std::string& name) = 0;
    /// True when /run/netns/NAME exists.
    virtual bool netns_exists(const std::string& name) = 0;
    /// Host interfaces holding an address inside `subnet`, as "NAME (ADDRESS)"; empty when
    /// the subnet is free.
    virtual std::vector<std::string> subnet_users(const Cidr& subnet) = 0;
    /// Creates persistent tap `name` with `mtu`, enslaved to `bridge` and up. Throws
    /// std::runtime_error naming the tap; this default says the operations cannot make taps.
    virtual void add_tap(const std::string& name, const std::string& bridge, int mtu) {
        (void)bridge;
        (void)mtu;
        throw std::runtime_error("cannot create tap " + name + ": no tap support here");
    }
};

/// A backend whose ranks reach the launcher's PMIx server over the job subnet (netns, nanos):
/// PMIx listens on the bridge with the hash data store, Open MPI uses pml ob1 and btl
/// self,tcp restricted to the subnet (FIELD-NOTES, "Isolated MPI ranks").
class SubnetBackend : public Backend {
  public:
    bool isolated() const override { return true; }
    std::vector<std::pair<std::string, std::string>> launcher_environment(
        const JobPlan& plan) const override;
    std::vector<std::string> launcher_mca(const JobPlan& plan) const override;
};

/// Refuses a job whose bridge, host interfaces or namespaces already exist, or whose subnet
/// is used on this host: throws std::runtime_error naming the thing and the fix.
void refuse_taken_network(NetworkOps& ops, const JobPlan& plan);

/// The nanos backend over the given network operations (tests pass a fake); `options` says
/// where Nanos is.
std::unique_ptr<Backend> make_nanos_backend(std::unique_ptr<NetworkOps> ops,
                                            const BackendOptions& options);

/// NetworkOps on this host: links through rtnetlink (netlink.hpp), named namespaces through
/// `ip netns`. Each failure throws std::runtime_error naming the operation and the interface.
std::unique_ptr<NetworkOps> make_host_network_ops();

/// The netns backend over the given network operations (tests pass a fake).
std::unique_ptr<Backend> make_netns_backend(std::unique_ptr<NetworkOps> ops);

/// Host files under /tmp that a rank must still see under its private /tmp: the program
/// and every existing absolute path among its arguments (also after a "kind:" prefix, as in
/// `--gauge milc:/tmp/lat`). Resolved to real paths.
std::vector<std::string> paths_kept_under_tmp(const std::vector<std::string>& argv);

/// Moves the calling process into network namespace `netns` (/run/netns/NAME) and a new
/// mount namespace with private, empty tmpfs /tmp and /dev/shm; each file of `keep` (real
/// paths under /tmp) is bind-mounted read-only at the same path in the new /tmp. Throws
/// std::system_error naming the step.
void enter_rank_namespaces(const std::string& netns, const std::vector<std::string>& keep = {});

}  // namespace ukrun::runner
