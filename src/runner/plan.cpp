// The job plan: which node, address, MAC and interface names each rank gets, and its JSON form.
#include "ukrun/runner/plan.hpp"

#include <array>
#include <cstdio>
#include <random>
#include <stdexcept>

namespace ukrun::runner {

namespace {

constexpr std::array<const char*, 5> kBackends = {"process", "netns", "container", "vm", "nanos"};
constexpr std::size_t kMaxJobIdChars = 6;

void check_job_id(const std::string& job_id) {
    bool ok = !job_id.empty() && job_id.size() <= kMaxJobIdChars;
    for (const char c : job_id) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));
    if (!ok) {
        throw std::invalid_argument("job id '" + job_id +
                                    "' must be 1 to 6 characters of [a-z0-9]; use new_job_id()");
    }
}

void check_backend(const std::string& backend) {
    for (const char* known : kBackends)
        if (backend == known) return;
    throw std::invalid_argument("unknown backend '" + backend +
                                "'; use process, netns, container, vm or nanos");
}

/// The MAC octets before the rank bytes: the topology's prefix, or 52:54 and two bytes hashed
/// from the job id (so jobs sharing a bridge are unlikely to share MACs).
std::vector<std::uint8_t> mac_prefix_octets(const NetworkConfig& net, const std::string& job_id) {
    std::vector<std::uint8_t> octets;
    if (!net.mac_prefix.empty()) {
        for (std::size_t i = 0; i < net.mac_prefix.size(); i += 3) {
            octets.push_back(
                static_cast<std::uint8_t>(std::stoul(net.mac_prefix.substr(i, 2), nullptr, 16)));
        }
        return octets;
    }
    std::uint32_t hash = 2166136261u;  // FNV-1a
    for (const char c : job_id) hash = (hash ^ static_cast<std::uint8_t>(c)) * 16777619u;
    return {0x52, 0x54, static_cast<std::uint8_t>(hash >> 8), static_cast<std::uint8_t>(hash)};
}

std::string mac_for_rank(const std::vector<std::uint8_t>& prefix, int rank) {
    std::array<std::uint8_t, 6> mac{};
    for (std::size_t i = 0; i < prefix.size(); ++i) mac[i] = prefix[i];
    std::uint64_t value = static_cast<std::uint64_t>(rank);
    for (std::size_t i = 6; i-- > prefix.size();) {
        mac[i] = static_cast<std::uint8_t>(value & 0xff);
        value >>= 8;
    }
    char text[18];
    std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
                  mac[3], mac[4], mac[5]);
    return text;
}

/// The interface name the rank sees inside its instance.
std::string guest_interface(const std::string& backend, const std::string& job_id, int rank) {
    if (backend == "nanos") return "en1";
    if (backend == "vm") return "eth0";
    if (backend == "netns" || backend == "container") {
        return "uk" + job_id + "p" + std::to_string(rank);
    }
    return {};
}

Ipv4 address_from_json(const nlohmann::json& j, const char* what) {
    const std::string text = j.get<std::string>();
    const auto address = parse_ipv4(text);
    if (!address) {
        throw std::invalid_argument(std::string("job plan: ") + what + " '" + text +
                                    "' is not an IPv4 address; rewrite the plan with ukrun run");
    }
    return *address;
}

}  // namespace

JobPlan make_plan(const Topology& topology, const std::string& backend, int ranks,
                  const std::string& job_id) {
    check_job_id(job_id);
    check_backend(backend);
    const auto problems = check_capacity(topology, ranks);
    if (!problems.empty()) throw TopologyError(problems);

    JobPlan plan;
    plan.job_id = job_id;
    plan.backend = backend;
    plan.ranks = ranks;
    plan.network = topology.network;
    plan.instance = topology.instance;
    plan.bridge = topology.network.bridge.empty() ? "ukb" + job_id : topology.network.bridge;

    const auto placement = place_ranks(topology, ranks);
    const auto addresses = instance_addresses(topology, ranks);
    const auto mac_prefix = mac_prefix_octets(topology.network, job_id);
    const bool has_interface = backend != "process";
    const bool has_netns = backend == "netns" || backend == "container";
    for (int r = 0; r < ranks; ++r) {
        RankPlan rp;
        rp.rank = r;
        rp.node = topology.nodes[placement[r]].name;
        rp.instance = "uk" + job_id + "-r" + std::to_string(r);
        rp.address = addresses[r];
        rp.mac = mac_for_rank(mac_prefix, r);
        if (has_interface) rp.host_if = "uk" + job_id + "r" + std::to_string(r);
        rp.guest_if = guest_interface(backend, job_id, r);
        if (has_netns) rp.netns = "ukrun-" + job_id + "-r" + std::to_string(r);
        plan.rank_plans.push_back(std::move(rp));
    }
    return plan;
}

