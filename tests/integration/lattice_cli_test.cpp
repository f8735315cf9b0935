// The built ukrun-lattice under a real `mpirun -np 2`: the MILC 8^4 sample's plaquette in the
// result line, a converged CG, and input errors that end every rank quickly with one line.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "test_paths.hpp"

namespace {

namespace fs = std::filesystem;

/// What one command did.
struct Outcome {
    int status = -1;  ///< exit status, or -1 when killed by a signal
    std::string out, err;
    double seconds = 0;
};

std::string slurp(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

/// Runs `args` through the shell with a 120 s limit, capturing stdout and stderr apart.
Outcome run(const std::string& args) {
    const fs::path dir = fs::temp_directory_path() / ("ukrun-cli-test-" + std::to_string(getpid()));
    fs::create_directories(dir);
    const std::string command = "timeout -k 5 120 " + args + " >" + (dir / "out").string() + " 2>" +
                                (dir / "err").string() + " </dev/null";
    Outcome outcome;
    const auto start = std::chrono::steady_clock::now();
    const int raw = std::system(command.c_str());
    outcome.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    outcome.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    outcome.out = slurp(dir / "out");
    outcome.err = slurp(dir / "err");
    fs::remove_all(dir);
    return outcome;
}

/// `mpirun -np N` with the flags a root, oversubscribed CI box needs, then ukrun-lattice.
std::string mpirun(int ranks) {
    std::string command = "mpirun -np " + std::to_string(ranks) + " --oversubscribe --bind-to none";
    if (geteuid() == 0) command += " --allow-run-as-root";
    return command + " " + ukrun::test::lattice_bin().string();
}

/// Lines of `text` that start with `prefix`.
std::vector<std::string> lines_starting(const std::string& text, const std::string& prefix) {
    std::vector<std::string> found;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind(prefix, 0) == 0) found.push_back(line);
    }
    return found;
}

TEST(LatticeCli, MilcSampleOnTwoRanksGivesItsPlaquetteAndConvergedCg) {
    if (ukrun::test::shared_data().empty()) {
        GTEST_SKIP() << "no ../shared/data: MILC samples absent";
    }
    const fs::path sample = ukrun::test::shared_data() / "milc" / "lat.sample.l8888";
    const Outcome o = run(mpirun(2) + " --lattice 8x8x8x8 --gauge milc:" + sample.string() +
                          " --solve --repetitions 4");
    ASSERT_EQ(o.status, 0) << o.out << o.err;

    const auto results = lines_starting(o.out, "UKRUN-RESULT ");
    ASSERT_EQ(results.size(), 1u) << o.out;
    const auto r = nlohmann::json::parse(results[0].substr(13));
    // lat.sample.l8888.info: gauge.ssplaq 1.779002, gauge.stplaq 1.782359 (unit field = 3).
    EXPECT_NEAR(3 * r["plaquette_ss"].get<double>(), 1.779002, 1e-6);
    EXPECT_NEAR(3 * r["plaquette_st"].get<double>(), 1.782359, 1e-6);
    EXPECT_EQ(r["ranks"], 2);
    EXPECT_EQ(r["lattice"], "8x8x8x8");
    EXPECT_EQ(r["hostnames"].size(), 2u);
    EXPECT_EQ(r["milc"]["computed_sum29"], "4f9d000e");
    EXPECT_EQ(r["milc"]["computed_sum31"], "8d72f72e");
    EXPECT_GT(r["mpi_init_ms"].get<double>(), 0);
    EXPECT_GT(r["dirac"]["us_per_site"].get<double>(), 0);
    EXPECT_TRUE(r["cg"]["converged"].get<bool>());
    EXPECT_LT(r["cg"]["residual"].get<double>(), 1e-8);
    EXPECT_GT(r["cg"]["iterations"].get<int>(), 10);

    // Each rank announces MPI_Init with the job size, for the runner.
    EXPECT_EQ(lines_starting(o.out, "ukrun-lattice: MPI_Init done: rank ").size(), 2u) << o.out;
    EXPECT_NE(o.out.find("of 2 on "), std::string::npos);
}

