// Library collection: ELF dynamic sections read directly (no loader executed), resolved the
// way ld.so resolves them, plus the Open MPI / PMIx files opened by name.
#include "ukrun/runner/libcollect.hpp"

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

namespace ukrun::runner {
namespace {

std::string read_all(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw CollectError("cannot read " + file.string());
    std::ostringstream data;
    data << in.rdbuf();
    return data.str();
}

template <typename T>
T read_at(const std::string& data, std::uint64_t offset, const fs::path& file) {
    if (offset + sizeof(T) > data.size())
        throw CollectError(file.string() + ": truncated ELF (offset " + std::to_string(offset) +
                           ")");
    T value;
    std::memcpy(&value, data.data() + offset, sizeof(T));
    return value;
}

/// The file offset of virtual address `vaddr` through the PT_LOAD segments.
std::uint64_t vaddr_to_offset(const std::vector<Elf64_Phdr>& loads, std::uint64_t vaddr,
                              const fs::path& file) {
    for (const auto& ph : loads)
        if (vaddr >= ph.p_vaddr && vaddr < ph.p_vaddr + ph.p_filesz)
            return vaddr - ph.p_vaddr + ph.p_offset;
    throw CollectError(file.string() + ": dynamic string table outside any segment");
}

std::vector<std::string> split(const std::string& text, char sep) {
    std::vector<std::string> parts;
    std::stringstream in(text);
    for (std::string part; std::getline(in, part, sep);)
        if (!part.empty()) parts.push_back(part);
    return parts;
}

void read_ld_conf(const fs::path& conf, std::vector<fs::path>& dirs, int depth) {
    std::ifstream in(conf);
    if (!in || depth > 8) return;
    for (std::string line; std::getline(in, line);) {
        if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
        std::stringstream words(line);
        std::string word;
        if (!(words >> word)) continue;
        if (word != "include") {
            dirs.emplace_back(word);
            continue;
        }
        std::string pattern;
        words >> pattern;
        // Only the "DIR/*.conf" form that Debian and most distributions use.
        const fs::path dir = fs::path(pattern).parent_path();
        std::vector<fs::path> confs;
        std::error_code ec;
        for (const auto& entry : fs::directory_iterator(conf.parent_path() / dir, ec))
            if (entry.path().extension() == ".conf") confs.push_back(entry.path());
        std::sort(confs.begin(), confs.end());
        for (const auto& c : confs) read_ld_conf(c, dirs, depth + 1);
    }
}

std::string expand_origin(const std::string& entry, const fs::path& origin) {
    std::string out = entry;
    for (const char* token : {"$ORIGIN", "${ORIGIN}"}) {
        for (auto pos = out.find(token); pos != std::string::npos; pos = out.find(token))
            out.replace(pos, std::strlen(token), origin.string());
    }
    return out;
}

bool is_elf(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    char magic[4] = {};
    in.read(magic, 4);
    return in && std::memcmp(magic, ELFMAG, SELFMAG) == 0;
}

void add_file(FileSet& files, const fs::path& guest) {
    std::error_code ec;
    files.emplace(guest.lexically_normal().string(),
                  fs::canonical(guest, ec).empty() ? guest : fs::canonical(guest, ec));
}

/// The first directory in `search` holding `soname`, else empty.
fs::path find_in(const std::vector<fs::path>& search, const std::string& soname) {
    std::error_code ec;
    for (const auto& dir : search)
        if (fs::is_regular_file(dir / soname, ec) && is_elf(dir / soname)) return dir / soname;
    return {};
}

/// Adds `file` and its closure unless it is already in `files` (whose members always come
/// with their closure, so every library is read once per collection).
void add_closure(FileSet& files, const fs::path& file, const std::vector<fs::path>& dirs) {
    if (files.count(file.lexically_normal().string())) return;
    add_file(files, file);

    const ElfInfo info = read_elf(file);
    if (!info.interpreter.empty()) add_closure(files, info.interpreter, dirs);

    const fs::path origin = fs::canonical(file).parent_path();
    std::vector<fs::path> search;
    if (info.runpath.empty())
        for (const auto& entry : info.rpath) search.emplace_back(expand_origin(entry, origin));
    for (const auto& entry : info.runpath) search.emplace_back(expand_origin(entry, origin));
    search.insert(search.end(), dirs.begin(), dirs.end());

    for (const auto& soname : info.needed) {
        const fs::path lib =
            soname.find('/') != std::string::npos ? fs::path(soname) : find_in(search, soname);
        if (lib.empty()) {
            std::string where;
            for (const auto& dir : search) where += " " + dir.string();
            throw CollectError(file.string() + " needs " + soname + ", found in none of:" + where +
                               " (install it or add its directory to ld.so.conf)");
        }
        add_closure(files, lib, dirs);
    }
}

}  // namespace

ElfInfo read_elf(const fs::path& file) {
    const std::string data = read_all(file);
    if (data.size() < sizeof(Elf64_Ehdr) || std::memcmp(data.data(), ELFMAG, SELFMAG) != 0)
        throw CollectError(file.string() + " is not an ELF file");
    const auto eh = read_at<Elf64_Ehdr>(data, 0, file);
    if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB)
        throw CollectError(file.string() + " is not a 64-bit little-endian ELF file");

