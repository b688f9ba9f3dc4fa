// SPDX-License-Identifier: Apache-2.0
// edgemq_modbus_slave: Modbus RTU slaves for the integration tests, built on libmodbus.
//
//   edgemq_modbus_slave PORT BAUD CONTROL_FILE ID[,ID...] [TABLE:ID:ADDR=VALUE ...]
//
// Serves every slave ID on one serial port (a pty): libmodbus' own server answers only one
// slave address, so requests are framed here (function codes 1-6, 15, 16 with their CRC) and
// answered with libmodbus' modbus_reply() from that slave's register map (100 of each table).
// TABLE is coil, discrete, holding or input; VALUE a 16-bit word (or 0/1).
//
// Every request is printed as "req ID FC ADDR COUNT" (line-buffered stdout), each frame that
// does not parse (bad CRC, two requests run together) as "bad frame <hex>". CONTROL_FILE is
// re-read every 20 ms; its lines change the slaves' behaviour:
//   mute ID            do not answer ID (a slave that stopped answering)
//   exception ID CODE  answer every request to ID with exception CODE
//   set TABLE ID ADDR VALUE
// A slave not named in the file answers normally.
#include <modbus/modbus.h>

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::uint16_t crc16(const std::uint8_t* p, std::size_t n) {
    std::uint16_t crc = 0xFFFF;
    for (std::size_t i = 0; i < n; ++i) {
        crc ^= p[i];
        for (int b = 0; b < 8; ++b) {
            crc = (crc & 1) != 0 ? static_cast<std::uint16_t>((crc >> 1) ^ 0xA001)
                                 : static_cast<std::uint16_t>(crc >> 1);
        }
    }
    return crc;
}

/// The length of the request at the start of `b`, 0 when more bytes are needed, -1 when the
/// function code is not one a master sends here.
long request_length(const std::vector<std::uint8_t>& b) {
    if (b.size() < 2) {
        return 0;
    }
    switch (b[1]) {
    case 1: case 2: case 3: case 4: case 5: case 6:
        return 8;
    case 15: case 16:
        return b.size() < 7 ? 0 : 9 + b[6];
    default:
        return -1;
    }
}

struct behaviour {
    std::set<int> muted;
    std::map<int, int> exceptions;
};

modbus_mapping_t* table_of(std::map<int, modbus_mapping_t*>& maps, int id) {
    const auto it = maps.find(id);
    return it == maps.end() ? nullptr : it->second;
}

bool set_value(std::map<int, modbus_mapping_t*>& maps, const std::string& table, int id,
               int addr, int value) {
    auto* m = table_of(maps, id);
    if (m == nullptr || addr < 0 || addr >= 100) {
        return false;
    }
    if (table == "coil") {
        m->tab_bits[addr] = value != 0;
    } else if (table == "discrete") {
        m->tab_input_bits[addr] = value != 0;
    } else if (table == "holding") {
        m->tab_registers[addr] = static_cast<std::uint16_t>(value);
    } else if (table == "input") {
        m->tab_input_registers[addr] = static_cast<std::uint16_t>(value);
    } else {
        return false;
    }
    return true;
}

behaviour read_control(const std::string& path, std::map<int, modbus_mapping_t*>& maps) {
    behaviour out;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        std::string verb;
        words >> verb;
        int id = 0;
        if (verb == "mute" && words >> id) {
            out.muted.insert(id);
        } else if (verb == "exception") {
            int code = 0;
            if (words >> id >> code) {
                out.exceptions[id] = code;
            }
        } else if (verb == "set") {
            std::string table;
            int addr = 0;
            int value = 0;
            if (words >> table >> id >> addr >> value) {
                set_value(maps, table, id, addr, value);
            }
        }
    }
    return out;
}

