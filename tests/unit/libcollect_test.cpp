// Library collection on real binaries of this host.
#include "ukrun/runner/libcollect.hpp"

#include <gtest/gtest.h>

#include "test_paths.hpp"

namespace {

using namespace ukrun::runner;

bool has_file_named(const FileSet& files, const std::string& prefix) {
    for (const auto& [guest, host] : files)
        if (fs::path(guest).filename().string().rfind(prefix, 0) == 0) return true;
    return false;
}

TEST(ReadElf, FindsInterpreterAndNeededOfLs) {
    const auto info = read_elf("/bin/ls");
    EXPECT_EQ(info.interpreter, "/lib64/ld-linux-x86-64.so.2");
    EXPECT_NE(std::find(info.needed.begin(), info.needed.end(), "libc.so.6"), info.needed.end());
}

TEST(ReadElf, RejectsNonElf) {
    EXPECT_THROW(read_elf("/etc/hostname"), CollectError);
    EXPECT_THROW(read_elf("/nonexistent/file"), CollectError);
}

TEST(SystemLibraryDirs, IncludesMultiarchDirectories) {
    const auto dirs = system_library_dirs();
    EXPECT_NE(std::find(dirs.begin(), dirs.end(), "/usr/lib/x86_64-linux-gnu"), dirs.end());
    EXPECT_NE(std::find(dirs.begin(), dirs.end(), "/lib/x86_64-linux-gnu"), dirs.end());
}

TEST(ElfClosure, LsNeedsLibcAndTheLoaderAtTheirGuestPaths) {
    FileSet files;
    add_elf_closure(files, "/bin/ls", system_library_dirs());
    EXPECT_TRUE(files.count("/bin/ls"));
    EXPECT_TRUE(files.count("/lib64/ld-linux-x86-64.so.2"));
    EXPECT_TRUE(has_file_named(files, "libc.so.6"));
    EXPECT_TRUE(has_file_named(files, "libselinux.so"));
    for (const auto& [guest, host] : files) {
        EXPECT_TRUE(fs::is_regular_file(host)) << guest << " -> " << host;
        EXPECT_FALSE(fs::is_symlink(host)) << host;
    }
}

TEST(ElfClosure, MissingLibraryNamesItAndTheSearchPath) {
    FileSet files;
    try {
        add_elf_closure(files, "/bin/ls", {"/nonexistent-dir"});
        FAIL() << "libc is not in /nonexistent-dir";
    } catch (const CollectError& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent-dir"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("needs lib"), std::string::npos) << e.what();
    }
}

TEST(RuntimeFiles, LatticeGetsOpenMpiComponentsAndData) {
    const auto lattice = ukrun::test::lattice_bin();
    if (!fs::exists(lattice)) GTEST_SKIP() << "ukrun-lattice not built at " << lattice;
    const auto files = collect_runtime_files(lattice);
    EXPECT_TRUE(has_file_named(files, "libmpi.so"));
    EXPECT_TRUE(has_file_named(files, "libopen-pal.so"));
    EXPECT_TRUE(has_file_named(files, "libpmix.so"));
    EXPECT_TRUE(has_file_named(files, "mca_btl_tcp.so"));
    EXPECT_TRUE(has_file_named(files, "mca_pml_ob1.so"));
    EXPECT_TRUE(has_file_named(files, "mca_pmix_ext3x.so"));
    EXPECT_TRUE(has_file_named(files, "help-mpi-btl-tcp.txt"));
    EXPECT_TRUE(has_file_named(files, "openmpi-mca-params.conf"));
    EXPECT_TRUE(files.count("/etc/ld.so.cache"));
    EXPECT_GT(files.size(), 150u);
}

}  // namespace
