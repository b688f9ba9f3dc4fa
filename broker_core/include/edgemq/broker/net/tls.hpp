// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <memory>
#include <string>

namespace boost::asio::ssl {
class context;
}

/// The one place TLS contexts are made: the MQTT listeners, the admin server, the bridge and
/// `edgemq ctl` all get TLS 1.2 or newer, set the same way, and the same file errors.
/// Control plane: the functions throw std::runtime_error("<option> <file>: <reason>"), e.g.
/// "cert /etc/edgemq/x.pem: no start line"; callers prefix what the file belongs to.
/// Thread safety: the functions are; a context is shared read-only once made.
namespace edgemq::broker::net {

struct tls_server_files {
    std::string cert; ///< PEM chain
    std::string key;  ///< PEM private key of cert
    std::string ca;   ///< clients' CAs, empty for none
    bool require_client_certificate = false;
};

/// A server context: TLS 1.2+, no compression or renegotiation, the server's cipher order.
std::shared_ptr<boost::asio::ssl::context> make_server_tls_context(const tls_server_files& f);

struct tls_client_files {
    std::string ca;   ///< the server's CAs; empty: the system's
    std::string cert; ///< optional client certificate (mutual TLS), PEM chain
    std::string key;  ///< its key
    bool verify = true; ///< false only where a user asked for it (ctl --insecure)
};

/// A client context: TLS 1.2+, the peer verified against `ca` unless `verify` is false.
/// Host name checks are per connection (asio::ssl::host_name_verification).
std::shared_ptr<boost::asio::ssl::context> make_client_tls_context(const tls_client_files& f);

} // namespace edgemq::broker::net
