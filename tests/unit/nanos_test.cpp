// Nanos support without a kernel: finding an install, manifest text, exit decoding, the ops
// config, per-rank manifests and the image cache (mkfs faked).
#include "ukrun/runner/nanos.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include "ukrun/runner/image.hpp"

namespace {

using namespace ukrun::runner::nanos;

/// A fresh directory under the test temp dir, removed at the end of the test.
class TempDir {
  public:
    TempDir() {
        path_ = fs::temp_directory_path() /
                ("ukrun-nanos-test-" + std::to_string(getpid()) + "-" + std::to_string(next_++));
        fs::remove_all(path_);
        fs::create_directories(path_);
    }
    ~TempDir() { fs::remove_all(path_); }
    const fs::path& path() const { return path_; }

  private:
    static inline int next_ = 0;
    fs::path path_;
};

void touch(const fs::path& file, const std::string& text = "x") {
    fs::create_directories(file.parent_path());
    std::ofstream(file) << text;
}

void make_install(const fs::path& dir, bool with_mkfs) {
    touch(dir / "kernel.img", "kernel " + dir.string());
    touch(dir / "boot.img", "boot");
    if (with_mkfs) touch(dir / "mkfs");
    fs::create_directories(dir / "klibs");
}

TEST(NanosFind, CommandLineWinsOverEnvironmentAndOps) {
    TempDir tmp;
    make_install(tmp.path() / "cli", true);
    make_install(tmp.path() / "env", true);
    make_install(tmp.path() / "home" / ".ops" / "0.1.50", false);
    NanosSearch search{tmp.path() / "cli", tmp.path() / "env", tmp.path() / "home"};
    const auto found = find_nanos(search);
    EXPECT_EQ(found.dir, tmp.path() / "cli");
    EXPECT_EQ(found.source, "--nanos-dir");
    EXPECT_EQ(found.mkfs, tmp.path() / "cli" / "mkfs");
    EXPECT_EQ(found.klibs, tmp.path() / "cli" / "klibs");

    search.nanos_dir.reset();
    EXPECT_EQ(find_nanos(search).dir, tmp.path() / "env");
    EXPECT_EQ(find_nanos(search).source, "UKRUN_NANOS_DIR");
}

TEST(NanosFind, NewestOpsVersionWithoutMkfs) {
    TempDir tmp;
    const auto ops = tmp.path() / ".ops";
    make_install(ops / "0.1.9", false);
    make_install(ops / "0.1.53", false);
    make_install(ops / "0.1.100", false);
    fs::create_directories(ops / "0.2.0");  // newest, but empty: skipped
    fs::create_directories(ops / "images");
    const auto found = find_nanos(NanosSearch{std::nullopt, std::nullopt, tmp.path()});
    EXPECT_EQ(found.dir, ops / "0.1.100");
    EXPECT_EQ(found.source, "ops");
    EXPECT_TRUE(found.mkfs.empty());
}

TEST(NanosFind, ExplicitDirectoryWithoutKernelIsAnError) {
    TempDir tmp;
    make_install(tmp.path() / "home" / ".ops" / "0.1.50", false);
    try {
        find_nanos(NanosSearch{std::nullopt, tmp.path() / "empty", tmp.path() / "home"});
        FAIL() << "an empty UKRUN_NANOS_DIR must not fall through to ops";
    } catch (const NanosNotFound& e) {
        EXPECT_NE(std::string(e.what()).find("UKRUN_NANOS_DIR"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find((tmp.path() / "empty").string()), std::string::npos);
    }
}

TEST(NanosFind, NothingFoundListsPlacesAndHowToGetNanos) {
    TempDir tmp;
    try {
        find_nanos(NanosSearch{std::nullopt, std::nullopt, tmp.path()});
        FAIL() << "no install exists";
    } catch (const NanosNotFound& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("--nanos-dir"), std::string::npos) << what;
        EXPECT_NE(what.find("UKRUN_NANOS_DIR"), std::string::npos) << what;
        EXPECT_NE(what.find((tmp.path() / ".ops").string()), std::string::npos) << what;
        EXPECT_NE(what.find("ops"), std::string::npos) << what;
        EXPECT_NE(what.find("nanovms/nanos"), std::string::npos) << what;
    }
}

TEST(NanosManifest, QuotesOnlyWhatTheParserWouldSplit) {
    EXPECT_EQ(quote_atom("en1"), "en1");
    EXPECT_EQ(quote_atom("10.0.0.1"), "10.0.0.1");
    EXPECT_EQ(quote_atom("self,tcp"), "self,tcp");
    EXPECT_EQ(quote_atom("/usr/bin/env"), "\"/usr/bin/env\"");
    EXPECT_EQ(quote_atom("a:b;c"), "\"a:b;c\"");
    EXPECT_EQ(quote_atom("has space"), "\"has space\"");
    EXPECT_EQ(quote_atom("say \"hi\" \\o/"), "\"say \\\"hi\\\" \\\\o/\"");
    EXPECT_EQ(quote_atom("(x)[y]"), "\"(x)[y]\"");
    EXPECT_EQ(quote_atom("#comment"), "\"#comment\"");
    EXPECT_EQ(quote_atom(""), "\"\"");
}

TEST(NanosManifest, RendersFilesProgramEnvironmentNetworkAndSettings) {
    NanosManifest m;
    m.files["/usr/bin/env"] = "/usr/bin/env";
    m.files["/lib/x86_64-linux-gnu/libc.so.6"] = "/usr/lib/x86_64-linux-gnu/libc.so.6";
    m.directories = {"/tmp"};
    m.program = "/usr/bin/env";
    m.arguments = {"/usr/bin/env", "two words"};
    m.environment = {{"A", "x:y;z"}, {"B", "plain"}};
    m.network = NanosNetwork{"10.1.0.11", "255.255.255.0", "10.1.0.1"};
    m.settings = {{"debug_exit", "t"}};

    const std::string expected = R"((
  children:(
    tmp:(
      children:()
    )
    lib:(
      children:(
        x86_64-linux-gnu:(
          children:(
            libc.so.6:(
              contents:(
                host:"/usr/lib/x86_64-linux-gnu/libc.so.6"
              )
            )
          )
        )
      )
    )
    usr:(
      children:(
        bin:(
          children:(
            env:(
              contents:(
                host:"/usr/bin/env"
              )
            )
          )
        )
      )
    )
  )
  program:"/usr/bin/env"
  arguments:["/usr/bin/env" "two words"]
  environment:(
    A:"x:y;z"
    B:plain
  )
  ipaddr:10.1.0.11
  netmask:255.255.255.0
  gateway:10.1.0.1
  debug_exit:t
)
)";
    EXPECT_EQ(render_manifest(to_manifest_tree(m)), expected);
}

