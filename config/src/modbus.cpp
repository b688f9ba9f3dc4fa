// SPDX-License-Identifier: Apache-2.0
// [[modbus]]: Modbus RTU buses, their slaves and the registers read from them. A slave is
// published like a [[devices]] entry (its `name` is the {device} of the topics), so its publish
// table, match and Home Assistant keys are read with the devices' own readers.

#include "sections.hpp"

#include <array>

namespace edgemq::config::detail {

using namespace std::chrono_literals;

namespace {

constexpr std::array<std::string_view, 3> parities{"none", "even", "odd"};
// In the order of modbus_table's and modbus_type's enumerators.
constexpr std::array<std::string_view, 4> tables{"coil", "discrete_input", "holding", "input"};
constexpr std::array<std::string_view, 9> types{"bool", "u16", "i16", "u32", "i32",
                                                "u64",  "i64", "f32", "f64"};
constexpr std::array<std::string_view, 2> orders{"big", "little"};
constexpr std::array<std::string_view, 3> entity_components{"auto", "sensor", "binary_sensor"};

const toml::node& key_or(const toml::node& table, std::string_view key) {
    if (const auto* t = table.as_table()) {
        if (const auto* n = t->get(key)) {
            return *n;
        }
    }
    return table;
}

void read_register(context& cx, const toml::node& node, const std::string& path,
                   modbus_register& r) {
    std::int64_t count = 0;
    read_table(cx, node, path,
               {
                   one_of("table", r.table, tables),
                   integer("address", r.address, 0, 65535),
                   one_of("type", r.type, types),
                   integer("count", count, 1, 4),
                   one_of("byte_order", r.byte_order, orders),
                   one_of("word_order", r.word_order, orders),
                   real("scale", r.scale),
                   real("offset", r.offset),
                   text("unit", r.unit),
                   optional_real("deadband", r.deadband),
                   boolean("writable", r.writable),
                   optional_real("min", r.min),
                   optional_real("max", r.max),
                   one_of("component", r.component, entity_components),
                   nonempty_text("name", r.entity_name),
                   nonempty_text("device_class", r.device_class),
                   nonempty_text("state_class", r.state_class),
               });
    const auto* t = node.as_table();
    if (t == nullptr) {
        return;
    }
    if (!std::ranges::all_of(r.name, is_id_char) || r.name.empty()) {
        cx.error(node, path, "a register name may hold only letters, digits, '_' and '-'");
    }
    if (t->get("address") == nullptr) {
        cx.error(node, path, R"(missing "address", e.g. address = 0 (the protocol address, 0-based))");
    }
    const bool bits = modbus_bit_table(r.table);
    if (t->get("type") == nullptr && bits) {
        r.type = modbus_type::boolean;
    }
    const auto& type_at = key_or(node, "type");
    if (bits && r.type != modbus_type::boolean) {
        cx.error(type_at, path + ".type",
                 std::string(r.table == modbus_table::coil ? "a coil" : "a discrete input") +
                     R"( holds one bit: type must be "bool")");
    } else if (!bits && r.type == modbus_type::boolean) {
        cx.error(type_at, path + ".type",
                 R"(type = "bool" needs table = "coil" or "discrete_input"; a register is )"
                 R"("u16", "i16", "u32", "i32", "u64", "i64", "f32" or "f64")");
    }
    const auto width = modbus_width(r.type);
    if (count != 0 && count != width) {
        cx.error(key_or(node, "count"), path + ".count",
                 "type " + double_quoted(types[static_cast<std::size_t>(r.type)]) + " takes " +
                     std::to_string(width) + " register" + (width == 1 ? "" : "s") + ", not " +
                     std::to_string(count));
    }
    if (std::size_t{r.address} + width > 65536) {
        cx.error(key_or(node, "address"), path + ".address",
                 "a value of " + std::to_string(width) + " registers at " +
                     std::to_string(r.address) + " runs past the last address, 65535");
    }
    if (r.writable && (r.table == modbus_table::discrete_input || r.table == modbus_table::input)) {
        cx.error(key_or(node, "writable"), path + ".writable",
                 "only coils and holding registers can be written");
    }
    if (r.scale == 0) {
        cx.error(key_or(node, "scale"), path + ".scale", "must not be 0");
    }
    if (r.deadband && *r.deadband < 0) {
        cx.error(key_or(node, "deadband"), path + ".deadband", "must not be negative");
    }
    if (r.min && r.max && *r.min > *r.max) {
        cx.error(node, path, "min must not be greater than max");
    }
    // Home Assistant keys, checked as a line device's field of the same kind.
    device_field f;
    f.name = r.name;
    f.type = bits ? field_type::boolean : field_type::number;
    f.component = r.component;
    f.entity_name = r.entity_name;
    f.device_class = r.device_class;
    f.state_class = r.state_class;
    check_entity(cx, node, path, f);
}

/// Registers of one table that share an address; reported at the later one.
void check_overlaps(context& cx, const toml::node& slave_node, const std::string& path,
                    const modbus_slave& s) {
    const auto* regs = slave_node.as_table() ? slave_node.as_table()->get_as<toml::table>("registers")
                                             : nullptr;
    for (std::size_t i = 0; i < s.registers.size(); ++i) {
        const auto& a = s.registers[i];
        for (std::size_t j = 0; j < i; ++j) {
            const auto& b = s.registers[j];
            if (a.table != b.table || a.address >= b.address + modbus_width(b.type) ||
                b.address >= a.address + modbus_width(a.type)) {
                continue;
            }
            const auto* at = regs != nullptr ? regs->get(a.name) : nullptr;
            cx.error(at != nullptr ? *at : slave_node, path + ".registers." + a.name,
                     std::string(tables[static_cast<std::size_t>(a.table)]) + " " +
                         std::to_string(a.address) + "-" +
                         std::to_string(a.address + modbus_width(a.type) - 1) + " overlaps " +
                         path + ".registers." + b.name + " (" + std::to_string(b.address) + "-" +
                         std::to_string(b.address + modbus_width(b.type) - 1) + ")");
            break;
        }
    }
}

void read_slave(context& cx, const toml::node& node, const std::string& path, modbus_slave& s) {
    read_table(cx, node, path,
               {
                   integer("id", s.id, 1, 247),
                   nonempty_text("name", s.name),
                   duration("poll_interval", s.poll_interval, milliseconds(10), milliseconds(24h)),
                   integer("max_failures", s.max_failures, 1, 1000),
                   {"registers",
                    [&s](context& cx, const toml::node& n, const std::string& p) {
                        const auto* entries = n.as_table();
                        if (entries == nullptr) {
                            cx.error(n, p, "expected a table of named tables" + got(n));
                            return;
                        }
                        for (const auto& [name, value] : *entries) {
                            auto& r = s.registers.emplace_back();
                            r.name = name.str();
                            read_register(cx, value, p + '.' + std::string(name.str()), r);
                        }
                    }},
                   publish_table("publish", s.publish),
                   duration("stats_interval", s.stats_interval, 0ms, milliseconds(24h)),
                   nonempty_text("display_name", s.display_name),
                   nonempty_text("manufacturer", s.manufacturer),
                   nonempty_text("model", s.model),
               });
    const auto* t = node.as_table();
    if (t == nullptr) {
        return;
    }
    if (t->get("id") == nullptr) {
        cx.error(node, path, R"(missing "id", the slave address (1 to 247), e.g. id = 1)");
    }
    if (s.name.empty()) {
        cx.error(node, path, R"(missing "name", used in topics, e.g. name = "meter")");
    } else if (!std::ranges::all_of(s.name, is_id_char)) {
        cx.error(key_or(node, "name"), path + ".name",
                 "name " + double_quoted(s.name) +
                     " may hold only letters, digits, '_' and '-' (it is used in topics)");
    }
    if (s.registers.empty()) {
        cx.error(node, path,
                 R"(no registers to read; add e.g. [modbus.slaves.registers.voltage] with )"
                 R"(table = "input", address = 0, type = "f32")");
    }
    check_overlaps(cx, node, path, s);
}

} // namespace

field modbus_array(std::string_view key, std::vector<modbus_bus>& out) {
    return table_array(
        key, "modbus",
        [&out](context& cx, const toml::node& element, const std::string& path, std::size_t i) {
            const auto element_path = item_path(path, i);
            modbus_bus& b = out.emplace_back();
            read_table(cx, element, element_path,
                       {
                           nonempty_text("name", b.name),
                           match_table("match", b.match),
                           integer("baud", b.baud, 50, 4'000'000),
                           integer("data_bits", b.data_bits, 7, 8),
                           one_of("parity", b.parity, parities),
                           integer("stop_bits", b.stop_bits, 1, 2),
                           duration("response_timeout", b.response_timeout, milliseconds(1),
                                    milliseconds(1min)),
                           duration("frame_delay", b.frame_delay, 0ms, milliseconds(10s)),
                           table_array("slaves", "modbus.slaves",
                                       [&b](context& cx, const toml::node& n,
                                            const std::string& p, std::size_t j) {
                                           read_slave(cx, n, item_path(p, j),
                                                      b.slaves.emplace_back());
                                       }),
                       });
            if (!element.is_table()) {
                return;
            }
            if (b.name.empty()) {
                b.name = "modbus" + std::to_string(i);
            } else if (!std::ranges::all_of(b.name, is_id_char)) {
                cx.error(key_or(element, "name"), element_path + ".name",
                         "may hold only letters, digits, '_' and '-'");
            }
            for (std::size_t j = 0; j + 1 < out.size(); ++j) {
                if (out[j].name == b.name) {
                    cx.error(key_or(element, "name"), element_path + ".name",
                             "name " + double_quoted(b.name) + " is already used by " +
                                 item_path(path, j));
                    break;
                }
            }
            check_match(cx, element, element_path, b.match);
            const auto* slaves = element.as_table()->get_as<toml::array>("slaves");
            for (std::size_t j = 0; j < b.slaves.size(); ++j) {
                for (std::size_t k = 0; k < j; ++k) {
                    if (b.slaves[j].id != 0 && b.slaves[j].id == b.slaves[k].id) {
                        const auto* at = slaves != nullptr ? slaves->get(j) : nullptr;
                        cx.error(key_or(at != nullptr ? *at : element, "id"),
                                 item_path(element_path + ".slaves", j) + ".id",
                                 "slave id " + std::to_string(b.slaves[j].id) +
                                     " is already used by " +
                                     item_path(element_path + ".slaves", k));
                        break;
                    }
                }
            }
        });
}

void check_modbus_against_devices(context& cx, const toml::table& root, const gateway& g) {
    const auto* buses = root.get_as<toml::array>("modbus");
    if (buses == nullptr) {
        return;
    }
    // Names in topics: devices first, then slaves in file order.
    std::vector<std::pair<std::string, std::string>> taken; // name, where
    for (std::size_t i = 0; i < g.devices.size(); ++i) {
        taken.emplace_back(g.devices[i].id, item_path("devices", i));
    }
    for (std::size_t i = 0; i < g.modbus.size() && i < buses->size(); ++i) {
        const auto& bus = g.modbus[i];
        const auto& node = *buses->get(i);
        const auto path = item_path("modbus", i);
        const auto& match_at = key_or(node, "match");
        std::string why;
        for (std::size_t j = 0; j < i && why.empty(); ++j) {
            why = claimed_twice(g.modbus[j].match, bus.match, item_path("modbus", j));
        }
        for (std::size_t j = 0; j < g.devices.size() && why.empty(); ++j) {
            why = claimed_twice(g.devices[j].match, bus.match, item_path("devices", j));
            if (!why.empty()) {
                why += " (a line device and a Modbus bus cannot share a port)";
            }
        }
        if (!why.empty()) {
            cx.error(match_at, path + ".match", why);
        }
        const auto* slaves = node.as_table() ? node.as_table()->get_as<toml::array>("slaves")
                                             : nullptr;
        for (std::size_t j = 0; j < bus.slaves.size(); ++j) {
            const auto& name = bus.slaves[j].name;
            const auto slave_path = item_path(path + ".slaves", j);
            const auto it = std::ranges::find(taken, name, &std::pair<std::string, std::string>::first);
            if (!name.empty() && it != taken.end()) {
                const auto* at = slaves != nullptr ? slaves->get(j) : nullptr;
                cx.error(key_or(at != nullptr ? *at : node, "name"), slave_path + ".name",
                         "name " + double_quoted(name) + " is already used by " + it->second +
                             " (slaves and devices share the topic names)");
            } else {
                taken.emplace_back(name, slave_path);
            }
        }
    }
}

} // namespace edgemq::config::detail
