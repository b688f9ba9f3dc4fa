// SPDX-License-Identifier: Apache-2.0
// modbus_poll: a Modbus RTU master that polls like edgemq's bus scheduler (drivers/modbus):
// round robin over the slaves, one read request per poll, `frame_delay` of silence after each
// transaction; it times every poll (request written to reply checked) for p50/p99. For
// bench/modbus.sh (target edgemq_modbus_poll).
//
//   modbus_poll PORT BAUD SECONDS SLAVES REGISTERS FRAME_DELAY_MS RESPONSE_TIMEOUT_MS
//
// Prints one JSON line: polls, failed, polls_per_sec, p50_ms, p99_ms, max_ms.
#include <modbus/modbus.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
    if (argc != 8) {
        std::fprintf(stderr, "usage: modbus_poll PORT BAUD SECONDS SLAVES REGISTERS "
                             "FRAME_DELAY_MS RESPONSE_TIMEOUT_MS\n");
        return 2;
    }
    const int baud = std::atoi(argv[2]);
    const double seconds = std::atof(argv[3]);
    const int slaves = std::atoi(argv[4]);
    const int registers = std::atoi(argv[5]);
    const auto delay = std::chrono::milliseconds(std::atoi(argv[6]));
    const int timeout_ms = std::atoi(argv[7]);
    modbus_t* ctx = modbus_new_rtu(argv[1], baud, 'N', 8, 1);
    if (ctx == nullptr || modbus_connect(ctx) == -1) {
        std::fprintf(stderr, "modbus_poll: %s: %s\n", argv[1], modbus_strerror(errno));
        return 1;
    }
    modbus_set_response_timeout(ctx, 0, static_cast<std::uint32_t>(timeout_ms) * 1000);
    std::vector<std::uint16_t> words(static_cast<std::size_t>(registers));
    std::vector<double> ms;
    long failed = 0;
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    const auto end = start + std::chrono::duration<double>(seconds);
    for (int slave = 0; clock::now() < end; slave = (slave + 1) % slaves) {
        modbus_set_slave(ctx, slave + 1);
        const auto t0 = clock::now();
        const int rc = modbus_read_input_registers(ctx, 0, registers, words.data());
        const auto t1 = clock::now();
        if (rc == registers) {
            ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        } else {
            ++failed;
            modbus_flush(ctx); // as the scheduler does: a late answer is not the next one's
        }
        std::this_thread::sleep_for(delay);
    }
    const double elapsed = std::chrono::duration<double>(clock::now() - start).count();
    std::sort(ms.begin(), ms.end());
    const auto pct = [&ms](double p) {
        return ms.empty() ? 0.0 : ms[std::min(ms.size() - 1, static_cast<std::size_t>(p * ms.size()))];
    };
    std::printf("{\"baud\":%d,\"slaves\":%d,\"registers\":%d,\"frame_delay_ms\":%lld,"
                "\"seconds\":%.2f,\"polls\":%zu,\"failed\":%ld,\"polls_per_sec\":%.1f,"
                "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f}\n",
                baud, slaves, registers, static_cast<long long>(delay.count()), elapsed,
                ms.size(), failed, static_cast<double>(ms.size()) / elapsed, pct(0.5), pct(0.99),
                ms.empty() ? 0.0 : ms.back());
    modbus_close(ctx);
    modbus_free(ctx);
    return 0;
}
