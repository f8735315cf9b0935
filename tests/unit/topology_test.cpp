// Topology files: every good and bad file in tests/data/topology/ with its exact diagnostics,
// address and CIDR parsing, capacity, placement and the built-in default topology.
#include "ukrun/runner/topology.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "test_paths.hpp"

namespace {

using namespace ukrun::runner;

std::string data_file(const std::string& name) {
    return (ukrun::test::source_dir() / "tests" / "data" / "topology" / name).string();
}

/// The diagnostics load_topology throws for `path`, as (line, message) pairs; empty if valid.
std::vector<std::pair<int, std::string>> problems_of(const std::string& path) {
    try {
        load_topology(path);
    } catch (const TopologyError& e) {
        std::vector<std::pair<int, std::string>> result;
        for (const auto& d : e.diagnostics()) {
            EXPECT_EQ(d.file, path);
            result.emplace_back(d.line, d.message);
        }
        return result;
    }
    return {};
}

struct BadFile {
    std::string name;
    std::vector<std::pair<int, std::string>> expected;
};

const std::vector<BadFile> kBadFiles = {
    {"bad_bridge_chars.toml",
     {{5, "network.bridge \"uk br/0\" contains ' '; use only letters, digits, '-', '_' and '.'"}}},
    {"bad_bridge_long.toml",
     {{5,
       "network.bridge \"ukrun-bridge-number-one\" has 23 characters; use at most 15, e.g. "
       "\"ukbr0\""}}},
    {"bad_bridge_vir.toml",
     {{5,
       "network.bridge \"virbr7\" starts with 'vir', which Open MPI silently skips; choose another "
       "name, e.g. \"ukbr0\""}}},
    {"bad_cidr_host_bits.toml",
     {{2,
       "network.subnet 10.77.0.5/24 has host bits set; write its network address 10.77.0.0/24"}}},
    {"bad_cidr_malformed.toml",
     {{2,
       "network.subnet \"10.77.0.0\" is not a CIDR network; write address/prefix, e.g. "
       "\"10.77.0.0/24\""}}},
    {"bad_cidr_prefix.toml",
     {{2,
       "network.subnet \"10.77.0.0/33\" has a prefix that is not 0..32; write e.g. "
       "\"10.77.0.0/24\""}}},
    {"bad_duplicate_nodes.toml",
     {{12, "node[2].name \"a\" is already used by node[1] (line 6); give each node a unique name"},
      {12,
       "node[2].address 192.168.1.10 is already used by node[1] (line 6); give each node its own "
       "address"}}},
    {"bad_gateway_broadcast.toml",
     {{3,
       "network.gateway 10.77.0.255 is the broadcast address of 10.77.0.0/24; use a host address "
       "inside it, e.g. 10.77.0.1"}}},
    {"bad_gateway_network.toml",
     {{3,
       "network.gateway 10.77.0.0 is the network address of 10.77.0.0/24; use a host address "
       "inside it, e.g. 10.77.0.1"}}},
    {"bad_gateway_outside.toml",
     {{3,
       "network.gateway 10.78.0.1 is outside network.subnet 10.77.0.0/24; use a host address "
       "inside it, e.g. 10.77.0.1"}}},
    {"bad_instance_too_big.toml",
     {{10,
       "instance.vcpus = 4 does not fit node[1] with cpus = 2; lower instance.vcpus or raise the "
       "node's cpus"},
      {10,
       "instance.memory_mib = 8192 does not fit node[1] with memory_mib = 4096; lower "
       "instance.memory_mib or raise the node's memory_mib"}}},
    {"bad_ip_octet.toml",
     {{3,
       "network.gateway \"10.0.0.300\" is not an IPv4 address; write four numbers 0-255 separated "
       "by dots, e.g. \"10.77.0.1\""}}},
    {"bad_mac_prefix.toml",
     {{5,
       "network.mac_prefix \"01:00:5e:00\" is a multicast prefix; use a first octet with bit 0x01 "
       "clear, e.g. \"52:54:00:77\""}}},
    {"bad_mac_prefix_format.toml",
     {{5, "network.mac_prefix \"52-54-00\" is not 3 to 5 hex octets; write e.g. \"52:54:00:77\""}}},
    {"bad_mac_prefix_global.toml",
     {{5,
       "network.mac_prefix \"00:16:3e:12\" is not locally administered; use a first octet with bit "
       "0x02 set, e.g. \"52:54:00:77\""}}},
    {"bad_many.toml",
     {{3,
       "network.gateway \"10.77.0.256\" is not an IPv4 address; write four numbers 0-255 separated "
       "by dots, e.g. \"10.77.0.1\""},
      {4, "network.mtu = 100 is outside 576..65535; use a value in that range, e.g. 9000"},
      {5,
       "network.bridge \"virbr0\" starts with 'vir', which Open MPI silently skips; choose another "
       "name, e.g. \"ukbr0\""},
      {6,
       "unknown key 'netmask' in [network]; remove it (known keys: subnet, gateway, mtu, bridge, "
       "mac_prefix, pool_start)"},
      {10, "unknown key 'vcpu' in [instance]; did you mean 'vcpus'?"},
      {12,
       "node[1].address 10.77.0.0 is the network address of 10.77.0.0/24; give the node another "
       "address"},
      {12,
       "instance.memory_mib = 512 does not fit node[1] with memory_mib = 256; lower "
       "instance.memory_mib or raise the node's memory_mib"}}},
    {"bad_missing_keys.toml",
     {{1, "[network] has no subnet; add subnet = \"10.77.0.0/24\""},
      {1, "[network] has no gateway; add gateway = \"10.77.0.1\""},
      {4, "node[1] has no address; add address = \"192.168.1.11\""},
      {4, "node[1] has no cpus; add cpus = 2"},
      {4, "node[1] has no memory_mib; add memory_mib = 4096"}}},
    {"bad_missing_tables.toml",
     {{0,
       "no [network] table; add [network] with subnet = \"10.77.0.0/24\" and gateway = "
       "\"10.77.0.1\""},
      {0, "no [[node]] table; add one [[node]] per host with name, address, cpus and memory_mib"}}},
    {"bad_mtu_low.toml",
     {{4, "network.mtu = 500 is outside 576..65535; use a value in that range, e.g. 9000"}}},
    {"bad_mtu_range.toml",
     {{4, "network.mtu = 70000 is outside 576..65535; use a value in that range, e.g. 9000"}}},
    {"bad_node_address.toml",
     {{7, "node[1].name \"my node\" contains ' '; use only letters, digits, '-', '_' and '.'"},
      {8,
       "node[1].address \"host.example\" is not an IPv4 address; write four numbers 0-255 "
       "separated by dots, e.g. \"192.168.1.11\""},
      {9, "node[1].cpus = 0 is outside 1..4096; use a value in that range, e.g. 2"}}},
    {"bad_node_is_gateway.toml",
     {{6, "node[1].address 10.77.0.1 is the gateway; give the node another address"},
      {12,
       "node[2].address 10.77.0.255 is the broadcast address of 10.77.0.0/24; give the node "
       "another address"}}},
    {"bad_node_not_array.toml",
     {{6, "node must be an array of tables, not a table; write each node as a [[node]] section"}}},
    {"bad_pool_outside.toml",
     {{4,
       "network.pool_start 10.77.1.10 is outside network.subnet 10.77.0.0/24; use a host address "
       "inside it, e.g. 10.77.0.10"}}},
    {"bad_pool_start.toml",
     {{4, "network.pool_start 10.77.0.1 is the gateway; start the pool after it, e.g. 10.77.0.2"}}},
    {"bad_subnet_too_small.toml",
     {{2,
       "network.subnet 10.77.0.0/31 has no room for a gateway and instances; use a prefix of 30 or "
       "less, e.g. /24"}}},
    {"bad_syntax.toml",
     {{3,
       "TOML syntax error: Error while parsing floating-point: expected decimal digit or exponent, "
       "saw '.'; fix the syntax (https://toml.io)"}}},
    {"bad_top_level_key.toml",
     {{1, "key 'mtu' is at the top level; move it into the [network] section"}}},
    {"bad_unknown_key_far.toml",
     {{5,
       "unknown key 'colour' in [network]; remove it (known keys: subnet, gateway, mtu, bridge, "
       "mac_prefix, pool_start)"}}},
    {"bad_unknown_key_typo.toml", {{4, "unknown key 'mtuu' in [network]; did you mean 'mtu'?"}}},
    {"bad_unknown_table.toml", {{6, "unknown table [instances]; did you mean [instance]?"}}},
    {"bad_wrong_types.toml",
     {{4, "network.mtu must be an integer, not a string; write mtu = 9000"},
      {7,
       "instance.memory_mib must be an integer, not a floating-point number; write memory_mib = "
       "512"},
      {8, "instance.vcpus must be an integer, not a boolean; write vcpus = 1"}}},
};

TEST(TopologyFiles, EveryBadFileGivesExactlyItsDiagnostics) {
    for (const auto& bad : kBadFiles) {
        SCOPED_TRACE(bad.name);
        EXPECT_EQ(problems_of(data_file(bad.name)), bad.expected);
    }
    EXPECT_GE(kBadFiles.size(), 25u);
}

TEST(TopologyFiles, AllErrorsAreListedNotJustTheFirst) {
    const auto problems = problems_of(data_file("bad_many.toml"));
    ASSERT_EQ(problems.size(), 7u);
    EXPECT_EQ(problems.front().first, 3);
    EXPECT_EQ(problems.back().first, 12);
}

TEST(TopologyFiles, DiagnosticTextIsFileLineMessage) {
    const std::string path = data_file("bad_mtu_range.toml");
    try {
        load_topology(path);
        FAIL() << "bad_mtu_range.toml was accepted";
    } catch (const TopologyError& e) {
        ASSERT_EQ(e.diagnostics().size(), 1u);
        const std::string expected =
            path +
            ":4: network.mtu = 70000 is outside 576..65535; use a value in that range, e.g. 9000";
        EXPECT_EQ(e.diagnostics()[0].text(), expected);
        EXPECT_EQ(std::string(e.what()), expected);
    }
    EXPECT_EQ((Diagnostic{"t.toml", 0, "no [network] table"}).text(), "t.toml: no [network] table");
}

TEST(TopologyFiles, MissingFileIsOneDiagnostic) {
    const auto problems = problems_of(data_file("does_not_exist.toml"));
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].first, 0);
    EXPECT_EQ(problems[0].second,
              "cannot read the file: No such file or directory; check the path and its "
              "permissions");
}

