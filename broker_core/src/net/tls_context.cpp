// SPDX-License-Identifier: Apache-2.0
#include "../broker_impl.hpp"

#include <boost/asio/ssl/context.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstring>
#include <fstream>
#include <stdexcept>

namespace edgemq::broker {
namespace {

/// OpenSSL's reason for the last failure, e.g. "no start line" for a file that is not PEM.
std::string openssl_reason() {
    const unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e == 0) {
        return "unknown error";
    }
    const char* reason = ERR_reason_error_string(e);
    return reason != nullptr ? reason : "error " + std::to_string(e);
}

/// Loads one file into the context, or throws naming the option, the file and the reason.
template <typename F> void load(const char* option, const std::string& file, F&& f) {
    if (!std::ifstream(file).good()) {
        throw std::runtime_error("listener " + std::string(option) + " " + file +
                                 ": cannot read it (" + std::strerror(errno) + ")");
    }
    ERR_clear_error();
    if (f(file.c_str()) != 1) {
        throw std::runtime_error("listener " + std::string(option) + " " + file + ": " +
                                 openssl_reason());
    }
}

} // namespace

std::shared_ptr<asio::ssl::context> make_tls_context(const config::listener& l) {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    SSL_CTX* native = ctx->native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION); // TLS 1.0 and 1.1 are refused
    SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                    SSL_OP_NO_RENEGOTIATION);
    load("cert", l.cert,
         [native](const char* f) { return SSL_CTX_use_certificate_chain_file(native, f); });
    load("key", l.key, [native](const char* f) {
        return SSL_CTX_use_PrivateKey_file(native, f, SSL_FILETYPE_PEM);
    });
    if (SSL_CTX_check_private_key(native) != 1) {
        throw std::runtime_error("listener key " + l.key + " does not match cert " + l.cert + ": " +
                                 openssl_reason());
    }
    if (!l.ca.empty()) {
        load("ca", l.ca,
             [native](const char* f) { return SSL_CTX_load_verify_locations(native, f, nullptr); });
        // Tell clients which CAs we accept, so they pick the right certificate.
        if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(l.ca.c_str())) {
            SSL_CTX_set_client_CA_list(native, names);
        }
    }
    if (l.require_client_certificate) {
        SSL_CTX_set_verify(native, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
    return ctx;
}

} // namespace edgemq::broker
