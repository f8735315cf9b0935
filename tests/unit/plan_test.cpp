// The job plan: deterministic, every address, MAC and name unique and valid for 1..64 ranks,
// JSON round trip, job ids.
#include "ukrun/runner/plan.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "test_paths.hpp"
#include "ukrun/runner/netlink.hpp"

namespace {

using namespace ukrun::runner;

/// Two nodes with room for 64 ranks; node b sits inside the pool, so the plan must skip it.
Topology big_topology() {
    return parse_topology(R"([network]
subnet = "10.90.0.0/24"
gateway = "10.90.0.1"
mtu = 9000

[instance]
memory_mib = 256
vcpus = 1

[[node]]
name = "a"
address = "192.168.7.1"
cpus = 40
memory_mib = 65536

[[node]]
name = "b"
address = "10.90.0.5"
cpus = 40
memory_mib = 65536
)",
                          "big.toml");
}

Topology full_topology() {
    return load_topology(
        (ukrun::test::source_dir() / "tests" / "data" / "topology" / "good_full.toml").string());
}

TEST(Plan, IsDeterministic) {
    const Topology t = big_topology();
    for (const char* backend : {"process", "netns", "nanos"}) {
        const nlohmann::json first = make_plan(t, backend, 7, "abc123");
        const nlohmann::json second = make_plan(t, backend, 7, "abc123");
        EXPECT_EQ(first, second) << backend;
    }
    EXPECT_NE(nlohmann::json(make_plan(t, "netns", 7, "abc123")),
              nlohmann::json(make_plan(t, "netns", 7, "abc124")));
}

TEST(Plan, EverythingIsUniqueAndValidFor1To64Ranks) {
    const Topology t = big_topology();
    for (int ranks = 1; ranks <= 64; ++ranks) {
        SCOPED_TRACE(ranks);
        const JobPlan plan = make_plan(t, "netns", ranks, "q9z0x1");
        ASSERT_EQ(plan.rank_plans.size(), static_cast<std::size_t>(ranks));
        std::set<std::uint32_t> addresses;
        std::set<std::string> macs, names;
        for (const RankPlan& rp : plan.rank_plans) {
            EXPECT_TRUE(t.network.subnet.contains(rp.address));
            EXPECT_NE(rp.address, t.network.gateway);
            EXPECT_NE(rp.address, t.network.subnet.network);
            EXPECT_NE(rp.address, t.network.subnet.broadcast());
            EXPECT_NE(to_string(rp.address), "10.90.0.5") << "node b's address";
            addresses.insert(rp.address.value);
            macs.insert(rp.mac);
            const unsigned first_octet = std::stoul(rp.mac.substr(0, 2), nullptr, 16);
            EXPECT_EQ(first_octet & 0x03u, 0x02u) << rp.mac << " must be unicast, local";
            for (const std::string& name : {rp.host_if, rp.guest_if}) {
                EXPECT_EQ(interface_name_problem(name), "") << name;
                EXPECT_NE(name.rfind("vir", 0), 0u) << name;
                names.insert(name);
            }
            names.insert(rp.netns);
            names.insert(rp.instance);
        }
        EXPECT_EQ(addresses.size(), static_cast<std::size_t>(ranks));
        EXPECT_EQ(macs.size(), static_cast<std::size_t>(ranks));
        EXPECT_EQ(names.size(), static_cast<std::size_t>(4 * ranks));
    }
}

TEST(Plan, NamesAddressesAndNodesOfOneRank) {
    const JobPlan plan = make_plan(big_topology(), "netns", 45, "k3m9p2");
    EXPECT_EQ(plan.bridge, "ukbk3m9p2");
    EXPECT_EQ(plan.network.mtu, 9000);
    const RankPlan& r4 = plan.rank_plans[4];
    EXPECT_EQ(r4.rank, 4);
    EXPECT_EQ(r4.node, "a");
    EXPECT_EQ(r4.instance, "ukk3m9p2-r4");
    EXPECT_EQ(to_string(r4.address), "10.90.0.7");  // .2 .3 .4 .6 .7: .5 is node b
    EXPECT_EQ(r4.host_if, "ukk3m9p2r4");
    EXPECT_EQ(r4.guest_if, "ukk3m9p2p4");
    EXPECT_EQ(r4.netns, "ukrun-k3m9p2-r4");
    EXPECT_EQ(r4.mac.substr(0, 6), "52:54:");
    EXPECT_EQ(r4.mac.substr(11), ":00:04");
    EXPECT_EQ(plan.rank_plans[40].node, "b") << "node a holds 40 ranks";
    EXPECT_EQ(plan.rank_plans[44].node, "b");
}

