// The HDF5 results file (schema: README, "Results file"). Appends are crash safe by
// construction: under an flock on FILE.lock the file is copied to FILE.tmp-<pid>, the run is
// appended to the copy, the copy is fsynced and renamed over FILE. FILE itself is never opened
// for writing, so a writer killed at any point leaves the earlier runs intact.
#include "ukrun/runner/results.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "ukrun/runner/hdf5.hpp"

namespace ukrun::runner {

namespace fs = std::filesystem;

namespace {

/// Set to a stage name ("copied", "mid-write", "synced"), makes append_run stop itself with
/// SIGSTOP at that stage, so tests can kill a writer at a known point. At "mid-write" the half
/// written run (table row, no group yet) is first flushed to the file being written.
constexpr const char* kPauseEnv = "UKRUN_RESULTS_TEST_PAUSE";
constexpr const char* kSchemaAttribute = "ukrun_schema_version";
constexpr hsize_t kRowsPerChunk = 64;

/// One column of a fixed-layout table: its HDF5 name, the record member it stores and, for a
/// string, its width in bytes including the NUL (longer values are cut to width - 1).
template <class Record>
struct Column {
    const char* name;
    std::variant<std::string Record::*, int Record::*, std::int64_t Record::*, double Record::*>
        member;
    std::size_t string_bytes = 0;
};

/// The native HDF5 type of a numeric member type.
template <class T>
hid_t native_type() {
    if constexpr (std::is_same_v<T, int>) return H5T_NATIVE_INT;
    if constexpr (std::is_same_v<T, std::int64_t>) return H5T_NATIVE_INT64;
    return H5T_NATIVE_DOUBLE;
}

/// A table row layout: columns packed one after the other, as raw bytes that the compound
/// type describes. Converts records to rows and back, column by column.
template <class Record>
class Layout {
  public:
    explicit Layout(std::vector<Column<Record>> columns) : columns_(std::move(columns)) {
        for (const auto& column : columns_) {
            offsets_.push_back(row_bytes_);
            row_bytes_ +=
                std::visit([&](auto member) { return width(column, member); }, column.member);
        }
    }

    /// Bytes per row.
    std::size_t row_bytes() const { return row_bytes_; }

    /// The compound type of a row, used both in memory and in the file.
    h5::CompoundType type() const {
        h5::CompoundType type(row_bytes_);
        for (std::size_t i = 0; i < columns_.size(); ++i) {
            const auto& column = columns_[i];
            std::visit(
                [&](auto member) {
                    using T = std::remove_cvref_t<decltype(std::declval<Record>().*member)>;
                    if constexpr (std::is_same_v<T, std::string>) {
                        type.add_string(column.name, offsets_[i], column.string_bytes);
                    } else {
                        type.add(column.name, offsets_[i], native_type<T>());
                    }
                },
                column.member);
        }
        return type;
    }

    /// Writes `record` into the row at `row` (row_bytes() bytes).
    void put(const Record& record, char* row) const {
        for (std::size_t i = 0; i < columns_.size(); ++i) {
            char* at = row + offsets_[i];
            std::visit(
                [&](auto member) {
                    const auto& value = record.*member;
                    if constexpr (std::is_same_v<std::remove_cvref_t<decltype(value)>,
                                                 std::string>) {
                        std::memset(at, 0, columns_[i].string_bytes);
                        std::memcpy(at, value.data(),
                                    std::min(value.size(), columns_[i].string_bytes - 1));
                    } else {
                        std::memcpy(at, &value, sizeof value);
                    }
                },
                columns_[i].member);
        }
    }

    /// Reads the row at `row` into `record`.
    void get(const char* row, Record& record) const {
        for (std::size_t i = 0; i < columns_.size(); ++i) {
            const char* at = row + offsets_[i];
            std::visit(
                [&](auto member) {
                    auto& value = record.*member;
                    if constexpr (std::is_same_v<std::remove_cvref_t<decltype(value)>,
                                                 std::string>) {
                        value.assign(at, strnlen(at, columns_[i].string_bytes));
                    } else {
                        std::memcpy(&value, at, sizeof value);
                    }
                },
                columns_[i].member);
        }
    }

  private:
    template <class T>
    static std::size_t width(const Column<Record>& column, T Record::*) {
        if constexpr (std::is_same_v<T, std::string>) return column.string_bytes;
        return sizeof(T);
    }