TEST(NanosManifest, RejectsRelativePathsAndMissingProgram) {
    NanosManifest m;
    EXPECT_THROW(to_manifest_tree(m), std::invalid_argument);
    m.program = "/bin/x";
    m.files["relative/file"] = "/etc/hosts";
    EXPECT_THROW(to_manifest_tree(m), std::invalid_argument);
}

TEST(GuestExit, DecodesDebugExitCodes) {
    EXPECT_EQ(decode_guest_exit(1).kind, GuestExit::Kind::program_exit);
    EXPECT_EQ(decode_guest_exit(1).status, 0);
    EXPECT_EQ(decode_guest_exit(7).status, 3);
    EXPECT_EQ(decode_guest_exit(255).status, 127);
    EXPECT_EQ(decode_guest_exit(0).kind, GuestExit::Kind::qemu_failed);
    EXPECT_EQ(decode_guest_exit(2).kind, GuestExit::Kind::qemu_failed);
    EXPECT_NE(decode_guest_exit(0).describe().find("without exiting"), std::string::npos);
    EXPECT_EQ(decode_guest_exit(7).describe(), "guest program exited with status 3");

    EXPECT_EQ(decode_guest_wait_status(7 << 8).status, 3);  // exited with code 7
    const auto killed = decode_guest_wait_status(9);        // killed by SIGKILL
    EXPECT_EQ(killed.kind, GuestExit::Kind::killed);
    EXPECT_EQ(killed.status, 9);
}

