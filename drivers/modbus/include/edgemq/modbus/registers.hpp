// SPDX-License-Identifier: Apache-2.0
#pragma once

/// Modbus register values and requests, Sans-I/O (no libmodbus, no port): what a slave's
/// configured registers decode to, how a written value is encoded, which read requests poll a
/// slave, and the line-device view of a slave that the serial driver's mapper and Home
/// Assistant discovery take.
/// Spec: Modbus Application Protocol V1.1b3 (function codes 1-4, 5, 6, 15, 16; at most 125
/// registers or 2000 bits per read), Modbus over Serial Line V1.02.

#include "edgemq/config/model.hpp"
#include "edgemq/serial/parser.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace edgemq::modbus {

/// Largest read of one request: 125 registers (FC 3, 4), 2000 bits (FC 1, 2).
constexpr std::uint16_t max_read_registers = 125;
constexpr std::uint16_t max_read_bits = 2000;

/// The value of register `r` from its modbus_width(r.type) words as read (in address order),
/// with byte and word order applied, then scale and offset: an integer when scale is 1 and
/// offset 0 and it fits in int64, else a double (f32 and f64 always).
serial::value decode(const config::modbus_register& r, std::span<const std::uint16_t> words);

/// A coil's or discrete input's bit.
serial::value decode_bit(const config::modbus_register& r, bool bit);

/// The words to write for the engineering value `v` ((v - offset) / scale, rounded for
/// integer types), in address order; or why it cannot be written (out of the type's range).
struct encoded_words {
    std::vector<std::uint16_t> words;
    std::string error;
    bool ok() const noexcept { return error.empty(); }
};
encoded_words encode(const config::modbus_register& r, double v);

/// One read request: `count` registers or bits of `table` from `address`, covering the
/// registers at the indices `registers` of the slave's list.
struct read_request {
    config::modbus_table table = config::modbus_table::holding;
    std::uint16_t address = 0;
    std::uint16_t count = 0;
    std::vector<std::size_t> registers;

    bool operator==(const read_request&) const = default;
};

/// The requests that read every register: registers of one table that follow each other
/// without a gap share one request, up to the protocol's maximum per request; gaps are never
/// read (a slave may answer "illegal data address" for them). Ordered by table, then address.
std::vector<read_request> plan_reads(const std::vector<config::modbus_register>& registers,
                                     std::uint16_t max_registers = max_read_registers,
                                     std::uint16_t max_bits = max_read_bits);

/// The slave as a line device: id = name, its registers as fields (number, or bool for bits),
/// writable ones as commands (float with min/max, bool for coils), publish, stats_interval and
/// the Home Assistant keys. What the mapper and discovery read; no port, parser or framing.
config::device slave_device(const config::modbus_slave& s);

/// "illegal data address (exception 2)", "timeout", ...: libmodbus's errno values named.
std::string error_text(int err);

} // namespace edgemq::modbus
