// Live topology checks in throwaway namespaces: the child process builds and probes, the
// parent cleans up the only host-side object (the test bridge) on every path.
#include "ukrun/runner/live_check.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "ukrun/runner/plan.hpp"

namespace ukrun::runner {

namespace {

std::uint16_t icmp_checksum(const std::uint8_t* data, std::size_t size) {
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i + 1 < size; i += 2) sum += (data[i] << 8) | data[i + 1];
    if (size % 2) sum += data[size - 1] << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

/// Sends one echo request on raw socket `fd` and waits for its reply; "" on success.
std::string echo_once(int fd, Ipv4 to, int payload, int timeout_ms, std::uint16_t id) {
    std::vector<std::uint8_t> packet(8 + static_cast<std::size_t>(payload));
    packet[0] = ICMP_ECHO;
    packet[4] = static_cast<std::uint8_t>(id >> 8);
    packet[5] = static_cast<std::uint8_t>(id);
    packet[7] = 1;  // sequence number
    for (std::size_t i = 8; i < packet.size(); ++i) packet[i] = static_cast<std::uint8_t>(i);
    const std::uint16_t sum = icmp_checksum(packet.data(), packet.size());
    packet[2] = static_cast<std::uint8_t>(sum >> 8);
    packet[3] = static_cast<std::uint8_t>(sum);

    sockaddr_in dest{};
    dest.sin_family = AF_INET;
    dest.sin_addr.s_addr = htonl(to.value);
    if (sendto(fd, packet.data(), packet.size(), 0, reinterpret_cast<sockaddr*>(&dest),
               sizeof dest) < 0) {
        return std::string("cannot send: ") + std::strerror(errno);
    }

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    std::vector<std::uint8_t> reply(packet.size() + 128);
    while (true) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd pfd{fd, POLLIN, 0};
        if (left.count() <= 0 || poll(&pfd, 1, static_cast<int>(left.count())) <= 0) {
            return "no reply within " + std::to_string(timeout_ms) + " ms";
        }
        const ssize_t n = recv(fd, reply.data(), reply.size(), 0);
        if (n < 20) continue;
        const std::size_t header = (reply[0] & 0x0f) * 4u;
        if (static_cast<std::size_t>(n) != header + packet.size()) continue;
        const std::uint8_t* icmp = reply.data() + header;
        if (icmp[0] == ICMP_ECHOREPLY && icmp[4] == packet[4] && icmp[5] == packet[5]) return {};
    }
}

/// A name made of the check's random id and a suffix, at most 15 characters.
std::string probe_name(const std::string& id, const std::string& suffix) {
    return "ukv" + id + suffix;
}

/// The child's side: builds the namespaces and runs every check, writing one line per result
/// ("1|line|text" or "0|line|text") to `out`.
class Prober {
  public:
    Prober(const Topology& t, std::string id, int out) : t_(t), id_(std::move(id)), out_(out) {}

    void run() {
        check_subnet_unused();
        check_bridge();
        check_datapath();
    }

  private:
    void report(bool ok, int line, const std::string& text) {
        const std::string record = (ok ? "1|" : "0|") + std::to_string(line) + "|" + text + "\n";
        if (write(out_, record.data(), record.size()) < 0) _exit(3);
    }

    /// No interface of this host may already hold an address overlapping the subnet, except
    /// the topology's own bridge holding the gateway.
    void check_subnet_unused() {
        const auto& net = t_.network;
        Netlink host;
        bool clean = true;
        for (const auto& a : host.ipv4_addresses()) {
            const Cidr other{Ipv4{a.address.value & Cidr{a.address, a.prefix}.netmask().value},
                             a.prefix};
            if (!overlaps(other, net.subnet)) continue;
            if (!net.bridge.empty() && a.link == net.bridge && a.address == net.gateway) continue;
            clean = false;
            report(false, net.subnet_line,
                   "interface " + a.link + " has " + to_string(a.address) + "/" +
                       std::to_string(a.prefix) + ", which overlaps the job subnet " +
                       to_string(net.subnet) +
                       "; choose another subnet or remove that address from " + a.link);
        }
        if (clean) {
            report(true, net.subnet_line,
                   "no interface on this host uses an address in " + to_string(net.subnet));
        }
    }