TEST(LatticeCli, ImpossibleDecompositionFailsFastWithOneLine) {
    const Outcome o = run(mpirun(2) + " --lattice 8x8x8x6 --grid 1x1x1x2");
    EXPECT_NE(o.status, 0);
    EXPECT_LT(o.seconds, 20) << "a bad decomposition must not hang";
    const auto lines = lines_starting(o.err, "ukrun-lattice:");
    ASSERT_EQ(lines.size(), 1u) << o.err;
    EXPECT_EQ(lines[0],
              "ukrun-lattice: --lattice 8x8x8x6 on grid 1x1x1x2: local extent 6/2 = 3 in "
              "direction 3 is odd; local extents must be even, choose a grid whose P3 divides 3");
    EXPECT_EQ(lines_starting(o.out, "UKRUN-RESULT").size(), 0u);
}

TEST(LatticeCli, UnreadableGaugeFileFailsFastWithOneLine) {
    const Outcome o = run(mpirun(2) + " --gauge milc:/nonexistent/ukrun.milc");
    EXPECT_NE(o.status, 0);
    EXPECT_LT(o.seconds, 20);
    const auto lines = lines_starting(o.err, "ukrun-lattice:");
    ASSERT_EQ(lines.size(), 1u) << o.err;
    EXPECT_EQ(lines[0].rfind("ukrun-lattice: /nonexistent/ukrun.milc: cannot open", 0), 0u)
        << lines[0];
}

TEST(LatticeCli, UnconvergedCgPrintsTheResultAndExitsFour) {
    const Outcome o = run(mpirun(2) + " --lattice 4x4x4x4 --solve --max-iterations 3");
    EXPECT_EQ(o.status, 4);
    ASSERT_EQ(lines_starting(o.out, "UKRUN-RESULT").size(), 1u) << o.out;
    const auto lines = lines_starting(o.err, "ukrun-lattice: CG did not converge");
    ASSERT_EQ(lines.size(), 1u) << o.err;
    EXPECT_NE(lines[0].find("after 3 iterations"), std::string::npos) << lines[0];
}

TEST(LatticeCli, PingpongCoversEightBytesToFourMebibytes) {
    const Outcome o = run(mpirun(2) + " bench pingpong");
    ASSERT_EQ(o.status, 0) << o.out << o.err;
    const auto results = lines_starting(o.out, "UKRUN-RESULT ");
    ASSERT_EQ(results.size(), 1u) << o.out;
    const auto sizes = nlohmann::json::parse(results[0].substr(13))["bench"]["sizes"];
    ASSERT_EQ(sizes.size(), 20u);
    for (std::size_t n = 0; n < sizes.size(); ++n) {
        EXPECT_EQ(sizes[n]["bytes"].get<int>(), 8 << n);
        EXPECT_GT(sizes[n]["latency_us"].get<double>(), 0);
        EXPECT_GE(sizes[n]["mean_latency_us"].get<double>(), sizes[n]["latency_us"].get<double>());
        EXPECT_NEAR(sizes[n]["mbps"].get<double>(), (8 << n) / sizes[n]["latency_us"].get<double>(),
                    1e-6 * (8 << n));
    }

    const Outcome alone = run(ukrun::test::lattice_bin().string() + " bench pingpong");
    EXPECT_EQ(alone.status, 2);
    EXPECT_EQ(
        lines_starting(alone.err, "ukrun-lattice: bench pingpong needs at least 2 ranks").size(),
        1u)
        << alone.err;
}

TEST(LatticeCli, HelpDocumentsEveryOption) {
    const Outcome o = run(ukrun::test::lattice_bin().string() + " --help");
    ASSERT_EQ(o.status, 0) << o.err;
    for (const char* option : {"--lattice", "--grid", "--gauge", "--ignore-checksum", "--precision",
                               "--mass", "--csw", "--bc-time", "--solve", "--tol", "--mixed",
                               "--isa", "--repetitions", "bench su3", "pingpong"}) {
        EXPECT_NE(o.out.find(option), std::string::npos) << option;
    }
    EXPECT_EQ(lines_starting(o.out, "UKRUN-RESULT").size(), 0u);
}

}  // namespace
