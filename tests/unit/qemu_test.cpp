// QEMU command lines for Nanos guests under TCG and KVM.
#include "ukrun/runner/qemu.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace {

using namespace ukrun::runner;

/// The value following `flag` in argv (the first occurrence), or "".
std::string after(const std::vector<std::string>& argv, const std::string& flag) {
    const auto it = std::find(argv.begin(), argv.end(), flag);
    return it == argv.end() || it + 1 == argv.end() ? "" : *(it + 1);
}

bool has(const std::vector<std::string>& argv, const std::string& word) {
    return std::find(argv.begin(), argv.end(), word) != argv.end();
}

TEST(QemuCommand, TcgWithTapAndDebugExit) {
    QemuMachine m;
    m.image = "/job/r0/nanos.img";
    m.memory_mib = 768;
    m.vcpus = 2;
    m.tap = "uk3f-t0";
    m.mac = "52:54:00:00:00:01";
    const auto argv = qemu_command(m);
    EXPECT_EQ(argv[0], "qemu-system-x86_64");
    EXPECT_EQ(after(argv, "-accel"), "tcg");
    EXPECT_EQ(after(argv, "-cpu"), "max");
    EXPECT_EQ(after(argv, "-M"), "q35");
    EXPECT_EQ(after(argv, "-m"), "768M");
    EXPECT_EQ(after(argv, "-smp"), "2");
    EXPECT_EQ(after(argv, "-serial"), "stdio");
    EXPECT_TRUE(has(argv, "-no-reboot"));
    EXPECT_TRUE(has(argv, "-nodefaults"));
    EXPECT_TRUE(has(argv, "-nographic"));
    EXPECT_TRUE(has(argv, "isa-debug-exit"));
    EXPECT_EQ(after(argv, "-drive"), "if=none,id=hd0,format=raw,file=/job/r0/nanos.img");
    EXPECT_TRUE(has(argv, "virtio-scsi-pci,id=scsi0"));
    EXPECT_TRUE(has(argv, "scsi-hd,bus=scsi0.0,drive=hd0"));
    EXPECT_EQ(after(argv, "-netdev"), "tap,id=n0,ifname=uk3f-t0,script=no,downscript=no");
    EXPECT_TRUE(has(argv, "virtio-net-pci,netdev=n0,romfile=,mac=52:54:00:00:00:01"));
}

TEST(QemuCommand, KvmUsesHostCpuAndNoNetworkWithoutTap) {
    QemuMachine m;
    m.image = "/img";
    m.accel = Accelerator::kvm;
    m.debug_exit = false;
    m.serial = "file:/job/r0/console.log";
    const auto argv = qemu_command(m);
    EXPECT_EQ(after(argv, "-accel"), "kvm");
    EXPECT_EQ(after(argv, "-cpu"), "host");
    EXPECT_EQ(after(argv, "-serial"), "file:/job/r0/console.log");
    EXPECT_FALSE(has(argv, "isa-debug-exit"));
    EXPECT_FALSE(has(argv, "-netdev"));

    m.cpu = "Haswell";
    EXPECT_EQ(after(qemu_command(m), "-cpu"), "Haswell");
}

TEST(QemuCommand, RejectsIncompleteMachines) {
    QemuMachine m;
    EXPECT_THROW(qemu_command(m), std::invalid_argument);  // no image
    m.image = "/img";
    m.tap = "t0";
    EXPECT_THROW(qemu_command(m), std::invalid_argument);  // tap without MAC
    m.mac = "52:54:00:00:00:01";
    m.memory_mib = 0;
    EXPECT_THROW(qemu_command(m), std::invalid_argument);
}

TEST(QemuCommand, InstanceMacsAreDistinctLocalAndStable) {
    const auto a = instance_mac("job1", 0);
    EXPECT_EQ(a, instance_mac("job1", 0));
    EXPECT_NE(a, instance_mac("job1", 1));
    EXPECT_NE(a, instance_mac("job2", 0));
    EXPECT_EQ(a.size(), 17u);
    EXPECT_EQ(a.substr(0, 6), "52:54:");
    EXPECT_EQ(instance_mac("job1", 258).substr(12), "01:02");
    EXPECT_STREQ(accelerator_name(Accelerator::tcg), "tcg");
}

}  // namespace
