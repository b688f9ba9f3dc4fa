// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/broker/detail/string_hash.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

/// Access control lists in Mosquitto's `acl_file` syntax (mosquitto.conf(5), section acl_file),
/// so that a site's existing file works unchanged:
///
///     # comment
///     topic read $SYS/#                      before any `user` line: anonymous clients
///     user alice                             following `topic` lines are alice's
///     topic readwrite sensors/#              access: read | write | readwrite (default) | deny
///     pattern write devices/%c/status        every client; %c = client id, %u = username
///
/// Evaluation for one client: its rules are those of its `user` section (or the anonymous
/// section when it connected without a username) plus every `pattern`. Without a matching allow
/// rule access is denied, and a matching `deny` rule wins over any allow, wherever the two are
/// in the file. (Mosquitto checks a user's own rules before the patterns, so there a user allow
/// beats a pattern deny; edgemq lets the deny win. Within each group the two agree.)
///
/// * PUBLISH to a topic needs a write rule that matches it.
/// * Delivery of a message needs a read rule that matches its topic (`can_receive`).
/// * SUBSCRIBE to a filter needs a read rule that covers every topic the filter can match
///   (rule `sensors/#` allows `sensors/#`, `sensors/+/temp` and `sensors/a`; rule `sensors/+`
///   does not allow `sensors/#`), and no deny rule that covers the whole filter. A deny rule that
///   covers only part of it (deny `sensors/secret` under `sensors/#`) leaves the subscription in
///   place and withholds those messages at delivery, through `can_receive`. Mosquitto 2.0's
///   default ACL does not check SUBSCRIBE at all and filters only at delivery.
/// * A rule whose first level is `+` or `#` does not match topics starting with `$`
///   [MQTT-4.7.2-1]: `$SYS/...` is readable only through a rule that names it (`$SYS/#`).
/// * A pattern applies only with the values it needs: a `%u` pattern never applies to an
///   anonymous client. A username or client id holding `+` or `#` gets no access from any allow
///   pattern (it would act as a wildcard; Mosquitto denies such clients too), while deny patterns
///   still apply to it.
///
/// With no acl_file configured the broker allows everything; that is the caller's decision.
namespace edgemq::broker::auth {

namespace detail {

/// One `topic` or `pattern` line, split into the pieces that matching needs.
struct acl_rule {
    enum class part_kind : std::uint8_t { text, client_id, username };
    struct part {
        part_kind kind;
        std::string text; ///< for text parts
    };

    std::string filter;      ///< the filter as written (%c and %u unexpanded for patterns)
    std::vector<part> parts; ///< patterns only: text and substitutions, in order
    bool read = false;
    bool write = false;
    bool uses_client_id = false;
    bool uses_username = false;
};

/// The rules that apply to one user, to anonymous clients, or to everyone (patterns); deny
/// rules apart so that they are checked first.
struct acl_rule_set {
    std::vector<acl_rule> deny;
    std::vector<acl_rule> allow;
};

} // namespace detail

/// A loaded ACL file.
/// Thread safety: immutable after `load`; every const member may be called from any thread
/// concurrently (patterns expand into a per-thread buffer). Reload by loading a new object and
/// swapping a `std::shared_ptr<const acl>`.
class acl {
public:
    /// Reads and parses `file`. Throws `std::runtime_error("FILE:LINE: reason")` for an unknown
    /// keyword, a bad access type, a missing user name or an invalid topic filter, and
    /// `std::runtime_error("FILE: reason")` when the file cannot be read.
    static acl load(const std::filesystem::path& file);

    /// Parses file text; `name` is used in error messages only. Throws as `load`.
    static acl parse(std::string_view text, const std::string& name);

    /// May the client publish to `topic` (a valid topic name)? Checked per PUBLISH.
    bool can_publish(const std::optional<std::string>& username, std::string_view client_id,
                     std::string_view topic) const noexcept;

    /// May the client subscribe to `filter` (a valid topic filter)? See the class comment for
    /// coverage; a false answer becomes return code 0x80 (Failure) for that filter in the
    /// SUBACK (MQTT 3.1.1 section 3.9.3).
    bool can_subscribe(const std::optional<std::string>& username, std::string_view client_id,
                       std::string_view filter) const noexcept;

    /// May a message on `topic` be delivered to the client? Checked per delivery, because deny
    /// rules (and patterns) can exclude single topics under an allowed subscription.
    bool can_receive(const std::optional<std::string>& username, std::string_view client_id,
                     std::string_view topic) const noexcept;

    /// Remarks about lines that load but probably do not do what was meant, each
    /// "FILE:LINE: text" (a `pattern` without %c or %u, as Mosquitto warns). For the log.
    const std::vector<std::string>& warnings() const noexcept { return warnings_; }

private:
    enum class check { publish, subscribe, receive };

    bool allowed(const std::optional<std::string>& username, std::string_view client_id,
                 std::string_view topic_or_filter, check what) const noexcept;

    edgemq::broker::detail::string_map<detail::acl_rule_set> users_;
    detail::acl_rule_set anonymous_;
    detail::acl_rule_set patterns_;
    std::vector<std::string> warnings_;
};

/// True when every topic that `filter` matches is also matched by `rule` (both valid filters),
/// with [MQTT-4.7.2-1] applied to both: `#` covers `a/+` but not `$SYS/#`. Used for SUBSCRIBE.
/// Thread safety: pure function.
bool filter_covers(std::string_view rule, std::string_view filter) noexcept;

} // namespace edgemq::broker::auth
