// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

/// Reading choices out of a fuzzer's input: the fuzz targets that need more than one stream of
/// bytes (settings, operations, text) take them from the front, so that a small change to the
/// input is a small change to what runs. Past the end every read returns 0 / empty.
/// Thread safety: none; one per input.
namespace edgemq::fuzz {

class fuzz_input {
public:
    fuzz_input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

    bool empty() const noexcept { return pos_ == size_; }
    std::size_t remaining() const noexcept { return size_ - pos_; }

    std::uint8_t u8() noexcept { return empty() ? 0 : data_[pos_++]; }

    std::uint16_t u16() noexcept {
        const auto hi = u8();
        return static_cast<std::uint16_t>((hi << 8) | u8());
    }

    /// Up to `max` bytes; the first byte read says how many.
    std::string_view bytes(std::size_t max) noexcept {
        std::size_t n = u8();
        n = n > max ? max : n;
        n = n > remaining() ? remaining() : n;
        const std::string_view s{reinterpret_cast<const char*>(data_ + pos_), n};
        pos_ += n;
        return s;
    }

    /// Everything not read yet.
    std::string_view rest() noexcept {
        const std::string_view s{reinterpret_cast<const char*>(data_ + pos_), size_ - pos_};
        pos_ = size_;
        return s;
    }

private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t pos_ = 0;
};

} // namespace edgemq::fuzz
