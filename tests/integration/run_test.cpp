// `ukrun run` end to end as root: real mpirun, real namespaces, real ukrun-lattice. Each
// test checks that the job left no process, namespace, interface or mount behind.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "integration/job_output.hpp"
#include "test_paths.hpp"
#include "ukrun/runner/plan.hpp"
#include "ukrun/runner/process.hpp"
#include "ukrun/runner/results.hpp"
#include "ukrun/runner/shim.hpp"

using namespace ukrun::runner;
using ukrun::test::job_id_in;
namespace fs = std::filesystem;

namespace {

/// A small, fast workload: the plaquette of a fixed random field, few Dirac applications.
const std::vector<std::string> kWorkload = {"--lattice", "8x8x8x8",       "--gauge",
                                            "random:5",  "--repetitions", "3"};

/// A workload that runs until it is stopped (many Dirac applications).
const std::vector<std::string> kLongWorkload = {"--lattice", "8x8x8x8", "--repetitions", "1000000"};

std::vector<std::string> leftovers(const std::string& id);

/// A fresh directory under /tmp, removed by the fixture.
struct RunTest : ::testing::Test {
    fs::path dir;

    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root for network namespaces and bridges";
        char name[] = "/tmp/ukrun-run-test-XXXXXX";
        ASSERT_NE(::mkdtemp(name), nullptr);
        dir = name;
    }

    void TearDown() override {
        std::error_code ec;
        if (!dir.empty()) fs::remove_all(dir, ec);
    }

    fs::path results() const { return dir / "results.h5"; }

    /// Checks that job `id` left nothing behind and that the results file holds exactly one
    /// run; returns it (a default record after a failed check).
    RunRecord only_run_of(const std::string& id) const {
        EXPECT_FALSE(id.empty());
        EXPECT_EQ(leftovers(id), std::vector<std::string>{});
        const auto runs = read_runs(results());
        EXPECT_EQ(runs.size(), 1u);
        return runs.empty() ? RunRecord{} : runs[0];
    }

    /// `ukrun run --results R --backend B [extra] -- workload`, output captured.
    CommandResult run(const std::string& backend, const std::vector<std::string>& workload,
                      const std::vector<std::string>& extra = {}) const {
        std::vector<std::string> argv = {ukrun::test::ukrun_bin(),
                                         "run",
                                         "--backend",
                                         backend,
                                         "--results",
                                         results(),
                                         "--job-dir",
                                         dir};
        argv.insert(argv.end(), extra.begin(), extra.end());
        argv.push_back("--");
        argv.insert(argv.end(), workload.begin(), workload.end());
        return run_command(argv, 120000);
    }
};

/// Everything of job `id` still on the host: processes, namespaces, interfaces, mounts.
std::vector<std::string> leftovers(const std::string& id) {
    std::vector<std::string> found;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/run/netns", ec))
        if (e.path().filename().string().find(id) != std::string::npos)
            found.push_back("netns " + e.path().filename().string());
    for (const auto& e : fs::directory_iterator("/sys/class/net"))
        if (e.path().filename().string().find(id) != std::string::npos)
            found.push_back("link " + e.path().filename().string());
    std::ifstream mounts("/proc/self/mountinfo");
    for (std::string line; std::getline(mounts, line);)
        if (line.find(id) != std::string::npos) found.push_back("mount " + line);
    const std::string needle = "UKRUN_JOB_ID=" + id;
    for (const auto& e : fs::directory_iterator("/proc")) {
        const std::string pid = e.path().filename().string();
        if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream in(e.path() / "environ", std::ios::binary);
        std::string env((std::istreambuf_iterator<char>(in)), {});
        if (env.find(needle) != std::string::npos) found.push_back("process " + pid);
    }
    return found;
}

/// Reads `fd` until `done(text)` holds, EOF, or `timeout_ms`; returns what was read.
template <typename Done>
std::string read_until(int fd, Done done, int timeout_ms, std::string text = {}) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    char buffer[4096];
    while (!done(text) && std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 200) <= 0) continue;
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n <= 0) break;
        text.append(buffer, static_cast<size_t>(n));
    }
    return text;
}

}  // namespace