TEST(TopologyFiles, MinimalFileGetsDefaults) {
    const Topology t = load_topology(data_file("good_minimal.toml"));
    EXPECT_EQ(to_string(t.network.subnet), "10.77.0.0/24");
    EXPECT_EQ(t.network.subnet_line, 2);
    EXPECT_EQ(to_string(t.network.gateway), "10.77.0.1");
    EXPECT_EQ(t.network.mtu, 1500);
    EXPECT_EQ(t.network.bridge, "");
    EXPECT_EQ(t.network.mac_prefix, "");
    EXPECT_FALSE(t.network.pool_start.has_value());
    EXPECT_EQ(t.instance.memory_mib, 512);
    EXPECT_EQ(t.instance.vcpus, 1);
    ASSERT_EQ(t.nodes.size(), 1u);
    EXPECT_EQ(t.nodes[0].name, "n1");
    EXPECT_EQ(t.nodes[0].line, 6);
    EXPECT_EQ(address_capacity(t), 253);
}

TEST(TopologyFiles, FullFileReadsEveryKey) {
    const Topology t = load_topology(data_file("good_full.toml"));
    EXPECT_EQ(to_string(t.network.subnet), "10.80.0.0/22");
    EXPECT_EQ(t.network.mtu, 9000);
    EXPECT_EQ(t.network.bridge, "ukbr-test");
    EXPECT_EQ(t.network.mac_prefix, "52:54:00:77");
    ASSERT_TRUE(t.network.pool_start.has_value());
    EXPECT_EQ(to_string(*t.network.pool_start), "10.80.0.10");
    EXPECT_EQ(t.instance.memory_mib, 1024);
    EXPECT_EQ(t.instance.vcpus, 2);
    ASSERT_EQ(t.nodes.size(), 2u);
    EXPECT_EQ(t.nodes[1].name, "b");
    EXPECT_EQ(to_string(t.nodes[1].address), "10.80.0.12");
    EXPECT_EQ(t.nodes[1].cpus, 8);
    EXPECT_EQ(t.nodes[1].memory_mib, 16384);
    // .10 to .254 of 10.80.3.x, less node b at .12 (node a at .2 is before the pool).
    EXPECT_EQ(address_capacity(t), 1022 - 9 - 1);
    const auto first = instance_addresses(t, 3);
    ASSERT_EQ(first.size(), 3u);
    EXPECT_EQ(to_string(first[0]), "10.80.0.10");
    EXPECT_EQ(to_string(first[1]), "10.80.0.11");
    EXPECT_EQ(to_string(first[2]), "10.80.0.13");
}

