// The subnet of a job on the built-in topology: a /24 inside 10.213.0.0/16 picked from the
// job id, skipping subnets already used on this host, so concurrent jobs do not collide.
#pragma once

#include <functional>
#include <string>

#include "ukrun/runner/topology.hpp"

namespace ukrun::runner {

/// The range the built-in topology's job subnets come from.
inline constexpr const char* kDefaultSubnetRange = "10.213.0.0/16";

/// The /24 in kDefaultSubnetRange whose third octet is a hash of `job_id` (mod 256), or the
/// next one (wrapping) for which `in_use` is false. Throws std::runtime_error naming the
/// range when all 256 are in use.
Cidr choose_job_subnet(const std::string& job_id, const std::function<bool(const Cidr&)>& in_use);

/// choose_job_subnet with `in_use` true when a host interface holds an address in the
/// subnet (NetworkOps::subnet_users on this host). Throws std::runtime_error.
Cidr free_job_subnet(const std::string& job_id);

}  // namespace ukrun::runner
