// Topology files: IPv4 helpers, TOML parsing with toml++, and the static checks.
#include "ukrun/runner/topology.hpp"

#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

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

namespace {

/// One key a table may hold.
struct KeySpec {
    const char* key;
    bool is_integer;  ///< else a string
    bool required;
    const char* example;   ///< a valid value as TOML, for "how to fix it"
    std::int64_t min = 0;  ///< integers only
    std::int64_t max = 0;
};

const std::vector<KeySpec> kNetworkKeys = {
    {"subnet", false, true, "\"10.77.0.0/24\""},     {"gateway", false, true, "\"10.77.0.1\""},
    {"mtu", true, false, "9000", 576, 65535},        {"bridge", false, false, "\"ukbr0\""},
    {"mac_prefix", false, false, "\"52:54:00:77\""}, {"pool_start", false, false, "\"10.77.0.10\""},
};
const std::vector<KeySpec> kInstanceKeys = {
    {"memory_mib", true, false, "512", 16, 1 << 24},
    {"vcpus", true, false, "1", 1, 1024},
};
const std::vector<KeySpec> kNodeKeys = {
    {"name", false, true, "\"node1\""},
    {"address", false, true, "\"192.168.1.11\""},
    {"cpus", true, true, "2", 1, 4096},
    {"memory_mib", true, true, "4096", 16, 1 << 30},
};
const std::vector<std::string> kTopLevelKeys = {"network", "instance", "node"};

/// Levenshtein distance between two short strings.
std::size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
            diagonal = above;
        }
    }
    return row[b.size()];
}

/// The known key closest to `key` when it is close enough to be a typo, else empty.
std::string closest_key(const std::string& key, const std::vector<std::string>& known) {
    std::string best;
    std::size_t best_distance = std::max<std::size_t>(2, key.size() / 3) + 1;
    for (const auto& candidate : known) {
        const std::size_t d = edit_distance(key, candidate);
        if (d < best_distance) {
            best = candidate;
            best_distance = d;
        }
    }
    return best;
}

std::string type_name(const toml::node& node) {
    // In toml::node_type order: none, table, array, string, integer, floating_point, boolean,
    // date, time, date_time.
    static constexpr const char* kNames[] = {
        "nothing",   "a table", "an array", "a string",   "an integer", "a floating-point number",
        "a boolean", "a date",  "a time",   "a date-time"};
    const auto index = static_cast<std::size_t>(node.type());
    return index < std::size(kNames) ? kNames[index] : "nothing";
}

int line_of(const toml::node& node) {
    return static_cast<int>(node.source().begin.line);
}

std::string join(const std::vector<std::string>& items) {
    std::string text;
    for (const auto& item : items) text += (text.empty() ? "" : ", ") + item;
    return text;
}

/// Reads one table's keys against a spec, collecting diagnostics. Values that are absent or
/// wrong stay absent, so later checks only see values of the right type.
class Parser {
  public:
    explicit Parser(std::string path) : path_(std::move(path)) {}

    void error(int line, const std::string& message) {
        diagnostics_.push_back({path_, line, message});
    }
    std::vector<Diagnostic>& diagnostics() { return diagnostics_; }

    /// Values read from one table, by key, with their lines.
    struct Values {
        std::map<std::string, std::string> strings;
        std::map<std::string, std::int64_t> integers;
        std::map<std::string, int> lines;
        std::string string_or(const std::string& key, const std::string& fallback) const {
            const auto it = strings.find(key);
            return it == strings.end() ? fallback : it->second;
        }
        int line(const std::string& key, int fallback) const {
            const auto it = lines.find(key);
            return it == lines.end() ? fallback : it->second;
        }
    };

    /// Reads `table` (called `label` in messages, e.g. "network" or "node[2]").
    Values read_table(const toml::table& table, const std::string& label,
                      const std::vector<KeySpec>& spec, int table_line) {
        Values values;
        std::vector<std::string> known;
        for (const auto& s : spec) known.push_back(s.key);

        for (auto&& [key, node] : table) {
            const std::string name(key.str());
            const auto it = std::find_if(spec.begin(), spec.end(),
                                         [&](const KeySpec& s) { return name == s.key; });
            if (it == spec.end()) {
                unknown_key(name, line_of(node), label, known);
                continue;
            }
            read_value(*it, node, label, values);
        }
        for (const auto& s : spec) {
            if (s.required && !table.contains(s.key)) {
                error(table_line, section_name(label) + " has no " + s.key + "; add " + s.key +
                                      " = " + s.example);
            }
        }
        return values;
    }

