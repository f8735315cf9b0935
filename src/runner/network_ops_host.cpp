// NetworkOps on this host: links, addresses and MTUs by rtnetlink; named network namespaces
// by iproute2's `ip netns` (it owns the /run/netns bind-mount convention).
#include <filesystem>
#include <stdexcept>

#include "ukrun/runner/backend.hpp"
#include "ukrun/runner/netlink.hpp"

namespace ukrun::runner {

namespace {

/// Runs `ip ARGS...`; throws std::runtime_error with the command and its output on failure.
void ip(std::vector<std::string> args) {
    args.insert(args.begin(), "ip");
    const auto result = run_command(args, 10000);
    if (result.exit_code == 0) return;
    std::string line;
    for (const auto& a : args) line += (line.empty() ? "" : " ") + a;
    std::string output = result.output;
    while (!output.empty() && output.back() == '\n') output.pop_back();
    throw std::runtime_error("'" + line + "' failed: " + output +
                             " (run `ukrun doctor` to check namespaces and bridges)");
}

/// Splits "a.b.c.d/n" into address and prefix; throws std::invalid_argument when malformed.
std::pair<Ipv4, int> split_cidr(const std::string& text) {
    const auto slash = text.find('/');
    const auto address = parse_ipv4(text.substr(0, slash));
    if (slash == std::string::npos || !address)
        throw std::invalid_argument("'" + text + "' is not an address/prefix");
    return {*address, std::stoi(text.substr(slash + 1))};
}

/// NetworkOps over Netlink in the host namespace and in each named namespace.
class HostNetworkOps final : public NetworkOps {
  public:
    void add_netns(const std::string& name) override {
        ip({"netns", "add", name});
        Netlink inside(NetnsFd::named(name));
        inside.set_up("lo");
    }

    void remove_netns(const std::string& name) override { ip({"netns", "del", name}); }

    void add_bridge(const std::string& name, int mtu, const std::string& address_cidr) override {
        const auto [address, prefix] = split_cidr(address_cidr);
        host_.create_bridge(name, mtu);
        host_.set_address(name, address, prefix);
        host_.set_up(name);
    }

    void add_veth(const std::string& host_if, const std::string& peer_if, const std::string& bridge,
                  const std::string& netns, const std::string& address_cidr, int mtu) override {
        const auto [address, prefix] = split_cidr(address_cidr);
        host_.create_veth_pair(host_if, peer_if, mtu);
        host_.set_master(host_if, bridge);
        host_.set_up(host_if);
        const NetnsFd target = NetnsFd::named(netns);
        host_.move_to_netns(peer_if, target);
        Netlink inside(target);
        inside.set_mtu(peer_if, mtu);
        inside.set_address(peer_if, address, prefix);
        inside.set_up(peer_if);
    }

    void remove_link(const std::string& name) override { host_.delete_link(name); }

    bool link_exists(const std::string& name) override { return host_.link_exists(name); }

    bool netns_exists(const std::string& name) override {
        return std::filesystem::exists("/run/netns/" + name);
    }

    std::vector<std::string> subnet_users(const Cidr& subnet) override {
        std::vector<std::string> users;
        for (const auto& a : host_.ipv4_addresses())
            if (subnet.contains(a.address))
                users.push_back(a.link + " (" + to_string(a.address) + ")");
        return users;
    }

    void add_tap(const std::string& name, const std::string& bridge, int mtu) override {
        create_tap(name);
        host_.set_mtu(name, mtu);
        host_.set_master(name, bridge);
        host_.set_up(name);
    }

  private:
    Netlink host_;
};

}  // namespace

std::unique_ptr<NetworkOps> make_host_network_ops() {
    return std::make_unique<HostNetworkOps>();
}

}  // namespace ukrun::runner
