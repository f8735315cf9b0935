// The doctor's pure parts: the probe boot sector, the table layout, the readiness rule.
#include "ukrun/runner/doctor.hpp"

#include <gtest/gtest.h>

using namespace ukrun::runner;

TEST(KvmProbe, BootSectorIsBootableAndWritesToTheDebugExitPort) {
    const auto sector = kvm_probe_boot_sector();
    ASSERT_EQ(sector.size(), 512u);
    EXPECT_EQ(sector[510], 0x55);
    EXPECT_EQ(sector[511], 0xAA);
    // xgetbv (0f 01 d0) comes before "out 0xf4, al" (e6 f4): the probe fails where KVM does.
    const std::vector<unsigned char> xgetbv = {0x0F, 0x01, 0xD0}, out = {0xE6, 0xF4};
    const auto at_xgetbv = std::search(sector.begin(), sector.end(), xgetbv.begin(), xgetbv.end());
    const auto at_out = std::search(sector.begin(), sector.end(), out.begin(), out.end());
    ASSERT_NE(at_xgetbv, sector.end());
    ASSERT_NE(at_out, sector.end());
    EXPECT_LT(at_xgetbv, at_out);
}

TEST(FormatChecks, WrapsLongDetailsUnderTheDetailColumn) {
    const std::vector<Check> checks = {
        {"mpirun", CheckStatus::ok, "/usr/bin/mpirun: mpirun (Open MPI) 4.1.4"},
        {"kvm", CheckStatus::warn, std::string(50, 'a') + " " + std::string(30, 'b')}};
    const std::string table = format_checks(checks, 60);
    // Lines break at the last space within 37 columns; a longer word is cut.
    const std::string pad(23, ' ');
    const std::string expected =
        "check         status   detail\n"
        "mpirun        ok       /usr/bin/mpirun: mpirun (Open MPI)\n" +
        pad + "4.1.4\nkvm           warn     " + std::string(37, 'a') + "\n" + pad +
        std::string(13, 'a') + "\n" + pad + std::string(30, 'b') + "\n";
    EXPECT_EQ(table, expected);
}

TEST(ProcessBackendReady, NeedsMpirunAndTheWorkload) {
    std::vector<Check> checks = {{"mpirun", CheckStatus::ok, ""},
                                 {"ukrun-lattice", CheckStatus::ok, ""},
                                 {"kvm", CheckStatus::warn, ""}};
    EXPECT_TRUE(process_backend_ready(checks));
    checks[1].status = CheckStatus::missing;
    EXPECT_FALSE(process_backend_ready(checks));
    EXPECT_EQ(status_text(CheckStatus::fail), "FAIL");
}
