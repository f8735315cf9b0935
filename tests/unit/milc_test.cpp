// MILC v5 files on one rank: the published 8^4 sample's plaquette and checksums, write/read
// round trips in both byte orders, and rejection of damaged or mismatched files by name.
#include <gtest/gtest.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_paths.hpp"
#include "ukrun/lattice/gauge.hpp"
#include "unit/mpi_self.hpp"

namespace ukrun::lattice {
namespace {

namespace fs = std::filesystem;

Dims dims(int a, int b, int c, int d) {
    return Dims{{a, b, c, d}};
}

std::vector<char> read_bytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& path, const std::vector<char>& bytes) {
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<long>(bytes.size()));
}

/// A scratch directory removed after each test.
class MilcFiles : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("ukrun-milc-test-" + std::to_string(getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    /// Writes a random 6x4x2x8 field (t x y z, all extents distinct) and returns its path.
    fs::path write_random(const Geometry& geometry) {
        const fs::path path = dir_ / "random.milc";
        write_milc(geometry, make_gauge_field(geometry, parse_gauge_source("random:7")), path);
        return path;
    }

    /// The message make_gauge_field throws for `path`, or "" when it reads fine.
    static std::string read_error(const Geometry& geometry, const fs::path& path) {
        try {
            make_gauge_field(geometry, parse_gauge_source("milc:" + path.string()));
        } catch (const std::runtime_error& e) {
            return e.what();
        }
        return "";
    }

    fs::path dir_;
};

fs::path sample(const std::string& name) {
    return test::shared_data() / "milc" / name;
}

TEST_F(MilcFiles, Sample8888PlaquetteAndChecksumsMatchItsInfo) {
    if (test::shared_data().empty()) GTEST_SKIP() << "no ../shared/data: MILC samples absent";
    Geometry geometry(dims(8, 8, 8, 8), dims(1, 1, 1, 1), MPI_COMM_SELF);
    GaugeSource source = parse_gauge_source("milc:" + sample("lat.sample.l8888").string());
    MilcInfo info;
    const GaugeField<double> field = make_gauge_field(geometry, source, &info);

    // lat.sample.l8888.info: checksums "4f9d000e 8d72f72e", ssplaq 1.779002, stplaq 1.782359
    // (normalised to 3 for the unit field).
    EXPECT_EQ(info.sum29, 0x4f9d000eu);
    EXPECT_EQ(info.sum31, 0x8d72f72eu);
    EXPECT_EQ(info.computed_sum29, 0x4f9d000eu);
    EXPECT_EQ(info.computed_sum31, 0x8d72f72eu);
    EXPECT_FALSE(info.byte_swapped);
    EXPECT_EQ(info.time_stamp, "Tue Mar 13 15:47:22 2012");

    const Plaquette p = plaquette(geometry, field);
    EXPECT_NEAR(3 * p.space_space, 1.779002, 1e-6);
    EXPECT_NEAR(3 * p.space_time, 1.782359, 1e-6);
    EXPECT_NEAR(p.total, (1.779002 + 1.782359) / 6, 1e-6);
    EXPECT_NEAR(average_link_trace(geometry, field), -0.000646, 1e-6);
}

TEST_F(MilcFiles, Sample4444ChecksumsVerify) {
    if (test::shared_data().empty()) GTEST_SKIP() << "no ../shared/data: MILC samples absent";
    Geometry geometry(dims(4, 4, 4, 4), dims(1, 1, 1, 1), MPI_COMM_SELF);
    MilcInfo info;
    const auto field = make_gauge_field(
        geometry, parse_gauge_source("milc:" + sample("lat.sample.l4444").string()), &info);
    EXPECT_EQ(info.computed_sum29, info.sum29);
    EXPECT_EQ(info.computed_sum31, info.sum31);
    EXPECT_NE(info.sum29, 0u);
    const Plaquette p = plaquette(geometry, field);
    EXPECT_GT(p.total, 0.3);  // a thermalised configuration, far from both 0 and 1
    EXPECT_LT(p.total, 0.9);
}

TEST_F(MilcFiles, RoundTripKeepsLinksToSinglePrecisionAndMapsDimensions) {
    Geometry geometry(dims(6, 4, 2, 8), dims(1, 1, 1, 1), MPI_COMM_SELF);
    const GaugeField<double> original = make_gauge_field(geometry, parse_gauge_source("random:7"));
    const fs::path path = write_random(geometry);

    // Header: magic, then nx ny nz nt = L1 L2 L3 L0.
    const std::vector<char> bytes = read_bytes(path);
    ASSERT_EQ(bytes.size(), 96u + 6 * 4 * 2 * 8 * 288);
    std::int32_t header[5];
    std::memcpy(header, bytes.data(), sizeof header);
    EXPECT_EQ(header[0], 20103);
    EXPECT_EQ(header[1], 4);
    EXPECT_EQ(header[2], 2);
    EXPECT_EQ(header[3], 8);
    EXPECT_EQ(header[4], 6);

    MilcInfo info;
    const GaugeField<double> read =
        make_gauge_field(geometry, parse_gauge_source("milc:" + path.string()), &info);
    EXPECT_EQ(info.computed_sum29, info.sum29);
    EXPECT_EQ(info.computed_sum31, info.sum31);
    ASSERT_EQ(read.links.size(), original.links.size());
    const GaugeField<float> single = to_single(original);
    for (std::size_t n = 0; n < read.links.size(); ++n) {
        for (int i = 0; i < 3; ++i) {
            for (int j = 0; j < 3; ++j) {
                ASSERT_EQ(read.links[n].c[i][j].re, single.links[n].c[i][j].re) << "link " << n;
                ASSERT_EQ(read.links[n].c[i][j].im, single.links[n].c[i][j].im) << "link " << n;
            }
        }
    }
    EXPECT_NEAR(plaquette(geometry, read).total, plaquette(geometry, original).total, 1e-6);
}

TEST_F(MilcFiles, ByteSwappedFileReadsTheSame) {
    Geometry geometry(dims(6, 4, 2, 8), dims(1, 1, 1, 1), MPI_COMM_SELF);
    const fs::path path = write_random(geometry);
    std::vector<char> bytes = read_bytes(path);
    auto swap_word = [&](std::size_t offset) {
        std::uint32_t w;
        std::memcpy(&w, bytes.data() + offset, 4);
        w = __builtin_bswap32(w);
        std::memcpy(bytes.data() + offset, &w, 4);
    };
    for (std::size_t offset = 0; offset < 20; offset += 4) swap_word(offset);  // magic, dims
    for (std::size_t offset = 84; offset < bytes.size(); offset += 4) swap_word(offset);
    const fs::path swapped = dir_ / "swapped.milc";
    write_bytes(swapped, bytes);

    MilcInfo info;
    const auto a = make_gauge_field(geometry, parse_gauge_source("milc:" + path.string()));
    const auto b =
        make_gauge_field(geometry, parse_gauge_source("milc:" + swapped.string()), &info);
    EXPECT_TRUE(info.byte_swapped);
    EXPECT_EQ(info.computed_sum29, info.sum29);
    EXPECT_EQ(std::memcmp(a.links.data(), b.links.data(), a.links.size() * sizeof a.links[0]), 0);
}

TEST_F(MilcFiles, TruncatedFileIsRejectedByName) {
    Geometry geometry(dims(6, 4, 2, 8), dims(1, 1, 1, 1), MPI_COMM_SELF);
    std::vector<char> bytes = read_bytes(write_random(geometry));
    bytes.resize(bytes.size() - 100);
    const fs::path cut = dir_ / "cut.milc";
    write_bytes(cut, bytes);
    const std::string error = read_error(geometry, cut);
    EXPECT_NE(error.find(cut.string() + ": truncated: "), std::string::npos) << error;

    bytes.resize(50);
    write_bytes(cut, bytes);
    EXPECT_NE(read_error(geometry, cut).find(cut.string() + ": truncated or unreadable header"),
              std::string::npos);
}

TEST_F(MilcFiles, AlteredDataFailsTheChecksumUnlessIgnored) {
    Geometry geometry(dims(6, 4, 2, 8), dims(1, 1, 1, 1), MPI_COMM_SELF);
    const fs::path path = write_random(geometry);
    std::vector<char> bytes = read_bytes(path);
    bytes[96 + 1000] ^= 0x10;
    const fs::path altered = dir_ / "altered.milc";
    write_bytes(altered, bytes);

    const std::string error = read_error(geometry, altered);
    EXPECT_NE(error.find(altered.string() + ": checksum mismatch: the file states sum29 "),
              std::string::npos)
        << error;
    EXPECT_NE(error.find("the data give sum29 "), std::string::npos) << error;

    GaugeSource source = parse_gauge_source("milc:" + altered.string());
    source.ignore_checksum = true;
    MilcInfo info;
    EXPECT_NO_THROW(make_gauge_field(geometry, source, &info));
    EXPECT_NE(info.computed_sum29, info.sum29);
    EXPECT_NE(info.computed_sum31, info.sum31);
}

TEST_F(MilcFiles, WrongDimensionsAreRejectedWithTheRightLattice) {
    Geometry writer(dims(6, 4, 2, 8), dims(1, 1, 1, 1), MPI_COMM_SELF);
    const fs::path path = write_random(writer);
    Geometry reader(dims(4, 6, 2, 8), dims(1, 1, 1, 1), MPI_COMM_SELF);
    const std::string error = read_error(reader, path);
    EXPECT_NE(error.find(path.string() + ": the file holds a 6x4x2x8 lattice"), std::string::npos)
        << error;
    EXPECT_NE(error.find("pass --lattice 6x4x2x8"), std::string::npos) << error;
}

TEST_F(MilcFiles, WrongMagicAndMissingFileAreRejectedByName) {
    Geometry geometry(dims(6, 4, 2, 8), dims(1, 1, 1, 1), MPI_COMM_SELF);
    std::vector<char> bytes = read_bytes(write_random(geometry));
    bytes[0] = 0x01;
    const fs::path bad = dir_ / "bad.milc";
    write_bytes(bad, bytes);
    EXPECT_NE(read_error(geometry, bad).find(bad.string() + ": not a MILC v5 binary gauge file"),
              std::string::npos);

    const fs::path missing = dir_ / "missing.milc";
    EXPECT_NE(read_error(geometry, missing).find(missing.string() + ": cannot open"),
              std::string::npos);
}

TEST(GaugeSource, ParsesTheThreeForms) {
    EXPECT_EQ(parse_gauge_source("unit").kind, GaugeSource::Kind::unit);
    const GaugeSource random = parse_gauge_source("random:18446744073709551615");
    EXPECT_EQ(random.kind, GaugeSource::Kind::random);
    EXPECT_EQ(random.seed, 18446744073709551615ull);
    EXPECT_EQ(random.str(), "random:18446744073709551615");
    const GaugeSource milc = parse_gauge_source("milc:/a/b:c");
    EXPECT_EQ(milc.kind, GaugeSource::Kind::milc);
    EXPECT_EQ(milc.path, "/a/b:c");
    EXPECT_EQ(milc.str(), "milc:/a/b:c");
}

TEST(GaugeSource, RejectsOtherTextNamingIt) {
    for (const char* bad : {"", "Unit", "random:", "random:-1", "random:12x", "milc:", "hot"}) {
        try {
            parse_gauge_source(bad);
            ADD_FAILURE() << "accepted '" << bad << "'";
        } catch (const std::invalid_argument& e) {
            EXPECT_NE(std::string(e.what()).find("--gauge '" + std::string(bad) + "'"),
                      std::string::npos)
                << e.what();
        }
    }
}

}  // namespace
}  // namespace ukrun::lattice
