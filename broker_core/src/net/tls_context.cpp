// SPDX-License-Identifier: Apache-2.0
#include "../broker_impl.hpp"

#include "edgemq/broker/net/tls.hpp"

#include <stdexcept>

namespace edgemq::broker {

std::shared_ptr<asio::ssl::context> make_tls_context(const listener_options& l) {
    try {
        return net::make_server_tls_context(
            {l.cert, l.key, l.ca, l.require_client_certificate});
    } catch (const std::runtime_error& e) {
        throw std::runtime_error(std::string("listener ") + e.what());
    }
}

} // namespace edgemq::broker
