// The process backend: each rank is a plain host process (the baseline and the default).
#include <signal.h>

#include <stdexcept>

#include "ukrun/runner/backend.hpp"

namespace ukrun::runner {

namespace {

/// Ranks as host processes: no network to prepare, Open MPI's own defaults.
class ProcessBackend final : public Backend {
  public:
    std::string name() const override { return "process"; }
    bool isolated() const override { return false; }
    void prepare(const JobPlan&) override {}
    void cleanup() noexcept override {}

    std::vector<std::pair<std::string, std::string>> launcher_environment(
        const JobPlan&) const override {
        return {};
    }

    std::vector<std::string> launcher_mca(const JobPlan&) const override { return {}; }

    void rank_environment(const JobPlan&, std::vector<std::string>&) const override {}

    Child launch_rank(const JobPlan&, const RankPlan&, const std::vector<std::string>& argv,
                      const std::vector<std::string>& env) override {
        return spawn({.argv = argv,
                      .env = env,
                      .new_process_group = false,
                      .capture_output = true,
                      .death_signal = SIGKILL,
                      .in_child = {}});
    }
};

}  // namespace

std::vector<std::string> backend_names() {
    return {"process", "netns", "nanos"};
}

std::unique_ptr<Backend> make_backend(const std::string& name) {
    return make_backend(name, BackendOptions{});
}

std::unique_ptr<Backend> make_backend(const std::string& name, const BackendOptions& options) {
    if (name == "nanos") return make_nanos_backend(make_host_network_ops(), options);
    if (name == "process") return std::make_unique<ProcessBackend>();
    if (name == "netns") return make_netns_backend(make_host_network_ops());
    std::string known;
    for (const auto& n : backend_names()) known += (known.empty() ? "" : ", ") + n;
    throw std::invalid_argument("unknown backend '" + name + "'; choose one of: " + known);
}

}  // namespace ukrun::runner
