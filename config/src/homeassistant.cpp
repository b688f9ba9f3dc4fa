// SPDX-License-Identifier: Apache-2.0
// [homeassistant] and the Home Assistant keys of [devices.fields.<name>]: component,
// device_class, state_class. The classes are Home Assistant's documented ones (sensor and
// binary_sensor, https://www.home-assistant.io/integrations/sensor/#device-class), so that a
// typo is refused here at its position rather than ignored by Home Assistant later.

#include "sections.hpp"

#include <algorithm>
#include <array>

namespace edgemq::config::detail {

namespace {

// Sensor device classes, without "enum": Home Assistant needs a list of options with it, which
// edgemq cannot know.
constexpr auto sensor_device_classes = std::to_array<std::string_view>({
    "absolute_humidity",
    "apparent_power",
    "aqi",
    "area",
    "atmospheric_pressure",
    "battery",
    "blood_glucose_concentration",
    "carbon_dioxide",
    "carbon_monoxide",
    "conductivity",
    "current",
    "data_rate",
    "data_size",
    "date",
    "distance",
    "duration",
    "energy",
    "energy_distance",
    "energy_storage",
    "frequency",
    "gas",
    "humidity",
    "illuminance",
    "irradiance",
    "moisture",
    "monetary",
    "nitrogen_dioxide",
    "nitrogen_monoxide",
    "nitrous_oxide",
    "ozone",
    "ph",
    "pm1",
    "pm10",
    "pm25",
    "power",
    "power_factor",
    "precipitation",
    "precipitation_intensity",
    "pressure",
    "reactive_energy",
    "reactive_power",
    "signal_strength",
    "sound_pressure",
    "speed",
    "sulphur_dioxide",
    "temperature",
    "timestamp",
    "volatile_organic_compounds",
    "volatile_organic_compounds_parts",
    "voltage",
    "volume",
    "volume_flow_rate",
    "volume_storage",
    "water",
    "weight",
    "wind_direction",
    "wind_speed",
});

constexpr auto binary_sensor_device_classes = std::to_array<std::string_view>({
    "battery",
    "battery_charging",
    "carbon_monoxide",
    "cold",
    "connectivity",
    "door",
    "garage_door",
    "gas",
    "heat",
    "light",
    "lock",
    "moisture",
    "motion",
    "moving",
    "occupancy",
    "opening",
    "plug",
    "power",
    "presence",
    "problem",
    "running",
    "safety",
    "smoke",
    "sound",
    "tamper",
    "update",
    "vibration",
    "window",
});

constexpr std::array<std::string_view, 4> state_classes{"measurement", "measurement_angle", "total",
                                                        "total_increasing"};

names device_classes_of(entity_component c) {
    if (c == entity_component::binary_sensor) {
        return binary_sensor_device_classes;
    }
    return sensor_device_classes;
}

std::string_view component_name(entity_component c) {
    return c == entity_component::binary_sensor ? "binary_sensor" : "sensor";
}

/// The node of `key` in the table `at`, or `at` itself.
const toml::node& key_or_table(const toml::node& at, std::string_view key) {
    const auto* table = at.as_table();
    const auto* node = table != nullptr ? table->get(key) : nullptr;
    return node != nullptr ? *node : at;
}

/// Why `topic` cannot be an MQTT topic name edgemq publishes to or subscribes to exactly, or "".
std::string topic_problem(std::string_view topic) {
    if (topic.empty()) {
        return "must not be empty";
    }
    if (topic.find_first_of("+#") != std::string_view::npos) {
        return "must not hold the wildcards '+' or '#'";
    }
    if (topic.find('\0') != std::string_view::npos) {
        return "must not hold a NUL character";
    }
    return "";
}

field topic_text(std::string_view key, std::string& out, bool* given = nullptr) {
    return {key, [&out, given](context& cx, const toml::node& node, const std::string& path) {
                const auto value = read_string(cx, node, path);
                if (!value) {
                    return;
                }
                if (const auto why = topic_problem(*value); !why.empty()) {
                    cx.error(node, path, why + ", got " + double_quoted(*value));
                    return;
                }
                out = *value;
                if (given != nullptr) {
                    *given = true;
                }
            }};
}

} // namespace

field homeassistant_table(std::string_view key, homeassistant& out) {
    return {key, [&out](context& cx, const toml::node& node, const std::string& path) {
                bool status_given = false;
                read_table(cx, node, path,
                           {
                               boolean("enabled", out.enabled),
                               topic_text("discovery_prefix", out.discovery_prefix),
                               topic_text("status_topic", out.status_topic, &status_given),
                               nonempty_text("gateway_id", out.gateway_id),
                           });
                if (!status_given) {
                    out.status_topic = out.discovery_prefix + "/status";
                }
                if (out.discovery_prefix.ends_with('/')) {
                    cx.error(
                        key_or_table(node, "discovery_prefix"), path + ".discovery_prefix",
                        "must not end with '/' (the topics are <discovery_prefix>/device/...), "
                        "got " +
                            double_quoted(out.discovery_prefix));
                }
                const auto bad_char = [](char c) { return c == '_' || !is_id_char(c); };
                if (std::ranges::any_of(out.gateway_id, bad_char)) {
                    cx.error(key_or_table(node, "gateway_id"), path + ".gateway_id",
                             "may hold only letters, digits and '-' (it is followed by '_' and the "
                             "device id in identifiers), got " +
                                 double_quoted(out.gateway_id));
                }
            }};
}

void check_entity(context& cx, const toml::node& at, const std::string& path,
                  const device_field& f) {
    if (!at.is_table()) {
        return;
    }
    const bool boolean_type = f.type == field_type::boolean;
    const auto component = f.component != entity_component::automatic ? f.component
                           : boolean_type ? entity_component::binary_sensor
                                          : entity_component::sensor;
    if (f.component == entity_component::binary_sensor && f.type != field_type::boolean &&
        f.type != field_type::automatic) {
        cx.error(key_or_table(at, "component"), path + ".component",
                 R"(component = "binary_sensor" needs type = "bool" )"
                 R"((or "auto" with true/false values))");
    }
    if (!f.device_class.empty()) {
        const auto known = device_classes_of(component);
        if (std::ranges::find(known, f.device_class) == known.end()) {
            cx.error(key_or_table(at, "device_class"), path + ".device_class",
                     "unknown " + std::string(component_name(component)) + " device_class " +
                         double_quoted(f.device_class) +
                         " (Home Assistant's are listed at https://www.home-assistant.io/"
                         "integrations/" +
                         std::string(component_name(component)) + "/#device-class)" +
                         did_you_mean(f.device_class, known, double_quoted));
        }
    }
    if (!f.state_class.empty()) {
        if (component == entity_component::binary_sensor) {
            cx.error(key_or_table(at, "state_class"), path + ".state_class",
                     "a binary_sensor has no state_class; only a sensor does");
        } else if (std::ranges::find(state_classes, f.state_class) == state_classes.end()) {
            cx.error(key_or_table(at, "state_class"), path + ".state_class",
                     "expected one of " + listed(state_classes, double_quoted) + ", got " +
                         double_quoted(f.state_class) +
                         did_you_mean(f.state_class, state_classes, double_quoted));
        } else if (f.type == field_type::string || f.type == field_type::boolean) {
            cx.error(key_or_table(at, "state_class"), path + ".state_class",
                     "a state_class needs a numeric field (type \"int\", \"float\" or \"auto\")");
        }
    }
}

} // namespace edgemq::config::detail