    void unknown_key(const std::string& name, int line, const std::string& label,
                     const std::vector<std::string>& known) {
        const std::string where = label.empty() ? "at the top level" : "in " + section_name(label);
        const std::string guess = closest_key(name, known);
        if (!guess.empty()) {
            error(line, "unknown key '" + name + "' " + where + "; did you mean '" + guess + "'?");
        } else {
            error(line, "unknown key '" + name + "' " + where +
                            "; remove it (known keys: " + join(known) + ")");
        }
    }

  private:
    static std::string section_name(const std::string& label) {
        return label.rfind("node", 0) == 0 ? label : "[" + label + "]";
    }

    void read_value(const KeySpec& spec, const toml::node& node, const std::string& label,
                    Values& values) {
        const std::string full = label + "." + spec.key;
        const int line = line_of(node);
        values.lines[spec.key] = line;
        if (!spec.is_integer) {
            if (const auto* text = node.as_string()) {
                values.strings[spec.key] = text->get();
                return;
            }
            error(line, full + " must be a string, not " + type_name(node) + "; write " + spec.key +
                            " = " + spec.example);
            return;
        }
        const auto* number = node.as_integer();
        if (!number) {
            error(line, full + " must be an integer, not " + type_name(node) + "; write " +
                            spec.key + " = " + spec.example);
            return;
        }
        const std::int64_t value = number->get();
        if (value < spec.min || value > spec.max) {
            error(line, full + " = " + std::to_string(value) + " is outside " +
                            std::to_string(spec.min) + ".." + std::to_string(spec.max) +
                            "; use a value in that range, e.g. " + spec.example);
            return;
        }
        values.integers[spec.key] = value;
    }

    std::string path_;
    std::vector<Diagnostic> diagnostics_;
};

}  // namespace

namespace {

constexpr const char* kDefaultPath = "<built-in default topology>";

/// Why `address` cannot be a host address of `subnet` (inside it, neither its network nor its
/// broadcast address), or empty when it can.
std::string host_address_problem(Ipv4 address, const Cidr& subnet) {
    if (!subnet.contains(address)) return "is outside network.subnet " + to_string(subnet);
    if (address == subnet.network) return "is the network address of " + to_string(subnet);
    if (address == subnet.broadcast()) return "is the broadcast address of " + to_string(subnet);
    return {};
}

/// Why `name` cannot name the job bridge (Linux limits plus Open MPI's 'vir' rule), or empty.
std::string bridge_name_problem(const std::string& name) {
    if (name.empty()) return "is empty; remove the key to name the bridge from the job id";
    if (name.size() > 15) {
        return "has " + std::to_string(name.size()) + " characters; use at most 15, e.g. \"ukbr0\"";
    }
    for (const char c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
            return std::string("contains '") + c + "'; use only letters, digits, '-', '_' and '.'";
        }
    }
    if (name.rfind("vir", 0) == 0) {
        return "starts with 'vir', which Open MPI silently skips; choose another name, e.g. "
               "\"ukbr0\"";
    }
    return {};
}

/// Parses "52:54:00:77": 3 to 5 octets of two hex digits each.
std::optional<std::vector<std::uint8_t>> parse_mac_prefix(const std::string& text) {
    std::vector<std::uint8_t> octets;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t colon = std::min(text.find(':', start), text.size());
        const std::string_view part = std::string_view(text).substr(start, colon - start);
        unsigned value = 0;
        const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value, 16);
        if (part.size() != 2 || ec != std::errc{} || end != part.data() + part.size()) {
            return std::nullopt;
        }
        octets.push_back(static_cast<std::uint8_t>(value));
        start = colon + 1;
    }
    if (octets.size() < 3 || octets.size() > 5) return std::nullopt;
    return octets;
}

