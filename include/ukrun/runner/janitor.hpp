// Nothing outlives a job: the job records each host object (link, named network namespace)
// in its directory's "owned" file before creating it, and a janitor process removes what is
// left when the coordinator dies by any means, SIGKILL included. Job directories whose
// coordinator and janitor both died are reaped by the next `ukrun run`.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ukrun/runner/backend.hpp"
#include "ukrun/runner/plan.hpp"

namespace ukrun::runner {

/// A process that cannot be confused with a later one reusing its pid.
struct ProcessMark {
    pid_t pid = -1;
    unsigned long long start_ticks = 0;  ///< field 22 of /proc/PID/stat; 0 when unknown
};

/// The mark of running process `pid`; start_ticks is 0 when it does not run.
ProcessMark process_mark(pid_t pid);

/// True when the process `mark` names still runs (same pid and start time).
bool is_running(const ProcessMark& mark);

/// A host object a job creates: kind "link" (bridge, veth, tap) or "netns" (/run/netns/NAME).
struct OwnedObject {
    std::string kind;
    std::string name;
    friend bool operator==(const OwnedObject&, const OwnedObject&) = default;
};

/// What a job directory's owned file says.
struct OwnedRecord {
    std::string job_id;
    ProcessMark coordinator;           ///< the `ukrun run` process
    ProcessMark janitor;               ///< its janitor; pid -1 before it started
    std::vector<OwnedObject> objects;  ///< in creation order
    bool done = false;                 ///< the coordinator cleaned up after itself
};

/// DIR/owned.
std::string owned_path(const std::string& job_dir);

/// Parses an owned file; unreadable files and malformed lines give an empty or partial
/// record (job_id empty when the file is not an owned file). Never throws.
OwnedRecord read_owned(const std::string& path);

/// The objects a backend's prepare() may create for `plan`: the bridge, each rank's host
/// interface and named namespace, in creation order. Empty for a plan without interfaces.
std::vector<OwnedObject> planned_objects(const JobPlan& plan);

/// Deletes the objects of `objects` that still exist, newest first, through `ops`; returns
/// them as "link NAME" / "netns NAME". Failures are skipped. Never throws.
std::vector<std::string> remove_owned(const std::vector<OwnedObject>& objects,
                                      NetworkOps& ops) noexcept;

/// Sends SIGKILL to every process (but this one) whose environment holds
/// UKRUN_JOB_ID=<job_id> and waits up to 2 s for them to go. Returns how many were signalled.
int kill_job_leftovers(const std::string& job_id);

/// Makes the host network operations used to clean up (tests pass a fake).
using NetworkOpsFactory = std::function<std::unique_ptr<NetworkOps>()>;

/// Kills the job's processes, removes its owned objects that still exist and its directory.
/// Returns what was removed. Never throws.
std::vector<std::string> clean_up_job(const std::string& job_dir, const OwnedRecord& record,
                                      const NetworkOpsFactory& make_ops) noexcept;

/// Cleans every PARENT/ukrun-*/ directory whose owned file is not done and whose coordinator
/// and janitor are both dead. Only directories and files owned by this user and writable by
/// no one else are trusted. Returns one line per reaped job. Never throws.
std::vector<std::string> reap_stale_jobs(const std::string& parent,
                                         const NetworkOpsFactory& make_ops);

/// The coordinator's side of the janitor: a forked child in its own session that ignores
/// SIGINT, SIGTERM and SIGHUP and waits on a socket only the coordinator holds. At EOF without
/// "done" it runs clean_up_job on the job directory and exits.
class Janitor {
  public:
    /// Writes the owned file's header in `job_dir` and starts the janitor. Throws
    /// std::system_error naming the step that failed.
    Janitor(const std::string& job_dir, const std::string& job_id,
            NetworkOpsFactory make_ops = make_host_network_ops);
    /// finish().
    ~Janitor();
    Janitor(const Janitor&) = delete;
    Janitor& operator=(const Janitor&) = delete;

    /// Appends `objects` to the owned file and syncs it, before they are created. Throws
    /// std::system_error when the file cannot be written (then do not create them).
    void own(const std::vector<OwnedObject>& objects);

    /// Marks the job done (it cleaned up itself) and lets the janitor exit untouched; waits up
    /// to 2 s for it. Safe to call twice; never throws.
    void finish() noexcept;

    /// The janitor's pid (-1 after finish).
    pid_t pid() const { return pid_; }

  private:
    std::string job_dir_;
    int write_fd_ = -1;
    pid_t pid_ = -1;
};

}  // namespace ukrun::runner
