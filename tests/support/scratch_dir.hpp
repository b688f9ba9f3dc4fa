// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <catch2/catch.hpp>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

namespace edgemq::test {

/// A temporary directory for one test (configs, database files, sockets), removed with
/// everything in it when the test ends.
struct scratch_dir {
    std::filesystem::path path;
    scratch_dir() {
        std::string templ = (std::filesystem::temp_directory_path() / "edgemq-test-XXXXXX").string();
        REQUIRE(::mkdtemp(templ.data()) != nullptr);
        path = templ;
    }
    ~scratch_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;

    /// Writes `text` to the file `name` in the directory; returns its path.
    std::string write(const std::string& name, const std::string& text) const {
        std::ofstream{path / name} << text;
        return (path / name).string();
    }
};

} // namespace edgemq::test
