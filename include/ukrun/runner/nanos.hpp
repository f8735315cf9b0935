// Nanos unikernels: finding a kernel, writing manifests from typed values, decoding how a
// guest stopped, and the ops config for users who have ops but not Nanos's own mkfs.
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace ukrun::runner::nanos {

namespace fs = std::filesystem;

// ---- finding Nanos ----

/// A usable Nanos install: kernel.img and boot.img always, klibs and mkfs when present.
struct NanosInstall {
    fs::path dir;        ///< the directory everything was found in
    fs::path kernel;     ///< kernel.img
    fs::path boot;       ///< boot.img (the boot loader mkfs prepends)
    fs::path klibs;      ///< klibs/ or empty
    fs::path mkfs;       ///< Nanos's mkfs host tool or empty (then ops builds images)
    std::string source;  ///< how it was found: "--nanos-dir", "UKRUN_NANOS_DIR", "ops"
};

/// Where to look, in order: the command line, the environment, ops's ~/.ops/<version>/.
struct NanosSearch {
    std::optional<fs::path> nanos_dir;  ///< --nanos-dir
    std::optional<fs::path> env_dir;    ///< $UKRUN_NANOS_DIR
    std::optional<fs::path> home;       ///< $HOME (for ~/.ops)
};

/// Thrown when no Nanos kernel is found; the message lists every place looked at and how to
/// get Nanos.
struct NanosNotFound : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// The search with `nanos_dir` from the command line and the rest from the environment.
NanosSearch nanos_search_from_env(std::optional<fs::path> nanos_dir);

/// The first location holding kernel.img and boot.img. An explicit --nanos-dir or
/// UKRUN_NANOS_DIR that lacks them is an error (not skipped). Among ~/.ops/<version>/ the
/// highest version wins. Throws NanosNotFound.
NanosInstall find_nanos(const NanosSearch& search);

// ---- manifests ----

/// One value of Nanos's manifest syntax: a string, a vector `[...]` or a tuple `(k:v ...)`.
/// Tuples keep insertion order so the rendered text is deterministic.
struct ManifestValue {
    using Tuple = std::vector<std::pair<std::string, ManifestValue>>;
    using Vector = std::vector<ManifestValue>;
    std::variant<std::string, Vector, Tuple> value;

    /// The child of a tuple named `key`, created (as an empty tuple) when missing. Throws
    /// std::logic_error when this value is not a tuple.
    ManifestValue& child(const std::string& key);
};

/// Static network settings of the first NIC (en1). Without them Nanos asks DHCP.
struct NanosNetwork {
    std::string ipaddr;   ///< dotted IPv4
    std::string netmask;  ///< dotted IPv4
    std::string gateway;  ///< dotted IPv4
};

/// Everything one Nanos image holds, as typed values.
struct NanosManifest {
    std::map<std::string, fs::path> files;  ///< absolute guest path -> host file (contents)
    std::vector<std::string> directories;   ///< absolute guest paths of (empty) directories
    std::string program;                    ///< absolute guest path of the program
    std::vector<std::string> arguments;     ///< argv, argv[0] included
    std::map<std::string, std::string> environment;
    std::optional<NanosNetwork> network;
    std::map<std::string, std::string> settings;  ///< root settings, e.g. debug_exit -> t
};

/// The tuple tree mkfs reads. Throws std::invalid_argument for a relative guest path or a
/// missing program.
ManifestValue to_manifest_tree(const NanosManifest& manifest);

/// `text` as one manifest atom: bare when it holds only [A-Za-z0-9_.,+=@%/-] (and does not
/// start with '#'), else double-quoted with '"' and '\' escaped by a backslash.
std::string quote_atom(std::string_view text);

/// The manifest text of `tree` (one tuple per line level, two-space indent).
std::string render_manifest(const ManifestValue& tree);

// ---- guest exit status ----

/// How a Nanos guest run under QEMU with debug_exit:t and isa-debug-exit ended.
struct GuestExit {
    enum class Kind {
        program_exit,  ///< the program exited; `status` is its exit status
        qemu_failed,   ///< QEMU exited with an even code: it failed or the guest crashed
        killed,        ///< QEMU was killed by signal `status`
    };
    Kind kind = Kind::qemu_failed;
    int status = 0;
    /// One line for the operator, e.g. "guest program exited with status 3".
    std::string describe() const;
};

/// Decodes QEMU's exit code: odd n is the program's status (n-1)/2, even n (0 included)
/// means QEMU itself failed or the guest stopped without exiting.
GuestExit decode_guest_exit(int qemu_exit_code);

/// Decodes a waitpid() status of the QEMU process (exit code or killing signal).
GuestExit decode_guest_wait_status(int wait_status);

// ---- ops ----

/// An ops config.json for `ops image create -c FILE -i NAME` equivalent to `manifest`. Files
/// are mapped with MapDirs-free absolute "Files" entries relative to `/` (ops's TargetRoot
/// is "/"), the network in RunConfig, root settings in ManifestPassthrough. `kernel` may be
/// empty (ops then uses its own).
nlohmann::json ops_config(const NanosManifest& manifest, const NanosInstall& kernel, int memory_mib,
                          int vcpus);

/// The ops command line that builds image `name` from config file `config`.
std::vector<std::string> ops_image_create_command(const fs::path& config, const std::string& name);

}  // namespace ukrun::runner::nanos
