// Bridges, veth pairs, addresses and MTUs through rtnetlink (libnl-route), in this network
// namespace or another one, plus a guard that removes what a job created on every exit path.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "ukrun/runner/topology.hpp"

struct nl_sock;

namespace ukrun::runner {

/// A failed netlink request; what() names the operation, the interface and the kernel's reason.
class NetlinkError : public std::runtime_error {
  public:
    NetlinkError(const std::string& what, int nl_error);
    /// libnl's error code (positive NLE_* value), e.g. NLE_EXIST when a link already exists.
    int nl_error() const { return nl_error_; }

  private:
    int nl_error_ = 0;
};

/// One IPv4 address configured on an interface.
struct LinkAddress {
    std::string link;  ///< interface name
    Ipv4 address;
    int prefix = 0;
};

/// An owned file descriptor of a network namespace (/proc/PID/ns/net or /run/netns/NAME).
class NetnsFd {
  public:
    NetnsFd() = default;
    /// Opens `path`. Throws NetlinkError naming the path when it cannot be opened.
    explicit NetnsFd(const std::string& path);
    /// The namespace of a named one made by `ip netns add NAME`. Throws like the constructor.
    static NetnsFd named(const std::string& name);
    /// A new, empty, anonymous network namespace (it lives while this fd or a process holds
    /// it). Throws NetlinkError when unshare(CLONE_NEWNET) fails (needs CAP_SYS_ADMIN).
    static NetnsFd create_anonymous();
    NetnsFd(NetnsFd&& other) noexcept : fd_(other.release()) {}
    NetnsFd& operator=(NetnsFd&& other) noexcept;
    NetnsFd(const NetnsFd&) = delete;
    NetnsFd& operator=(const NetnsFd&) = delete;
    ~NetnsFd();
    int fd() const { return fd_; }
    int release();

  private:
    int fd_ = -1;
};

/// A netlink route socket bound to one network namespace. Every call throws NetlinkError on
/// failure; names are at most 15 characters (checked before the kernel sees them).
class Netlink {
  public:
    /// A socket in the caller's network namespace. Throws NetlinkError when it cannot connect.
    Netlink();
    /// A socket in the namespace `netns` (the caller's own namespace is left unchanged).
    explicit Netlink(const NetnsFd& netns);
    ~Netlink();
    Netlink(const Netlink&) = delete;
    Netlink& operator=(const Netlink&) = delete;

    /// Creates bridge `name` (down) with `mtu` bytes. Throws when it exists.
    void create_bridge(const std::string& name, int mtu);
    /// Creates the veth pair `name` <-> `peer` (both down, both `mtu` bytes) in this namespace.
    void create_veth_pair(const std::string& name, const std::string& peer, int mtu);
    /// Moves link `name` into the namespace `netns` (it keeps its name; it goes down).
    void move_to_netns(const std::string& name, const NetnsFd& netns);
    /// Moves link `name` into the named namespace /run/netns/`netns_name`.
    void move_to_netns(const std::string& name, const std::string& netns_name);
    /// Makes `bridge` the master of link `name` (attaches a veth or tap as a bridge port).
    void set_master(const std::string& name, const std::string& bridge);
    /// Adds `address`/`prefix` to link `name` (broadcast derived from the prefix).
    void set_address(const std::string& name, Ipv4 address, int prefix);
    /// Sets the MTU of link `name`, in bytes.
    void set_mtu(const std::string& name, int mtu);
    /// Brings link `name` up.
    void set_up(const std::string& name);
    /// Deletes link `name` (a veth takes its peer with it). Returns false when it did not exist.
    bool delete_link(const std::string& name);
    /// Whether link `name` exists in this namespace.
    bool link_exists(const std::string& name);
    /// The MTU of link `name` in bytes. Throws when it does not exist.
    int mtu(const std::string& name);
    /// Every IPv4 address on every interface of this namespace.
    std::vector<LinkAddress> ipv4_addresses();

  private:
    int ifindex(const std::string& name);
    nl_sock* sock_ = nullptr;
};

/// Remembers links a job created and deletes them, newest first, when destroyed (or on
/// cleanup()). Deleting is best effort: a link already gone is not an error.
class LinkGuard {
  public:
    explicit LinkGuard(Netlink& netlink) : netlink_(netlink) {}
    ~LinkGuard() { cleanup(); }
    LinkGuard(const LinkGuard&) = delete;
    LinkGuard& operator=(const LinkGuard&) = delete;
    /// Records `name` for deletion.
    void own(const std::string& name) { names_.push_back(name); }
    /// Deletes every recorded link now; returns how many existed and were removed.
    int cleanup() noexcept;

  private:
    Netlink& netlink_;
    std::vector<std::string> names_;
};

/// Creates persistent tap `name` (IFF_TAP, no packet info) through /dev/net/tun, down, in the
/// caller's network namespace; delete it like any link. Throws NetlinkError naming the tap.
void create_tap(const std::string& name);

/// Whether `name` is a usable Linux interface name: 1..15 characters, none of '/', ':' or
/// whitespace, not "." or "..". Returns the reason when not, else an empty string.
std::string interface_name_problem(const std::string& name);

}  // namespace ukrun::runner
