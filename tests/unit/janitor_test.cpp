// The janitor's records, clean-up and stale-job reaping over a fake network, a janitor that
// outlives its killed coordinator, and the choice of a free job subnet.
#include "ukrun/runner/janitor.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "ukrun/runner/job_subnet.hpp"

using namespace ukrun::runner;
namespace fs = std::filesystem;

namespace {

/// Links and namespaces in sets; every removal is appended to `log` (a file, so that a forked
/// janitor's removals can be seen by the test).
struct FakeNetwork : NetworkOps {
    std::set<std::string> links, namespaces;
    std::string log;
    void add_netns(const std::string& name) override { namespaces.insert(name); }
    void remove_netns(const std::string& name) override {
        namespaces.erase(name);
        std::ofstream(log, std::ios::app) << "netns " << name << "\n";
    }
    void add_bridge(const std::string& name, int, const std::string&) override {
        links.insert(name);
    }
    void add_veth(const std::string& host_if, const std::string&, const std::string&,
                  const std::string&, const std::string&, int) override {
        links.insert(host_if);
    }
    void remove_link(const std::string& name) override {
        links.erase(name);
        std::ofstream(log, std::ios::app) << "link " << name << "\n";
    }
    bool link_exists(const std::string& name) override { return links.count(name) > 0; }
    bool netns_exists(const std::string& name) override { return namespaces.count(name) > 0; }
    std::vector<std::string> subnet_users(const Cidr&) override { return {}; }
};

std::string slurp(const fs::path& path) {
    std::ifstream in(path);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

/// A fresh private directory under /tmp, removed afterwards.
struct JanitorTest : ::testing::Test {
    fs::path dir;
    void SetUp() override {
        char name[] = "/tmp/ukrun-janitor-test-XXXXXX";
        ASSERT_NE(::mkdtemp(name), nullptr);
        dir = name;
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }

    /// A factory for a fake holding link "ukbabc123" and namespace "ukrun-abc123-r1".
    NetworkOpsFactory fake_factory() const {
        const std::string log = (dir / "removed.log").string();
        return [log] {
            auto fake = std::make_unique<FakeNetwork>();
            fake->links = {"ukbabc123", "eth0"};
            fake->namespaces = {"ukrun-abc123-r1"};
            fake->log = log;
            return fake;
        };
    }

    /// Writes DIR/ukrun-ID/owned with `text`, mode 0755 as a job directory has.
    fs::path job_dir(const std::string& id, const std::string& text) const {
        const fs::path job = dir / ("ukrun-" + id);
        fs::create_directories(job);
        ::chmod(job.c_str(), 0755);
        std::ofstream(job / "owned") << text;
        ::chmod((job / "owned").c_str(), 0644);
        return job;
    }
};

/// The mark of a process that ran and is gone.
ProcessMark dead_mark() {
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::pause();
        ::_exit(0);
    }
    const ProcessMark mark = process_mark(pid);
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return mark;
}

std::string mark_text(const ProcessMark& m) {
    return std::to_string(m.pid) + " " + std::to_string(m.start_ticks);
}

}  // namespace

TEST(ProcessMarkTest, ARunningProcessIsRunningAndAReapedOneIsNot) {
    const ProcessMark self = process_mark(::getpid());
    EXPECT_GT(self.start_ticks, 0u);
    EXPECT_TRUE(is_running(self));
    const ProcessMark gone = dead_mark();
    EXPECT_GT(gone.start_ticks, 0u);
    EXPECT_FALSE(is_running(gone));
    EXPECT_FALSE(is_running({::getpid(), self.start_ticks + 1}));  // pid reused
}

TEST(PlannedObjectsTest, NetnsPlanOwnsBridgeThenEachRanksNamespaceAndVeth) {
    const JobPlan plan = make_plan(default_topology(), "netns", 2, "abc123");
    const std::vector<OwnedObject> expected = {{"link", "ukbabc123"},
                                               {"netns", "ukrun-abc123-r0"},
                                               {"link", "ukabc123r0"},
                                               {"netns", "ukrun-abc123-r1"},
                                               {"link", "ukabc123r1"}};
    EXPECT_EQ(planned_objects(plan), expected);
    EXPECT_TRUE(planned_objects(make_plan(default_topology(), "process", 2, "abc123")).empty());
}