TEST(Plan, ExplicitBridgeMacPrefixAndPoolStart) {
    const JobPlan plan = make_plan(full_topology(), "nanos", 3, "j1");
    EXPECT_EQ(plan.bridge, "ukbr-test");
    EXPECT_EQ(plan.rank_plans[0].mac, "52:54:00:77:00:00");
    EXPECT_EQ(plan.rank_plans[2].mac, "52:54:00:77:00:02");
    EXPECT_EQ(to_string(plan.rank_plans[2].address), "10.80.0.13");  // .12 is node b
    EXPECT_EQ(plan.rank_plans[1].guest_if, "en1");
    EXPECT_EQ(plan.rank_plans[1].host_if, "ukj1r1");
    EXPECT_EQ(plan.rank_plans[1].netns, "");
}

TEST(Plan, ProcessBackendHasNoInterfaces) {
    const JobPlan plan = make_plan(big_topology(), "process", 2, "p0");
    EXPECT_EQ(plan.rank_plans[1].host_if, "");
    EXPECT_EQ(plan.rank_plans[1].guest_if, "");
    EXPECT_EQ(plan.rank_plans[1].netns, "");
    EXPECT_EQ(to_string(plan.rank_plans[1].address), "10.90.0.3");
}

TEST(Plan, RefusesWhatDoesNotFit) {
    const Topology t = full_topology();  // 16 GiB per node, 1 GiB instances: 32 ranks
    EXPECT_NO_THROW(make_plan(t, "vm", 32, "abc"));
    try {
        make_plan(t, "vm", 33, "abc");
        FAIL() << "33 ranks of 1 GiB fit in 2 x 16 GiB";
    } catch (const TopologyError& e) {
        ASSERT_EQ(e.diagnostics().size(), 1u);
        EXPECT_EQ(e.diagnostics()[0].line, 14);  // node a takes the odd rank out
        EXPECT_EQ(e.diagnostics()[0].message.substr(0, 47),
                  "node[1] \"a\" would hold 17 instances of 1024 MiB");
    }
    EXPECT_THROW(make_plan(t, "docker", 2, "abc"), std::invalid_argument);
    EXPECT_THROW(make_plan(t, "vm", 2, "ABC"), std::invalid_argument);
    EXPECT_THROW(make_plan(t, "vm", 2, "abcdefg"), std::invalid_argument);
    EXPECT_THROW(make_plan(t, "vm", 2, ""), std::invalid_argument);
}

TEST(Plan, JsonRoundTrip) {
    const JobPlan plan = make_plan(full_topology(), "netns", 5, "rt42");
    const nlohmann::json j = plan;
    const JobPlan back = j.get<JobPlan>();
    EXPECT_EQ(nlohmann::json(back), j);
    EXPECT_EQ(back.job_id, "rt42");
    EXPECT_EQ(back.backend, "netns");
    EXPECT_EQ(back.ranks, 5);
    EXPECT_EQ(back.bridge, "ukbr-test");
    EXPECT_EQ(to_string(back.network.subnet), "10.80.0.0/22");
    ASSERT_TRUE(back.network.pool_start.has_value());
    EXPECT_EQ(to_string(*back.network.pool_start), "10.80.0.10");
    EXPECT_EQ(back.instance.vcpus, 2);
    ASSERT_EQ(back.rank_plans.size(), 5u);
    EXPECT_EQ(back.rank_plans[3].address, plan.rank_plans[3].address);
    EXPECT_EQ(back.rank_plans[3].mac, plan.rank_plans[3].mac);
    EXPECT_EQ(back.rank_plans[3].netns, "ukrun-rt42-r3");

    const JobPlan defaults = make_plan(big_topology(), "process", 1, "nopool");
    const JobPlan defaults_back = nlohmann::json(defaults).get<JobPlan>();
    EXPECT_FALSE(defaults_back.network.pool_start.has_value());

    nlohmann::json broken = j;
    broken["rank_plans"][0]["address"] = "10.80.0.300";
    EXPECT_THROW(broken.get<JobPlan>(), std::invalid_argument);
}

TEST(JobId, ShortLowercaseAndVaried) {
    std::set<std::string> ids;
    for (int i = 0; i < 200; ++i) {
        const std::string id = new_job_id();
        ASSERT_EQ(id.size(), 6u);
        for (const char c : id) EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) << id;
        ids.insert(id);
    }
    EXPECT_GE(ids.size(), 199u);  // 36^6 ids: a repeat among 200 has probability 1e-5
}

}  // namespace
