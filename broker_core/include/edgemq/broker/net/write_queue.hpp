// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/broker/codec/encode.hpp"
#include "edgemq/broker/message.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace edgemq::broker::net {

/// The bytes waiting to go out on one connection, gathered so that everything queued during one
/// turn of the event loop leaves in one `writev`. Small packets are copied into one contiguous
/// buffer; large payloads are referenced, so a payload fanned out to many subscribers exists once.
/// Asio-free: the connection turns it into buffers.
/// Thread safety: none; owned by the connection's thread.
class write_queue {
public:
    /// Payloads of at least this many bytes are referenced instead of copied.
    static constexpr std::size_t share_threshold = 1024;
    /// clear() keeps at most this much capacity.
    static constexpr std::size_t retained_capacity = 256 * 1024;

    /// Where small packets are encoded directly (`codec::encode(p, q.bytes())`).
    codec::byte_buffer& bytes() noexcept { return bytes_; }

    /// Appends a PUBLISH of `m` with the per-delivery fields; with `props` (MQTT 5.0, even
    /// when empty) their block follows the packet id. `topic_omitted`: the topic name is empty,
    /// a Topic Alias in `props` stands for it.
    void append_publish(const message_ptr& m, std::uint8_t qos, bool retain, bool dup,
                        std::uint16_t packet_id, const codec::properties* props = nullptr,
                        bool topic_omitted = false);

    /// Removes bytes()[from, to) (small packets encoded there) and returns them; what was
    /// appended after them, referenced payloads too, stays in order.
    codec::byte_buffer take(std::size_t from, std::size_t to);

    std::size_t size() const noexcept { return bytes_.size() + (shared_ ? shared_->bytes : 0); }
    bool empty() const noexcept { return size() == 0; }
    void clear() noexcept;
    void swap(write_queue& other) noexcept;

    /// Calls `f(const void* data, std::size_t size)` for each contiguous piece, in order.
    template <typename F> void for_each_buffer(F&& f) const {
        std::size_t start = 0;
        for (const auto& c : shared_ ? shared_->list : no_shared) {
            if (c.offset > start) {
                f(bytes_.data() + start, c.offset - start);
            }
            f(c.owner->payload.data(), c.owner->payload.size());
            start = c.offset;
        }
        if (bytes_.size() > start) {
            f(bytes_.data() + start, bytes_.size() - start);
        }
    }

private:
    /// A referenced payload that goes out after bytes_[0, offset).
    struct shared_payload {
        std::size_t offset;
        message_ptr owner;
    };

    /// The referenced payloads, in order, and their size in all.
    struct shared_payloads {
        std::vector<shared_payload> list;
        std::size_t bytes = 0;
    };
    static inline const std::vector<shared_payload> no_shared{};

    codec::byte_buffer bytes_;
    /// Only while a large payload waits: an idle connection pays 8 bytes for it, not 32
    /// (docs/PERFORMANCE.md, memory per idle connection).
    std::unique_ptr<shared_payloads> shared_;
};

} // namespace edgemq::broker::net
