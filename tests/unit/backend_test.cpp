// Backends without root: the netns backend over a fake NetworkOps, the process backend's
// launcher settings, and the backend factory.
#include "ukrun/runner/backend.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <set>

using namespace ukrun::runner;

namespace {

/// Records every call and keeps a fake set of links and namespaces.
struct FakeNetwork : NetworkOps {
    std::vector<std::string>& calls;
    std::set<std::string>& links;
    std::set<std::string>& namespaces;
    std::string fail_on;  ///< add_veth for this host_if throws

    FakeNetwork(std::vector<std::string>& c, std::set<std::string>& l, std::set<std::string>& n)
        : calls(c), links(l), namespaces(n) {}
    void add_netns(const std::string& name) override {
        calls.push_back("netns+ " + name);
        namespaces.insert(name);
    }
    void remove_netns(const std::string& name) override {
        calls.push_back("netns- " + name);
        namespaces.erase(name);
    }
    void add_bridge(const std::string& name, int mtu, const std::string& cidr) override {
        calls.push_back("bridge+ " + name + " " + std::to_string(mtu) + " " + cidr);
        links.insert(name);
    }
    void add_veth(const std::string& host_if, const std::string& peer_if, const std::string& br,
                  const std::string& ns, const std::string& cidr, int mtu) override {
        if (host_if == fail_on) throw std::runtime_error("veth failed");
        calls.push_back("veth+ " + host_if + " " + peer_if + " " + br + " " + ns + " " + cidr +
                        " " + std::to_string(mtu));
        links.insert(host_if);
    }
    void remove_link(const std::string& name) override {
        calls.push_back("link- " + name);
        links.erase(name);
    }
    bool link_exists(const std::string& name) override { return links.count(name) > 0; }
    bool netns_exists(const std::string& name) override { return namespaces.count(name) > 0; }
    std::vector<std::string> subnet_users(const Cidr& subnet) override {
        std::vector<std::string> users;
        for (const auto& [link, address] : addresses)
            if (subnet.contains(*parse_ipv4(address))) users.push_back(link);
        return users;
    }
    std::vector<std::pair<std::string, std::string>> addresses = {{"eth0", "192.168.1.5"}};
};

JobPlan two_rank_plan() {
    JobPlan plan;
    plan.job_id = "ab12";
    plan.backend = "netns";
    plan.ranks = 2;
    plan.network.subnet = *parse_cidr("10.77.0.0/24");
    plan.network.gateway = *parse_ipv4("10.77.0.1");
    plan.network.mtu = 9000;
    plan.bridge = "ukab12br";
    for (int r = 0; r < 2; ++r) {
        RankPlan rp;
        rp.rank = r;
        rp.address = *parse_ipv4("10.77.0." + std::to_string(2 + r));
        rp.host_if = "ukab12h" + std::to_string(r);
        rp.guest_if = "ukab12g" + std::to_string(r);
        rp.netns = "ukrun-ab12-r" + std::to_string(r);
        plan.rank_plans.push_back(rp);
    }
    return plan;
}

struct NetnsBackendTest : ::testing::Test {
    std::vector<std::string> calls;
    std::set<std::string> links = {"eth0"};
    std::set<std::string> namespaces;
    FakeNetwork* fake = nullptr;
    std::unique_ptr<Backend> backend;

    void SetUp() override {
        auto ops = std::make_unique<FakeNetwork>(calls, links, namespaces);
        fake = ops.get();
        backend = make_netns_backend(std::move(ops));
    }
};

}  // namespace

TEST_F(NetnsBackendTest, PreparesBridgeNamespacesAndVethsThenRemovesOnlyThose) {
    const auto plan = two_rank_plan();
    backend->prepare(plan);
    const std::vector<std::string> expected = {
        "bridge+ ukab12br 9000 10.77.0.1/24", "netns+ ukrun-ab12-r0",
        "veth+ ukab12h0 ukab12g0 ukab12br ukrun-ab12-r0 10.77.0.2/24 9000", "netns+ ukrun-ab12-r1",
        "veth+ ukab12h1 ukab12g1 ukab12br ukrun-ab12-r1 10.77.0.3/24 9000"};
    EXPECT_EQ(calls, expected);

    calls.clear();
    backend->cleanup();
    const std::vector<std::string> removed = {"link- ukab12h1", "link- ukab12h0",
                                              "netns- ukrun-ab12-r1", "netns- ukrun-ab12-r0",
                                              "link- ukab12br"};
    EXPECT_EQ(calls, removed);
    EXPECT_EQ(links, std::set<std::string>{"eth0"});
    EXPECT_TRUE(namespaces.empty());

    calls.clear();
    backend->cleanup();  // twice is harmless
    EXPECT_TRUE(calls.empty());
}

