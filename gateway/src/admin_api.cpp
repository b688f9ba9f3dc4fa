// SPDX-License-Identifier: Apache-2.0
#include "admin_api.hpp"
#include "encoding.hpp"

#include "edgemq/bridge/supervisor.hpp"
#include "edgemq/broker/broker.hpp"
#include "edgemq/broker/clock.hpp"
#include "edgemq/broker/codec/decode.hpp"
#include "edgemq/modbus/bus.hpp"
#include "edgemq/serial/device.hpp"
#include "edgemq/serial/port_info.hpp"

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <optional>
#include <unordered_map>
#include <vector>

namespace edgemq::app {
namespace {

using namespace web;

constexpr std::size_t max_samples = 600 / admin_api::sample_period.count(); // ten minutes
constexpr std::size_t default_limit = 100;
constexpr std::size_t max_limit = 1000;

json::object stats_json(const broker::broker_stats& s) {
    return {
        {"messages_received", s.messages_received}, {"messages_sent", s.messages_sent},
        {"bytes_received", s.bytes_received},       {"bytes_sent", s.bytes_sent},
        {"messages_dropped", s.messages_dropped},   {"messages_denied", s.messages_denied},
        {"packet_timeouts", s.packet_timeouts},
        {"unauthenticated_closed", s.unauthenticated_closed},
        {"slow_consumers", s.slow_consumers},
        {"clients_connected", s.clients_connected}, {"clients_total", s.clients_total},
        {"clients_maximum", s.clients_maximum},     {"subscriptions", s.subscriptions},
        {"retained_messages", s.retained_messages}, {"uptime_seconds", s.uptime_seconds},
        {"persistence_errors", s.persistence_errors},
        {"persistence_failing", s.persistence_failing},
    };
}

json::object client_json(const broker::client_info& c) {
    json::object o{
        {"client_id", c.client_id},
        {"connected", c.connected},
        {"internal", c.internal},
        {"peer", c.peer},
        {"listener", c.listener},
        {"clean_session", c.clean_session},
        {"keep_alive", c.keep_alive},
        {"connected_at", c.connected_at},
        {"subscriptions", c.subscriptions},
        {"inflight", c.inflight},
        {"queued", c.queued},
        {"dropped", c.dropped},
        {"congested", c.congested},
        {"slow_consumer", c.slow_consumer},
    };
    o["username"] = c.username ? json::value(*c.username) : json::value(nullptr);
    return o;
}

json::object message_json(const broker::message& m) {
    json::object o{{"topic", m.topic}, {"qos", m.qos}, {"payload_size", m.payload.size()}};
    if (broker::codec::is_well_formed_utf8(m.payload)) {
        o["payload"] = m.payload;
    } else {
        o["payload"] = nullptr; // binary payloads are not shown as text
    }
    return o;
}

/// One Prometheus metric with its HELP and TYPE lines.
void metric(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            std::uint64_t value) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
    out += name;
    out += ' ';
    out += std::to_string(value);
    out += '\n';
}

/// A serial port as libserialport describes it; null for what it does not report (a port that
/// is not USB has no USB identity, bus or address).
json::object port_json(const serial::port_info& p) {
    const auto text = [](const std::string& s) {
        return s.empty() ? json::value(nullptr) : json::value(s);
    };
    const auto number = [](int n) { return n < 0 ? json::value(nullptr) : json::value(n); };
    return {
        {"path", p.path},
        {"transport", serial::to_string(p.transport)},
        {"description", text(p.description)},
        {"vid", text(p.vid)},
        {"pid", text(p.pid)},
        {"serial", text(p.serial)},
        {"manufacturer", text(p.manufacturer)},
        {"product", text(p.product)},
        {"location", text(p.location)},
        {"bus", number(p.bus)},
        {"address", number(p.address)},
        {"by_id", text(p.by_id)},
        {"bluetooth_address", text(p.bluetooth_address)},
    };
}

/// A device as JSON text. `values` is the last state exactly as the driver published it, so
/// that the API shows the numbers MQTT subscribers saw (a double parsed and serialized again by
/// Boost.JSON turns 25.1 into 2.51E1); null if it is not JSON, which it never should be.
std::string device_json(const serial::device_status& d) {
    json::object o{
        {"id", d.id},
        {"online", d.online},
        {"availability", d.online ? "online" : "offline"},
        {"port", d.port},
        {"port_details", d.port_details.path.empty() ? json::value(nullptr)
                                                     : json::value(port_json(d.port_details))},
        {"last_error", d.last_error},
        {"online_since_ms", d.online_since_ms},
        {"last_seen_ms", d.last_seen_ms},
        {"stats",
         {{"bytes", d.bytes},
          {"frames", d.frames},
          {"parse_errors", d.parse_errors},
          {"dropped", d.dropped},
          {"reconnects", d.reconnects},
          {"commands", d.commands},
          {"command_errors", d.command_errors}}},
    };
    boost::system::error_code ec;
    json::parse(d.last_state, ec); // a check only: one complete JSON value
    auto out = json::serialize(o);
    out.pop_back(); // the object's closing brace
    out += R"(,"values":)";
    out += ec ? std::string_view("null") : std::string_view(d.last_state);
    out += '}';
    return out;
}

/// A Prometheus label value: backslash, double quote and line feed escaped.
std::string label_value(std::string_view v) {
    std::string out;
    for (const char c : v) {
        if (c == '\\' || c == '"') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

/// One Prometheus metric family with a sample per item (device, bridge), labelled
/// `label="<id of the item>"`.
template <class Item, class Value>
void labelled_metric(std::string& out, const std::vector<Item>& items, std::string_view label,
                     const std::string Item::*id, std::string_view name, std::string_view type,
                     std::string_view help, Value value) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
    for (const auto& item : items) {
        out += name;
        out += '{';
        out += label;
        out += "=\"";
        out += label_value(item.*id);
        out += "\"} ";
        out += value(item);
        out += '\n';
    }
}

json::object bridge_json(const bridge::bridge_status& b) {
    return {
        {"name", b.name},
        {"state", bridge::to_string(b.state)},
        {"address", b.address},
        {"last_error", b.last_error},
        {"connected_since", b.connected_since},
        {"queue", {{"messages", b.queued}, {"bytes", b.queued_bytes}}},
        {"stats",
         {{"sent", b.sent}, {"acked", b.acked}, {"dropped", b.dropped}, {"received", b.received}}},
    };
}

json::object modbus_slave_json(const modbus::slave_status& s) {
    const auto text_or_null = [](const std::string& t) {
        return t.empty() ? json::value(nullptr) : json::value(t);
    };
    return {
        {"name", s.name},
        {"id", s.id},
        {"online", s.online},
        {"availability", s.online ? "online" : "offline"},
        {"last_error", text_or_null(s.last_error)},
        {"last_exception", text_or_null(s.last_exception)},
        {"last_seen_ms", s.last_seen_ms},
        {"stats",
         {{"polls", s.polls},
          {"failed_polls", s.failures},
          {"timeouts", s.timeouts},
          {"exceptions", s.exceptions},
          {"writes", s.writes},
          {"write_errors", s.write_errors}}},
    };
}

json::object modbus_bus_json(const modbus::bus_status& b) {
    json::array slaves;
    for (const auto& s : b.slaves) {
        slaves.push_back(modbus_slave_json(s));
    }
    return {
        {"name", b.name},
        {"port", b.port.empty() ? json::value(nullptr) : json::value(b.port)},
        {"open", b.open},
        {"last_error", b.last_error.empty() ? json::value(nullptr) : json::value(b.last_error)},
        {"baud", b.baud},
        {"line", b.line},
        {"reconnects", b.reconnects},
        {"slaves", std::move(slaves)},
    };
}

/// `?page=&limit=` as 1-based page and page size.
struct paging {
    std::size_t page = 1;
    std::size_t limit = default_limit;
};

std::optional<std::size_t> positive(const std::unordered_map<std::string, std::string>& q,
                                    const std::string& key, std::size_t fallback) {
    const auto it = q.find(key);
    if (it == q.end()) {
        return fallback;
    }
    std::size_t v = 0;
    const auto& s = it->second;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v == 0) {
        return std::nullopt;
    }
    return v;
}

/// `?page=&limit=` of `t`, or nullopt when either is not a positive integer or limit is over
/// max_limit.
std::optional<paging> paging_of(const target& t) {
    const auto p = positive(t.query, "page", 1);
    const auto l = positive(t.query, "limit", default_limit);
    if (!p || !l || *l > max_limit) {
        return std::nullopt;
    }
    return paging{*p, *l};
}

response bad_paging(unsigned version) {
    return error_response(http::status::bad_request, version, "bad_request",
                          "page must be a positive integer and limit one from 1 to " +
                              std::to_string(max_limit));
}

template <class T, class ToJson>
json::object page_of(const std::vector<T>& all, const paging& p, ToJson to_json) {
    json::array data;
    const std::size_t first = (p.page - 1) * p.limit;
    for (std::size_t i = first; i < all.size() && i < first + p.limit; ++i) {
        data.push_back(to_json(all[i]));
    }
    return {{"data", std::move(data)},
            {"meta", {{"page", p.page}, {"limit", p.limit}, {"count", all.size()}}}};
}

} // namespace

