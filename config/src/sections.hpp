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

/// [[bridges]]: one remote broker each (bridges.cpp).
field bridge_array(std::string_view key, std::vector<bridge>& out);

/// [homeassistant]: discovery prefix, status topic, gateway id (homeassistant.cpp).
field homeassistant_table(std::string_view key, homeassistant& out);

/// The Home Assistant keys of the field table `at` (component, device_class, state_class)
/// against the field's type and Home Assistant's documented classes (homeassistant.cpp).
void check_entity(context& cx, const toml::node& at, const std::string& path,
                  const device_field& f);

} // namespace edgemq::config::detail