TEST_F(RunTest, ProcessAndNetnsBackendsStoreTheSamePlaquette) {
    const auto process = run("process", kWorkload);
    ASSERT_EQ(process.exit_code, 0) << process.output;
    const auto netns = run("netns", kWorkload);
    ASSERT_EQ(netns.exit_code, 0) << netns.output;
    EXPECT_NE(netns.output.find("[r1] ukrun-lattice: MPI_Init done: rank 1 of 2"),
              std::string::npos)
        << netns.output;

    const auto runs = read_runs(results());
    ASSERT_EQ(runs.size(), 2u);
    EXPECT_EQ(runs[0].backend, "process");
    EXPECT_EQ(runs[1].backend, "netns");
    for (const auto& r : runs) {
        EXPECT_EQ(r.status, "ok");
        EXPECT_EQ(r.exit_status, 0);
        EXPECT_EQ(r.ranks, 2);
        EXPECT_EQ(r.lattice, "8x8x8x8");
        EXPECT_GT(r.dirac_gflops, 0);
        EXPECT_GT(r.launch_ms, 0);
        ASSERT_EQ(r.rank_records.size(), 2u);
        for (const auto& rank : r.rank_records) {
            EXPECT_EQ(rank.exit_code, 0);
            EXPECT_GT(rank.mpi_init_ms, 0);
        }
        EXPECT_NE(r.command_line.find("ukrun shim --job"), std::string::npos);
        EXPECT_NE(r.versions.find("Open MPI"), std::string::npos);
    }
    EXPECT_NE(runs[1].command_line.find("btl_tcp_if_include"), std::string::npos);
    EXPECT_NE(runs[0].plaquette, -1);
    EXPECT_LT(std::fabs(runs[0].plaquette), 1.0);
    EXPECT_EQ(runs[0].plaquette, runs[1].plaquette);  // same field, bit for bit

    for (const auto& out : {process.output, netns.output}) {
        const std::string id = job_id_in(out);
        ASSERT_FALSE(id.empty()) << out;
        EXPECT_EQ(leftovers(id), std::vector<std::string>{});
        EXPECT_FALSE(fs::exists(dir / ("ukrun-" + id)));
    }
}

TEST_F(RunTest, SigtermMidJobLeavesNoProcessNamespaceLinkOrMount) {
    std::vector<std::string> argv = {ukrun::test::ukrun_bin(),
                                     "run",
                                     "--backend",
                                     "netns",
                                     "--results",
                                     results(),
                                     "--job-dir",
                                     dir,
                                     "--"};
    argv.insert(argv.end(), kLongWorkload.begin(), kLongWorkload.end());
    const Child child = spawn({.argv = argv,
                               .env = std::nullopt,
                               .new_process_group = true,
                               .capture_output = true,
                               .death_signal = SIGKILL,
                               .in_child = {}});
    const auto both_ranks_up = [](const std::string& text) {
        return text.find("[r0] ukrun-lattice: MPI_Init done") != std::string::npos &&
               text.find("[r1] ukrun-lattice: MPI_Init done") != std::string::npos;
    };
    std::string output = read_until(child.output_fd, both_ranks_up, 60000);
    const std::string id = job_id_in(output);
    ASSERT_TRUE(both_ranks_up(output)) << output;
    EXPECT_FALSE(leftovers(id).empty());  // the job is really running in its namespaces

    const auto sent = std::chrono::steady_clock::now();
    ::kill(child.pid, SIGTERM);
    output = read_until(
        child.output_fd, [](const std::string&) { return false; }, 30000, output);
    ::close(child.output_fd);
    int status = 0;
    ::waitpid(child.pid, &status, 0);
    const auto stop_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now() - sent)
                             .count();
    EXPECT_EQ(exit_code_from_status(status), 130) << output;
    EXPECT_LT(stop_ms, 15000);
    std::printf("SIGTERM to exit: %lld ms\n", static_cast<long long>(stop_ms));
    const RunRecord stored = only_run_of(id);
    EXPECT_EQ(stored.status, "interrupted");
    EXPECT_EQ(stored.exit_status, 130);
}

TEST_F(RunTest, TimeoutEndsTheJobWithCode124) {
    const auto r = run("process", kLongWorkload, {"--timeout", "4"});
    EXPECT_EQ(r.exit_code, 124) << r.output;
    EXPECT_EQ(only_run_of(job_id_in(r.output)).status, "timeout");
}

