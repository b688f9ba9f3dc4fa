// SPDX-License-Identifier: Apache-2.0
// What libserialport reports, mapped to port_info, and USB matching over a given list of
// ports: no device nodes; a sysfs tree of a few files in a temporary directory.

#include "scratch_dir.hpp"

#include <edgemq/serial/port.hpp>

#include <libserialport.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

using edgemq::config::device_match;
using edgemq::serial::port_info;
using edgemq::serial::port_transport;
using edgemq::serial::resolve_port;
using edgemq::serial::sp_port_report;
using edgemq::serial::to_port_info;

namespace fs = std::filesystem;

namespace {

port_info usb_port(std::string path, std::string by_id, std::string vid, std::string pid,
                   std::string serial, std::string location = {}, std::string product = {}) {
    port_info p;
    p.path = std::move(path);
    p.by_id = std::move(by_id);
    p.vid = std::move(vid);
    p.pid = std::move(pid);
    p.serial = std::move(serial);
    p.product = std::move(product);
    p.location = std::move(location);
    p.transport = port_transport::usb;
    return p;
}

/// A port that is not USB, as libserialport describes a UART.
port_info native_port(std::string path, std::string description = {}) {
    port_info p;
    p.path = std::move(path);
    p.description = std::move(description);
    return p;
}

const std::vector<port_info> two_ch340s{
    usb_port("/dev/ttyUSB0", "usb-1a86_USB_Serial-if00-port0", "1a86", "7523", "", "1-1.2",
             "USB Serial"),
    usb_port("/dev/ttyUSB1", "", "1a86", "7523", "", "1-1.3", "USB Serial"),
    usb_port("/dev/ttyACM0", "usb-Arduino_Uno_7573-if00", "2341", "0043", "7573", "3-2",
             "Arduino Uno"),
    native_port("/dev/ttyAMA0"),
};

device_match usb(std::string vid, std::string pid, std::string serial = {},
                 std::string location = {}, std::string product = {}) {
    device_match m;
    m.vid = std::move(vid);
    m.pid = std::move(pid);
    m.serial = std::move(serial);
    m.location = std::move(location);
    m.product = std::move(product);
    return m;
}

void write(const fs::path& file, const std::string& text) {
    fs::create_directories(file.parent_path());
    std::ofstream(file) << text;
}

} // namespace

TEST_CASE("a USB match selecting two ports is refused with both named", "[serial]") {
    const auto r = resolve_port(usb("1a86", "7523"), two_ch340s);
    CHECK_FALSE(r.ok());
    CHECK(r.path.empty());
    CHECK(r.error ==
          "usb 1a86:7523 matches 2 ports, /dev/ttyUSB0 and /dev/ttyUSB1; refusing to guess which "
          "is the device: add the adapter's serial or location to match, or match by_id (see "
          "`edgemq ports`)");
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
    CHECK_FALSE(resolve_port(usb("", "", ""), {native_port("/dev/ttyS0")}).ok());
    CHECK(resolve_port(usb("", "", "", "1-1.2"), {native_port("/dev/ttyS0")}).error ==
          "no port matches usb location 1-1.2");
}

TEST_CASE("the location tells two identical adapters apart, product narrows a match", "[serial]") {
    CHECK(resolve_port(usb("1a86", "7523", "", "1-1.3"), two_ch340s).path == "/dev/ttyUSB1");
    CHECK(resolve_port(usb("", "", "", "1-1.2"), two_ch340s).path == "/dev/ttyUSB0");
    // A location is a whole USB port path: "1-1" is the hub, not a port behind it.
    CHECK(resolve_port(usb("", "", "", "1-1"), two_ch340s).error ==
          "no port matches usb location 1-1");
    CHECK(resolve_port(usb("", "", "", "", "Arduino Uno"), two_ch340s).path == "/dev/ttyACM0");
    // The product exactly as the adapter reports it.
    CHECK_FALSE(resolve_port(usb("", "", "", "", "arduino uno"), two_ch340s).ok());
    CHECK(resolve_port(usb("1a86", "7523", "", "", "USB Serial"), two_ch340s)
              .error.starts_with("usb 1a86:7523 product USB Serial matches 2 ports"));
    CHECK(resolve_port(usb("2341", "0043", "7573", "3-2", "Arduino Uno"), two_ch340s).path ==
          "/dev/ttyACM0");
    CHECK_FALSE(resolve_port(usb("2341", "0043", "7573", "3-1"), two_ch340s).ok());
}

