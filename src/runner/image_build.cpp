// Building Nanos images with mkfs, cached by content hash, and per-rank images.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <system_error>

#include "ukrun/runner/image.hpp"
#include "ukrun/runner/libcollect.hpp"

namespace ukrun::runner::nanos {
namespace {

/// Two FNV-1a lanes with different offset bases: a 128-bit digest, fast enough for tens of
/// megabytes per build. It detects changes; it is not a cryptographic hash.
class Digest {
  public:
    void add(std::string_view data) {
        for (unsigned char c : data) {
            a_ = (a_ ^ c) * 0x100000001b3ULL;
            b_ = (b_ ^ c) * 0x100000001b3ULL;
        }
    }
    void add_file(const fs::path& file) {
        std::ifstream in(file, std::ios::binary);
        if (!in) throw std::runtime_error("cannot read image input " + file.string());
        std::array<char, 1 << 16> buffer;
        while (in) {
            in.read(buffer.data(), buffer.size());
            add(std::string_view(buffer.data(), static_cast<std::size_t>(in.gcount())));
        }
        add("\n--end of " + file.string() + "\n");
    }
    std::string hex() const {
        char out[33];
        std::snprintf(out, sizeof out, "%016llx%016llx", static_cast<unsigned long long>(a_),
                      static_cast<unsigned long long>(b_));
        return out;
    }

  private:
    std::uint64_t a_ = 0xcbf29ce484222325ULL;
    std::uint64_t b_ = 0x84222325cbf29ce4ULL;
};

double ms_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
        .count();
}

void write_text(const fs::path& file, const std::string& text) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + file.string());
}

}  // namespace

CommandResult run_with_stdin(const std::vector<std::string>& argv, const fs::path& stdin_file) {
    SpawnOptions options;
    options.argv = argv;
    options.capture_output = true;
    options.in_child = [&stdin_file] {
        const int in = open(stdin_file.empty() ? "/dev/null" : stdin_file.c_str(), O_RDONLY);
        if (in < 0 || dup2(in, 0) < 0)
            throw std::system_error(errno, std::generic_category(), stdin_file.string());
    };
    const Child child = spawn(options);

    CommandResult result;
    char buffer[4096];
    for (ssize_t n; (n = read(child.output_fd, buffer, sizeof buffer)) != 0;) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        result.output.append(buffer, static_cast<std::size_t>(n));
    }
    close(child.output_fd);
    int status = 0;
    while (waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
    }
    result.exit_code = exit_code_from_status(status);
    return result;
}

fs::path default_image_cache() {
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
        return fs::path(xdg) / "ukrun" / "images";
    const char* home = std::getenv("HOME");
    return fs::path(home && *home ? home : "/tmp") / ".cache" / "ukrun" / "images";
}

std::string content_hash(const NanosManifest& manifest, const NanosInstall& nanos) {
    Digest digest;
    digest.add(render_manifest(to_manifest_tree(manifest)));
    for (const auto& [guest, host] : manifest.files) digest.add_file(host);
    digest.add_file(nanos.kernel);
    digest.add_file(nanos.boot);
    return digest.hex();
}

BuiltImage write_image(const NanosManifest& manifest, const NanosInstall& nanos,
                       const fs::path& out, const CommandRunner& run) {
    const auto start = std::chrono::steady_clock::now();
    if (nanos.mkfs.empty())
        throw std::runtime_error("no Nanos mkfs in " + nanos.dir.string() +
                                 ": build it (make tools in nanovms/nanos) or use ops");

    BuiltImage built;
    built.image = out;
    built.manifest_file = fs::path(out.string() + ".manifest");
    write_text(built.manifest_file, render_manifest(to_manifest_tree(manifest)));

    const auto result = run(
        {nanos.mkfs.string(), "-b", nanos.boot.string(), "-k", nanos.kernel.string(), out.string()},
        built.manifest_file);
    if (result.exit_code != 0)
        throw std::runtime_error("mkfs failed (exit " + std::to_string(result.exit_code) +
                                 ") for " + built.manifest_file.string() + ": " + result.output);
    std::error_code ec;
    built.bytes = fs::file_size(out, ec);
    built.build_ms = ms_since(start);
    return built;
}