TEST(OpsConfig, MapsFilesEnvironmentNetworkAndSettings) {
    NanosManifest m;
    m.program = "/opt/ukrun/bin/ukrun-lattice";
    m.arguments = {"/opt/ukrun/bin/ukrun-lattice", "run", "--lattice", "8x8x8x8"};
    m.files[m.program] = m.program;
    m.files["/usr/lib/x86_64-linux-gnu/libmpi.so.40"] = "/usr/lib/x86_64-linux-gnu/libmpi.so.40";
    m.files["/etc/hosts"] = "/job/rank0/etc/hosts";
    m.environment = {{"OMPI_MCA_btl", "self,tcp"}};
    m.network = NanosNetwork{"10.1.0.11", "255.255.255.0", "10.1.0.1"};
    m.settings = {{"debug_exit", "t"}};
    NanosInstall install;
    install.kernel = "/k/kernel.img";

    const auto config = ops_config(m, install, 1024, 2);
    EXPECT_EQ(config["Program"], m.program);
    EXPECT_EQ(config["Args"].size(), 4u);
    EXPECT_EQ(config["Args"][3], "8x8x8x8");
    EXPECT_EQ(config["Files"], nlohmann::json::array({"/usr/lib/x86_64-linux-gnu/libmpi.so.40"}));
    EXPECT_EQ(config["MapDirs"]["/job/rank0/etc/hosts"], "/etc");
    EXPECT_EQ(config["Env"]["OMPI_MCA_btl"], "self,tcp");
    EXPECT_EQ(config["RunConfig"]["IPAddress"], "10.1.0.11");
    EXPECT_EQ(config["RunConfig"]["NetMask"], "255.255.255.0");
    EXPECT_EQ(config["RunConfig"]["Gateway"], "10.1.0.1");
    EXPECT_EQ(config["RunConfig"]["Memory"], "1024M");
    EXPECT_EQ(config["RunConfig"]["CPUs"], 2);
    EXPECT_EQ(config["ManifestPassthrough"]["debug_exit"], "t");
    EXPECT_EQ(config["Kernel"], "/k/kernel.img");
    EXPECT_FALSE(config.contains("Boot"));

    TempDir tmp;  // a soname symlink: ops reads the guest path, which leads to the file
    touch(tmp.path() / "libx.so.1.2.3");
    fs::create_symlink("libx.so.1.2.3", tmp.path() / "libx.so.1");
    m.files[(tmp.path() / "libx.so.1").string()] = tmp.path() / "libx.so.1.2.3";
    const auto with_link = ops_config(m, install, 1024, 2);
    EXPECT_EQ(with_link["Files"].size(), 2u);
    EXPECT_NE(std::find(with_link["Files"].begin(), with_link["Files"].end(),
                        (tmp.path() / "libx.so.1").string()),
              with_link["Files"].end());

    m.files["/etc/hostname"] = "/job/rank0/etc/name-of-host";
    EXPECT_THROW(ops_config(m, install, 1024, 2), std::invalid_argument);
    EXPECT_EQ(ops_image_create_command("/j/config.json", "ukrun"),
              (std::vector<std::string>{"ops", "image", "create", "-c", "/j/config.json", "-i",
                                        "ukrun"}));
}

TEST(GuestEnvironment, KeepsLauncherVariablesWithoutHostPaths) {
    const auto env = guest_environment(
        {"OMPI_COMM_WORLD_RANK=1", "PMIX_SERVER_URI41=4.0;tcp4://10.1.0.1:4000",
         "PMIX_DSTORE_21_BASE_PATH=/tmp/ompi.vm.0/pid.1", "SLURM_PROCID=1", "PATH=/usr/bin",
         "HOME=/root", "LD_LIBRARY_PATH=/opt/lib", "PMIX_GDS_MODULE=ds21", "broken"});
    EXPECT_EQ(env.at("OMPI_COMM_WORLD_RANK"), "1");
    EXPECT_EQ(env.at("PMIX_SERVER_URI41"), "4.0;tcp4://10.1.0.1:4000");
    EXPECT_EQ(env.at("SLURM_PROCID"), "1");
    EXPECT_EQ(env.at("PMIX_GDS_MODULE"), "hash");
    EXPECT_FALSE(env.count("PMIX_DSTORE_21_BASE_PATH"));
    EXPECT_FALSE(env.count("PATH"));
    EXPECT_FALSE(env.count("HOME"));
    EXPECT_FALSE(env.count("LD_LIBRARY_PATH"));
    EXPECT_EQ(env.size(), 4u);
}

