// SPDX-License-Identifier: Apache-2.0
// `edgemq ctl`: the options and the commands. Each command is one call of the admin API
// (admin_api_client) printed for a person (display_text, table_printer), or an edit of the
// admins file (admins_edit).
#include "ctl.hpp"
#include "admin_api_client.hpp"
#include "admins_edit.hpp"
#include "display_text.hpp"
#include "encoding.hpp"
#include "table_printer.hpp"

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace edgemq::app {

const char* const ctl_usage =
    R"(usage: edgemq ctl [--url URL] [--cacert FILE | --insecure] [--user USER --password PASSWORD]
                  COMMAND
       edgemq ctl [--config FILE | --users-file FILE] admins COMMAND

Commands that talk to a running gateway (URL default http://127.0.0.1:18083; the login comes
from --user/--password or EDGEMQ_ADMIN_USER/EDGEMQ_ADMIN_PASSWORD). With an https:// URL the
server's certificate is checked against --cacert FILE (PEM), else the system's CAs, and must
name the URL's host; --insecure skips the check (the password is then sent to whoever answers):
  status                  version, uptime, listeners and counters
  clients list [FILTER]   connected clients (FILTER: part of the client id)
  clients kick ID         disconnect a client (its will is published)
  devices list            serial devices: availability, port, counters, last values
  devices restart ID      close and reopen a serial device's port
  bridges list            bridges to remote brokers: state, queue depth, counters
  modbus [list]           Modbus RTU slaves per bus: availability, polls ok and failed,
                          last exception, last seen

Commands that edit the admin users file (default: users_file of [admin] in --config FILE, else
of /etc/edgemq/edgemq.toml, else /var/lib/edgemq/admins); no running gateway needed:
  admins add USER PASSWORD [DESCRIPTION]
  admins passwd USER PASSWORD
  admins del USER
)";

namespace {

namespace http = boost::beast::http;

/// Every item of a paged list of the admin API (`data`, `meta.count`): GET `target` + `&page=N`
/// + `query` for N = 1, 2, ... until `count` items or an empty page.
std::vector<boost::json::value> all_pages(admin_api_client& api, const std::string& target,
                                          const std::string& query) {
    std::vector<boost::json::value> items;
    for (std::size_t page = 1;; ++page) {
        const auto v = api.call(http::verb::get, target + "&page=" + std::to_string(page) + query);
        const auto& data = v.at("data").as_array();
        items.insert(items.end(), data.begin(), data.end());
        if (data.empty() || items.size() >= v.at("meta").at("count").to_number<std::size_t>()) {
            return items;
        }
    }
}

/// The table of a `list` command, or `none` when it is empty. Returns the exit code.
int print_list(const std::vector<std::string>& headers,
               const std::vector<std::vector<std::string>>& rows, std::string_view none) {
    if (rows.empty()) {
        std::cout << none << '\n';
    } else {
        print_table(std::cout, headers, rows);
    }
    return 0;
}

int status(admin_api_client& api) {
    const auto v = api.call(http::verb::get, "/api/v1/status");
    const auto& o = v.as_object();
    const auto& c = o.at("counters").as_object();
    std::cout << "edgemq " << text_of(o.at("version")) << " running, up "
              << duration_text(o.at("uptime_seconds").to_number<std::uint64_t>()) << '\n';
    for (const auto& l : o.at("listeners").as_array()) {
        std::cout << "listener " << text_of(l.at("type")) << " on " << text_of(l.at("host")) << ':'
                  << text_of(l.at("port")) << '\n';
    }
    for (const auto* key :
         {"clients_connected", "messages_received", "messages_sent", "messages_dropped",
          "bytes_received", "bytes_sent", "subscriptions", "retained_messages"}) {
        std::cout << key << ' ' << text_of(c.at(key)) << '\n';
    }
    return 0;
}

int clients_list(admin_api_client& api, std::string_view filter) {
    std::vector<std::vector<std::string>> rows;
    const auto query = filter.empty() ? std::string() : "&client_id=" + percent_encoded(filter);
    for (const auto& c : all_pages(api, "/api/v1/clients?limit=1000", query)) {
        std::string since = "offline";
        if (const auto at = c.at("connected_at").to_number<std::int64_t>(); at != 0) {
            since = utc_text(at);
        }
        rows.push_back({text_of(c.at("client_id")), text_of(c.at("peer")),
                        text_of(c.at("listener")), text_of(c.at("username")),
                        text_of(c.at("subscriptions")), since});
    }
    return print_list({"CLIENT ID", "PEER", "LISTENER", "USER", "SUBS", "CONNECTED"}, rows,
                      "no clients");
}

int devices_list(admin_api_client& api) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& d : all_pages(api, "/api/v1/devices?limit=1000", "")) {
        const auto& stats = d.at("stats");
        const auto seen = d.at("last_seen_ms").to_number<std::int64_t>();
        const auto port = text_of(d.at("port"));
        rows.push_back({text_of(d.at("id")), text_of(d.at("availability")),
                        port.empty() ? "-" : port, text_of(stats.at("frames")),
                        text_of(stats.at("parse_errors")), text_of(stats.at("reconnects")),
                        seen == 0 ? "never" : utc_text(seen / 1000), values_text(d.at("values"))});
    }
    return print_list(
        {"ID", "STATE", "PORT", "FRAMES", "ERRORS", "RECONNECTS", "LAST SEEN", "VALUES"}, rows,
        "no devices");
}

