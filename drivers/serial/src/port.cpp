// SPDX-License-Identifier: Apache-2.0
#include "edgemq/serial/port.hpp"

#include <fcntl.h>
#include <grp.h>
#include <libserialport.h>
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
#include <memory>
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

/// open(2) as both paths need it first, with what an operator needs for EACCES and EBUSY.
open_result open_node(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
        return {fd, {}, {}};
    }
    const int err = errno;
    if (err == EACCES) {
        const auto group = group_of(path);
        return failure(-1, err,
                       "permission denied opening " + path +
                           "; the device node belongs to "
                           "group '" +
                           group + "': add the gateway's user to it (usermod -aG " + group +
                           " edgemq) or install a udev rule");
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

/// flock(LOCK_EX|LOCK_NB) on `fd`, naming the holder when another process has it; `fd` is
/// closed on failure.
open_result lock(int fd, const std::string& path) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
        return {fd, {}, {}};
    }
    const int err = errno;
    auto holders = flock_holder_of(path);
    if (holders.empty()) {
        holders = holders_of(path);
    }
    return failure(fd, err,
                   path + " is locked by another process" +
                       (holders.empty() ? std::string() : ": " + holders));
}

/// TIOCEXCL: no other open of the node succeeds (except with CAP_SYS_ADMIN) until it closes.
open_result take_exclusive(int fd, const std::string& path) {
    if (::ioctl(fd, TIOCEXCL) != 0 && errno != ENOTTY) {
        const int err = errno;
        return failure(fd, err, "cannot take " + path + " exclusively: " + std::strerror(err));
    }
    return {fd, {}, {}};
}

/// open(2) and flock: a descriptor of the node that no other process holds, or why not.
open_result open_locked(const std::string& path) {
    const auto opened = open_node(path);
    return opened.ok() ? lock(opened.fd, path) : opened;
}

/// libserialport's message for its last failure, with its errno.
open_result sp_failure(int fd, const std::string& what) {
    const int err = sp_last_error_code();
    char* message = sp_last_error_message();
    auto text = what + ": " + (message != nullptr ? message : std::strerror(err));
    sp_free_error_message(message);
    return failure(fd, err != 0 ? err : EIO, std::move(text));
}

open_result open_with_termios(const std::string& path, const config::device& d);

open_result open_with_libserialport(sp_port& port, const std::string& path,
                                    const config::device& d) {
    // sp_open sets raw mode as it opens, so a port that another process holds must be found
    // out before: open(2) and flock it first, and hand the lock over once libserialport has
    // its own descriptor (a flock belongs to the open file, so the two would exclude each
    // other).
    const auto probe = open_locked(path);
    if (!probe.ok()) {
        return probe;
    }
    if (sp_open(&port, SP_MODE_READ_WRITE) != SP_OK) {
        const bool no_modem_lines = sp_last_error_code() == ENOTTY;
        auto r = sp_failure(-1, "cannot open " + path);
        ::close(probe.fd);
        // sp_open reads the modem lines (TIOCMGET), which a pty refuses with ENOTTY.
        return no_modem_lines ? open_with_termios(path, d) : r;
    }
    int fd = -1;
    sp_get_port_handle(&port, &fd);
    // libserialport 0.1.1 opens without O_CLOEXEC; ownership of the descriptor passes to the
    // caller here: sp_free_port frees the struct and leaves the descriptor open.
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    ::flock(probe.fd, LOCK_UN);
    ::close(probe.fd);
    if (auto r = lock(fd, path); !r.ok()) {
        return r;
    }
    if (auto r = take_exclusive(fd, path); !r.ok()) {
        return r;
    }
    sp_port_config* raw_config = nullptr;
    if (sp_new_config(&raw_config) != SP_OK) {
        return sp_failure(fd, "cannot configure " + path);
    }
    const std::unique_ptr<sp_port_config, void (*)(sp_port_config*)> config(raw_config,
                                                                            sp_free_config);
    sp_set_config_baudrate(config.get(), static_cast<int>(d.baud));
    sp_set_config_bits(config.get(), d.data_bits);
    sp_set_config_parity(config.get(), d.parity == config::parity::even  ? SP_PARITY_EVEN
                                       : d.parity == config::parity::odd ? SP_PARITY_ODD
                                                                         : SP_PARITY_NONE);
    sp_set_config_stopbits(config.get(), d.stop_bits);
    if (d.dtr != config::modem_line::keep) {
        sp_set_config_dtr(config.get(), d.dtr == config::modem_line::on ? SP_DTR_ON : SP_DTR_OFF);
    }
    if (d.rts != config::modem_line::keep) {
        sp_set_config_rts(config.get(), d.rts == config::modem_line::on ? SP_RTS_ON : SP_RTS_OFF);
    }
    // After rts: with rtscts the RTS line belongs to the flow control. Always set, as it is
    // what initialises the config's XON/XOFF (sp_new_config leaves it unset in 0.1.1).
    sp_set_config_flowcontrol(
        config.get(), d.flow_control == config::flow_control::rtscts    ? SP_FLOWCONTROL_RTSCTS
                      : d.flow_control == config::flow_control::xonxoff ? SP_FLOWCONTROL_XONXOFF
                                                                        : SP_FLOWCONTROL_NONE);
    if (sp_set_config(&port, config.get()) != SP_OK) {
        return sp_failure(fd,
                          "cannot configure " + path + " (" + std::to_string(d.baud) + " baud)");
    }
    // libserialport (0.1.1 and upstream alike) writes CRTSCTS into c_iflag instead of
    // c_cflag on Linux, so the kernel never sees hardware flow control switched on or off:
    // put the bit where termios has it.
    termios tio{};
    if (::tcgetattr(fd, &tio) != 0) {
        const int err = errno;
        return failure(fd, err, "cannot configure " + path + ": " + std::strerror(err));
    }
    tio.c_iflag &= ~static_cast<tcflag_t>(CRTSCTS);
    if (d.flow_control == config::flow_control::rtscts) {
        tio.c_cflag |= CRTSCTS;
    } else {
        tio.c_cflag &= ~static_cast<tcflag_t>(CRTSCTS);
    }
    // A read waits for one byte (libserialport sets VMIN 0), as on the termios path.
    tio.c_cc[VMIN] = 1;
    tio.c_cc[VTIME] = 0;
    if (::tcsetattr(fd, TCSANOW, &tio) != 0) {
        const int err = errno;
        return failure(fd, err, "cannot configure " + path + ": " + std::strerror(err));
    }
    return {fd, {}, {}};
}

