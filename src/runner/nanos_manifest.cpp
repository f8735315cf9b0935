// Nanos manifests: typed values -> the tuple tree mkfs reads -> text.
#include <stdexcept>

#include "ukrun/runner/nanos.hpp"

namespace ukrun::runner::nanos {
namespace {

/// Characters that may appear in a bare (unquoted) atom. mkfs's parser ends a bare name at
/// whitespace, ()[], ':', '|' and '/', a bare value at whitespace and ()[]; '#' starts a
/// comment and '"' a quoted string. Anything else is quoted.
bool is_bare_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-' || c == ',' || c == '+' || c == '=' || c == '@' || c == '%';
}

ManifestValue text(std::string s) {
    return ManifestValue{std::move(s)};
}

ManifestValue::Tuple& as_tuple(ManifestValue& value) {
    auto* tuple = std::get_if<ManifestValue::Tuple>(&value.value);
    if (!tuple) throw std::logic_error("manifest value is not a tuple");
    return *tuple;
}

/// The directory tuple for the absolute guest directory `dir`, created on the way.
ManifestValue& directory(ManifestValue& root, const fs::path& dir) {
    if (!dir.is_absolute())
        throw std::invalid_argument("guest path " + dir.string() + " is not absolute");
    ManifestValue* node = &root;
    for (const auto& part : dir.relative_path()) {
        if (part.empty()) continue;
        node = &node->child("children").child(part.string());
    }
    return *node;
}

void render(const ManifestValue& value, int depth, std::string& out) {
    if (const auto* s = std::get_if<std::string>(&value.value)) {
        out += quote_atom(*s);
        return;
    }
    if (const auto* vec = std::get_if<ManifestValue::Vector>(&value.value)) {
        out += '[';
        for (std::size_t i = 0; i < vec->size(); ++i) {
            if (i) out += ' ';
            render((*vec)[i], depth + 1, out);
        }
        out += ']';
        return;
    }
    const auto& tuple = std::get<ManifestValue::Tuple>(value.value);
    out += '(';
    const std::string indent(2 * (depth + 1), ' ');
    for (const auto& [key, child] : tuple) {
        out += '\n' + indent + quote_atom(key) + ':';
        render(child, depth + 1, out);
    }
    if (!tuple.empty()) out += '\n' + std::string(2 * depth, ' ');
    out += ')';
}

}  // namespace

ManifestValue& ManifestValue::child(const std::string& key) {
    auto& tuple = as_tuple(*this);
    for (auto& [name, value] : tuple)
        if (name == key) return value;
    tuple.emplace_back(key, ManifestValue{Tuple{}});
    return tuple.back().second;
}

std::string quote_atom(std::string_view text) {
    bool bare = !text.empty() && text.front() != '#';
    for (char c : text) bare = bare && is_bare_char(c);
    if (bare) return std::string(text);

    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + '"';
}

ManifestValue to_manifest_tree(const NanosManifest& manifest) {
    if (manifest.program.empty() || manifest.program.front() != '/')
        throw std::invalid_argument("the manifest's program '" + manifest.program +
                                    "' must be an absolute guest path");

    ManifestValue root{ManifestValue::Tuple{}};
    root.child("children");
    // A directory is a tuple with children; an empty tuple would be an empty file.
    for (const auto& dir : manifest.directories) directory(root, dir).child("children");
    for (const auto& [guest, host] : manifest.files) {
        const fs::path path(guest);
        auto& file =
            directory(root, path.parent_path()).child("children").child(path.filename().string());
        file.child("contents").child("host") = text(host.string());
    }

    root.child("program") = text(manifest.program);
    ManifestValue::Vector args;
    for (const auto& arg : manifest.arguments) args.push_back(text(arg));
    root.child("arguments") = ManifestValue{std::move(args)};
    auto& env = root.child("environment");
    for (const auto& [key, value] : manifest.environment) env.child(key) = text(value);

    if (manifest.network) {
        root.child("ipaddr") = text(manifest.network->ipaddr);
        root.child("netmask") = text(manifest.network->netmask);
        root.child("gateway") = text(manifest.network->gateway);
    }
    for (const auto& [key, value] : manifest.settings) root.child(key) = text(value);
    return root;
}

std::string render_manifest(const ManifestValue& tree) {
    std::string out;
    render(tree, 0, out);
    return out + '\n';
}

}  // namespace ukrun::runner::nanos