/// Why `name` cannot name a node, or empty.
std::string node_name_problem(const std::string& name) {
    if (name.empty()) return "is empty; give the node a name, e.g. \"node1\"";
    if (name.size() > 63) return "is longer than 63 characters; use a shorter name";
    for (const char c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
            return std::string("contains '") + c + "'; use only letters, digits, '-', '_' and '.'";
        }
    }
    return {};
}

std::string quoted(const std::string& text) {
    return "\"" + text + "\"";
}

/// Why `text` is not a usable job subnet ("is not a CIDR network; ..."), or empty when it is.
std::string subnet_problem(const std::string& text) {
    const std::size_t slash = text.find('/');
    const auto base = parse_ipv4(text.substr(0, slash));
    if (slash == std::string::npos || !base) {
        return quoted(text) + " is not a CIDR network; write address/prefix, e.g. \"10.77.0.0/24\"";
    }
    const auto mask_only = parse_cidr("0.0.0.0" + text.substr(slash));
    if (!mask_only) {
        return quoted(text) + " has a prefix that is not 0..32; write e.g. \"10.77.0.0/24\"";
    }
    const auto cidr = parse_cidr(text);
    if (!cidr) {
        const Cidr fixed{Ipv4{base->value & mask_only->netmask().value}, mask_only->prefix};
        return text + " has host bits set; write its network address " + to_string(fixed);
    }
    if (cidr->prefix > 30) {
        return text +
               " has no room for a gateway and instances; use a prefix of 30 or less, "
               "e.g. /24";
    }
    return {};
}

/// Why `text` is not a usable MAC prefix, or empty when it is.
std::string mac_prefix_problem(const std::string& text) {
    const auto octets = parse_mac_prefix(text);
    if (!octets) return "is not 3 to 5 hex octets; write e.g. \"52:54:00:77\"";
    if ((*octets)[0] & 0x01) {
        return "is a multicast prefix; use a first octet with bit 0x01 clear, e.g. "
               "\"52:54:00:77\"";
    }
    if (!((*octets)[0] & 0x02)) {
        return "is not locally administered; use a first octet with bit 0x02 set, e.g. "
               "\"52:54:00:77\"";
    }
    return {};
}

/// network.`key` as a host address of `subnet` (when known); reports and returns nullopt when
/// it is absent or wrong.
std::optional<Ipv4> read_host_address(Parser& p, const Parser::Values& values, const char* key,
                                      int table_line, const std::optional<Cidr>& subnet) {
    if (!values.strings.count(key)) return std::nullopt;
    const std::string text = values.strings.at(key);
    const int line = values.line(key, table_line);
    const std::string label = std::string("network.") + key + " ";
    const auto address = parse_ipv4(text);
    if (!address) {
        p.error(line, label + quoted(text) +
                          " is not an IPv4 address; write four numbers 0-255 separated by "
                          "dots, e.g. \"10.77.0.1\"");
        return std::nullopt;
    }
    const std::string problem = subnet ? host_address_problem(*address, *subnet) : "";
    if (!problem.empty()) {
        // The gateway conventionally takes the first host address; the pool starts later.
        const std::uint32_t example = key == std::string("pool_start") ? 10 : 1;
        p.error(line, label + text + " " + problem + "; use a host address inside it, e.g. " +
                          to_string(Ipv4{subnet->network.value + example}));
        return std::nullopt;
    }
    return address;
}

