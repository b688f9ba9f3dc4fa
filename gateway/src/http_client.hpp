// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <boost/beast/http/verb.hpp>

#include <memory>
#include <string>
#include <string_view>

namespace boost::asio::ssl {
class context;
}

namespace edgemq::app {

/// An http:// or https:// URL as `edgemq ctl --url` takes it: host (IPv6 in brackets) and port,
/// the port 18083 (the admin server's) when left out; the path is ignored.
struct url {
    std::string text; ///< as given, for messages
    std::string host;
    std::string port;
    bool tls = false; ///< https
};

/// Throws std::runtime_error("expected a URL like http://127.0.0.1:18083, got ...").
url parse_url(std::string_view text);

/// How an https server is checked: against `cacert` (PEM), else the system's CAs, or not at all.
struct tls_options {
    std::string cacert;
    bool insecure = false;
};

/// A status and a body.
struct http_reply {
    unsigned status = 0;
    std::string body;
};

/// A blocking HTTP/1.1 client for one server, one connection per request (Connection: close),
/// with deadlines (10 s to connect and shake hands, 30 s for the exchange) and a 64 MiB body
/// limit. Over https the server's certificate must chain to the CAs of `tls_options` and name
/// the URL's host, unless `insecure`.
/// Control plane: failures throw std::runtime_error with a message for the user ("edgemq is
/// not running at URL", "the TLS certificate of URL was refused: ...", "cannot reach ...").
/// Thread safety: one request at a time; each runs its own io_context on the calling thread.
class http_client {
public:
    /// Loads the CA certificates for an https URL (throws when they cannot be loaded).
    http_client(url u, const tls_options& tls);
    ~http_client();

    /// One request with the given Authorization header (none if empty).
    http_reply request(boost::beast::http::verb method, const std::string& target,
                       const std::string& authorization);

    const url& server() const { return url_; }

private:
    url url_;
    bool verify_;
    std::shared_ptr<boost::asio::ssl::context> tls_; // for https URLs only
};

} // namespace edgemq::app
