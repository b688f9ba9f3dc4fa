// SPDX-License-Identifier: Apache-2.0
#pragma once

/// The gateway's configuration as plain aggregates. Each field is named after its TOML key
/// and carries its default; the one exception is gateway::listeners, which starts empty and
/// which config::defaults() and the loaders fill with one tcp listener on 127.0.0.1:1883 when
/// the file has none. load.hpp reads these from TOML; nothing here knows about TOML.
///
/// Thread safety: plain values; share them as you would any struct.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace edgemq::config {

/// `[log] level`, from most to least verbose.
enum class log_level { trace, debug, info, warn, error, off };

/// One `[[listeners]]` entry: a socket the broker accepts MQTT clients on.
struct listener {
    /// Transport: "tcp", "tls" (MQTT over TLS 1.2/1.3), "ws" (WebSocket) or "wss" (WebSocket
    /// over TLS). Default "tcp".
    std::string type = "tcp";
    /// Address to bind, from `bind = "host:port"` ("0.0.0.0:1883", "[::1]:1883"). Default
    /// "127.0.0.1".
    std::string host = "127.0.0.1";
    /// Port, from `bind`; 0 lets the kernel choose (tests use it). Default 1883.
    std::uint16_t port = 1883;
    /// Connections open at once on this listener; 0 = no per-listener limit. Default 0.
    std::size_t max_connections = 0;

    /// PEM server certificate (chain) and private key; required by "tls" and "wss".
    std::string cert;
    std::string key;
    /// PEM CA certificates that client certificates must chain to; required when
    /// require_client_certificate is true. Default none.
    std::string ca;
    /// Refuse TLS clients without a certificate signed by `ca` (mutual TLS). Default false.
    bool require_client_certificate = false;
    /// Use the client certificate's CN as the MQTT user name (for ACLs); the CONNECT's
    /// user name and password are then ignored, as in Mosquitto. Default false.
    bool use_identity_as_username = false;
    /// HTTP path of the WebSocket endpoint ("ws", "wss"). Default "/mqtt".
    std::string path = "/mqtt";

    /// Whether clients may connect without a user name. Unset means: allowed on a loopback
    /// address, and a start-up error on any other address unless password_file or
    /// use_identity_as_username authenticates clients (Mosquitto 2.0's safe default).
    std::optional<bool> allow_anonymous;
    /// A Mosquitto-format password file (`edgemq passwd` or `mosquitto_passwd` writes it).
    std::string password_file;
    /// A Mosquitto-format ACL file; without one every client may read and write every topic.
    std::string acl_file;
    /// PUBLISH packets per second one client may send; 0 = no limit. Default 0.
    std::uint32_t max_publish_rate = 0;

    bool operator==(const listener&) const = default;
};

/// `[broker] slow_consumer`.
enum class slow_consumer_policy { drop, disconnect };

/// `[broker] sync`.
enum class sync_mode { normal, full };

