// SPDX-License-Identifier: Apache-2.0
//
// libFuzzer target: the configuration loader (config/load.hpp) on arbitrary text. load_error is
// the loader's documented answer to a bad file and is expected; any other exception escapes
// and libFuzzer reports it, as it does a crash, a hang or a sanitizer report.
#include <edgemq/config/load.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text{reinterpret_cast<const char*>(data), size};
    try {
        const auto g = edgemq::config::load_string(text, "fuzz.toml");
        (void)g;
    } catch (const edgemq::config::load_error& e) {
        if (e.diagnostics().empty()) {
            std::fprintf(stderr, "fuzz_config: a load_error without diagnostics: %s\n", e.what());
            std::abort();
        }
        for (const auto& d : e.diagnostics()) {
            // Every diagnostic names the source, and a position is a line and a column or none.
            if (d.file != "fuzz.toml" || (d.line == 0) != (d.column == 0) || d.message.empty()) {
                std::fprintf(stderr, "fuzz_config: a malformed diagnostic: %s\n",
                             d.to_string().c_str());
                std::abort();
            }
        }
    }
    return 0;
}
