// SPDX-License-Identifier: Apache-2.0
#include "edgemq/serial/port.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace edgemq::serial {
namespace {

namespace fs = std::filesystem;

std::optional<speed_t> speed_of(std::uint32_t baud) {
    switch (baud) {
    case 50: return B50;
    case 75: return B75;
    case 110: return B110;
    case 300: return B300;
    case 600: return B600;
    case 1200: return B1200;
    case 2400: return B2400;
    case 4800: return B4800;
    case 9600: return B9600;
    case 19200: return B19200;
    case 38400: return B38400;
    case 57600: return B57600;
    case 115200: return B115200;
    case 230400: return B230400;
    case 460800: return B460800;
    case 500000: return B500000;
    case 921600: return B921600;
    case 1000000: return B1000000;
    case 2000000: return B2000000;
    case 3000000: return B3000000;
    case 4000000: return B4000000;
    default: return std::nullopt;
    }
}

std::string real(const std::string& path) {
    std::error_code ec;
    auto p = fs::canonical(path, ec);
    return ec ? std::string() : p.string();
}

std::string group_of(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        return {};
    }
    if (const auto* g = ::getgrgid(st.st_gid)) {
        return g->gr_name;
    }
    return std::to_string(st.st_gid);
}

std::string process_name(const std::string& pid) {
    std::ifstream comm("/proc/" + pid + "/comm");
    std::string name;
    std::getline(comm, name);
    return "pid " + pid + " (" + name + ")";
}

/// "pid 1234 (minicom)" for the process holding a flock on `path`, from /proc/locks (lines
/// like "1: FLOCK  ADVISORY  WRITE 1234 00:19:3 0 EOF", device in hex, inode in decimal), or "".
/// It names the locker itself, where every process with the node open may include innocent
/// ones (socat keeps its pty open, for one).
std::string flock_holder_of(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        return {};
    }
    char want[64];
    std::snprintf(want, sizeof want, "%02x:%02x:%lu", major(st.st_dev), minor(st.st_dev),
                  static_cast<unsigned long>(st.st_ino));
    std::ifstream locks("/proc/locks");
    for (std::string line; std::getline(locks, line);) {
        std::istringstream in(line);
        std::string n, kind, mode, access, pid, where;
        in >> n >> kind >> mode >> access >> pid >> where;
        if (kind == "FLOCK" && where == want) {
            return process_name(pid);
        }
    }
    return {};
}

open_result failure(int fd, int err, std::string message) {
    if (fd >= 0) {
        ::close(fd);
    }
    return {-1, boost::system::error_code(err, boost::system::system_category()),
            std::move(message)};
}

} // namespace

std::string holders_of(const std::string& path) {
    const auto target = real(path);
    std::string holders;
    std::error_code ec;
    for (const auto& proc : fs::directory_iterator("/proc", ec)) {
        const auto pid = proc.path().filename().string();
        if (pid.empty() || !std::ranges::all_of(pid, [](char c) { return c >= '0' && c <= '9'; })) {
            continue;
        }
        if (pid == std::to_string(::getpid())) {
            continue;
        }
        std::error_code fd_ec;
        for (const auto& fd : fs::directory_iterator(proc.path() / "fd", fd_ec)) {
            std::error_code link_ec;
            if (fs::read_symlink(fd.path(), link_ec).string() == target) {
                holders += (holders.empty() ? "" : ", ") + process_name(pid);
                break;
            }
        }
    }
    return holders;
}

open_result open_port(const std::string& path, const config::device& d) {
    const int fd = ::open(path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        const int err = errno;
        if (err == EACCES) {
            const auto group = group_of(path);
            return failure(-1, err,
                           "permission denied opening " + path + "; the device node belongs to "
                           "group '" + group + "': add the gateway's user to it (usermod -aG " +
                           group + " edgemq) or install a udev rule");
        }
        if (err == EBUSY) {
            // TIOCEXCL held by another process (as a second edgemq holds it).
            const auto holders = holders_of(path);
            return failure(-1, err,
                           path + " is in exclusive use by another process" +
                               (holders.empty() ? std::string() : ": " + holders));
        }
        return failure(-1, err, "cannot open " + path + ": " + std::strerror(err));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        auto holders = flock_holder_of(path);
        if (holders.empty()) {
            holders = holders_of(path);
        }
        return failure(fd, err,
                       path + " is locked by another process" +
                           (holders.empty() ? std::string() : ": " + holders));
    }
    if (::ioctl(fd, TIOCEXCL) != 0 && errno != ENOTTY) {
        const int err = errno;
        return failure(fd, err, "cannot take " + path + " exclusively: " + std::strerror(err));
    }
    termios tio{};
    if (::tcgetattr(fd, &tio) != 0) {
        const int err = errno;
        return failure(fd, err, path + " is not a terminal: " + std::strerror(err));
    }
    ::cfmakeraw(&tio);
    const auto speed = speed_of(d.baud);
    if (!speed) {
        return failure(fd, EINVAL, "baud " + std::to_string(d.baud) + " is not supported");
    }
    ::cfsetispeed(&tio, *speed);
    ::cfsetospeed(&tio, *speed);
    tio.c_cflag &= ~(CSIZE | PARENB | PARODD | CSTOPB | CRTSCTS);
    tio.c_cflag |= CLOCAL | CREAD;
    switch (d.data_bits) {
    case 5: tio.c_cflag |= CS5; break;
    case 6: tio.c_cflag |= CS6; break;
    case 7: tio.c_cflag |= CS7; break;
    default: tio.c_cflag |= CS8; break;
    }
    if (d.parity != config::parity::none) {
        tio.c_cflag |= PARENB | (d.parity == config::parity::odd ? PARODD : 0);
    }
    if (d.stop_bits == 2) {
        tio.c_cflag |= CSTOPB;
    }
    tio.c_iflag &= ~(IXON | IXOFF | IXANY);
    if (d.flow_control == config::flow_control::rtscts) {
        tio.c_cflag |= CRTSCTS;
    } else if (d.flow_control == config::flow_control::xonxoff) {
        tio.c_iflag |= IXON | IXOFF;
    }
    tio.c_cc[VMIN] = 1;
    tio.c_cc[VTIME] = 0;
    if (::tcsetattr(fd, TCSANOW, &tio) != 0) {
        const int err = errno;
        return failure(fd, err, "cannot configure " + path + ": " + std::strerror(err));
    }
    // DTR/RTS: a pty has no modem lines; failing to set them there is not an error.
    const auto set_line = [fd](config::modem_line how, int bit) {
        if (how != config::modem_line::keep) {
            ::ioctl(fd, how == config::modem_line::on ? TIOCMBIS : TIOCMBIC, &bit);
        }
    };
    set_line(d.dtr, TIOCM_DTR);
    set_line(d.rts, TIOCM_RTS);
    return {fd, {}, {}};
}

