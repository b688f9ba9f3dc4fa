// SPDX-License-Identifier: Apache-2.0
#include "edgemq/broker/net/tls.hpp"

#include <boost/asio/ssl/context.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace edgemq::broker::net {
namespace {

namespace ssl = boost::asio::ssl;

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
        throw std::runtime_error(std::string(option) + " " + file + ": cannot read it (" +
                                 std::strerror(errno) + ")");
    }
    ERR_clear_error();
    if (f(file.c_str()) != 1) {
        throw std::runtime_error(std::string(option) + " " + file + ": " + openssl_reason());
    }
}

std::shared_ptr<ssl::context> make_context(ssl::context::method method) {
    auto ctx = std::make_shared<ssl::context>(method);
    // The one minimum-version rule: TLS 1.0 and 1.1 are refused everywhere.
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    return ctx;
}

void load_chain(SSL_CTX* native, const std::string& cert, const std::string& key) {
    load("cert", cert,
         [native](const char* f) { return SSL_CTX_use_certificate_chain_file(native, f); });
    load("key", key, [native](const char* f) {
        return SSL_CTX_use_PrivateKey_file(native, f, SSL_FILETYPE_PEM);
    });
    if (SSL_CTX_check_private_key(native) != 1) {
        throw std::runtime_error("key " + key + " does not match cert " + cert + ": " +
                                 openssl_reason());
    }
}

} // namespace

std::shared_ptr<ssl::context> make_server_tls_context(const tls_server_files& f) {
    auto ctx = make_context(ssl::context::tls_server);
    SSL_CTX* native = ctx->native_handle();
    SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                    SSL_OP_NO_RENEGOTIATION);
    load_chain(native, f.cert, f.key);
    if (!f.ca.empty()) {
        load("ca", f.ca,
             [native](const char* file) {
                 return SSL_CTX_load_verify_locations(native, file, nullptr);
             });
        // Tell clients which CAs we accept, so they pick the right certificate.
        if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(f.ca.c_str())) {
            SSL_CTX_set_client_CA_list(native, names);
        }
    }
    if (f.require_client_certificate) {
        SSL_CTX_set_verify(native, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
    return ctx;
}

std::shared_ptr<ssl::context> make_client_tls_context(const tls_client_files& f) {
    auto ctx = make_context(ssl::context::tls_client);
    SSL_CTX* native = ctx->native_handle();
    SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    if (!f.verify) {
        SSL_CTX_set_verify(native, SSL_VERIFY_NONE, nullptr);
        return ctx;
    }
    if (f.ca.empty()) {
        ERR_clear_error();
        if (SSL_CTX_set_default_verify_paths(native) != 1) {
            throw std::runtime_error("the system's CA certificates: " + openssl_reason());
        }
    } else {
        load("ca", f.ca,
             [native](const char* file) {
                 return SSL_CTX_load_verify_locations(native, file, nullptr);
             });
    }
    if (!f.cert.empty()) {
        load_chain(native, f.cert, f.key);
    }
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
    return ctx;
}

} // namespace edgemq::broker::net
