// surge-load's HTTP publisher: publish mode against http:// URLs. Layer: bench.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "bench/load/run.hpp"
#include "ws/http_request.hpp"

namespace surge::loadgen {

// Publishing over HTTP: one POST per message, each on its own connection (the plainest thing every server
// accepts), on the open-loop schedule; latency is the POST's, from its intended time.
class HttpPublisher {
public:
    HttpPublisher(const Options& options, unsigned index, ThreadStats& stats)
        : options_(options), index_(index), stats_(stats) {
        for (const Url& url : options.urls) {
            // The whole request, built once: only the stamp at the start of the body changes per POST.
            requests_.push_back("POST " + url.target + " HTTP/1.1\r\nHost: " + url.host +
                                "\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
                                std::to_string(options.size) + "\r\n" + options.request.headers + "\r\n" +
                                std::string(options.size, 'x'));
        }
    }

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
            post(options_.urls[which], requests_[which], due);
            due += interval;
        }
    }

private:
    void post(const Url& url, std::string& request, std::uint64_t intended) {
        char* body = request.data() + request.size() - options_.size;
        write_stamp(body, intended);
        // One stream per thread, whatever the URL: its POSTs are published one after another.
        if (options_.size >= kMarkedBytes) write_sequence(body, publisher_id(index_), number_);
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        timeval limit{static_cast<time_t>(options_.timeout), 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
        const auto failed = [&](ClientFailure why) {
            bump(stats_.failures[static_cast<std::size_t>(why)]);
            ::close(fd);
        };
        if (::connect(fd, reinterpret_cast<const sockaddr*>(&url.address), sizeof url.address) != 0) {
            return failed(client_failure_from_errno(errno));
        }
        if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
            return failed(client_failure_from_errno(errno));
        }
        std::string answer;
        char buffer[4096];
        HttpResponseParser parser;
        HttpResponse response;
        for (;;) {
            const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
            if (n <= 0) return failed(n == 0 ? ClientFailure::ClosedByServer : client_failure_from_errno(errno));
            answer.append(buffer, static_cast<std::size_t>(n));
            const ParseResult r = parser.parse(answer, response);
            if (r.status == ParseStatus::Error) return failed(ClientFailure::HandshakeInvalid);
            if (r.status == ParseStatus::Complete) break;
        }
        ::close(fd);
        if (response.status < 200 || response.status > 299) {
            bump(stats_.failures[static_cast<std::size_t>(ClientFailure::HandshakeStatus)]);
            if (response.status < 600) bump(stats_.http_status[response.status]);
            return;
        }
        stats_.latency.record(now_ns() - intended);
        ++number_;  // a refused or failed POST published nothing: its number is used again
        bump(stats_.sent);
        bump(stats_.bytes_sent, options_.size);
        bump(stats_.opened);
    }

    const Options& options_;
    unsigned index_;
    ThreadStats& stats_;
    std::vector<std::string> requests_;  // one per URL
    std::uint32_t number_ = 0;           // the next message's sequence number
};

}  // namespace surge::loadgen
