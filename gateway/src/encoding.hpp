// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <optional>
#include <string>
#include <string_view>

/// Bytes as text and back, one of each for the gateway (hex is broker/hex.hpp): base64 (RFC 4648, standard
/// alphabet, padded) and percent-encoding (RFC 3986). The admin server decodes what browsers
/// and `edgemq ctl` encode.
/// Thread safety: all functions are pure.
namespace edgemq::app {

/// Bytes to base64, padded.
std::string base64_encoded(std::string_view bytes);

/// Base64 (standard alphabet, padded) to bytes; nullopt when malformed or over 4096 characters.
std::optional<std::string> base64_decoded(std::string_view text);

/// Every byte but RFC 3986's unreserved characters as %XX (upper-case hex), for a path segment
/// or a query value.
std::string percent_encoded(std::string_view text);

/// Percent-decoding; `plus` turns '+' into a blank (query strings). nullopt on a bad escape.
std::optional<std::string> percent_decoded(std::string_view text, bool plus);

} // namespace edgemq::app
