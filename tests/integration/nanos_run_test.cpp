// `ukrun run --backend nanos` end to end: Nanos guests under QEMU (TCG here) started by the
// host's mpirun, compared with the process backend. Needs root, UKRUN_NANOS_DIR (with mkfs)
// and qemu-system-x86_64; skipped with one line otherwise.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>

#include "integration/job_output.hpp"
#include "test_paths.hpp"
#include "ukrun/runner/process.hpp"
#include "ukrun/runner/results.hpp"

using namespace ukrun::runner;
using ukrun::test::job_id_in;
namespace fs = std::filesystem;

namespace {

/// Small enough for TCG on a loaded 2-core host.
const std::vector<std::string> kWorkload = {"--lattice", "4x4x4x4", "--gauge", "random:5",
                                            "--solve"};

/// Keeps both guests busy until they are stopped.
const std::vector<std::string> kLongWorkload = {"--lattice", "4x4x4x4", "--repetitions",
                                                "100000000"};

/// Bound on one job under TCG, in ms (ukrun run's own --timeout is shorter).
constexpr int kJobTimeoutMs = 150000;

/// QEMU processes whose command line names job `id` (its taps), as "qemu PID".
std::vector<std::string> qemu_of_job(const std::string& id) {
    std::vector<std::string> found;
    for (const auto& e : fs::directory_iterator("/proc")) {
        const std::string pid = e.path().filename().string();
        if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream in(e.path() / "cmdline", std::ios::binary);
        const std::string cmdline((std::istreambuf_iterator<char>(in)), {});
        if (cmdline.starts_with("qemu-system") && cmdline.find("uk" + id) != std::string::npos)
            found.push_back("qemu " + pid);
    }
    return found;
}

/// Links (taps, bridge) named after job `id` plus its QEMU processes.
std::vector<std::string> left_by_job(const std::string& id) {
    std::vector<std::string> found = qemu_of_job(id);
    for (const auto& e : fs::directory_iterator("/sys/class/net"))
        if (e.path().filename().string().find(id) != std::string::npos)
            found.push_back("link " + e.path().filename().string());
    return found;
}

class NanosRun : public ::testing::Test {
  protected:
    void SetUp() override {
        const char* nanos = std::getenv("UKRUN_NANOS_DIR");
        if (!nanos || !*nanos) GTEST_SKIP() << "no Nanos kernel (set UKRUN_NANOS_DIR)";
        if (::geteuid() != 0) GTEST_SKIP() << "needs root for the job bridge and taps";
        if (find_in_path("qemu-system-x86_64").empty())
            GTEST_SKIP() << "no qemu-system-x86_64 in PATH";
        char name[] = "/tmp/ukrun-nanos-run-test-XXXXXX";
        ASSERT_NE(::mkdtemp(name), nullptr);
        dir_ = name;
    }

    void TearDown() override {
        std::error_code ec;
        if (!dir_.empty()) fs::remove_all(dir_, ec);
    }

    /// `ukrun run --backend B --ranks N ... -- workload`, output captured.
    std::vector<std::string> command(const std::string& backend, int ranks,
                                     const std::vector<std::string>& workload) const {
        std::vector<std::string> argv = {ukrun::test::ukrun_bin(),
                                         "run",
                                         "--backend",
                                         backend,
                                         "--ranks",
                                         std::to_string(ranks),
                                         "--results",
                                         results(),
                                         "--job-dir",
                                         dir_,
                                         "--timeout",
                                         "140",
                                         "--"};
        argv.insert(argv.end(), workload.begin(), workload.end());
        return argv;
    }

    CommandResult run(const std::string& backend, const std::vector<std::string>& workload,
                      int ranks = 2) const {
        return run_command(command(backend, ranks, workload), kJobTimeoutMs);
    }

    fs::path results() const { return dir_ / "results.h5"; }

