// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/broker/options.hpp"
#include "edgemq/config/model.hpp"

namespace edgemq::app {

/// The broker's options from the configuration's `[broker]` and `[[listeners]]` (the broker
/// never sees the configuration itself). Expects a validated configuration.
broker::broker_options to_broker_options(const config::gateway& cfg);

} // namespace edgemq::app