/// The [network] table: values and the checks that need only it. `subnet_ok` tells whether
/// net.subnet holds a valid subnet.
void read_network(Parser& p, const toml::table& table, int line, NetworkConfig& net,
                  bool& subnet_ok) {
    const auto values = p.read_table(table, "network", kNetworkKeys, line);
    net.line = line;
    net.subnet_line = values.line("subnet", line);
    if (values.integers.count("mtu")) net.mtu = static_cast<int>(values.integers.at("mtu"));

    std::optional<Cidr> subnet;
    if (values.strings.count("subnet")) {
        const std::string text = values.strings.at("subnet");
        const std::string problem = subnet_problem(text);
        if (problem.empty())
            subnet = parse_cidr(text);
        else
            p.error(net.subnet_line, "network.subnet " + problem);
    }
    subnet_ok = subnet.has_value();
    if (subnet) net.subnet = *subnet;

    if (const auto gateway = read_host_address(p, values, "gateway", line, subnet)) {
        net.gateway = *gateway;
    }
    net.pool_start = read_host_address(p, values, "pool_start", line, subnet);
    if (net.pool_start && *net.pool_start == net.gateway) {
        p.error(values.line("pool_start", line),
                "network.pool_start " + to_string(net.gateway) +
                    " is the gateway; start the pool after it, e.g. " +
                    to_string(Ipv4{net.gateway.value + 1}));
        net.pool_start.reset();
    }

    net.bridge = values.string_or("bridge", "");
    if (values.strings.count("bridge")) {
        const std::string problem = bridge_name_problem(net.bridge);
        if (!problem.empty()) {
            p.error(values.line("bridge", line),
                    "network.bridge " + quoted(net.bridge) + " " + problem);
        }
    }
    net.mac_prefix = values.string_or("mac_prefix", "");
    if (values.strings.count("mac_prefix")) {
        const std::string problem = mac_prefix_problem(net.mac_prefix);
        if (!problem.empty()) {
            p.error(values.line("mac_prefix", line),
                    "network.mac_prefix " + quoted(net.mac_prefix) + " " + problem);
        }
    }
}

/// One [[node]] table.
NodeConfig read_node(Parser& p, const toml::table& table, int index, int line) {
    const std::string label = "node[" + std::to_string(index) + "]";
    const auto values = p.read_table(table, label, kNodeKeys, line);
    NodeConfig node;
    node.line = line;
    if (values.integers.count("cpus")) node.cpus = static_cast<int>(values.integers.at("cpus"));
    if (values.integers.count("memory_mib")) {
        node.memory_mib = static_cast<int>(values.integers.at("memory_mib"));
    }
    if (values.strings.count("name")) {
        node.name = values.strings.at("name");
        const std::string problem = node_name_problem(node.name);
        if (!problem.empty()) {
            p.error(values.line("name", line),
                    label + ".name " + quoted(node.name) + " " + problem);
        }
    }
    if (values.strings.count("address")) {
        const std::string text = values.strings.at("address");
        if (const auto address = parse_ipv4(text)) {
            node.address = *address;
        } else {
            p.error(values.line("address", line),
                    label + ".address " + quoted(text) +
                        " is not an IPv4 address; write four numbers 0-255 separated by "
                        "dots, e.g. \"192.168.1.11\"");
        }
    }
    return node;
}

/// Checks between nodes, and between nodes and [network] / [instance].
void check_nodes(Parser& p, const Topology& t, bool subnet_ok,
                 const std::vector<bool>& address_ok) {
    const auto& net = t.network;
    for (std::size_t i = 0; i < t.nodes.size(); ++i) {
        const NodeConfig& node = t.nodes[i];
        const std::string label = "node[" + std::to_string(i + 1) + "]";
        for (std::size_t j = 0; j < i; ++j) {
            const NodeConfig& other = t.nodes[j];
            const std::string other_label =
                "node[" + std::to_string(j + 1) + "] (line " + std::to_string(other.line) + ")";
            if (!node.name.empty() && node.name == other.name) {
                p.error(node.line, label + ".name " + quoted(node.name) + " is already used by " +
                                       other_label + "; give each node a unique name");
            }
            if (address_ok[i] && address_ok[j] && node.address == other.address) {
                p.error(node.line, label + ".address " + to_string(node.address) +
                                       " is already used by " + other_label +
                                       "; give each node its own address");
            }
        }

        if (address_ok[i] && subnet_ok && net.subnet.contains(node.address)) {
            const std::string address = label + ".address " + to_string(node.address);
            std::string problem = host_address_problem(node.address, net.subnet);
            if (problem.empty() && node.address == net.gateway) problem = "is the gateway";
            if (problem.empty() && net.pool_start && node.address == *net.pool_start) {
                problem = "is network.pool_start";
            }
            if (!problem.empty()) {
                p.error(node.line, address + " " + problem + "; give the node another address");
            }
        }
        if (t.instance.vcpus > node.cpus) {
            p.error(node.line, "instance.vcpus = " + std::to_string(t.instance.vcpus) +
                                   " does not fit " + label +
                                   " with cpus = " + std::to_string(node.cpus) +
                                   "; lower instance.vcpus or raise the node's cpus");
        }
        if (t.instance.memory_mib > node.memory_mib) {
            p.error(node.line, "instance.memory_mib = " + std::to_string(t.instance.memory_mib) +
                                   " does not fit " + label +
                                   " with memory_mib = " + std::to_string(node.memory_mib) +
                                   "; lower instance.memory_mib or raise the node's memory_mib");
        }
    }
}

}  // namespace