TEST(RankManifest, AddsEnvironmentAddressAndHostFiles) {
    TempDir tmp;
    NanosManifest base;
    base.program = "/bin/x";
    base.environment = {{"HOME", "/"}, {"OMPI_MCA_btl", "self"}};
    RankSettings rank;
    rank.environment = {{"OMPI_MCA_btl", "self,tcp"}, {"PMIX_RANK", "1"}};
    rank.network = NanosNetwork{"10.1.0.12", "255.255.255.0", "10.1.0.1"};
    rank.hostname = "uk-r1";
    rank.hosts = {{"10.1.0.12", "uk-r1"}};

    const auto m = rank_manifest(base, rank, tmp.path() / "r1");
    EXPECT_EQ(m.environment.at("HOME"), "/");
    EXPECT_EQ(m.environment.at("OMPI_MCA_btl"), "self,tcp");
    EXPECT_EQ(m.environment.at("PMIX_RANK"), "1");
    ASSERT_TRUE(m.network);
    EXPECT_EQ(m.network->ipaddr, "10.1.0.12");
    std::ifstream hosts(m.files.at("/etc/hosts"));
    std::string text((std::istreambuf_iterator<char>(hosts)), {});
    EXPECT_EQ(text, "127.0.0.1 localhost\n10.1.0.12 uk-r1\n");
    std::ifstream name(m.files.at("/etc/hostname"));
    std::string hostname;
    name >> hostname;
    EXPECT_EQ(hostname, "uk-r1");
}

TEST(ImageCache, BuildsOnceAndRebuildsWhenAnInputChanges) {
    TempDir tmp;
    make_install(tmp.path() / "nanos", true);
    const auto install = find_nanos(NanosSearch{tmp.path() / "nanos", std::nullopt, std::nullopt});
    touch(tmp.path() / "prog", "v1");
    NanosManifest m;
    m.program = "/prog";
    m.files["/prog"] = tmp.path() / "prog";

    int mkfs_runs = 0;
    std::string seen_manifest;
    const CommandRunner fake = [&](const std::vector<std::string>& argv, const fs::path& in) {
        ++mkfs_runs;
        std::ifstream manifest(in);
        seen_manifest.assign(std::istreambuf_iterator<char>(manifest), {});
        touch(argv.back(), "image");
        EXPECT_EQ(argv[0], install.mkfs.string());
        EXPECT_EQ(argv[2], install.boot.string());
        EXPECT_EQ(argv[4], install.kernel.string());
        return ukrun::runner::CommandResult{0, "", false};
    };

    const auto cache = tmp.path() / "cache";
    const auto first = cached_image(m, install, cache, fake);
    EXPECT_FALSE(first.reused);
    EXPECT_EQ(first.image, cache / first.hash / "nanos.img");
    EXPECT_TRUE(fs::exists(first.image));
    EXPECT_NE(seen_manifest.find((tmp.path() / "prog").string()), std::string::npos);
    EXPECT_EQ(first.hash.size(), 32u);

    const auto second = cached_image(m, install, cache, fake);
    EXPECT_TRUE(second.reused);
    EXPECT_EQ(second.hash, first.hash);
    EXPECT_EQ(mkfs_runs, 1);

    touch(tmp.path() / "prog", "v2");  // same path, new contents
    const auto third = cached_image(m, install, cache, fake);
    EXPECT_FALSE(third.reused);
    EXPECT_NE(third.hash, first.hash);
    EXPECT_EQ(mkfs_runs, 2);
}

TEST(ImageCache, MkfsFailureNamesTheManifestAndOutput) {
    TempDir tmp;
    make_install(tmp.path() / "nanos", true);
    const auto install = find_nanos(NanosSearch{tmp.path() / "nanos", std::nullopt, std::nullopt});
    NanosManifest m;
    m.program = "/prog";
    const CommandRunner failing = [](const std::vector<std::string>&, const fs::path&) {
        return ukrun::runner::CommandResult{1, "couldn't open file /nope", false};
    };
    try {
        write_image(m, install, tmp.path() / "out.img", failing);
        FAIL() << "mkfs failed";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("couldn't open file /nope"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("out.img.manifest"), std::string::npos);
    }
    NanosInstall no_mkfs = install;
    no_mkfs.mkfs.clear();
    EXPECT_THROW(write_image(m, no_mkfs, tmp.path() / "out.img", failing), std::runtime_error);
}

}  // namespace