std::string hex(const std::uint8_t* p, std::size_t n) {
    std::string s;
    char buf[4];
    for (std::size_t i = 0; i < n; ++i) {
        std::snprintf(buf, sizeof buf, "%02x", p[i]);
        s += buf;
    }
    return s;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 5) {
        std::fprintf(stderr, "usage: %s PORT BAUD CONTROL_FILE ID[,ID...] [TABLE:ID:ADDR=VALUE...]\n",
                     argv[0]);
        return 2;
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    modbus_t* ctx = modbus_new_rtu(argv[1], std::atoi(argv[2]), 'N', 8, 1);
    if (ctx == nullptr || modbus_connect(ctx) != 0) {
        std::fprintf(stderr, "cannot open %s: %s\n", argv[1], modbus_strerror(errno));
        return 1;
    }
    const std::string control = argv[3];
    std::map<int, modbus_mapping_t*> maps;
    std::istringstream ids(argv[4]);
    for (std::string id; std::getline(ids, id, ',');) {
        maps[std::stoi(id)] = modbus_mapping_new(100, 100, 100, 100);
    }
    for (int i = 5; i < argc; ++i) {
        int id = 0;
        int addr = 0;
        int value = 0;
        char table[16] = {};
        if (std::sscanf(argv[i], "%15[a-z]:%d:%d=%d", table, &id, &addr, &value) != 4 ||
            !set_value(maps, table, id, addr, value)) {
            std::fprintf(stderr, "bad initial value %s\n", argv[i]);
            return 2;
        }
    }
    const int fd = modbus_get_socket(ctx);
    std::vector<std::uint8_t> buf;
    behaviour now = read_control(control, maps);
    auto next_read = std::chrono::steady_clock::now();
    std::printf("ready\n");
    for (;;) {
        if (std::chrono::steady_clock::now() >= next_read) {
            now = read_control(control, maps);
            next_read = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
        }
        pollfd p{fd, POLLIN, 0};
        const int ready = ::poll(&p, 1, 20);
        if (ready < 0 && errno != EINTR) {
            return 1;
        }
        if (ready <= 0) {
            if (!buf.empty()) {
                // A frame that stayed incomplete for a whole idle period.
                std::printf("bad frame %s\n", hex(buf.data(), buf.size()).c_str());
                buf.clear();
            }
            continue;
        }
        if ((p.revents & (POLLHUP | POLLERR)) != 0 && (p.revents & POLLIN) == 0) {
            return 0; // the other end of the pty went away
        }
        std::uint8_t chunk[512];
        const auto n = ::read(fd, chunk, sizeof chunk);
        if (n <= 0) {
            if (n < 0 && errno == EAGAIN) {
                continue;
            }
            return 0;
        }
        buf.insert(buf.end(), chunk, chunk + n);
        for (;;) {
            const long len = request_length(buf);
            if (len == 0 || static_cast<long>(buf.size()) < len) {
                break;
            }
            const auto crc = crc16(buf.data(), static_cast<std::size_t>(len - 2));
            if (len < 0 || buf[len - 2] != (crc & 0xFF) || buf[len - 1] != (crc >> 8)) {
                std::printf("bad frame %s\n", hex(buf.data(), buf.size()).c_str());
                buf.clear();
                break;
            }
            const int id = buf[0];
            const int fc = buf[1];
            const int addr = (buf[2] << 8) | buf[3];
            const int count = fc == 5 || fc == 6 ? 1 : (buf[4] << 8) | buf[5];
            std::printf("req %d %d %d %d\n", id, fc, addr, count);
            auto* map = table_of(maps, id);
            if (map != nullptr && now.muted.count(id) == 0) {
                if (const auto e = now.exceptions.find(id); e != now.exceptions.end()) {
                    modbus_reply_exception(ctx, buf.data(), static_cast<unsigned>(e->second));
                } else {
                    modbus_reply(ctx, buf.data(), static_cast<int>(len), map);
                }
            }
            buf.erase(buf.begin(), buf.begin() + len);
        }
    }
}
