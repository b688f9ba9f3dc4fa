// SPDX-License-Identifier: Apache-2.0
#include <edgemq/modbus/registers.hpp>

#include <catch2/catch.hpp>

#include <cerrno>
#include <cstdint>
#include <variant>
#include <vector>

using namespace edgemq;
using config::modbus_order;
using config::modbus_register;
using config::modbus_table;
using config::modbus_type;

namespace {

modbus_register reg(modbus_type t, modbus_order bytes = modbus_order::big,
                    modbus_order words = modbus_order::big) {
    modbus_register r;
    r.name = "x";
    r.type = t;
    r.byte_order = bytes;
    r.word_order = words;
    return r;
}

modbus_register at(std::string name, modbus_table t, std::uint16_t address,
                   modbus_type type = modbus_type::u16) {
    modbus_register r;
    r.name = std::move(name);
    r.table = t;
    r.address = address;
    r.type = type;
    return r;
}

double as_double(const serial::value& v) {
    if (const auto* d = std::get_if<double>(&v)) {
        return *d;
    }
    return static_cast<double>(std::get<std::int64_t>(v));
}

} // namespace

TEST_CASE("modbus decode: 16-bit registers, signed and unsigned", "[modbus]") {
    const std::vector<std::uint16_t> w{0xFFFE};
    CHECK(modbus::decode(reg(modbus_type::u16), w) == serial::value{std::int64_t{65534}});
    CHECK(modbus::decode(reg(modbus_type::i16), w) == serial::value{std::int64_t{-2}});
    // Little byte order swaps the two bytes of the register: 0xFEFF.
    CHECK(modbus::decode(reg(modbus_type::u16, modbus_order::little), w) ==
          serial::value{std::int64_t{0xFEFF}});
}

TEST_CASE("modbus decode: 32-bit values in all four byte and word orders", "[modbus]") {
    // 0x12345678 as ABCD, CDAB (word swap), BADC (byte swap), DCBA (both).
    const std::vector<std::uint16_t> abcd{0x1234, 0x5678};
    const std::vector<std::uint16_t> cdab{0x5678, 0x1234};
    const std::vector<std::uint16_t> badc{0x3412, 0x7856};
    const std::vector<std::uint16_t> dcba{0x7856, 0x3412};
    const serial::value expected{std::int64_t{0x12345678}};
    CHECK(modbus::decode(reg(modbus_type::u32), abcd) == expected);
    CHECK(modbus::decode(reg(modbus_type::u32, modbus_order::big, modbus_order::little), cdab) ==
          expected);
    CHECK(modbus::decode(reg(modbus_type::u32, modbus_order::little, modbus_order::big), badc) ==
          expected);
    CHECK(modbus::decode(reg(modbus_type::u32, modbus_order::little, modbus_order::little),
                         dcba) == expected);
    CHECK(modbus::decode(reg(modbus_type::i32), std::vector<std::uint16_t>{0xFFFF, 0xFFFB}) ==
          serial::value{std::int64_t{-5}});
}

TEST_CASE("modbus decode: floats", "[modbus]") {
    // 230.5f = 0x43668000; 1.5 (f64) = 0x3FF8000000000000.
    CHECK(modbus::decode(reg(modbus_type::f32), std::vector<std::uint16_t>{0x4366, 0x8000}) ==
          serial::value{230.5});
    CHECK(modbus::decode(reg(modbus_type::f32, modbus_order::big, modbus_order::little),
                         std::vector<std::uint16_t>{0x8000, 0x4366}) == serial::value{230.5});
    CHECK(modbus::decode(reg(modbus_type::f64),
                         std::vector<std::uint16_t>{0x3FF8, 0x0000, 0x0000, 0x0000}) ==
          serial::value{1.5});
    CHECK(modbus::decode(reg(modbus_type::f64, modbus_order::big, modbus_order::little),
                         std::vector<std::uint16_t>{0x0000, 0x0000, 0x0000, 0x3FF8}) ==
          serial::value{1.5});
}

TEST_CASE("modbus decode: 64-bit integers", "[modbus]") {
    CHECK(modbus::decode(reg(modbus_type::u64),
                         std::vector<std::uint16_t>{0x0001, 0x0002, 0x0003, 0x0004}) ==
          serial::value{std::int64_t{0x0001000200030004}});
    CHECK(modbus::decode(reg(modbus_type::i64),
                         std::vector<std::uint16_t>{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF}) ==
          serial::value{std::int64_t{-1}});
    // Past int64: a double.
    CHECK(modbus::decode(reg(modbus_type::u64),
                         std::vector<std::uint16_t>{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF}) ==
          serial::value{18446744073709551615.0});
}

TEST_CASE("modbus decode: scale and offset make a double", "[modbus]") {
    auto r = reg(modbus_type::i16);
    r.scale = 0.1;
    r.offset = -40;
    CHECK(as_double(modbus::decode(r, std::vector<std::uint16_t>{655})) == Approx(25.5));
    CHECK(std::holds_alternative<double>(modbus::decode(r, std::vector<std::uint16_t>{0})));
    CHECK(modbus::decode_bit(at("c", modbus_table::coil, 0, modbus_type::boolean), true) ==
          serial::value{true});
}

