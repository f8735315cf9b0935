// The ops config.json for users with ops but without Nanos's own mkfs.
#include "ukrun/runner/nanos.hpp"

namespace ukrun::runner::nanos {

nlohmann::json ops_config(const NanosManifest& manifest, const NanosInstall& kernel, int memory_mib,
                          int vcpus) {
    nlohmann::json config;
    config["Program"] = manifest.program;
    config["Args"] = manifest.arguments;
    config["Env"] = manifest.environment;
    config["TargetRoot"] = "/";

    // ops copies an absolute "Files" entry from the same path on the host, so that path must
    // lead to the same file (a soname symlink does); a file whose host source lives elsewhere
    // goes through MapDirs (host file -> guest directory), which keeps the host file's name.
    nlohmann::json files = nlohmann::json::array();
    nlohmann::json map_dirs = nlohmann::json::object();
    for (const auto& [guest, host] : manifest.files) {
        if (guest == manifest.program) continue;  // ops adds the program itself
        std::error_code ec;
        if (fs::path(guest) == host || fs::equivalent(guest, host, ec)) {
            files.push_back(guest);
        } else if (fs::path(guest).filename() == host.filename()) {
            map_dirs[host.string()] = fs::path(guest).parent_path().string();
        } else {
            throw std::invalid_argument("ops cannot place host file " + host.string() + " at " +
                                        guest + " (different name); use Nanos's mkfs");
        }
    }
    config["Files"] = files;
    if (!map_dirs.empty()) config["MapDirs"] = map_dirs;

    nlohmann::json run;
    run["Memory"] = std::to_string(memory_mib) + "M";
    run["CPUs"] = vcpus;
    if (manifest.network) {
        run["IPAddress"] = manifest.network->ipaddr;
        run["NetMask"] = manifest.network->netmask;
        run["Gateway"] = manifest.network->gateway;
    }
    config["RunConfig"] = run;
    if (!manifest.settings.empty()) config["ManifestPassthrough"] = manifest.settings;
    if (!kernel.kernel.empty()) config["Kernel"] = kernel.kernel.string();
    if (!kernel.boot.empty()) config["Boot"] = kernel.boot.string();
    if (!kernel.klibs.empty()) config["KlibDir"] = kernel.klibs.string();
    return config;
}

std::vector<std::string> ops_image_create_command(const fs::path& config, const std::string& name) {
    return {"ops", "image", "create", "-c", config.string(), "-i", name};
}

}  // namespace ukrun::runner::nanos