int bridges_list(admin_api_client& api) {
    const auto v = api.call(http::verb::get, "/api/v1/bridges?limit=1000");
    std::vector<std::vector<std::string>> rows;
    for (const auto& b : v.at("data").as_array()) {
        const auto& queue = b.at("queue");
        const auto& stats = b.at("stats");
        const auto error = text_of(b.at("last_error"));
        rows.push_back({text_of(b.at("name")), text_of(b.at("state")), text_of(b.at("address")),
                        text_of(queue.at("messages")), text_of(stats.at("sent")),
                        text_of(stats.at("acked")), text_of(stats.at("dropped")),
                        error.empty() ? "-" : error});
    }
    return print_list(
        {"NAME", "STATE", "ADDRESS", "QUEUED", "SENT", "ACKED", "DROPPED", "LAST ERROR"}, rows,
        "no bridges");
}

int modbus_list(admin_api_client& api) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& b : all_pages(api, "/api/v1/modbus?limit=1000", "")) {
        const bool open = b.at("open").as_bool();
        const auto port = open ? text_of(b.at("port")) : std::string("closed");
        for (const auto& s : b.at("slaves").as_array()) {
            const auto& stats = s.at("stats");
            const auto seen = s.at("last_seen_ms").to_number<std::int64_t>();
            const auto& exception = s.at("last_exception");
            // A closed port explains every slave's state better than their last poll does.
            const auto& error = open ? s.at("last_error") : b.at("last_error");
            rows.push_back({text_of(b.at("name")), port, text_of(s.at("name")),
                            text_of(s.at("id")), text_of(s.at("availability")),
                            text_of(stats.at("polls")), text_of(stats.at("failed_polls")),
                            exception.is_null() ? "-" : text_of(exception),
                            seen == 0 ? "never" : utc_text(seen / 1000),
                            error.is_null() ? "-" : text_of(error)});
        }
    }
    return print_list({"BUS", "PORT", "SLAVE", "ID", "STATE", "POLLS", "FAILED",
                       "LAST EXCEPTION", "LAST SEEN", "LAST ERROR"},
                      rows, "no Modbus buses");
}