namespace {

/// What reading the top level found, for the checks that span tables.
struct RootState {
    bool have_network = false;
    bool have_node = false;
    bool subnet_ok = false;
    std::vector<bool> address_ok;  ///< per node: its address parsed
};

void read_instance(Parser& p, const toml::table& table, int line, InstanceConfig& instance) {
    const auto values = p.read_table(table, "instance", kInstanceKeys, line);
    instance.line = line;
    if (values.integers.count("memory_mib")) {
        instance.memory_mib = static_cast<int>(values.integers.at("memory_mib"));
    }
    if (values.integers.count("vcpus")) {
        instance.vcpus = static_cast<int>(values.integers.at("vcpus"));
    }
}

/// The [[node]] array.
void read_nodes(Parser& p, const toml::node& node, Topology& t, RootState& state) {
    state.have_node = true;
    const auto* array = node.as_array();
    if (!array || !array->is_array_of_tables()) {
        p.error(line_of(node), "node must be an array of tables, not " + type_name(node) +
                                   "; write each node as a [[node]] section");
        return;
    }
    for (const auto& element : *array) {
        const toml::table& table = *element.as_table();
        t.nodes.push_back(
            read_node(p, table, static_cast<int>(t.nodes.size()) + 1, line_of(element)));
        const auto* address = table.get("address");
        state.address_ok.push_back(address &&
                                   parse_ipv4(address->value_or(std::string())).has_value());
    }
}

/// A top-level key that is not a known table: misplaced, misspelt or unknown.
void report_stray(Parser& p, const std::string& name, const toml::node& node) {
    const int line = line_of(node);
    for (const auto& [table, spec] :
         {std::pair{"network", &kNetworkKeys}, std::pair{"instance", &kInstanceKeys},
          std::pair{"node", &kNodeKeys}}) {
        for (const auto& s : *spec) {
            if (name != s.key) continue;
            p.error(line, "key '" + name + "' is at the top level; move it into the [" + table +
                              "] section");
            return;
        }
    }
    if (!node.is_table()) {
        p.unknown_key(name, line, "", kTopLevelKeys);
        return;
    }
    const std::string guess = closest_key(name, kTopLevelKeys);
    p.error(line, "unknown table [" + name + "]; " +
                      (guess.empty() ? "remove it (known: [network], [instance], [[node]])"
                                     : "did you mean [" + guess + "]?"));
}

void read_root(Parser& p, const toml::table& root, Topology& t, RootState& state) {
    for (auto&& [key, node] : root) {
        const std::string name(key.str());
        const bool is_section = name == "network" || name == "instance";
        if (name == "node") {
            read_nodes(p, node, t, state);
        } else if (!is_section) {
            report_stray(p, name, node);
        } else if (!node.as_table()) {
            p.error(line_of(node), name + " must be a table, not " + type_name(node) +
                                       "; write it as a [" + name + "] section");
        } else if (name == "network") {
            state.have_network = true;
            read_network(p, *node.as_table(), line_of(node), t.network, state.subnet_ok);
        } else {
            read_instance(p, *node.as_table(), line_of(node), t.instance);
        }
    }
}

}  // namespace

