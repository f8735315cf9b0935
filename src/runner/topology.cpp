// Topology files: IPv4 helpers, TOML parsing with toml++, and the static checks.
#include "ukrun/runner/topology.hpp"

#include <charconv>
#include <cstdio>

namespace ukrun::runner {

namespace {

/// Parses a decimal number 0..max from the whole of `text`; nullopt otherwise (no sign, no
/// leading zeros except "0" itself, no spaces).
std::optional<std::uint32_t> parse_decimal(std::string_view text, std::uint32_t max) {
    if (text.empty() || text.size() > 10) return std::nullopt;
    if (text.size() > 1 && text[0] == '0') return std::nullopt;
    std::uint32_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value > max) return std::nullopt;
    return value;
}

}  // namespace

std::optional<Ipv4> parse_ipv4(const std::string& text) {
    std::uint32_t value = 0;
    std::size_t start = 0;
    for (int part = 0; part < 4; ++part) {
        const std::size_t dot = text.find('.', start);
        const bool last = part == 3;
        if (last != (dot == std::string::npos)) return std::nullopt;
        const std::size_t end = last ? text.size() : dot;
        const auto octet = parse_decimal(std::string_view(text).substr(start, end - start), 255);
        if (!octet) return std::nullopt;
        value = (value << 8) | *octet;
        start = end + 1;
    }
    return Ipv4{value};
}

std::string to_string(Ipv4 address) {
    const std::uint32_t v = address.value;
    char buffer[16];
    std::snprintf(buffer, sizeof buffer, "%u.%u.%u.%u", v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff,
                  v & 0xff);
    return buffer;
}

Ipv4 Cidr::netmask() const {
    return Ipv4{prefix == 0 ? 0u : ~std::uint32_t{0} << (32 - prefix)};
}

Ipv4 Cidr::broadcast() const {
    return Ipv4{network.value | ~netmask().value};
}

bool Cidr::contains(Ipv4 address) const {
    return (address.value & netmask().value) == network.value;
}

std::optional<Cidr> parse_cidr(const std::string& text) {
    const std::size_t slash = text.find('/');
    if (slash == std::string::npos) return std::nullopt;
    const auto address = parse_ipv4(text.substr(0, slash));
    const auto prefix = parse_decimal(std::string_view(text).substr(slash + 1), 32);
    if (!address || !prefix) return std::nullopt;

    Cidr cidr{*address, static_cast<int>(*prefix)};
    if ((address->value & ~cidr.netmask().value) != 0) return std::nullopt;
    return cidr;
}

std::string to_string(const Cidr& cidr) {
    return to_string(cidr.network) + "/" + std::to_string(cidr.prefix);
}

std::string Diagnostic::text() const {
    if (line <= 0) return file + ": " + message;
    return file + ":" + std::to_string(line) + ": " + message;
}

namespace {

std::string join_diagnostics(const std::vector<Diagnostic>& diagnostics) {
    std::string text;
    for (const auto& d : diagnostics) {
        if (!text.empty()) text += '\n';
        text += d.text();
    }
    return text;
}

}  // namespace

TopologyError::TopologyError(std::vector<Diagnostic> diagnostics)
    : std::runtime_error(join_diagnostics(diagnostics)), diagnostics_(std::move(diagnostics)) {}

}  // namespace ukrun::runner
