// Nanos images: a base image (program, libraries, components) cached by content hash, and a
// per-rank image that adds the rank's environment, address and host files.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "ukrun/runner/nanos.hpp"
#include "ukrun/runner/process.hpp"

namespace ukrun::runner::nanos {

/// Runs argv with stdin from `stdin_file` (empty: /dev/null) and waits. The seam tests fake.
using CommandRunner =
    std::function<CommandResult(const std::vector<std::string>& argv, const fs::path& stdin_file)>;

/// The real runner (spawn() with stdin redirected, output captured). Throws
/// std::system_error naming the program when it cannot be started.
CommandResult run_with_stdin(const std::vector<std::string>& argv, const fs::path& stdin_file);

/// The image cache root: $XDG_CACHE_HOME/ukrun/images, else ~/.cache/ukrun/images.
fs::path default_image_cache();

/// A 128-bit hex digest of every input: the rendered manifest, the contents of every host
/// file it names, the kernel and boot images. Throws std::runtime_error naming an unreadable
/// file.
std::string content_hash(const NanosManifest& manifest, const NanosInstall& nanos);

/// One built image.
struct BuiltImage {
    fs::path image;          ///< the disk image QEMU boots
    fs::path manifest_file;  ///< the manifest text mkfs read (kept for debugging)
    std::string hash;        ///< content hash (empty for uncached rank images)
    std::uintmax_t bytes = 0;
    bool reused = false;  ///< found in the cache, mkfs not run
    double build_ms = 0;  ///< wall time of this call
};

/// Writes `manifest` to `out`.manifest and runs Nanos's mkfs into `out`. Throws
/// std::runtime_error with mkfs's output when it fails or when `nanos` has no mkfs.
BuiltImage write_image(const NanosManifest& manifest, const NanosInstall& nanos,
                       const fs::path& out, const CommandRunner& run = run_with_stdin);

/// The image of `manifest` in `cache_root`/<hash>/nanos.img, built there when missing (into a
/// temporary name first, so an interrupted build is never reused).
BuiltImage cached_image(const NanosManifest& manifest, const NanosInstall& nanos,
                        const fs::path& cache_root, const CommandRunner& run = run_with_stdin);

/// What differs between ranks.
struct RankSettings {
    std::map<std::string, std::string> environment;  ///< added to (and overriding) the base's
    NanosNetwork network;                            ///< static address of en1
    std::string hostname;                            ///< /etc/hostname
    std::vector<std::pair<std::string, std::string>> hosts;  ///< /etc/hosts: address, name
};

/// The guest environment of a rank from the shim's filtered "NAME=value" entries: every
/// PMIX_*, OMPI_*, SLURM_*, OPAL_* and UKRUN_* variable except PMIX_DSTORE_* (host paths of
/// a shared-memory store the guest cannot reach), plus PMIX_GDS_MODULE=hash. Host basics
/// (PATH, HOME, LD_LIBRARY_PATH, ...) are dropped: the image sets its own.
std::map<std::string, std::string> guest_environment(const std::vector<std::string>& env);

/// The base manifest plus the rank's settings; /etc/hostname and /etc/hosts are written
/// under `rank_dir`/etc and referenced from there. Throws std::runtime_error on write errors.
NanosManifest rank_manifest(const NanosManifest& base, const RankSettings& rank,
                            const fs::path& rank_dir);

/// Text of an /etc/hosts holding localhost and `hosts`.
std::string hosts_file_text(const std::vector<std::pair<std::string, std::string>>& hosts);

/// Options of the image that runs ukrun-lattice in a Nanos guest.
struct LatticeImageOptions {
    fs::path lattice;                    ///< host ukrun-lattice
    fs::path compat_library;             ///< libukrun-nanos-compat.so, preloaded; empty: none
    fs::path gauge;                      ///< optional gauge file, at the same path in the guest
    std::vector<std::string> arguments;  ///< after argv[0]
    std::map<std::string, std::string> environment;
};

/// libukrun-nanos-compat.so beside this executable (build tree) or in <prefix>/lib/ukrun;
/// empty when neither exists.
fs::path find_compat_library();

/// Guest path of the compatibility library.
inline constexpr const char* kCompatGuestPath = "/lib/ukrun/libukrun-nanos-compat.so";

/// The base manifest of ukrun-lattice: its closure and MPI runtime, /etc/hosts, /etc/hostname,
/// a writable /tmp, the compat library preloaded, debug_exit:t. Throws CollectError.
NanosManifest lattice_manifest(const LatticeImageOptions& options);

}  // namespace ukrun::runner::nanos
