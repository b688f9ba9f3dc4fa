// SPDX-License-Identifier: Apache-2.0
// MQTT over TLS, WebSocket and WebSocket over TLS: one template over the stream type. These
// connections read into their own buffer (a TLS or WebSocket layer may hold decrypted bytes the
// socket no longer shows as readable), so they cost more memory than plain TCP; sites have few.

#include "connection.hpp"

#include "edgemq/broker/error.hpp"

#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <openssl/x509.h>

namespace edgemq::broker {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

using socket_type = connection::socket_type;
using tls_stream = asio::ssl::stream<socket_type>;
using ws_stream = websocket::stream<socket_type>;
using wss_stream = websocket::stream<tls_stream>;

/// Bytes asked for per read; a TLS record holds at most 16 KiB.
constexpr std::size_t stream_chunk = 16 * 1024;

template <class Stream> constexpr bool is_websocket = !std::is_same_v<Stream, tls_stream>;

template <class Stream> constexpr bool has_tls = !std::is_same_v<Stream, ws_stream>;

/// The CN of the peer's verified certificate.
std::optional<std::string> common_name(SSL* ssl) {
    X509* cert = SSL_get1_peer_certificate(ssl);
    if (cert == nullptr) {
        return std::nullopt;
    }
    std::optional<std::string> cn;
    char buf[256];
    const int n =
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf);
    if (n > 0) {
        cn.emplace(buf, static_cast<std::size_t>(n));
    }
    X509_free(cert);
    return cn;
}

/// The MQTT subprotocol the client offers, as it spells it ("mqtt"; "mqttv3.1" for 3.1), or
/// empty when it offers none.
std::string chosen_subprotocol(std::string_view offered) {
    while (!offered.empty()) {
        const auto comma = offered.find(',');
        auto item = offered.substr(0, comma);
        while (!item.empty() && item.front() == ' ') {
            item.remove_prefix(1);
        }
        while (!item.empty() && item.back() == ' ') {
            item.remove_suffix(1);
        }
        if (item == "mqtt" || item == "mqttv3.1") {
            return std::string{item};
        }
        offered = comma == std::string_view::npos ? std::string_view{} : offered.substr(comma + 1);
    }
    return {};
}

