// Persistent tap devices for QEMU guests (the TUN driver's ioctl interface; rtnetlink cannot
// create taps).
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ukrun/runner/netlink.hpp"

namespace ukrun::runner {

void create_tap(const std::string& name) {
    if (const auto problem = interface_name_problem(name); !problem.empty())
        throw NetlinkError("create tap '" + name + "': " + problem, 0);
    const int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        throw NetlinkError("create tap " + name + ": open /dev/net/tun: " + std::strerror(errno) +
                               " (load the tun module; needs root)",
                           0);
    ifreq request{};
    request.ifr_flags = IFF_TAP | IFF_NO_PI;
    std::strncpy(request.ifr_name, name.c_str(), IFNAMSIZ - 1);
    int error = 0;
    if (::ioctl(fd, TUNSETIFF, &request) < 0 || ::ioctl(fd, TUNSETPERSIST, 1) < 0) error = errno;
    ::close(fd);
    if (error != 0)
        throw NetlinkError("create tap " + name + ": " + std::strerror(error) +
                               (error == EBUSY ? " (a tap of that name is in use)" : ""),
                           0);
}

}  // namespace ukrun::runner
