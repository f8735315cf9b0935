// Proves the HDF5 results file: every field survives a round trip (texts over 64 KiB
// included), failed runs keep their reason, ids count up, a writer killed at any point leaves
// the earlier runs readable, bad files are rejected with messages naming them, h5dump reads
// the file, and `ukrun show` prints it.
#include "ukrun/runner/results.hpp"

#include <gtest/gtest.h>
#include <hdf5.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "ukrun/runner/commands.hpp"

namespace fs = std::filesystem;
using namespace ukrun::runner;

namespace {

/// A fresh directory per test, removed afterwards.
class Results : public ::testing::Test {
  protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "ukrun-results-XXXXXX").string();
        ASSERT_NE(mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
        file_ = (dir_ / "study.h5").string();
    }
    void TearDown() override { fs::remove_all(dir_); }

    /// Files in the test directory whose names start with study.h5.tmp-.
    std::vector<fs::path> leftover_copies() const {
        std::vector<fs::path> out;
        for (const auto& entry : fs::directory_iterator(dir_)) {
            if (entry.path().filename().string().rfind("study.h5.tmp-", 0) == 0) {
                out.push_back(entry.path());
            }
        }
        return out;
    }

    fs::path dir_;
    std::string file_;
};

/// A text of `bytes` bytes whose content depends on `seed` (so a mix-up is detected).
std::string long_text(std::size_t bytes, char seed) {
    std::string text;
    text.reserve(bytes);
    for (std::size_t i = 0; text.size() < bytes; ++i) {
        text +=
            "line " + std::to_string(i) + " " + std::string(1, char('a' + (seed + i) % 26)) + "\n";
    }
    text.resize(bytes);
    return text;
}

/// A run with every field set to a distinct, checkable value.
RunRecord full_run(int variant) {
    RunRecord run;
    run.time_utc = "2026-12-04T17:0" + std::to_string(variant) + ":00Z";
    run.backend = variant % 2 ? "netns" : "process";
    run.ranks = 2 + variant;
    run.grid = "1x1x1x" + std::to_string(run.ranks);
    run.lattice = "8x8x8x16";
    run.local_lattice = "8x8x8x4";
    run.precision = "double";
    run.isa = "avx2";
    run.accelerator = "none";
    run.gauge = "random:" + std::to_string(5 + variant);
    run.launch_ms = 812.25 + variant;
    run.mpi_init_ms = 301.5;
    run.plaquette = -0.001234567890123;  // a random gauge field's plaquette may be negative
    run.dirac_us_per_site = 0.4375;
    run.dirac_gflops = 3.0517578125;
    run.halo_ms = 1.125;
    run.cg_iterations = 87 + variant;
    run.cg_residual = 3.2e-11;
    run.exit_status = 0;
    run.status = "ok";
    run.result_json = R"({"plaquette":-0.001234567890123,"cg":{"iterations":87}})";
    run.plan_json = long_text(70 * 1024, char(variant));
    run.topology_text = long_text(100 * 1024, char(variant + 7));
    run.versions = "ukrun 0.1.0; Open MPI 4.1.4; kernel 6.1";
    run.command_line = "mpirun --allow-run-as-root -n 2 ukrun shim --job /tmp/j -- x";
    for (int r = 0; r < run.ranks; ++r) {
        RankRecord rank;
        rank.rank = r;
        rank.node = "node" + std::to_string(r % 2);
        rank.address = "10.77.0." + std::to_string(10 + r);
        rank.exit_code = 0;
        rank.boot_ms = 10.5 + r;
        rank.mpi_init_ms = 250.25 + r;
        rank.rss_mib = 48.75 + r;
        rank.image_mib = -1;
        run.rank_records.push_back(rank);
    }
    return run;
}

