// The nanos backend without a kernel or root: what it refuses before touching the network,
// its launcher settings, and how a guest's end becomes the rank's status.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>

#include "ukrun/runner/backend.hpp"
#include "ukrun/runner/commands.hpp"
#include "ukrun/runner/nanos.hpp"
#include "ukrun/runner/shim.hpp"

using namespace ukrun::runner;
namespace fs = std::filesystem;

namespace {

/// Counts every call that would change the host; nothing exists, every subnet is free.
struct CountingNetwork : NetworkOps {
    int& changes;
    explicit CountingNetwork(int& c) : changes(c) {}
    void add_netns(const std::string&) override { ++changes; }
    void remove_netns(const std::string&) override { ++changes; }
    void add_bridge(const std::string&, int, const std::string&) override { ++changes; }
    void add_veth(const std::string&, const std::string&, const std::string&, const std::string&,
                  const std::string&, int) override {
        ++changes;
    }
    void add_tap(const std::string&, const std::string&, int) override { ++changes; }
    void remove_link(const std::string&) override { ++changes; }
    bool link_exists(const std::string&) override { return false; }
    bool netns_exists(const std::string&) override { return false; }
    std::vector<std::string> subnet_users(const Cidr&) override { return {}; }
};

/// A waitpid status for a process that exited with `code`.
int exited(int code) {
    return code << 8;
}

/// The rank status after a guest printed `lines` and QEMU ended with `wait_status`.
RankStatus finish_after(const std::vector<std::string>& lines, int wait_status) {
    int changes = 0;
    auto backend = make_nanos_backend(std::make_unique<CountingNetwork>(changes), {});
    for (const auto& line : lines) backend->on_rank_line(line, 1000);
    RankStatus status;
    status.exit_code = 99;  // what the shim computed from QEMU's own code
    backend->finish_rank(wait_status, status);
    return status;
}

const std::string kBooted = "[1.042280] en1: assigned 10.213.0.2";
const std::string kInit = "ukrun-lattice: MPI_Init done: rank 1 of 2 on r1";

}  // namespace

TEST(NanosBackend, MissingNanosIsRefusedBeforeAnyNetworkChange) {
    const fs::path empty =
        fs::temp_directory_path() / ("ukrun-no-nanos-" + std::to_string(getpid()));
    fs::create_directories(empty);
    int changes = 0;
    auto backend = make_nanos_backend(std::make_unique<CountingNetwork>(changes),
                                      {.nanos_dir = empty.string()});
    JobPlan plan = make_plan(default_topology(), "nanos", 2, "t1");
    plan.job_dir = empty.string();
    EXPECT_THROW(backend->prepare(plan), nanos::NanosNotFound);
    EXPECT_EQ(changes, 0);
    backend->cleanup();
    EXPECT_EQ(changes, 0);  // cleanup removes only what prepare made
    fs::remove_all(empty);
}

TEST(NanosBackend, LauncherReachesGuestsOverTheJobSubnetOnly) {
    int changes = 0;
    auto backend = make_nanos_backend(std::make_unique<CountingNetwork>(changes), {});
    const JobPlan plan = make_plan(default_topology(), "nanos", 2, "t2");
    const std::string subnet = to_string(plan.network.subnet);
    EXPECT_TRUE(backend->isolated());
    const auto env = backend->launcher_environment(plan);
    EXPECT_NE(std::find(env.begin(), env.end(),
                        std::pair<std::string, std::string>{"PMIX_MCA_ptl_tcp_if_include", subnet}),
              env.end());
    const auto mca = backend->launcher_mca(plan);
    const auto at = std::find(mca.begin(), mca.end(), "btl_tcp_if_include");
    ASSERT_NE(at, mca.end());
    EXPECT_EQ(*(at + 1), subnet);
    EXPECT_EQ(make_backend("nanos")->name(), "nanos");
}

TEST(NanosBackend, ProgramStatusBecomesTheRanksExitCode) {
    const RankStatus ok = finish_after({kBooted, kInit}, exited(1));
    EXPECT_EQ(ok.exit_code, 0);
    EXPECT_EQ(ok.failure, "");
    EXPECT_EQ(finish_after({kBooted, kInit}, exited(5)).exit_code, 2);
}

TEST(NanosBackend, QemuFailingBeforeBootIsNotTakenForSuccess) {
    // QEMU's own error exit (1, e.g. a busy tap) reads like "program status 0".
    const RankStatus s = finish_after({"qemu-system-x86_64: could not open tap"}, exited(1));
    EXPECT_EQ(s.exit_code, kExitJobFailed);
    EXPECT_NE(s.failure.find("before the guest booted"), std::string::npos) << s.failure;
}

TEST(NanosBackend, GuestStoppingWithoutExitNamesTheLikelyCause) {
    const RankStatus early = finish_after({kBooted}, exited(0));
    EXPECT_EQ(early.exit_code, kExitJobFailed);
    EXPECT_NE(early.failure.find("before MPI_Init"), std::string::npos) << early.failure;
    const RankStatus late = finish_after({kBooted, kInit}, exited(0));
    EXPECT_NE(late.failure.find("after MPI_Init"), std::string::npos) << late.failure;
}

TEST(NanosBackend, KilledQemuKeepsTheShimsCode) {
    EXPECT_EQ(finish_after({kBooted}, SIGKILL).exit_code, 99);
}
