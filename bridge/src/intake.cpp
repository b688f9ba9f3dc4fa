// SPDX-License-Identifier: Apache-2.0
#include "intake.hpp"

namespace edgemq::bridge {

void intake::open(std::function<void()> wake) {
    const std::lock_guard lock{mutex_};
    wake_ = std::move(wake);
}

void intake::close() {
    const std::lock_guard lock{mutex_};
    wake_ = nullptr;
}

void intake::discard() {
    const std::lock_guard lock{mutex_};
    wake_ = nullptr;
    messages_.clear();
    reached(handed(), false);
}

std::uint64_t intake::take(const broker::message_ptr& m) {
    const std::lock_guard lock{mutex_};
    if (!wake_) {
        return 0;
    }
    messages_.push_back(m);
    if (messages_.size() == 1) { // one wake-up per batch
        wake_();
    }
    return hand_over();
}

intake::batch intake::collect() {
    batch b;
    const std::lock_guard lock{mutex_};
    b.messages.swap(messages_);
    b.through = handed();
    return b;
}

void intake::stored(std::uint64_t through, bool ok) {
    const std::lock_guard lock{mutex_};
    reached(through, ok);
}

} // namespace edgemq::bridge
