// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/config/model.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edgemq::serial {

/// What a framer has seen since it was made.
struct framer_stats {
    std::uint64_t bytes = 0;     ///< bytes fed, including discarded ones
    std::uint64_t frames = 0;    ///< frames returned
    std::uint64_t overflows = 0; ///< frames longer than max_frame_bytes, dropped
    std::uint64_t settle_discarded = 0; ///< bytes given to discard()
};

/// Bytes to frames (Sans-I/O): `line` ends a frame at "\n", "\r\n" or a lone "\r" (a "\r\n"
/// split across two reads is still one terminator) and skips empty lines; `delimiter` at a
/// string; `fixed` every frame_length bytes; `idle_gap` when on_idle() is called. A frame that
/// grows past max_frame_bytes is dropped and counted, and bytes are skipped up to the next
/// terminator (or the next idle gap), so one lost end of line costs one frame, not the stream.
/// Frames are returned without their terminator.
/// Thread safety: none; one framer belongs to one port's reader.
class framer {
public:
    explicit framer(const config::device& device);

    /// Feeds bytes read from the port; returns the frames they complete, in order.
    std::vector<std::string> feed(std::string_view bytes);

    /// The line was quiet for idle_gap: in idle_gap mode, the bytes so far are a frame.
    std::optional<std::string> on_idle();

    /// Throws away bytes read during the settle time. If they do not end at a terminator, the
    /// next bytes up to one are the tail of a boot message and are skipped too.
    void discard(std::string_view bytes);

    /// Forgets a partial frame (the port was closed).
    void reset();

    /// Whether bytes of an unfinished frame are held (idle_gap mode arms its timer on this).
    bool has_partial() const noexcept { return !buffer_.empty(); }

    const framer_stats& stats() const noexcept { return stats_; }

    /// The terminator written after a command: "\n", or the delimiter in delimiter mode.
    std::string_view eol() const noexcept;

private:
    void end_frame(std::vector<std::string>& out);
    void push(char c);

    config::framing_mode mode_;
    std::string delimiter_;
    std::size_t length_;
    std::size_t max_;
    std::string buffer_;
    bool discarding_ = false;
    bool after_cr_ = false;
    framer_stats stats_;
};

/// Whether `text` is well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF).
bool is_valid_utf8(std::string_view text) noexcept;

/// A frame's bytes as UTF-8 text per `encoding`: utf-8 as is (nullopt when invalid), latin1
/// converted, binary as hex.
std::optional<std::string> decode(std::string_view frame, config::text_encoding encoding);

} // namespace edgemq::serial
