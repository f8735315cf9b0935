// The janitor: owned-object records in the job directory, the forked process that cleans up
// after a dead coordinator, and the reaping of stale job directories.
#include "ukrun/runner/janitor.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <thread>

#include "ukrun/runner/netlink.hpp"

namespace ukrun::runner {

namespace fs = std::filesystem;

namespace {

/// The whole text of a file, or empty when it cannot be read.
std::string slurp(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

/// Throws std::system_error for a failed call `what` when `result` is negative.
void check_call(long result, const std::string& what) {
    if (result < 0) throw std::system_error(errno, std::generic_category(), what);
}

/// Appends `text` to `path` in one write; creates the file only when `create`. Returns false
/// when it cannot.
bool append_text(const std::string& path, const std::string& text, bool create) {
    const int fd =
        ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
    if (fd < 0) return false;
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    return ok;
}

/// "coordinator PID TICKS" style line.
std::string mark_line(const char* role, const ProcessMark& mark) {
    return std::string(role) + " " + std::to_string(mark.pid) + " " +
           std::to_string(mark.start_ticks) + "\n";
}

/// A name safe to pass to `ip netns del` or a link deletion.
bool safe_name(const OwnedObject& object) {
    if (object.kind == "link") return interface_name_problem(object.name).empty();
    return object.kind == "netns" && !object.name.empty() && object.name != "." &&
           object.name != ".." && object.name.find('/') == std::string::npos;
}

/// Job ids are [a-z0-9]+: anything else in an owned file is not trusted.
bool safe_job_id(const std::string& id) {
    return !id.empty() &&
           id.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789") == std::string::npos;
}

/// True when `path` is owned by this user and writable by no one else (not a symlink).
bool trusted(const fs::path& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0 && !S_ISLNK(st.st_mode) && st.st_uid == ::geteuid() &&
           (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

/// The janitor's life after fork: waits for "done" or EOF, cleans up on EOF. Never returns.
[[noreturn]] void janitor_main(int read_fd, const std::string& job_dir,
                               const NetworkOpsFactory& make_ops) {
    ::setsid();
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE}) ::signal(sig, SIG_IGN);
    ::signal(SIGCHLD, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    const int null_fd = ::open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
        ::dup2(null_fd, STDIN_FILENO);
        ::dup2(null_fd, STDOUT_FILENO);
    }
    // Keep only stdio and the socket: the coordinator's other descriptors (launcher pipes,
    // signalfd) must not be held open by the janitor.
    for (int fd = 3; fd < 1024; ++fd)
        if (fd != read_fd) ::close(fd);

    std::string said;
    char buffer[64];
    for (;;) {
        const ssize_t n = ::read(read_fd, buffer, sizeof buffer);
        if (n > 0) {
            said.append(buffer, static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        break;
    }
    if (said.find('d') != std::string::npos) ::_exit(0);

    const OwnedRecord record = read_owned(owned_path(job_dir));
    const auto removed = clean_up_job(job_dir, record, make_ops);
    std::string text;
    for (const auto& r : removed) text += (text.empty() ? "" : ", ") + r;
    std::fprintf(stderr, "ukrun janitor: the coordinator of job %s died; removed %s\n",
                 record.job_id.c_str(), text.empty() ? "nothing (none was left)" : text.c_str());
    std::fflush(stderr);
    ::_exit(0);
}

}  // namespace

ProcessMark process_mark(pid_t pid) {
    ProcessMark mark{pid, 0};
    const std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
    const auto paren = stat.rfind(')');
    if (paren == std::string::npos) return mark;
    std::istringstream fields(stat.substr(paren + 2));
    std::string field;
    // After "(comm) ": state is field 3, starttime field 22.
    for (int i = 3; i <= 22 && fields >> field; ++i)
        if (i == 22) mark.start_ticks = std::stoull(field);
    if (!stat.empty() && stat.find(") Z") == paren) mark.start_ticks = 0;  // a zombie is dead
    return mark;
}

bool is_running(const ProcessMark& mark) {
    if (mark.pid <= 0 || mark.start_ticks == 0) return false;
    return process_mark(mark.pid).start_ticks == mark.start_ticks;
}

std::string owned_path(const std::string& job_dir) {
    return (fs::path(job_dir) / "owned").string();
}

OwnedRecord read_owned(const std::string& path) {
    OwnedRecord record;
    std::istringstream in(slurp(path));
    for (std::string line; std::getline(in, line);) {
        std::istringstream words(line);
        std::string key, first;
        unsigned long long ticks = 0;
        words >> key >> first;
        if (key == "done") record.done = true;
        if (first.empty()) continue;
        if (key == "job" && safe_job_id(first)) record.job_id = first;
        if ((key == "coordinator" || key == "janitor") && (words >> ticks)) {
            const ProcessMark mark{static_cast<pid_t>(std::atoi(first.c_str())), ticks};
            (key == "coordinator" ? record.coordinator : record.janitor) = mark;
        }
        if (const OwnedObject object{key, first}; safe_name(object))
            record.objects.push_back(object);
    }
    return record;
}

std::vector<OwnedObject> planned_objects(const JobPlan& plan) {
    std::vector<OwnedObject> objects;
    for (const auto& rank : plan.rank_plans) {
        if (objects.empty() && (!rank.host_if.empty() || !rank.netns.empty()) &&
            !plan.bridge.empty())
            objects.push_back({"link", plan.bridge});
        if (!rank.netns.empty()) objects.push_back({"netns", rank.netns});
        if (!rank.host_if.empty()) objects.push_back({"link", rank.host_if});
    }
    return objects;
}

std::vector<std::string> remove_owned(const std::vector<OwnedObject>& objects,
                                      NetworkOps& ops) noexcept {
    std::vector<std::string> removed;
    for (auto it = objects.rbegin(); it != objects.rend(); ++it) {
        try {
            if (it->kind == "link" && ops.link_exists(it->name)) {
                ops.remove_link(it->name);
                removed.push_back("link " + it->name);
            } else if (it->kind == "netns" && ops.netns_exists(it->name)) {
                ops.remove_netns(it->name);
                removed.push_back("netns " + it->name);
            }
        } catch (...) {
            // Best effort: the next object may still go.
        }
    }
    return removed;
}

int kill_job_leftovers(const std::string& job_id) {
    const std::string needle = "UKRUN_JOB_ID=" + job_id;
    std::vector<pid_t> found;
    std::error_code ec;
    for (const auto& entry :
         fs::directory_iterator("/proc", fs::directory_options::skip_permission_denied, ec)) {
        const std::string name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        const pid_t pid = std::stoi(name);
        if (pid == ::getpid()) continue;
        const std::string env = slurp(entry.path() / "environ");
        for (size_t pos = 0, next = 0; pos < env.size(); pos = next + 1) {
            next = env.find('\0', pos);
            if (next == std::string::npos) next = env.size();
            if (env.compare(pos, next - pos, needle) == 0) {
                found.push_back(pid);
                break;
            }
        }
    }
    for (pid_t pid : found) ::kill(pid, SIGKILL);
    for (int i = 0; i < 20; ++i) {
        bool alive = false;
        for (pid_t pid : found) alive = alive || is_running(process_mark(pid));
        if (!alive) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return static_cast<int>(found.size());
}

std::vector<std::string> clean_up_job(const std::string& job_dir, const OwnedRecord& record,
                                      const NetworkOpsFactory& make_ops) noexcept {
    std::vector<std::string> removed;
    try {
        if (safe_job_id(record.job_id)) {
            if (const int killed = kill_job_leftovers(record.job_id))
                removed.push_back(std::to_string(killed) + " process(es)");
        }
        if (!record.objects.empty()) {
            const auto ops = make_ops();
            for (auto& r : remove_owned(record.objects, *ops)) removed.push_back(std::move(r));
        }
    } catch (...) {
        // The network operations could not start: the directory is still removed below.
    }
    std::error_code ec;
    fs::remove_all(job_dir, ec);
    return removed;
}

std::vector<std::string> reap_stale_jobs(const std::string& parent,
                                         const NetworkOpsFactory& make_ops) {
    std::vector<std::string> reaped;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(parent, ec)) {
        const std::string name = entry.path().filename().string();
        if (!name.starts_with("ukrun-")) continue;
        const fs::path owned = entry.path() / "owned";
        if (!trusted(entry.path()) || !trusted(owned)) continue;
        const OwnedRecord record = read_owned(owned.string());
        if (record.job_id.empty() || record.done || name != "ukrun-" + record.job_id) continue;
        if (is_running(record.coordinator) || is_running(record.janitor)) continue;
        const auto removed = clean_up_job(entry.path().string(), record, make_ops);
        std::string line = "reaped stale job " + record.job_id + " (coordinator pid " +
                           std::to_string(record.coordinator.pid) + " is gone)";
        for (size_t i = 0; i < removed.size(); ++i) line += (i ? ", " : ": removed ") + removed[i];
        reaped.push_back(line);
    }
    return reaped;
}

Janitor::Janitor(const std::string& job_dir, const std::string& job_id, NetworkOpsFactory make_ops)
    : job_dir_(job_dir) {
    const std::string path = owned_path(job_dir);
    if (!append_text(
            path, "job " + job_id + "\n" + mark_line("coordinator", process_mark(getpid())), true))
        throw std::system_error(errno, std::generic_category(), "write " + path);

    int fds[2];
    check_call(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds),
               "socket pair for the janitor");
    const pid_t pid = ::fork();
    if (pid < 0) {
        const int error = errno;
        ::close(fds[0]);
        ::close(fds[1]);
        throw std::system_error(error, std::generic_category(), "fork the janitor");
    }
    if (pid == 0) {
        ::close(fds[1]);
        janitor_main(fds[0], job_dir, make_ops);
    }
    ::close(fds[0]);
    write_fd_ = fds[1];
    pid_ = pid;
    append_text(path, mark_line("janitor", process_mark(pid)), false);
}

Janitor::~Janitor() {
    finish();
}

void Janitor::own(const std::vector<OwnedObject>& objects) {
    std::string text;
    for (const auto& o : objects) text += o.kind + " " + o.name + "\n";
    const std::string path = owned_path(job_dir_);
    if (!text.empty() && !append_text(path, text, false))
        throw std::system_error(errno, std::generic_category(), "record owned objects in " + path);
}

void Janitor::finish() noexcept {
    if (write_fd_ < 0) return;
    append_text(owned_path(job_dir_), "done\n", false);
    const char done = 'd';
    // A socket, not a pipe: a janitor that is already gone must not SIGPIPE the coordinator.
    [[maybe_unused]] const ssize_t n = ::send(write_fd_, &done, 1, MSG_NOSIGNAL);
    ::close(write_fd_);
    write_fd_ = -1;
    for (int i = 0; i < 200; ++i) {
        if (::waitpid(pid_, nullptr, WNOHANG) != 0) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = -1;
}

}  // namespace ukrun::runner
