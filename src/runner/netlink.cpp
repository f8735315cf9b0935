// rtnetlink through libnl-route: links, addresses and namespaces for the job network.
#include "ukrun/runner/netlink.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <sched.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <functional>
#include <thread>

namespace ukrun::runner {

namespace {

/// Owns one libnl object and releases it with `put` (rtnl_link_put, rtnl_addr_put, ...).
template <typename T, void (*put)(T*)>
struct NlPtr {
    T* p = nullptr;
    NlPtr() = default;
    explicit NlPtr(T* ptr) : p(ptr) {}
    NlPtr(NlPtr&& other) noexcept : p(other.p) { other.p = nullptr; }
    NlPtr(const NlPtr&) = delete;
    NlPtr& operator=(const NlPtr&) = delete;
    ~NlPtr() {
        if (p) put(p);
    }
    T* get() const { return p; }
};

using LinkPtr = NlPtr<rtnl_link, rtnl_link_put>;
using AddrPtr = NlPtr<rtnl_addr, rtnl_addr_put>;
using NlAddrPtr = NlPtr<nl_addr, nl_addr_put>;
using CachePtr = NlPtr<nl_cache, nl_cache_free>;

/// Throws NetlinkError "`what` `name`: reason" when `err` is negative.
void check(int err, const std::string& what, const std::string& name) {
    if (err < 0) throw NetlinkError(what + " " + name, -err);
}

/// Throws when `name` could not be an interface name, before the kernel sees it.
void check_name(const std::string& name) {
    const std::string problem = interface_name_problem(name);
    if (!problem.empty()) throw NetlinkError("interface name '" + name + "': " + problem, 0);
}

bool is_missing(int err) {
    return err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV;
}

/// Runs `work` on a short-lived thread that first joins the namespace `fd`, so the caller's
/// own namespace never changes. Errors inside `work` are rethrown here.
void run_in_netns(int fd, const std::function<void()>& work) {
    std::exception_ptr error;
    std::thread thread([&] {
        try {
            if (fd >= 0 && setns(fd, CLONE_NEWNET) != 0) {
                throw NetlinkError(std::string("cannot enter network namespace: ") +
                                       std::strerror(errno) + " (needs CAP_SYS_ADMIN)",
                                   0);
            }
            work();
        } catch (...) {
            error = std::current_exception();
        }
    });
    thread.join();
    if (error) std::rethrow_exception(error);
}

nl_sock* connect_route_socket() {
    nl_sock* sock = nl_socket_alloc();
    if (!sock) throw NetlinkError("cannot allocate a netlink socket", NLE_NOMEM);
    const int err = nl_connect(sock, NETLINK_ROUTE);
    if (err < 0) {
        nl_socket_free(sock);
        throw NetlinkError("cannot connect to rtnetlink", -err);
    }
    return sock;
}

NlAddrPtr make_nl_addr(Ipv4 address, int prefix) {
    const std::uint32_t be = htonl(address.value);
    NlAddrPtr addr(nl_addr_build(AF_INET, &be, sizeof be));
    if (!addr.get()) throw NetlinkError("cannot build address " + to_string(address), NLE_NOMEM);
    nl_addr_set_prefixlen(addr.get(), prefix);
    return addr;
}

/// The kernel's link `name`; an empty pointer when it does not exist, throws on other errors.
LinkPtr find_link(nl_sock* sock, const std::string& name) {
    check_name(name);
    rtnl_link* raw = nullptr;
    const int err = rtnl_link_get_kernel(sock, 0, name.c_str(), &raw);
    LinkPtr link(raw);
    if (is_missing(err)) return LinkPtr();
    check(err, "cannot query link", name);
    return link;
}

/// Like find_link, but a missing link is an error.
LinkPtr existing_link(nl_sock* sock, const std::string& name) {
    LinkPtr link = find_link(sock, name);
    if (!link.get()) throw NetlinkError("cannot find link " + name, NLE_OBJ_NOTFOUND);
    return link;
}

}  // namespace

NetlinkError::NetlinkError(const std::string& what, int nl_error)
    : std::runtime_error(nl_error ? what + ": " + nl_geterror(nl_error) : what),
      nl_error_(nl_error) {}

NetnsFd::NetnsFd(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    if (fd_ < 0) {
        throw NetlinkError("cannot open network namespace " + path + ": " + std::strerror(errno),
                           0);
    }
}

NetnsFd NetnsFd::named(const std::string& name) {
    return NetnsFd("/run/netns/" + name);
}

NetnsFd NetnsFd::create_anonymous() {
    NetnsFd result;
    run_in_netns(-1, [&] {
        if (unshare(CLONE_NEWNET) != 0) {
            throw NetlinkError(std::string("cannot create a network namespace: ") +
                                   std::strerror(errno) + " (run as root)",
                               0);
        }
        result = NetnsFd("/proc/thread-self/ns/net");
    });
    return result;
}

NetnsFd& NetnsFd::operator=(NetnsFd&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = other.release();
    }
    return *this;
}

