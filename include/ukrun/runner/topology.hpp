// Topology files (topology/*.toml): the job network, instance size and nodes; parsing and
// static validation with FILE:LINE diagnostics.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace ukrun::runner {

/// An IPv4 address in host byte order.
struct Ipv4 {
    std::uint32_t value = 0;
    friend bool operator==(Ipv4, Ipv4) = default;
    friend auto operator<=>(Ipv4, Ipv4) = default;
};

/// Parses dotted-quad text; nullopt when it is not an IPv4 address.
std::optional<Ipv4> parse_ipv4(const std::string& text);

/// Dotted-quad text.
std::string to_string(Ipv4 address);

/// An IPv4 network: base address and prefix length.
struct Cidr {
    Ipv4 network;
    int prefix = 0;
    Ipv4 netmask() const;
    Ipv4 broadcast() const;
    bool contains(Ipv4 address) const;
};

/// Parses "a.b.c.d/n"; nullopt when malformed or when host bits are set.
std::optional<Cidr> parse_cidr(const std::string& text);

/// "a.b.c.d/n".
std::string to_string(const Cidr& cidr);

/// One problem found in a topology file; `text()` is "FILE:LINE: what is wrong; how to fix it".
struct Diagnostic {
    std::string file;
    int line = 0;  ///< 1-based; 0 when the problem has no single line (e.g. a missing table)
    std::string message;
    std::string text() const;
};

/// Thrown by load_topology when the file cannot be read or is invalid; holds every problem.
class TopologyError : public std::runtime_error {
public:
    explicit TopologyError(std::vector<Diagnostic> diagnostics);
    const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }

private:
    std::vector<Diagnostic> diagnostics_;
};

/// [network]: the job bridge and subnet.
struct NetworkConfig {
    Cidr subnet;               ///< the job subnet
    Ipv4 gateway;              ///< host side of the bridge; the PMIx server listens here
    int mtu = 1500;            ///< bytes, on bridge, veths and taps
    std::string bridge;        ///< bridge name, at most 15 characters
    std::string mac_prefix;    ///< "52:54:00:xx" style prefix for instance MACs
    std::optional<Ipv4> pool_start;  ///< first instance address (default: gateway + 1)
    int line = 0;              ///< line of the [network] table
    int subnet_line = 0;       ///< line of the subnet key (0 for the built-in default)
};

/// [instance]: the size of one rank's instance (VM, unikernel, container).
struct InstanceConfig {
    int memory_mib = 512;
    int vcpus = 1;
    int line = 0;
};

/// [[node]]: a host that runs instances.
struct NodeConfig {
    std::string name;
    Ipv4 address;
    int cpus = 1;
    int memory_mib = 1024;
    int line = 0;
};

/// A whole topology file, parsed.
struct Topology {
    std::string path;  ///< as given by the user, used in diagnostics
    std::string text;  ///< the file's text, stored with each run
    NetworkConfig network;
    InstanceConfig instance;
    std::vector<NodeConfig> nodes;
};

/// Reads and statically validates a topology file. Throws TopologyError listing every problem.
Topology load_topology(const std::string& path);

/// Parses topology text as if read from `path`. Throws TopologyError listing every problem.
Topology parse_topology(const std::string& text, const std::string& path);

/// Checks that `ranks` instances fit: enough addresses in the pool, memory and vCPUs on the
/// nodes. Returns the problems (empty when it fits).
std::vector<Diagnostic> check_capacity(const Topology& topology, int ranks);

/// The built-in topology used when no --topology is given (one node: this host).
Topology default_topology();

/// The built-in topology with job subnet `subnet` (gateway: its first host address); the
/// no-argument form uses 10.213.0.0/24.
Topology default_topology(const Cidr& subnet);

/// How many instance addresses the pool holds: from pool_start (default gateway + 1) to the
/// last host address of the subnet, without the gateway and node addresses.
std::int64_t address_capacity(const Topology& topology);

/// The first `count` instance addresses of the pool, in order (fewer when it runs out).
std::vector<Ipv4> instance_addresses(const Topology& topology, int count);

/// The node index of each of `ranks` ranks: nodes are filled in file order up to
/// cpus / instance.vcpus instances each (at least one), then further ranks go round robin.
std::vector<int> place_ranks(const Topology& topology, int ranks);

}  // namespace ukrun::runner
