// `ukrun validate --live`: checks a topology on this host with throwaway namespaces, a test
// bridge and veth pairs, and full-MTU pings with DF set; removes everything it made.
#pragma once

#include <string>
#include <vector>

#include "ukrun/runner/netlink.hpp"
#include "ukrun/runner/topology.hpp"

namespace ukrun::runner {

/// The outcome of one live check; `text` says what was checked and, on failure, the fix.
struct LiveResult {
    bool ok = false;
    int line = 0;  ///< topology line the check concerns (0: none)
    std::string text;
};

/// Every live check's outcome, in the order run.
struct LiveReport {
    std::vector<LiveResult> results;
    bool interrupted = false;  ///< SIGINT or SIGTERM arrived; the checks stopped early
    bool all_ok() const;
};

/// Runs the live checks for `topology` (root only): no other interface on this host has an
/// address overlapping the subnet; the bridge exists with the gateway on it, or one with the
/// MTU can be created; in three new anonymous namespaces (a bridge holding the gateway and two
/// instances on veth pairs) ICMP echoes of MTU - 28 bytes with DF set cross between every pair
/// and to the gateway. The checks run in a child process; the parent removes the host test
/// bridge on every path (the namespaces vanish with the child), also on SIGINT and SIGTERM,
/// which it forwards to the child. Throws std::runtime_error when the child cannot start.
LiveReport run_live_checks(const Topology& topology);

/// Sends one ICMP echo request with `payload` bytes and DF set from inside `netns` to `to`
/// and waits up to `timeout_ms` for the reply. Returns an empty string on success, else what
/// failed (e.g. "no reply within 1000 ms" or "message too long").
std::string ping_df(const NetnsFd& netns, Ipv4 to, int payload, int timeout_ms);

/// Whether two networks share any address.
bool overlaps(const Cidr& a, const Cidr& b);

}  // namespace ukrun::runner