TEST_F(RunTest, FailingRankGivesItsExitCodeAndLastLogLines) {
    // Rank 1 exits 3 right after MPI_Init without finalising; mpirun tears rank 0 down.
    const auto started = std::chrono::steady_clock::now();
    const auto r = run("netns", {"--lattice", "4x4x4x4", "--repetitions", "1", "--fail-rank", "1",
                                 "--fail-code", "3"});
    const auto took_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now() - started)
                             .count();
    EXPECT_EQ(r.exit_code, 3) << r.output;
    EXPECT_LT(took_ms, 30000) << "the job hung after a rank exited without MPI_Finalize";
    EXPECT_NE(r.output.find("---- last lines of rank 1's log ----"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("rank 1 exits with code 3 (--fail-rank)"), std::string::npos)
        << r.output;
    const RunRecord stored = only_run_of(job_id_in(r.output));
    EXPECT_EQ(stored.status, "failed");
    EXPECT_EQ(stored.exit_status, 3);
    EXPECT_NE(stored.failure.find("rank 1 exited with code 3"), std::string::npos)
        << stored.failure;
}

TEST_F(RunTest, BadInputFromRankZeroGivesCode2) {
    // ukrun-lattice rejects a lattice that cannot be split into even local extents with its
    // documented "bad input" status 2, from rank 0 after MPI_Init.
    const auto r = run("process", {"--lattice", "8x8x8x7"});
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("cannot be split"), std::string::npos) << r.output;
    const RunRecord stored = only_run_of(job_id_in(r.output));
    EXPECT_EQ(stored.exit_status, 2);
    // The stored reason carries the workload's own explanation, and what was asked for.
    EXPECT_NE(stored.failure.find("; ukrun-lattice: --lattice 8x8x8x7"), std::string::npos)
        << stored.failure;
    EXPECT_EQ(stored.lattice, "8x8x8x7");
}

TEST_F(RunTest, ShimFailsLoudlyWhenTheRankComesUpAsASingleton) {
    // A 2-rank plan, but the shim runs without mpirun: the rank initialises MPI alone.
    const JobPlan plan = make_plan(default_topology(), "process", 2, "single");
    std::ofstream(dir / "plan.json") << nlohmann::json(plan).dump();
    const auto r = run_command(
        {ukrun::test::ukrun_bin(), "shim", "--job", dir, "--", ukrun::test::lattice_bin(),
         "--lattice", "8x8x8x8", "--repetitions", "1"},
        60000, std::vector<std::string>{"PATH=/usr/bin:/bin", "OMPI_COMM_WORLD_RANK=0"});
    EXPECT_EQ(r.exit_code, 69) << r.output;
    EXPECT_NE(r.output.find("came up as a singleton (MPI size 1, job has 2 ranks)"),
              std::string::npos)
        << r.output;
    EXPECT_TRUE(fs::exists(rank_log_path(dir, 0)));
}

TEST_F(RunTest, SubnetInUseIsRefusedBeforeAnythingIsCreatedAndRecorded) {
    // A bridge of ours (no dummy driver here) holds an address in the topology's subnet.
    const fs::path topology = dir / "busy.toml";
    std::ofstream(topology) << "[network]\nsubnet = \"10.199.0.0/24\"\ngateway = \"10.199.0.1\"\n"
                               "mtu = 1500\n\n[instance]\nmemory_mib = 64\nvcpus = 1\n\n"
                               "[[node]]\nname = \"local\"\naddress = \"127.0.0.1\"\ncpus = 2\n"
                               "memory_mib = 1024\n";
    const std::string dummy = "ukrtest" + std::to_string(::getpid() % 100000);
    ASSERT_EQ(run_command({"ip", "link", "add", dummy, "type", "bridge"}).exit_code, 0);
    run_command({"ip", "addr", "add", "10.199.0.9/24", "dev", dummy});

    const auto r = run("netns", kWorkload, {"--topology", topology});
    run_command({"ip", "link", "del", dummy});
    EXPECT_EQ(r.exit_code, 69) << r.output;
    EXPECT_NE(r.output.find("10.199.0.0/24 is already used on this host by " + dummy),
              std::string::npos)
        << r.output;
    const RunRecord stored = only_run_of(job_id_in(r.output));
    EXPECT_EQ(stored.status, "failed");
    EXPECT_NE(stored.failure.find("set-up failed"), std::string::npos) << stored.failure;
}

