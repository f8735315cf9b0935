// `ukrun validate` as a user runs it: exit codes, one line per problem, the summary, and the
// live checks (root) leaving nothing behind, also when interrupted.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "test_paths.hpp"
#include "ukrun/runner/live_check.hpp"
#include "ukrun/runner/netlink.hpp"
#include "ukrun/runner/plan.hpp"

namespace {

using namespace ukrun::runner;
namespace fs = std::filesystem;

struct Output {
    int exit_code = -1;
    std::string out, err;
};

std::string slurp(const fs::path& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

/// Runs `ukrun validate ARGS` and captures its exit code, stdout and stderr.
Output validate(const std::string& args) {
    const fs::path dir = fs::temp_directory_path() / ("ukrun-validate-" + new_job_id());
    fs::create_directories(dir);
    const std::string command = ukrun::test::ukrun_bin().string() + " validate " + args + " >" +
                                (dir / "out").string() + " 2>" + (dir / "err").string();
    const int status = std::system(command.c_str());
    Output result{WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(dir / "out"),
                  slurp(dir / "err")};
    fs::remove_all(dir);
    return result;
}

std::string data_file(const std::string& name) {
    return (ukrun::test::source_dir() / "tests" / "data" / "topology" / name).string();
}

/// Links of this host whose names start with "ukv" (the live checks' prefix).
std::vector<std::string> leftover_probe_links() {
    std::vector<std::string> names;
    FILE* pipe = popen("ip -j link show", "r");
    std::string text;
    char buffer[4096];
    std::size_t n = 0;
    while (pipe && (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) text.append(buffer, n);
    if (pipe) pclose(pipe);
    for (const auto& link : nlohmann::json::parse(text)) {
        const std::string name = link.value("ifname", "");
        if (name.rfind("ukv", 0) == 0) names.push_back(name);
    }
    return names;
}

/// A topology file in a temporary directory with a subnet unlikely to be in use.
class TempTopology {
  public:
    explicit TempTopology(const std::string& subnet_prefix, const std::string& extra = "") {
        dir_ = fs::temp_directory_path() / ("ukrun-topo-" + new_job_id());
        fs::create_directories(dir_);
        std::ofstream(path()) << "[network]\nsubnet = \"" << subnet_prefix
                              << ".0/24\"\ngateway = \"" << subnet_prefix << ".1\"\nmtu = 9000\n"
                              << extra
                              << "\n[[node]]\nname = \"here\"\naddress = "
                                 "\"127.0.0.1\"\ncpus = 2\nmemory_mib = 2048\n";
    }
    ~TempTopology() { fs::remove_all(dir_); }
    std::string path() const { return (dir_ / "t.toml").string(); }

  private:
    fs::path dir_;
};

TEST(ValidateCommand, BadFileListsEveryProblemAndExits65) {
    const std::string path = data_file("bad_many.toml");
    const Output r = validate(path);
    EXPECT_EQ(r.exit_code, 65);
    EXPECT_EQ(r.out, "");
    std::istringstream lines(r.err);
    std::string line;
    int count = 0;
    while (std::getline(lines, line)) {
        EXPECT_EQ(line.rfind(path + ":", 0), 0u) << line;
        ++count;
    }
    EXPECT_EQ(count, 7);
    EXPECT_NE(r.err.find(":10: unknown key 'vcpu' in [instance]; did you mean 'vcpus'?"),
              std::string::npos);
}

TEST(ValidateCommand, GoodFilePrintsASummary) {
    const Output r = validate(data_file("good_minimal.toml") + " --ranks 4");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("subnet    10.77.0.0/24, gateway 10.77.0.1, mtu 1500"), std::string::npos);
    EXPECT_NE(r.out.find("capacity  253 addresses"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("ranks     4 fit (CPUs oversubscribed"), std::string::npos) << r.out;
}

TEST(ValidateCommand, TooManyRanksAndUsageErrors) {
    const Output many = validate(data_file("good_minimal.toml") + " --ranks 300");
    EXPECT_EQ(many.exit_code, 65);
    EXPECT_NE(many.err.find("fewer than the 300 ranks"), std::string::npos) << many.err;
    EXPECT_EQ(validate("").exit_code, 64);
    EXPECT_EQ(validate("--bogus x.toml").exit_code, 64);
    const Output help = validate("--help");
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_NE(help.out.find("--live"), std::string::npos);
}

class LiveValidate : public ::testing::Test {
  protected:
    void SetUp() override {
        if (geteuid() != 0) GTEST_SKIP() << "--live needs root";
    }
};

TEST_F(LiveValidate, PassesAndLeavesNothingBehind) {
    TempTopology topology("10.251.17");
    const auto start = std::chrono::steady_clock::now();
    const Output r = validate(topology.path() + " --live");
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("8972-byte ping with DF from instance 10.251.17.2 to instance "
                         "10.251.17.3 (MTU 9000) passed"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("all 6 checks passed"), std::string::npos) << r.out;
    EXPECT_LT(seconds, 20.0);
    EXPECT_TRUE(leftover_probe_links().empty());
}

TEST_F(LiveValidate, SubnetInUseOnTheHostIsReported) {
    TempTopology topology("10.251.18");
    Netlink host;
    LinkGuard guard(host);
    const std::string squatter = "ukts" + new_job_id();
    host.create_bridge(squatter, 1500);
    guard.own(squatter);
    host.set_address(squatter, *parse_ipv4("10.251.18.77"), 16);

    const Output r = validate(topology.path() + " --live");
    EXPECT_EQ(r.exit_code, 69);
    EXPECT_NE(r.err.find(topology.path() + ":2: live: interface " + squatter +
                         " has 10.251.18.77/16, which overlaps the job subnet 10.251.18.0/24; "
                         "choose another subnet or remove that address from " +
                         squatter),
              std::string::npos)
        << r.err;
    EXPECT_TRUE(leftover_probe_links().empty());
}

TEST_F(LiveValidate, ExistingBridgeWithTheGatewayIsAccepted) {
    const std::string bridge = "ukte" + new_job_id();
    TempTopology topology("10.251.21", "bridge = \"" + bridge + "\"\n");
    Netlink host;
    LinkGuard guard(host);
    host.create_bridge(bridge, 1500);
    guard.own(bridge);
    host.set_address(bridge, *parse_ipv4("10.251.21.1"), 24);

    const Output r = validate(topology.path() + " --live");
    EXPECT_EQ(r.exit_code, 69) << "the bridge's MTU 1500 is below 9000";
    EXPECT_NE(r.out.find("live ok   bridge " + bridge + " exists with 10.251.21.1/24"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("live ok   no interface on this host uses an address in"),
              std::string::npos)
        << "the topology's own bridge is not a conflict\n"
        << r.out << r.err;
    EXPECT_NE(r.err.find("live: bridge " + bridge +
                         " has MTU 1500, below network.mtu = 9000; "
                         "raise it (ip link set " +
                         bridge + " mtu 9000) or lower network.mtu"),
              std::string::npos)
        << r.err;

    host.set_mtu(bridge, 9000);
    const Output fixed = validate(topology.path() + " --live");
    EXPECT_EQ(fixed.exit_code, 0) << fixed.err;
    EXPECT_TRUE(host.link_exists(bridge)) << "validate never deletes a bridge it did not make";
}

TEST_F(LiveValidate, InterruptedRunLeavesNothingBehind) {
    TempTopology topology("10.251.19");
    const std::string bin = ukrun::test::ukrun_bin().string();
    const std::string path = topology.path();
    int interrupted_in_checks = 0;
    for (const int delay_ms : {5, 20, 35, 50, 65, 80, 100, 130}) {
        const pid_t child = fork();
        ASSERT_GE(child, 0);
        if (child == 0) {
            std::freopen("/dev/null", "w", stdout);
            std::freopen("/dev/null", "w", stderr);
            execl(bin.c_str(), bin.c_str(), "validate", path.c_str(), "--live",
                  static_cast<char*>(nullptr));
            _exit(127);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
        kill(child, SIGINT);
        int status = 0;
        ASSERT_EQ(waitpid(child, &status, 0), child);
        // Before the live checks start, SIGINT simply ends ukrun: it has created nothing yet.
        const bool ended_by_sigint = WIFSIGNALED(status) && WTERMSIG(status) == SIGINT;
        const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        EXPECT_TRUE(ended_by_sigint || code == 130 || code == 0)
            << "status " << status << " after " << delay_ms << " ms";
        interrupted_in_checks += code == 130;
        EXPECT_TRUE(leftover_probe_links().empty()) << "after " << delay_ms << " ms";
    }
    EXPECT_GE(interrupted_in_checks, 1) << "no signal arrived while the checks ran";
}

TEST_F(LiveValidate, PingWithDfPassesAtTheMtuAndFailsAboveIt) {
    NetnsFd a = NetnsFd::create_anonymous();
    NetnsFd b = NetnsFd::create_anonymous();
    Netlink nl_a(a);
    nl_a.create_veth_pair("ukva", "ukvb", 1500);
    nl_a.move_to_netns("ukvb", b);
    Netlink nl_b(b);
    nl_a.set_address("ukva", *parse_ipv4("10.251.20.1"), 24);
    nl_b.set_address("ukvb", *parse_ipv4("10.251.20.2"), 24);
    nl_a.set_up("ukva");
    nl_b.set_up("ukvb");

    EXPECT_EQ(ping_df(a, *parse_ipv4("10.251.20.2"), 1472, 2000), "");
    EXPECT_EQ(ping_df(b, *parse_ipv4("10.251.20.1"), 1472, 2000), "");
    EXPECT_EQ(ping_df(a, *parse_ipv4("10.251.20.2"), 1473, 500), "cannot send: Message too long");
    EXPECT_EQ(ping_df(a, *parse_ipv4("10.251.20.9"), 56, 300), "no reply within 300 ms");
    EXPECT_TRUE(leftover_probe_links().empty()) << "the namespaces are not the host's";
}

TEST(Overlap, NetworksSharingAddresses) {
    EXPECT_TRUE(overlaps(*parse_cidr("10.0.0.0/8"), *parse_cidr("10.77.0.0/24")));
    EXPECT_TRUE(overlaps(*parse_cidr("10.77.0.0/24"), *parse_cidr("10.0.0.0/8")));
    EXPECT_TRUE(overlaps(*parse_cidr("10.77.0.0/24"), *parse_cidr("10.77.0.128/25")));
    EXPECT_FALSE(overlaps(*parse_cidr("10.77.0.0/24"), *parse_cidr("10.77.1.0/24")));
}

}  // namespace