    /// The bridge named in the topology exists with the gateway, or a bridge can be created.
    void check_bridge() {
        const auto& net = t_.network;
        Netlink host;
        if (!net.bridge.empty() && host.link_exists(net.bridge)) {
            check_existing_bridge(host);
            return;
        }
        const std::string name = probe_name(id_, "");
        try {
            host.create_bridge(name, net.mtu);
            host.set_up(name);
            const int mtu = host.mtu(name);
            host.delete_link(name);
            report(mtu == net.mtu, net.line,
                   mtu == net.mtu
                       ? "a bridge with MTU " + std::to_string(mtu) + " can be created here"
                       : "a new bridge got MTU " + std::to_string(mtu) + " instead of " +
                             std::to_string(net.mtu) + "; lower network.mtu");
        } catch (const NetlinkError& e) {
            report(false, net.line,
                   std::string("cannot create a bridge: ") + e.what() +
                       "; load the bridge module (modprobe bridge) and run as root");
        }
    }

    void check_existing_bridge(Netlink& host) {
        const auto& net = t_.network;
        const std::string want = to_string(net.gateway) + "/" + std::to_string(net.subnet.prefix);
        bool has_gateway = false;
        for (const auto& a : host.ipv4_addresses()) {
            has_gateway = has_gateway || (a.link == net.bridge && a.address == net.gateway &&
                                          a.prefix == net.subnet.prefix);
        }
        report(has_gateway, net.line,
               has_gateway ? "bridge " + net.bridge + " exists with " + want
                           : "bridge " + net.bridge + " exists but does not carry " + want +
                                 "; add it (ip addr add " + want + " dev " + net.bridge +
                                 ") or delete the bridge");
        const int mtu = host.mtu(net.bridge);
        report(mtu >= net.mtu, net.line,
               mtu >= net.mtu ? "bridge " + net.bridge + " has MTU " + std::to_string(mtu)
                              : "bridge " + net.bridge + " has MTU " + std::to_string(mtu) +
                                    ", below network.mtu = " + std::to_string(net.mtu) +
                                    "; raise it (ip link set " + net.bridge + " mtu " +
                                    std::to_string(net.mtu) + ") or lower network.mtu");
    }

    /// Two instances and the gateway on a bridge, all inside new namespaces; full-MTU pings.
    void check_datapath() {
        const auto& net = t_.network;
        const auto addresses = instance_addresses(t_, 2);
        if (addresses.size() < 2) {
            report(false, net.subnet_line, "the pool has fewer than 2 addresses to probe with");
            return;
        }
        NetnsFd gw_ns = NetnsFd::create_anonymous();
        std::vector<NetnsFd> rank_ns;
        try {
            build_datapath(gw_ns, rank_ns, addresses);
        } catch (const NetlinkError& e) {
            report(false, net.line,
                   std::string("cannot build the test network: ") + e.what() +
                       "; check that veth and bridge links with network.mtu are allowed");
            return;
        }

        const int payload = net.mtu - 28;
        struct Probe {
            const NetnsFd* from;
            std::string from_name;
            Ipv4 to;
            std::string to_name;
        };
        const std::vector<Probe> probes = {
            {&rank_ns[0], "instance " + to_string(addresses[0]), addresses[1],
             "instance " + to_string(addresses[1])},
            {&rank_ns[1], "instance " + to_string(addresses[1]), addresses[0],
             "instance " + to_string(addresses[0])},
            {&rank_ns[0], "instance " + to_string(addresses[0]), net.gateway,
             "gateway " + to_string(net.gateway)},
            {&rank_ns[1], "instance " + to_string(addresses[1]), net.gateway,
             "gateway " + to_string(net.gateway)},
        };
        for (const auto& probe : probes) {
            std::string failure = ping_df(*probe.from, probe.to, payload, 1000);
            if (!failure.empty()) failure = ping_df(*probe.from, probe.to, payload, 2000);
            const std::string what = std::to_string(payload) + "-byte ping with DF from " +
                                     probe.from_name + " to " + probe.to_name;
            report(failure.empty(), net.line,
                   failure.empty() ? what + " (MTU " + std::to_string(net.mtu) + ") passed"
                                   : what + " failed: " + failure +
                                         "; lower network.mtu or check bridge filtering");
        }
    }

    void build_datapath(const NetnsFd& gw_ns, std::vector<NetnsFd>& rank_ns,
                        const std::vector<Ipv4>& addresses) {
        const auto& net = t_.network;
        Netlink gw(gw_ns);
        const std::string bridge = probe_name(id_, "b");
        gw.create_bridge(bridge, net.mtu);
        gw.set_address(bridge, net.gateway, net.subnet.prefix);
        gw.set_up(bridge);
        for (int i = 0; i < 2; ++i) {
            const std::string host_end = probe_name(id_, "h" + std::to_string(i));
            const std::string peer_end = probe_name(id_, "p" + std::to_string(i));
            rank_ns.push_back(NetnsFd::create_anonymous());
            gw.create_veth_pair(host_end, peer_end, net.mtu);
            gw.set_master(host_end, bridge);
            gw.set_up(host_end);
            gw.move_to_netns(peer_end, rank_ns.back());
            Netlink inner(rank_ns.back());
            inner.set_address(peer_end, addresses[i], net.subnet.prefix);
            inner.set_up(peer_end);
        }
    }