TEST_F(JanitorTest, OwnedFileParsesMarksObjectsAndDoneAndDropsUnsafeNames) {
    const fs::path job = job_dir("abc123",
                                 "job abc123\ncoordinator 12 345\njanitor 13 346\nlink ukbabc123\n"
                                 "netns ukrun-abc123-r0\nlink bad/name\nnetns ../etc\nlink "
                                 "a-name-longer-than-15\ndone\n");
    const OwnedRecord r = read_owned(owned_path(job.string()));
    EXPECT_EQ(r.job_id, "abc123");
    EXPECT_EQ(r.coordinator.pid, 12);
    EXPECT_EQ(r.coordinator.start_ticks, 345u);
    EXPECT_EQ(r.janitor.pid, 13);
    const std::vector<OwnedObject> expected = {{"link", "ukbabc123"}, {"netns", "ukrun-abc123-r0"}};
    EXPECT_EQ(r.objects, expected);
    EXPECT_TRUE(r.done);
    EXPECT_TRUE(read_owned((dir / "missing").string()).job_id.empty());
}

TEST_F(JanitorTest, RemoveOwnedDeletesOnlyWhatStillExistsNewestFirst) {
    FakeNetwork fake;
    fake.log = (dir / "removed.log").string();
    fake.links = {"ukbabc123", "ukabc123r1", "eth0"};
    fake.namespaces = {"ukrun-abc123-r1"};
    const auto removed = remove_owned({{"link", "ukbabc123"},
                                       {"netns", "ukrun-abc123-r0"},
                                       {"link", "ukabc123r0"},
                                       {"netns", "ukrun-abc123-r1"},
                                       {"link", "ukabc123r1"}},
                                      fake);
    const std::vector<std::string> expected = {"link ukabc123r1", "netns ukrun-abc123-r1",
                                               "link ukbabc123"};
    EXPECT_EQ(removed, expected);
    EXPECT_EQ(fake.links, std::set<std::string>{"eth0"});
    EXPECT_TRUE(fake.namespaces.empty());
}

TEST_F(JanitorTest, ReapingCleansOnlyJobsWhoseCoordinatorAndJanitorAreDead) {
    const ProcessMark gone = dead_mark();
    const ProcessMark self = process_mark(::getpid());
    const std::string objects = "link ukbabc123\nnetns ukrun-abc123-r0\nnetns ukrun-abc123-r1\n";
    const fs::path stale = job_dir("abc123", "job abc123\ncoordinator " + mark_text(gone) +
                                                 "\njanitor " + mark_text(gone) + "\n" + objects);
    const fs::path live =
        job_dir("live01", "job live01\ncoordinator " + mark_text(self) + "\nlink ukblive01\n");
    const fs::path done = job_dir(
        "done01", "job done01\ncoordinator " + mark_text(gone) + "\nlink ukbdone01\ndone\n");
    const fs::path other = job_dir("other1", "job abc123\ncoordinator " + mark_text(gone) + "\n");

    const auto reaped = reap_stale_jobs(dir.string(), fake_factory());
    ASSERT_EQ(reaped.size(), 1u);
    EXPECT_EQ(reaped[0], "reaped stale job abc123 (coordinator pid " + std::to_string(gone.pid) +
                             " is gone): removed netns ukrun-abc123-r1, link ukbabc123");
    EXPECT_EQ(slurp(dir / "removed.log"), "netns ukrun-abc123-r1\nlink ukbabc123\n");
    EXPECT_FALSE(fs::exists(stale));
    EXPECT_TRUE(fs::exists(live));
    EXPECT_TRUE(fs::exists(done));
    EXPECT_TRUE(fs::exists(other));  // its directory name is not its job's
}

