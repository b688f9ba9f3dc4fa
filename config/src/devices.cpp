// SPDX-License-Identifier: Apache-2.0
// [[devices]]: the serial devices, their framing, parser, fields, publishing and commands.

#include "sections.hpp"

#include <edgemq/config/regex.hpp>

#include <array>
#include <cctype>

namespace edgemq::config::detail {

using namespace std::chrono_literals;

namespace {

/// "{a}" placeholders of `text` that are not in `known`, as "{x}, {y}".
std::string unknown_placeholders(std::string_view text, names known) {
    std::string unknown;
    for (auto open = text.find('{'); open != std::string_view::npos;
         open = text.find('{', open + 1)) {
        const auto close = text.find('}', open);
        if (close == std::string_view::npos) {
            break;
        }
        const auto name = text.substr(open + 1, close - open - 1);
        if (std::ranges::find(known, name) == known.end()) {
            unknown += (unknown.empty() ? "{" : ", {") + std::string(name) + "}";
        }
    }
    return unknown;
}

field placeholder_text(std::string_view key, std::string& out, names known) {
    return {key, [&out, known](context& cx, const toml::node& node, const std::string& path) {
                const auto value = read_string(cx, node, path);
                if (!value) {
                    return;
                }
                if (const auto bad = unknown_placeholders(*value, known); !bad.empty()) {
                    cx.error(node, path,
                             "unknown placeholder " + bad + "; valid ones are " +
                                 listed(known, [](std::string_view n) {
                                     return "{" + std::string(n) + "}";
                                 }));
                    return;
                }
                out = *value;
            }};
}

/// A regex of the device dialect (config/regex.hpp), refused here, at its value, when the
/// driver could not compile it. Placeholders in `known` ({seq}) count as a number; other
/// `{name}`s are unknown placeholders, while `{3}` and `{2,5}` stay regex quantifiers.
field regex_text(std::string_view key, std::string& out, names known) {
    return {key, [&out, known](context& cx, const toml::node& node, const std::string& path) {
                const auto value = read_string(cx, node, path);
                if (!value) {
                    return;
                }
                std::string pattern;
                for (std::size_t i = 0; i < value->size(); ++i) {
                    const auto close = value->find('}', i);
                    const auto name = (*value)[i] == '{' && close != std::string::npos
                                          ? std::string_view(*value).substr(i + 1, close - i - 1)
                                          : std::string_view();
                    if (known.empty() || name.empty() ||
                        !(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_')) {
                        pattern.push_back((*value)[i]);
                    } else if (std::ranges::find(known, name) != known.end()) {
                        pattern += '1';
                        i = close;
                    } else {
                        cx.error(node, path,
                                 "unknown placeholder {" + std::string(name) +
                                     "}; valid ones are " + listed(known, [](std::string_view n) {
                                         return "{" + std::string(n) + "}";
                                     }));
                        return;
                    }
                }
                // Kept even when refused, so that "needs pattern" does not pile on.
                out = *value;
                if (const auto why = regex_problem(pattern); !why.empty()) {
                    cx.error(node, path,
                             double_quoted(*value) + " is not a valid regex (ECMAScript): " + why);
                }
            }};
}

/// A `match` key that must have a given shape to ever match what `edgemq ports` shows:
/// refused at its value when `fits` says no (and kept, so that "vid and pid come together"
/// does not pile on).
field shaped_text(std::string_view key, std::string& out, bool (*fits)(std::string_view),
                  std::string_view expected) {
    return {
        key, [&out, fits, expected](context& cx, const toml::node& node, const std::string& path) {
            const auto value = read_string(cx, node, path);
            if (!value) {
                return;
            }
            out = *value;
            if (!fits(*value)) {
                cx.error(node, path,
                         "expected " + std::string(expected) + ", got " + double_quoted(*value));
            }
        }};
}

/// A USB vendor or product id: 4 hex digits ("1a86"), as libserialport reports them.
bool usb_id_shaped(std::string_view v) {
    return v.size() == 4 && std::ranges::all_of(v, [](char c) {
               return std::isxdigit(static_cast<unsigned char>(c));
           });
}

/// A USB port path as Linux names it: the bus, then the port on each hub ("1-1.2").
bool usb_location_shaped(std::string_view v) {
    const auto dash = v.find('-');
    if (dash == 0 || dash == std::string_view::npos ||
        !std::ranges::all_of(v.substr(0, dash),
                             [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
        return false;
    }
    const auto ports = v.substr(dash + 1);
    bool digit_before = false;
    for (const char c : ports) {
        if (std::isdigit(static_cast<unsigned char>(c))) {
            digit_before = true;
        } else if (c == '.' && digit_before) {
            digit_before = false;
        } else {
            return false;
        }
    }
    return digit_before;
}

constexpr std::array<std::string_view, 3> parities{"none", "even", "odd"};
constexpr std::array<std::string_view, 3> flow_controls{"none", "rtscts", "xonxoff"};
constexpr std::array<std::string_view, 3> modem_lines{"keep", "on", "off"};
constexpr std::array<std::string_view, 4> framing_modes{"line", "delimiter", "fixed", "idle_gap"};
constexpr std::array<std::string_view, 3> encodings{"utf-8", "latin1", "binary"};
constexpr std::array<std::string_view, 5> parser_kinds{"raw", "kv", "csv", "json", "regex"};
constexpr std::array<std::string_view, 5> field_types{"auto", "int", "float", "bool", "string"};
constexpr std::array<std::string_view, 3> entity_components{"auto", "sensor", "binary_sensor"};
constexpr std::array<std::string_view, 6> command_types{"string", "int",  "float",
                                                        "bool",   "enum", "none"};
constexpr std::array<std::string_view, 3> topic_placeholders{"base", "device", "field"};
constexpr std::array<std::string_view, 3> command_placeholders{"value", "seq", "device"};
constexpr std::array<std::string_view, 1> reply_placeholders{"seq"};

/// `[devices.<key>.<name>]` tables: one element of `out` per name, read by `read_one`.
template <class T, class Read>
field named_tables(std::string_view key, std::vector<T>& out, Read read_one) {
    return {key, [&out, read_one](context& cx, const toml::node& node, const std::string& path) {
                const auto* entries = node.as_table();
                if (entries == nullptr) {
                    cx.error(node, path, "expected a table of named tables" + got(node));
                    return;
                }
                for (const auto& [name, value] : *entries) {
                    T& item = out.emplace_back();
                    item.name = name.str();
                    read_one(cx, value, path + '.' + std::string(name.str()), item);
                }
            }};
}

void read_field(context& cx, const toml::node& node, const std::string& path, device_field& f) {
    read_table(cx, node, path,
               {
                   nonempty_text("source", f.source),
                   one_of("type", f.type, field_types),
                   real("scale", f.scale),
                   real("offset", f.offset),
                   text("unit", f.unit),
                   optional_real("deadband", f.deadband),
                   one_of("component", f.component, entity_components),
                   nonempty_text("name", f.entity_name),
                   nonempty_text("device_class", f.device_class),
                   nonempty_text("state_class", f.state_class),
               });
    if (f.source.empty()) {
        f.source = f.name;
    }
    if (f.deadband && *f.deadband < 0) {
        cx.error(node, path + ".deadband", "must not be negative");
    }
    check_entity(cx, node, path, f);
}

void read_command(context& cx, const toml::node& node, const std::string& path,
                  device_command& c) {
    read_table(cx, node, path,
               {
                   placeholder_text("format", c.format, command_placeholders),
                   one_of("type", c.type, command_types),
                   optional_real("min", c.min),
                   optional_real("max", c.max),
                   text_array("values", c.values),
                   integer("max_length", c.max_length, 1, 65536),
                   boolean("append_eol", c.append_eol),
                   regex_text("reply", c.reply, reply_placeholders),
                   duration("timeout", c.timeout, milliseconds(1), milliseconds(1h)),
               });
    if (!node.is_table()) {
        return;
    }
    if (!std::ranges::all_of(c.name, is_id_char) || c.name.empty()) {
        cx.error(node, path, "a command name may hold only letters, digits, '_' and '-'");
    }
    if (c.type == command_type::enumeration && c.values.empty()) {
        cx.error(node, path, R"(type = "enum" needs values, e.g. values = ["on", "off"])");
    }
    if (c.min && c.max && *c.min > *c.max) {
        cx.error(node, path, "min must not be greater than max");
    }
}

/// The rules that need several keys of one device; reported at the device's table.
void check_device(context& cx, const toml::node& at, const std::string& path, const device& d) {
    if (d.id.empty()) {
        cx.error(at, path, R"(missing "id", e.g. id = "greenhouse")");
    } else if (!std::ranges::all_of(d.id, is_id_char)) {
        cx.error(at, path,
                 "id " + double_quoted(d.id) +
                     " may hold only letters, digits, '_' and '-' (it is used in topics)");
    }
    check_match(cx, at, path, d.match);
    if (d.framing == framing_mode::delimiter && d.delimiter.empty()) {
        cx.error(at, path, R"(framing = "delimiter" needs delimiter, e.g. delimiter = ";")");
    }
    if (d.framing == framing_mode::fixed && d.frame_length == 0) {
        cx.error(at, path, R"(framing = "fixed" needs frame_length, e.g. frame_length = 16)");
    }
    if (d.framing == framing_mode::fixed && d.frame_length > d.max_frame_bytes) {
        cx.error(at, path, "frame_length must not exceed max_frame_bytes");
    }
    if (d.parser.kind == parser_kind::csv && d.parser.columns.empty()) {
        cx.error(at, path + ".parser",
                 R"(kind = "csv" needs columns, e.g. columns = ["voltage", "current"])");
    }
    if (d.parser.kind == parser_kind::regex && d.parser.pattern.empty()) {
        cx.error(at, path + ".parser",
                 R"x(kind = "regex" needs pattern, e.g. pattern = "T(?<temp>[0-9.]+)")x");
    }
    if (d.parser.kind == parser_kind::kv &&
        (d.parser.pair_separator.empty() || d.parser.kv_separator.empty())) {
        cx.error(at, path + ".parser", "pair_separator and kv_separator must not be empty");
    }
    if (d.encoding == text_encoding::binary && d.parser.kind != parser_kind::raw) {
        cx.error(at, path, R"(encoding = "binary" needs the raw parser (it publishes hex))");
    }
}

} // namespace

/// Why `later` cannot have the port that `earlier` (at `earlier_path`) already has, or "" when
/// the two can be told apart. Two devices on one port would fight over it: the second open
/// fails, or on a pty each reads part of the frames. Compared as written, without resolving
/// symlinks. The driver tries path first, so an equal path clashes whatever else the matches
/// say; the USB keys clash only when neither match names a path or by_id and all of them are
/// the same, with vid and pid compared ignoring case as the driver does.
std::string claimed_twice(const device_match& earlier, const device_match& later,
                          const std::string& earlier_path) {
    const auto taken = " already used by " + earlier_path;
    if (!later.path.empty() && later.path == earlier.path) {
        return "path " + double_quoted(later.path) + " is" + taken;
    }
    // by_id is tried after path: the same name claims one port when neither has a path.
    if (!later.by_id.empty() && later.by_id == earlier.by_id && later.path.empty() &&
        earlier.path.empty()) {
        return "by_id " + double_quoted(later.by_id) + " is" + taken;
    }
    const auto usb_only = [](const device_match& m) {
        return m.path.empty() && m.by_id.empty() &&
               (!m.vid.empty() || !m.serial.empty() || !m.product.empty() || !m.location.empty());
    };
    const auto same_hex = [](std::string_view x, std::string_view y) {
        return std::ranges::equal(x, y, [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) ==
                   std::tolower(static_cast<unsigned char>(b));
        });
    };
    if (!usb_only(earlier) || !usb_only(later) || !same_hex(earlier.vid, later.vid) ||
        !same_hex(earlier.pid, later.pid) || earlier.serial != later.serial ||
        earlier.product != later.product || earlier.location != later.location) {
        return "";
    }
    std::vector<std::string> ids;
    if (!later.vid.empty()) {
        ids.push_back("vid " + double_quoted(later.vid));
    }
    if (!later.pid.empty()) {
        ids.push_back("pid " + double_quoted(later.pid));
    }
    if (!later.serial.empty()) {
        ids.push_back("serial " + double_quoted(later.serial));
    }
    if (!later.product.empty()) {
        ids.push_back("product " + double_quoted(later.product));
    }
    if (!later.location.empty()) {
        ids.push_back("location " + double_quoted(later.location));
    }
    std::string what;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        what += (i == 0 ? "" : i + 1 == ids.size() ? " and " : ", ") + ids[i];
    }
    return what + (ids.size() == 1 ? " is" : " are") + taken +
           (later.serial.empty() && later.location.empty()
                ? "; add each adapter's serial or location to match, or match by_id (see "
                  "`edgemq ports`)"
                : "");
}

field match_table(std::string_view key, device_match& m) {
    return table(key,
                 {
                     nonempty_text("path", m.path),
                     nonempty_text("by_id", m.by_id),
                     shaped_text("vid", m.vid, usb_id_shaped, R"(4 hex digits, e.g. "1a86")"),
                     shaped_text("pid", m.pid, usb_id_shaped, R"(4 hex digits, e.g. "7523")"),
                     nonempty_text("serial", m.serial),
                     nonempty_text("product", m.product),
                     shaped_text("location", m.location, usb_location_shaped,
                                 R"(a USB port as `edgemq ports` shows it, e.g. "1-1.2")"),
                 });
}

void check_match(context& cx, const toml::node& at, const std::string& path,
                 const device_match& m) {
    if (m.path.empty() && m.by_id.empty() && m.vid.empty() && m.serial.empty() &&
        m.product.empty() && m.location.empty()) {
        cx.error(at, path,
                 R"(missing "match", e.g. match = { by_id = "usb-FTDI_FT232R_A900WXPC-if00-port0" } )"
                 R"(or match = { path = "/dev/ttyUSB0" } or match = { vid = "1a86", pid = "7523" })");
    }
    if (m.vid.empty() != m.pid.empty()) {
        cx.error(at, path + ".match", "vid and pid come together");
    }
}

field publish_table(std::string_view key, device_publish& p) {
    return table(key,
                 {
                     nonempty_text("base", p.base),
                     boolean("state", p.state),
                     boolean("fields", p.fields),
                     placeholder_text("state_topic", p.state_topic, topic_placeholders),
                     placeholder_text("field_topic", p.field_topic, topic_placeholders),
                     integer("qos", p.qos, 0, 2),
                     boolean("retain", p.retain),
                     duration("min_interval", p.min_interval, 0ms, milliseconds(24h)),
                     duration("max_interval", p.max_interval, 0ms, milliseconds(24h)),
                 });
}

/// [[devices]]: one serial device each.
field device_array(std::string_view key, std::vector<device>& out) {
    return table_array(
        key, "devices",
        [&out](context& cx, const toml::node& element, const std::string& path, std::size_t i) {
            const auto element_path = item_path(path, i);
            device& d = out.emplace_back();
            read_table(
                cx, element, element_path,
                {
                    nonempty_text("id", d.id),
                    match_table("match", d.match),
                    integer("baud", d.baud, 50, 4'000'000),
                    integer("data_bits", d.data_bits, 5, 8),
                    one_of("parity", d.parity, parities),
                    integer("stop_bits", d.stop_bits, 1, 2),
                    one_of("flow_control", d.flow_control, flow_controls),
                    one_of("dtr", d.dtr, modem_lines),
                    one_of("rts", d.rts, modem_lines),
                    duration("settle", d.settle, 0ms, milliseconds(1min)),
                    one_of("framing", d.framing, framing_modes),
                    nonempty_text("delimiter", d.delimiter),
                    integer("frame_length", d.frame_length, 1, 1 << 20),
                    duration("idle_gap", d.idle_gap, milliseconds(1), milliseconds(1min)),
                    integer("max_frame_bytes", d.max_frame_bytes, 1, 1 << 20),
                    one_of("encoding", d.encoding, encodings),
                    table("parser",
                          {
                              one_of("kind", d.parser.kind, parser_kinds),
                              text("pair_separator", d.parser.pair_separator),
                              text("kv_separator", d.parser.kv_separator),
                              nonempty_text("separator", d.parser.separator),
                              text_array("columns", d.parser.columns),
                              regex_text("pattern", d.parser.pattern, {}),
                          }),
                    named_tables("fields", d.fields, read_field),
                    publish_table("publish", d.publish),
                    named_tables("commands", d.commands, read_command),
                    duration("stats_interval", d.stats_interval, 0ms, milliseconds(24h)),
                    nonempty_text("name", d.name),
                    nonempty_text("manufacturer", d.manufacturer),
                    nonempty_text("model", d.model),
                });
            if (element.is_table()) {
                check_device(cx, element, element_path, d);
            }
            for (std::size_t j = 0; j + 1 < out.size(); ++j) {
                if (!d.id.empty() && out[j].id == d.id) {
                    cx.error(element, element_path,
                             "id " + double_quoted(d.id) + " is already used by " +
                                 item_path(path, j));
                }
            }
            // Reported once, against the first device that has the port.
            for (std::size_t j = 0; j + 1 < out.size(); ++j) {
                const auto why = claimed_twice(out[j].match, d.match, item_path(path, j));
                if (!why.empty()) {
                    const auto* match = element.as_table()->get("match");
                    cx.error(match != nullptr ? *match : element, element_path + ".match", why);
                    break;
                }
            }
        });
}

} // namespace edgemq::config::detail
