// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

/// Small HTTP helpers shared by the admin server's parts (admin_http, admin_api): request and
/// response types, target parsing and the JSON error shape every answer uses.
namespace edgemq::app::web {

namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;

using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

/// The path and the decoded `?a=b&c=d` of a request target. `path` views the request's target.
struct target {
    std::string_view path;
    std::unordered_map<std::string, std::string> query;
    bool bad_query = false;
};

target split_target(std::string_view raw);

/// A response with the headers every answer carries (server, no-store, nosniff).
response make_response(http::status status, unsigned version, std::string body,
                       std::string_view content_type);
response json_response(http::status status, unsigned version, const json::value& v);
/// `{"code": code, "message": message}`: the shape of every error of the API.
response error_response(http::status status, unsigned version, std::string_view code,
                        std::string_view message);
/// 405 with an Allow header.
response not_allowed(const request& req, std::string_view allow);

} // namespace edgemq::app::web
