// Spawning, captured commands and the watchdog, with small real programs (sh, sleep).
#include "ukrun/runner/process.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "ukrun/runner/watchdog.hpp"

using namespace ukrun::runner;

namespace {

/// Processes of group `pgid` that are still alive (zombies waiting for init to reap them do
/// not count: they run nothing).
int live_members(pid_t pgid) {
    int live = 0;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        std::ifstream stat(entry.path() / "stat");
        std::string line;
        if (!std::getline(stat, line)) continue;
        const auto close = line.rfind(')');
        if (close == std::string::npos) continue;
        char state = 0;
        int ppid = 0, group = 0;
        if (std::sscanf(line.c_str() + close + 1, " %c %d %d", &state, &ppid, &group) != 3)
            continue;
        if (group == pgid && state != 'Z' && state != 'X') ++live;
    }
    return live;
}

/// Starts `argv` as the leader of its own process group, output not captured.
pid_t start_group(const std::vector<std::string>& argv) {
    return spawn({.argv = argv,
                  .env = {},
                  .new_process_group = true,
                  .capture_output = false,
                  .death_signal = 0,
                  .in_child = {}})
        .pid;
}

/// Milliseconds since `start`.
long ms_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start)
        .count();
}

}  // namespace

TEST(RunCommand, CapturesOutputAndExitCode) {
    const auto r = run_command({"sh", "-c", "echo out; echo err >&2; exit 5"});
    EXPECT_EQ(r.exit_code, 5);
    EXPECT_EQ(r.output, "out\nerr\n");
    EXPECT_FALSE(r.timed_out);
}

TEST(RunCommand, MissingProgramIsReportedNotThrown) {
    const auto r = run_command({"/nonexistent/ukrun-no-such-program"});
    EXPECT_EQ(r.exit_code, -1);
    EXPECT_NE(r.output.find("cannot start /nonexistent/ukrun-no-such-program"), std::string::npos);
}

TEST(RunCommand, TimeoutKillsTheCommand) {
    const auto start = std::chrono::steady_clock::now();
    const auto r = run_command({"sleep", "30"}, 200);
    const auto ms = ms_since(start);
    EXPECT_TRUE(r.timed_out);
    EXPECT_EQ(r.exit_code, 128 + SIGKILL);
    EXPECT_LT(ms, 5000);
}

TEST(Spawn, EnvironmentIsExactlyTheGivenOne) {
    const auto r = run_command({"sh", "-c", "echo \"$A-$HOME\""}, 5000,
                               std::vector<std::string>{"A=1", "PATH=/usr/bin:/bin"});
    EXPECT_EQ(r.output, "1-\n");
}

TEST(ExitCode, SignalsBecome128PlusSignal) {
    EXPECT_EQ(exit_code_from_status(3 << 8), 3);
    EXPECT_EQ(exit_code_from_status(SIGTERM), 128 + SIGTERM);
}

TEST(Watchdog, NormalExitIsReported) {
    BlockedSignals signals;
    const pid_t pid = start_group({"sh", "-c", "exit 4"});
    const auto r = Watchdog(signals, 10).wait(pid);
    EXPECT_EQ(r.outcome, WatchOutcome::exited);
    EXPECT_EQ(r.exit_code, 4);
}

TEST(Watchdog, TimeoutKillsAGroupThatIgnoresSigterm) {
    BlockedSignals signals;
    const pid_t pid = start_group({"sh", "-c", "trap '' TERM; sleep 30 & wait; sleep 30"});
    const auto start = std::chrono::steady_clock::now();
    const auto r = Watchdog(signals, 0.3, 300).wait(pid);
    const auto ms = ms_since(start);
    EXPECT_EQ(r.outcome, WatchOutcome::timeout);
    EXPECT_TRUE(r.killed);
    EXPECT_EQ(r.exit_code, 128 + SIGKILL);
    EXPECT_LT(ms, 3000);
    // Nothing left in the group once the orphaned sleep (killed too) has been reaped.
    int live = live_members(pid);
    for (int i = 0; i < 100 && live > 0; ++i) {
        ::usleep(50000);
        live = live_members(pid);
    }
    EXPECT_EQ(live, 0);
}

TEST(Watchdog, SigtermToUsInterruptsTheLauncher) {
    BlockedSignals signals;
    const pid_t pid = start_group({"sleep", "30"});
    ::kill(::getpid(), SIGTERM);  // blocked: lands in the signalfd
    const auto r = Watchdog(signals, 10).wait(pid);
    EXPECT_EQ(r.outcome, WatchOutcome::interrupted);
    EXPECT_EQ(r.signal, SIGTERM);
    EXPECT_EQ(r.exit_code, 128 + SIGTERM);
    EXPECT_FALSE(r.killed);
}