/// `[broker]`: limits and timings of the MQTT broker.
struct broker {
    /// I/O threads, each with its own io_context; 0 = one per core. Default 0, at most 256.
    unsigned threads = 0;
    /// Largest MQTT packet accepted, in bytes; 2 to 268435455 (the MQTT maximum, also the
    /// default, as in Mosquitto).
    std::size_t max_packet_size = 268435455;
    /// Client connections open at once over all listeners; 0 = unlimited. Default 0.
    std::size_t max_connections = 0;
    /// QoS 1 and 2 deliveries per client awaiting acknowledgement; 1 to 65535 (a 5.0 client's
    /// Receive Maximum lowers it). Default 200: Mosquitto's 20 costs a fast subscriber more
    /// than half its rate (one round trip per 20 messages; docs/PERFORMANCE.md).
    std::uint16_t max_inflight_messages = 200;
    /// Messages per session waiting behind the in-flight window or the write buffer, or while
    /// the client is offline. An offline (or slow) client's queue is cut there; a connected
    /// one's is not: its publishers are read more slowly until it is down to half. 0 =
    /// unlimited (no flow control). Default 1000.
    std::size_t max_queued_messages = 1000;
    /// A connected subscriber whose queue is full and that read nothing for this long is a slow
    /// consumer: it stops holding its publishers back. 0 = never; at most 24h. Default 5s.
    std::chrono::milliseconds slow_consumer_timeout{5000};
    /// What a slow consumer gets: `drop` (its queue is cut at max_queued_messages until it has
    /// read half of it; the drops are counted per client) or `disconnect`. Default drop.
    slow_consumer_policy slow_consumer = slow_consumer_policy::drop;
    /// Whether QoS 0 messages are queued for offline clients with clean_session = 0.
    /// Default false.
    bool queue_qos0_messages = false;
    /// Time from TCP accept to a complete CONNECT packet; 1ms to 24h. Default 10s.
    std::chrono::milliseconds connect_timeout{10000};
    /// Largest CONNECT packet, the only one a client may send before it is authenticated, in
    /// bytes; 2 to max_packet_size. Default 65536 (wills, user names and passwords of real
    /// clients are far smaller).
    std::size_t max_connect_size = 64 * 1024;
    /// Bytes all not yet authenticated connections together may hold; a connection that would
    /// pass it is closed. At least 1. Default 16 MiB.
    std::size_t max_unauthenticated_memory = 16 * 1024 * 1024;
    /// Time a client has to finish a packet it has begun sending (a slow-drip defence); 1ms to
    /// 24h. Default 60s.
    std::chrono::milliseconds packet_timeout{60000};
    /// Period of the $SYS topic updates; 0 = off, at most 24h. Default 10s.
    std::chrono::seconds sys_interval{10};
    /// Largest keep-alive a client may ask for, in seconds. Default 65535.
    std::uint16_t max_keepalive = 65535;
    /// Topic aliases an MQTT 5.0 client may set on its connection (Topic Alias Maximum); 0
    /// turns them off. Default 10 (as Mosquitto's).
    std::uint16_t max_topic_alias = 10;
    /// QoS 2 messages an MQTT 5.0 client may have unreleased at once (Receive Maximum); a
    /// client that sends more is disconnected with 0x93. 1 to 65535. Default 65535.
    std::uint16_t receive_maximum = 65535;
    /// Bytes waiting in one connection's write buffer; further messages to it wait in its
    /// queue (max_queued_messages). At least 1. Default 1 MiB.
    std::size_t max_outbound_bytes = 1024 * 1024;
    /// Whether retained messages and persistent sessions (subscriptions, queued and in-flight
    /// messages, wills) are kept on disk across restarts and crashes: the retained ones in
    /// persistence_file, the sessions in sessions.db beside it. Default false (as Mosquitto's;
    /// the package's edgemq.toml turns it on).
    bool persistence = false;
    /// The SQLite file of the retained messages. Default "/var/lib/edgemq/retained.db".
    std::string persistence_file = "/var/lib/edgemq/retained.db";
    /// "normal": what was acknowledged survives a crash of the process (kill -9, OOM); "full":
    /// also a power loss or kernel crash, at the cost of an fsync per commit. Default "normal".
    sync_mode sync = sync_mode::normal;

    bool operator==(const broker&) const = default;
};

/// `[log]`.
struct logging {
    /// Least severe level written. Default info.
    log_level level = log_level::info;

    bool operator==(const logging&) const = default;
};

// Serial devices -------------------------------------------------------------------------------

/// `match`: which port a device is bound to. The first of path, by_id that exists wins; else
/// every USB key given (vid, pid, serial, product, location) must match, as `edgemq ports`
/// shows them. Topics never depend on the port's name.
struct device_match {
    /// A device node or any symlink to one ("/dev/ttyUSB0", "/tmp/sim/dev").
    std::string path;
    /// A name under /dev/serial/by-id (or a full path below it).
    std::string by_id;
    /// USB vendor and product id as 4 hex digits ("1a86"), and the adapter's serial number.
    std::string vid;
    std::string pid;
    std::string serial;
    /// The adapter's USB product string ("CP2102 USB to UART Bridge Controller").
    std::string product;
    /// The USB port it is plugged into, as Linux names it ("1-1.2"): tells apart identical
    /// adapters without a serial number, and stays the same across replugs.
    std::string location;

    bool operator==(const device_match&) const = default;
};