NetnsFd::~NetnsFd() {
    if (fd_ >= 0) ::close(fd_);
}

int NetnsFd::release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
}

Netlink::Netlink() : sock_(connect_route_socket()) {}

Netlink::Netlink(const NetnsFd& netns) {
    run_in_netns(netns.fd(), [&] { sock_ = connect_route_socket(); });
}

Netlink::~Netlink() {
    if (sock_) nl_socket_free(sock_);
}

int Netlink::ifindex(const std::string& name) {
    return rtnl_link_get_ifindex(existing_link(sock_, name).get());
}

void Netlink::create_bridge(const std::string& name, int mtu) {
    check_name(name);
    LinkPtr link(rtnl_link_bridge_alloc());
    rtnl_link_set_name(link.get(), name.c_str());
    rtnl_link_set_mtu(link.get(), static_cast<unsigned>(mtu));
    check(rtnl_link_add(sock_, link.get(), NLM_F_CREATE | NLM_F_EXCL), "cannot create bridge",
          name);
}

void Netlink::create_veth_pair(const std::string& name, const std::string& peer, int mtu) {
    check_name(name);
    check_name(peer);
    LinkPtr link(rtnl_link_veth_alloc());
    rtnl_link_set_name(link.get(), name.c_str());
    rtnl_link_set_mtu(link.get(), static_cast<unsigned>(mtu));
    LinkPtr peer_link(rtnl_link_veth_get_peer(link.get()));
    rtnl_link_set_name(peer_link.get(), peer.c_str());
    rtnl_link_set_mtu(peer_link.get(), static_cast<unsigned>(mtu));
    check(rtnl_link_add(sock_, link.get(), NLM_F_CREATE | NLM_F_EXCL), "cannot create veth pair",
          name + " <-> " + peer);
}

namespace {

/// Applies the attributes set by `edit` on a change object to the kernel's link `name`.
void change_link(nl_sock* sock, const std::string& name, const std::string& what,
                 const std::function<void(rtnl_link*)>& edit) {
    LinkPtr orig = existing_link(sock, name);
    LinkPtr change(rtnl_link_alloc());
    edit(change.get());
    check(rtnl_link_change(sock, orig.get(), change.get(), 0), what, name);
}

}  // namespace

void Netlink::move_to_netns(const std::string& name, const NetnsFd& netns) {
    change_link(sock_, name, "cannot move to its network namespace the link",
                [&](rtnl_link* change) { rtnl_link_set_ns_fd(change, netns.fd()); });
}

void Netlink::move_to_netns(const std::string& name, const std::string& netns_name) {
    move_to_netns(name, NetnsFd::named(netns_name));
}

void Netlink::set_master(const std::string& name, const std::string& bridge) {
    const int master = ifindex(bridge);
    change_link(sock_, name, "cannot attach to bridge " + bridge + " the link",
                [&](rtnl_link* change) { rtnl_link_set_master(change, master); });
}