template <class Stream> class stream_connection final : public connection {
public:
    stream_connection(worker& w, listener_state& l, socket_type socket,
                      std::shared_ptr<asio::ssl::context> tls)
        : connection(w, l), tls_(std::move(tls)), stream_(make_stream(socket, tls_)) {
        boost::system::error_code ec;
        beast::get_lowest_layer(stream_).set_option(asio::ip::tcp::no_delay(true), ec);
    }

    void start() override {
        if constexpr (has_tls<Stream>) {
            tls_layer().async_handshake(
                asio::ssl::stream_base::server,
                [self = shared_from_this(), this](boost::system::error_code ec) {
                    if (ec) {
                        transport_failed("TLS handshake failed", ec);
                        return;
                    }
                    if (listener_.cfg.use_identity_as_username) {
                        identity_ = common_name(tls_layer().native_handle());
                    }
                    after_tls();
                });
        } else {
            after_tls();
        }
    }

private:
    static Stream make_stream(socket_type& socket, const std::shared_ptr<asio::ssl::context>& tls) {
        if constexpr (std::is_same_v<Stream, ws_stream>) {
            return Stream{std::move(socket)};
        } else {
            return Stream{std::move(socket), *tls};
        }
    }

    auto& tls_layer() {
        if constexpr (std::is_same_v<Stream, tls_stream>) {
            return stream_;
        } else {
            return stream_.next_layer();
        }
    }

    void after_tls() {
        if constexpr (is_websocket<Stream>) {
            read_upgrade();
        } else {
            read();
        }
    }

    // WebSocket opening handshake ------------------------------------------------------------

    struct upgrade_state {
        beast::flat_buffer buffer;
        http::request_parser<http::empty_body> parser;
        http::response<http::string_body> refusal;
    };

    void read_upgrade() {
        upgrade_ = std::make_unique<upgrade_state>();
        upgrade_->parser.header_limit(8 * 1024);
        http::async_read(stream_.next_layer(), upgrade_->buffer, upgrade_->parser,
                         [self = shared_from_this(), this](boost::system::error_code ec,
                                                           std::size_t) { on_upgrade(ec); });
    }

    void on_upgrade(boost::system::error_code ec) {
        if (ec) {
            transport_failed("WebSocket handshake failed", ec);
            return;
        }
        const auto& req = upgrade_->parser.get();
        const auto target = std::string_view{req.target()};
        const auto path = target.substr(0, target.find('?'));
        if (!websocket::is_upgrade(req)) {
            refuse_upgrade(http::status::upgrade_required, "expected a WebSocket upgrade");
            return;
        }
        if (path != listener_.cfg.path) {
            refuse_upgrade(http::status::not_found,
                           "no MQTT endpoint here; it is at " + listener_.cfg.path);
            return;
        }
        const auto subprotocol =
            chosen_subprotocol(std::string_view{req[http::field::sec_websocket_protocol]});
        stream_.set_option(
            websocket::stream_base::decorator([subprotocol](websocket::response_type& res) {
                res.set(http::field::server, "edgemq");
                if (!subprotocol.empty()) {
                    res.set(http::field::sec_websocket_protocol, subprotocol);
                }
            }));
        // Deadlines come from the broker's CONNECT and keep-alive rules, not Beast's.
        websocket::stream_base::timeout timeouts{};
        timeouts.handshake_timeout = broker().opts.connection.connect_timeout;
        timeouts.idle_timeout = websocket::stream_base::none();
        timeouts.keep_alive_pings = false;
        stream_.set_option(timeouts);
        stream_.binary(true);
        stream_.read_message_max(0); // MQTT packets are limited by max_packet_size instead
        stream_.async_accept(req, [self = shared_from_this(), this](boost::system::error_code e) {
            upgrade_.reset();
            if (e) {
                transport_failed("WebSocket handshake failed", e);
                return;
            }
            read();
        });
    }

    void refuse_upgrade(http::status status, std::string why) {
        auto& res = upgrade_->refusal;
        res.result(status);
        res.version(upgrade_->parser.get().version());
        res.set(http::field::server, "edgemq");
        res.set(http::field::content_type, "text/plain");
        res.keep_alive(false);
        res.body() = why + "\n";
        res.prepare_payload();
        http::async_write(
            stream_.next_layer(), res,
            [self = shared_from_this(), this, why](boost::system::error_code, std::size_t) {
                transport_failed("WebSocket handshake refused (" + why + ")", errc::protocol_error);
            });
    }

    // MQTT bytes ---------------------------------------------------------------------------

    void read() {
        // Grow by what arrives (at most doubling), never to the size a header declares.
        const std::size_t carry = partial_.size();
        const std::size_t missing = needed() > carry ? needed() - carry : 0;
        const std::size_t want = std::max(stream_chunk, std::min(missing, carry));
        partial_.resize(carry + want);
        stream_.async_read_some(
            asio::buffer(partial_.data() + carry, want),
            [self = shared_from_this(), this, carry](boost::system::error_code ec, std::size_t n) {
                partial_.resize(carry + n);
                if (!open()) {
                    return;
                }
                if (ec) {
                    close(ec);
                    return;
                }
                note_read(n);
                if (consume(partial_, true)) {
                    read();
                }
            });
    }

    void resume_reading() override { read(); }

    void send_buffers(std::vector<asio::const_buffer>& buffers) override {
        auto done = [self = shared_from_this(), this](boost::system::error_code ec, std::size_t) {
            on_written(ec);
        };
        if constexpr (is_websocket<Stream>) {
            stream_.async_write(buffers, std::move(done)); // one binary message per turn
        } else {
            asio::async_write(stream_, buffers, std::move(done));
        }
    }

    void close_transport() override {
        boost::system::error_code ignored;
        auto& socket = beast::get_lowest_layer(stream_);
        socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        socket.close(ignored);
    }

    std::string peer() const override {
        boost::system::error_code ec;
        const auto ep = beast::get_lowest_layer(stream_).remote_endpoint(ec);
        return ec ? std::string{"unknown"}
                  : ep.address().to_string() + ":" + std::to_string(ep.port());
    }

    std::optional<std::string> certificate_identity() const override { return identity_; }

    std::shared_ptr<asio::ssl::context> tls_; ///< kept alive: a reload swaps the listener's
    Stream stream_;
    std::unique_ptr<upgrade_state> upgrade_;
    std::optional<std::string> identity_;
};

} // namespace

std::shared_ptr<connection> make_stream_connection(worker& w, listener_state& l,
                                                   connection::socket_type socket,
                                                   std::shared_ptr<asio::ssl::context> tls) {
    const auto type = l.cfg.type;
    if (type == listener_type::tls) {
        return std::make_shared<stream_connection<tls_stream>>(w, l, std::move(socket),
                                                               std::move(tls));
    }
    if (type == listener_type::ws) {
        return std::make_shared<stream_connection<ws_stream>>(w, l, std::move(socket), nullptr);
    }
    return std::make_shared<stream_connection<wss_stream>>(w, l, std::move(socket),
                                                           std::move(tls));
}

} // namespace edgemq::broker