enum class parity { none, even, odd };
enum class flow_control { none, rtscts, xonxoff };
/// DTR and RTS right after open: leave as the driver set them (Linux raises both), on, off.
enum class modem_line { keep, on, off };
/// Bytes to frames: `line` ends a frame at "\n", "\r\n" or a lone "\r"; `delimiter` at the
/// `delimiter` string; `fixed` every `frame_length` bytes; `idle_gap` after `idle_gap` of silence.
enum class framing_mode { line, delimiter, fixed, idle_gap };
/// How a frame's bytes are read: UTF-8 (invalid frames are counted and logged), Latin-1
/// (converted to UTF-8), or binary (the raw parser publishes it as hex).
enum class text_encoding { utf8, latin1, binary };
/// Frame to named values: the whole frame (`raw`, field "value"), `kv` pairs, `csv` with named
/// columns, a `json` object per frame (nested keys joined with '.'), `regex` named groups.
enum class parser_kind { raw, kv, csv, json, regex };
/// A field's type; `automatic` takes an integer, a number, true/false or else a string.
enum class field_type { automatic, integer, number, boolean, string };
/// What a field becomes in Home Assistant: chosen by its type, a sensor, or a binary_sensor.
enum class entity_component { automatic, sensor, binary_sensor };

/// `[devices.parser]`.
struct device_parser {
    parser_kind kind = parser_kind::raw;
    /// kv: between pairs and between key and value. Default "," and "=".
    std::string pair_separator = ",";
    std::string kv_separator = "=";
    /// csv: between columns, and the column names ("_" skips a column). Default ",".
    std::string separator = ",";
    std::vector<std::string> columns;
    /// regex: ECMAScript syntax with named groups `(?<name>...)`; searched in the frame.
    std::string pattern;

    bool operator==(const device_parser&) const = default;
};

/// `[devices.fields.<name>]`: how one parsed value is typed and published.
struct device_field {
    std::string name;
    /// The parser's key (kv key, csv column, json key "a.b", regex group). Default: name.
    std::string source;
    field_type type = field_type::automatic;
    /// Numbers are published as value * scale + offset. Defaults 1 and 0.
    double scale = 1.0;
    double offset = 0.0;
    /// Shown in the log and stats only; the JSON state carries plain numbers. Default none.
    std::string unit;
    /// A number that moved less than this since it was last published does not count as a
    /// change; a frame where nothing changed is not published. Default none (every frame).
    std::optional<double> deadband;
    /// Home Assistant discovery ([homeassistant]): the entity it becomes. `automatic` is a
    /// binary_sensor for a bool field and a sensor otherwise.
    entity_component component = entity_component::automatic;
    /// The entity's name, from the key `name` (`name` above is the table's own key). Default:
    /// the field's name.
    std::string entity_name;
    /// Home Assistant's device_class and state_class of the entity, as HA spells them
    /// ("temperature", "measurement"). Default none.
    std::string device_class;
    std::string state_class;

    bool operator==(const device_field&) const = default;
};

/// `[devices.publish]`.
struct device_publish {
    /// {base} in topic templates. Default "edgemq".
    std::string base = "edgemq";
    /// One JSON object per frame (with "ts", Unix milliseconds) on state_topic. Default true.
    bool state = true;
    /// One plain message per field on field_topic. Default false.
    bool fields = false;
    std::string state_topic = "{base}/{device}";
    std::string field_topic = "{base}/{device}/{field}";
    /// QoS (0 to 2) and retain flag of state and field messages. Defaults 0 and false.
    std::uint8_t qos = 0;
    bool retain = false;
    /// At most one publish per min_interval, the latest values win; 0 = off.
    std::chrono::milliseconds min_interval{0};
    /// Republish the last state when nothing was published for max_interval; 0 = off.
    std::chrono::milliseconds max_interval{0};

    bool operator==(const device_publish&) const = default;
};

/// How a command's MQTT payload is validated before it becomes {value}.
enum class command_type { string, integer, number, boolean, enumeration, none };

/// `[devices.commands.<name>]`: {base}/{device}/set/<name> → bytes written to the port.
struct device_command {
    std::string name;
    /// The bytes written, with {value} (the validated payload), {seq} (a counter) and
    /// {device}; the framing's end of line is appended. Default "{value}".
    std::string format = "{value}";
    command_type type = command_type::string;
    /// integer, number: inclusive bounds. Default none.
    std::optional<double> min;
    std::optional<double> max;
    /// enumeration: the accepted payloads.
    std::vector<std::string> values;
    /// string: longest payload accepted, in bytes. Default 256.
    std::size_t max_length = 256;
    /// Append "\n" (or the delimiter in delimiter framing). Default true.
    bool append_eol = true;
    /// A regex ({seq} is replaced first); the first frame it finds within `timeout` is the
    /// reply, published to {base}/{device}/response/<name>. Default none: no reply awaited.
    std::string reply;
    std::chrono::milliseconds timeout{2000};