TEST_CASE("a USB port as libserialport reports it becomes a port_info", "[serial]") {
    // sp_get_port_* for a CH340 on bus 1, device 5 (what libserialport 0.1.1 reads from
    // sysfs: busnum, devnum, idVendor, idProduct, manufacturer, product, serial).
    sp_port_report ch340;
    ch340.name = "/dev/ttyUSB0";
    ch340.description = "USB Serial - 5A3B";
    ch340.transport = SP_TRANSPORT_USB;
    ch340.usb_bus = 1;
    ch340.usb_address = 5;
    ch340.usb_vid = 0x1a86;
    ch340.usb_pid = 0x7523;
    ch340.usb_manufacturer = "QinHeng Electronics";
    ch340.usb_product = "USB Serial";
    ch340.usb_serial = "5A3B";
    const auto p = to_port_info(ch340, "usb-1a86_USB_Serial_5A3B-if00-port0", "1-1.2");
    CHECK(p.path == "/dev/ttyUSB0");
    CHECK(p.transport == port_transport::usb);
    CHECK(edgemq::serial::to_string(p.transport) == "usb");
    CHECK(p.vid == "1a86");
    CHECK(p.pid == "7523");
    CHECK(p.serial == "5A3B");
    CHECK(p.manufacturer == "QinHeng Electronics");
    CHECK(p.product == "USB Serial");
    CHECK(p.description == "USB Serial - 5A3B");
    CHECK(p.bus == 1);
    CHECK(p.address == 5);
    CHECK(p.location == "1-1.2");
    CHECK(p.by_id == "usb-1a86_USB_Serial_5A3B-if00-port0");
    CHECK(p.bluetooth_address.empty());

    // Ids are 4 hex digits with their leading zeros, as lsusb and udev print them.
    sp_port_report ftdi = ch340;
    ftdi.usb_vid = 0x0403;
    ftdi.usb_pid = 0x6001;
    CHECK(to_port_info(ftdi).vid == "0403");
    CHECK(to_port_info(ftdi).pid == "6001");
    // And the port matches on them.
    CHECK(resolve_port(usb("0403", "6001"), {to_port_info(ftdi)}).path == "/dev/ttyUSB0");
}

TEST_CASE("ports that are not USB, or USB without ids, have no USB identity", "[serial]") {
    // A 16550 UART: libserialport's description is the node's name, and every USB getter
    // fails (-1), whatever the struct held.
    sp_port_report uart;
    uart.name = "/dev/ttyS0";
    uart.description = "ttyS0";
    uart.transport = SP_TRANSPORT_NATIVE;
    uart.usb_bus = 7;
    uart.usb_vid = 0x1a86;
    uart.usb_pid = 0x7523;
    uart.usb_serial = "X";
    const auto s = to_port_info(uart, "", "1-1");
    CHECK(s == native_port("/dev/ttyS0", "ttyS0"));
    CHECK_FALSE(resolve_port(usb("1a86", "7523"), {s}).ok());

    sp_port_report rfcomm;
    rfcomm.name = "/dev/rfcomm0";
    rfcomm.description = "rfcomm0";
    rfcomm.transport = SP_TRANSPORT_BLUETOOTH;
    rfcomm.bluetooth_address = "00:1a:7d:da:71:13";
    const auto b = to_port_info(rfcomm);
    CHECK(b.transport == port_transport::bluetooth);
    CHECK(edgemq::serial::to_string(b.transport) == "bluetooth");
    CHECK(b.bluetooth_address == "00:1a:7d:da:71:13");
    CHECK(b.vid.empty());

    // USB, but libserialport found no idVendor/idProduct above the tty: nothing to match on.
    sp_port_report bare;
    bare.name = "/dev/ttyACM0";
    bare.description = "ttyACM0";
    bare.transport = SP_TRANSPORT_USB;
    bare.usb_serial = "7573";
    const auto a = to_port_info(bare, "", "3-2");
    CHECK(a.transport == port_transport::usb);
    CHECK(a.vid.empty());
    CHECK(a.serial.empty());
    CHECK(a.location.empty());
    CHECK(a.bus == -1);
    CHECK_FALSE(resolve_port(usb("", "", "7573"), {a}).ok());
}

TEST_CASE("the USB location is the sysfs device with libserialport's bus and address", "[serial]") {
    // The layout of a CH340 behind a hub: /sys/class/tty/ttyUSB0/device is the usb-serial
    // port under the interface 1-1.2:1.0, under the USB device 1-1.2 (busnum 1, devnum 5),
    // under the hub 1-1 (busnum 1, devnum 2).
    const edgemq::test::scratch_dir sys;
    const auto hub = sys.path / "devices/pci0000:00/0000:00:14.0/usb1/1-1";
    const auto adapter = hub / "1-1.2";
    const auto port = adapter / "1-1.2:1.0/ttyUSB0";
    write(hub / "busnum", "1\n");
    write(hub / "devnum", "2\n");
    write(adapter / "busnum", "1\n");
    write(adapter / "devnum", "5\n");
    fs::create_directories(port / "tty/ttyUSB0");
    fs::create_directories(sys.path / "class/tty/ttyUSB0");
    fs::create_symlink(port, sys.path / "class/tty/ttyUSB0/device");

    using edgemq::serial::usb_location;
    CHECK(usb_location(sys.path, "ttyUSB0", 1, 5) == "1-1.2");
    // Another device (the hub's numbers) is found only as that device.
    CHECK(usb_location(sys.path, "ttyUSB0", 1, 2) == "1-1");
    // An address libserialport did not report, or one that is gone (replugged since).
    CHECK(usb_location(sys.path, "ttyUSB0", -1, -1).empty());
    CHECK(usb_location(sys.path, "ttyUSB0", 1, 6).empty());
    CHECK(usb_location(sys.path, "ttyUSB9", 1, 5).empty());
}
