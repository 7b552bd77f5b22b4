// surge-load's HTTP publisher: publish mode against http:// URLs. Layer: bench.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/load/run.hpp"
#include "surge/ws/http_request.hpp"
#include "surge/ws/token_list.hpp"

namespace surge::loadgen {

// Publishing over HTTP: one POST per message on the open-loop schedule; latency is the POST's, from its intended
// time. Each POST on its own connection ("Connection: close", the plainest thing every server accepts), or with
// --keep-alive one connection per URL per thread kept open for all of them (opened again if the server ends it).
class HttpPublisher {
public:
    HttpPublisher(const Options& options, unsigned index, ThreadStats& stats)
        : options_(options), index_(index), stats_(stats), kept_(options.urls.size(), -1) {
        for (const Url& url : options.urls) {
            // The whole request, built once: only the stamp at the start of the body changes per POST.
            requests_.push_back("POST " + url.target + " HTTP/1.1\r\nHost: " + url.host +
                                (options.keep_alive ? "" : "\r\nConnection: close") +
                                "\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
                                std::to_string(options.size) + "\r\n" + options.request.headers + "\r\n" +
                                std::string(options.size, 'x'));
        }
    }
    ~HttpPublisher() {
        for (int fd : kept_) {
            if (fd >= 0) ::close(fd);
        }
    }
    HttpPublisher(const HttpPublisher&) = delete;
    HttpPublisher& operator=(const HttpPublisher&) = delete;

    void run() {
        stats_.ramped.store(true);
        stats_.open_now.store(1);  // one POST at a time
        const double per_second = options_.rate_total ? options_.rate / options_.threads : options_.rate;
        const auto interval = static_cast<std::uint64_t>(1e9 / per_second);
        std::uint64_t due = now_ns();
        std::uint64_t n = 0;
        int seen_phase = kWarmup;
        while (g_phase.load(std::memory_order_relaxed) != kStop) {
            if (const int phase = g_phase.load(std::memory_order_relaxed); phase != seen_phase) {
                seen_phase = phase;
                stats_.latency.reset();
            }
            const std::uint64_t now = now_ns();
            if (now < due) {
                ::usleep(static_cast<useconds_t>(std::min<std::uint64_t>((due - now) / 1000, 50'000)));
                continue;
            }
            const std::size_t which = (index_ + n++ * options_.threads) % options_.urls.size();
            post(which, due);
            due += interval;
        }
    }

private:
    int open(const Url& url) {
        const int fd = ::socket(url.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
        timeval limit{static_cast<time_t>(options_.timeout), 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
        const int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (::connect(fd, url.socket_address(), url.address_length) != 0) {
            const int error = errno;
            ::close(fd);
            errno = error;
            return -1;
        }
        bump(stats_.opened);
        return fd;
    }

    void post(std::size_t which, std::uint64_t intended) {
        const Url& url = options_.urls[which];
        std::string& request = requests_[which];
        char* body = request.data() + request.size() - options_.size;
        write_stamp(body, intended);
        // One stream per thread, whatever the URL: its POSTs are published one after another.
        if (options_.size >= kMarkedBytes) write_sequence(body, publisher_id(index_), number_);
        int& fd = kept_[which];
        const auto failed = [&](ClientFailure why) {
            bump(stats_.failures[static_cast<std::size_t>(why)]);
            ::close(fd);
            fd = -1;
        };
        // A kept connection the server has ended since (its idle timeout) fails the send or the first read: that
        // POST is sent again, once, on a new connection.
        for (bool reused = fd >= 0;; reused = false) {
            if (fd < 0 && (fd = open(url)) < 0) return failed(client_failure_from_errno(errno));
            HttpResponse response;
            const Outcome outcome = exchange(fd, request, response);
            if (outcome == Outcome::Answered) {
                if (!options_.keep_alive || TokenList(response, "Connection").contains("close")) {
                    ::close(fd);
                    fd = -1;
                }
                return answered(response, intended);
            }
            if (reused && outcome == Outcome::Ended) {
                ::close(fd);
                fd = -1;
                continue;
            }
            return failed(outcome == Outcome::Malformed ? ClientFailure::HandshakeInvalid
                          : outcome == Outcome::Ended   ? ClientFailure::ClosedByServer
                                                        : client_failure_from_errno(errno));
        }
    }

    enum class Outcome { Answered, Ended, Malformed, Failed };

    // Sends the request and reads the whole answer, its body (Content-Length) too so the next one starts clean.
    Outcome exchange(int fd, const std::string& request, HttpResponse& response) {
        if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
            return errno == EPIPE || errno == ECONNRESET ? Outcome::Ended : Outcome::Failed;
        }
        answer_.clear();
        char buffer[4096];
        HttpResponseParser parser;
        std::size_t need = 0;  // head and body, once the head is known
        for (;;) {
            const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
            if (n == 0 || (n < 0 && errno == ECONNRESET)) return Outcome::Ended;
            if (n < 0) return Outcome::Failed;
            answer_.append(buffer, static_cast<std::size_t>(n));
            if (need == 0) {
                const ParseResult r = parser.parse(answer_, response);
                if (r.status == ParseStatus::Error) return Outcome::Malformed;
                if (r.status == ParseStatus::Incomplete) continue;
                const HttpHeader* length = response.find("Content-Length");
                need = r.head_bytes + (length ? std::strtoull(std::string(length->value).c_str(), nullptr, 10) : 0);
            }
            if (answer_.size() >= need) return Outcome::Answered;
        }
    }

    void answered(const HttpResponse& response, std::uint64_t intended) {
        if (response.status < 200 || response.status > 299) {
            bump(stats_.failures[static_cast<std::size_t>(ClientFailure::HandshakeStatus)]);
            if (response.status < 600) bump(stats_.http_status[response.status]);
            return;
        }
        stats_.latency.record(now_ns() - intended);
        ++number_;  // a refused or failed POST published nothing: its number is used again
        bump(stats_.sent);
        bump(stats_.bytes_sent, options_.size);
    }

    const Options& options_;
    unsigned index_;
    ThreadStats& stats_;
    std::vector<std::string> requests_;  // one per URL
    std::vector<int> kept_;              // --keep-alive: the open connection per URL, or -1
    std::string answer_;
    std::uint32_t number_ = 0;           // the next message's sequence number
};

}  // namespace surge::loadgen
