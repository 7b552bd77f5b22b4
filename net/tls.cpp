#include "surge/net/tls.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <climits>
#include <cstring>

#include "surge/net/address.hpp"

namespace surge::net {
namespace {

constexpr unsigned char kAlpnHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
constexpr unsigned char kSessionContext[] = "surge";

// ALPN: the server speaks HTTP/1.1 (the WebSocket upgrade). A client that offers only other protocols is served
// without ALPN rather than refused: it may still send an upgrade request.
int select_alpn(SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* offered,
                unsigned int offered_length, void*) {
    unsigned char* chosen = nullptr;
    if (SSL_select_next_proto(&chosen, out_length, kAlpnHttp11, sizeof kAlpnHttp11, offered, offered_length) !=
        OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

SSL_CTX* new_context(bool server, std::string& error) {
    SSL_CTX* ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!ctx) {
        error = "cannot make a TLS context: " + tls_error_text();
        return nullptr;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    // Idle sessions give their record buffers back. (Memory BIOs take any amount, so SSL_write never stops
    // part-way and needs no partial-write mode.)
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    return ctx;
}

}  // namespace

std::string tls_error_text() {
    std::string text;
    while (const unsigned long code = ERR_get_error()) {
        char line[256];
        ERR_error_string_n(code, line, sizeof line);
        if (!text.empty()) text += "; ";
        text += line;
    }
    return text.empty() ? "no detail from OpenSSL" : text;
}

std::unique_ptr<TlsContext> TlsContext::make_server(const std::string& cert_file, const std::string& key_file,
                                                    std::string& error) {
    SSL_CTX* ctx = new_context(true, error);
    if (!ctx) return nullptr;
    std::unique_ptr<TlsContext> context(new TlsContext(ctx, true));
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
        error = "cannot use the certificate " + cert_file + ": " + tls_error_text();
        return nullptr;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
        error = "cannot use the key " + key_file + ": " + tls_error_text();
        return nullptr;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        error = "the key " + key_file + " does not match the certificate " + cert_file;
        return nullptr;
    }
    SSL_CTX_set_alpn_select_cb(ctx, select_alpn, nullptr);
    // Resumption: TLS 1.3 tickets (OpenSSL's default, stateless) and, for TLS 1.2 clients, a session cache that the
    // shards share.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
    return context;
}

std::unique_ptr<TlsContext> TlsContext::make_client(bool verify, const std::string& ca_file, std::string& error) {
    SSL_CTX* ctx = new_context(false, error);
    if (!ctx) return nullptr;
    std::unique_ptr<TlsContext> context(new TlsContext(ctx, false));
    SSL_CTX_set_alpn_protos(ctx, kAlpnHttp11, sizeof kAlpnHttp11);
    if (verify) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
        const int loaded = ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx)
                                           : SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr);
        if (loaded != 1) {
            error = "cannot load trusted certificates: " + tls_error_text();
            return nullptr;
        }
    }
    return context;
}

bool TlsSession::init(const TlsContext& context, std::string_view host) noexcept {
    ssl_.reset(SSL_new(context.native()));
    if (!ssl_) return false;
    in_ = BIO_new(BIO_s_mem());
    out_ = BIO_new(BIO_s_mem());
    if (!in_ || !out_) {
        BIO_free(in_);
        BIO_free(out_);
        ssl_.reset();
        return false;
    }
    // An empty read BIO means "try again later", not end of stream.
    BIO_set_mem_eof_return(in_, -1);
    BIO_set_mem_eof_return(out_, -1);
    SSL_set_bio(ssl_.get(), in_, out_);
    if (context.server()) {
        SSL_set_accept_state(ssl_.get());
    } else {
        SSL_set_connect_state(ssl_.get());
        if (!host.empty()) {
            const std::string name(host);
            // SNI names hosts only (RFC 6066); an address literal is checked against the certificate's IP
            // addresses instead (SSL_set1_host takes both since OpenSSL 3.0).
            IpAddress literal;
            if (!IpAddress::parse(name, literal)) SSL_set_tlsext_host_name(ssl_.get(), name.c_str());
            SSL_set1_host(ssl_.get(), name.c_str());
        }
    }
    return true;
}

bool TlsSession::feed(std::span<const char> ciphertext) noexcept {
    while (!ciphertext.empty()) {
        const int piece = static_cast<int>(std::min<std::size_t>(ciphertext.size(), INT_MAX));
        const int written = BIO_write(in_, ciphertext.data(), piece);
        if (written <= 0) return false;
        ciphertext = ciphertext.subspan(static_cast<std::size_t>(written));
    }
    return true;
}

bool TlsSession::handshake_done() const noexcept { return SSL_is_init_finished(ssl_.get()) == 1; }

TlsStatus TlsSession::handshake() noexcept {
    if (handshake_done()) return TlsStatus::Ok;
    const int result = SSL_do_handshake(ssl_.get());
    if (result == 1) return TlsStatus::Ok;
    switch (SSL_get_error(ssl_.get(), result)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE: return TlsStatus::WantMore;
    case SSL_ERROR_ZERO_RETURN: return TlsStatus::Closed;
    default: ERR_clear_error(); return TlsStatus::Failed;
    }
}

TlsStatus TlsSession::read(std::span<char> out, std::size_t& n) noexcept {
    n = 0;
    const int piece = static_cast<int>(std::min<std::size_t>(out.size(), INT_MAX));
    const int result = SSL_read(ssl_.get(), out.data(), piece);
    if (result > 0) {
        n = static_cast<std::size_t>(result);
        return TlsStatus::Ok;
    }
    switch (SSL_get_error(ssl_.get(), result)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE: return TlsStatus::WantMore;
    case SSL_ERROR_ZERO_RETURN: return TlsStatus::Closed;
    default: ERR_clear_error(); return TlsStatus::Failed;
    }
}

bool TlsSession::write(std::span<const char> plaintext) noexcept {
    while (!plaintext.empty()) {
        const int piece = static_cast<int>(std::min<std::size_t>(plaintext.size(), INT_MAX));
        const int written = SSL_write(ssl_.get(), plaintext.data(), piece);
        if (written <= 0) {
            ERR_clear_error();
            return false;
        }
        plaintext = plaintext.subspan(static_cast<std::size_t>(written));
    }
    return true;
}

void TlsSession::shutdown() noexcept {
    if (!shutdown_sent()) SSL_shutdown(ssl_.get());
    ERR_clear_error();
}

bool TlsSession::shutdown_sent() const noexcept { return (SSL_get_shutdown(ssl_.get()) & SSL_SENT_SHUTDOWN) != 0; }

std::span<const char> TlsSession::pending_output() const noexcept {
    char* data = nullptr;
    const long size = BIO_get_mem_data(out_, &data);
    return {data, size > 0 ? static_cast<std::size_t>(size) : 0};
}

void TlsSession::consume_output() noexcept { (void)BIO_reset(out_); }

}  // namespace surge::net
