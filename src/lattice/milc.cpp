// MILC v5 binary gauge files: each rank reads (pread) and writes (pwrite) only its own sites;
// the sum29/sum31 checksums are combined with an XOR reduction.
//
// Layout: int32 magic 20103 (its byte order is the file's), int32 nx ny nz nt, char[64] time
// stamp, int32 order (0 = natural), uint32 sum29, uint32 sum31, then per site (x fastest, then
// y, z, t) the links in directions x, y, z, t as 3x3 complex float, row-major.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include "gauge_detail.hpp"

namespace ukrun::lattice {

namespace {

constexpr std::int32_t kMilcMagic = 20103;
constexpr int kHeaderBytes = 96;
constexpr int kWordsPerSite = 4 * 18;  ///< 32-bit words: 4 links x 18 floats
constexpr int kSiteBytes = 4 * kWordsPerSite;

/// The header fields as they sit in the file.
struct RawHeader {
    std::int32_t magic;
    std::int32_t dims[4];  ///< nx ny nz nt
    char time_stamp[64];
    std::int32_t order;
    std::uint32_t sum29, sum31;
};
static_assert(sizeof(RawHeader) == kHeaderBytes);

/// MILC's two checksums: each 32-bit word, rotated left by its index in the data mod 29
/// (mod 31), XORed together.
struct Checksum {
    std::uint32_t sum29 = 0, sum31 = 0;

    /// Adds `count` words whose first has index `first_word` in the file's data.
    void add(const std::uint32_t* words, int count, std::int64_t first_word) {
        int r29 = static_cast<int>(first_word % 29), r31 = static_cast<int>(first_word % 31);
        for (int k = 0; k < count; ++k) {
            sum29 ^= std::rotl(words[k], r29);
            sum31 ^= std::rotl(words[k], r31);
            if (++r29 == 29) r29 = 0;
            if (++r31 == 31) r31 = 0;
        }
    }