    const Topology& t_;
    std::string id_;
    int out_;
};

volatile std::sig_atomic_t g_child = 0;
volatile std::sig_atomic_t g_interrupted = 0;

void forward_signal(int) {
    g_interrupted = 1;
    if (g_child > 0) kill(static_cast<pid_t>(g_child), SIGTERM);
}

/// Parses the child's result records.
void parse_records(const std::string& text, LiveReport& report) {
    std::size_t start = 0;
    while (start < text.size()) {
        const std::size_t end = text.find('\n', start);
        if (end == std::string::npos) break;
        const std::string record = text.substr(start, end - start);
        start = end + 1;
        const std::size_t bar1 = record.find('|');
        const std::size_t bar2 = record.find('|', bar1 + 1);
        if (bar1 == std::string::npos || bar2 == std::string::npos) continue;
        report.results.push_back({record[0] == '1',
                                  std::atoi(record.substr(bar1 + 1, bar2 - bar1 - 1).c_str()),
                                  record.substr(bar2 + 1)});
    }
}

}  // namespace

bool LiveReport::all_ok() const {
    if (interrupted || results.empty()) return false;
    for (const auto& r : results)
        if (!r.ok) return false;
    return true;
}

bool overlaps(const Cidr& a, const Cidr& b) {
    return a.contains(b.network) || b.contains(a.network);
}

std::string ping_df(const NetnsFd& netns, Ipv4 to, int payload, int timeout_ms) {
    std::string result;
    std::thread thread([&] {
        if (setns(netns.fd(), CLONE_NEWNET) != 0) {
            result = std::string("cannot enter the namespace: ") + std::strerror(errno);
            return;
        }
        const int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
        if (fd < 0) {
            result = std::string("cannot open a raw ICMP socket: ") + std::strerror(errno);
            return;
        }
        const int pmtu = IP_PMTUDISC_DO;
        setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu);
        const auto id = static_cast<std::uint16_t>(getpid() ^ (to.value & 0xffff) ^ payload);
        result = echo_once(fd, to, payload, timeout_ms, id);
        close(fd);
    });
    thread.join();
    return result;
}

LiveReport run_live_checks(const Topology& topology) {
    const std::string id = new_job_id();
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
        throw std::runtime_error(std::string("cannot create a pipe: ") + std::strerror(errno));
    }

    struct sigaction action {};
    action.sa_handler = forward_signal;
    sigemptyset(&action.sa_mask);
    struct sigaction old_int {
    }, old_term{};
    g_interrupted = 0;
    sigaction(SIGINT, &action, &old_int);
    sigaction(SIGTERM, &action, &old_term);

    const pid_t parent = getpid();
    const pid_t child = fork();
    if (child < 0) {
        sigaction(SIGINT, &old_int, nullptr);
        sigaction(SIGTERM, &old_term, nullptr);
        throw std::runtime_error(std::string("cannot fork: ") + std::strerror(errno));
    }
    if (child == 0) {
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(2);
        close(pipe_fds[0]);
        try {
            Prober(topology, id, pipe_fds[1]).run();
        } catch (const std::exception& e) {
            const std::string record = std::string("0|0|") + e.what() + "\n";
            if (write(pipe_fds[1], record.data(), record.size()) < 0) _exit(3);
        }
        _exit(0);
    }
    g_child = child;
    if (g_interrupted) kill(child, SIGTERM);
    close(pipe_fds[1]);

    std::string text;
    char buffer[4096];
    while (true) {
        const ssize_t n = read(pipe_fds[0], buffer, sizeof buffer);
        if (n > 0) text.append(buffer, static_cast<std::size_t>(n));
        if (n == 0 || (n < 0 && errno != EINTR)) break;
    }
    close(pipe_fds[0]);
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    g_child = 0;

    // The namespaces died with the child; only the host test bridge can remain.
    LiveReport report;
    parse_records(text, report);
    try {
        Netlink host;
        host.delete_link(probe_name(id, ""));
    } catch (const NetlinkError& e) {
        report.results.push_back({false, 0,
                                  std::string("cannot remove the test bridge ") +
                                      probe_name(id, "") + ": " + e.what() +
                                      "; delete it with ip link del " + probe_name(id, "")});
    }
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGTERM, &old_term, nullptr);

    report.interrupted = g_interrupted != 0;
    if (!report.interrupted && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        report.results.push_back({false, 0,
                                  "the checking process died (status " + std::to_string(status) +
                                      "); run again, and report a bug if it repeats"});
    }
    return report;
}

}  // namespace ukrun::runner