admin_api::admin_api(broker::broker& b, serial::service* devices, bridge::supervisor* bridges,
                     std::shared_ptr<spdlog::logger> log, modbus::service* buses)
    : broker_(b), devices_(devices), bridges_(bridges), buses_(buses), log_(std::move(log)) {}

void admin_api::sample() {
    const auto s = broker_.stats();
    samples_.push_back({broker::unix_seconds(), s.messages_received, s.messages_sent});
    while (samples_.size() > max_samples) {
        samples_.pop_front();
    }
}

std::string admin_api::stats_event() const {
    auto o = stats_json(broker_.stats());
    o["time"] = broker::unix_seconds();
    return json::serialize(o);
}

std::string admin_api::metrics() const {
    const auto s = broker_.stats();
    std::string out;
    metric(out, "edgemq_messages_received_total", "counter",
           "PUBLISH messages received from clients.", s.messages_received);
    metric(out, "edgemq_messages_sent_total", "counter", "PUBLISH messages sent to clients.",
           s.messages_sent);
    metric(out, "edgemq_bytes_received_total", "counter", "Bytes received from clients.",
           s.bytes_received);
    metric(out, "edgemq_bytes_sent_total", "counter", "Bytes sent to clients.", s.bytes_sent);
    metric(out, "edgemq_messages_dropped_total", "counter",
           "Messages dropped (full queues, ACL refusals).", s.messages_dropped);
    metric(out, "edgemq_messages_denied_total", "counter",
           "PUBLISH messages and wills an ACL or the $SYS rule refused.", s.messages_denied);
    metric(out, "edgemq_packet_timeouts_total", "counter",
           "Clients disconnected for not finishing a packet within packet_timeout.",
           s.packet_timeouts);
    metric(out, "edgemq_unauthenticated_closed_total", "counter",
           "Clients disconnected for holding too much memory before CONNECT.",
           s.unauthenticated_closed);
    metric(out, "edgemq_slow_consumers_total", "counter",
           "Subscribers found not reading while publishers waited for them (slow_consumer_timeout).",
           s.slow_consumers);
    metric(out, "edgemq_clients_connected", "gauge", "Clients connected now.", s.clients_connected);
    metric(out, "edgemq_subscriptions", "gauge", "Subscriptions held by all sessions.",
           s.subscriptions);
    metric(out, "edgemq_retained_messages", "gauge", "Retained messages stored.",
           s.retained_messages);
    metric(out, "edgemq_uptime_seconds", "gauge", "Seconds since the broker started.",
           s.uptime_seconds);
    metric(out, "edgemq_persistence_errors_total", "counter",
           "Transactions the session store could not write (disk full or read-only).",
           s.persistence_errors);
    metric(out, "edgemq_persistence_failing", "gauge",
           "1 while the session store cannot write: QoS 1/2 messages for persistent sessions "
           "are not acknowledged.",
           s.persistence_failing ? 1 : 0);
    const auto devices = devices_ ? devices_->devices() : std::vector<serial::device_status>{};
    if (!devices.empty()) {
        device_metrics(out, devices);
    }
    const auto bridges = bridges_ ? bridges_->bridges() : std::vector<bridge::bridge_status>{};
    if (!bridges.empty()) {
        bridge_metrics(out, bridges);
    }
    return out;
}