    /// XOR over the ranks of `comm`. Collective.
    Checksum combined(MPI_Comm comm) const {
        std::uint32_t mine[2] = {sum29, sum31}, all[2] = {0, 0};
        MPI_Allreduce(mine, all, 2, MPI_UINT32_T, MPI_BXOR, comm);
        return {all[0], all[1]};
    }
};

/// MILC's site number of global ukrun coordinates (t, x, y, z).
std::int64_t milc_site(const Dims& global, const std::array<int, 4>& g) {
    return ((static_cast<std::int64_t>(g[0]) * global[3] + g[3]) * global[2] + g[2]) * global[1] +
           g[1];
}

/// Calls f(first_local_site_coords, first_milc_site) for each run of local sites that is
/// contiguous in the file: all local x (ukrun direction 1) at fixed local t, y, z.
template <typename F>
void for_each_run(const Geometry& geometry, F&& f) {
    const Dims& local = geometry.local();
    const std::array<int, 4>& origin = geometry.origin();
    for (int t = 0; t < local[0]; ++t) {
        for (int z = 0; z < local[3]; ++z) {
            for (int y = 0; y < local[2]; ++y) {
                const std::array<int, 4> x{t, 0, y, z};
                const std::array<int, 4> g{origin[0] + t, origin[1], origin[2] + y, origin[3] + z};
                f(x, milc_site(geometry.global(), g));
            }
        }
    }
}

/// MILC direction k (x, y, z, t) as ukrun's mu (1, 2, 3, 0).
int ukrun_direction(int k) {
    return (k + 1) % 4;
}

/// Reverses the byte order of `count` 32-bit words in place.
void swap_words(std::uint32_t* words, std::size_t count) {
    for (std::size_t k = 0; k < count; ++k) words[k] = __builtin_bswap32(words[k]);
}

/// Copies one site's 72 float words (MILC order, native byte order) into the field.
void unpack_site(const std::uint32_t* words, GaugeField<double>& field, int site) {
    for (int k = 0; k < 4; ++k) {
        Su3<double>& u = field.link(site, ukrun_direction(k));
        for (int i = 0; i < 3; ++i) {
            for (int j = 0; j < 3; ++j) {
                const std::uint32_t* z = words + 18 * k + 6 * i + 2 * j;
                u.c[i][j] = {std::bit_cast<float>(z[0]), std::bit_cast<float>(z[1])};
            }
        }
    }
}

/// One site's links as 72 float words in MILC order.
void pack_site(const GaugeField<double>& field, int site, std::uint32_t* words) {
    for (int k = 0; k < 4; ++k) {
        const Su3<double>& u = field.link(site, ukrun_direction(k));
        for (int i = 0; i < 3; ++i) {
            for (int j = 0; j < 3; ++j) {
                std::uint32_t* z = words + 18 * k + 6 * i + 2 * j;
                z[0] = std::bit_cast<std::uint32_t>(static_cast<float>(u.c[i][j].re));
                z[1] = std::bit_cast<std::uint32_t>(static_cast<float>(u.c[i][j].im));
            }
        }
    }
}

/// A checksum as eight hexadecimal digits.
std::string hex(std::uint32_t value) {
    char text[16];
    std::snprintf(text, sizeof text, "%08x", value);
    return text;
}

/// The text of the current errno.
std::string errno_text() {
    return std::strerror(errno);
}

/// Reads and checks the header; returns an error message naming the file, or empty.
std::string read_header(int fd, const std::string& path, const Dims& expected, MilcInfo& info) {
    RawHeader raw{};
    if (pread(fd, &raw, sizeof raw, 0) != static_cast<ssize_t>(sizeof raw)) {
        return path + ": truncated or unreadable header (a MILC v5 file starts with " +
               std::to_string(kHeaderBytes) + " header bytes)";
    }
    if (raw.magic != kMilcMagic) {
        if (static_cast<std::int32_t>(__builtin_bswap32(raw.magic)) != kMilcMagic) {
            return path + ": not a MILC v5 binary gauge file (magic number " +
                   std::to_string(raw.magic) + ", expected " + std::to_string(kMilcMagic) + ")";
        }
        info.byte_swapped = true;
        swap_words(reinterpret_cast<std::uint32_t*>(raw.dims), 4);
        swap_words(reinterpret_cast<std::uint32_t*>(&raw.order), 1);
        swap_words(&raw.sum29, 2);
    }
    info.dims = Dims{{raw.dims[3], raw.dims[0], raw.dims[1], raw.dims[2]}};
    info.sum29 = raw.sum29;
    info.sum31 = raw.sum31;
    info.time_stamp.assign(raw.time_stamp, strnlen(raw.time_stamp, sizeof raw.time_stamp));

    if (info.dims != expected) {
        return path + ": the file holds a " + info.dims.str() +
               " lattice (t x y z; MILC nx ny nz nt " + std::to_string(raw.dims[0]) + " " +
               std::to_string(raw.dims[1]) + " " + std::to_string(raw.dims[2]) + " " +
               std::to_string(raw.dims[3]) + ") but --lattice is " + expected.str() +
               "; pass --lattice " + info.dims.str();
    }
    if (raw.order != 0) {
        return path + ": site order " + std::to_string(raw.order) +
               " is not supported; only natural order (0) files can be read";
    }

    struct stat st {};
    if (fstat(fd, &st) != 0) return path + ": cannot stat: " + errno_text();
    const std::int64_t want = kHeaderBytes + expected.volume() * kSiteBytes;
    if (st.st_size != want) {
        return path + ": " + std::string(st.st_size < want ? "truncated" : "too long") + ": " +
               std::to_string(st.st_size) + " bytes, a " + expected.str() + " MILC file has " +
               std::to_string(want);
    }
    return {};
}

/// Reads this rank's sites; returns an error message or empty.
std::string read_sites(int fd, const std::string& path, const Geometry& geometry, bool swapped,
                       GaugeField<double>& field, Checksum& checksum) {
    const int run = geometry.local()[1];
    std::vector<std::uint32_t> words(static_cast<std::size_t>(run) * kWordsPerSite);
    std::string error;
    for_each_run(geometry, [&](std::array<int, 4> x, std::int64_t first_site) {
        if (!error.empty()) return;
        const std::size_t bytes = words.size() * sizeof(std::uint32_t);
        const off_t offset = kHeaderBytes + first_site * kSiteBytes;
        if (pread(fd, words.data(), bytes, offset) != static_cast<ssize_t>(bytes)) {
            error = path + ": read of " + std::to_string(bytes) + " bytes at offset " +
                    std::to_string(offset) + " failed: " + errno_text();
            return;
        }
        if (swapped) swap_words(words.data(), words.size());
        checksum.add(words.data(), static_cast<int>(words.size()), first_site * kWordsPerSite);
        for (int i = 0; i < run; ++i) {
            x[1] = i;
            unpack_site(words.data() + i * kWordsPerSite, field, geometry.index(x));
        }
    });
    return error;
}

}  // namespace

namespace detail {

void read_milc(const Geometry& geometry, const GaugeSource& source, GaugeField<double>& field,
               MilcInfo* info_out) {
    const std::string& path = source.path;
    MilcInfo info;
    Checksum checksum;

    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    std::string error;
    if (fd < 0) {
        error = path + ": cannot open MILC gauge file: " + errno_text() +
                "; check the path given to --gauge milc:PATH";
    } else {
        error = read_header(fd, path, geometry.global(), info);
    }
    if (error.empty()) {
        error = read_sites(fd, path, geometry, info.byte_swapped, field, checksum);
    }
    if (fd >= 0) close(fd);
    detail::throw_if_any(geometry.comm(), error);

    const Checksum total = checksum.combined(geometry.comm());
    info.computed_sum29 = total.sum29;
    info.computed_sum31 = total.sum31;
    if (info_out) *info_out = info;
    if (total.sum29 == info.sum29 && total.sum31 == info.sum31) return;

    const std::string mismatch = path + ": checksum mismatch: the file states sum29 " +
                                 hex(info.sum29) + " sum31 " + hex(info.sum31) +
                                 ", the data give sum29 " + hex(total.sum29) + " sum31 " +
                                 hex(total.sum31);
    if (!source.ignore_checksum) {
        throw std::runtime_error(mismatch +
                                 "; the file is corrupt (--ignore-checksum reads it "
                                 "anyway)");
    }
    if (geometry.rank() == 0) {
        std::fprintf(stderr, "ukrun-lattice: warning: %s (ignored: --ignore-checksum)\n",
                     mismatch.c_str());
    }
}

}  // namespace detail

void write_milc(const Geometry& geometry, const GaugeField<double>& field,
                const std::string& path) {
    // The data in file order, and its checksum.
    const int run = geometry.local()[1];
    std::vector<std::uint32_t> data(static_cast<std::size_t>(geometry.volume()) * kWordsPerSite);
    std::vector<std::int64_t> offsets;
    Checksum checksum;
    for_each_run(geometry, [&](std::array<int, 4> x, std::int64_t first_site) {
        std::uint32_t* out = data.data() + offsets.size() * run * kWordsPerSite;
        for (int i = 0; i < run; ++i) {
            x[1] = i;
            pack_site(field, geometry.index(x), out + i * kWordsPerSite);
        }
        checksum.add(out, run * kWordsPerSite, first_site * kWordsPerSite);
        offsets.push_back(kHeaderBytes + first_site * kSiteBytes);
    });
    const Checksum total = checksum.combined(geometry.comm());

    // Rank 0 creates the file with its header; then every rank writes its runs.
    std::string error;
    if (geometry.rank() == 0) {
        RawHeader raw{};
        raw.magic = kMilcMagic;
        const Dims& g = geometry.global();
        raw.dims[0] = g[1];
        raw.dims[1] = g[2];
        raw.dims[2] = g[3];
        raw.dims[3] = g[0];
        const std::time_t now = std::time(nullptr);
        std::strftime(raw.time_stamp, sizeof raw.time_stamp, "%a %b %d %H:%M:%S %Y",
                      std::gmtime(&now));
        raw.sum29 = total.sum29;
        raw.sum31 = total.sum31;
        const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || pwrite(fd, &raw, sizeof raw, 0) != static_cast<ssize_t>(sizeof raw) ||
            ftruncate(fd, kHeaderBytes + g.volume() * kSiteBytes) != 0) {
            error = path + ": cannot write MILC gauge file: " + errno_text();
        }
        if (fd >= 0) close(fd);
    }
    detail::throw_if_any(geometry.comm(), error);

    const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) error = path + ": cannot open for writing: " + errno_text();
    const std::size_t run_bytes = static_cast<std::size_t>(run) * kSiteBytes;
    for (std::size_t n = 0; n < offsets.size() && error.empty(); ++n) {
        const char* bytes = reinterpret_cast<const char*>(data.data()) + n * run_bytes;
        if (pwrite(fd, bytes, run_bytes, offsets[n]) != static_cast<ssize_t>(run_bytes)) {
            error = path + ": write at offset " + std::to_string(offsets[n]) +
                    " failed: " + errno_text();
        }
    }
    if (fd >= 0 && close(fd) != 0 && error.empty()) {
        error = path + ": close failed: " + errno_text();
    }
    detail::throw_if_any(geometry.comm(), error);
}

}  // namespace ukrun::lattice
