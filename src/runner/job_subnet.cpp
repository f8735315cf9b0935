// Choosing a free /24 for a job on the built-in topology.
#include "ukrun/runner/job_subnet.hpp"

#include <cstdint>
#include <stdexcept>

#include "ukrun/runner/backend.hpp"

namespace ukrun::runner {

Cidr choose_job_subnet(const std::string& job_id, const std::function<bool(const Cidr&)>& in_use) {
    const Cidr range = *parse_cidr(kDefaultSubnetRange);
    std::uint32_t hash = 2166136261u;  // FNV-1a
    for (const char c : job_id) hash = (hash ^ static_cast<std::uint8_t>(c)) * 16777619u;
    for (std::uint32_t step = 0; step < 256; ++step) {
        const std::uint32_t third = (hash + step) % 256;
        const Cidr candidate{Ipv4{range.network.value | (third << 8)}, 24};
        if (!in_use(candidate)) return candidate;
    }
    throw std::runtime_error(std::string("every /24 of ") + kDefaultSubnetRange +
                             " is already used on this host; give a topology file with a free "
                             "[network] subnet (--topology)");
}

Cidr free_job_subnet(const std::string& job_id) {
    const auto ops = make_host_network_ops();
    return choose_job_subnet(
        job_id, [&](const Cidr& subnet) { return !ops->subnet_users(subnet).empty(); });
}

}  // namespace ukrun::runner
