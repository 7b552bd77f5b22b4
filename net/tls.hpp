// TLS over OpenSSL 3 with memory BIOs, for either role: the reactor moves ciphertext, a TlsSession turns it into
// plaintext and back, so TLS works the same on every backend (io_uring and epoll) and never touches a socket.
// Layer: net.
// A TlsContext (certificate, key, ALPN "http/1.1", session cache and tickets for resumption) is made once and
// shared by every thread: OpenSSL locks what it shares. A TlsSession belongs to one connection and to the thread
// that owns it. Outgoing ciphertext collects in the session until the caller takes it (pending_output()), so a
// burst of writes leaves in one send. Idle sessions give their record buffers back (SSL_MODE_RELEASE_BUFFERS).
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace surge::net {

struct SslCtxDelete {
    void operator()(SSL_CTX* ctx) const noexcept { SSL_CTX_free(ctx); }
};
struct SslDelete {
    void operator()(SSL* ssl) const noexcept { SSL_free(ssl); }
};

class TlsContext {
public:
    // A server context from PEM files (the certificate file may hold the chain). nullptr with `error` set when a
    // file is missing or unreadable, or the key does not match the certificate.
    static std::unique_ptr<TlsContext> make_server(const std::string& cert_file, const std::string& key_file,
                                                   std::string& error);
    // A client context. With `verify`, the peer's certificate must chain to the system's trust store (or to
    // `ca_file` when given) and name the host the session is made for.
    static std::unique_ptr<TlsContext> make_client(bool verify, const std::string& ca_file, std::string& error);

    SSL_CTX* native() const noexcept { return ctx_.get(); }
    bool server() const noexcept { return server_; }

private:
    explicit TlsContext(SSL_CTX* ctx, bool server) : ctx_(ctx), server_(server) {}
    std::unique_ptr<SSL_CTX, SslCtxDelete> ctx_;
    bool server_;
};

// The latest OpenSSL error queue as one line, and the queue cleared.
std::string tls_error_text();

enum class TlsStatus : unsigned char {
    Ok,        // progress made (or nothing to do)
    WantMore,  // needs more ciphertext from the peer
    Closed,    // the peer sent close_notify: no more plaintext will come
    Failed,    // a protocol or certificate error: drop the connection (send pending_output() first: an alert)
};

class TlsSession {
public:
    // Binds a fresh session to `context`; `host` (client role) is sent as SNI and checked when verifying.
    bool init(const TlsContext& context, std::string_view host = {}) noexcept;
    bool ready() const noexcept { return ssl_ != nullptr; }
    void reset() noexcept { ssl_.reset(); }

    // Ciphertext that arrived from the peer. False when out of memory.
    bool feed(std::span<const char> ciphertext) noexcept;
    // Advances the handshake with what was fed.
    TlsStatus handshake() noexcept;
    bool handshake_done() const noexcept;
    // Decrypts into `out`: Ok with `n` bytes (n > 0), WantMore when no whole record is left, Closed, or Failed.
    TlsStatus read(std::span<char> out, std::size_t& n) noexcept;
    // Encrypts `plaintext` into the pending output. False on failure (out of memory or a broken session).
    bool write(std::span<const char> plaintext) noexcept;
    // Queues close_notify once.
    void shutdown() noexcept;
    bool shutdown_sent() const noexcept;

    // Ciphertext to send, in order: a view valid until consume_output() or the next call that writes.
    std::span<const char> pending_output() const noexcept;
    void consume_output() noexcept;

private:
    std::unique_ptr<SSL, SslDelete> ssl_;
    BIO* in_ = nullptr;   // owned by ssl_
    BIO* out_ = nullptr;  // owned by ssl_
};

}  // namespace surge::net
