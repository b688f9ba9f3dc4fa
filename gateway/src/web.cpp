// SPDX-License-Identifier: Apache-2.0
#include "web.hpp"
#include "encoding.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/json/serialize.hpp>


namespace edgemq::app::web {

target split_target(std::string_view raw) {
    target t;
    const auto q = raw.find('?');
    t.path = raw.substr(0, q);
    if (q == std::string_view::npos) {
        return t;
    }
    std::string_view rest = raw.substr(q + 1);
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        const auto pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        if (pair.empty()) {
            continue;
        }
        const auto eq = pair.find('=');
        auto key = percent_decoded(pair.substr(0, eq), true);
        auto value = percent_decoded(
            eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), true);
        if (!key || !value) {
            t.bad_query = true;
            continue;
        }
        t.query[*key] = *value;
    }
    return t;
}

response make_response(http::status status, unsigned version, std::string body,
                       std::string_view content_type) {
    response res{status, version};
    res.set(http::field::server, "edgemq/" EDGEMQ_VERSION);
    res.set(http::field::content_type, content_type);
    res.set(http::field::cache_control, "no-store");
    res.set("X-Content-Type-Options", "nosniff");
    res.body() = std::move(body);
    return res;
}

response json_response(http::status status, unsigned version, const json::value& v) {
    return make_response(status, version, json::serialize(v), "application/json");
}

response error_response(http::status status, unsigned version, std::string_view code,
                        std::string_view message) {
    return json_response(status, version, json::object{{"code", code}, {"message", message}});
}

response not_allowed(const request& req, std::string_view allow) {
    auto res = error_response(http::status::method_not_allowed, req.version(), "method_not_allowed",
                              std::string(req.method_string()) + " is not allowed here; use " +
                                  std::string(allow));
    res.set(http::field::allow, allow);
    return res;
}

} // namespace edgemq::app::web
