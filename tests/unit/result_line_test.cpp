// Result-line parsing, the exit-code rule and the mpirun command line.
#include <gtest/gtest.h>

#include <algorithm>

#include "ukrun/runner/commands.hpp"
#include "ukrun/runner/job.hpp"

using namespace ukrun::runner;

namespace {

const char* kGoodResult =
    R"(UKRUN-RESULT {"lattice":"8x8x8x8","grid":[1,1,1,2],"ranks":2,"precision":"double",)"
    R"("isa":"avx2","gauge":"random:5","plaquette":0.0123456789,"local_lattice":"8x8x8x4",)"
    R"("mpi_init_ms":41.5,"dirac":{"us_per_site":0.25,"gflops":5.5,"halo_ms":0.75},)"
    R"("cg":{"iterations":87,"residual":3.5e-11}})";

RankStatus status(int rank, int code, double end_ms) {
    RankStatus s;
    s.rank = rank;
    s.exit_code = code;
    s.end_epoch_ms = end_ms;
    return s;
}

}  // namespace

TEST(FindResult, ParsesPrefixedLineAmongOthers) {
    const std::string log =
        std::string("[r0] ukrun-lattice: MPI_Init done\n[r0] ") + kGoodResult + "\n[r0] bye\n";
    std::string error;
    const auto json = find_result(log, error);
    ASSERT_TRUE(json.has_value()) << error;
    EXPECT_DOUBLE_EQ((*json)["plaquette"].get<double>(), 0.0123456789);
}

TEST(FindResult, MissingLineIsAnError) {
    std::string error;
    EXPECT_FALSE(find_result("ukrun-lattice: MPI_Init done\n", error).has_value());
    EXPECT_NE(error.find("no 'UKRUN-RESULT"), std::string::npos);
}

TEST(FindResult, MalformedJsonIsAnError) {
    std::string error;
    EXPECT_FALSE(find_result("UKRUN-RESULT {\"plaquette\": 0.5,\n", error).has_value());
    EXPECT_NE(error.find("not a JSON object"), std::string::npos);
    EXPECT_FALSE(find_result("UKRUN-RESULT [1,2]\n", error).has_value());
}

TEST(FillFromResult, CopiesEveryField) {
    std::string error;
    const auto json = find_result(kGoodResult, error);
    ASSERT_TRUE(json.has_value()) << error;
    RunRecord run;
    fill_from_result(*json, run);
    EXPECT_EQ(run.lattice, "8x8x8x8");
    EXPECT_EQ(run.grid, "1x1x1x2");
    EXPECT_EQ(run.local_lattice, "8x8x8x4");
    EXPECT_EQ(run.precision, "double");
    EXPECT_EQ(run.isa, "avx2");
    EXPECT_EQ(run.gauge, "random:5");
    EXPECT_DOUBLE_EQ(run.plaquette, 0.0123456789);
    EXPECT_DOUBLE_EQ(run.mpi_init_ms, 41.5);
    EXPECT_DOUBLE_EQ(run.dirac_us_per_site, 0.25);
    EXPECT_DOUBLE_EQ(run.dirac_gflops, 5.5);
    EXPECT_DOUBLE_EQ(run.halo_ms, 0.75);
    EXPECT_EQ(run.cg_iterations, 87);
    EXPECT_DOUBLE_EQ(run.cg_residual, 3.5e-11);
    EXPECT_FALSE(run.result_json.empty());
}

TEST(FillFromResult, MissingSectionsKeepDefaults) {
    RunRecord run;
    fill_from_result(nlohmann::json{{"plaquette", 1.0}}, run);
    EXPECT_DOUBLE_EQ(run.plaquette, 1.0);
    EXPECT_EQ(run.cg_iterations, -1);
    EXPECT_DOUBLE_EQ(run.dirac_gflops, -1);
}

TEST(JobExitCode, SuccessNeedsTheResultLine) {
    JobEnd end;
    end.ranks = {status(0, 0, 10), status(1, 0, 11)};
    end.result_found = true;
    EXPECT_EQ(job_exit_code(end), kExitOk);
    end.result_found = false;
    EXPECT_EQ(job_exit_code(end), kExitJobFailed);
}

TEST(JobExitCode, FirstFailingRanksCodePassesThrough) {
    JobEnd end;
    end.launcher_code = 3;
    end.ranks = {status(0, 143, 20), status(1, 3, 10)};
    EXPECT_EQ(failing_rank(end.ranks)->rank, 1);
    EXPECT_EQ(job_exit_code(end), 3);
}

TEST(JobExitCode, LargeCodesAndSignalsMapToJobFailed) {
    JobEnd end;
    end.ranks = {status(0, 0, 5), status(1, 139, 6)};
    EXPECT_EQ(job_exit_code(end), kExitJobFailed);
}

TEST(JobExitCode, TimeoutAndInterruptWin) {
    JobEnd end;
    end.ranks = {status(0, 3, 5)};
    end.outcome = WatchOutcome::timeout;
    EXPECT_EQ(job_exit_code(end), kExitTimeout);
    end.outcome = WatchOutcome::interrupted;
    EXPECT_EQ(job_exit_code(end), kExitInterrupted);
}

TEST(MpirunCommand, IsolatedJobAsRoot) {
    LaunchSettings s;
    s.mpirun = "/usr/bin/mpirun";
    s.ranks = 2;
    s.as_root = true;
    s.cores = 2;
    s.backend_mca = {"--mca", "btl", "self,tcp"};
    s.ukrun = "/b/ukrun";
    s.job_dir = "/tmp/ukrun-abc";
    s.lattice = "/b/ukrun-lattice";
    s.lattice_args = {"--lattice", "8x8x8x8"};
    const std::vector<std::string> expected = {"/usr/bin/mpirun",
                                               "-np",
                                               "2",
                                               "--allow-run-as-root",
                                               "--oversubscribe",
                                               "--bind-to",
                                               "core",
                                               "--mca",
                                               "btl",
                                               "self,tcp",
                                               "/b/ukrun",
                                               "shim",
                                               "--job",
                                               "/tmp/ukrun-abc",
                                               "--",
                                               "/b/ukrun-lattice",
                                               "--lattice",
                                               "8x8x8x8"};
    EXPECT_EQ(mpirun_command(s), expected);
}

TEST(MpirunCommand, MoreRanksThanCoresUnbindsAndNonRootOmitsFlag) {
    LaunchSettings s;
    s.ranks = 4;
    s.cores = 2;
    const auto cmd = mpirun_command(s);
    EXPECT_EQ(std::count(cmd.begin(), cmd.end(), "--allow-run-as-root"), 0);
    const auto bind = std::find(cmd.begin(), cmd.end(), "--bind-to");
    ASSERT_NE(bind, cmd.end());
    EXPECT_EQ(*(bind + 1), "none");
}
