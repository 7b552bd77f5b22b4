// Test support: a blocking WebSocket client over a real loopback socket, built from surge's own encoder (masked
// frames, as a client must send) and header parser. Every read has a 10 s receive timeout, so a broken server
// fails the test instead of hanging it; no test asserts on how long anything took. A call interrupted (EINTR) is
// made again (tests/support/blocking_io.hpp says why).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>

#include "surge/ws/frame_encoder.hpp"
#include "surge/ws/frame_header.hpp"
#include "tests/support/blocking_io.hpp"

namespace surge::test {

struct ReceivedFrame {
    bool ok = false;  // false: the connection ended (or timed out) before a whole frame arrived
    Opcode opcode = Opcode::Continuation;
    bool fin = false;
    bool rsv1 = false;  // permessage-deflate: the message is compressed
    std::string payload;
    std::uint16_t close_code() const {
        return payload.size() >= 2 ? static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                                                static_cast<unsigned char>(payload[1]))
                                   : 1005;
    }
};

class TestClient {
public:
    // `receive_buffer` > 0 sets SO_RCVBUF before connecting: a small one makes the server's sends back up.
    // `source`: connect from this loopback address (127.0.0.0/8) instead of 127.0.0.1.
    explicit TestClient(std::uint16_t port, int receive_buffer = 0, const char* source = nullptr) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        timeval timeout{10, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        if (receive_buffer > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
        if (source) {
            sockaddr_in from{};
            from.sin_family = AF_INET;
            ::inet_pton(AF_INET, source, &from.sin_addr);
            ::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from);
        }
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_port = htons(port);
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0;
    }
    ~TestClient() {
        if (fd_ >= 0) ::close(fd_);
    }
    TestClient(const TestClient&) = delete;
    TestClient& operator=(const TestClient&) = delete;

    bool connected() const { return connected_; }
    int fd() const { return fd_; }

    bool send_raw(std::string_view bytes) {
        while (!bytes.empty()) {
            const ssize_t n = send_retrying(fd_, bytes.data(), bytes.size());
            if (n <= 0) return false;
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

    // Sends the RFC's request for `path` and returns the response head ("" if none came).
    std::string handshake(std::string_view path = "/", std::string_view extra_headers = {}) {
        std::string request = "GET " + std::string(path) +
                              " HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
        request += extra_headers;
        request += "\r\n";
        if (!send_raw(request)) return {};
        return read_head();
    }

    // Reads up to the end of an HTTP response head; bytes after it stay buffered for read_frame().
    std::string read_head() {
        for (;;) {
            const std::size_t end = buffer_.find("\r\n\r\n");
            if (end != std::string::npos) {
                std::string head = buffer_.substr(0, end + 4);
                buffer_.erase(0, end + 4);
                return head;
            }
            if (!fill()) return {};
        }
    }

    // Bytes up to and including `end` (an event stream's blank line, say), leaving what follows buffered; empty when
    // the connection ended first.
    std::string read_until(std::string_view end) {
        for (;;) {
            const std::size_t at = buffer_.find(end);
            if (at != std::string::npos) {
                std::string part = buffer_.substr(0, at + end.size());
                buffer_.erase(0, at + end.size());
                return part;
            }
            if (!fill()) return {};
        }
    }

    // One whole HTTP response (head and its Content-Length of body), leaving what follows buffered: for
    // keep-alive connections. Empty when the connection ended first.
    std::string read_response() {
        std::string response = read_head();
        const std::size_t at = response.find("\r\nContent-Length: ");
        if (response.empty() || at == std::string::npos) return response;
        const std::size_t length = std::stoul(response.substr(at + 18));
        while (buffer_.size() < length) {
            if (!fill()) return {};
        }
        response.append(buffer_, 0, length);
        buffer_.erase(0, length);
        return response;
    }

    // Everything until the server closes the connection.
    std::string read_to_end() {
        while (fill()) {
        }
        std::string all = std::move(buffer_);
        buffer_.clear();
        return all;
    }

    bool send_frame(Opcode opcode, std::string_view payload, bool fin = true, bool rsv1 = false) {
        static constexpr MaskKey kMask = {0x11, 0x22, 0x33, 0x44};
        std::string frame(kMaxFrameHeaderBytes + payload.size(), '\0');
        const std::size_t header = encode_frame_header(frame.data(), opcode, payload.size(), fin, rsv1, &kMask);
        apply_mask_copy(frame.data() + header, payload.data(), payload.size(), kMask);
        frame.resize(header + payload.size());
        return send_raw(frame);
    }

    bool send_close(std::uint16_t code, std::string_view reason = {}) {
        char payload[kMaxControlPayload];
        const std::size_t n = encode_close_payload(payload, code, reason);
        return send_frame(Opcode::Close, {payload, n});
    }

    ReceivedFrame read_frame() {
        ReceivedFrame frame;
        for (;;) {
            FrameHeader header;
            if (parse_frame_header(buffer_.data(), buffer_.size(), header) == HeaderStatus::Complete &&
                buffer_.size() >= header.header_length + header.payload_length) {
                frame.ok = true;
                frame.opcode = static_cast<Opcode>(header.opcode);
                frame.fin = header.fin;
                frame.rsv1 = header.rsv1;
                frame.payload = buffer_.substr(header.header_length, header.payload_length);
                buffer_.erase(0, header.header_length + header.payload_length);
                return frame;
            }
            if (!fill()) return frame;
        }
    }

    // Reads the next data frame, answering nothing; control frames before it are returned in `controls`.
    ReceivedFrame read_data_frame(std::string* controls = nullptr) {
        for (;;) {
            ReceivedFrame f = read_frame();
            if (!f.ok || !is_control(f.opcode)) return f;
            if (controls) *controls += std::to_string(static_cast<int>(f.opcode)) + ":" + f.payload + ";";
        }
    }

    // True when the server has closed its side (end of stream or reset) with nothing more to read.
    bool at_end() {
        char byte;
        const ssize_t n = recv_retrying(fd_, &byte, 1);
        if (n > 0) buffer_.push_back(byte);
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
    }

private:
    bool fill() {
        char chunk[65536];
        const ssize_t n = recv_retrying(fd_, chunk, sizeof chunk);
        if (n <= 0) return false;
        buffer_.append(chunk, static_cast<std::size_t>(n));
        return true;
    }

    int fd_ = -1;
    bool connected_ = false;
    std::string buffer_;
};

}  // namespace surge::test