    ElfInfo info;
    std::vector<Elf64_Phdr> loads;
    std::optional<Elf64_Phdr> dynamic;
    for (int i = 0; i < eh.e_phnum; ++i) {
        const auto ph =
            read_at<Elf64_Phdr>(data, eh.e_phoff + std::uint64_t(i) * eh.e_phentsize, file);
        if (ph.p_type == PT_LOAD) loads.push_back(ph);
        if (ph.p_type == PT_DYNAMIC) dynamic = ph;
        if (ph.p_type == PT_INTERP && ph.p_offset + ph.p_filesz <= data.size())
            info.interpreter = std::string(data.c_str() + ph.p_offset);
    }
    if (!dynamic) return info;  // static

    std::uint64_t strtab = 0;
    std::vector<std::pair<std::int64_t, std::uint64_t>> string_entries;
    for (std::uint64_t off = dynamic->p_offset;
         off + sizeof(Elf64_Dyn) <= dynamic->p_offset + dynamic->p_filesz;
         off += sizeof(Elf64_Dyn)) {
        const auto dyn = read_at<Elf64_Dyn>(data, off, file);
        if (dyn.d_tag == DT_NULL) break;
        if (dyn.d_tag == DT_STRTAB) strtab = dyn.d_un.d_ptr;
        if (dyn.d_tag == DT_NEEDED || dyn.d_tag == DT_RPATH || dyn.d_tag == DT_RUNPATH)
            string_entries.emplace_back(dyn.d_tag, dyn.d_un.d_val);
    }
    if (string_entries.empty()) return info;

    const std::uint64_t strtab_off = vaddr_to_offset(loads, strtab, file);
    for (const auto& [tag, index] : string_entries) {
        if (strtab_off + index >= data.size())
            throw CollectError(file.string() + ": dynamic string out of range");
        const std::string value(data.c_str() + strtab_off + index);
        if (tag == DT_NEEDED) info.needed.push_back(value);
        if (tag == DT_RPATH) info.rpath = split(value, ':');
        if (tag == DT_RUNPATH) info.runpath = split(value, ':');
    }
    return info;
}

std::vector<fs::path> system_library_dirs(const fs::path& ld_so_conf) {
    std::vector<fs::path> dirs;
    read_ld_conf(ld_so_conf, dirs, 0);
    for (const char* dir : {"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64",
                            "/usr/lib64", "/lib", "/usr/lib"})
        dirs.emplace_back(dir);
    return dirs;
}

