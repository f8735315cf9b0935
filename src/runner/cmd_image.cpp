// `ukrun image`: build and list cached instance images (Nanos).
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "ukrun/runner/commands.hpp"
#include "ukrun/runner/image.hpp"
#include "ukrun/runner/job.hpp"
#include "ukrun/runner/libcollect.hpp"

namespace ukrun::runner {
namespace {

namespace po = boost::program_options;
namespace fs = std::filesystem;
using namespace nanos;

fs::path this_exe() {
    std::error_code ec;
    return fs::read_symlink("/proc/self/exe", ec);
}

int image_build(const Args& args) {
    std::string backend = "nanos", nanos_dir, cache, gauge, lattice, compat;
    po::options_description options("ukrun image build");
    options.add_options()("help,h", "this help")(
        "backend", po::value(&backend)->default_value("nanos"), "image kind (only nanos)")(
        "nanos-dir", po::value(&nanos_dir), "Nanos kernel.img, boot.img, mkfs directory")(
        "cache", po::value(&cache), "image cache (default ~/.cache/ukrun/images)")(
        "gauge", po::value(&gauge), "gauge file to include at the same path")(
        "lattice", po::value(&lattice), "ukrun-lattice to package (default: beside ukrun)")(
        "compat", po::value(&compat), "compat library (default: beside ukrun or installed)");
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(args).options(options).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        std::fprintf(stderr, "ukrun image build: %s\n", e.what());
        return kExitUsage;
    }
    if (vm.count("help")) {
        std::cout << options;
        return kExitOk;
    }
    if (backend != "nanos") {
        std::fprintf(stderr, "ukrun image build: backend '%s' has no image; use --backend nanos\n",
                     backend.c_str());
        return kExitUsage;
    }

    NanosInstall install;
    try {
        install = find_nanos(nanos_search_from_env(
            nanos_dir.empty() ? std::nullopt : std::optional<fs::path>(nanos_dir)));
    } catch (const NanosNotFound& e) {
        std::fprintf(stderr, "ukrun image build: %s\n", e.what());
        return kExitUnavailable;
    }
    LatticeImageOptions image;
    image.lattice =
        lattice.empty() ? fs::path(find_lattice_binary(this_exe().string())) : fs::path(lattice);
    image.compat_library = compat.empty() ? find_compat_library() : fs::path(compat);
    image.gauge = gauge;
    if (image.lattice.empty() || !fs::exists(image.lattice)) {
        std::fprintf(stderr, "ukrun image build: ukrun-lattice not found; pass --lattice PATH\n");
        return kExitUnavailable;
    }
    if (image.compat_library.empty())
        std::fprintf(stderr,
                     "ukrun image build: warning: no libukrun-nanos-compat.so found "
                     "(--compat PATH); Open MPI hangs on kernels with the readv bug\n");

    try {
        const NanosManifest manifest = lattice_manifest(image);
        if (install.mkfs.empty()) {
            std::fprintf(stderr, "ukrun image build: %s has no mkfs; with ops installed run: %s\n",
                         install.dir.c_str(), "ops image create -c <config.json> -i ukrun");
            std::cout << ops_config(manifest, install, 512, 1).dump(2) << "\n";
            return kExitUnavailable;
        }
        const BuiltImage built = cached_image(
            manifest, install, cache.empty() ? default_image_cache() : fs::path(cache));
        std::printf("%s %s (%zu files, %.1f MB, %s in %.0f ms)\n", built.hash.c_str(),
                    built.image.c_str(), manifest.files.size(), built.bytes / 1e6,
                    built.reused ? "reused" : "built", built.build_ms);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ukrun image build: %s\n", e.what());
        return kExitUnavailable;
    }
    return kExitOk;
}

int image_list(const Args& args) {
    fs::path cache = default_image_cache();
    if (args.size() == 2 && args[0] == "--cache") {
        cache = args[1];
    } else if (!args.empty()) {
        const bool help = args[0] == "--help" || args[0] == "-h";
        std::fprintf(help ? stdout : stderr,
                     "usage: ukrun image list [--cache DIR]\n\nLists the cached Nanos images "
                     "(default cache %s).\n",
                     cache.c_str());
        return help ? kExitOk : kExitUsage;
    }
    std::error_code ec;
    int count = 0;
    for (const auto& entry : fs::directory_iterator(cache, ec)) {
        const fs::path image = entry.path() / "nanos.img";
        if (!fs::is_regular_file(image, ec)) continue;
        std::printf("%s  %8.1f MB  %s\n", entry.path().filename().c_str(),
                    fs::file_size(image, ec) / 1e6, image.c_str());
        ++count;
    }
    if (count == 0) std::printf("no images in %s\n", cache.c_str());
    return kExitOk;
}

}  // namespace

int cmd_image(const Args& args) {
    if (!args.empty() && args[0] == "build") return image_build(Args(args.begin() + 1, args.end()));
    if (!args.empty() && args[0] == "list") return image_list(Args(args.begin() + 1, args.end()));
    const bool help = !args.empty() && (args[0] == "--help" || args[0] == "-h");
    std::fprintf(help ? stdout : stderr,
                 "usage: ukrun image build --backend nanos [--nanos-dir DIR] [--cache DIR] "
                 "[--gauge FILE]\n       ukrun image list [--cache DIR]\n"
                 "(ukrun image build --help lists the build options)\n");
    return help ? kExitOk : kExitUsage;
}

}  // namespace ukrun::runner