    bool operator==(const device_command&) const = default;
};

/// One `[[devices]]` entry: a serial device turned into MQTT topics.
struct device {
    /// The logical name used in topics, [A-Za-z0-9_-]+; required and unique.
    std::string id;
    device_match match;
    /// Line settings. Defaults 9600 8N1, no flow control.
    std::uint32_t baud = 9600;
    std::uint8_t data_bits = 8;
    config::parity parity = parity::none;
    std::uint8_t stop_bits = 1;
    config::flow_control flow_control = flow_control::none;
    modem_line dtr = modem_line::keep;
    modem_line rts = modem_line::keep;
    /// Input discarded after each open (boot noise). Default 0.
    std::chrono::milliseconds settle{0};
    framing_mode framing = framing_mode::line;
    /// delimiter framing: the terminator (at least one byte).
    std::string delimiter;
    /// fixed framing: bytes per frame.
    std::size_t frame_length = 0;
    /// idle_gap framing: silence that ends a frame. Default 20ms.
    std::chrono::milliseconds idle_gap{20};
    /// A longer frame is dropped up to the next terminator and counted. Default 1024.
    std::size_t max_frame_bytes = 1024;
    text_encoding encoding = text_encoding::utf8;
    device_parser parser;
    /// In key order; values without a field entry are published with automatic type.
    std::vector<device_field> fields;
    device_publish publish;
    std::vector<device_command> commands;
    /// Period of {base}/{device}/stats; 0 = off. Default 60s.
    std::chrono::milliseconds stats_interval{60000};
    /// How Home Assistant shows the device ([homeassistant]): its name (default: id),
    /// manufacturer and model (default none).
    std::string name;
    std::string manufacturer;
    std::string model;

    bool operator==(const device&) const = default;
};

// Modbus RTU ----------------------------------------------------------------------------------

/// The four Modbus data tables: coils (read/write bits), discrete inputs (read-only bits),
/// holding registers (read/write 16-bit words) and input registers (read-only words).
enum class modbus_table { coil, discrete_input, holding, input };
/// How a value is laid out in the table: a bit, or 1, 2 or 4 consecutive 16-bit registers.
enum class modbus_type { boolean, u16, i16, u32, i32, u64, i64, f32, f64 };
/// Byte order within each register, and register (word) order of a multi-register value.
/// big is the Modbus standard (high byte first, high word first: "ABCD"); little swaps.
enum class modbus_order { big, little };

/// How many registers (bits, for boolean) a value of type `t` spans: 1, 2 or 4.
constexpr std::uint16_t modbus_width(modbus_type t) noexcept {
    switch (t) {
    case modbus_type::u32:
    case modbus_type::i32:
    case modbus_type::f32:
        return 2;
    case modbus_type::u64:
    case modbus_type::i64:
    case modbus_type::f64:
        return 4;
    default:
        return 1;
    }
}

/// Whether `t` reads bits (coils, discrete inputs) rather than 16-bit registers.
constexpr bool modbus_bit_table(modbus_table t) noexcept {
    return t == modbus_table::coil || t == modbus_table::discrete_input;
}

/// `[modbus.slaves.registers.<name>]`: one value read from a slave, published as the field
/// <name> exactly like a line device's field.
struct modbus_register {
    std::string name;
    modbus_table table = modbus_table::holding;
    /// The first register's (or bit's) 0-based protocol address, 0 to 65535; required.
    std::uint16_t address = 0;
    /// Default u16 for registers, bool for coils and discrete inputs.
    modbus_type type = modbus_type::u16;
    modbus_order byte_order = modbus_order::big;
    modbus_order word_order = modbus_order::big;
    /// Published as raw * scale + offset; a write sends (value - offset) / scale. Defaults 1, 0.
    double scale = 1.0;
    double offset = 0.0;
    std::string unit;
    /// As device_field::deadband.
    std::optional<double> deadband;
    /// A coil or holding register that {base}/{slave}/set/<name> writes. Default false.
    bool writable = false;
    /// Bounds of a written value (after scale and offset). Default none.
    std::optional<double> min;
    std::optional<double> max;
    /// Home Assistant, as device_field.
    entity_component component = entity_component::automatic;
    std::string entity_name;
    std::string device_class;
    std::string state_class;

    bool operator==(const modbus_register&) const = default;
};

