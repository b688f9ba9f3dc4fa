// SPDX-License-Identifier: Apache-2.0
#include "edgemq/broker/error.hpp"

#include <string>

namespace edgemq::broker {
namespace {

class category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "edgemq.broker"; }

    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
        case errc::malformed_packet:
            return "malformed packet";
        case errc::malformed_remaining_length:
            return "malformed remaining length";
        case errc::packet_too_large:
            return "packet larger than max_packet_size";
        case errc::reserved_flags:
            return "reserved fixed-header flags set";
        case errc::invalid_qos:
            return "invalid QoS";
        case errc::invalid_utf8:
            return "invalid UTF-8 string";
        case errc::invalid_topic_name:
            return "invalid topic name";
        case errc::invalid_topic_filter:
            return "empty topic filter";
        case errc::unsupported_protocol_version:
            return "unsupported protocol version";
        case errc::protocol_error:
            return "protocol error";
        case errc::first_packet_not_connect:
            return "first packet was not CONNECT";
        case errc::keep_alive_timeout:
            return "keep-alive timeout";
        case errc::connect_timeout:
            return "no CONNECT before the deadline";
        case errc::session_taken_over:
            return "session taken over by a new connection";
        case errc::slow_consumer:
            return "slow consumer: its queue full and nothing read for slow_consumer_timeout";
        case errc::server_shutting_down:
            return "server shutting down";
        case errc::kicked:
            return "disconnected by an operator";
        case errc::bad_username_or_password:
            return "bad user name or password";
        case errc::not_authorized:
            return "not authorized";
        case errc::packet_timeout:
            return "packet not completed within packet_timeout";
        case errc::unauthenticated_limit:
            return "CONNECT larger than max_connect_size";
        case errc::unauthenticated_memory:
            return "max_unauthenticated_memory reached";
        case errc::will_not_authorized:
            return "will topic not authorized";
        case errc::topic_alias_invalid:
            return "topic alias invalid";
        case errc::receive_maximum_exceeded:
            return "receive maximum exceeded";
        case errc::payload_format_invalid:
            return "payload is not UTF-8 as its format indicator says";
        case errc::bad_authentication_method:
            return "authentication method not supported";
        }
        return "unknown edgemq.broker error";
    }
};

} // namespace

const boost::system::error_category& broker_category() noexcept {
    static const category instance;
    return instance;
}

} // namespace edgemq::broker