void expect_same(const RunRecord& a, const RunRecord& b) {
    EXPECT_EQ(a.time_utc, b.time_utc);
    EXPECT_EQ(a.backend, b.backend);
    EXPECT_EQ(a.ranks, b.ranks);
    EXPECT_EQ(a.grid, b.grid);
    EXPECT_EQ(a.lattice, b.lattice);
    EXPECT_EQ(a.local_lattice, b.local_lattice);
    EXPECT_EQ(a.precision, b.precision);
    EXPECT_EQ(a.isa, b.isa);
    EXPECT_EQ(a.accelerator, b.accelerator);
    EXPECT_EQ(a.gauge, b.gauge);
    EXPECT_EQ(a.launch_ms, b.launch_ms);
    EXPECT_EQ(a.mpi_init_ms, b.mpi_init_ms);
    EXPECT_EQ(a.plaquette, b.plaquette);
    EXPECT_EQ(a.dirac_us_per_site, b.dirac_us_per_site);
    EXPECT_EQ(a.dirac_gflops, b.dirac_gflops);
    EXPECT_EQ(a.halo_ms, b.halo_ms);
    EXPECT_EQ(a.cg_iterations, b.cg_iterations);
    EXPECT_EQ(a.cg_residual, b.cg_residual);
    EXPECT_EQ(a.exit_status, b.exit_status);
    EXPECT_EQ(a.status, b.status);
    EXPECT_EQ(a.failure, b.failure);
    EXPECT_EQ(a.result_json, b.result_json);
    EXPECT_EQ(a.plan_json, b.plan_json);
    EXPECT_EQ(a.topology_text, b.topology_text);
    EXPECT_EQ(a.versions, b.versions);
    EXPECT_EQ(a.command_line, b.command_line);
    ASSERT_EQ(a.rank_records.size(), b.rank_records.size());
    for (std::size_t i = 0; i < a.rank_records.size(); ++i) {
        const auto& x = a.rank_records[i];
        const auto& y = b.rank_records[i];
        EXPECT_EQ(x.rank, y.rank);
        EXPECT_EQ(x.node, y.node);
        EXPECT_EQ(x.address, y.address);
        EXPECT_EQ(x.exit_code, y.exit_code);
        EXPECT_EQ(x.boot_ms, y.boot_ms);
        EXPECT_EQ(x.mpi_init_ms, y.mpi_init_ms);
        EXPECT_EQ(x.rss_mib, y.rss_mib);
        EXPECT_EQ(x.image_mib, y.image_mib);
    }
}

/// The message of the std::runtime_error `body` throws, or "no exception".
template <class Body>
std::string error_of(Body body) {
    try {
        body();
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "no exception";
}

/// Runs `body` in a forked child that exits 0 (or 1 if it threw); returns the child's pid.
template <class Body>
pid_t fork_child(Body body) {
    const pid_t pid = fork();
    if (pid == 0) {
        int code = 0;
        try {
            body();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "child: %s\n", e.what());
            code = 1;
        }
        _exit(code);
    }
    return pid;
}

/// Captures what `body` prints on stdout, and its return value.
template <class Body>
std::pair<int, std::string> capture_stdout(Body body) {
    ::testing::internal::CaptureStdout();
    const int code = body();
    std::fflush(stdout);
    return {code, ::testing::internal::GetCapturedStdout()};
}

}  // namespace

TEST_F(Results, RoundTripKeepsEveryFieldIncludingLongTexts) {
    const RunRecord first = full_run(0);
    const RunRecord second = full_run(1);
    EXPECT_EQ(append_run(file_, first), 1);
    EXPECT_EQ(append_run(file_, second), 2);

    const auto runs = read_runs(file_);
    ASSERT_EQ(runs.size(), 2u);
    EXPECT_EQ(runs[0].id, 1);
    EXPECT_EQ(runs[1].id, 2);
    expect_same(runs[0], first);
    expect_same(runs[1], second);
    EXPECT_EQ(runs[1].topology_text.size(), 100u * 1024);
    EXPECT_EQ(runs[1].rank_records.size(), 3u);
    EXPECT_EQ(run_group_path(1), "/run/000001");
    EXPECT_TRUE(leftover_copies().empty());
}

