// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>

/// Packet identifiers [MQTT-2.3.1], for both sides of the protocol layer: the server's
/// session_state and the bridge's client_session take theirs from here.
namespace edgemq::broker::protocol {

/// Hands out packet ids in sequence, 1 to 65535 and round again, skipping those still in use.
/// It owns no set of ids: the owner's in-flight state is the one truth about which are taken,
/// and the pool asks it (an idle session stays two bytes). The window of ids in use is far
/// smaller than 65535, so the search is short.
/// Thread safety: none; owned with the session it serves.
class packet_id_pool {
public:
    /// A free id for a new QoS 1/2 PUBLISH, SUBSCRIBE or UNSUBSCRIBE; `in_use(id)` says whether
    /// an id is taken. 0 when all 65535 are.
    template <typename InUse> std::uint16_t allocate(InUse&& in_use) {
        for (unsigned tries = 0; tries < 65535; ++tries) {
            // Never 0 [MQTT-2.3.1-1].
            last_ = static_cast<std::uint16_t>(last_ == 65535 ? 1 : last_ + 1);
            if (!in_use(last_)) { // a currently unused id [MQTT-2.3.1-2]
                return last_;
            }
        }
        return 0;
    }

private:
    std::uint16_t last_ = 0;
};

} // namespace edgemq::broker::protocol
