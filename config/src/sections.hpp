// SPDX-License-Identifier: Apache-2.0
#pragma once

// The sections that have a file of their own; read_gateway in load.cpp puts them together
// with [broker], [[listeners]], [log] and [admin].

#include "reader.hpp"

#include <edgemq/config/model.hpp>

#include <string_view>
#include <vector>

namespace edgemq::config::detail {

/// [[devices]]: one serial device each (devices.cpp).
field device_array(std::string_view key, std::vector<device>& out);

/// `match = { path, by_id, vid, pid, serial, product, location }` of a device or a Modbus bus,
/// and the checks that need several of its keys, reported at `at` (devices.cpp).
field match_table(std::string_view key, device_match& m);
void check_match(context& cx, const toml::node& at, const std::string& path,
                 const device_match& m);

/// `[devices.publish]`, also `[modbus.slaves.publish]` (devices.cpp).
field publish_table(std::string_view key, device_publish& p);

/// Why `later` cannot have the port that `earlier` (at `earlier_path`) already has, or ""
/// (devices.cpp).
std::string claimed_twice(const device_match& earlier, const device_match& later,
                          const std::string& earlier_path);

/// [[modbus]]: Modbus RTU buses and their slaves (modbus.cpp).
field modbus_array(std::string_view key, std::vector<modbus_bus>& out);

/// The ports and names [[modbus]] shares with [[devices]]: a bus on the port of another bus or
/// of a line device, a slave named like a device or another slave (modbus.cpp).
void check_modbus_against_devices(context& cx, const toml::table& root, const gateway& g);

/// [[bridges]]: one remote broker each (bridges.cpp).
field bridge_array(std::string_view key, std::vector<bridge>& out);

/// [homeassistant]: discovery prefix, status topic, gateway id (homeassistant.cpp).
field homeassistant_table(std::string_view key, homeassistant& out);

/// The Home Assistant keys of the field table `at` (component, device_class, state_class)
/// against the field's type and Home Assistant's documented classes (homeassistant.cpp).
void check_entity(context& cx, const toml::node& at, const std::string& path,
                  const device_field& f);

} // namespace edgemq::config::detail
