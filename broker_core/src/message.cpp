// SPDX-License-Identifier: Apache-2.0
#include "edgemq/broker/message.hpp"

#include <algorithm>

namespace edgemq::broker {
namespace {

using clock = std::chrono::steady_clock;

std::size_t varint_size(std::size_t v) {
    return v < 128 ? 1 : v < 16'384 ? 2 : v < 2'097'152 ? 3 : 4;
}

} // namespace

void adopt_properties(message& m, codec::property_set props) {
    if (props.empty()) {
        return;
    }
    auto& e = props.edit();
    if (e.message_expiry_interval) {
        m.expires_at = clock::now() + std::chrono::seconds(*e.message_expiry_interval);
    }
    e.message_expiry_interval.reset();
    e.topic_alias.reset();
    e.will_delay_interval.reset();
    e.subscription_identifiers.clear();
    m.props = std::move(props);
}

codec::properties outbound_properties(const message& m,
                                      std::span<const std::uint32_t> subscription_ids) {
    codec::properties p = m.props.get();
    p.subscription_identifiers.assign(subscription_ids.begin(), subscription_ids.end());
    if (m.expires_at != clock::time_point{}) {
        const auto left = std::chrono::ceil<std::chrono::seconds>(m.expires_at - clock::now());
        p.message_expiry_interval = static_cast<std::uint32_t>(std::max<std::int64_t>(left.count(), 1));
    }
    return p;
}

std::size_t publish_packet_size(const message& m, std::uint8_t qos, const codec::properties* props,
                                bool topic_omitted) {
    const std::size_t remaining = 2 + (topic_omitted ? 0 : m.topic.size()) + (qos > 0 ? 2 : 0) +
                                  (props != nullptr ? codec::properties_size(*props) : 0) +
                                  m.payload.size();
    return 1 + varint_size(remaining) + remaining;
}

} // namespace edgemq::broker