void admin_api::device_metrics(std::string& out,
                               const std::vector<serial::device_status>& devices) {
    const auto count = [](std::uint64_t serial::device_status::*field) {
        return [field](const serial::device_status& d) { return std::to_string(d.*field); };
    };
    labelled_metric(
        out, devices, "device", &serial::device_status::id, "edgemq_device_online", "gauge",
        "Whether the device's serial port is open (1) or not (0).",
        [](const serial::device_status& d) { return std::string(d.online ? "1" : "0"); });
    labelled_metric(out, devices, "device", &serial::device_status::id,
                    "edgemq_device_bytes_received_total", "counter",
                    "Bytes read from the device's serial port.",
                    count(&serial::device_status::bytes));
    labelled_metric(
        out, devices, "device", &serial::device_status::id, "edgemq_device_frames_total", "counter",
        "Frames (lines) received from the device.", count(&serial::device_status::frames));
    labelled_metric(out, devices, "device", &serial::device_status::id,
                    "edgemq_device_parse_errors_total", "counter",
                    "Frames the device's parser could not read.",
                    count(&serial::device_status::parse_errors));
    labelled_metric(out, devices, "device", &serial::device_status::id,
                    "edgemq_device_dropped_total", "counter",
                    "Frames dropped: too long, or invalid in the device's encoding.",
                    count(&serial::device_status::dropped));
    labelled_metric(out, devices, "device", &serial::device_status::id,
                    "edgemq_device_reconnects_total", "counter",
                    "Times the device's port was opened again after it went away.",
                    count(&serial::device_status::reconnects));
    labelled_metric(out, devices, "device", &serial::device_status::id,
                    "edgemq_device_commands_total", "counter",
                    "Commands received for the device (on its set/ topics).",
                    count(&serial::device_status::commands));
    labelled_metric(out, devices, "device", &serial::device_status::id,
                    "edgemq_device_command_errors_total", "counter",
                    "Commands that failed: refused, or not answered in time.",
                    count(&serial::device_status::command_errors));
    labelled_metric(out, devices, "device", &serial::device_status::id,
                    "edgemq_device_last_seen_timestamp_seconds", "gauge",
                    "Unix time of the last byte from the device; 0 before any.",
                    [](const serial::device_status& d) {
                        return fmt::format("{}.{:03}", d.last_seen_ms / 1000,
                                           d.last_seen_ms % 1000);
                    });
}

