// The shim's pure parts: environment filter, rank detection, output monitoring.
#include "ukrun/runner/shim.hpp"

#include <gtest/gtest.h>

using namespace ukrun::runner;

TEST(FilterEnvironment, KeepsLauncherFamiliesAndBasicsOnly) {
    const std::vector<std::string> env = {"PATH=/usr/bin",
                                          "PMIX_RANK=1",
                                          "OMPI_MCA_orte_local_daemon_uri=x;tcp",
                                          "SLURM_PROCID=1",
                                          "SECRET_TOKEN=no",
                                          "HOME=/root",
                                          "LD_LIBRARY_PATH=/opt/l",
                                          "DISPLAY=:0",
                                          "MALFORMED",
                                          "=novalue",
                                          "PMIX_SERVER_URI4=pmix-server.1;tcp4://10.0.0.1:4000"};
    const auto kept = filter_environment(env);
    const std::vector<std::string> expected = {
        "PATH=/usr/bin",
        "PMIX_RANK=1",
        "OMPI_MCA_orte_local_daemon_uri=x;tcp",
        "SLURM_PROCID=1",
        "HOME=/root",
        "LD_LIBRARY_PATH=/opt/l",
        "PMIX_SERVER_URI4=pmix-server.1;tcp4://10.0.0.1:4000"};
    EXPECT_EQ(kept, expected);
}

TEST(FilterEnvironment, PrefixMustStartTheName) {
    const auto kept = filter_environment({"MY_PMIX_X=1", "XOMPI_Y=2", "OMPI_Z=3"});
    ASSERT_EQ(kept.size(), 1u);
    EXPECT_EQ(kept[0], "OMPI_Z=3");
}

TEST(EnvValue, FindsExactNameOnly) {
    const std::vector<std::string> env = {"PMIX_RANKX=9", "PMIX_RANK=4"};
    EXPECT_EQ(env_value(env, "PMIX_RANK"), "4");
    EXPECT_FALSE(env_value(env, "PMIX").has_value());
}

TEST(DetectRank, PrefersOmpiThenPmixThenSlurm) {
    EXPECT_EQ(detect_rank({"SLURM_PROCID=2", "PMIX_RANK=1", "OMPI_COMM_WORLD_RANK=0"}), 0);
    EXPECT_EQ(detect_rank({"SLURM_PROCID=2", "PMIX_RANK=1"}), 1);
    EXPECT_EQ(detect_rank({"SLURM_PROCID=3"}), 3);
}

TEST(DetectRank, RejectsMissingAndMalformed) {
    EXPECT_FALSE(detect_rank({"PATH=/bin"}).has_value());
    EXPECT_FALSE(detect_rank({"OMPI_COMM_WORLD_RANK=-1"}).has_value());
    EXPECT_FALSE(detect_rank({"OMPI_COMM_WORLD_RANK=1x"}).has_value());
    EXPECT_FALSE(detect_rank({"OMPI_COMM_WORLD_RANK="}).has_value());
}

TEST(SizeInLine, ReadsHeaderAndResultLines) {
    EXPECT_EQ(size_in_line("ukrun-lattice: MPI_Init done (rank 1 of 4)"), 4);
    EXPECT_EQ(size_in_line("ukrun-lattice: MPI_Init done, size 1"), 1);
    EXPECT_EQ(size_in_line("UKRUN-RESULT {\"ranks\": 2, \"plaquette\": 0.5}"), 2);
    EXPECT_EQ(size_in_line("plaquette 0.5"), -1);
    EXPECT_EQ(size_in_line("UKRUN-RESULT {broken"), -1);
}

TEST(RankMonitor, TimesFirstOutputAndMpiInit) {
    RankMonitor monitor(2, 1000.0);
    EXPECT_LT(monitor.first_output_ms(), 0);
    monitor.on_line("ukrun-lattice: starting", 1010.0);
    monitor.on_line("ukrun-lattice: MPI_Init done (rank 0 of 2)", 1250.0);
    monitor.on_line("ukrun-lattice: MPI_Init done again", 1300.0);
    EXPECT_DOUBLE_EQ(monitor.first_output_ms(), 10.0);
    EXPECT_DOUBLE_EQ(monitor.mpi_init_ms(), 250.0);
    EXPECT_DOUBLE_EQ(monitor.mpi_init_epoch_ms(), 1250.0);
    EXPECT_EQ(monitor.reported_size(), 2);
    EXPECT_TRUE(monitor.singleton_error().empty());
}

TEST(RankMonitor, FlagsSingletonWhenJobHasMoreRanks) {
    RankMonitor monitor(2, 0.0);
    monitor.on_line("ukrun-lattice: MPI_Init done (rank 0 of 1)", 5.0);
    EXPECT_NE(monitor.singleton_error().find("singleton"), std::string::npos);

    RankMonitor alone(1, 0.0);
    alone.on_line("ukrun-lattice: MPI_Init done (rank 0 of 1)", 5.0);
    EXPECT_TRUE(alone.singleton_error().empty());
}

TEST(RankStatus, JsonRoundTrip) {
    RankStatus s;
    s.rank = 3;
    s.exit_code = 7;
    s.boot_ms = 12.5;
    s.failure = "why";
    const auto back = nlohmann::json(s).get<RankStatus>();
    EXPECT_EQ(back.rank, 3);
    EXPECT_EQ(back.exit_code, 7);
    EXPECT_DOUBLE_EQ(back.boot_ms, 12.5);
    EXPECT_EQ(back.failure, "why");
    EXPECT_EQ(rank_log_path("/tmp/j", 3), "/tmp/j/rank-3.log");
}