Topology parse_topology(const std::string& text, const std::string& path) {
    Parser p(path);
    Topology t;
    t.path = path;
    t.text = text;

    toml::table root;
    try {
        root = toml::parse(text, path);
    } catch (const toml::parse_error& e) {
        p.error(static_cast<int>(e.source().begin.line),
                "TOML syntax error: " + std::string(e.description()) +
                    "; fix the syntax (https://toml.io)");
        throw TopologyError(p.diagnostics());
    }

    RootState state;
    read_root(p, root, t, state);
    if (!state.have_network) {
        p.error(0,
                "no [network] table; add [network] with subnet = \"10.77.0.0/24\" and "
                "gateway = \"10.77.0.1\"");
    }
    if (!state.have_node) {
        p.error(0,
                "no [[node]] table; add one [[node]] per host with name, address, cpus and "
                "memory_mib");
    }
    check_nodes(p, t, state.subnet_ok, state.address_ok);

    auto& diagnostics = p.diagnostics();
    if (!diagnostics.empty()) {
        std::stable_sort(diagnostics.begin(), diagnostics.end(),
                         [](const Diagnostic& a, const Diagnostic& b) { return a.line < b.line; });
        throw TopologyError(diagnostics);
    }
    return t;
}

Topology load_topology(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw TopologyError({{path, 0,
                              std::string("cannot read the file: ") + std::strerror(errno) +
                                  "; check the path and its permissions"}});
    }
    std::ostringstream text;
    text << in.rdbuf();
    return parse_topology(text.str(), path);
}

namespace {

/// The pool as ranges [first, last] in hand-out order: from pool_start to the last host
/// address; without pool_start, from the gateway + 1 up, then from the first host address up to
/// the gateway - 1.
std::vector<std::pair<std::uint32_t, std::uint32_t>> pool_ranges(const NetworkConfig& net) {
    const std::uint32_t low = net.subnet.network.value + 1;
    const std::uint32_t high = net.subnet.broadcast().value - 1;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> ranges;
    if (net.pool_start) {
        if (net.pool_start->value <= high) ranges.emplace_back(net.pool_start->value, high);
        return ranges;
    }
    if (net.gateway.value < high) ranges.emplace_back(net.gateway.value + 1, high);
    if (net.gateway.value > low) ranges.emplace_back(low, net.gateway.value - 1);
    return ranges;
}

/// Addresses inside the pool that instances must not get (the gateway and node addresses),
/// sorted and unique.
std::vector<std::uint32_t> reserved_addresses(const Topology& t) {
    const auto ranges = pool_ranges(t.network);
    std::vector<std::uint32_t> reserved{t.network.gateway.value};
    for (const auto& node : t.nodes) reserved.push_back(node.address.value);
    std::erase_if(reserved, [&](std::uint32_t a) {
        return std::none_of(ranges.begin(), ranges.end(),
                            [a](const auto& r) { return a >= r.first && a <= r.second; });
    });
    std::sort(reserved.begin(), reserved.end());
    reserved.erase(std::unique(reserved.begin(), reserved.end()), reserved.end());
    return reserved;
}

}  // namespace

std::int64_t address_capacity(const Topology& topology) {
    std::int64_t total = 0;
    for (const auto& [first, last] : pool_ranges(topology.network)) {
        total += std::int64_t{last} - first + 1;
    }
    return total - static_cast<std::int64_t>(reserved_addresses(topology).size());
}

std::vector<Ipv4> instance_addresses(const Topology& topology, int count) {
    const auto reserved = reserved_addresses(topology);
    std::vector<Ipv4> result;
    for (const auto& [first, last] : pool_ranges(topology.network)) {
        for (std::int64_t a = first; a <= last && static_cast<int>(result.size()) < count; ++a) {
            const auto value = static_cast<std::uint32_t>(a);
            if (!std::binary_search(reserved.begin(), reserved.end(), value)) {
                result.push_back(Ipv4{value});
            }
        }
    }
    return result;
}

std::vector<int> place_ranks(const Topology& topology, int ranks) {
    std::vector<int> placement;
    const int nodes = static_cast<int>(topology.nodes.size());
    if (nodes == 0) return placement;
    for (int n = 0; n < nodes && static_cast<int>(placement.size()) < ranks; ++n) {
        const int slots =
            std::max(1, topology.nodes[n].cpus / std::max(1, topology.instance.vcpus));
        for (int s = 0; s < slots && static_cast<int>(placement.size()) < ranks; ++s) {
            placement.push_back(n);
        }
    }
    for (int n = 0; static_cast<int>(placement.size()) < ranks; n = (n + 1) % nodes) {
        placement.push_back(n);
    }
    return placement;
}