void admin_api::bridge_metrics(std::string& out,
                               const std::vector<bridge::bridge_status>& bridges) {
    const auto count = [](std::uint64_t bridge::bridge_status::*field) {
        return [field](const bridge::bridge_status& b) { return std::to_string(b.*field); };
    };
    const auto name = &bridge::bridge_status::name;
    labelled_metric(out, bridges, "bridge", name, "edgemq_bridge_connected", "gauge",
                    "Whether the bridge is connected to its remote broker (1) or not (0).",
                    [](const bridge::bridge_status& b) {
                        return std::string(b.state == bridge::bridge_state::connected ? "1" : "0");
                    });
    labelled_metric(out, bridges, "bridge", name, "edgemq_bridge_queue_messages", "gauge",
                    "Messages in the bridge's durable queue, in flight included.",
                    count(&bridge::bridge_status::queued));
    labelled_metric(out, bridges, "bridge", name, "edgemq_bridge_queue_bytes", "gauge",
                    "Topic and payload bytes in the bridge's durable queue.",
                    count(&bridge::bridge_status::queued_bytes));
    labelled_metric(out, bridges, "bridge", name, "edgemq_bridge_messages_sent_total", "counter",
                    "PUBLISH packets sent to the remote broker, resends included.",
                    count(&bridge::bridge_status::sent));
    labelled_metric(out, bridges, "bridge", name, "edgemq_bridge_messages_acked_total", "counter",
                    "Messages the remote broker acknowledged.",
                    count(&bridge::bridge_status::acked));
    labelled_metric(out, bridges, "bridge", name, "edgemq_bridge_messages_dropped_total", "counter",
                    "Messages dropped: queue full, or QoS 0 while disconnected.",
                    count(&bridge::bridge_status::dropped));
    labelled_metric(out, bridges, "bridge", name, "edgemq_bridge_messages_received_total",
                    "counter", "Messages from the remote broker published locally.",
                    count(&bridge::bridge_status::received));
}