open_result open_with_termios(const std::string& path, const config::device& d) {
    auto opened = open_locked(path);
    if (!opened.ok()) {
        return opened;
    }
    const int fd = opened.fd;
    if (auto r = take_exclusive(fd, path); !r.ok()) {
        return r;
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
    // libserialport opens and configures every port it can describe (sp_get_port_by_name:
    // USB adapters, UARTs, rfcomm); it can neither describe nor open a pty, such as a
    // socat/ser2net end (no /sys/class/tty entry, no modem lines), and only those take the
    // open(2) + termios path.
    sp_port* port = nullptr;
    if (sp_get_port_by_name(path.c_str(), &port) != SP_OK) {
        return open_with_termios(path, d);
    }
    const std::unique_ptr<sp_port, void (*)(sp_port*)> owned(port, sp_free_port);
    return open_with_libserialport(*port, path, d);
}

bool has_usb_keys(const config::device_match& m) noexcept {
    return !m.vid.empty() || !m.serial.empty() || !m.product.empty() || !m.location.empty();
}

std::string describe(const config::device_match& m) {
    if (!m.path.empty()) {
        return "path " + m.path;
    }
    if (!m.by_id.empty()) {
        return "by_id " + m.by_id;
    }
    std::string usb = "usb";
    if (!m.vid.empty()) {
        usb += " " + m.vid + ":" + m.pid;
    }
    const auto add = [&usb](std::string_view key, const std::string& value) {
        if (!value.empty()) {
            usb.append(" ").append(key).append(" ").append(value);
        }
    };
    add("serial", m.serial);
    add("product", m.product);
    add("location", m.location);
    return usb;
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
    if (has_usb_keys(match)) {
        const auto same = [](std::string_view want, std::string_view have) {
            return want.empty() || (want.size() == have.size() &&
                                    std::ranges::equal(want, have, [](char a, char b) {
                                        return std::tolower(static_cast<unsigned char>(a)) ==
                                               std::tolower(static_cast<unsigned char>(b));
                                    }));
        };
        // The serial, product and location exactly as libserialport and sysfs report them.
        const auto exact = [](const std::string& want, const std::string& have) {
            return want.empty() || want == have;
        };
        for (const auto& port : ports) {
            if (!port.vid.empty() && same(match.vid, port.vid) && same(match.pid, port.pid) &&
                exact(match.serial, port.serial) && exact(match.product, port.product) &&
                exact(match.location, port.location)) {
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
                "; refusing to guess which is the device: add the adapter's serial or location to "
                "match, or match by_id (see `edgemq ports`)"};
}

resolved_port resolve_port(const config::device_match& match) {
    return resolve_port(match, has_usb_keys(match) ? list_ports() : std::vector<port_info>{});
}

} // namespace edgemq::serial