void add_elf_closure(FileSet& files, const fs::path& file, const std::vector<fs::path>& dirs) {
    add_closure(files, file, dirs);
}

MpiRuntimeLayout discover_mpi_layout(const fs::path& libmpi, const std::vector<fs::path>& dirs) {
    MpiRuntimeLayout layout;
    std::error_code ec;
    const fs::path libdir = libmpi.parent_path();
    for (const auto& candidate : {libdir / "openmpi" / "lib" / "openmpi3",
                                  libdir / "openmpi" / "lib" / "openmpi", libdir / "openmpi"}) {
        if (fs::is_directory(candidate, ec) && !fs::is_directory(candidate / "lib", ec)) {
            layout.plugin_dirs.push_back(candidate);
            break;
        }
    }

    // PMIx: the library the components link (ext3x/pmix3x), its pmix/ plugin directory and
    // its share/pmix help texts.
    FileSet closure;
    for (const auto& plugin_dir : layout.plugin_dirs)
        for (const auto& entry : fs::directory_iterator(plugin_dir, ec))
            if (entry.path().extension() == ".so") add_elf_closure(closure, entry.path(), dirs);
    std::set<fs::path> pmix_dirs;
    for (const auto& [guest, host] : closure)
        if (fs::path(guest).filename().string().rfind("libpmix.so", 0) == 0)
            pmix_dirs.insert(host.parent_path());
    for (const auto& dir : pmix_dirs) {
        if (fs::is_directory(dir / "pmix", ec)) layout.plugin_dirs.push_back(dir / "pmix");
        if (fs::is_directory(dir.parent_path() / "share" / "pmix", ec))
            layout.data_paths.push_back(dir.parent_path() / "share" / "pmix");
    }

    const fs::path prefix = libdir.parent_path().parent_path() == "/"
                                ? fs::path("/usr")
                                : libdir.parent_path().parent_path();
    for (const auto& candidate :
         {prefix / "share" / "openmpi", fs::path("/usr/share/openmpi"), fs::path("/etc/openmpi"),
          fs::path("/etc/pmix-mca-params.conf")}) {
        if (fs::exists(candidate, ec) &&
            std::find(layout.data_paths.begin(), layout.data_paths.end(), candidate) ==
                layout.data_paths.end())
            layout.data_paths.push_back(candidate);
    }
    return layout;
}

void add_mpi_runtime(FileSet& files, const MpiRuntimeLayout& layout,
                     const std::vector<fs::path>& dirs) {
    std::error_code ec;
    for (const auto& plugin_dir : layout.plugin_dirs)
        for (const auto& entry : fs::directory_iterator(plugin_dir, ec))
            if (entry.path().extension() == ".so") add_elf_closure(files, entry.path(), dirs);

    for (const auto& data : layout.data_paths) {
        if (fs::is_regular_file(data, ec)) {
            add_file(files, data);
            continue;
        }
        for (const auto& entry : fs::recursive_directory_iterator(data, ec))
            if (entry.is_regular_file(ec)) add_file(files, entry.path());
    }
}

FileSet collect_runtime_files(const fs::path& program, const std::vector<fs::path>& extra) {
    const auto dirs = system_library_dirs();
    FileSet files;
    add_elf_closure(files, program, dirs);

    for (const auto& [guest, host] : FileSet(files)) {
        if (fs::path(guest).filename().string().rfind("libmpi.so", 0) == 0) {
            add_mpi_runtime(files, discover_mpi_layout(host, dirs), dirs);
            break;
        }
    }
    std::error_code ec;
    if (fs::is_regular_file("/etc/ld.so.cache", ec)) add_file(files, "/etc/ld.so.cache");
    for (const auto& file : extra) {
        if (!fs::is_regular_file(file, ec))
            throw CollectError("extra image file " + file.string() + " does not exist");
        add_file(files, fs::absolute(file));
    }
    return files;
}

}  // namespace ukrun::runner
