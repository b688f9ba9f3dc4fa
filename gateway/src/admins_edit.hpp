// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

/// `edgemq ctl admins ...`: edits the admin server's users file (a Mosquitto-format password
/// file, admin_users reads it) in place, without a running gateway.
/// Control plane: failures throw std::runtime_error (or std::invalid_argument for a bad user
/// name) with a message for the user.
/// Thread safety: none; one process edits at a time (the file is replaced atomically).
namespace edgemq::app {

/// The users file: `explicit_file`, else users_file of [admin] in `config_file`, else in the
/// installed configuration, else the embedded default. Throws config::load_error for a bad
/// configuration file.
std::filesystem::path admins_file(const std::optional<std::string>& config_file,
                                  const std::optional<std::string>& explicit_file);

/// Adds `user` (refused if present), with `description` as a `# user: description` comment
/// above it; creates the file and its folder if missing.
void add_admin(const std::filesystem::path& file, const std::string& user,
               std::string_view password, std::optional<std::string_view> description);

/// Changes the password of an existing `user`.
void set_admin_password(const std::filesystem::path& file, const std::string& user,
                        std::string_view password);

/// Removes `user`; refused if there is none.
void delete_admin(const std::filesystem::path& file, const std::string& user);

} // namespace edgemq::app
