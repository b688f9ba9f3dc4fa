// SPDX-License-Identifier: Apache-2.0
#include "login_throttle.hpp"

#include <algorithm>

namespace edgemq::app {

login_throttle::clock::duration login_throttle::blocked_for(const std::string& peer,
                                                            clock::time_point now) const {
    const auto it = peers_.find(peer);
    if (it == peers_.end() || it->second.failures.size() < limits_.max_failures) {
        return clock::duration::zero();
    }
    const auto until = it->second.failures.front() + limits_.window;
    return until > now ? until - now : clock::duration::zero();
}

bool login_throttle::failed(const std::string& peer, clock::time_point now) {
    auto it = peers_.find(peer);
    if (it == peers_.end()) {
        if (peers_.size() >= limits_.max_peers) {
            expire(now);
        }
        if (peers_.size() >= limits_.max_peers) {
            peers_.erase(std::ranges::min_element(
                peers_, {}, [](const auto& p) { return p.second.failures.back(); }));
        }
        it = peers_.emplace(peer, peer_state{}).first;
    }
    auto& state = it->second;
    while (!state.failures.empty() && state.failures.front() + limits_.window <= now) {
        state.failures.pop_front();
    }
    state.failures.push_back(now);
    while (state.failures.size() > limits_.max_failures) {
        state.failures.pop_front();
    }
    if (state.failures.size() < limits_.max_failures || state.blocked) {
        return false;
    }
    state.blocked = true;
    return true;
}

void login_throttle::succeeded(const std::string& peer) {
    peers_.erase(peer);
}

std::vector<std::string> login_throttle::expire(clock::time_point now) {
    std::vector<std::string> released;
    for (auto it = peers_.begin(); it != peers_.end();) {
        auto& state = it->second;
        while (!state.failures.empty() && state.failures.front() + limits_.window <= now) {
            state.failures.pop_front();
        }
        if (state.blocked && state.failures.size() < limits_.max_failures) {
            state.blocked = false;
            released.push_back(it->first);
        }
        it = state.failures.empty() ? peers_.erase(it) : std::next(it);
    }
    return released;
}

} // namespace edgemq::app