TEST(TopologyFiles, PoolWrapsBelowAGatewayAtTheTopOfTheSubnet) {
    const Topology t = load_topology(data_file("good_no_instance.toml"));
    EXPECT_EQ(address_capacity(t), 12);  // .1 to .13, less node .1
    const auto addresses = instance_addresses(t, 20);
    ASSERT_EQ(addresses.size(), 12u);
    EXPECT_EQ(to_string(addresses.front()), "192.168.100.2");
    EXPECT_EQ(to_string(addresses.back()), "192.168.100.13");
}

TEST(TopologyFiles, ShippedExamplesAreValid) {
    for (const char* name : {"local.toml", "ci.toml", "two-node.toml"}) {
        SCOPED_TRACE(name);
        const std::string path = (ukrun::test::source_dir() / "topology" / name).string();
        EXPECT_EQ(problems_of(path), (std::vector<std::pair<int, std::string>>{}));
    }
    const Topology two =
        load_topology((ukrun::test::source_dir() / "topology" / "two-node.toml").string());
    EXPECT_EQ(two.nodes.size(), 2u);
    EXPECT_TRUE(check_capacity(two, 64).empty());
}

TEST(TopologyText, SyntaxErrorHasItsLine) {
    const std::string text = "[network]\nsubnet = \"10.0.0.0/24\"\ngateway = \"10.0.0.1\n";
    try {
        parse_topology(text, "inline.toml");
        FAIL() << "an unterminated string was accepted";
    } catch (const TopologyError& e) {
        ASSERT_EQ(e.diagnostics().size(), 1u);
        EXPECT_EQ(e.diagnostics()[0].line, 3);
        EXPECT_EQ(e.diagnostics()[0].message.rfind("TOML syntax error: ", 0), 0u);
    }
}