response admin_api::handle(const request& req, const target& t, std::string_view route) {
    const auto v = req.version();
    const auto method = req.method();
    const auto get_only = [&](auto&& make) {
        return method == http::verb::get ? make() : not_allowed(req, "GET");
    };
    const auto filter = [&]() -> std::string {
        const auto it = t.query.find("client_id");
        return it == t.query.end() ? std::string{} : it->second;
    };

    if (route == "status") {
        return get_only([&] {
            json::array listeners;
            for (const auto& l : broker_.listeners()) {
                listeners.push_back(
                    {{"type", broker::to_string(l.type)}, {"host", l.host}, {"port", l.port}});
            }
            listeners.push_back({{"type", self_.type}, {"host", self_.host}, {"port", self_.port}});
            const auto s = broker_.stats();
            return json_response(http::status::ok, v,
                                 json::object{{"version", EDGEMQ_VERSION},
                                              {"uptime_seconds", s.uptime_seconds},
                                              {"listeners", std::move(listeners)},
                                              {"counters", stats_json(s)}});
        });
    }
    if (route == "rates") {
        return get_only([&] {
            json::array data;
            for (const auto& s : samples_) {
                data.push_back({{"time", s.time}, {"received", s.received}, {"sent", s.sent}});
            }
            return json_response(http::status::ok, v, json::object{{"data", std::move(data)}});
        });
    }
    if (route == "clients") {
        return get_only([&] {
            const auto p = paging_of(t);
            if (!p) {
                return bad_paging(v);
            }
            auto all = broker_.clients();
            if (const auto f = filter(); !f.empty()) {
                std::erase_if(all, [&](const broker::client_info& c) {
                    return c.client_id.find(f) == std::string::npos;
                });
            }
            std::ranges::sort(all, {}, &broker::client_info::client_id);
            return json_response(http::status::ok, v, page_of(all, *p, client_json));
        });
    }
    if (route.starts_with("clients/")) {
        const auto id = percent_decoded(route.substr(8), false);
        if (!id || id->empty()) {
            return error_response(http::status::bad_request, v, "bad_request",
                                  "expected /api/v1/clients/CLIENT_ID, percent-encoded");
        }
        if (method == http::verb::delete_) {
            if (!broker_.kick(*id)) {
                return error_response(http::status::not_found, v, "not_found",
                                      "no connected client " + *id);
            }
            log_->info("admin kicked client_id={}", *id);
            return make_response(http::status::no_content, v, "", "application/json");
        }
        if (method == http::verb::get) {
            for (const auto& c : broker_.clients()) {
                if (c.client_id == *id) {
                    return json_response(http::status::ok, v, client_json(c));
                }
            }
            return error_response(http::status::not_found, v, "not_found", "no client " + *id);
        }
        return not_allowed(req, "GET, DELETE");
    }
    if (route == "subscriptions") {
        return get_only([&] {
            const auto p = paging_of(t);
            if (!p) {
                return bad_paging(v);
            }
            auto all = broker_.subscriptions();
            if (const auto f = filter(); !f.empty()) {
                std::erase_if(all, [&](const broker::subscription_info& s) {
                    return s.client_id.find(f) == std::string::npos;
                });
            }
            if (const auto g = t.query.find("share_group"); g != t.query.end()) {
                std::erase_if(all, [&](const broker::subscription_info& s) {
                    return s.share_group != g->second; // the members of one group
                });
            }
            return json_response(
                http::status::ok, v, page_of(all, *p, [](const broker::subscription_info& s) {
                    json::object o{{"client_id", s.client_id}, {"filter", s.filter},
                                   {"qos", s.qos}, {"no_local", s.no_local},
                                   {"retain_as_published", s.retain_as_published}};
                    if (!s.share_group.empty()) {
                        o["share_group"] = s.share_group;
                        o["topic"] = s.filter.substr(s.filter.find('/', 7) + 1); // after $share/GROUP/
                    }
                    if (s.identifier != 0) {
                        o["subscription_identifier"] = s.identifier;
                    }
                    return o;
                }));
        });
    }
    if (route == "retained") {
        return get_only([&] {
            const auto p = paging_of(t);
            if (!p) {
                return bad_paging(v);
            }
            auto all = broker_.retained();
            std::ranges::sort(all, {}, [](const broker::message_ptr& m) { return m->topic; });
            return json_response(
                http::status::ok, v,
                page_of(all, *p, [](const broker::message_ptr& m) { return message_json(*m); }));
        });
    }
    if (route.starts_with("retained/")) {
        const auto topic = percent_decoded(route.substr(9), false);
        if (!topic || topic->empty()) {
            return error_response(http::status::bad_request, v, "bad_request",
                                  "expected /api/v1/retained/TOPIC, percent-encoded");
        }
        if (method == http::verb::delete_) {
            if (!broker_.delete_retained(*topic)) {
                return error_response(http::status::not_found, v, "not_found",
                                      "no retained message on " + *topic);
            }
            log_->info("admin deleted the retained message topic={}", *topic);
            return make_response(http::status::no_content, v, "", "application/json");
        }
        if (method == http::verb::get) {
            for (const auto& m : broker_.retained()) {
                if (m->topic == *topic) {
                    return json_response(http::status::ok, v, message_json(*m));
                }
            }
            return error_response(http::status::not_found, v, "not_found",
                                  "no retained message on " + *topic);
        }
        return not_allowed(req, "GET, DELETE");
    }
    if (route == "devices" || route.starts_with("devices/")) {
        return handle_devices(req, t, route);
    }
    if (route == "ports") {
        return get_only([&] {
            const auto p = paging_of(t);
            if (!p) {
                return bad_paging(v);
            }
            // Blocks on sysfs reads, on this thread of the admin server's own.
            const auto ports = serial::list_ports();
            const auto all = devices_ ? devices_->devices() : std::vector<serial::device_status>{};
            return json_response(
                http::status::ok, v, page_of(ports, *p, [&all](const serial::port_info& port) {
                    auto o = port_json(port);
                    const auto it = std::ranges::find(all, port.path, &serial::device_status::port);
                    o["device"] = it == all.end() ? json::value(nullptr) : json::value(it->id);
                    return o;
                }));
        });
    }
    if (route == "bridges" || route.starts_with("bridges/")) {
        return get_only([&] { return handle_bridges(req, t, route); });
    }
    if (route == "modbus" || route.starts_with("modbus/")) {
        return get_only([&] { return handle_modbus(req, t, route); });
    }
    return error_response(http::status::not_found, v, "not_found",
                          "no such API: " + std::string(t.path));
}

