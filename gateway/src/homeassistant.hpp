// SPDX-License-Identifier: Apache-2.0
#pragma once

/// Home Assistant MQTT discovery ([homeassistant], https://www.home-assistant.io/integrations/mqtt/
/// "Device discovery payload"): every configured serial device announces itself with one retained
/// config on `<discovery_prefix>/device/edgemq_<gateway_id>_<device id>/config`, listing its
/// entities in `components`; the gateway announces itself on
/// `.../device/edgemq_<gateway_id>/config` (its $SYS sensors) and is every device's `via_device`.
///
/// What a device announces follows what the serial driver really publishes (drivers/serial):
/// - availability: `{base}/{device}/availability`, retained "online" / "offline";
/// - each field (configured ones, csv columns, regex groups, raw "value") is a sensor, or a
///   binary_sensor for a bool field, read from the JSON state topic with a value_template
///   (`{{ value_json.temp }}`; `{{ value_json['a.b'] }}` where the name is no plain identifier),
///   or from its own field topic when only `publish.fields` is on; a bool in the JSON state is
///   rendered with `to_json`, so that payload_on/off are the "true"/"false" the device sends;
/// - each command is the entity its type asks for, on `{base}/{device}/set/<name>`, with payloads
///   that encode_command accepts: bool → switch ("ON"/"OFF"), enum → select (options), int and
///   float → number (min, max, step), none → button ("PRESS"), string → text (max ≤ 255).
/// unique_ids and identifiers come from the gateway id, the device id and the field or command
/// name only, so they stay the same across restarts and reloads.
///
/// The message building is a pure function of the configuration (discovery_messages), tested
/// without I/O; homeassistant_discovery is the thin part that publishes it through an
/// in-process broker client, clears what a reload removed, and publishes everything again when
/// Home Assistant says `online` on its status topic.

#include "edgemq/broker/broker.hpp"
#include "edgemq/config/model.hpp"

#include <boost/asio/io_context.hpp>
#include <spdlog/logger.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace edgemq::app {

/// One discovery config, published retained; an empty payload clears it.
struct discovery_message {
    std::string topic;
    std::string payload;

    bool operator==(const discovery_message&) const = default;
};

/// Every discovery config `cfg` announces as gateway `gateway_id`: the gateway's own (when
/// $SYS is on, for its sensors) and one per device, in configuration order; none when
/// [homeassistant] is off. JSON payloads, built with Boost.JSON.
/// Thread safety: a pure function.
std::vector<discovery_message> discovery_messages(const config::gateway& cfg,
                                                  std::string_view gateway_id);

/// What to publish to go from the configs `before` to `after`: those of `after` that are new
/// or differ, and an empty payload for every topic of `before` that `after` lacks.
/// Thread safety: a pure function.
std::vector<discovery_message> discovery_changes(const std::vector<discovery_message>& before,
                                                 const std::vector<discovery_message>& after);

/// The topics of `retained` that are discovery configs this gateway published in an earlier run
/// and `current` lacks: under any prefix, `<prefix>/device/edgemq_<gateway_id>[_<id>]/config`
/// whose device is the gateway itself or names it as via_device. What to clear at start-up for
/// devices removed while the gateway was stopped. Another gateway's configs are never listed.
/// Thread safety: a pure function.
std::vector<std::string> stale_discovery_topics(const std::vector<discovery_message>& retained,
                                                std::string_view gateway_id,
                                                const std::vector<discovery_message>& current);

/// [homeassistant] gateway_id, or else `host_name` with every character but letters, digits
/// and '-' turned into '-' ("gateway" when that leaves nothing).
/// Thread safety: a pure function.
std::string discovery_gateway_id(const config::homeassistant& cfg, std::string_view host_name);

/// Publishes the discovery configs and keeps them current.
/// Thread safety: apply() and stop() run on the thread that runs `ctx` (or before it runs);
/// the broker's handler only posts to `ctx`.
class homeassistant_discovery : public std::enable_shared_from_this<homeassistant_discovery> {
public:
    homeassistant_discovery(boost::asio::io_context& ctx, broker::broker& b,
                            std::shared_ptr<spdlog::logger> log);

    /// Start and SIGHUP: publishes what is new or changed in `cfg`, clears what is gone (also
    /// what an earlier run left retained in the broker: stale_discovery_topics), and follows a
    /// changed status topic. With [homeassistant] off, clears everything announced.
    /// Reads the broker's retained store: never call it from a broker handler.
    void apply(const config::gateway& cfg);
    /// Ends the in-process client; the retained configs stay for Home Assistant.
    void stop();

private:
    void on_status(const std::string& payload);
    void publish(const discovery_message& m);

    boost::asio::io_context& ctx_;
    broker::broker& broker_;
    std::shared_ptr<spdlog::logger> log_;
    std::shared_ptr<broker::internal_client> client_;
    std::string status_topic_; ///< subscribed; empty while off
    std::vector<discovery_message> announced_;
};

} // namespace edgemq::app
