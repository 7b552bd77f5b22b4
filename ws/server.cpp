#include "surge/ws/server.hpp"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <cstring>
#include <thread>

#include "surge/core/log.hpp"
#include "surge/net/fd_limit.hpp"
#include "surge/net/listener.hpp"
#include "surge/net/tls.hpp"
#include "surge/ws/detail/admission.hpp"
#include "surge/ws/detail/broadcaster.hpp"
#include "surge/ws/detail/broker_link.hpp"
#include "surge/ws/detail/routes.hpp"
#include "surge/ws/detail/shard.hpp"
#include "surge/ws/forwarded.hpp"
#include "surge/ws/upgrade.hpp"

namespace surge {
namespace {


unsigned default_threads() {
    const long online = ::sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? static_cast<unsigned>(online) : 1;
}

void pin_to_cpu(std::thread& thread, unsigned cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu % default_threads(), &set);
    pthread_setaffinity_np(thread.native_handle(), sizeof set, &set);
}

}  // namespace

Response& Response::header(std::string_view name, std::string_view value) {
    headers_.append(name).append(": ").append(value).append("\r\n");
    return *this;
}

std::string Response::serialize(KeepAlive keep_alive) const {
    std::string out = "HTTP/1.1 " + std::to_string(status_) + " ";
    out.append(status_text(status_)).append("\r\nContent-Length: ").append(std::to_string(body_.size()));
    if (keep_alive == KeepAlive::No) out.append("\r\nConnection: close");
    if (keep_alive == KeepAlive::Said) out.append("\r\nConnection: keep-alive");
    out.append("\r\n").append(headers_).append("\r\n").append(body_);
    return out;
}

Server::Server(ServerConfig config)
    : config_(std::move(config)),
      threads_(config_.threads ? config_.threads : default_threads()),
      routes_(std::make_unique<detail::Routes>()),
      broadcaster_(std::make_unique<detail::Broadcaster>(threads_, config_)) {}

Server::~Server() {
    stop();
    // Listeners that no shard took over are still ours.
    if (shards_.empty()) {
        for (int fd : listeners_) ::close(fd);
    }
}

void Server::add_websocket(std::string path, WebSocketBehavior behavior, detail::UserDataType data,
                           bool event_stream) {
    DecoderConfig decoder;
    decoder.role = Role::Server;
    decoder.max_message_bytes = behavior.max_message_bytes;
    routes_->websockets.push_back({std::move(path), std::move(behavior), decoder, data, event_stream});
}

void Server::event_stream(std::string path, WebSocketBehavior behavior) {
    add_websocket(std::move(path), std::move(behavior), {}, true);
}

void Server::get(std::string path, HttpHandler handler) {
    routes_->http.push_back({"GET", std::move(path), std::move(handler)});
}

void Server::post(std::string path, HttpHandler handler) {
    routes_->http.push_back({"POST", std::move(path), std::move(handler)});
}

net::Endpoint Request::remote_address() const {
    net::Endpoint peer;
    if (fd < 0 || !net::peer_address(fd, peer)) return {};
    return forwarded_client(peer, head, trusted_proxies);
}

