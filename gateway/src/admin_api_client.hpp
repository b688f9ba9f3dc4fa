// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "http_client.hpp"

#include <boost/beast/http/verb.hpp>
#include <boost/json/value.hpp>

#include <string>

namespace edgemq::app {

/// The client of a running gateway's admin API (admin_api) for `edgemq ctl`: one request per
/// call, the login sent as HTTP Basic.
/// Control plane: failures throw std::runtime_error with a message for the user: the server's
/// own `message` for an API error, what to give for a refused login (401).
/// Thread safety: one call at a time.
class admin_api_client {
public:
    admin_api_client(url u, std::string user, std::string password, const tls_options& tls);

    /// The JSON of a 2xx answer (null for an empty body, as of 204).
    boost::json::value call(boost::beast::http::verb method, const std::string& target);

private:
    http_client http_;
    std::string user_;
    std::string password_;
};

} // namespace edgemq::app
