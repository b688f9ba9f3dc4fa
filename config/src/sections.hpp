// SPDX-License-Identifier: Apache-2.0
#pragma once

// The array sections that have a file of their own; read_gateway in load.cpp puts them
// together with [broker], [[listeners]], [log] and [admin].

#include "reader.hpp"

#include <edgemq/config/model.hpp>

#include <string_view>
#include <vector>

namespace edgemq::config::detail {

/// [[devices]]: one serial device each (devices.cpp).
field device_array(std::string_view key, std::vector<device>& out);

/// [[bridges]]: one remote broker each (bridges.cpp).
field bridge_array(std::string_view key, std::vector<bridge>& out);

} // namespace edgemq::config::detail