Result<std::uint16_t> Server::listen() {
    if (!listeners_.empty()) return port_;
    trusted_proxies_.clear();
    for (const std::string& entry : config_.trusted_proxies) {
        net::AddressRange range;
        if (!net::AddressRange::parse(entry, range)) {
            SURGE_LOG_ERROR("trusted_proxies: '%s' is not an IP address or a CIDR range (10.0.0.0/8, ::1)",
                            entry.c_str());
            return std::make_error_code(std::errc::invalid_argument);
        }
        trusted_proxies_.push_back(range);
    }
    if (!config_.tls_cert_file.empty() || !config_.tls_key_file.empty()) {
        std::string why;
        const std::lock_guard<std::mutex> hold(reload_lock_);  // reload_tls() may run on another thread
        tls_ = net::TlsContext::make_server(config_.tls_cert_file, config_.tls_key_file, why);
        if (!tls_) {
            SURGE_LOG_ERROR("TLS: %s", why.c_str());
            return std::make_error_code(std::errc::invalid_argument);
        }
    }
    std::uint16_t port = config_.port;
    if (port != 0 && config_.exclusive_port) {
        if (const int free = net::check_port_free(config_.address, port); free != 0) {
            SURGE_LOG_ERROR("cannot listen on %s:%u: %s%s", config_.address.c_str(), port, std::strerror(-free),
                            free == -EADDRINUSE ? " (another process serves this port: stop it or pick another "
                                                  "port; several processes share one only with --workers)"
                                                : "");
            return errno_code(free);
        }
    }
    for (unsigned i = 0; i < threads_; ++i) {
        const int fd = net::open_listener({.address = config_.address, .port = port});
        if (fd < 0) {
            for (int open : listeners_) ::close(open);
            listeners_.clear();
            SURGE_LOG_ERROR("cannot listen on %s:%u: %s", config_.address.c_str(), port, std::strerror(-fd));
            return errno_code(fd);
        }
        if (port == 0) port = static_cast<std::uint16_t>(net::bound_port(fd));  // the others share it
        listeners_.push_back(fd);
    }
    port_ = port;
    return port_;
}

Result<void> Server::run() {
    if (Result<std::uint16_t> listening = listen(); !listening) return listening.error();

    // Say plainly how many connections the descriptor limit allows, and how to get more.
    const std::uint64_t soft = net::raise_fd_limit(UINT64_MAX);
    const std::uint64_t reserved = config_.reserved_descriptors;
    const std::uint64_t room = soft > reserved ? soft - reserved : 0;
    if (config_.max_connections > room) {
        SURGE_LOG_WARN("max_connections is %zu but the descriptor limit (RLIMIT_NOFILE %llu) allows about %llu "
                       "per process: raise it (ulimit -n, LimitNOFILE=) or run several processes (--workers)",
                       config_.max_connections, static_cast<unsigned long long>(soft),
                       static_cast<unsigned long long>(room));
    }

    admission_ = std::make_unique<detail::Admission>(config_.max_connections ? config_.max_connections : room);
    if (config_.max_connections_per_address) {
        admission_->per_address = std::make_unique<detail::AddressLimit>(config_.max_connections_per_address);
    }
    admission_->trusted_proxies = trusted_proxies_;
    // A reload_tls() meanwhile waits until the shards run, so it reaches them all (through defer()).
    std::unique_lock<std::mutex> no_reload(reload_lock_);
    for (unsigned i = 0; i < threads_; ++i) {
        shards_.push_back(std::make_unique<detail::Shard>(i, config_, *routes_, *broadcaster_, tls_,
                                                         listeners_[i], *admission_));
    }
    listeners_.clear();  // the shards own them now
    std::vector<detail::BroadcastConsumer*> wake_list;
    for (auto& shard : shards_) {
        if (!shard->start_reactor()) {
            shards_.clear();
            return std::make_error_code(std::errc::function_not_supported);
        }
        wake_list.push_back(shard.get());
    }
    broadcaster_->attach(std::move(wake_list));
    detail::BrokerLink* broker = broadcaster_->broker_link();
    if (broker && !broker->start()) {
        shards_.clear();
        return std::make_error_code(std::errc::invalid_argument);
    }
    SURGE_LOG_INFO("listening on %s:%u with %u shards; descriptor limit %llu; at most %zu connections", config_.address.c_str(),
                   port_, threads_, static_cast<unsigned long long>(soft), admission_->connections.most());

    // Running from before the first shard thread starts: a shard may serve connections at once, and publish(),
    // stats() and defer() must reach it from then on (what they queue or signal waits for the thread).
    running_.store(true, std::memory_order_release);
    no_reload.unlock();
    if (stop_requested_.load(std::memory_order_acquire)) stop();  // a stop() that came before the shards
    std::vector<std::thread> threads;
    for (unsigned i = 0; i < threads_; ++i) {
        threads.emplace_back([shard = shards_[i].get()] { shard->run(); });
        if (config_.pin_threads) pin_to_cpu(threads.back(), config_.first_cpu + i);
    }
    for (auto& thread : threads) thread.join();
    if (broker) broker->stop();
    running_.store(false, std::memory_order_release);
    SURGE_LOG_INFO("stopped: every shard has finished (port %u)", port_);
    return {};
}

