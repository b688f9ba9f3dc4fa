// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/broker/auth/acl.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>

/// Who a client is and what it may touch: the ACL and `$SYS` rules every path applies (PUBLISH,
/// will, SUBSCRIBE, delivery). Thread safety: immutable once made; share freely.
namespace edgemq::broker::protocol {

/// A client's identity for ACL checks: its user name (or certificate CN) and its listener's ACL.
struct client_access {
    std::optional<std::string> username;
    std::shared_ptr<const auth::acl> acl;
};

/// Whether a client may publish to `topic` (a PUBLISH or its will): never into the broker's own
/// $SYS tree, and only where `acl` (null: no ACL) lets `username` write.
inline bool may_publish(const auth::acl* acl, const std::optional<std::string>& username,
                        std::string_view client_id, std::string_view topic) {
    if (topic.starts_with("$SYS")) {
        return false;
    }
    return acl == nullptr || acl->can_publish(username, client_id, topic);
}

/// The same for a client whose access is `a` (null: anonymous, no ACL).
inline bool may_publish(const client_access* a, std::string_view client_id,
                        std::string_view topic) {
    return may_publish(a ? a->acl.get() : nullptr, a ? a->username : std::nullopt, client_id,
                       topic);
}

inline bool may_subscribe(const client_access* a, std::string_view client_id,
                          std::string_view filter) {
    return !a || !a->acl || a->acl->can_subscribe(a->username, client_id, filter);
}

inline bool may_receive(const client_access* a, std::string_view client_id,
                        std::string_view topic) {
    return !a || !a->acl || a->acl->can_receive(a->username, client_id, topic);
}

} // namespace edgemq::broker::protocol