int admins(std::span<const std::string_view> args, const std::filesystem::path& file) {
    const auto sub = args.empty() ? std::string_view{} : args[0];
    if (sub == "add" && (args.size() == 3 || args.size() == 4)) {
        const std::string user(args[1]);
        add_admin(file, user, args[2], args.size() == 4 ? std::optional{args[3]} : std::nullopt);
        std::cout << "admin " << user << " added to " << file.string() << '\n';
        return 0;
    }
    if (sub == "passwd" && args.size() == 3) {
        const std::string user(args[1]);
        set_admin_password(file, user, args[2]);
        std::cout << "password of admin " << user << " changed\n";
        return 0;
    }
    if (sub == "del" && args.size() == 2) {
        const std::string user(args[1]);
        delete_admin(file, user);
        std::cout << "admin " << user << " deleted from " << file.string() << '\n';
        return 0;
    }
    std::cerr << ctl_usage;
    return 2;
}

} // namespace

int ctl_main(std::span<const std::string_view> args) {
    std::string url_text = "http://127.0.0.1:18083";
    const char* env_user = std::getenv("EDGEMQ_ADMIN_USER");
    const char* env_password = std::getenv("EDGEMQ_ADMIN_PASSWORD");
    std::string user = env_user ? env_user : "";
    std::string password = env_password ? env_password : "";
    std::optional<std::string> config_file;
    std::optional<std::string> explicit_users_file;
    tls_options tls;
    std::size_t i = 0;
    for (; i < args.size() && args[i].starts_with("--"); ++i) {
        const auto option = args[i];
        if (option == "--help") {
            std::cout << ctl_usage;
            return 0;
        }
        if (option == "--insecure") {
            tls.insecure = true;
            continue;
        }
        if (i + 1 >= args.size()) {
            std::cerr << "edgemq ctl: " << option << " needs a value\n" << ctl_usage;
            return 2;
        }
        const std::string value(args[++i]);
        if (option == "--url") {
            url_text = value;
        } else if (option == "--user") {
            user = value;
        } else if (option == "--password") {
            password = value;
        } else if (option == "--config") {
            config_file = value;
        } else if (option == "--cacert") {
            tls.cacert = value;
        } else if (option == "--users-file") {
            explicit_users_file = value;
        } else {
            std::cerr << "edgemq ctl: unknown option " << option << '\n' << ctl_usage;
            return 2;
        }
    }
    const auto rest = args.subspan(i);
    const auto word = [&](std::size_t k) { return k < rest.size() ? rest[k] : std::string_view{}; };
    try {
        if (word(0) == "admins") {
            return admins(rest.subspan(1), admins_file(config_file, explicit_users_file));
        }
        admin_api_client api{parse_url(url_text), user, password, tls};
        if (word(0) == "status" && rest.size() == 1) {
            return status(api);
        }
        if (word(0) == "clients" && word(1) == "list" && rest.size() <= 3) {
            return clients_list(api, word(2));
        }
        if (word(0) == "clients" && word(1) == "kick" && rest.size() == 3) {
            api.call(http::verb::delete_, "/api/v1/clients/" + percent_encoded(word(2)));
            std::cout << "client " << word(2) << " kicked\n";
            return 0;
        }
        if (word(0) == "devices" && word(1) == "list" && rest.size() == 2) {
            return devices_list(api);
        }
        if (word(0) == "bridges" && word(1) == "list" && rest.size() == 2) {
            return bridges_list(api);
        }
        if (word(0) == "modbus" && (rest.size() == 1 || (word(1) == "list" && rest.size() == 2))) {
            return modbus_list(api);
        }
        if (word(0) == "devices" && word(1) == "restart" && rest.size() == 3) {
            api.call(http::verb::post, "/api/v1/devices/" + percent_encoded(word(2)) + "/restart");
            std::cout << "device " << word(2) << " restarting\n";
            return 0;
        }
    } catch (const std::exception& e) {
        std::cerr << "edgemq ctl: " << e.what() << '\n';
        return 1;
    }
    std::cerr << ctl_usage;
    return 2;
}

} // namespace edgemq::app