response admin_api::handle_devices(const request& req, const target& t, std::string_view route) {
    const auto v = req.version();
    const auto method = req.method();
    const auto all = devices_ ? devices_->devices() : std::vector<serial::device_status>{};
    if (route == "devices") {
        if (method != http::verb::get) {
            return not_allowed(req, "GET");
        }
        const auto p = paging_of(t);
        if (!p) {
            return bad_paging(v);
        }
        // In configuration order, which is the order the operator wrote them in; the same
        // shape as page_of(), written as text (see device_json).
        std::string body = R"({"data":[)";
        const std::size_t first = (p->page - 1) * p->limit;
        for (std::size_t i = first; i < all.size() && i < first + p->limit; ++i) {
            body += i == first ? "" : ",";
            body += device_json(all[i]);
        }
        body += R"(],"meta":)";
        body += json::serialize(
            json::object{{"page", p->page}, {"limit", p->limit}, {"count", all.size()}});
        body += '}';
        return make_response(http::status::ok, v, std::move(body), "application/json");
    }
    // devices/ID or devices/ID/restart, ID percent-encoded.
    const auto rest = route.substr(8);
    const auto slash = rest.find('/');
    const auto action = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
    const auto id = percent_decoded(rest.substr(0, slash), false);
    if (!id || id->empty() || (!action.empty() && action != "/restart")) {
        return error_response(http::status::not_found, v, "not_found",
                              "no such API: " + std::string(t.path) +
                                  "; expected /api/v1/devices/ID or /api/v1/devices/ID/restart");
    }
    if (action.empty() ? method != http::verb::get : method != http::verb::post) {
        return not_allowed(req, action.empty() ? "GET" : "POST");
    }
    const auto it = std::ranges::find(all, *id, &serial::device_status::id);
    if (it == all.end()) {
        return error_response(http::status::not_found, v, "not_found", "no device " + *id);
    }
    if (action.empty()) {
        return make_response(http::status::ok, v, device_json(*it), "application/json");
    }
    // The id was there a moment ago; a SIGHUP may have removed it since.
    if (!devices_->restart(*id)) {
        return error_response(http::status::not_found, v, "not_found", "no device " + *id);
    }
    log_->info("admin restarted device={}", *id);
    // Accepted: the port closes and reopens on the serial thread, after this answer.
    return json_response(http::status::accepted, v,
                         json::object{{"id", *id}, {"status", "restarting"}});
}