std::vector<Diagnostic> check_capacity(const Topology& topology, int ranks) {
    std::vector<Diagnostic> problems;
    const auto& net = topology.network;
    if (ranks < 1) {
        problems.push_back({topology.path, 0,
                            "the job needs at least 1 rank, not " + std::to_string(ranks) +
                                "; pass --ranks 1 or more"});
        return problems;
    }

    const std::int64_t capacity = address_capacity(topology);
    if (capacity < ranks) {
        const auto ranges = pool_ranges(net);
        const std::string from =
            ranges.empty() ? "" : " from " + to_string(Ipv4{ranges.front().first});
        problems.push_back({topology.path, net.subnet_line,
                            "network.subnet " + to_string(net.subnet) + " holds " +
                                std::to_string(capacity) + " instance addresses" + from +
                                ", fewer than the " + std::to_string(ranks) +
                                " ranks; use a larger subnet (a smaller prefix, e.g. /24), an "
                                "earlier pool_start or fewer ranks"});
    }

    if (const auto octets = parse_mac_prefix(net.mac_prefix)) {
        const std::int64_t macs = std::int64_t{1} << (8 * (6 - octets->size()));
        if (macs < ranks) {
            problems.push_back({topology.path, net.line,
                                "network.mac_prefix " + quoted(net.mac_prefix) + " leaves " +
                                    std::to_string(macs) + " MAC addresses, but " +
                                    std::to_string(ranks) +
                                    " ranks need one each; use a prefix of fewer octets"});
        }
    }

    std::vector<int> per_node(topology.nodes.size(), 0);
    for (const int n : place_ranks(topology, ranks)) ++per_node[n];
    for (std::size_t n = 0; n < topology.nodes.size(); ++n) {
        const auto& node = topology.nodes[n];
        const std::int64_t need = std::int64_t{per_node[n]} * topology.instance.memory_mib;
        if (need > node.memory_mib) {
            problems.push_back(
                {topology.path, node.line,
                 "node[" + std::to_string(n + 1) + "] " + quoted(node.name) + " would hold " +
                     std::to_string(per_node[n]) + " instances of " +
                     std::to_string(topology.instance.memory_mib) +
                     " MiB = " + std::to_string(need) +
                     " MiB, more than its memory_mib = " + std::to_string(node.memory_mib) +
                     "; lower instance.memory_mib, raise the node's memory_mib or add nodes"});
        }
    }
    return problems;
}

Topology default_topology() { return default_topology(*parse_cidr("10.213.0.0/24")); }

Topology default_topology(const Cidr& subnet) {
    char host[256] = {};
    std::string name = gethostname(host, sizeof host - 1) == 0 ? host : "";
    for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
            c = '-';
    }
    if (name.empty() || name.size() > 63) name = "localhost";
    const long pages = sysconf(_SC_PHYS_PAGES);
    const long page_size = sysconf(_SC_PAGE_SIZE);
    const long memory_mib =
        pages > 0 && page_size > 0 ? std::max(64L, pages / (1048576L / page_size)) : 4096L;
    const int cpus = std::max(1u, std::thread::hardware_concurrency());

    std::ostringstream text;
    text << "# Built in: one node (this host), a host-local bridge named from the job id.\n"
         << "[network]\nsubnet = \"" << to_string(subnet) << "\"\ngateway = \""
         << to_string(Ipv4{subnet.network.value + 1}) << "\"\nmtu = 9000\n\n"
         << "[instance]\nmemory_mib = 512\nvcpus = 1\n\n"
         << "[[node]]\nname = \"" << name << "\"\naddress = \"127.0.0.1\"\ncpus = " << cpus
         << "\nmemory_mib = " << memory_mib << "\n";
    return parse_topology(text.str(), kDefaultPath);
}

}  // namespace ukrun::runner
