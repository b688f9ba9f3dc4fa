// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace edgemq::test {

/// config/edgemq.toml in the source tree: the reference file whose commented examples the
/// config tests load.
inline std::filesystem::path reference_config() {
    return std::filesystem::path{EDGEMQ_SOURCE_DIR} / "config" / "edgemq.toml";
}

/// The commented example in `file` that starts at the line `first` (e.g. "# [[devices]]"),
/// uncommented: from that line up to the first line that is not a comment (a blank line ends
/// the example), each "# " line without its "# " and each bare "#" as an empty line.
/// Throws std::runtime_error when the file cannot be read or has no such line, so a test
/// cannot pass on an empty example.
/// Thread safety: none needed; reads the file each time.
inline std::string commented_example(const std::filesystem::path& file, std::string_view first) {
    std::ifstream in{file};
    if (!in) {
        throw std::runtime_error(file.string() + ": cannot be read");
    }
    std::string example;
    bool inside = false;
    for (std::string line; std::getline(in, line);) {
        inside = inside || line == first;
        if (!inside) {
            continue;
        }
        if (line.starts_with("# ")) {
            example += line.substr(2) + '\n';
        } else if (line == "#") {
            example += '\n';
        } else {
            break;
        }
    }
    if (!inside) {
        throw std::runtime_error(file.string() + ": no line \"" + std::string{first} + "\"");
    }
    return example;
}

} // namespace edgemq::test
