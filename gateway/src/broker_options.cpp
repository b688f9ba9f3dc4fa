// SPDX-License-Identifier: Apache-2.0
#include "broker_options.hpp"

namespace edgemq::app {
namespace {

broker::listener_type listener_type_of(const std::string& type) {
    if (type == "tls") {
        return broker::listener_type::tls;
    }
    if (type == "ws") {
        return broker::listener_type::ws;
    }
    if (type == "wss") {
        return broker::listener_type::wss;
    }
    return broker::listener_type::tcp; // the loader accepts nothing else
}

broker::listener_options listener_options_of(const config::listener& l) {
    broker::listener_options o;
    o.type = listener_type_of(l.type);
    o.host = l.host;
    o.port = l.port;
    o.max_connections = l.max_connections;
    o.cert = l.cert;
    o.key = l.key;
    o.ca = l.ca;
    o.require_client_certificate = l.require_client_certificate;
    o.use_identity_as_username = l.use_identity_as_username;
    o.path = l.path;
    // Unset: anonymous clients are allowed only where nothing authenticates clients.
    o.allow_anonymous =
        l.allow_anonymous.value_or(l.password_file.empty() && !l.use_identity_as_username);
    o.password_file = l.password_file;
    o.acl_file = l.acl_file;
    o.max_publish_rate = l.max_publish_rate;
    return o;
}

} // namespace

broker::broker_options to_broker_options(const config::gateway& cfg) {
    const auto& b = cfg.broker;
    broker::broker_options o;
    o.threads = b.threads;
    o.max_connections = b.max_connections;
    o.max_unauthenticated_memory = b.max_unauthenticated_memory;
    o.sys_interval = b.sys_interval;
    o.persistence = b.persistence;
    o.persistence_file = b.persistence_file;
    o.sync = b.sync == config::sync_mode::full ? broker::broker_options::sync_mode::full
                                               : broker::broker_options::sync_mode::normal;
    o.connection = {b.max_packet_size, b.max_connect_size, b.connect_timeout, b.packet_timeout,
                    b.max_keepalive, b.max_topic_alias, b.receive_maximum};
    o.session = {b.max_inflight_messages, b.max_queued_messages, b.queue_qos0_messages,
                 b.max_outbound_bytes};
    o.slow_consumer_timeout = b.slow_consumer_timeout;
    o.slow_consumer = b.slow_consumer == config::slow_consumer_policy::drop
                          ? broker::broker_options::slow_consumer_policy::drop
                          : broker::broker_options::slow_consumer_policy::disconnect;
    for (const auto& l : cfg.listeners) {
        o.listeners.push_back(listener_options_of(l));
    }
    return o;
}

} // namespace edgemq::app
