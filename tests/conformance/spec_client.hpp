// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "raw_mqtt_client.hpp"

#include "edgemq/broker/net/memory_stream.hpp"

#include <boost/system/error_code.hpp>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

/// One client connection of a conformance case, whichever back end carries it: a TCP socket
/// (raw_mqtt_client) or a broker::net::memory_stream. The runner writes every step once over
/// this interface; both back ends cut packets with the broker's packet_reader (take_packet).
/// Thread safety: none; the case's thread only.
namespace edgemq::test::conformance {

class spec_client {
public:
    using milliseconds = std::chrono::milliseconds;

    virtual ~spec_client() = default;

    /// Writes all of `bytes`; an error when the connection cannot take them.
    virtual boost::system::error_code send(std::span<const std::uint8_t> bytes) = 0;
    /// The next whole packet from the server, waiting at most `timeout` (as
    /// raw_mqtt_client::read_packet).
    virtual read_result read_packet(milliseconds timeout) = 0;
    /// Bytes received but not yet returned as a packet (a partial packet).
    virtual std::size_t buffered() const = 0;
    /// True until disconnect(), or until a read saw the server close the connection.
    virtual bool connected() const = 0;
    /// Drops the connection without an MQTT DISCONNECT.
    virtual void disconnect() = 0;
};

/// Over TCP to the broker's first listener on 127.0.0.1.
class tcp_spec_client final : public spec_client {
public:
    explicit tcp_spec_client(std::uint16_t port) : client_(port) {}

    boost::system::error_code send(std::span<const std::uint8_t> bytes) override {
        return client_.send(bytes);
    }
    read_result read_packet(milliseconds timeout) override { return client_.read_packet(timeout); }
    std::size_t buffered() const override { return client_.buffered(); }
    bool connected() const override { return client_.is_open() && !client_.peer_closed(); }
    void disconnect() override { client_.close(); }

private:
    raw_mqtt_client client_;
};

/// Over a memory_stream: no socket, the same broker connection rules.
class memory_spec_client final : public spec_client {
public:
    explicit memory_spec_client(std::shared_ptr<broker::net::memory_stream> stream)
        : stream_(std::move(stream)) {}

    boost::system::error_code send(std::span<const std::uint8_t> bytes) override {
        if (!open_) {
            return {EBADF, boost::system::generic_category()};
        }
        // False here means the broker has closed the link and the bytes are lost. A TCP
        // client's send() to a server that closed succeeds as well (the kernel takes the
        // bytes; only a later one meets the reset), and a case then learns of the close from
        // its next read, as over TCP.
        stream_->write(bytes);
        return {};
    }

    read_result read_packet(milliseconds timeout) override {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (true) {
            if (auto r = take_packet(in_)) {
                return std::move(*r);
            }
            if (peer_closed_) {
                return {read_status::closed, in_, "eof"};
            }
            const auto left = std::chrono::duration_cast<milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() < 0 || !open_) {
                return {read_status::timeout, {}, {}};
            }
            auto bytes = stream_->read_some(left);
            if (!bytes.empty()) {
                in_.insert(in_.end(), bytes.begin(), bytes.end());
            } else if (stream_->eof()) {
                peer_closed_ = true;
            } else {
                return {read_status::timeout, {}, {}}; // read_some waited the whole time
            }
        }
    }

    std::size_t buffered() const override { return in_.size(); }
    bool connected() const override { return open_ && !peer_closed_; }
    void disconnect() override {
        open_ = false;
        stream_->close();
    }

private:
    std::shared_ptr<broker::net::memory_stream> stream_;
    std::vector<std::uint8_t> in_;
    bool open_ = true;
    bool peer_closed_ = false;
};

} // namespace edgemq::test::conformance