/// `[[modbus.slaves]]`: one slave on the bus, published as a device named `name`.
struct modbus_slave {
    /// The slave (unit) address, 1 to 247; required and unique on its bus.
    std::uint8_t id = 0;
    /// The device name in topics ({device}), [A-Za-z0-9_-]+; required and unique among
    /// devices and slaves.
    std::string name;
    /// Time between the starts of two polls of this slave. Default 1s.
    std::chrono::milliseconds poll_interval{1000};
    /// Consecutive failed polls (timeouts, exception codes) after which the slave is
    /// published offline. Default 3.
    std::uint32_t max_failures = 3;
    /// In key order.
    std::vector<modbus_register> registers;
    device_publish publish;
    /// Period of {base}/{slave}/stats; 0 = off. Default 60s.
    std::chrono::milliseconds stats_interval{60000};
    /// Home Assistant: the device's name (default: name), manufacturer and model.
    std::string display_name;
    std::string manufacturer;
    std::string model;

    bool operator==(const modbus_slave&) const = default;
};

/// One `[[modbus]]` entry: a Modbus RTU bus (an RS-485 adapter) polled by one scheduler.
struct modbus_bus {
    /// [A-Za-z0-9_-]+, for the log; default "modbus<index>".
    std::string name;
    /// The port, as `[[devices]]` match it.
    device_match match;
    /// Line settings. Defaults 9600 8E1 (the Modbus serial line specification's default).
    std::uint32_t baud = 9600;
    std::uint8_t data_bits = 8;
    config::parity parity = parity::even;
    std::uint8_t stop_bits = 1;
    /// How long a slave has to start answering. Default 500ms.
    std::chrono::milliseconds response_timeout{500};
    /// Silence kept on the wire after each transaction before the next request (the
    /// inter-frame delay; slow slaves need more than the protocol's 3.5 characters).
    /// Default 0: 3.5 characters at the baud rate, at least 2ms.
    std::chrono::milliseconds frame_delay{0};
    std::vector<modbus_slave> slaves;

    bool operator==(const modbus_bus&) const = default;
};

// Bridges -------------------------------------------------------------------------------------

/// Which way a bridge topic rule carries messages: local to remote, remote to local, or both.
enum class bridge_direction { out, in, both };

/// `[[bridges.topics]]`: one topic tree mirrored, with Mosquitto's prefix semantics. `out`
/// subscribes locally to local_prefix + pattern and publishes remote_prefix + (topic without
/// local_prefix); `in` is the mirror image on the remote.
struct bridge_topic {
    /// A topic filter ("sensors/#"), relative to the prefixes; required.
    std::string pattern;
    bridge_direction direction = bridge_direction::out;
    /// Largest QoS forwarded (0 to 2). Default 1: unlike Mosquitto's 0, so that nothing is
    /// lost by default.
    std::uint8_t qos = 1;
    /// Written before pattern on each side ("site-7/"); no wildcards. Default none.
    std::string local_prefix;
    std::string remote_prefix;
    bool operator==(const bridge_topic&) const = default;
};

/// What a full bridge queue does with one more message.
enum class queue_full_policy { drop_oldest, drop_newest };

