// SPDX-License-Identifier: Apache-2.0
#include "admins_edit.hpp"
#include "default_paths.hpp"

#include "edgemq/broker/auth/password_file.hpp"
#include "edgemq/config/load.hpp"

#include <fstream>
#include <iterator>
#include <stdexcept>

namespace edgemq::app {

namespace auth = broker::auth;

std::filesystem::path admins_file(const std::optional<std::string>& config_file,
                                  const std::optional<std::string>& explicit_file) {
    if (explicit_file) {
        return *explicit_file;
    }
    if (config_file) {
        return config::load_file(*config_file).admin.users_file;
    }
    if (const auto installed = installed_config_file()) {
        return config::load_file(*installed).admin.users_file;
    }
    return config::defaults().admin.users_file;
}

void add_admin(const std::filesystem::path& file, const std::string& user,
               std::string_view password, std::optional<std::string_view> description) {
    auth::check_username(user);
    if (password.empty()) {
        throw std::runtime_error("the password must not be empty");
    }
    const auto exists = std::filesystem::exists(file);
    if (exists && auth::password_file::load(file).contains(user)) {
        throw std::runtime_error("admin " + user + " exists in " + file.string() +
                                 "; change the password with `edgemq ctl admins passwd`");
    }
    std::string text;
    if (exists) {
        std::ifstream in(file, std::ios::binary);
        text.assign(std::istreambuf_iterator<char>(in), {});
        if (!text.empty() && text.back() != '\n') {
            text += '\n';
        }
    }
    if (description) {
        std::string line(*description);
        std::erase_if(line, [](char c) { return c == '\n' || c == '\r'; });
        text += "# " + user + ": " + line + '\n';
    }
    if (!exists && file.has_parent_path()) {
        std::filesystem::create_directories(file.parent_path());
    }
    auth::write_file_atomically(file, auth::with_user(text, user, auth::hash_password(password)));
}

void set_admin_password(const std::filesystem::path& file, const std::string& user,
                        std::string_view password) {
    if (password.empty()) {
        throw std::runtime_error("the password must not be empty");
    }
    if (!std::filesystem::exists(file) || !auth::password_file::load(file).contains(user)) {
        throw std::runtime_error("no admin " + user + " in " + file.string());
    }
    auth::set_password(file, user, password);
}

void delete_admin(const std::filesystem::path& file, const std::string& user) {
    if (!std::filesystem::exists(file) || !auth::remove_user(file, user)) {
        throw std::runtime_error("no admin " + user + " in " + file.string());
    }
}

} // namespace edgemq::app