TEST_F(NetnsBackendTest, FailedSetUpIsUndoneByCleanup) {
    fake->fail_on = "ukab12h1";
    EXPECT_THROW(backend->prepare(two_rank_plan()), std::runtime_error);
    backend->cleanup();
    EXPECT_EQ(links, std::set<std::string>{"eth0"});
    EXPECT_TRUE(namespaces.empty());
}

TEST_F(NetnsBackendTest, RefusesNamesThatAlreadyExistAndLeavesThem) {
    links.insert("ukab12br");
    try {
        backend->prepare(two_rank_plan());
        FAIL() << "prepare accepted an existing bridge";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("bridge 'ukab12br' already exists"),
                  std::string::npos);
    }
    backend->cleanup();
    EXPECT_EQ(links.count("ukab12br"), 1u);
    EXPECT_TRUE(calls.empty());
}

TEST_F(NetnsBackendTest, RefusesASubnetAlreadyInUse) {
    fake->addresses.push_back({"br-other", "10.77.0.1"});
    try {
        backend->prepare(two_rank_plan());
        FAIL() << "prepare accepted a subnet in use";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("10.77.0.0/24 is already used on this host by "
                                             "br-other"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_TRUE(calls.empty());
}

TEST_F(NetnsBackendTest, LauncherIsRestrictedToTheJobSubnet) {
    const auto plan = two_rank_plan();
    const auto env = backend->launcher_environment(plan);
    const std::vector<std::pair<std::string, std::string>> expected_env = {
        {"PMIX_MCA_ptl_tcp_if_include", "10.77.0.0/24"}, {"PMIX_MCA_gds", "hash"}};
    EXPECT_EQ(env, expected_env);
    const std::vector<std::string> expected_mca = {
        "--mca",       "pml", "ob1", "--mca", "btl", "self,tcp", "--mca", "btl_tcp_if_include",
        "10.77.0.0/24"};
    EXPECT_EQ(backend->launcher_mca(plan), expected_mca);

    std::vector<std::string> rank_env = {"PMIX_DSTORE_21_BASE_PATH=/tmp/x", "PMIX_RANK=0"};
    backend->rank_environment(plan, rank_env);
    EXPECT_EQ(rank_env, std::vector<std::string>{"PMIX_RANK=0"});
}

TEST(MakeBackend, ProcessUsesLauncherDefaultsAndUnknownNamesAreListed) {
    const auto process = make_backend("process");
    EXPECT_FALSE(process->isolated());
    EXPECT_TRUE(process->launcher_mca(JobPlan{}).empty());
    try {
        make_backend("qemu");
        FAIL() << "unknown backend accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("process, netns"), std::string::npos);
    }
}

TEST(PathsKeptUnderTmp, ProgramAndFileArgumentsUnderTmpAreKeptOthersAreNot) {
    char dir_template[] = "/tmp/ukrun-keep-XXXXXX";
    ASSERT_NE(::mkdtemp(dir_template), nullptr);
    const std::string dir = dir_template;
    const std::string program = dir + "/prog";
    const std::string gauge = dir + "/lat.l4444";
    std::fclose(std::fopen(program.c_str(), "w"));
    std::fclose(std::fopen(gauge.c_str(), "w"));

    const auto keep = paths_kept_under_tmp(
        {program, "--gauge", "milc:" + gauge, "--lattice", "4x4x4x4", "/etc/hostname",
         dir + "/missing", dir, program});
    EXPECT_EQ(keep, (std::vector<std::string>{program, gauge}));

    std::remove(program.c_str());
    std::remove(gauge.c_str());
    ::rmdir(dir.c_str());
}
