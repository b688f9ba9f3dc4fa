// SPDX-License-Identifier: Apache-2.0
#include "edgemq/serial/framing.hpp"

#include "edgemq/broker/codec/decode.hpp"
#include "edgemq/broker/hex.hpp"

namespace edgemq::serial {

framer::framer(const config::device& device)
    : mode_(device.framing), delimiter_(device.delimiter), length_(device.frame_length),
      max_(device.max_frame_bytes) {
    if (mode_ == config::framing_mode::delimiter && delimiter_.empty()) {
        delimiter_.push_back('\n'); // (= "\n" trips a GCC 12 -Wrestrict false positive)
    }
    if (mode_ == config::framing_mode::fixed && length_ == 0) {
        length_ = 1;
    }
}

std::string_view framer::eol() const noexcept {
    return mode_ == config::framing_mode::delimiter ? std::string_view(delimiter_) : "\n";
}

void framer::end_frame(std::vector<std::string>& out) {
    if (discarding_) {
        // The tail of an over-long frame (or of boot noise): the stream is in step again.
        discarding_ = false;
        buffer_.clear();
        return;
    }
    if (buffer_.empty()) {
        return;
    }
    ++stats_.frames;
    out.push_back(std::move(buffer_));
    buffer_.clear();
}

void framer::push(char c) {
    if (discarding_) {
        return;
    }
    if (buffer_.size() >= max_) {
        ++stats_.overflows;
        buffer_.clear();
        discarding_ = true;
        return;
    }
    buffer_.push_back(c);
}

std::vector<std::string> framer::feed(std::string_view bytes) {
    std::vector<std::string> out;
    stats_.bytes += bytes.size();
    for (const char c : bytes) {
        switch (mode_) {
        case config::framing_mode::line:
            if (after_cr_ && c == '\n') {
                after_cr_ = false;
                continue;
            }
            after_cr_ = c == '\r';
            if (c == '\n' || c == '\r') {
                end_frame(out);
            } else {
                push(c);
            }
            break;
        case config::framing_mode::delimiter: {
            buffer_.push_back(c);
            if (buffer_.ends_with(delimiter_)) {
                buffer_.resize(buffer_.size() - delimiter_.size());
                end_frame(out);
                break;
            }
            // Keep enough of the tail to see a delimiter that straddles the limit.
            const auto keep = delimiter_.size() - 1;
            if (!discarding_ && buffer_.size() > max_ + keep) {
                ++stats_.overflows;
                discarding_ = true;
            }
            if (discarding_ && buffer_.size() > keep) {
                buffer_.erase(0, buffer_.size() - keep);
            }
            break;
        }
        case config::framing_mode::fixed:
            buffer_.push_back(c);
            if (buffer_.size() == length_) {
                end_frame(out);
            }
            break;
        case config::framing_mode::idle_gap:
            push(c);
            break;
        }
    }
    return out;
}

std::optional<std::string> framer::on_idle() {
    if (mode_ != config::framing_mode::idle_gap) {
        return std::nullopt;
    }
    std::vector<std::string> out;
    end_frame(out);
    if (out.empty()) {
        return std::nullopt;
    }
    return std::move(out.front());
}

void framer::discard(std::string_view bytes) {
    if (bytes.empty()) {
        return;
    }
    stats_.bytes += bytes.size();
    stats_.settle_discarded += bytes.size();
    buffer_.clear();
    after_cr_ = false;
    switch (mode_) {
    case config::framing_mode::line:
        after_cr_ = bytes.back() == '\r';
        discarding_ = bytes.back() != '\n' && bytes.back() != '\r';
        break;
    case config::framing_mode::delimiter:
        discarding_ = !bytes.ends_with(delimiter_);
        break;
    case config::framing_mode::fixed:
    case config::framing_mode::idle_gap:
        discarding_ = false;
        break;
    }
}

void framer::reset() {
    buffer_.clear();
    discarding_ = false;
    after_cr_ = false;
}

bool is_valid_utf8(std::string_view text) noexcept {
    return broker::codec::is_well_formed_utf8(text); // a serial line may hold U+0000
}

std::optional<std::string> decode(std::string_view frame, config::text_encoding encoding) {
    switch (encoding) {
    case config::text_encoding::utf8:
        if (!is_valid_utf8(frame)) {
            return std::nullopt;
        }
        return std::string(frame);
    case config::text_encoding::latin1: {
        std::string text;
        text.reserve(frame.size());
        for (const char c : frame) {
            const auto b = static_cast<unsigned char>(c);
            if (b < 0x80) {
                text.push_back(c);
            } else {
                text.push_back(static_cast<char>(0xC0 | (b >> 6)));
                text.push_back(static_cast<char>(0x80 | (b & 0x3F)));
            }
        }
        return text;
    }
    case config::text_encoding::binary:
        return broker::hex_encoded(frame);
    }
    return std::nullopt;
}

} // namespace edgemq::serial