void Server::stop() noexcept {
    stop_requested_.store(true, std::memory_order_release);
    if (!running_.load(std::memory_order_acquire)) return;
    for (auto& shard : shards_) shard->request_stop();
}

Result<void> Server::reload_tls() {
    const std::lock_guard<std::mutex> one_at_a_time(reload_lock_);
    if (!tls_) {
        SURGE_LOG_WARN("TLS reload: this server has no certificate (tls_cert_file): nothing to reload");
        return std::make_error_code(std::errc::operation_not_supported);
    }
    std::string why;
    std::shared_ptr<const net::TlsContext> fresh =
        net::TlsContext::make_server(config_.tls_cert_file, config_.tls_key_file, why);
    if (!fresh) {
        SURGE_LOG_ERROR("TLS reload failed, the certificate loaded before stays in use: %s", why.c_str());
        return std::make_error_code(std::errc::invalid_argument);
    }
    tls_ = fresh;  // for a run() still to come
    // Each running shard takes it on its own thread; the call returns once they all have (or after a second, for
    // a shard too busy to say), so a client that connects after it is served the new certificate.
    struct Handover {
        std::mutex lock;
        std::condition_variable done;
        unsigned waiting = 0;
    };
    const auto handover = std::make_shared<Handover>();
    const auto handed = [handover] {
        const std::lock_guard<std::mutex> hold(handover->lock);
        if (--handover->waiting == 0) handover->done.notify_all();
    };
    handover->waiting = threads_;
    for (unsigned i = 0; i < threads_; ++i) {
        const bool queued = defer(i, [fresh, handed, i, this] {
            shards_[i]->replace_tls(fresh);
            handed();
        });
        if (!queued) handed();  // not running: run() starts with tls_
    }
    {
        std::unique_lock<std::mutex> hold(handover->lock);
        handover->done.wait_for(hold, std::chrono::seconds(1), [&] { return handover->waiting == 0; });
    }
    SURGE_LOG_INFO("TLS: certificate %s and key %s reloaded; new connections use them", config_.tls_cert_file.c_str(),
                   config_.tls_key_file.c_str());
    return {};
}

bool Server::defer(unsigned shard, std::function<void()> fn) {
    if (!running_.load(std::memory_order_acquire) || shard >= shards_.size()) return false;
    shards_[shard]->defer(std::move(fn));
    return true;
}

PublishResult Server::publish(std::string_view topic, std::string_view message, Opcode opcode,
                             std::chrono::milliseconds wait) noexcept {
    if (!running_.load(std::memory_order_acquire)) return {PublishStatus::NotRunning};
    return broadcaster_->publish(topic, message, opcode, wait, {.shard = detail::Shard::current()});
}

const std::string& Server::epoch() const noexcept { return broadcaster_->logs().epoch(); }

HistoryStats Server::history_stats() const noexcept { return broadcaster_->logs().stats(); }

std::optional<BrokerStats> Server::broker_stats() const noexcept {
    if (!config_.broker) return std::nullopt;
    return config_.broker->stats();
}

std::uint64_t Server::subscribers(std::string_view topic) const { return broadcaster_->directory().subscribers(topic); }

std::vector<ShardStats> Server::stats() const {
    std::vector<ShardStats> all;
    if (!running_.load(std::memory_order_acquire)) return all;
    for (const auto& shard : shards_) all.push_back(shard->stats());
    return all;
}

net::Backend Server::backend() const noexcept {
    return shards_.empty() ? config_.backend : shards_.front()->backend();
}

}  // namespace surge