std::string describe(const config::device_match& m) {
    if (!m.path.empty()) {
        return "path " + m.path;
    }
    if (!m.by_id.empty()) {
        return "by_id " + m.by_id;
    }
    return "usb " + m.vid + ":" + m.pid + (m.serial.empty() ? "" : " serial " + m.serial);
}

resolved_port resolve_port(const config::device_match& match,
                           const std::vector<port_info>& ports) {
    if (!match.path.empty()) {
        if (auto p = real(match.path); !p.empty()) {
            return {p, {}};
        }
    }
    if (!match.by_id.empty()) {
        const auto full = match.by_id.starts_with('/') ? match.by_id
                                                       : "/dev/serial/by-id/" + match.by_id;
        if (auto p = real(full); !p.empty()) {
            return {p, {}};
        }
    }
    std::vector<std::string> found;
    if (!match.vid.empty() || !match.serial.empty()) {
        const auto same = [](std::string_view want, std::string_view have) {
            return want.empty() || (want.size() == have.size() &&
                                    std::ranges::equal(want, have, [](char a, char b) {
                                        return std::tolower(static_cast<unsigned char>(a)) ==
                                               std::tolower(static_cast<unsigned char>(b));
                                    }));
        };
        for (const auto& port : ports) {
            if (!port.vid.empty() && same(match.vid, port.vid) && same(match.pid, port.pid) &&
                (match.serial.empty() || match.serial == port.serial)) {
                found.push_back(port.path);
            }
        }
    }
    if (found.size() == 1) {
        return {found.front(), {}};
    }
    if (found.empty()) {
        return {{}, "no port matches " + describe(match)};
    }
    std::string names;
    for (const auto& f : found) {
        names += (names.empty() ? "" : " and ") + f;
    }
    return {{},
            describe(match) + " matches " + std::to_string(found.size()) + " ports, " + names +
                "; refusing to guess which is the device: add the adapter's serial to match, or "
                "match by_id (see `edgemq ports`)"};
}

resolved_port resolve_port(const config::device_match& match) {
    const bool usb = !match.vid.empty() || !match.serial.empty();
    return resolve_port(match, usb ? list_ports() : std::vector<port_info>{});
}

std::vector<port_info> list_ports() {
    std::vector<port_info> ports;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/dev", ec)) {
        const auto name = entry.path().filename().string();
        const bool usb = name.starts_with("ttyUSB") || name.starts_with("ttyACM");
        const bool uart = name.starts_with("ttyAMA") || name.starts_with("ttyS");
        if (!usb && !uart) {
            continue;
        }
        // ttyS0..31 exist on every PC; only those with a real UART behind them count.
        std::error_code link_ec;
        if (uart && !fs::exists("/sys/class/tty/" + name + "/device/driver", link_ec)) {
            continue;
        }
        ports.push_back({entry.path().string(), {}, {}, {}, {}});
    }
    for (const auto& link : fs::directory_iterator("/dev/serial/by-id", ec)) {
        const auto target = real(link.path().string());
        auto it = std::ranges::find(ports, target, &port_info::path);
        if (it == ports.end()) {
            ports.push_back({target, link.path().filename().string(), {}, {}, {}});
        } else {
            it->by_id = link.path().filename().string();
        }
    }
    for (auto& port : ports) {
        // The tty's USB device is a few levels up from /sys/class/tty/<name>/device (the
        // interface); the first ancestor with idVendor is it.
        std::error_code dir_ec;
        const auto name = fs::path(port.path).filename().string();
        auto dir = fs::canonical("/sys/class/tty/" + name + "/device", dir_ec);
        for (int up = 0; !dir_ec && up < 4 && dir.has_relative_path();
             ++up, dir = dir.parent_path()) {
            if (!fs::exists(dir / "idVendor")) {
                continue;
            }
            const auto read = [&dir](const char* file) {
                std::ifstream in(dir / file);
                std::string s;
                std::getline(in, s);
                return s;
            };
            port.vid = read("idVendor");
            port.pid = read("idProduct");
            port.serial = read("serial");
            break;
        }
    }
    std::ranges::sort(ports, {}, &port_info::path);
    return ports;
}

} // namespace edgemq::serial