/// One `[[bridges]]` entry: a connection to a remote MQTT broker (EMQX, Mosquitto...).
struct bridge {
    /// [A-Za-z0-9_-]+; required and unique. Names the queue file and the $SYS topics.
    std::string name;
    /// "host:port", from `address` (a string or a list tried in turn for failover); required.
    /// Port default 8883 with TLS, else 1883.
    std::vector<std::string> addresses;
    /// Client id on the remote; it must be unique there. Default "<hostname>-<name>".
    std::string client_id;
    std::string username;
    std::optional<std::string> password;
    /// Seconds between PINGREQs when idle; 5 to 65535. Default 60.
    std::uint16_t keepalive = 60;
    /// Whether the remote forgets the bridge's session (and its in-flight messages) when the
    /// link drops. Default false.
    bool clean_session = false;
    /// Set the "bridge" bit in CONNECT (protocol level 0x84) so that Mosquitto and EMQX do not
    /// echo the bridge's own messages back. Default true, as Mosquitto's try_private.
    bool try_private = true;
    /// The MQTT version spoken to the remote: 4 (MQTT 3.1.1) or 5 (MQTT 5.0), as MQTT.js and
    /// paho number them. Default 4. At 5 the bridge asks No Local instead of try_private.
    std::uint8_t protocol_version = 4;
    /// 5.0: seconds the remote keeps the bridge's session (its subscriptions and what they
    /// receive) while the link is down; clean_session = true sends 0. Default 86400 (a day).
    std::uint32_t session_expiry_interval = 86'400;
    /// TLS to the remote. Default: on when ca, cert or key is set.
    bool tls = false;
    /// PEM CA file the remote's certificate must chain to; default the system's CAs.
    std::string ca;
    /// PEM client certificate and key (mutual TLS). Default none.
    std::string cert;
    std::string key;
    /// Skip the check that the certificate names the host (the chain is still verified).
    /// Default false; only written explicitly.
    bool insecure = false;
    std::vector<bridge_topic> topics;
    /// The durable queue (SQLite). Default "/var/lib/edgemq/bridge-<name>.db".
    std::string queue_file;
    /// Queue bounds; 0 = no bound. Defaults 1,000,000 messages and 1 GiB.
    std::size_t max_messages = 1'000'000;
    std::size_t max_bytes = std::size_t{1} << 30;
    queue_full_policy when_full = queue_full_policy::drop_oldest;
    /// Also queue (and so keep across outages) QoS 0 messages. Default false: QoS 0 is
    /// forwarded while connected and dropped (and counted) while not.
    bool queue_qos0 = false;
    /// QoS 1 and 2 messages sent and not yet acknowledged; 1 to 65535. Default 100.
    std::uint16_t max_inflight = 100;
    /// Reconnect backoff: doubles from reconnect_min up to reconnect_max, with jitter.
    /// Defaults 1s and 60s.
    std::chrono::milliseconds reconnect_min{1000};
    std::chrono::milliseconds reconnect_max{60000};
    /// Retained "online"/"offline" on the remote (offline through the CONNECT's will).
    /// Default true.
    bool notifications = true;
    /// Default "<remote_prefix of the first topic rule>$bridge/<name>/state".
    std::string notification_topic;
    bool operator==(const bridge&) const = default;
};

/// `[admin]`: the HTTP API, dashboard and Prometheus metrics (gateway/src/admin_http.hpp).
struct admin {
    /// Whether the admin HTTP server runs. Default true.
    bool enabled = true;
    /// Address to bind, from `bind = "host:port"`. Default "127.0.0.1".
    std::string host = "127.0.0.1";
    /// Port, from `bind`; 0 lets the kernel choose (tests use it). Default 18083 (EMQX's).
    std::uint16_t port = 18083;
    /// Admin users, in the format of a Mosquitto password file. Default
    /// "/var/lib/edgemq/admins"; with no user in it, `admin` is created with a random password.
    std::string users_file = "/var/lib/edgemq/admins";
    /// Whether scraping /metrics needs a login. Default false.
    bool metrics_auth = false;
    /// PEM certificate (chain) and private key: both set serves HTTPS. Default none (HTTP).
    std::string cert;
    std::string key;

    bool operator==(const admin&) const = default;
};

/// `[homeassistant]`: Home Assistant MQTT discovery of the devices (gateway/src/homeassistant.hpp).
struct homeassistant {
    /// Whether every device announces itself with a retained discovery config. Default false.
    bool enabled = false;
    /// Home Assistant's discovery prefix (its MQTT integration's setting). Default
    /// "homeassistant".
    std::string discovery_prefix = "homeassistant";
    /// Where Home Assistant publishes its birth message `online`, after which the configs are
    /// sent again. Default "<discovery_prefix>/status".
    std::string status_topic = "homeassistant/status";
    /// This gateway in every identifier and unique_id ("edgemq_<gateway_id>_<device id>"),
    /// [A-Za-z0-9-]+. Default: the host name, with other characters as '-'.
    std::string gateway_id;

    bool operator==(const homeassistant&) const = default;
};

/// The whole configuration file.
struct gateway {
    /// `[broker]`.
    config::broker broker;
    /// `[[listeners]]`; a file without any gets one tcp listener on 127.0.0.1:1883.
    std::vector<listener> listeners;
    /// `[log]`.
    logging log;
    /// `[admin]`.
    config::admin admin;
    /// `[[devices]]`: serial devices. Default none.
    std::vector<device> devices;
    /// `[[bridges]]`: connections to remote brokers. Default none.
    std::vector<bridge> bridges;
    /// `[[modbus]]`: Modbus RTU buses. Default none.
    std::vector<modbus_bus> modbus;
    /// `[homeassistant]`.
    config::homeassistant homeassistant;

    bool operator==(const gateway&) const = default;
};

} // namespace edgemq::config