void Netlink::set_address(const std::string& name, Ipv4 address, int prefix) {
    AddrPtr addr(rtnl_addr_alloc());
    rtnl_addr_set_ifindex(addr.get(), ifindex(name));
    NlAddrPtr local = make_nl_addr(address, prefix);
    check(rtnl_addr_set_local(addr.get(), local.get()), "cannot set address on", name);
    const Cidr net{Ipv4{address.value & Cidr{address, prefix}.netmask().value}, prefix};
    if (prefix < 31) {
        NlAddrPtr broadcast = make_nl_addr(net.broadcast(), prefix);
        check(rtnl_addr_set_broadcast(addr.get(), broadcast.get()), "cannot set broadcast on",
              name);
    }
    check(rtnl_addr_add(sock_, addr.get(), 0),
          "cannot add address " + to_string(address) + "/" + std::to_string(prefix) + " to", name);
}

void Netlink::set_mtu(const std::string& name, int mtu) {
    change_link(sock_, name, "cannot set MTU " + std::to_string(mtu) + " on",
                [&](rtnl_link* c) { rtnl_link_set_mtu(c, static_cast<unsigned>(mtu)); });
}

void Netlink::set_up(const std::string& name) {
    change_link(sock_, name, "cannot bring up",
                [](rtnl_link* change) { rtnl_link_set_flags(change, IFF_UP); });
}

bool Netlink::delete_link(const std::string& name) {
    check_name(name);
    LinkPtr link(rtnl_link_alloc());
    rtnl_link_set_name(link.get(), name.c_str());
    const int err = rtnl_link_delete(sock_, link.get());
    if (is_missing(err)) return false;
    check(err, "cannot delete link", name);
    return true;
}

bool Netlink::link_exists(const std::string& name) {
    return find_link(sock_, name).get();
}

int Netlink::mtu(const std::string& name) {
    return static_cast<int>(rtnl_link_get_mtu(existing_link(sock_, name).get()));
}

std::vector<LinkAddress> Netlink::ipv4_addresses() {
    nl_cache* raw_links = nullptr;
    check(rtnl_link_alloc_cache(sock_, AF_UNSPEC, &raw_links), "cannot list", "links");
    CachePtr links(raw_links);
    nl_cache* raw_addrs = nullptr;
    check(rtnl_addr_alloc_cache(sock_, &raw_addrs), "cannot list", "addresses");
    CachePtr addrs(raw_addrs);

    std::vector<LinkAddress> result;
    for (nl_object* obj = nl_cache_get_first(addrs.get()); obj; obj = nl_cache_get_next(obj)) {
        auto* addr = reinterpret_cast<rtnl_addr*>(obj);
        nl_addr* local = rtnl_addr_get_local(addr);
        if (rtnl_addr_get_family(addr) != AF_INET || !local || nl_addr_get_len(local) != 4) {
            continue;
        }
        std::uint32_t be = 0;
        std::memcpy(&be, nl_addr_get_binary_addr(local), 4);
        char name[IFNAMSIZ] = {};
        rtnl_link_i2name(links.get(), rtnl_addr_get_ifindex(addr), name, sizeof name);
        result.push_back({name, Ipv4{ntohl(be)}, rtnl_addr_get_prefixlen(addr)});
    }
    return result;
}

int LinkGuard::cleanup() noexcept {
    int removed = 0;
    for (auto it = names_.rbegin(); it != names_.rend(); ++it) {
        try {
            if (netlink_.delete_link(*it)) ++removed;
        } catch (const std::exception&) {
            // Best effort: the link may have gone with its peer or its namespace.
        }
    }
    names_.clear();
    return removed;
}

std::string interface_name_problem(const std::string& name) {
    if (name.empty()) return "it is empty";
    if (name.size() > 15) {
        return "it has " + std::to_string(name.size()) + " characters, at most 15 are allowed";
    }
    if (name == "." || name == "..") return "'.' and '..' are not allowed";
    for (const char c : name) {
        if (c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c)) ||
            !std::isprint(static_cast<unsigned char>(c))) {
            return std::string("character '") + c + "' is not allowed";
        }
    }
    return {};
}

}  // namespace ukrun::runner