BuiltImage cached_image(const NanosManifest& manifest, const NanosInstall& nanos,
                        const fs::path& cache_root, const CommandRunner& run) {
    const auto start = std::chrono::steady_clock::now();
    const std::string hash = content_hash(manifest, nanos);
    const fs::path dir = cache_root / hash;
    const fs::path image = dir / "nanos.img";

    std::error_code ec;
    if (fs::is_regular_file(image, ec)) {
        BuiltImage built{
            image, fs::path(image.string() + ".manifest"), hash, fs::file_size(image, ec), true, 0};
        built.build_ms = ms_since(start);
        return built;
    }

    fs::create_directories(dir);
    const fs::path partial = dir / ("nanos.img.partial." + std::to_string(getpid()));
    BuiltImage built = write_image(manifest, nanos, partial, run);
    fs::rename(partial, image);
    fs::rename(built.manifest_file, fs::path(image.string() + ".manifest"));
    built.image = image;
    built.manifest_file = fs::path(image.string() + ".manifest");
    built.hash = hash;
    built.build_ms = ms_since(start);
    return built;
}

std::string hosts_file_text(const std::vector<std::pair<std::string, std::string>>& hosts) {
    std::string text = "127.0.0.1 localhost\n";
    for (const auto& [address, name] : hosts) text += address + " " + name + "\n";
    return text;
}

std::map<std::string, std::string> guest_environment(const std::vector<std::string>& env) {
    std::map<std::string, std::string> guest;
    for (const auto& entry : env) {
        const auto eq = entry.find('=');
        if (eq == std::string::npos || eq == 0) continue;
        const std::string name = entry.substr(0, eq);
        if (name.starts_with("PMIX_DSTORE_")) continue;
        for (const char* prefix : {"PMIX_", "OMPI_", "SLURM_", "OPAL_", "UKRUN_"})
            if (name.starts_with(prefix)) guest[name] = entry.substr(eq + 1);
    }
    guest["PMIX_GDS_MODULE"] = "hash";
    return guest;
}

NanosManifest rank_manifest(const NanosManifest& base, const RankSettings& rank,
                            const fs::path& rank_dir) {
    NanosManifest manifest = base;
    for (const auto& [key, value] : rank.environment) manifest.environment[key] = value;
    manifest.network = rank.network;

    fs::create_directories(rank_dir / "etc");
    write_text(rank_dir / "etc" / "hostname", rank.hostname + "\n");
    write_text(rank_dir / "etc" / "hosts", hosts_file_text(rank.hosts));
    manifest.files["/etc/hostname"] = rank_dir / "etc" / "hostname";
    manifest.files["/etc/hosts"] = rank_dir / "etc" / "hosts";
    return manifest;
}

NanosManifest lattice_manifest(const LatticeImageOptions& options) {
    std::vector<fs::path> extra = {"/etc/hosts", "/etc/hostname"};
    if (!options.gauge.empty()) extra.push_back(fs::absolute(options.gauge));

    NanosManifest manifest;
    manifest.files = collect_runtime_files(options.lattice, extra);
    const std::string program = fs::absolute(options.lattice).lexically_normal().string();
    manifest.program = program;
    manifest.arguments.push_back(program);
    manifest.arguments.insert(manifest.arguments.end(), options.arguments.begin(),
                              options.arguments.end());
    manifest.directories.push_back("/tmp");
    // PMIx reads $HOME (else getpwuid, which crashes without an /etc/passwd in the image).
    manifest.environment = {{"HOME", "/"}, {"USER", "root"}, {"PWD", "/"}};
    for (const auto& [key, value] : options.environment) manifest.environment[key] = value;
    if (!options.compat_library.empty()) {
        manifest.files[kCompatGuestPath] = fs::canonical(options.compat_library);
        manifest.environment["LD_PRELOAD"] = kCompatGuestPath;
    }
    manifest.settings["debug_exit"] = "t";
    return manifest;
}

}  // namespace ukrun::runner::nanos