    std::vector<Column<Record>> columns_;
    std::vector<std::size_t> offsets_;
    std::size_t row_bytes_ = 0;
};

/// The `runs` table: one row per run (schema in README, "Results file").
const Layout<RunRecord>& run_layout() {
    using R = RunRecord;
    static const Layout<RunRecord> layout({
        {"id", &R::id},
        {"time_utc", &R::time_utc, 32},
        {"backend", &R::backend, 16},
        {"ranks", &R::ranks},
        {"grid", &R::grid, 32},
        {"lattice", &R::lattice, 32},
        {"local_lattice", &R::local_lattice, 32},
        {"precision", &R::precision, 16},
        {"isa", &R::isa, 16},
        {"accelerator", &R::accelerator, 16},
        {"gauge", &R::gauge, 128},
        {"launch_ms", &R::launch_ms},
        {"mpi_init_ms", &R::mpi_init_ms},
        {"plaquette", &R::plaquette},
        {"dirac_us_per_site", &R::dirac_us_per_site},
        {"dirac_gflops", &R::dirac_gflops},
        {"halo_ms", &R::halo_ms},
        {"cg_iterations", &R::cg_iterations},
        {"cg_residual", &R::cg_residual},
        {"exit_status", &R::exit_status},
        {"status", &R::status, 16},
        {"failure", &R::failure, 256},
    });
    return layout;
}

/// A run's `ranks` table: one row per rank.
const Layout<RankRecord>& rank_layout() {
    using R = RankRecord;
    static const Layout<RankRecord> layout({
        {"rank", &R::rank},
        {"node", &R::node, 64},
        {"address", &R::address, 64},
        {"exit_code", &R::exit_code},
        {"boot_ms", &R::boot_ms},
        {"mpi_init_ms", &R::mpi_init_ms},
        {"rss_mib", &R::rss_mib},
        {"image_mib", &R::image_mib},
    });
    return layout;
}

/// The texts stored as scalar string datasets in each run's group, by name.
struct TextField {
    const char* name;
    std::string RunRecord::*member;
};

constexpr TextField kTextFields[] = {
    {"result_json", &RunRecord::result_json},
    {"plan_json", &RunRecord::plan_json},
    {"topology_text", &RunRecord::topology_text},
    {"versions", &RunRecord::versions},
    {"command_line", &RunRecord::command_line},
    {"failure", &RunRecord::failure},
    {"gauge", &RunRecord::gauge},
};

/// True when the test hook asks to stop at `stage`.
bool pause_requested(const char* stage) {
    const char* wanted = std::getenv(kPauseEnv);
    return wanted && std::strcmp(wanted, stage) == 0;
}

/// Stops this process with SIGSTOP when the test hook names `stage`.
void pause_for_tests(const char* stage) {
    if (pause_requested(stage)) std::raise(SIGSTOP);
}

[[noreturn]] void throw_errno(const std::string& what) {
    throw std::system_error(errno, std::generic_category(), what);
}

/// Checks that `path` is an existing ukrun results file this code can read; throws
/// "not an HDF5 file", "no /runs table; ..." or a schema message (the caller adds the path).
void check_results_file(const std::string& path) {
    std::error_code error;
    if (!fs::exists(path, error)) throw std::runtime_error("no such file");
    if (!fs::is_regular_file(path, error)) throw std::runtime_error("not a regular file");
    const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
    if (is_hdf5 == 0) throw std::runtime_error("not an HDF5 file");
    h5::check(is_hdf5, "H5Fis_hdf5");

    const h5::Handle file = h5::open_file(path, false);
    if (!h5::exists(file.id(), "runs")) {
        throw std::runtime_error("no /runs table; is this a ukrun results file?");
    }
    if (H5Aexists(file.id(), kSchemaAttribute) <= 0) {
        throw std::runtime_error(std::string("no ") + kSchemaAttribute +
                                 " attribute; is this a ukrun results file?");
    }
    const std::int64_t version = h5::read_int_attribute(file.id(), kSchemaAttribute);
    if (version > kResultsSchemaVersion || version < 1) {
        throw std::runtime_error("schema version " + std::to_string(version) +
                                 " is not readable by this ukrun (it reads 1 to " +
                                 std::to_string(kResultsSchemaVersion) + "); use a newer ukrun");
    }
}

/// Reads every row of the 1-D compound dataset `dataset` (named `name` in errors).
template <class Record>
std::vector<Record> read_table(hid_t dataset, const Layout<Record>& layout,
                               const std::string& name) {
    const hsize_t rows = h5::row_count(dataset);
    std::vector<char> bytes(rows * layout.row_bytes());
    if (rows > 0) {
        const h5::CompoundType type = layout.type();
        h5::check(H5Dread(dataset, type.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data()),
                  "H5Dread " + name);
    }
    std::vector<Record> out(rows);
    for (hsize_t i = 0; i < rows; ++i) layout.get(bytes.data() + i * layout.row_bytes(), out[i]);
    return out;
}

/// Lays out a new, empty results file: the `runs` table, the `run` group, the attributes.
void initialise(hid_t file) {
    const h5::CompoundType type = run_layout().type();
    const hsize_t rows = 0;
    const hsize_t max_rows = H5S_UNLIMITED;
    const h5::Handle space(H5Screate_simple(1, &rows, &max_rows), H5Sclose, "H5Screate_simple");
    const h5::Handle create(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, "H5Pcreate(dataset)");
    h5::check(H5Pset_chunk(create.id(), 1, &kRowsPerChunk), "H5Pset_chunk");
    const h5::Handle runs(
        H5Dcreate2(file, "runs", type.id(), space.id(), H5P_DEFAULT, create.id(), H5P_DEFAULT),
        H5Dclose, "H5Dcreate runs");
    h5::open_or_create_group(file, "run");
    h5::write_int_attribute(file, kSchemaAttribute, kResultsSchemaVersion);
    h5::write_string_attribute(file, "ukrun_version", UKRUN_VERSION);
}

/// Writes run `run.id`'s group: the per-rank table and the texts.
void write_group(hid_t file, const RunRecord& run) {
    const std::string name = run_group_path(run.id);
    const h5::Handle group(H5Gcreate2(file, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                           H5Gclose, "H5Gcreate " + name);

    const auto& layout = rank_layout();
    std::vector<char> bytes(run.rank_records.size() * layout.row_bytes());
    for (std::size_t i = 0; i < run.rank_records.size(); ++i) {
        layout.put(run.rank_records[i], bytes.data() + i * layout.row_bytes());
    }
    const h5::CompoundType type = layout.type();
    const hsize_t count = run.rank_records.size();
    const h5::Handle space(H5Screate_simple(1, &count, nullptr), H5Sclose, "H5Screate_simple");
    const h5::Handle ranks(H5Dcreate2(group.id(), "ranks", type.id(), space.id(), H5P_DEFAULT,
                                      H5P_DEFAULT, H5P_DEFAULT),
                           H5Dclose, "H5Dcreate " + name + "/ranks");
    if (count > 0) {
        h5::check(H5Dwrite(ranks.id(), type.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data()),
                  "H5Dwrite " + name + "/ranks");
    }
    for (const auto& field : kTextFields) h5::write_text(group.id(), field.name, run.*field.member);
}

/// Appends `run` as the next row of an open results file and returns the id it was given
/// (the last row's id + 1, or 1).
std::int64_t append_to(hid_t file, RunRecord& run) {
    const h5::Handle runs = h5::open_dataset(file, "runs");
    const auto existing = read_table(runs.id(), run_layout(), "runs");
    run.id = existing.empty() ? 1 : existing.back().id + 1;

    const hsize_t at = existing.size();
    const hsize_t one = 1;
    const hsize_t new_rows = at + 1;
    h5::check(H5Dset_extent(runs.id(), &new_rows), "H5Dset_extent runs");
    const h5::Handle space(H5Dget_space(runs.id()), H5Sclose, "H5Dget_space runs");
    h5::check(H5Sselect_hyperslab(space.id(), H5S_SELECT_SET, &at, nullptr, &one, nullptr),
              "H5Sselect_hyperslab runs");
    const h5::Handle memory(H5Screate_simple(1, &one, nullptr), H5Sclose, "H5Screate_simple");
    std::vector<char> row(run_layout().row_bytes());
    run_layout().put(run, row.data());
    const h5::CompoundType type = run_layout().type();
    h5::check(H5Dwrite(runs.id(), type.id(), memory.id(), space.id(), H5P_DEFAULT, row.data()),
              "H5Dwrite runs");
    if (pause_requested("mid-write")) {
        // Half a run flushed to disk: what a writer killed inside HDF5's own flush leaves.
        h5::check(H5Fflush(file, H5F_SCOPE_GLOBAL), "H5Fflush");
        std::raise(SIGSTOP);
    }

    write_group(file, run);
    return run.id;
}

/// Fills the per-rank rows and texts of `run` from its group.
void read_group(hid_t file, RunRecord& run) {
    const std::string name = run_group_path(run.id);
    if (!h5::exists(file, "run") || H5Lexists(file, name.c_str(), H5P_DEFAULT) <= 0) {
        throw std::runtime_error("run " + std::to_string(run.id) + " has no group " + name);
    }
    const h5::Handle group = h5::open_group(file, name);
    for (const auto& field : kTextFields) {
        if (h5::exists(group.id(), field.name)) {
            run.*field.member = h5::read_text(group.id(), field.name);
        }
    }
    const h5::Handle ranks = h5::open_dataset(group.id(), "ranks");
    run.rank_records = read_table(ranks.id(), rank_layout(), name + "/ranks");
}

std::vector<RunRecord> read_all(const std::string& path) {
    check_results_file(path);
    const h5::Handle file = h5::open_file(path, false);
    const h5::Handle runs = h5::open_dataset(file.id(), "runs");
    auto out = read_table(runs.id(), run_layout(), "runs");
    for (auto& run : out) read_group(file.id(), run);
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return out;
}

/// An exclusive flock on `path` (created when missing), held for the object's lifetime.
class FileLock {
  public:
    explicit FileLock(const std::string& path)
        : fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)) {
        if (fd_ < 0) throw_errno("cannot create the lock file " + path);
        while (::flock(fd_, LOCK_EX) != 0) {
            if (errno != EINTR) {
                const int saved = errno;
                ::close(fd_);
                errno = saved;
                throw_errno("cannot lock " + path);
            }
        }
    }
    ~FileLock() { ::close(fd_); }  // closing releases the lock
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;