std::string new_job_id() {
    static constexpr char kDigits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    std::random_device device;
    std::uniform_int_distribution<int> digit(0, 35);
    std::string id;
    for (std::size_t i = 0; i < kMaxJobIdChars; ++i) id += kDigits[digit(device)];
    return id;
}

void to_json(nlohmann::json& j, const JobPlan& plan) {
    const NetworkConfig& net = plan.network;
    j = nlohmann::json{
        {"job_id", plan.job_id},
        {"backend", plan.backend},
        {"ranks", plan.ranks},
        {"bridge", plan.bridge},
        {"job_dir", plan.job_dir},
        {"network",
         {{"subnet", to_string(net.subnet)},
          {"gateway", to_string(net.gateway)},
          {"mtu", net.mtu},
          {"bridge", net.bridge},
          {"mac_prefix", net.mac_prefix},
          {"pool_start",
           net.pool_start ? nlohmann::json(to_string(*net.pool_start)) : nlohmann::json(nullptr)},
          {"line", net.line},
          {"subnet_line", net.subnet_line}}},
        {"instance",
         {{"memory_mib", plan.instance.memory_mib},
          {"vcpus", plan.instance.vcpus},
          {"line", plan.instance.line}}},
        {"rank_plans", nlohmann::json::array()},
    };
    for (const RankPlan& rp : plan.rank_plans) {
        j["rank_plans"].push_back({{"rank", rp.rank},
                                   {"node", rp.node},
                                   {"instance", rp.instance},
                                   {"address", to_string(rp.address)},
                                   {"mac", rp.mac},
                                   {"host_if", rp.host_if},
                                   {"guest_if", rp.guest_if},
                                   {"netns", rp.netns}});
    }
}

void from_json(const nlohmann::json& j, JobPlan& plan) {
    plan.job_id = j.at("job_id").get<std::string>();
    plan.backend = j.at("backend").get<std::string>();
    plan.ranks = j.at("ranks").get<int>();
    plan.bridge = j.at("bridge").get<std::string>();
    plan.job_dir = j.value("job_dir", std::string{});

    const auto& net = j.at("network");
    const std::string subnet = net.at("subnet").get<std::string>();
    const auto cidr = parse_cidr(subnet);
    if (!cidr) {
        throw std::invalid_argument("job plan: subnet '" + subnet +
                                    "' is not a CIDR network; rewrite the plan with ukrun run");
    }
    plan.network.subnet = *cidr;
    plan.network.gateway = address_from_json(net.at("gateway"), "gateway");
    plan.network.mtu = net.at("mtu").get<int>();
    plan.network.bridge = net.at("bridge").get<std::string>();
    plan.network.mac_prefix = net.at("mac_prefix").get<std::string>();
    plan.network.pool_start.reset();
    if (!net.at("pool_start").is_null()) {
        plan.network.pool_start = address_from_json(net.at("pool_start"), "pool_start");
    }
    plan.network.line = net.value("line", 0);
    plan.network.subnet_line = net.value("subnet_line", 0);

    const auto& instance = j.at("instance");
    plan.instance.memory_mib = instance.at("memory_mib").get<int>();
    plan.instance.vcpus = instance.at("vcpus").get<int>();
    plan.instance.line = instance.value("line", 0);

    plan.rank_plans.clear();
    for (const auto& r : j.at("rank_plans")) {
        RankPlan rp;
        rp.rank = r.at("rank").get<int>();
        rp.node = r.at("node").get<std::string>();
        rp.instance = r.at("instance").get<std::string>();
        rp.address = address_from_json(r.at("address"), "rank address");
        rp.mac = r.at("mac").get<std::string>();
        rp.host_if = r.at("host_if").get<std::string>();
        rp.guest_if = r.at("guest_if").get<std::string>();
        rp.netns = r.at("netns").get<std::string>();
        plan.rank_plans.push_back(std::move(rp));
    }
}

}  // namespace ukrun::runner
