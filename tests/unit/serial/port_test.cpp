// SPDX-License-Identifier: Apache-2.0
// USB matching over a given list of ports: no sysfs, no device nodes.

#include <edgemq/serial/port.hpp>

#include <catch2/catch.hpp>

using edgemq::config::device_match;
using edgemq::serial::port_info;
using edgemq::serial::resolve_port;

namespace {

const std::vector<port_info> two_ch340s{
    {"/dev/ttyUSB0", "usb-1a86_USB_Serial-if00-port0", "1a86", "7523", ""},
    {"/dev/ttyUSB1", "", "1a86", "7523", ""},
    {"/dev/ttyACM0", "usb-Arduino_Uno_7573-if00", "2341", "0043", "7573"},
    {"/dev/ttyAMA0", "", "", "", ""},
};

device_match usb(std::string vid, std::string pid, std::string serial = {}) {
    device_match m;
    m.vid = std::move(vid);
    m.pid = std::move(pid);
    m.serial = std::move(serial);
    return m;
}

} // namespace

TEST_CASE("a USB match selecting two ports is refused with both named", "[serial]") {
    const auto r = resolve_port(usb("1a86", "7523"), two_ch340s);
    CHECK_FALSE(r.ok());
    CHECK(r.path.empty());
    CHECK(r.error ==
          "usb 1a86:7523 matches 2 ports, /dev/ttyUSB0 and /dev/ttyUSB1; refusing to guess which "
          "is the device: add the adapter's serial to match, or match by_id (see `edgemq ports`)");
}

TEST_CASE("a USB match selecting one port resolves to it", "[serial]") {
    // Hex digits in either case; the serial narrows it down.
    CHECK(resolve_port(usb("2341", "0043"), two_ch340s).path == "/dev/ttyACM0");
    CHECK(resolve_port(usb("1A86", "7523", ""), two_ch340s)
              .error.starts_with("usb 1A86:7523 matches 2 ports"));
    CHECK(resolve_port(usb("", "", "7573"), two_ch340s).path == "/dev/ttyACM0");
    CHECK(resolve_port(usb("2341", "0043", "7573"), two_ch340s).path == "/dev/ttyACM0");
}

TEST_CASE("a USB match selecting no port says what it looked for", "[serial]") {
    const auto r = resolve_port(usb("0403", "6001", "A9"), two_ch340s);
    CHECK_FALSE(r.ok());
    CHECK(r.error == "no port matches usb 0403:6001 serial A9");
    // A port without USB identity never matches USB keys.
    CHECK_FALSE(resolve_port(usb("", "", ""), {{"/dev/ttyS0", "", "", "", ""}}).ok());
}