  private:
    int fd_;
};

/// Forces `path` (a file or a directory) to stable storage.
void sync_path(const fs::path& path, bool directory) {
    const int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
    if (fd < 0) throw_errno("cannot open " + path.string() + " to fsync it");
    const int rc = ::fsync(fd);
    const int saved = errno;
    ::close(fd);
    errno = saved;
    if (rc != 0) throw_errno("fsync " + path.string());
}

/// Removes copies left by writers that died mid-append; safe only while holding the lock.
void remove_stale_copies(const fs::path& target) {
    const std::string prefix = target.filename().string() + ".tmp-";
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(target.parent_path(), error)) {
        if (entry.path().filename().string().rfind(prefix, 0) == 0) fs::remove(entry.path(), error);
    }
}

/// Removes the temporary copy unless the append reached its rename.
class TemporaryCopy {
  public:
    explicit TemporaryCopy(fs::path path) : path_(std::move(path)) {}
    ~TemporaryCopy() {
        std::error_code error;
        if (!committed_) fs::remove(path_, error);
    }
    TemporaryCopy(const TemporaryCopy&) = delete;
    TemporaryCopy& operator=(const TemporaryCopy&) = delete;

    const fs::path& path() const { return path_; }
    /// Renames the copy over `target` (atomic on one filesystem) and syncs the directory.
    void commit(const fs::path& target) {
        sync_path(path_, false);
        pause_for_tests("synced");
        fs::rename(path_, target);
        committed_ = true;
        sync_path(target.parent_path(), true);
    }

