// The job plan: rank -> instance -> node, address, MAC and interface names. Deterministic
// for a given topology, job id and rank count; written to the job directory for the shims.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "ukrun/runner/topology.hpp"

namespace ukrun::runner {

/// What one rank gets.
struct RankPlan {
    int rank = 0;
    std::string node;           ///< node name from the topology
    std::string instance;       ///< instance name, e.g. "uk3f2a-r1"
    Ipv4 address;               ///< the rank's address in the job subnet
    std::string mac;            ///< "52:54:00:..": unique per instance
    std::string host_if;        ///< host side: veth or tap name, at most 15 characters
    std::string guest_if;       ///< inside the instance (netns: veth peer name)
    std::string netns;          ///< network namespace name (netns backend), else empty
};

/// A whole job.
struct JobPlan {
    std::string job_id;         ///< short id, [a-z0-9], used in every interface name
    std::string backend;        ///< process, netns, container, vm, nanos
    int ranks = 0;
    NetworkConfig network;      ///< copied from the topology
    InstanceConfig instance;
    std::string bridge;         ///< the job's bridge (named from the job id when created)
    std::string job_dir;        ///< the job directory (set by ukrun run; empty in bare plans)
    std::vector<RankPlan> rank_plans;
};

/// Plans `ranks` instances of `backend` on `topology`. Throws TopologyError when they do not
/// fit (see check_capacity).
JobPlan make_plan(const Topology& topology, const std::string& backend, int ranks,
                  const std::string& job_id);

/// A new job id: short, lowercase, unlikely to collide with a running job.
std::string new_job_id();

void to_json(nlohmann::json& j, const JobPlan& plan);
void from_json(const nlohmann::json& j, JobPlan& plan);

}  // namespace ukrun::runner