TEST_F(JanitorTest, ReapingIgnoresAJobDirectoryOthersCanWrite) {
    const fs::path stale =
        job_dir("abc123", "job abc123\ncoordinator " + mark_text(dead_mark()) + "\nlink eth0\n");
    ::chmod(stale.c_str(), 0777);
    EXPECT_TRUE(reap_stale_jobs(dir.string(), fake_factory()).empty());
    EXPECT_TRUE(fs::exists(stale / "owned"));
}

TEST_F(JanitorTest, JanitorCleansUpWhenItsCoordinatorIsKilled) {
    const fs::path job = dir / "ukrun-abc123";
    fs::create_directories(job);
    const auto factory = fake_factory();
    const pid_t coordinator = ::fork();
    if (coordinator == 0) {
        Janitor janitor(job.string(), "abc123", factory);
        janitor.own({{"link", "ukbabc123"}, {"netns", "ukrun-abc123-r1"}});
        std::ofstream(dir / "janitor.pid") << janitor.pid();
        ::raise(SIGKILL);  // dies without finish(), as a SIGKILLed `ukrun run` would
    }
    int status = 0;
    ::waitpid(coordinator, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status));
    for (int i = 0; i < 300 && fs::exists(job); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_FALSE(fs::exists(job)) << "the janitor did not remove the job directory within 3 s";
    EXPECT_EQ(slurp(dir / "removed.log"), "netns ukrun-abc123-r1\nlink ukbabc123\n");
}

TEST_F(JanitorTest, FinishedJanitorLeavesEverythingAndExits) {
    const fs::path job = dir / "ukrun-abc123";
    fs::create_directories(job);
    pid_t janitor_pid = -1;
    {
        Janitor janitor(job.string(), "abc123", fake_factory());
        janitor_pid = janitor.pid();
        EXPECT_TRUE(is_running(process_mark(janitor_pid)));
        janitor.own({{"link", "ukbabc123"}});
        janitor.finish();
        EXPECT_EQ(janitor.pid(), -1);
    }
    EXPECT_FALSE(is_running(process_mark(janitor_pid)));
    EXPECT_TRUE(fs::exists(job));
    EXPECT_FALSE(fs::exists(dir / "removed.log"));
    const OwnedRecord r = read_owned(owned_path(job.string()));
    EXPECT_TRUE(r.done);
    EXPECT_EQ(r.coordinator.pid, ::getpid());
    EXPECT_EQ(r.janitor.pid, janitor_pid);
    EXPECT_EQ(r.objects, (std::vector<OwnedObject>{{"link", "ukbabc123"}}));
}

TEST(JobSubnetTest, HashedChoiceIsStableInsideTheRangeAndSkipsUsedSubnets) {
    const auto none = [](const Cidr&) { return false; };
    const Cidr first = choose_job_subnet("abc123", none);
    EXPECT_EQ(first.prefix, 24);
    EXPECT_TRUE(parse_cidr("10.213.0.0/16")->contains(first.network));
    EXPECT_EQ(to_string(first), to_string(choose_job_subnet("abc123", none)));
    EXPECT_NE(to_string(first), to_string(choose_job_subnet("xyz789", none)));

    std::set<std::string> used = {to_string(first)};
    const Cidr next =
        choose_job_subnet("abc123", [&](const Cidr& c) { return used.count(to_string(c)) > 0; });
    EXPECT_EQ(next.network.value, ((first.network.value + 256) & 0xffffu) | 0x0ad50000u);

    EXPECT_THROW(choose_job_subnet("abc123", [](const Cidr&) { return true; }), std::runtime_error);
}

TEST(JobSubnetTest, BuiltInTopologyTakesTheSubnetAndItsFirstAddressAsGateway) {
    const Topology t = default_topology(*parse_cidr("10.213.77.0/24"));
    EXPECT_EQ(to_string(t.network.subnet), "10.213.77.0/24");
    EXPECT_EQ(to_string(t.network.gateway), "10.213.77.1");
    EXPECT_EQ(to_string(default_topology().network.subnet), "10.213.0.0/24");
}