  private:
    fs::path path_;
    bool committed_ = false;
};

std::int64_t append_locked(const std::string& path, RunRecord& run) {
    const fs::path target = fs::weakly_canonical(fs::absolute(path));
    const FileLock lock(target.string() + ".lock");
    remove_stale_copies(target);

    const bool existing = fs::exists(target);
    if (existing) check_results_file(target.string());
    TemporaryCopy copy(target.string() + ".tmp-" + std::to_string(::getpid()));
    if (existing) fs::copy_file(target, copy.path(), fs::copy_options::overwrite_existing);
    pause_for_tests("copied");

    std::int64_t id = 0;
    {
        const h5::Handle file = existing ? h5::open_file(copy.path().string(), true)
                                         : h5::create_file(copy.path().string());
        if (!existing) initialise(file.id());
        id = append_to(file.id(), run);
    }
    copy.commit(target);
    return id;
}

/// Runs `body`, re-throwing any failure as std::runtime_error "PATH: what went wrong".
template <class Body>
auto naming_file(const std::string& path, Body body) {
    h5::silence_errors();
    try {
        return body();
    } catch (const std::exception& e) {
        throw std::runtime_error(path + ": " + e.what());
    }
}

}  // namespace

std::string run_group_path(std::int64_t id) {
    char name[32];
    std::snprintf(name, sizeof name, "/run/%06lld", static_cast<long long>(id));
    return name;
}

std::int64_t append_run(const std::string& path, RunRecord run) {
    if (run.status.empty())
        run.status = run.exit_status == 0 && run.failure.empty() ? "ok" : "failed";
    if (run.status != "ok" && run.failure.empty()) {
        run.failure = "exit status " + std::to_string(run.exit_status) + " (no reason recorded)";
    }
    return naming_file(path, [&] { return append_locked(path, run); });
}

std::vector<RunRecord> read_runs(const std::string& path) {
    return naming_file(path, [&] { return read_all(path); });
}

std::string results_file_problem(const std::string& path) {
    std::error_code error;
    const fs::path target = fs::absolute(path, error);
    const fs::path dir = target.parent_path();
    if (!fs::is_directory(dir, error))
        return path + ": directory " + dir.string() + " does not exist; create it or choose "
                      "another --results";
    if (::access(dir.c_str(), W_OK) != 0)
        return path + ": directory " + dir.string() + " is not writable; choose another --results";
    if (!fs::exists(target, error)) return "";
    try {
        naming_file(path, [&] {
            check_results_file(fs::weakly_canonical(target).string());
            return 0;
        });
    } catch (const std::exception& e) {
        return std::string(e.what()) + "; choose another --results file";
    }
    return "";
}

}  // namespace ukrun::runner
