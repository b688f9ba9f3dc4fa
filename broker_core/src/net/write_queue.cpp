// SPDX-License-Identifier: Apache-2.0
#include "edgemq/broker/net/write_queue.hpp"

namespace edgemq::broker::net {

void write_queue::append_publish(const message_ptr& m, std::uint8_t qos, bool retain, bool dup,
                                 std::uint16_t packet_id, const codec::properties* props,
                                 bool topic_omitted) {
    codec::encode_publish_head(topic_omitted ? std::string_view{} : std::string_view{m->topic},
                               m->payload.size(), qos, retain, dup, packet_id, bytes_, props);
    if (m->payload.size() < share_threshold) {
        bytes_.insert(bytes_.end(), m->payload.begin(), m->payload.end());
    } else {
        if (!shared_) {
            shared_ = std::make_unique<shared_payloads>();
        }
        shared_->list.push_back({bytes_.size(), m});
        shared_->bytes += m->payload.size();
    }
}

codec::byte_buffer write_queue::take(std::size_t from, std::size_t to) {
    const auto first = bytes_.begin() + static_cast<std::ptrdiff_t>(from);
    const auto last = bytes_.begin() + static_cast<std::ptrdiff_t>(to);
    codec::byte_buffer taken(first, last);
    bytes_.erase(first, last);
    if (shared_) {
        for (auto& c : shared_->list) {
            if (c.offset > from) {
                c.offset -= to - from;
            }
        }
    }
    return taken;
}

void write_queue::clear() noexcept {
    if (bytes_.capacity() > retained_capacity) {
        bytes_ = {}; // a burst's buffer goes back; idle connections stay small
    }
    bytes_.clear();
    shared_.reset();
}

void write_queue::swap(write_queue& other) noexcept {
    bytes_.swap(other.bytes_);
    shared_.swap(other.shared_);
}

} // namespace edgemq::broker::net