response admin_api::handle_bridges(const request& req, const target& t, std::string_view route) {
    const auto v = req.version();
    const auto all = bridges_ ? bridges_->bridges() : std::vector<bridge::bridge_status>{};
    if (route == "bridges") {
        const auto p = paging_of(t);
        if (!p) {
            return bad_paging(v);
        }
        return json_response(http::status::ok, v, page_of(all, *p, bridge_json));
    }
    const auto name = percent_decoded(route.substr(8), false).value_or("");
    const auto it = std::ranges::find(all, name, &bridge::bridge_status::name);
    if (it == all.end()) {
        return error_response(http::status::not_found, v, "not_found", "no bridge " + name);
    }
    return json_response(http::status::ok, v, bridge_json(*it));
}

response admin_api::handle_modbus(const request& req, const target& t, std::string_view route) {
    const auto v = req.version();
    const auto all = buses_ ? buses_->buses() : std::vector<modbus::bus_status>{};
    if (route == "modbus") {
        const auto p = paging_of(t);
        if (!p) {
            return bad_paging(v);
        }
        return json_response(http::status::ok, v, page_of(all, *p, modbus_bus_json));
    }
    const auto name = percent_decoded(route.substr(7), false).value_or("");
    const auto it = std::ranges::find(all, name, &modbus::bus_status::name);
    if (it == all.end()) {
        return error_response(http::status::not_found, v, "not_found", "no Modbus bus " + name);
    }
    return json_response(http::status::ok, v, modbus_bus_json(*it));
}

} // namespace edgemq::app
