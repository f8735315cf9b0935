// The netlink wrapper against the real kernel: links and addresses are created in namespaces
// this test makes, checked with `ip -j`, and removed afterwards. Root only.
#include "ukrun/runner/netlink.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

namespace {

using namespace ukrun::runner;

/// Runs a shell command and returns its standard output.
std::string capture(const std::string& command) {
    std::string out;
    FILE* pipe = popen(command.c_str(), "r");
    if (!pipe) return out;
    char buffer[4096];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
    pclose(pipe);
    return out;
}

std::string random_suffix() {
    std::random_device device;
    char text[8];
    std::snprintf(text, sizeof text, "%06x", device() & 0xffffff);
    return text;
}

/// The `ip -j link` entries of a namespace (anonymous ones through /proc/self/fd).
nlohmann::json links_in(const NetnsFd& netns) {
    const std::string out = capture("nsenter --net=/proc/" + std::to_string(getpid()) + "/fd/" +
                                    std::to_string(netns.fd()) + " ip -j -d link show");
    return nlohmann::json::parse(out);
}

const nlohmann::json* find_link(const nlohmann::json& links, const std::string& name) {
    for (const auto& link : links)
        if (link.value("ifname", "") == name) return &link;
    return nullptr;
}

class NetlinkTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (geteuid() != 0) GTEST_SKIP() << "needs root to create namespaces and links";
    }
};

TEST_F(NetlinkTest, BridgeVethAddressInThrowawayNamespaces) {
    const std::string id = random_suffix();
    const std::string bridge = "uktb" + id, host_end = "ukth" + id, peer_end = "uktp" + id;
    NetnsFd outer = NetnsFd::create_anonymous();
    NetnsFd inner = NetnsFd::create_anonymous();
    Netlink nl(outer);

    nl.create_bridge(bridge, 9000);
    nl.create_veth_pair(host_end, peer_end, 9000);
    nl.set_master(host_end, bridge);
    nl.set_address(bridge, *parse_ipv4("10.99.3.1"), 24);
    nl.set_up(bridge);
    nl.set_up(host_end);
    nl.move_to_netns(peer_end, inner);
    Netlink inner_nl(inner);
    inner_nl.set_mtu(peer_end, 8000);
    inner_nl.set_address(peer_end, *parse_ipv4("10.99.3.2"), 24);
    inner_nl.set_up(peer_end);

    const auto links = links_in(outer);
    const auto* b = find_link(links, bridge);
    const auto* h = find_link(links, host_end);
    ASSERT_NE(b, nullptr);
    ASSERT_NE(h, nullptr);
    EXPECT_EQ((*b)["mtu"], 9000);
    EXPECT_EQ((*b)["linkinfo"]["info_kind"], "bridge");
    EXPECT_EQ((*h)["master"], bridge);
    EXPECT_EQ(find_link(links, peer_end), nullptr) << "the peer moved to the inner namespace";
    EXPECT_FALSE(nl.link_exists(peer_end));
    EXPECT_TRUE(inner_nl.link_exists(peer_end));
    EXPECT_EQ(inner_nl.mtu(peer_end), 8000);

    bool found = false;
    for (const auto& a : inner_nl.ipv4_addresses()) {
        if (a.link == peer_end) {
            EXPECT_EQ(to_string(a.address), "10.99.3.2");
            EXPECT_EQ(a.prefix, 24);
            found = true;
        }
    }
    EXPECT_TRUE(found);

    {
        LinkGuard guard(nl);
        guard.own(bridge);
        guard.own(host_end);
        EXPECT_EQ(guard.cleanup(), 2);
    }
    EXPECT_FALSE(nl.link_exists(bridge));
    EXPECT_FALSE(nl.link_exists(host_end));
    EXPECT_FALSE(inner_nl.link_exists(peer_end)) << "deleting one end removes the pair";
    EXPECT_FALSE(nl.delete_link(bridge));
}

TEST_F(NetlinkTest, HostBridgeIsCreatedAndRemoved) {
    const std::string bridge = "uktb" + random_suffix();
    Netlink nl;
    {
        LinkGuard guard(nl);
        nl.create_bridge(bridge, 1500);
        guard.own(bridge);
        const auto shown = nlohmann::json::parse(capture("ip -j link show " + bridge));
        ASSERT_EQ(shown.size(), 1u);
        EXPECT_EQ(shown[0]["ifname"], bridge);
        EXPECT_THROW(nl.create_bridge(bridge, 1500), NetlinkError) << "exists already";
    }
    EXPECT_EQ(capture("ip -j link show " + bridge + " 2>/dev/null"), "");
    EXPECT_FALSE(nl.link_exists(bridge));
}

TEST(InterfaceNames, InvalidNamesAreRejectedBeforeTheKernel) {
    EXPECT_EQ(interface_name_problem("ukb123456"), "");
    EXPECT_EQ(interface_name_problem("a23456789012345"), "");
    EXPECT_EQ(interface_name_problem("a234567890123456"),
              "it has 16 characters, at most 15 are allowed");
    EXPECT_EQ(interface_name_problem("br:0"), "character ':' is not allowed");
    EXPECT_EQ(interface_name_problem(""), "it is empty");
}

}  // namespace
