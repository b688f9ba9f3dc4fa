// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <spdlog/logger.h>

#include <exception>
#include <string>

namespace edgemq::broker {

/// The completion handler every co_spawn in the product gets (STYLE.md, error policy 5): it logs
/// what the coroutine threw as "<what> failed: <reason>". `log` must outlive the io_context.
/// Thread safety: the handler runs on the coroutine's executor; spdlog loggers are thread-safe.
inline auto log_exception(spdlog::logger& log, std::string what) {
    return [&log, what = std::move(what)](std::exception_ptr e) {
        if (!e) {
            return;
        }
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            log.error("{} failed: {}", what, x.what());
        } catch (...) {
            log.error("{} failed: an exception that is not a std::exception", what);
        }
    };
}

} // namespace edgemq::broker
