// SPDX-License-Identifier: Apache-2.0
// [[bridges]]: the remote brokers, their topics and their store-and-forward queues.

#include "sections.hpp"

#include <array>

namespace edgemq::config::detail {

using namespace std::chrono_literals;

namespace {

constexpr std::array<std::string_view, 3> directions{"out", "in", "both"};
constexpr std::array<std::string_view, 2> full_policies{"drop_oldest", "drop_newest"};

/// An MQTT topic filter: '#' only as the whole last level, '+' only as a whole level.
bool is_topic_filter(std::string_view f) {
    if (f.empty()) {
        return false;
    }
    for (std::size_t i = 0; i < f.size(); ++i) {
        const bool level_start = i == 0 || f[i - 1] == '/';
        const bool level_end = i + 1 == f.size() || f[i + 1] == '/';
        if (f[i] == '#' && !(level_start && i + 1 == f.size())) {
            return false;
        }
        if (f[i] == '+' && !(level_start && level_end)) {
            return false;
        }
    }
    return true;
}

field prefix(std::string_view key, std::string& out) {
    return {key, [&out](context& cx, const toml::node& node, const std::string& path) {
                if (const auto value = read_string(cx, node, path)) {
                    if (value->find_first_of("+#") != std::string_view::npos) {
                        cx.error(node, path, "a prefix must not hold the wildcards + or #");
                    } else {
                        out = *value;
                    }
                }
            }};
}

/// `address`: "host:port" or a list of them, tried in turn. A missing port is filled in
/// once TLS is known (8883 or 1883).
field addresses(std::string_view key, std::vector<std::string>& out) {
    return {key, [&out](context& cx, const toml::node& node, const std::string& path) {
                const auto read_one = [&](const toml::node& item, const std::string& at) {
                    const auto value = read_string(cx, item, at);
                    if (!value) {
                        return;
                    }
                    listener parsed;
                    const bool has_port = value->ends_with(']') ? false
                                          : value->starts_with('[')
                                              ? value->find("]:") != std::string_view::npos
                                              : value->find(':') != std::string_view::npos;
                    const std::string full = has_port ? std::string(*value) : std::string(*value) + ":0";
                    if (const auto problem = parse_bind(full, parsed); problem || parsed.host.empty()) {
                        cx.error(item, at,
                                 problem.value_or("a host is needed") +
                                     ", e.g. address = \"emqx.example.com:8883\", got " +
                                     double_quoted(*value));
                        return;
                    }
                    out.push_back(full);
                };
                out.clear();
                if (const auto* array = node.as_array()) {
                    for (std::size_t i = 0; i < array->size(); ++i) {
                        read_one(*array->get(i), item_path(path, i));
                    }
                    if (array->empty()) {
                        cx.error(node, path, "must name at least one \"host:port\"");
                    }
                } else {
                    read_one(node, path);
                }
            }};
}

void read_bridge_topic(context& cx, const toml::node& node, const std::string& path,
                       bridge_topic& t) {
    read_table(cx, node, path,
               {
                   nonempty_text("pattern", t.pattern),
                   one_of("direction", t.direction, directions),
                   integer("qos", t.qos, 0, 2),
                   prefix("local_prefix", t.local_prefix),
                   prefix("remote_prefix", t.remote_prefix),
               });
    if (!node.is_table()) {
        return;
    }
    if (t.pattern.empty()) {
        cx.error(node, path, R"(missing "pattern", e.g. pattern = "sensors/#")");
    } else if (!is_topic_filter(t.pattern)) {
        cx.error(*node.as_table()->get("pattern"), path + ".pattern",
                 "not a valid topic filter (# only as the last level, + only as a whole "
                 "level), got " +
                     double_quoted(t.pattern));
    }
}

/// The rules that need several keys of one bridge; reported at the bridge's table.
void check_bridge(context& cx, const toml::node& at, const std::string& path, bridge& b,
                  bool tls_written) {
    if (b.name.empty()) {
        cx.error(at, path, R"(missing "name", e.g. name = "cloud")");
    } else if (!std::ranges::all_of(b.name, is_id_char)) {
        cx.error(at, path,
                 "name " + double_quoted(b.name) +
                     " may hold only letters, digits, '_' and '-' (it names files and topics)");
    }
    if (b.addresses.empty() && !at.as_table()->contains("address")) {
        cx.error(at, path, R"(missing "address", e.g. address = "emqx.example.com:8883")");
    }
    if (b.topics.empty()) {
        cx.error(at, path,
                 R"(a bridge needs at least one [[bridges.topics]], e.g. pattern = "sensors/#")");
    }
    if (b.cert.empty() != b.key.empty()) {
        cx.error(at, path, "cert and key come together (the client certificate and its key)");
    }
    const bool tls_files = !b.ca.empty() || !b.cert.empty();
    if (!tls_written) {
        b.tls = tls_files;
    } else if (!b.tls && tls_files) {
        cx.error(at, path, "ca, cert and key need tls = true");
    }
    if (b.insecure && !b.tls) {
        cx.error(at, path, "insecure only applies to TLS");
    }
    if (b.reconnect_min > b.reconnect_max) {
        cx.error(at, path, "reconnect_min must not be greater than reconnect_max");
    }
    for (auto& a : b.addresses) {
        if (a.ends_with(":0")) {
            a.replace(a.size() - 1, 1, b.tls ? "8883" : "1883");
        }
    }
    if (b.queue_file.empty()) {
        b.queue_file = "/var/lib/edgemq/bridge-" + b.name + ".db";
    }
    if (b.notification_topic.empty()) {
        const auto first = std::ranges::find_if(
            b.topics, [](const bridge_topic& t) { return !t.remote_prefix.empty(); });
        b.notification_topic = (first == b.topics.end() ? std::string{} : first->remote_prefix) +
                               "$bridge/" + b.name + "/state";
    }
}

} // namespace

/// [[bridges]]: one remote broker each.
field bridge_array(std::string_view key, std::vector<bridge>& out) {
    return table_array(
        key, "bridges",
        [&out](context& cx, const toml::node& element, const std::string& path, std::size_t i) {
            const auto element_path = item_path(path, i);
            bridge& b = out.emplace_back();
            std::string password;
            read_table(
                cx, element, element_path,
                {
                    nonempty_text("name", b.name),
                    addresses("address", b.addresses),
                    nonempty_text("client_id", b.client_id),
                    nonempty_text("username", b.username),
                    text("password", password),
                    integer("keepalive", b.keepalive, 5),
                    boolean("clean_session", b.clean_session),
                    boolean("try_private", b.try_private),
                    integer("protocol_version", b.protocol_version, 4, 5),
                    integer("session_expiry_interval", b.session_expiry_interval),
                    boolean("tls", b.tls),
                    nonempty_text("ca", b.ca),
                    nonempty_text("cert", b.cert),
                    nonempty_text("key", b.key),
                    boolean("insecure", b.insecure),
                    table_array("topics", "bridges.topics",
                                [&b](context& cx2, const toml::node& topic,
                                     const std::string& topics_path, std::size_t j) {
                                    read_bridge_topic(cx2, topic, item_path(topics_path, j),
                                                      b.topics.emplace_back());
                                }),
                    nonempty_text("queue_file", b.queue_file),
                    integer("max_messages", b.max_messages),
                    integer("max_bytes", b.max_bytes),
                    one_of("when_full", b.when_full, full_policies),
                    boolean("queue_qos0", b.queue_qos0),
                    integer("max_inflight", b.max_inflight, 1),
                    duration("reconnect_min", b.reconnect_min, milliseconds(10), milliseconds(1h)),
                    duration("reconnect_max", b.reconnect_max, milliseconds(10), milliseconds(24h)),
                    boolean("notifications", b.notifications),
                    nonempty_text("notification_topic", b.notification_topic),
                });
            if (element.is_table()) {
                if (element.as_table()->contains("password")) {
                    b.password = password;
                }
                check_bridge(cx, element, element_path, b, element.as_table()->contains("tls"));
            }
            for (std::size_t j = 0; j + 1 < out.size(); ++j) {
                if (!b.name.empty() && out[j].name == b.name) {
                    cx.error(element, element_path,
                             "name " + double_quoted(b.name) + " is already used by " +
                                 item_path(path, j));
                }
            }
        });
}

} // namespace edgemq::config::detail