TEST_F(Results, FailedRunIsStoredAsFailedWithItsFullReason) {
    RunRecord run = full_run(0);
    run.status = "failed";
    run.exit_status = 3;
    run.plaquette = -1;
    run.failure = "rank 1 exited with status 3; its last log lines: " + std::string(400, 'x');
    run.rank_records[1].exit_code = 3;
    append_run(file_, run);

    RunRecord no_reason;  // no status, no reason: derived from the exit status
    no_reason.exit_status = 124;
    append_run(file_, no_reason);

    const auto runs = read_runs(file_);
    ASSERT_EQ(runs.size(), 2u);
    EXPECT_EQ(runs[0].status, "failed");
    EXPECT_EQ(runs[0].exit_status, 3);
    EXPECT_EQ(runs[0].failure, run.failure);  // longer than the table column: from the group
    EXPECT_EQ(runs[0].rank_records[1].exit_code, 3);
    EXPECT_EQ(runs[0].plaquette, -1);
    EXPECT_EQ(runs[1].status, "failed");
    EXPECT_EQ(runs[1].failure, "exit status 124 (no reason recorded)");
    EXPECT_TRUE(runs[1].rank_records.empty());
}

TEST_F(Results, TwoAppendsGiveIdsOneAndTwoAndTheSchemaAttribute) {
    EXPECT_EQ(append_run(file_, RunRecord{}), 1);
    EXPECT_EQ(append_run(file_, RunRecord{}), 2);

    const hid_t file = H5Fopen(file_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    ASSERT_GE(file, 0);
    const hid_t attribute = H5Aopen(file, "ukrun_schema_version", H5P_DEFAULT);
    ASSERT_GE(attribute, 0);
    long long version = 0;
    H5Aread(attribute, H5T_NATIVE_LLONG, &version);
    H5Aclose(attribute);
    EXPECT_EQ(version, kResultsSchemaVersion);
    EXPECT_GT(H5Lexists(file, "/run/000002", H5P_DEFAULT), 0);
    H5Fclose(file);
}

TEST_F(Results, WriterKilledAtEachStageLeavesTheEarlierRuns) {
    append_run(file_, full_run(0));
    append_run(file_, full_run(1));
    const auto size_before = fs::file_size(file_);

    for (const char* stage : {"copied", "mid-write", "synced"}) {
        SCOPED_TRACE(stage);
        const pid_t child = fork_child([&] {
            setenv("UKRUN_RESULTS_TEST_PAUSE", stage, 1);
            append_run(file_, full_run(2));
        });
        ASSERT_GT(child, 0);
        int status = 0;
        ASSERT_EQ(waitpid(child, &status, WUNTRACED), child);
        ASSERT_TRUE(WIFSTOPPED(status)) << "the child finished without reaching " << stage;
        EXPECT_EQ(leftover_copies().size(), 1u);  // its half-made copy
        kill(child, SIGKILL);
        ASSERT_EQ(waitpid(child, &status, 0), child);
        ASSERT_TRUE(WIFSIGNALED(status));

        const auto runs = read_runs(file_);  // the copy is ignored
        ASSERT_EQ(runs.size(), 2u);
        expect_same(runs[1], full_run(1));
        EXPECT_EQ(fs::file_size(file_), size_before);
    }

    EXPECT_EQ(append_run(file_, full_run(2)), 3);  // cleans the copy up
    EXPECT_TRUE(leftover_copies().empty());
    EXPECT_EQ(read_runs(file_).size(), 3u);
}

TEST_F(Results, WriterKilledAtARandomMomentLeavesWholeRuns) {
    const auto start = std::chrono::steady_clock::now();
    const pid_t child = fork_child([&] {
        for (int i = 0; i < 100000; ++i) append_run(file_, full_run(i % 5));
    });
    ASSERT_GT(child, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    kill(child, SIGKILL);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status));
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    const auto runs = read_runs(file_);
    ASSERT_GE(runs.size(), 1u) << "no append finished in 600 ms";
    for (std::size_t i = 0; i < runs.size(); ++i) {
        EXPECT_EQ(runs[i].id, static_cast<std::int64_t>(i + 1));
        expect_same(runs[i], full_run(static_cast<int>(i % 5)));
    }
    std::printf(
        "[ info ] %zu whole runs (170 KiB of text each) appended in %.2f s before the kill\n",
        runs.size(), seconds);
    EXPECT_EQ(append_run(file_, RunRecord{}), static_cast<std::int64_t>(runs.size() + 1));
}