TEST_CASE("modbus encode: the inverse of decode, with range checks", "[modbus]") {
    auto r = reg(modbus_type::i32, modbus_order::little, modbus_order::little);
    r.scale = 0.1;
    r.offset = -5;
    const auto e = modbus::encode(r, 20.0); // raw 250 = 0x000000FA -> DCBA
    REQUIRE(e.ok());
    CHECK(e.words == std::vector<std::uint16_t>{0xFA00, 0x0000});
    CHECK(as_double(modbus::decode(r, e.words)) == Approx(20.0));

    CHECK(modbus::encode(reg(modbus_type::u16), 65535).words == std::vector<std::uint16_t>{0xFFFF});
    CHECK_FALSE(modbus::encode(reg(modbus_type::u16), 65536).ok());
    CHECK_FALSE(modbus::encode(reg(modbus_type::u16), -1).ok());
    CHECK(modbus::encode(reg(modbus_type::i16), -2).words == std::vector<std::uint16_t>{0xFFFE});
    CHECK_FALSE(modbus::encode(reg(modbus_type::i16), 40000).ok());
    CHECK(modbus::encode(reg(modbus_type::f32), 230.5).words ==
          std::vector<std::uint16_t>{0x4366, 0x8000});
    CHECK(modbus::encode(reg(modbus_type::f64), 1.5).words ==
          std::vector<std::uint16_t>{0x3FF8, 0, 0, 0});
    CHECK(modbus::encode(reg(modbus_type::u64), 65536.0).words ==
          std::vector<std::uint16_t>{0, 0, 1, 0});
}

TEST_CASE("modbus plan_reads: adjacent registers of one table share a request", "[modbus]") {
    const std::vector<modbus_register> regs{
        at("v1", modbus_table::input, 0, modbus_type::f32),
        at("v2", modbus_table::input, 2, modbus_type::f32),
        at("h", modbus_table::holding, 5),
        at("v3", modbus_table::input, 6, modbus_type::f32), // gap at 4-5: a new request
        at("c1", modbus_table::coil, 1, modbus_type::boolean),
        at("c0", modbus_table::coil, 0, modbus_type::boolean),
        at("d", modbus_table::discrete_input, 2, modbus_type::boolean),
    };
    const auto plan = modbus::plan_reads(regs);
    CHECK(plan == std::vector<modbus::read_request>{
                      {modbus_table::coil, 0, 2, {5, 4}},
                      {modbus_table::discrete_input, 2, 1, {6}},
                      {modbus_table::holding, 5, 1, {2}},
                      {modbus_table::input, 0, 4, {0, 1}},
                      {modbus_table::input, 6, 2, {3}},
                  });
}

TEST_CASE("modbus plan_reads: a request never exceeds the protocol's maximum", "[modbus]") {
    std::vector<modbus_register> regs;
    for (std::uint16_t a = 0; a < 130; ++a) {
        regs.push_back(at("r" + std::to_string(a), modbus_table::holding, a));
    }
    const auto plan = modbus::plan_reads(regs);
    REQUIRE(plan.size() == 2);
    CHECK(plan[0].address == 0);
    CHECK(plan[0].count == 125);
    CHECK(plan[1].address == 125);
    CHECK(plan[1].count == 5);
    // A 2-register value is never split: with a limit of 3, 0-1 and 2-3 need two requests.
    const auto small = modbus::plan_reads({at("a", modbus_table::input, 0, modbus_type::u32),
                                           at("b", modbus_table::input, 2, modbus_type::u32)},
                                          3, 2000);
    REQUIRE(small.size() == 2);
    CHECK(small[0].count == 2);
    CHECK(small[1].count == 2);
}

TEST_CASE("modbus slave_device: registers become fields and writable ones commands", "[modbus]") {
    config::modbus_slave s;
    s.id = 3;
    s.name = "meter";
    s.display_name = "Energy meter";
    auto v = at("voltage", modbus_table::input, 0, modbus_type::f32);
    v.unit = "V";
    v.device_class = "voltage";
    s.registers.push_back(v);
    auto c = at("relay", modbus_table::coil, 0, modbus_type::boolean);
    c.writable = true;
    s.registers.push_back(c);
    auto h = at("limit", modbus_table::holding, 4);
    h.writable = true;
    h.min = 1;
    h.max = 9;
    s.registers.push_back(h);
    const auto d = modbus::slave_device(s);
    CHECK(d.id == "meter");
    CHECK(d.name == "Energy meter");
    REQUIRE(d.fields.size() == 3);
    CHECK(d.fields[0].type == config::field_type::number);
    CHECK(d.fields[0].device_class == "voltage");
    CHECK(d.fields[1].type == config::field_type::boolean);
    REQUIRE(d.commands.size() == 2);
    CHECK(d.commands[0].name == "relay");
    CHECK(d.commands[0].type == config::command_type::boolean);
    CHECK(d.commands[1].name == "limit");
    CHECK(d.commands[1].type == config::command_type::number);
    CHECK(d.commands[1].min == 1);
    CHECK(d.commands[1].max == 9);
    CHECK(modbus::error_text(ETIMEDOUT) == "timeout");
}
