// SPDX-License-Identifier: Apache-2.0
#pragma once

// Private to broker_core: gives freed heap memory back to the system.

#include <cstddef>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace edgemq::broker {

/// glibc keeps freed memory in its arenas: after 10,000 retained 64 KiB messages are cleared,
/// or a burst of queued messages drains, the process would hold the peak for good (one arena
/// per thread, and chunks below the mmap threshold never go back by themselves). Polled every
/// few seconds, this asks glibc to return the free pages once a lot more is free than at the
/// last look. Thread safety: none; one thread polls it.
class heap_trimmer {
public:
    void poll() {
#if defined(__GLIBC__)
        const std::size_t free_now = mallinfo2().fordblks;
        if (free_now > baseline_ + threshold) {
            malloc_trim(0);
            baseline_ = mallinfo2().fordblks; // trimmed pages still count as free chunks
        } else if (free_now < baseline_) {
            baseline_ = free_now; // reused since
        }
#endif
    }

private:
    static constexpr std::size_t threshold = 16 * 1024 * 1024;
    std::size_t baseline_ = 0;
};

} // namespace edgemq::broker
