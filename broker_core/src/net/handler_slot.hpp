// SPDX-License-Identifier: Apache-2.0
#pragma once

// Private to broker_core.

#include <cstddef>
#include <new>

namespace edgemq::broker::net {

/// Room inside an object for the one asynchronous operation it keeps pending (Asio's "custom
/// memory allocation" pattern): a connection's readiness wait, which an idle connection holds
/// for as long as it is connected. Without it Asio takes the operation's memory from a per-thread
/// cache of recently freed operations, so an idle connection's wait sits in whatever block a
/// write, an accept or an attach left there (up to about 240 bytes where the wait needs about
/// 100); with 10,000 idle clients that is more than a megabyte (docs/PERFORMANCE.md).
/// An operation larger than the slot, or a second one while the first is pending, falls back to
/// the heap. Thread safety: none; the owner's thread only.
class handler_slot {
public:
    /// The TCP readiness wait takes 112 bytes with Boost 1.81 on 64-bit Linux; the slot is
    /// that and its flag, 128 bytes with the alignment.
    static constexpr std::size_t size = 112;

    void* allocate(std::size_t n) {
        if (!in_use_ && n <= size) {
            in_use_ = true;
            return storage_;
        }
        return ::operator new(n);
    }
    void deallocate(void* p) noexcept {
        if (p == storage_) {
            in_use_ = false;
        } else {
            ::operator delete(p);
        }
    }

private:
    alignas(std::max_align_t) unsigned char storage_[size];
    bool in_use_ = false;
};

/// The allocator to bind to a handler (asio::bind_allocator) so that its operation uses `slot`.
template <typename T> class slot_allocator {
public:
    using value_type = T;

    explicit slot_allocator(handler_slot& slot) noexcept : slot_(&slot) {}
    template <typename U>
    slot_allocator(const slot_allocator<U>& other) noexcept : slot_(other.slot()) {}

    T* allocate(std::size_t n) { return static_cast<T*>(slot_->allocate(n * sizeof(T))); }
    void deallocate(T* p, std::size_t) noexcept { slot_->deallocate(p); }
    handler_slot* slot() const noexcept { return slot_; }

    template <typename U> bool operator==(const slot_allocator<U>& other) const noexcept {
        return slot_ == other.slot();
    }

private:
    handler_slot* slot_;
};

} // namespace edgemq::broker::net