TEST(TopologyText, TheStoredTextIsTheInput) {
    const std::string text =
        "[network]\nsubnet = \"10.1.0.0/16\"\ngateway = \"10.1.255.254\"\n[[node]]\n"
        "name = \"x\"\naddress = \"10.2.0.1\"\ncpus = 4\nmemory_mib = 8192\n";
    const Topology t = parse_topology(text, "inline.toml");
    EXPECT_EQ(t.text, text);
    EXPECT_EQ(t.path, "inline.toml");
    EXPECT_EQ(address_capacity(t), 65534 - 1);
}

TEST(Ipv4Parsing, AcceptsDottedQuadsOnly) {
    EXPECT_EQ(parse_ipv4("10.0.0.1")->value, 0x0a000001u);
    EXPECT_EQ(parse_ipv4("255.255.255.255")->value, 0xffffffffu);
    EXPECT_EQ(parse_ipv4("0.0.0.0")->value, 0u);
    for (const char* bad : {"10.0.0.300", "1.2.3", "1.2.3.4.5", "01.2.3.4", " 1.2.3.4", "1.2.3.4 ",
                            "1..2.3", "a.b.c.d", "", "1.2.3.-4", "1.2.3.4/24"}) {
        EXPECT_FALSE(parse_ipv4(bad).has_value()) << bad;
    }
    EXPECT_EQ(to_string(Ipv4{0xc0a80a01u}), "192.168.10.1");
    EXPECT_EQ(to_string(*parse_ipv4("172.16.254.3")), "172.16.254.3");
}