/// `ukrun run --backend netns --results RESULTS --job-dir DIR -- workload` started in its own
/// process group with its output captured.
Child start_netns_job(const fs::path& results, const fs::path& dir,
                      const std::vector<std::string>& workload) {
    std::vector<std::string> argv = {ukrun::test::ukrun_bin(),
                                     "run",
                                     "--backend",
                                     "netns",
                                     "--results",
                                     results,
                                     "--job-dir",
                                     dir,
                                     "--"};
    argv.insert(argv.end(), workload.begin(), workload.end());
    return spawn({.argv = argv,
                  .env = std::nullopt,
                  .new_process_group = true,
                  .capture_output = true,
                  .death_signal = SIGKILL,
                  .in_child = {}});
}

/// Reads `child`'s output to EOF (at most `timeout_ms`), reaps it; returns output and code.
CommandResult finish(const Child& child, int timeout_ms, std::string output = {}) {
    output = read_until(
        child.output_fd, [](const std::string&) { return false; }, timeout_ms, output);
    ::close(child.output_fd);
    int status = 0;
    ::waitpid(child.pid, &status, 0);
    return {.exit_code = exit_code_from_status(status), .output = output, .timed_out = false};
}

TEST_F(RunTest, SigkillMidJobLeavesNothingOnceTheJanitorHasRun) {
    // scancel ends with SIGKILL to the step's processes: here the whole process group of
    // `ukrun run`; its janitor (own session) removes what the job owned.
    const Child child =
        start_netns_job(results(), dir, {"--lattice", "4x4x4x4", "--repetitions", "100000000"});
    const auto both_ranks_up = [](const std::string& text) {
        return text.find("[r0] ukrun-lattice: MPI_Init done") != std::string::npos &&
               text.find("[r1] ukrun-lattice: MPI_Init done") != std::string::npos;
    };
    const std::string output = read_until(child.output_fd, both_ranks_up, 20000);
    const std::string id = job_id_in(output);
    ASSERT_TRUE(both_ranks_up(output)) << output;
    ASSERT_FALSE(leftovers(id).empty());

    const auto sent = std::chrono::steady_clock::now();
    ::kill(-child.pid, SIGKILL);
    std::vector<std::string> left = leftovers(id);
    while (!left.empty() && std::chrono::steady_clock::now() - sent < std::chrono::seconds(5)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        left = leftovers(id);
    }
    const auto clean_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - sent)
                              .count();
    const CommandResult r = finish(child, 10000, output);
    EXPECT_EQ(left, std::vector<std::string>{}) << r.output;
    EXPECT_EQ(r.exit_code, 128 + SIGKILL);
    EXPECT_NE(r.output.find("ukrun janitor: the coordinator of job " + id + " died; removed"),
              std::string::npos)
        << r.output;
    EXPECT_FALSE(fs::exists(dir / ("ukrun-" + id)));
    std::printf("SIGKILL to nothing left: %lld ms\n", static_cast<long long>(clean_ms));
}

TEST_F(RunTest, TwoConcurrentNetnsJobsOnTheBuiltInTopologyGetTheirOwnSubnets) {
    const std::vector<std::string> tiny = {"--lattice", "4x4x4x4", "--repetitions", "2"};
    const fs::path results_b = dir / "results-b.h5";
    const Child a = start_netns_job(results(), dir, tiny);
    const Child b = start_netns_job(results_b, dir, tiny);
    const CommandResult ra = finish(a, 30000);
    const CommandResult rb = finish(b, 30000);
    ASSERT_EQ(ra.exit_code, 0) << ra.output;
    ASSERT_EQ(rb.exit_code, 0) << rb.output;

    const auto runs_a = read_runs(results());
    const auto runs_b = read_runs(results_b);
    ASSERT_EQ(runs_a.size(), 1u);
    ASSERT_EQ(runs_b.size(), 1u);
    const auto subnet_a = nlohmann::json::parse(runs_a[0].plan_json)["network"]["subnet"];
    const auto subnet_b = nlohmann::json::parse(runs_b[0].plan_json)["network"]["subnet"];
    EXPECT_NE(subnet_a, subnet_b);
    EXPECT_TRUE(parse_cidr("10.213.0.0/16")->contains(parse_cidr(subnet_a)->network)) << subnet_a;
    EXPECT_EQ(runs_a[0].plaquette, runs_b[0].plaquette);
    for (const auto& out : {ra.output, rb.output})
        EXPECT_EQ(leftovers(job_id_in(out)), std::vector<std::string>{});
}
