// SPDX-License-Identifier: Apache-2.0
// TOML -> edgemq::config::gateway: [broker], [[listeners]], [log] and [admin] here, [[devices]]
// in devices.cpp, [[bridges]] in bridges.cpp, [homeassistant] in homeassistant.cpp, all read
// with the fields of reader.hpp (whose top comment says how reading and reporting work).

#include "sections.hpp"

#include <edgemq/config/load.hpp>

#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <utility>

namespace edgemq::config {

std::string diagnostic::to_string() const {
    if (line == 0) {
        return file + ": " + message;
    }
    return file + ':' + std::to_string(line) + ':' + std::to_string(column) + ": " + message;
}

namespace {

std::string join_lines(const std::vector<diagnostic>& diagnostics) {
    std::string text;
    for (const auto& d : diagnostics) {
        // Appended in two steps: GCC 12 misreads `"\n" + std::string&&` here (-Wrestrict).
        if (!text.empty()) {
            text += '\n';
        }
        text += d.to_string();
    }
    return text;
}

} // namespace

load_error::load_error(std::vector<diagnostic> diagnostics)
    : std::runtime_error(join_lines(diagnostics)), diagnostics_(std::move(diagnostics)) {}

namespace detail {

namespace {

using namespace std::chrono_literals;

// Listeners ----------------------------------------------------------------------------------

constexpr std::array<std::string_view, 4> listener_types{"tcp", "tls", "ws", "wss"};

field listener_type(std::string_view key, std::string& out) {
    return {key, [&out](context& cx, const toml::node& node, const std::string& path) {
                const auto text = read_string(cx, node, path);
                if (!text) {
                    return;
                }
                if (std::ranges::find(listener_types, *text) != listener_types.end()) {
                    out = *text;
                    return;
                }
                cx.error(node, path,
                         "unknown listener type " + double_quoted(*text) + "; valid types are " +
                             listed(listener_types, double_quoted));
            }};
}

field bind_address(std::string_view key, listener& out) {
    return {key, [&out](context& cx, const toml::node& node, const std::string& path) {
                if (const auto text = read_string(cx, node, path)) {
                    if (const auto problem = parse_bind(*text, out)) {
                        cx.error(node, path, *problem + ", got " + double_quoted(*text));
                    }
                }
            }};
}

bool is_loopback(std::string_view host) {
    return host.starts_with("127.") || host == "::1" || host == "localhost";
}

/// The rules that need several keys of one listener; reported at the listener's table.
void check_listener(context& cx, const toml::node& at, const std::string& path,
                    const listener& l) {
    const bool tls = l.type == "tls" || l.type == "wss";
    if (tls && (l.cert.empty() || l.key.empty())) {
        cx.error(at, path,
                 "a \"" + l.type + "\" listener needs cert and key, e.g. cert = "
                 "\"/etc/edgemq/server.crt\" and key = \"/etc/edgemq/server.key\"");
    }
    if (!tls && (!l.cert.empty() || !l.key.empty() || !l.ca.empty() ||
                 l.require_client_certificate || l.use_identity_as_username)) {
        cx.error(at, path,
                 "cert, key, ca, require_client_certificate and use_identity_as_username need "
                 "type = \"tls\" or \"wss\"");
    }
    if (l.require_client_certificate && l.ca.empty()) {
        cx.error(at, path, "require_client_certificate needs ca, the CA file that signs clients");
    }
    if (l.use_identity_as_username && !l.require_client_certificate) {
        cx.error(at, path, "use_identity_as_username needs require_client_certificate = true");
    }
    if ((l.type == "ws" || l.type == "wss") && !l.path.starts_with('/')) {
        cx.error(at, path, "path must start with '/', e.g. path = \"/mqtt\"");
    }
    const bool authenticated = !l.password_file.empty() || l.use_identity_as_username;
    if (l.allow_anonymous == false && !authenticated) {
        const toml::node* key = at.as_table() ? at.as_table()->get("allow_anonymous") : nullptr;
        cx.error(key ? *key : at, path + ".allow_anonymous",
                 "allow_anonymous = false but nothing authenticates clients, so no client could "
                 "connect; add password_file = \"/etc/edgemq/passwd\" (create it with `edgemq "
                 "passwd -c /etc/edgemq/passwd USER`), or use_identity_as_username = true on a "
                 "TLS listener");
    }
    if (!is_loopback(l.host) && !authenticated && !l.allow_anonymous.has_value()) {
        cx.error(at, path,
                 "listening on " + (l.host.find(':') != std::string::npos ? "[" + l.host + "]" : l.host) +
                     ":" + std::to_string(l.port) +
                     " without authentication would let anyone on the network connect; add "
                     "password_file = \"/etc/edgemq/passwd\" (create it with `edgemq passwd "
                     "-c /etc/edgemq/passwd USER`), or write allow_anonymous = true to accept "
                     "anonymous clients there");
    }
}

/// [[listeners]]: each element must have a bind.
field listener_array(std::string_view key, std::vector<listener>& out) {
    return table_array(
        key, "listeners",
        [&out](context& cx, const toml::node& element, const std::string& path, std::size_t i) {
            const auto element_path = item_path(path, i);
            listener& l = out.emplace_back();
            read_table(cx, element, element_path,
                       {
                           listener_type("type", l.type),
                           bind_address("bind", l),
                           integer("max_connections", l.max_connections),
                           text("cert", l.cert),
                           text("key", l.key),
                           text("ca", l.ca),
                           boolean("require_client_certificate", l.require_client_certificate),
                           boolean("use_identity_as_username", l.use_identity_as_username),
                           text("path", l.path),
                           optional_boolean("allow_anonymous", l.allow_anonymous),
                           text("password_file", l.password_file),
                           text("acl_file", l.acl_file),
                           integer("max_publish_rate", l.max_publish_rate),
                       });
            if (element.is_table() && !element.as_table()->contains("bind")) {
                cx.error(element, element_path, R"(missing "bind", e.g. bind = "0.0.0.0:1883")");
            } else if (element.is_table()) {
                check_listener(cx, element, element_path, l);
            }
        });
}

/// [admin]: bind shares the listeners' "host:port" syntax; cert and key come as a pair.
field admin_table(std::string_view key, admin& out) {
    return {key, [&out](context& cx, const toml::node& node, const std::string& path) {
                listener bind;
                bind.host = out.host;
                bind.port = out.port;
                read_table(cx, node, path,
                           {
                               boolean("enabled", out.enabled),
                               bind_address("bind", bind),
                               text("users_file", out.users_file),
                               boolean("metrics_auth", out.metrics_auth),
                               text("cert", out.cert),
                               text("key", out.key),
                           });
                out.host = bind.host;
                out.port = bind.port;
                if (node.is_table() && out.cert.empty() != out.key.empty()) {
                    cx.error(node, path,
                             "HTTPS needs both cert and key, e.g. cert = "
                             "\"/etc/edgemq/admin.crt\" and key = \"/etc/edgemq/admin.key\"");
                }
                if (node.is_table() && out.enabled && out.users_file.empty()) {
                    cx.error(node, path,
                             "users_file must name a file, e.g. users_file = "
                             "\"/var/lib/edgemq/admins\"");
                }
            }};
}

// The file -----------------------------------------------------------------------------------

// In the order of log_level's enumerators.
constexpr std::array<std::string_view, 6> log_levels{"trace", "debug", "info",
                                                     "warn",  "error", "off"};
static_assert(static_cast<std::size_t>(log_level::off) == log_levels.size() - 1);

// In the order of sync_mode's enumerators.
constexpr std::array<std::string_view, 2> sync_modes{"normal", "full"};
// In the order of slow_consumer_policy's enumerators.
constexpr std::array<std::string_view, 2> slow_consumer_policies{"drop", "disconnect"};

gateway read_gateway(context& cx, const toml::table& root) {
    gateway g;
    auto& b = g.broker;
    read_table(
        cx, root, "",
        {
            table("broker",
                  {
                      integer("threads", b.threads, 0, 256),
                      integer("max_packet_size", b.max_packet_size, 2, 268'435'455),
                      integer("max_connections", b.max_connections),
                      integer("max_inflight_messages", b.max_inflight_messages, 1),
                      integer("max_queued_messages", b.max_queued_messages),
                      duration("slow_consumer_timeout", b.slow_consumer_timeout, 0ms,
                               milliseconds(24h)),
                      one_of("slow_consumer", b.slow_consumer, slow_consumer_policies),
                      boolean("queue_qos0_messages", b.queue_qos0_messages),
                      duration("connect_timeout", b.connect_timeout, milliseconds(1),
                               milliseconds(24h)),
                      integer("max_connect_size", b.max_connect_size, 2, 268'435'455),
                      integer("max_unauthenticated_memory", b.max_unauthenticated_memory, 1),
                      duration("packet_timeout", b.packet_timeout, milliseconds(1),
                               milliseconds(24h)),
                      duration("sys_interval", b.sys_interval, 0s, std::chrono::seconds(24h)),
                      integer("max_keepalive", b.max_keepalive),
                      integer("max_topic_alias", b.max_topic_alias),
                      integer("receive_maximum", b.receive_maximum, 1),
                      integer("max_outbound_bytes", b.max_outbound_bytes, 1),
                      boolean("persistence", b.persistence),
                      nonempty_text("persistence_file", b.persistence_file),
                      one_of("sync", b.sync, sync_modes),
                  }),
            listener_array("listeners", g.listeners),
            table("log", {one_of("level", g.log.level, log_levels)}),
            admin_table("admin", g.admin),
            device_array("devices", g.devices),
            bridge_array("bridges", g.bridges),
            modbus_array("modbus", g.modbus),
            homeassistant_table("homeassistant", g.homeassistant),
        });
    check_modbus_against_devices(cx, root, g);
    if (g.listeners.empty()) {
        g.listeners = defaults().listeners;
    }
    return g;
}

} // namespace

} // namespace detail

gateway defaults() {
    gateway g;
    g.listeners.emplace_back();
    return g;
}

gateway load_string(std::string_view toml_text, std::string source_name) {
    toml::table root;
    try {
        root = toml::parse(toml_text, std::string_view(source_name));
    } catch (const toml::parse_error& e) {
        const auto where = e.source().begin;
        throw load_error(
            {{std::move(source_name), where.line, where.column, std::string(e.description())}});
    }
    detail::context cx{std::move(source_name), {}};
    auto g = detail::read_gateway(cx, root);
    if (!cx.diagnostics.empty()) {
        std::ranges::stable_sort(cx.diagnostics, {},
                                 [](const diagnostic& d) { return std::pair(d.line, d.column); });
        throw load_error(std::move(cx.diagnostics));
    }
    return g;
}

gateway load_file(const std::filesystem::path& path) {
    const auto fail = [&](const std::string& why) {
        return load_error({{path.string(), 0, 0, "cannot read the configuration: " + why}});
    };
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
        throw fail("it is a directory");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw fail(std::strerror(errno)); // errno from the open(2) under the failed ifstream
    }
    const std::string text(std::istreambuf_iterator<char>(in), {});
    return load_string(text, path.string());
}

} // namespace edgemq::config
