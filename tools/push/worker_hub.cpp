#include "tools/push/worker_hub.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "surge/core/clock.hpp"
#include "surge/core/log.hpp"
#include "surge/core/random_hex.hpp"
#include "surge/ws/redis_broker.hpp"
#include "tools/push/access.hpp"

namespace surge::push {

namespace {

bool same_word(std::string_view given, std::string_view word) {
    const auto same_letter = [](char a, char b) { return (a | 0x20) == (b | 0x20); };  // commands are letters
    return given.size() == word.size() && std::equal(given.begin(), given.end(), word.begin(), same_letter);
}

std::uint64_t number_or(std::string_view text, std::uint64_t fallback) {
    std::uint64_t value = 0;
    const auto parsed = std::from_chars(text.data(), text.data() + text.size(), value);
    return parsed.ec == std::errc{} && parsed.ptr == text.data() + text.size() ? value : fallback;
}

}  // namespace

WorkerHub::WorkerHub(const HubLimits& limits) : limits_(limits) {
    resp_.max_bulk_bytes = limits.max_message_bytes + 4096;  // a publication, or a topic's keys
    password_ = random_hex(48);
    publish_sha_ = redis_script_sha(redis_publish_script());
    history_sha_ = redis_script_sha(redis_history_script());
}

std::unique_ptr<WorkerHub> WorkerHub::open(const HubLimits& limits, std::string& why) {
    std::unique_ptr<WorkerHub> hub(new WorkerHub(limits));
    hub->listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (hub->listener_ < 0 || ::bind(hub->listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(hub->listener_, 1024) != 0 ||
        ::getsockname(hub->listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        why = std::string("the workers' hub cannot listen on 127.0.0.1: ") + std::strerror(errno);
        return nullptr;
    }
    hub->port_ = ntohs(address.sin_port);
    hub->epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    hub->stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (hub->epoll_ < 0 || hub->stop_fd_ < 0) {
        why = std::string("the workers' hub: ") + std::strerror(errno);
        return nullptr;
    }
    epoll_event listen_event{EPOLLIN, {.fd = hub->listener_}};
    epoll_event stop_event{EPOLLIN, {.fd = hub->stop_fd_}};
    ::epoll_ctl(hub->epoll_, EPOLL_CTL_ADD, hub->listener_, &listen_event);
    ::epoll_ctl(hub->epoll_, EPOLL_CTL_ADD, hub->stop_fd_, &stop_event);
    return hub;
}

WorkerHub::~WorkerHub() {
    if (thread_.joinable()) {
        const std::uint64_t one = 1;
        [[maybe_unused]] const ssize_t written = ::write(stop_fd_, &one, sizeof one);
        thread_.join();
    }
    for (auto& [fd, connection] : connections_) ::close(fd);
    for (int fd : {listener_, epoll_, stop_fd_}) {
        if (fd >= 0) ::close(fd);
    }
}

std::string WorkerHub::url() const { return "redis://:" + password_ + "@127.0.0.1:" + std::to_string(port_); }

void WorkerHub::start() {
    thread_ = std::thread([this] { serve(); });
}

void WorkerHub::serve() {
    epoll_event events[64];
    std::vector<int> doomed;
    for (;;) {
        const int ready = ::epoll_wait(epoll_, events, 64, -1);
        if (ready < 0 && errno != EINTR) return;
        for (int i = 0; i < ready; ++i) {
            const int fd = events[i].data.fd;
            if (fd == stop_fd_) return;
            if (fd == listener_) {
                accept_all();
                continue;
            }
            const auto found = connections_.find(fd);
            if (found == connections_.end()) continue;
            Connection& connection = *found->second;
            bool keep = !(events[i].events & (EPOLLERR | EPOLLHUP));
            if (keep && (events[i].events & EPOLLIN)) keep = read_from(connection);
            if (keep && (events[i].events & EPOLLOUT)) keep = flush(connection);
            if (!keep) doomed.push_back(fd);
        }
        // Connections cut while publishing to them (too far behind) as well.
        for (auto& [fd, connection] : connections_) {
            if (connection->output.size() - connection->output_sent > limits_.max_output_bytes) doomed.push_back(fd);
        }
        std::sort(doomed.begin(), doomed.end());
        doomed.erase(std::unique(doomed.begin(), doomed.end()), doomed.end());
        for (int fd : doomed) close(fd);
        doomed.clear();
    }
}

void WorkerHub::accept_all() {
    for (;;) {
        const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        auto connection = std::make_unique<Connection>();
        connection->fd = fd;
        epoll_event event{EPOLLIN | EPOLLRDHUP, {.fd = fd}};
        ::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &event);
        connections_.emplace(fd, std::move(connection));
    }
}

void WorkerHub::close(int fd) {
    const auto found = connections_.find(fd);
    if (found == connections_.end()) return;
    for (const std::string& channel : found->second->channels) {
        const auto listeners = subscribers_.find(channel);
        if (listeners == subscribers_.end()) continue;
        listeners->second.erase(fd);
        if (listeners->second.empty()) subscribers_.erase(listeners);
    }
    if (found->second->output.size() - found->second->output_sent > limits_.max_output_bytes) {
        SURGE_LOG_WARN("workers' hub: a worker fell %zu bytes behind; cut (it reconnects and catches up from history)",
                       found->second->output.size() - found->second->output_sent);
    }
    ::epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
    connections_.erase(found);
}

bool WorkerHub::read_from(Connection& connection) {
    char buffer[64 * 1024];
    for (;;) {
        const ssize_t got = ::recv(connection.fd, buffer, sizeof buffer, 0);
        if (got == 0) return false;
        if (got < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            if (errno == EINTR) continue;
            return false;
        }
        connection.input.append(buffer, static_cast<std::size_t>(got));
    }
    std::size_t at = 0;
    std::vector<std::string_view> command;
    for (;;) {
        std::size_t consumed = 0;
        std::string why;
        const RespParse parsed =
            parse_command(std::string_view(connection.input).substr(at), resp_, command, consumed, why);
        if (parsed == RespParse::Incomplete) break;
        if (parsed == RespParse::Invalid) {
            append_error(connection.output, "ERR " + why);
            flush(connection);
            return false;
        }
        run(connection, command);
        at += consumed;
    }
    connection.input.erase(0, at);
    return flush(connection);
}

void WorkerHub::run(Connection& connection, const std::vector<std::string_view>& command) {
    const std::string_view name = command[0];
    if (same_word(name, "AUTH")) {
        const std::string_view given = command.back();
        connection.authenticated = command.size() <= 3 && same_secret(given, password_);
        if (connection.authenticated) append_status(connection.output, "OK");
        else append_error(connection.output, "WRONGPASS invalid password");
        return;
    }
    if (!connection.authenticated) {
        append_error(connection.output, "NOAUTH Authentication required.");
        return;
    }
    if (same_word(name, "PING")) {
        append_status(connection.output, "PONG");
    } else if (same_word(name, "SELECT")) {
        append_status(connection.output, "OK");
    } else if (same_word(name, "SUBSCRIBE") || same_word(name, "UNSUBSCRIBE")) {
        subscribe(connection, command, same_word(name, "SUBSCRIBE"));
    } else if ((same_word(name, "EVALSHA") || same_word(name, "EVAL")) && command.size() >= 3) {
        const std::string sha = same_word(name, "EVAL") ? redis_script_sha(command[1]) : std::string(command[1]);
        if (sha == publish_sha_ && command.size() == 12) publish(connection, command);
        else if (sha == history_sha_ && command.size() == 8) history(connection, command);
        else append_error(connection.output, "NOSCRIPT No matching script.");
    } else {
        append_error(connection.output, "ERR unknown command '" + std::string(name.substr(0, 32)) + "'");
    }
}

WorkerHub::Topic* WorkerHub::topic(std::string_view key, std::int64_t now_ms) {
    auto found = topics_.find(std::string(key));
    if (found != topics_.end()) {
        used(found->second);
        return &found->second;
    }
    if (topics_.size() >= limits_.max_topics) {
        if (idle_.empty()) return nullptr;
        const Topic* oldest = idle_.front();  // idle longest, with no history
        idle_.pop_front();
        topics_.erase(topics_.find(*oldest->key));
    }
    found = topics_.emplace(std::string(key), Topic{}).first;
    Topic& made = found->second;
    made.key = &found->first;
    // A new epoch: unique in this hub (its start and a count), as the script makes one from Redis's clock.
    char epoch[40];
    std::snprintf(epoch, sizeof epoch, "%llxw%llx", static_cast<unsigned long long>(now_ms),
                  static_cast<unsigned long long>(++epochs_made_));
    made.epoch = epoch;
    made.in_order = idle_.insert(idle_.end(), &made);
    return &made;
}

void WorkerHub::used(Topic& t) {
    if (t.in_order == idle_.end()) return;  // it has history: never forgotten, so not listed
    if (t.kept.empty()) {
        idle_.splice(idle_.end(), idle_, t.in_order);  // most recently used last; the iterator stays valid
    } else {
        // History is trimmed only right after a push (trim()), so a topic that has some keeps some: off the list
        // for good.
        idle_.erase(t.in_order);
        t.in_order = idle_.end();
    }
}

void WorkerHub::trim(Topic& t, std::size_t keep, std::int64_t keep_ms, std::int64_t now_ms) {
    while (t.kept.size() > keep) t.kept.pop_front();
    while (!t.kept.empty() && now_ms - t.kept.front().unix_ms > keep_ms) t.kept.pop_front();
}

// EVALSHA <publish> 2 <stream> <hash> <data> <kind> <origin> <keep> <keep seconds> <epoch seconds> <channel>:
// what kPublishScript does in Redis.
void WorkerHub::publish(Connection& connection, const std::vector<std::string_view>& command) {
    const std::int64_t now = unix_ms();
    Topic* t = topic(command[4], now);
    if (!t) {
        append_error(connection.output, "ERR too many topics in the workers' hub");
        return;
    }
    const std::string_view data = command[5];
    const std::string_view kind = command[6];
    const std::uint64_t offset = ++t->last;
    const std::size_t keep = number_or(command[8], 0);
    if (keep > 0) {
        t->kept.push_back({offset, std::string(data), std::string(kind), now});
        trim(*t, keep, static_cast<std::int64_t>(number_or(command[9], 300)) * 1000, now);
        used(*t);  // it has history now
    }
    const std::string_view channel = command[11];
    if (const auto listeners = subscribers_.find(std::string(channel)); listeners != subscribers_.end()) {
        std::string payload = std::to_string(offset);
        payload.append(" ").append(t->epoch).append(" ").append(kind).append(" ").append(command[7]).append("\n");
        payload.append(data);
        for (int fd : listeners->second) {
            Connection& listener = *connections_.at(fd);
            append_array_header(listener.output, 3);
            append_bulk(listener.output, "message");
            append_bulk(listener.output, channel);
            append_bulk(listener.output, payload);
            if (&listener != &connection) flush(listener);  // one too far behind is cut by serve()
        }
    }
    append_array_header(connection.output, 2);
    append_integer(connection.output, static_cast<std::int64_t>(offset));
    append_bulk(connection.output, t->epoch);
}

// EVALSHA <history> 2 <stream> <hash> <after, or - for the newest> <limit> <epoch seconds>: kHistoryScript.
void WorkerHub::history(Connection& connection, const std::vector<std::string_view>& command) {
    const std::int64_t now = unix_ms();
    Topic* t = topic(command[4], now);
    if (!t) {
        append_error(connection.output, "ERR too many topics in the workers' hub");
        return;
    }
    const std::size_t limit = number_or(command[6], 0);
    std::vector<const Entry*> chosen;
    if (command[5] == "-") {  // the newest, newest first (as XREVRANGE answers)
        for (auto it = t->kept.rbegin(); it != t->kept.rend() && chosen.size() < limit; ++it) chosen.push_back(&*it);
    } else {
        const std::uint64_t after = number_or(command[5], 0);
        for (const Entry& entry : t->kept) {
            if (chosen.size() >= limit) break;
            if (entry.offset > after) chosen.push_back(&entry);
        }
    }
    std::string& out = connection.output;
    append_array_header(out, 3);
    append_bulk(out, t->epoch);
    append_bulk(out, std::to_string(t->last));
    append_array_header(out, chosen.size());
    for (const Entry* entry : chosen) {
        append_array_header(out, 2);
        append_bulk(out, std::to_string(entry->offset) + "-0");
        append_array_header(out, 6);
        append_bulk(out, "d");
        append_bulk(out, entry->data);
        append_bulk(out, "k");
        append_bulk(out, entry->kind);
        append_bulk(out, "t");
        append_bulk(out, std::to_string(entry->unix_ms));
    }
}

void WorkerHub::subscribe(Connection& connection, const std::vector<std::string_view>& command, bool on) {
    for (std::size_t i = 1; i < command.size(); ++i) {
        const std::string channel(command[i]);
        if (on) {
            connection.channels.insert(channel);
            subscribers_[channel].insert(connection.fd);
        } else if (connection.channels.erase(channel) > 0) {
            const auto listeners = subscribers_.find(channel);
            if (listeners != subscribers_.end()) {
                listeners->second.erase(connection.fd);
                if (listeners->second.empty()) subscribers_.erase(listeners);
            }
        }
        append_array_header(connection.output, 3);
        append_bulk(connection.output, on ? "subscribe" : "unsubscribe");
        append_bulk(connection.output, channel);
        append_integer(connection.output, static_cast<std::int64_t>(connection.channels.size()));
    }
}

bool WorkerHub::flush(Connection& connection) {
    while (connection.output_sent < connection.output.size()) {
        const ssize_t sent = ::send(connection.fd, connection.output.data() + connection.output_sent,
                                    connection.output.size() - connection.output_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
            break;
        }
        connection.output_sent += static_cast<std::size_t>(sent);
    }
    const bool waiting = connection.output_sent < connection.output.size();
    if (!waiting) {
        connection.output.clear();
        connection.output_sent = 0;
    } else if (connection.output_sent > 1024 * 1024) {
        connection.output.erase(0, connection.output_sent);
        connection.output_sent = 0;
    }
    const std::uint32_t wanted = EPOLLIN | EPOLLRDHUP | (waiting ? std::uint32_t{EPOLLOUT} : 0u);
    epoll_event event{wanted, {.fd = connection.fd}};
    ::epoll_ctl(epoll_, EPOLL_CTL_MOD, connection.fd, &event);
    return connection.output.size() - connection.output_sent <= limits_.max_output_bytes;
}

}  // namespace surge::push