    fs::path dir_;
};

TEST_F(NanosRun, TwoGuestsGiveTheProcessBackendsPlaquetteAndCgIterations) {
    const auto process = run("process", kWorkload);
    ASSERT_EQ(process.exit_code, 0) << process.output;
    const auto nanos = run("nanos", kWorkload);
    ASSERT_EQ(nanos.exit_code, 0) << nanos.output;
    EXPECT_NE(nanos.output.find("[r1] ukrun-lattice: MPI_Init done: rank 1 of 2"),
              std::string::npos)
        << nanos.output;
    EXPECT_NE(nanos.output.find("en1: assigned"), std::string::npos);  // the guest's console
    EXPECT_EQ(left_by_job(job_id_in(nanos.output)), std::vector<std::string>{});

    const auto runs = read_runs(results());
    ASSERT_EQ(runs.size(), 2u);
    const RunRecord& host = runs[0];
    const RunRecord& guest = runs[1];
    EXPECT_EQ(guest.backend, "nanos");
    EXPECT_EQ(guest.status, "ok");
    EXPECT_EQ(host.accelerator, "none");
    EXPECT_EQ(guest.accelerator, "tcg");  // KVM does not boot Nanos on these hosts
    EXPECT_EQ(guest.isa, "scalar");       // chosen under TCG when --isa is not given
    EXPECT_GT(host.cg_iterations, 0);
    EXPECT_EQ(guest.cg_iterations, host.cg_iterations);
    EXPECT_EQ(guest.plaquette, host.plaquette);  // same field, bit for bit
    ASSERT_EQ(guest.rank_records.size(), 2u);
    for (const auto& rank : guest.rank_records) {
        EXPECT_EQ(rank.exit_code, 0);
        EXPECT_GT(rank.boot_ms, 0);
        EXPECT_GT(rank.mpi_init_ms, rank.boot_ms);
        EXPECT_GT(rank.image_mib, 10);  // ukrun-lattice, Open MPI and its components
        EXPECT_GT(rank.rss_mib, 50);    // QEMU with a 512 MiB guest
        EXPECT_FALSE(rank.address.empty());
        std::printf("rank %d: boot %.0f ms, MPI_Init %.0f ms, image %.1f MiB, QEMU RSS %.0f MiB\n",
                    rank.rank, rank.boot_ms, rank.mpi_init_ms, rank.image_mib, rank.rss_mib);
    }
}

TEST_F(NanosRun, FailingRankGivesItsExitCodeAndConsoleLines) {
    // ukrun-lattice refuses a lattice it cannot split (status 2, from inside the guest).
    const auto r = run("nanos", {"--lattice", "4x4x4x3"});
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("last lines of rank"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("cannot be split"), std::string::npos) << r.output;
    EXPECT_EQ(left_by_job(job_id_in(r.output)), std::vector<std::string>{});
    const auto runs = read_runs(results());
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(runs[0].status, "failed");
    EXPECT_EQ(runs[0].exit_status, 2);
}

TEST_F(NanosRun, SigtermMidJobLeavesNoQemuTapOrBridge) {
    const Child child = spawn({.argv = command("nanos", 2, kLongWorkload),
                               .env = std::nullopt,
                               .new_process_group = true,
                               .capture_output = true,
                               .death_signal = SIGKILL,
                               .in_child = {}});
    std::string output;
    const auto both_up = [&] {
        return output.find("[r0] ukrun-lattice: MPI_Init done") != std::string::npos &&
               output.find("[r1] ukrun-lattice: MPI_Init done") != std::string::npos;
    };
    const auto read_for = [&](int ms, auto done) {
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
        char buffer[4096];
        while (!done() && std::chrono::steady_clock::now() < until) {
            pollfd p{child.output_fd, POLLIN, 0};
            if (::poll(&p, 1, 200) <= 0) continue;
            const ssize_t n = ::read(child.output_fd, buffer, sizeof buffer);
            if (n <= 0) break;
            output.append(buffer, static_cast<size_t>(n));
        }
    };
    read_for(90000, both_up);
    const std::string id = job_id_in(output);
    const bool up = both_up();
    if (up) {
        EXPECT_EQ(qemu_of_job(id).size(), 2u);  // the guests are really running
    }

    ::kill(child.pid, SIGTERM);
    read_for(30000, [] { return false; });
    ::close(child.output_fd);
    int status = 0;
    ::waitpid(child.pid, &status, 0);
    ASSERT_TRUE(up) << output;
    EXPECT_EQ(exit_code_from_status(status), 130) << output;
    EXPECT_EQ(left_by_job(id), std::vector<std::string>{});
    const auto runs = read_runs(results());
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(runs[0].status, "interrupted");
}

TEST_F(NanosRun, FourGuestsOversubscribedMatchTheProcessBackend) {
    const std::vector<std::string> workload = {"--lattice", "8x4x4x4", "--gauge", "random:5",
                                               "--solve"};
    const auto process = run("process", workload, 4);
    ASSERT_EQ(process.exit_code, 0) << process.output;
    const auto nanos = run("nanos", workload, 4);
    ASSERT_EQ(nanos.exit_code, 0) << nanos.output;
    const auto runs = read_runs(results());
    ASSERT_EQ(runs.size(), 2u);
    EXPECT_EQ(runs[1].ranks, 4);
    EXPECT_EQ(runs[1].rank_records.size(), 4u);
    EXPECT_EQ(runs[1].cg_iterations, runs[0].cg_iterations);
    EXPECT_EQ(runs[1].plaquette, runs[0].plaquette);
}

}  // namespace
