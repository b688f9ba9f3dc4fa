// SPDX-License-Identifier: Apache-2.0
#include "edgemq/modbus/registers.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <optional>

namespace edgemq::modbus {
namespace {

using config::modbus_order;
using config::modbus_type;

/// The words of a value as one big-endian integer: word order and byte order undone.
std::uint64_t assemble(const config::modbus_register& r, std::span<const std::uint16_t> words) {
    std::uint64_t out = 0;
    const auto n = words.size();
    for (std::size_t i = 0; i < n; ++i) {
        auto w = words[r.word_order == modbus_order::big ? i : n - 1 - i];
        if (r.byte_order == modbus_order::little) {
            w = static_cast<std::uint16_t>((w << 8) | (w >> 8));
        }
        out = (out << 16) | w;
    }
    return out;
}

std::vector<std::uint16_t> disassemble(const config::modbus_register& r, std::uint64_t bits) {
    const auto n = config::modbus_width(r.type);
    std::vector<std::uint16_t> words(n);
    for (std::size_t i = 0; i < n; ++i) {
        auto w = static_cast<std::uint16_t>(bits >> (16 * (n - 1 - i)));
        if (r.byte_order == modbus_order::little) {
            w = static_cast<std::uint16_t>((w << 8) | (w >> 8));
        }
        words[r.word_order == modbus_order::big ? i : n - 1 - i] = w;
    }
    return words;
}

serial::value scaled(const config::modbus_register& r, std::int64_t raw) {
    if (r.scale == 1.0 && r.offset == 0.0) {
        return raw;
    }
    return static_cast<double>(raw) * r.scale + r.offset;
}

} // namespace

serial::value decode(const config::modbus_register& r, std::span<const std::uint16_t> words) {
    const auto raw = assemble(r, words);
    switch (r.type) {
    case modbus_type::boolean:
        return raw != 0;
    case modbus_type::u16:
    case modbus_type::u32:
        return scaled(r, static_cast<std::int64_t>(raw));
    case modbus_type::i16:
        return scaled(r, static_cast<std::int16_t>(raw));
    case modbus_type::i32:
        return scaled(r, static_cast<std::int32_t>(raw));
    case modbus_type::i64:
        return scaled(r, static_cast<std::int64_t>(raw));
    case modbus_type::u64:
        if (raw > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
            return static_cast<double>(raw) * r.scale + r.offset;
        }
        return scaled(r, static_cast<std::int64_t>(raw));
    case modbus_type::f32:
        return static_cast<double>(std::bit_cast<float>(static_cast<std::uint32_t>(raw))) *
                   r.scale +
               r.offset;
    case modbus_type::f64:
        return std::bit_cast<double>(raw) * r.scale + r.offset;
    }
    return std::int64_t{0};
}

serial::value decode_bit(const config::modbus_register&, bool bit) {
    return bit;
}

encoded_words encode(const config::modbus_register& r, double v) {
    const double raw = (v - r.offset) / r.scale;
    if (!std::isfinite(raw)) {
        return {{}, "not a finite number"};
    }
    const auto integral = [&](double lo, double hi) -> std::optional<double> {
        const double rounded = std::round(raw);
        if (rounded < lo || rounded > hi) {
            return std::nullopt;
        }
        return rounded;
    };
    const auto out_of_range = [&](const char* type, double lo, double hi) {
        return encoded_words{{},
                             std::string("the raw value ") + std::to_string(raw) +
                                 " does not fit in " + type + " (" + std::to_string(lo) +
                                 " to " + std::to_string(hi) + ")"};
    };
    switch (r.type) {
    case modbus_type::boolean:
        return {{static_cast<std::uint16_t>(raw != 0 ? 1 : 0)}, {}};
    case modbus_type::u16:
        if (auto i = integral(0, 65535)) {
            return {disassemble(r, static_cast<std::uint64_t>(*i)), {}};
        }
        return out_of_range("u16", 0, 65535);
    case modbus_type::i16:
        if (auto i = integral(-32768, 32767)) {
            return {disassemble(r, static_cast<std::uint16_t>(static_cast<std::int16_t>(*i))), {}};
        }
        return out_of_range("i16", -32768, 32767);
    case modbus_type::u32:
        if (auto i = integral(0, 4294967295.0)) {
            return {disassemble(r, static_cast<std::uint64_t>(*i)), {}};
        }
        return out_of_range("u32", 0, 4294967295.0);
    case modbus_type::i32:
        if (auto i = integral(-2147483648.0, 2147483647.0)) {
            return {disassemble(r, static_cast<std::uint32_t>(static_cast<std::int32_t>(*i))),
                    {}};
        }
        return out_of_range("i32", -2147483648.0, 2147483647.0);
    case modbus_type::u64:
        // Doubles below 2^64 only: the largest is 2^64 - 2048.
        if (auto i = integral(0, 18446744073709549568.0)) {
            return {disassemble(r, static_cast<std::uint64_t>(*i)), {}};
        }
        return out_of_range("u64", 0, 18446744073709549568.0);
    case modbus_type::i64:
        if (auto i = integral(-9223372036854775808.0, 9223372036854774784.0)) {
            return {disassemble(r, static_cast<std::uint64_t>(static_cast<std::int64_t>(*i))), {}};
        }
        return out_of_range("i64", -9223372036854775808.0, 9223372036854774784.0);
    case modbus_type::f32:
        if (std::abs(raw) > std::numeric_limits<float>::max()) {
            return out_of_range("f32", -std::numeric_limits<float>::max(),
                                std::numeric_limits<float>::max());
        }
        return {disassemble(r, std::bit_cast<std::uint32_t>(static_cast<float>(raw))), {}};
    case modbus_type::f64:
        return {disassemble(r, std::bit_cast<std::uint64_t>(raw)), {}};
    }
    return {{}, "unknown type"};
}

std::vector<read_request> plan_reads(const std::vector<config::modbus_register>& registers,
                                     std::uint16_t max_registers, std::uint16_t max_bits) {
    std::vector<std::size_t> order(registers.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::ranges::stable_sort(order, [&](std::size_t a, std::size_t b) {
        const auto& x = registers[a];
        const auto& y = registers[b];
        return std::pair(x.table, x.address) < std::pair(y.table, y.address);
    });
    std::vector<read_request> out;
    for (const auto i : order) {
        const auto& r = registers[i];
        const auto width = config::modbus_width(r.type);
        const auto limit = config::modbus_bit_table(r.table) ? max_bits : max_registers;
        if (!out.empty()) {
            auto& last = out.back();
            const auto end = std::uint32_t{last.address} + last.count;
            if (last.table == r.table && end == r.address && last.count + width <= limit) {
                last.count = static_cast<std::uint16_t>(last.count + width);
                last.registers.push_back(i);
                continue;
            }
        }
        out.push_back({r.table, r.address, width, {i}});
    }
    return out;
}

config::device slave_device(const config::modbus_slave& s) {
    config::device d;
    d.id = s.name;
    d.parser.kind = config::parser_kind::kv; // only the fields below
    d.publish = s.publish;
    d.stats_interval = s.stats_interval;
    d.name = s.display_name;
    d.manufacturer = s.manufacturer;
    d.model = s.model;
    for (const auto& r : s.registers) {
        auto& f = d.fields.emplace_back();
        f.name = r.name;
        f.source = r.name;
        const bool bit = r.type == config::modbus_type::boolean;
        f.type = bit ? config::field_type::boolean : config::field_type::number;
        f.scale = r.scale;
        f.offset = r.offset;
        f.unit = r.unit;
        f.deadband = r.deadband;
        f.component = r.component;
        f.entity_name = r.entity_name;
        f.device_class = r.device_class;
        f.state_class = r.state_class;
        if (r.writable) {
            auto& c = d.commands.emplace_back();
            c.name = r.name;
            c.type = bit ? config::command_type::boolean : config::command_type::number;
            c.min = r.min;
            c.max = r.max;
            c.append_eol = false;
        }
    }
    return d;
}

} // namespace edgemq::modbus
