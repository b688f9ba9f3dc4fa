// SPDX-License-Identifier: Apache-2.0
#include "homeassistant.hpp"

#include "edgemq/modbus/registers.hpp"

#include "edgemq/config/regex.hpp"
#include "edgemq/serial/mapping.hpp"

#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <climits>
#include <cmath>
#include <set>

namespace edgemq::app {
namespace {

namespace json = boost::json;

/// HA's text entity takes at most 255 characters (its state's limit).
constexpr std::size_t ha_text_max = 255;
/// HA's number entity defaults to 1..100; a command without bounds gets these instead, and a
/// box to type into rather than a slider.
constexpr double number_unbounded = 1e9;

std::string object_id(std::string_view gateway_id) {
    return "edgemq_" + std::string(gateway_id);
}

std::string object_id(std::string_view gateway_id, const config::device& d) {
    return object_id(gateway_id) + '_' + d.id;
}

std::string config_topic(const config::homeassistant& ha, std::string_view object) {
    return ha.discovery_prefix + "/device/" + std::string(object) + "/config";
}

json::object origin() {
    return {{"name", "edgemq"}, {"sw_version", EDGEMQ_VERSION}};
}

/// A Jinja expression reading `name` from the JSON state: value_json.name where that is a plain
/// identifier that no dict method shadows, else value_json['name'] with ' and \ escaped.
std::string value_json(std::string_view name) {
    static constexpr std::array<std::string_view, 11> dict_methods{
        "clear", "copy",    "fromkeys",   "get",    "items", "keys",
        "pop",   "popitem", "setdefault", "update", "values"};
    const auto word_char = [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
    };
    const bool plain = !name.empty() && std::isdigit(static_cast<unsigned char>(name[0])) == 0 &&
                       std::ranges::all_of(name, word_char) &&
                       std::ranges::find(dict_methods, name) == dict_methods.end();
    if (plain) {
        return "value_json." + std::string(name);
    }
    std::string quoted = "value_json['";
    for (const char c : name) {
        if (c == '\'' || c == '\\') {
            quoted.push_back('\\');
        }
        quoted.push_back(c);
    }
    return quoted + "']";
}

/// A bound as JSON: an integer when it is one.
json::value number(double d) {
    if (std::trunc(d) == d && std::abs(d) < 9e15) {
        return static_cast<std::int64_t>(d);
    }
    return d;
}

/// One entity read from the device's messages.
struct entity_field {
    std::string name;                   ///< the value's name in the state JSON
    const config::device_field* config; ///< nullptr for an unconfigured known key
};

/// The values a device publishes that are known from its configuration: its fields, then the
/// keys its parser produces that no field names (raw "value", csv columns, regex groups).
std::vector<entity_field> fields_of(const config::device& d) {
    std::vector<entity_field> out;
    for (const auto& f : d.fields) {
        out.push_back({f.name, &f});
    }
    std::vector<std::string> keys;
    switch (d.parser.kind) {
    case config::parser_kind::raw:
        keys.emplace_back("value");
        break;
    case config::parser_kind::csv:
        for (const auto& c : d.parser.columns) {
            if (c != "_") {
                keys.push_back(c);
            }
        }
        break;
    case config::parser_kind::regex:
        for (auto& g : config::strip_named_groups(d.parser.pattern).second) {
            // Unnamed groups ("1", "2"...) mostly group alternatives; they are not announced.
            if (!std::ranges::all_of(g, [](char c) { return c >= '0' && c <= '9'; })) {
                keys.push_back(std::move(g));
            }
        }
        break;
    case config::parser_kind::kv:
    case config::parser_kind::json:
        break; // keys known only from the frames
    }
    for (auto& k : keys) {
        const bool configured = std::ranges::any_of(
            d.fields, [&k](const config::device_field& f) { return f.source == k; });
        const bool named = std::ranges::any_of(out, [&k](const auto& e) { return e.name == k; });
        if (!configured && !named) {
            out.push_back({std::move(k), nullptr});
        }
    }
    return out;
}

/// The sensor or binary_sensor of one field, or nothing when the device publishes no message
/// that carries it.
std::optional<json::object> field_component(const config::device& d, const entity_field& e,
                                            const std::string& unique_id) {
    const auto& p = d.publish;
    const config::device_field fallback;
    const auto& f = e.config != nullptr ? *e.config : fallback;
    const bool binary = f.component == config::entity_component::binary_sensor ||
                        (f.component == config::entity_component::automatic &&
                         f.type == config::field_type::boolean);
    json::object c;
    c["platform"] = binary ? "binary_sensor" : "sensor";
    c["unique_id"] = unique_id;
    c["name"] = f.entity_name.empty() ? e.name : f.entity_name;
    if (p.state) {
        c["state_topic"] = serial::expand_topic(p.state_topic, p.base, d.id);
        const auto read = value_json(e.name);
        // A JSON true renders as "True" in Jinja; to_json gives back the "true" the device sent.
        c["value_template"] = binary ? "{{ " + read + " | to_json }}" : "{{ " + read + " }}";
    } else if (p.fields) {
        c["state_topic"] = serial::expand_topic(p.field_topic, p.base, d.id, e.name);
    } else {
        return std::nullopt;
    }
    if (binary) {
        // What serial::to_json / to_text write for a bool.
        c["payload_on"] = "true";
        c["payload_off"] = "false";
    } else if (!f.unit.empty()) {
        c["unit_of_measurement"] = f.unit;
    }
    if (!f.device_class.empty()) {
        c["device_class"] = f.device_class;
    }
    if (!f.state_class.empty()) {
        c["state_class"] = f.state_class;
    }
    return c;
}

/// The entity of one command: the type decides which, and its payloads are ones that
/// serial::encode_command accepts.
json::object command_component(const config::device& d, const config::device_command& cmd,
                               const std::string& unique_id) {
    json::object c;
    c["unique_id"] = unique_id;
    c["name"] = cmd.name;
    c["command_topic"] = d.publish.base + '/' + d.id + "/set/" + cmd.name;
    switch (cmd.type) {
    case config::command_type::boolean:
        c["platform"] = "switch";
        c["payload_on"] = "ON";
        c["payload_off"] = "OFF";
        break;
    case config::command_type::enumeration: {
        c["platform"] = "select";
        json::array options;
        for (const auto& v : cmd.values) {
            options.emplace_back(v);
        }
        c["options"] = std::move(options);
        break;
    }
    case config::command_type::integer:
    case config::command_type::number:
        c["platform"] = "number";
        c["min"] = number(cmd.min.value_or(-number_unbounded));
        c["max"] = number(cmd.max.value_or(number_unbounded));
        // HA's finest step; the device checks the value itself.
        c["step"] = cmd.type == config::command_type::integer ? json::value(1) : json::value(0.001);
        if (!cmd.min || !cmd.max || cmd.type == config::command_type::number) {
            c["mode"] = "box";
        }
        break;
    case config::command_type::none:
        c["platform"] = "button";
        c["payload_press"] = "PRESS";
        break;
    case config::command_type::string:
        c["platform"] = "text";
        c["max"] = static_cast<std::int64_t>(std::min(cmd.max_length, ha_text_max));
        break;
    }
    return c;
}

json::object device_block(const config::device& d, std::string_view gateway_id) {
    json::object dev;
    dev["identifiers"] = json::array{json::value(object_id(gateway_id, d))};
    dev["name"] = d.name.empty() ? d.id : d.name;
    if (!d.manufacturer.empty()) {
        dev["manufacturer"] = d.manufacturer;
    }
    if (!d.model.empty()) {
        dev["model"] = d.model;
    }
    if (!d.match.serial.empty()) {
        dev["serial_number"] = d.match.serial;
    }
    dev["via_device"] = object_id(gateway_id);
    return dev;
}

discovery_message device_message(const config::gateway& cfg, const config::device& d,
                                 std::string_view gateway_id) {
    const auto object = object_id(gateway_id, d);
    json::object components;
    for (const auto& e : fields_of(d)) {
        if (auto c = field_component(d, e, object + '_' + e.name)) {
            components[e.name] = std::move(*c);
        }
    }
    for (const auto& cmd : d.commands) {
        const auto key = "set_" + cmd.name;
        components[key] = command_component(d, cmd, object + '_' + key);
    }
    json::object root;
    root["device"] = device_block(d, gateway_id);
    root["origin"] = origin();
    root["availability"] = json::array{json::object{
        {"topic", d.publish.base + '/' + d.id + "/availability"},
        {"payload_available", "online"},
        {"payload_not_available", "offline"},
    }};
    root["components"] = std::move(components);
    return {config_topic(cfg.homeassistant, object), json::serialize(root)};
}

/// The gateway as a device of its own, so that via_device names something: its $SYS sensors.
/// Home Assistant creates no device without an entity, so none without $SYS.
std::optional<discovery_message> gateway_message(const config::gateway& cfg,
                                                 std::string_view gateway_id) {
    if (cfg.broker.sys_interval.count() == 0) {
        return std::nullopt;
    }
    const auto object = object_id(gateway_id);
    json::object root;
    root["device"] = json::object{
        {"identifiers", json::array{json::value(object)}},
        {"name", "edgemq " + std::string(gateway_id)},
        {"manufacturer", "edgemq"},
        {"model", "edgemq gateway"},
        {"sw_version", EDGEMQ_VERSION},
    };
    root["origin"] = origin();
    root["components"] = json::object{
        {"clients_connected",
         json::object{
             {"platform", "sensor"},
             {"unique_id", object + "_clients_connected"},
             {"name", "MQTT clients connected"},
             {"state_topic", "$SYS/broker/clients/connected"},
             {"state_class", "measurement"},
             {"entity_category", "diagnostic"},
         }},
        {"uptime",
         json::object{
             {"platform", "sensor"},
             {"unique_id", object + "_uptime"},
             {"name", "Uptime"},
             {"state_topic", "$SYS/broker/uptime"},
             // The payload is "<n> seconds", as Mosquitto's.
             {"value_template", "{{ value.split(' ')[0] | int }}"},
             {"device_class", "duration"},
             {"unit_of_measurement", "s"},
             {"entity_category", "diagnostic"},
         }},
    };
    return discovery_message{config_topic(cfg.homeassistant, object), json::serialize(root)};
}

} // namespace

std::vector<discovery_message> discovery_messages(const config::gateway& cfg,
                                                  std::string_view gateway_id) {
    std::vector<discovery_message> out;
    if (!cfg.homeassistant.enabled) {
        return out;
    }
    if (auto g = gateway_message(cfg, gateway_id)) {
        out.push_back(std::move(*g));
    }
    for (const auto& d : cfg.devices) {
        out.push_back(device_message(cfg, d, gateway_id));
    }
    // A Modbus slave publishes like a line device with its registers as fields.
    for (const auto& bus : cfg.modbus) {
        for (const auto& slave : bus.slaves) {
            out.push_back(device_message(cfg, modbus::slave_device(slave), gateway_id));
        }
    }
    return out;
}

std::vector<discovery_message> discovery_changes(const std::vector<discovery_message>& before,
                                                 const std::vector<discovery_message>& after) {
    std::vector<discovery_message> out;
    for (const auto& old : before) {
        if (std::ranges::find(after, old.topic, &discovery_message::topic) == after.end()) {
            out.push_back({old.topic, {}});
        }
    }
    for (const auto& m : after) {
        if (std::ranges::find(before, m) == before.end()) {
            out.push_back(m);
        }
    }
    return out;
}

std::vector<std::string> stale_discovery_topics(const std::vector<discovery_message>& retained,
                                                std::string_view gateway_id,
                                                const std::vector<discovery_message>& current) {
    const auto gateway = object_id(gateway_id);
    std::vector<std::string> out;
    for (const auto& m : retained) {
        // <prefix>/device/<object>/config, where <object> is the gateway's or one of its devices'.
        const std::string_view t = m.topic;
        constexpr std::string_view tail = "/config";
        const auto dev = t.rfind("/device/");
        if (dev == std::string_view::npos || !t.ends_with(tail)) {
            continue;
        }
        const auto object = t.substr(dev + 8, t.size() - tail.size() - dev - 8);
        if (object != gateway && !object.starts_with(gateway + '_')) {
            continue;
        }
        // The payload decides: "edgemq_site" is a prefix of gateway "site_b"'s ids too.
        boost::system::error_code ec;
        const auto v = json::parse(m.payload, ec);
        const auto* root = v.if_object();
        const auto* device = root != nullptr ? root->if_contains("device") : nullptr;
        const auto* d = device != nullptr ? device->if_object() : nullptr;
        if (ec || d == nullptr) {
            continue;
        }
        const auto* via = d->if_contains("via_device");
        const auto* ids = d->if_contains("identifiers");
        const bool ours =
            object == gateway
                ? via == nullptr && ids != nullptr && ids->is_array() &&
                      std::ranges::find(ids->as_array(), json::value(gateway)) !=
                          ids->as_array().end()
                : via != nullptr && via->is_string() && via->as_string() == gateway;
        if (ours && std::ranges::find(current, m.topic, &discovery_message::topic) == current.end()) {
            out.push_back(m.topic);
        }
    }
    return out;
}

std::string discovery_gateway_id(const config::homeassistant& cfg, std::string_view host_name) {
    if (!cfg.gateway_id.empty()) {
        return cfg.gateway_id;
    }
    std::string id;
    for (const char c : host_name) {
        id.push_back(std::isalnum(static_cast<unsigned char>(c)) != 0 ? c : '-');
    }
    return id.empty() ? "gateway" : id;
}

homeassistant_discovery::homeassistant_discovery(boost::asio::io_context& ctx, broker::broker& b,
                                                 std::shared_ptr<spdlog::logger> log)
    : ctx_(ctx), broker_(b), log_(std::move(log)) {}

void homeassistant_discovery::apply(const config::gateway& cfg) {
    std::array<char, HOST_NAME_MAX + 1> host{};
    if (::gethostname(host.data(), host.size() - 1) != 0) {
        host[0] = '\0';
    }
    const auto gateway_id = discovery_gateway_id(cfg.homeassistant, host.data());
    auto next = discovery_messages(cfg, gateway_id);
    auto changes = discovery_changes(announced_, next);
    // Configs an earlier run left retained (kept across restarts with persistence) for devices
    // removed while the gateway was stopped: announced_ does not know them.
    std::vector<discovery_message> retained;
    for (const auto& m : broker_.retained()) {
        if (m->topic.ends_with("/config")) {
            retained.push_back({m->topic, m->payload});
        }
    }
    for (auto& topic : stale_discovery_topics(retained, gateway_id, next)) {
        if (std::ranges::find(changes, topic, &discovery_message::topic) == changes.end()) {
            log_->info("clearing {}: retained from an earlier run, no longer configured", topic);
            changes.push_back({std::move(topic), {}});
        }
    }
    if (!client_ && (cfg.homeassistant.enabled || !changes.empty())) {
        std::weak_ptr<homeassistant_discovery> weak = shared_from_this();
        client_ = broker_.connect_internal(
            "homeassistant", [weak, &ctx = ctx_](const broker::message_ptr& m) {
                // On a broker thread: the state is the main thread's.
                boost::asio::post(ctx, [weak, m] {
                    if (auto self = weak.lock(); self && m->topic == self->status_topic_) {
                        self->on_status(m->payload);
                    }
                });
            });
    }
    const auto status = cfg.homeassistant.enabled ? cfg.homeassistant.status_topic : "";
    if (status != status_topic_) {
        if (!status_topic_.empty()) {
            client_->unsubscribe(status_topic_);
        }
        status_topic_ = status;
        if (!status_topic_.empty()) {
            client_->subscribe(status_topic_, 1);
        }
    }
    std::size_t cleared = 0;
    for (const auto& m : changes) {
        publish(m);
        cleared += m.payload.empty() ? 1 : 0;
    }
    if (cfg.homeassistant.enabled || !changes.empty()) {
        log_->info("{} discovery configs on {}/device/ (gateway_id={}), {} "
                   "published, {} cleared",
                   next.size(), cfg.homeassistant.discovery_prefix, gateway_id,
                   changes.size() - cleared, cleared);
    }
    announced_ = std::move(next);
}

void homeassistant_discovery::on_status(const std::string& payload) {
    // Home Assistant's birth message; "offline" (its will) needs nothing. No client: stopped.
    if (payload != "online" || !client_) {
        return;
    }
    log_->info("{} said online, sending {} discovery configs again", status_topic_,
               announced_.size());
    for (const auto& m : announced_) {
        publish(m);
    }
}

void homeassistant_discovery::publish(const discovery_message& m) {
    log_->debug("{} ({} bytes)", m.topic, m.payload.size());
    client_->publish({m.topic, m.payload, 1, true, 0});
}

void homeassistant_discovery::stop() {
    if (client_) {
        client_->disconnect();
        client_.reset();
    }
}

} // namespace edgemq::app
