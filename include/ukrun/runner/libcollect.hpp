// Collecting the files a dynamically linked program needs at run time, for an image that has
// no package manager: the ELF interpreter and DT_NEEDED closure, and the Open MPI and PMIx
// components and data files that are opened by name rather than linked.
#pragma once

#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace ukrun::runner {

namespace fs = std::filesystem;

/// Guest path -> host file whose contents go there. Guest paths are the paths the loader or
/// the program opens (a library's soname path, not its versioned real file).
using FileSet = std::map<std::string, fs::path>;

/// The dynamic-linking facts of one ELF file.
struct ElfInfo {
    std::string interpreter;           ///< PT_INTERP, empty for static or shared objects
    std::vector<std::string> needed;   ///< DT_NEEDED sonames, in order
    std::vector<std::string> rpath;    ///< DT_RPATH entries ($ORIGIN not expanded)
    std::vector<std::string> runpath;  ///< DT_RUNPATH entries ($ORIGIN not expanded)
};

/// Thrown when a file is not a readable 64-bit ELF or a needed library cannot be found; the
/// message names the file (and the library and the directories searched).
struct CollectError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Reads the dynamic section of a 64-bit little-endian ELF file. Throws CollectError.
ElfInfo read_elf(const fs::path& file);

/// The loader's default directories: /etc/ld.so.conf (with its includes) then the built-in
/// /lib64, /usr/lib64, /lib, /usr/lib and the multiarch directories. Missing files are fine.
std::vector<fs::path> system_library_dirs(const fs::path& ld_so_conf = "/etc/ld.so.conf");

/// Adds `file` and, recursively, its interpreter and every DT_NEEDED library found the way
/// ld.so finds them (RPATH, then RUNPATH, then `dirs`). Throws CollectError for a library
/// that is nowhere.
void add_elf_closure(FileSet& files, const fs::path& file, const std::vector<fs::path>& dirs);

/// Where an Open MPI installation keeps what it opens at run time.
struct MpiRuntimeLayout {
    std::vector<fs::path> plugin_dirs;  ///< component directories (every *.so is loaded)
    std::vector<fs::path> data_paths;   ///< help texts and MCA parameter files or dirs
};

/// The layout of the Open MPI whose libmpi is `libmpi` (a path from the program's closure):
/// openmpi/ (or openmpi/lib/openmpi3) beside it, pmix/ beside the libpmix the components
/// link, <prefix>/share/{openmpi,pmix}, /etc/openmpi and /etc/pmix-mca-params.conf where
/// they exist.
MpiRuntimeLayout discover_mpi_layout(const fs::path& libmpi, const std::vector<fs::path>& dirs);

/// Adds every component of `layout` with its DT_NEEDED closure and every data file.
void add_mpi_runtime(FileSet& files, const MpiRuntimeLayout& layout,
                     const std::vector<fs::path>& dirs);

/// The whole run-time file set of `program`: its closure, the MPI runtime when it links
/// libmpi, /etc/ld.so.cache, and `extra` files (guest path = host path). Throws CollectError.
FileSet collect_runtime_files(const fs::path& program, const std::vector<fs::path>& extra = {});

}  // namespace ukrun::runner
