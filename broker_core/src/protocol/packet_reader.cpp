// SPDX-License-Identifier: Apache-2.0
#include "edgemq/broker/protocol/packet_reader.hpp"

namespace edgemq::broker::protocol {

result<std::optional<codec::fixed_header>> packet_reader::header() {
    if (!header_) {
        auto h = codec::decode_fixed_header(rest());
        if (!h) {
            return h.error();
        }
        header_ = *h;
    }
    return header_;
}

result<codec::packet> packet_reader::take() {
    const auto h = *header_;
    return codec::decode(h, take_body(), level_);
}

std::span<const std::uint8_t> packet_reader::take_body() noexcept {
    const auto h = *header_;
    const auto body = rest().subspan(h.size, h.remaining_length);
    pos_ += h.packet_size();
    header_.reset();
    return body;
}

result<std::optional<codec::packet>> packet_reader::next(std::size_t max_size) {
    auto h = header();
    if (!h) {
        return h.error();
    }
    if (!*h) {
        return std::optional<codec::packet>{};
    }
    if ((*h)->packet_size() > max_size) {
        return errc::packet_too_large;
    }
    if (!complete()) {
        return std::optional<codec::packet>{};
    }
    auto p = take();
    if (!p) {
        return p.error();
    }
    return std::optional<codec::packet>{std::move(*p)};
}

} // namespace edgemq::broker::protocol
