// SPDX-License-Identifier: Apache-2.0
#include "admin_api_client.hpp"
#include "encoding.hpp"

#include <boost/json.hpp>

#include <stdexcept>

namespace edgemq::app {

namespace json = boost::json;

admin_api_client::admin_api_client(url u, std::string user, std::string password,
                                   const tls_options& tls)
    : http_(std::move(u), tls), user_(std::move(user)), password_(std::move(password)) {}

json::value admin_api_client::call(boost::beast::http::verb method, const std::string& target) {
    const auto& server = http_.server().text;
    const auto r = http_.request(
        method, target, user_.empty() ? "" : "Basic " + base64_encoded(user_ + ":" + password_));
    if (r.status == 401) {
        throw std::runtime_error(
            std::string("the admin API at ") + server + " refused the login (401): " +
            (user_.empty() ? "give --user and --password, or set EDGEMQ_ADMIN_USER and "
                             "EDGEMQ_ADMIN_PASSWORD"
                           : "wrong user or password"));
    }
    boost::system::error_code ec;
    auto body = r.body.empty() ? json::value(nullptr) : json::parse(r.body, ec);
    if (r.status / 100 != 2) {
        const auto* o = ec ? nullptr : body.if_object();
        const auto* message = o ? o->if_contains("message") : nullptr;
        throw std::runtime_error(
            message && message->is_string()
                ? std::string(message->as_string().data(), message->as_string().size())
                : "HTTP " + std::to_string(r.status) + " from " + server);
    }
    if (ec) {
        throw std::runtime_error("the answer of " + server + target + " is not JSON");
    }
    return body;
}

} // namespace edgemq::app
