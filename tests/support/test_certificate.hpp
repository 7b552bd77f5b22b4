// Test support: a self-signed certificate for localhost and 127.0.0.1, made with OpenSSL when a test needs one
// and written as PEM files into a fresh temporary directory (removed with the object).
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace surge::test {

class TestCertificate {
public:
    TestCertificate() {
        char pattern[] = "/tmp/surge-cert-XXXXXX";
        dir_ = ::mkdtemp(pattern) ? pattern : "";
        cert_ = dir_ + "/cert.pem";
        key_ = dir_ + "/key.pem";
        EVP_PKEY* key = EVP_EC_gen("P-256");
        X509* x509 = X509_new();
        X509_set_version(x509, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(x509), 1);
        X509_gmtime_adj(X509_getm_notBefore(x509), -3600);
        X509_gmtime_adj(X509_getm_notAfter(x509), 2 * 86400);
        X509_set_pubkey(x509, key);
        X509_NAME* name = X509_get_subject_name(x509);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1,
                                   -1, 0);
        X509_set_issuer_name(x509, name);
        X509V3_CTX ctx;
        X509V3_set_ctx_nodb(&ctx);
        X509V3_set_ctx(&ctx, x509, x509, nullptr, nullptr, 0);
        if (X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name,
                                                      "DNS:localhost,IP:127.0.0.1,IP:::1")) {
            X509_add_ext(x509, san, -1);
            X509_EXTENSION_free(san);
        }
        X509_sign(x509, key, EVP_sha256());
        if (std::FILE* f = std::fopen(cert_.c_str(), "w")) {
            PEM_write_X509(f, x509);
            std::fclose(f);
        }
        if (std::FILE* f = std::fopen(key_.c_str(), "w")) {
            PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
            std::fclose(f);
        }
        X509_free(x509);
        EVP_PKEY_free(key);
    }
    ~TestCertificate() {
        std::error_code ignored;
        if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
    }
    TestCertificate(const TestCertificate&) = delete;
    TestCertificate& operator=(const TestCertificate&) = delete;

    const std::string& cert_file() const { return cert_; }
    const std::string& key_file() const { return key_; }

private:
    std::string dir_, cert_, key_;
};

}  // namespace surge::test
