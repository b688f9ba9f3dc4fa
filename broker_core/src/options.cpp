// SPDX-License-Identifier: Apache-2.0
#include "edgemq/broker/options.hpp"

namespace edgemq::broker {

std::string_view to_string(listener_type t) noexcept {
    switch (t) {
    case listener_type::tcp:
        return "tcp";
    case listener_type::tls:
        return "tls";
    case listener_type::ws:
        return "ws";
    case listener_type::wss:
        return "wss";
    }
    return "tcp";
}

} // namespace edgemq::broker
