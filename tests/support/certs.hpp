// SPDX-License-Identifier: Apache-2.0
#pragma once

/// Throw-away X.509 material for the TLS tests, made with the `openssl` command line in a fresh
/// temporary directory, so that no key is ever committed:
///
///     ca            CN=edgemq-test-ca            self-signed, the CA listeners trust
///     server        CN=localhost                 SAN DNS:localhost, IP:127.0.0.1, signed by ca
///     client        CN=sensor-1                  clientAuth, signed by ca
///     untrusted_ca  CN=edgemq-untrusted-ca       self-signed, trusted by nobody
///     untrusted     CN=sensor-1                  clientAuth, signed by untrusted_ca
///
/// The untrusted client certificate carries the same CN as the trusted one, so a listener
/// that looked at the name but not at the chain would let it in.
///
/// Keys are EC P-256 (fast to generate); certificates are valid for two days. The directory is
/// removed when the set is destroyed, i.e. at exit for the one shared by test_certs().
///
/// Thread safety: test_certs() is safe to call from any thread (a function-local static); a
/// cert_set is immutable after construction.

#include "process.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace edgemq::test {

/// A key and the certificate for it, as PEM file paths.
struct key_pair {
    std::string cert;
    std::string key;
};

/// A CA, a server and client certificates signed by it, and an untrusted CA with its own
/// client certificate, in a temporary directory that lives as long as the object.
class cert_set {
public:
    cert_set() {
        std::string templ =
            (std::filesystem::temp_directory_path() / "edgemq-certs-XXXXXX").string();
        if (::mkdtemp(templ.data()) == nullptr) {
            throw std::runtime_error("cert_set: mkdtemp " + templ + " failed");
        }
        dir_ = templ;

        ca = self_signed_ca("ca", "edgemq-test-ca");
        server = signed_by(ca, "server", "localhost",
                           "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                           "extendedKeyUsage=serverAuth\n");
        client = signed_by(ca, "client", "sensor-1", "extendedKeyUsage=clientAuth\n");
        untrusted_ca = self_signed_ca("untrusted-ca", "edgemq-untrusted-ca");
        untrusted = signed_by(untrusted_ca, "untrusted-client", "sensor-1",
                              "extendedKeyUsage=clientAuth\n");
    }

    cert_set(const cert_set&) = delete;
    cert_set& operator=(const cert_set&) = delete;

    ~cert_set() {
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }

    /// The directory holding the files; tests may put their own files (password, ACL) there.
    const std::filesystem::path& dir() const { return dir_; }

    key_pair ca;
    key_pair server;
    key_pair client;
    key_pair untrusted_ca;
    key_pair untrusted;

private:
    std::string file(const std::string& name) const { return (dir_ / name).string(); }

    static void openssl(std::vector<std::string> args) {
        args.insert(args.begin(), "openssl");
        const auto r = run_process(args, std::nullopt, std::chrono::seconds(20));
        if (!r.exited_ok()) {
            std::string cmd;
            for (const auto& a : args) {
                cmd += a + ' ';
            }
            throw std::runtime_error("cert_set: " + cmd + "failed:\n" + r.out + r.err);
        }
    }

    key_pair self_signed_ca(const std::string& name, const std::string& cn) {
        key_pair p{file(name + ".crt"), file(name + ".key")};
        openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-keyout", p.key, "-out", p.cert, "-days", "2", "-subj", "/CN=" + cn,
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
                 "keyUsage=critical,keyCertSign,cRLSign"});
        return p;
    }

    key_pair signed_by(const key_pair& issuer, const std::string& name, const std::string& cn,
                       const std::string& extensions) {
        key_pair p{file(name + ".crt"), file(name + ".key")};
        const auto csr = file(name + ".csr");
        const auto ext = file(name + ".ext");
        std::ofstream{ext} << "basicConstraints=CA:FALSE\n" << extensions;
        openssl({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-keyout", p.key, "-out", csr, "-subj", "/CN=" + cn});
        openssl({"x509", "-req", "-in", csr, "-CA", issuer.cert, "-CAkey", issuer.key,
                 "-CAcreateserial", "-days", "2", "-out", p.cert, "-extfile", ext});
        return p;
    }

    std::filesystem::path dir_;
};

/// The one cert_set of this test process, made on first use.
inline const cert_set& test_certs() {
    static const cert_set certs;
    return certs;
}

} // namespace edgemq::test