TEST(CidrParsing, RejectsHostBitsAndBadPrefixes) {
    const auto net = parse_cidr("10.77.0.0/24");
    ASSERT_TRUE(net.has_value());
    EXPECT_EQ(net->prefix, 24);
    EXPECT_EQ(to_string(net->netmask()), "255.255.255.0");
    EXPECT_EQ(to_string(net->broadcast()), "10.77.0.255");
    EXPECT_TRUE(net->contains(*parse_ipv4("10.77.0.200")));
    EXPECT_FALSE(net->contains(*parse_ipv4("10.77.1.0")));
    EXPECT_EQ(to_string(*net), "10.77.0.0/24");

    const auto all = parse_cidr("0.0.0.0/0");
    ASSERT_TRUE(all.has_value());
    EXPECT_EQ(all->netmask().value, 0u);
    EXPECT_TRUE(all->contains(*parse_ipv4("8.8.8.8")));
    EXPECT_EQ(to_string(parse_cidr("10.1.2.3/32")->broadcast()), "10.1.2.3");

    for (const char* bad : {"10.77.0.1/24", "10.77.0.0/33", "10.77.0.0", "10.77.0.0/",
                            "10.77.0.0/-1", "10.77.0.0/024", "10.77.0/24", "/24"}) {
        EXPECT_FALSE(parse_cidr(bad).has_value()) << bad;
    }
}

TEST(Capacity, AddressesRunOutWithAnExactMessage) {
    const std::string path = data_file("good_minimal.toml");
    const Topology t = load_topology(path);
    EXPECT_TRUE(check_capacity(t, 8).empty());
    const auto problems = check_capacity(t, 9);  // 9 x 512 MiB > 4096 MiB
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].line, 6);
    EXPECT_EQ(problems[0].message,
              "node[1] \"n1\" would hold 9 instances of 512 MiB = 4608 MiB, more than its "
              "memory_mib = 4096; lower instance.memory_mib, raise the node's memory_mib or add "
              "nodes");

    Topology small = t;
    small.network.subnet = *parse_cidr("10.77.0.0/29");
    const auto few = check_capacity(small, 6);
    ASSERT_EQ(few.size(), 1u);
    EXPECT_EQ(few[0].line, 2);
    EXPECT_EQ(few[0].message,
              "network.subnet 10.77.0.0/29 holds 5 instance addresses from 10.77.0.2, fewer than "
              "the 6 ranks; use a larger subnet (a smaller prefix, e.g. /24), an earlier "
              "pool_start or fewer ranks");
    EXPECT_TRUE(check_capacity(small, 5).empty());

    const auto none = check_capacity(t, 0);
    ASSERT_EQ(none.size(), 1u);
    EXPECT_EQ(none[0].message, "the job needs at least 1 rank, not 0; pass --ranks 1 or more");
}

TEST(Capacity, MacPrefixLimitsRanks) {
    Topology t = load_topology(data_file("good_full.toml"));
    t.network.mac_prefix = "52:54:00:77:01";
    t.nodes[0].memory_mib = t.nodes[1].memory_mib = 1 << 20;
    EXPECT_TRUE(check_capacity(t, 256).empty());
    const auto problems = check_capacity(t, 257);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].message,
              "network.mac_prefix \"52:54:00:77:01\" leaves 256 MAC addresses, but 257 ranks "
              "need one each; use a prefix of fewer octets");
}

TEST(Placement, FillsNodeCpusInOrderThenRoundRobin) {
    const Topology t = load_topology(data_file("good_full.toml"));  // 8 cpus / 2 vcpus = 4 each
    EXPECT_EQ(place_ranks(t, 3), (std::vector<int>{0, 0, 0}));
    EXPECT_EQ(place_ranks(t, 10), (std::vector<int>{0, 0, 0, 0, 1, 1, 1, 1, 0, 1}));
    EXPECT_TRUE(place_ranks(t, 0).empty());
}

TEST(DefaultTopology, IsOneLocalNodeWithAPrivateSubnet) {
    const Topology t = default_topology();
    EXPECT_EQ(t.path, "<built-in default topology>");
    EXPECT_EQ(to_string(t.network.subnet), "10.213.0.0/24");
    EXPECT_EQ(to_string(t.network.gateway), "10.213.0.1");
    EXPECT_EQ(t.network.mtu, 9000);
    EXPECT_EQ(t.network.bridge, "") << "the plan names the bridge from the job id";
    ASSERT_EQ(t.nodes.size(), 1u);
    EXPECT_EQ(to_string(t.nodes[0].address), "127.0.0.1");
    EXPECT_GE(t.nodes[0].cpus, 1);
    EXPECT_TRUE(check_capacity(t, 2).empty());
    EXPECT_NE(t.text.find("[[node]]"), std::string::npos);
}

}  // namespace
