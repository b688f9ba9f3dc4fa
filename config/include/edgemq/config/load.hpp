// SPDX-License-Identifier: Apache-2.0
#pragma once

/// Reading the gateway configuration from TOML (v1.0.0, https://toml.io/en/v1.0.0).
///
/// Loading validates everything and reports every problem it finds, each at the line and
/// column of the offending key or value, then throws them together in one load_error. A
/// caller that gets a gateway back can use it as is. Keys that are absent keep the defaults
/// documented in model.hpp.
///
/// Thread safety: the functions share no state; call them from any thread.

#include <edgemq/config/model.hpp>

#include <cstddef>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace edgemq::config {

/// One problem in a configuration source.
struct diagnostic {
    /// The source's name: the path given to load_file, or load_string's source_name.
    std::string file;
    /// 1-based line; 0 when the problem is with the whole file (it cannot be read).
    std::size_t line = 0;
    /// 1-based column; 0 when line is 0.
    std::size_t column = 0;
    /// What is wrong and, where it can say, what would be right.
    std::string message;

    /// "file:line:col: message", or "file: message" when there is no position.
    std::string to_string() const;

    bool operator==(const diagnostic&) const = default;
};

/// A configuration that cannot be used. what() holds every diagnostic, one per line.
class load_error : public std::runtime_error {
public:
    explicit load_error(std::vector<diagnostic> diagnostics);

    /// Every problem found, in source order.
    const std::vector<diagnostic>& diagnostics() const noexcept { return diagnostics_; }

private:
    std::vector<diagnostic> diagnostics_;
};

/// The configuration used when there is no file: a gateway() with one tcp listener on
/// 127.0.0.1:1883.
gateway defaults();

/// Reads and validates the TOML file at `path`. Throws load_error, also when the file cannot
/// be read.
gateway load_file(const std::filesystem::path& path);

/// Validates `toml_text`; diagnostics name it `source_name`. Throws load_error.
gateway load_string(std::string_view toml_text, std::string source_name = "<string>");

} // namespace edgemq::config