TEST_F(Results, ConcurrentWritersAppendOneAfterTheOther) {
    std::vector<pid_t> children;
    for (int writer = 0; writer < 2; ++writer) {
        children.push_back(fork_child([&, writer] {
            for (int i = 0; i < 5; ++i) {
                RunRecord run;
                run.gauge = "writer" + std::to_string(writer) + "-" + std::to_string(i);
                run.exit_status = 0;
                append_run(file_, run);
            }
        }));
    }
    for (pid_t child : children) {
        int status = 0;
        ASSERT_EQ(waitpid(child, &status, 0), child);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }

    const auto runs = read_runs(file_);
    ASSERT_EQ(runs.size(), 10u);
    std::set<std::string> gauges;
    for (std::size_t i = 0; i < runs.size(); ++i) {
        EXPECT_EQ(runs[i].id, static_cast<std::int64_t>(i + 1));
        gauges.insert(runs[i].gauge);
    }
    EXPECT_EQ(gauges.size(), 10u);
    EXPECT_TRUE(gauges.count("writer1-4"));
}

TEST_F(Results, BadFilesAreRejectedNamingTheFileAndTheProblem) {
    const std::string missing = (dir_ / "missing.h5").string();
    EXPECT_EQ(error_of([&] { read_runs(missing); }), missing + ": no such file");

    const std::string text = (dir_ / "results.h5").string();
    std::ofstream(text) << "plaquette,0.5\n";
    EXPECT_EQ(error_of([&] { read_runs(text); }), text + ": not an HDF5 file");
    EXPECT_EQ(error_of([&] { append_run(text, RunRecord{}); }), text + ": not an HDF5 file");
    std::ifstream in(text);
    std::string kept;
    std::getline(in, kept);
    EXPECT_EQ(kept, "plaquette,0.5");  // append did not touch it

    const std::string other = (dir_ / "x.h5").string();
    H5Fclose(H5Fcreate(other.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    EXPECT_EQ(error_of([&] { read_runs(other); }),
              other + ": no /runs table; is this a ukrun results file?");

    append_run(file_, RunRecord{});
    const std::string truncated = (dir_ / "cut.h5").string();
    fs::copy_file(file_, truncated);
    fs::resize_file(truncated, 3000);
    EXPECT_NE(error_of([&] { read_runs(truncated); }).find("cut.h5 failed: truncated file"),
              std::string::npos);

    const hid_t file = H5Fopen(file_.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    const hid_t attribute = H5Aopen(file, "ukrun_schema_version", H5P_DEFAULT);
    const long long future = kResultsSchemaVersion + 1;
    H5Awrite(attribute, H5T_NATIVE_LLONG, &future);
    H5Aclose(attribute);
    H5Fclose(file);
    EXPECT_NE(
        error_of([&] { read_runs(file_); }).find("study.h5: schema version 2 is not readable"),
        std::string::npos);
}

TEST_F(Results, ProblemsAreFoundBeforeAJobRuns) {
    EXPECT_EQ(results_file_problem(file_), "");  // a new file in an existing directory
    append_run(file_, RunRecord{});
    EXPECT_EQ(results_file_problem(file_), "");  // an existing results file

    const std::string text = (dir_ / "notes.h5").string();
    std::ofstream(text) << "not hdf5\n";
    EXPECT_EQ(results_file_problem(text),
              text + ": not an HDF5 file; choose another --results file");

    const std::string nowhere = (dir_ / "no-such-dir" / "r.h5").string();
    EXPECT_EQ(results_file_problem(nowhere),
              nowhere + ": directory " + (dir_ / "no-such-dir").string() +
                  " does not exist; create it or choose another --results");
}

TEST_F(Results, H5dumpReadsTheFile) {
    std::string h5dump;
    for (const char* dir : {"/usr/bin", "/usr/local/bin"}) {
        if (fs::exists(fs::path(dir) / "h5dump")) h5dump = (fs::path(dir) / "h5dump").string();
    }
    if (h5dump.empty()) GTEST_SKIP() << "h5dump not installed (Debian package hdf5-tools)";

    RunRecord run = full_run(0);
    run.backend = "netns";
    append_run(file_, run);
    const auto read = [&](const std::string& args) {
        std::string out;
        FILE* pipe = popen((h5dump + " " + args + " " + file_ + " 2>&1").c_str(), "r");
        char buffer[4096];
        while (std::fgets(buffer, sizeof buffer, pipe)) out += buffer;
        EXPECT_EQ(pclose(pipe), 0) << out;
        return out;
    };

    const std::string header = read("-H");
    EXPECT_NE(header.find("DATASET \"runs\""), std::string::npos) << header;
    EXPECT_NE(header.find("ukrun_schema_version"), std::string::npos);
    EXPECT_NE(header.find("GROUP \"000001\""), std::string::npos);
    EXPECT_NE(header.find("H5T_STRING"), std::string::npos);
    const std::string table = read("-d /runs");
    EXPECT_NE(table.find("\"netns\""), std::string::npos) << table;
    EXPECT_NE(table.find("\"random:5\""), std::string::npos);
}

TEST_F(Results, ShowPrintsTheTableTheDetailsAndJson) {
    append_run(file_, full_run(0));
    RunRecord failed = full_run(1);
    failed.status = "failed";
    failed.exit_status = 3;
    failed.failure = "rank 1 exited with status 3";
    append_run(file_, failed);

    const auto [code, table] = capture_stdout([&] { return cmd_show({file_}); });
    EXPECT_EQ(code, kExitOk);
    EXPECT_NE(table.find("plaquette"), std::string::npos) << table;
    EXPECT_NE(table.find("-0.001235"), std::string::npos) << table;
    EXPECT_NE(table.find("failed"), std::string::npos);

    const auto [code2, details] = capture_stdout([&] { return cmd_show({file_, "--run", "2"}); });
    EXPECT_EQ(code2, kExitOk);
    EXPECT_NE(details.find("rank 1 exited with status 3"), std::string::npos) << details;
    EXPECT_NE(details.find("10.77.0.12"), std::string::npos);  // the third rank's row

    const auto [code3, json] = capture_stdout([&] { return cmd_show({file_, "--json"}); });
    EXPECT_EQ(code3, kExitOk);
    const auto parsed = nlohmann::json::parse(json);
    ASSERT_EQ(parsed.size(), 2u);
    EXPECT_EQ(parsed[1]["status"], "failed");
    EXPECT_EQ(parsed[1]["rank_records"].size(), 3u);
    EXPECT_EQ(parsed[0]["topology_text"].get<std::string>().size(), 100u * 1024);
}

TEST_F(Results, ShowExitsWithBadInputForAnUnreadableFileOrUnknownRun) {
    const std::string text = (dir_ / "notes.h5").string();
    std::ofstream(text) << "not hdf5\n";
    EXPECT_EQ(cmd_show({text}), kExitBadInput);
    append_run(file_, RunRecord{});
    EXPECT_EQ(cmd_show({file_, "--run", "9"}), kExitBadInput);
    EXPECT_EQ(cmd_show({file_, "--bogus"}), kExitUsage);
    EXPECT_EQ(capture_stdout([] { return cmd_show({"--help"}); }).first, kExitOk);
}
