#include "surge/ws/redis_broker.hpp"

#include <hiredis/hiredis.h>
#include <hiredis/sds.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <random>

#include "surge/core/log.hpp"
#include "surge/ws/redis_reply.hpp"

namespace surge {

using detail::number_of;
using detail::opcode_of;
using detail::Reply;
using detail::text_of;
using detail::unknown_script;

namespace {

// KEYS: stream, hash. ARGV: data, kind (1 text, 2 binary), origin, history size, history seconds, epoch seconds,
// channel. The epoch is made from Redis's clock when the hash is missing, and a stream left from an earlier epoch
// is dropped with it (its ids would be ahead of the new offsets).
constexpr std::string_view kPublishScript = R"lua(
local epoch = redis.call('hget', KEYS[2], 'e')
local now = redis.call('time')
if not epoch then
  epoch = string.format('%x%05x', tonumber(now[1]), tonumber(now[2]))
  redis.call('hset', KEYS[2], 'e', epoch)
  redis.call('del', KEYS[1])
end
local offset = redis.call('hincrby', KEYS[2], 'o', 1)
redis.call('expire', KEYS[2], ARGV[6])
if tonumber(ARGV[4]) > 0 then
  local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  redis.call('xadd', KEYS[1], 'MAXLEN', ARGV[4], offset .. '-0', 'd', ARGV[1], 'k', ARGV[2], 't', ms)
  redis.call('expire', KEYS[1], ARGV[5])
  -- Trimmed by age too: the oldest entries past history seconds go, a few per publish (the key's expiry takes
  -- the rest of an idle topic's).
  local cutoff = ms - tonumber(ARGV[5]) * 1000
  for _ = 1, 8 do
    local oldest = redis.call('xrange', KEYS[1], '-', '+', 'COUNT', 1)
    if #oldest == 0 or tonumber(oldest[1][2][6]) >= cutoff then break end
    redis.call('xdel', KEYS[1], oldest[1][1])
  end
end
redis.call('publish', ARGV[7], offset .. ' ' .. epoch .. ' ' .. ARGV[2] .. ' ' .. ARGV[3] .. '\n' .. ARGV[1])
return {offset, epoch}
)lua";

// KEYS: stream, hash. ARGV: after ("-" for the newest), limit, epoch seconds. Returns {epoch, last offset,
// entries}; makes the epoch when the topic has none yet, so a subscriber's answer names the one its offsets will
// be of.
constexpr std::string_view kHistoryScript = R"lua(
local epoch = redis.call('hget', KEYS[2], 'e')
if not epoch then
  local now = redis.call('time')
  epoch = string.format('%x%05x', tonumber(now[1]), tonumber(now[2]))
  redis.call('hset', KEYS[2], 'e', epoch)
  redis.call('expire', KEYS[2], ARGV[3])
  redis.call('del', KEYS[1])
end
local last = redis.call('hget', KEYS[2], 'o') or '0'
local entries = {}
if tonumber(ARGV[2]) > 0 then
  if ARGV[1] == '-' then
    entries = redis.call('xrevrange', KEYS[1], '+', '-', 'COUNT', ARGV[2])
  else
    entries = redis.call('xrange', KEYS[1], '(' .. ARGV[1] .. '-0', '+', 'COUNT', ARGV[2])
  end
end
return {epoch, last, entries}
)lua";

std::string sha1_hex(std::string_view text) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha1(), nullptr);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    for (unsigned i = 0; i < size; ++i) {
        hex.push_back(kHex[digest[i] >> 4]);
        hex.push_back(kHex[digest[i] & 15]);
    }
    return hex;
}

timeval to_timeval(std::chrono::milliseconds ms) noexcept {
    return {static_cast<time_t>(ms.count() / 1000), static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

}  // namespace

std::string_view redis_publish_script() noexcept { return kPublishScript; }
std::string_view redis_history_script() noexcept { return kHistoryScript; }
std::string redis_script_sha(std::string_view script) { return sha1_hex(script); }

RedisBroker::RedisBroker(RedisOptions options)
    : options_(std::move(options)), publish_sha_(sha1_hex(kPublishScript)), history_sha_(sha1_hex(kHistoryScript)) {}

RedisBroker::~RedisBroker() {
    stop();
    for (redisContext* context : pool_) redisFree(context);
}

std::string RedisBroker::key(char kind, std::string_view topic) const {
    std::string name = options_.prefix;
    name.push_back(kind);
    name.push_back(':');
    name.append(topic);
    return name;
}

redisContext* RedisBroker::connect(std::string& why) const {
    redisContext* context = redisConnectWithTimeout(options_.host.c_str(), options_.port, to_timeval(options_.timeout));
    if (!context || context->err) {
        why = context ? context->errstr : "out of memory";
        if (context) redisFree(context);
        return nullptr;
    }
    redisSetTimeout(context, to_timeval(options_.timeout));
    redisEnableKeepAlive(context);
    const auto check = [&](std::vector<std::string_view> args) {
        std::vector<const char*> argv;
        std::vector<std::size_t> lengths;
        for (std::string_view arg : args) {
            argv.push_back(arg.data());
            lengths.push_back(arg.size());
        }
        Reply reply(static_cast<redisReply*>(
            redisCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data())));
        if (!reply) {
            why = context->errstr;
            return false;
        }
        if (reply->type == REDIS_REPLY_ERROR) {
            why = std::string(args[0]) + ": " + std::string(text_of(reply.get()));
            return false;
        }
        return true;
    };
    const std::string database = std::to_string(options_.database);
    const bool ready =
        (options_.password.empty() ||
         (options_.username.empty() ? check({"AUTH", options_.password})
                                    : check({"AUTH", options_.username, options_.password}))) &&
        (options_.database == 0 || check({"SELECT", database}));
    if (!ready) {
        redisFree(context);
        return nullptr;
    }
    return context;
}

redisContext* RedisBroker::borrow() {
    {
        const std::lock_guard<std::mutex> hold(pool_lock_);
        while (!pool_.empty()) {
            redisContext* context = pool_.back();
            pool_.pop_back();
            // An idle connection has nothing to read: if it has, Redis closed it (a restart, a timeout) and a
            // command written to it would be lost with an unknown effect. Dropped unused.
            pollfd idle{context->fd, POLLIN, 0};
            if (::poll(&idle, 1, 0) == 0) return context;
            redisFree(context);
        }
    }
    std::string why;
    redisContext* context = connect(why);
    if (!context) SURGE_LOG_DEBUG("redis %s:%u: %s", options_.host.c_str(), options_.port, why.c_str());
    return context;
}

void RedisBroker::give_back(redisContext* context) noexcept {
    {
        const std::lock_guard<std::mutex> hold(pool_lock_);
        if (pool_.size() < 32) {
            pool_.push_back(context);
            return;
        }
    }
    redisFree(context);
}

redisReply* RedisBroker::command(const std::vector<std::string_view>& args, bool& sent) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lengths;
    argv.reserve(args.size());
    lengths.reserve(args.size());
    for (std::string_view arg : args) {
        argv.push_back(arg.data());
        lengths.push_back(arg.size());
    }
    sent = false;
    redisContext* context = borrow();
    if (!context) return nullptr;
    auto* reply = static_cast<redisReply*>(
        redisCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data()));
    if (!reply) {
        sent = sdslen(context->obuf) == 0;  // written whole, so Redis may have run it; the answer is what was lost
        redisFree(context);
        return nullptr;
    }
    give_back(context);
    return reply;
}

redisReply* RedisBroker::script(const std::string& body, const std::string& sha,
                                const std::vector<std::string_view>& args, bool& sent) {
    std::vector<std::string_view> call{"EVALSHA", sha};
    call.insert(call.end(), args.begin(), args.end());
    redisReply* reply = command(call, sent);
    if (!unknown_script(reply)) return reply;
    freeReplyObject(reply);  // not run: Redis did not have the script
    call[0] = "EVAL";
    call[1] = body;
    return command(call, sent);
}

PublishResult RedisBroker::publish(std::string_view topic, std::string_view data, Opcode opcode,
                                   std::string_view origin) {
    const std::string stream = key('s', topic);
    const std::string hash = key('m', topic);
    const std::string channel = key('c', topic);
    const std::string keep = std::to_string(options_.history_size);
    const std::string keep_seconds = std::to_string(options_.history_seconds);
    const std::string epoch_seconds = std::to_string(std::max(options_.epoch_seconds, options_.history_seconds));
    bool sent = false;
    const Reply reply(script(std::string(kPublishScript), publish_sha_,
                             {"2", stream, hash, data, opcode == Opcode::Text ? "1" : "2", origin, keep, keep_seconds,
                              epoch_seconds, channel},
                             sent));
    std::uint64_t offset = 0;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        !number_of(reply->element[0], offset)) {
        publish_failures_.fetch_add(1, std::memory_order_relaxed);
        if (reply && reply->type == REDIS_REPLY_ERROR) {
            SURGE_LOG_WARN("redis: publish to '%.*s' failed: %s", static_cast<int>(topic.size()), topic.data(),
                           std::string(text_of(reply.get())).c_str());
        }
        if (!reply && sent) {
            SURGE_LOG_WARN("redis: the answer to a publish to '%.*s' was lost: it may have been published",
                           static_cast<int>(topic.size()), topic.data());
            return {PublishStatus::Unconfirmed};
        }
        return {PublishStatus::Unavailable};
    }
    return {PublishStatus::Success, offset};
}

bool RedisBroker::reachable() {
    bool sent = false;
    const Reply reply(command({"PING"}, sent));
    return reply && reply->type != REDIS_REPLY_ERROR;
}

BrokerStats RedisBroker::stats() const noexcept {
    BrokerStats stats;
    stats.connected = connected_.load(std::memory_order_relaxed);
    stats.reconnects = reconnects_.load(std::memory_order_relaxed);
    stats.publish_failures = publish_failures_.load(std::memory_order_relaxed);
    stats.delivered = delivered_.load(std::memory_order_relaxed);
    const std::lock_guard<std::mutex> hold(interest_lock_);
    for (const auto& [topic, interest] : interests_) stats.interests += interest.wanted ? 1 : 0;
    return stats;
}

// ---- interest and the subscribing connection ---------------------------------------------------------------

void RedisBroker::wake() noexcept {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t written = ::write(wake_fd_, &one, sizeof one);
}

bool RedisBroker::interest(std::string_view topic, bool on) {
    std::unique_lock<std::mutex> hold(interest_lock_);
    auto found = interests_.find(std::string(topic));
    if (!on) {
        if (found == interests_.end() || !found->second.wanted) return true;
        found->second.wanted = false;
        found->second.heard = false;
        orders_.push_back({false, key('c', topic)});
        if (found->second.pending == 0) interests_.erase(found);
        hold.unlock();
        wake();
        return true;
    }
    if (found == interests_.end()) found = interests_.emplace(std::string(topic), Interest{}).first;
    Interest& wanted = found->second;
    if (wanted.wanted && wanted.heard) return true;
    if (!wanted.wanted) {
        wanted.wanted = true;
        ++wanted.pending;
        orders_.push_back({true, key('c', topic)});
        wake();
    }
    if (!connected_.load(std::memory_order_acquire)) return false;
    const std::string name(topic);
    const bool heard = heard_.wait_for(hold, options_.timeout, [&] {
        const auto now = interests_.find(name);
        return now == interests_.end() || now->second.heard || !connected_.load(std::memory_order_acquire);
    });
    const auto now = interests_.find(name);
    return heard && now != interests_.end() && now->second.heard;
}

bool RedisBroker::start(BrokerSink& sink) {
    sink_ = &sink;
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) {
        SURGE_LOG_ERROR("redis broker: eventfd: %s", std::strerror(errno));
        return false;
    }
    if (!reachable()) {
        SURGE_LOG_WARN("redis %s:%u is not reachable now: publishes answer Unavailable until it is (retrying)",
                       options_.host.c_str(), options_.port);
    }
    subscriber_ = std::thread([this] { subscriber_loop(); });
    return true;
}

void RedisBroker::stop() noexcept {
    if (stopping_.exchange(true)) return;
    if (subscriber_.joinable()) {
        wake();
        subscriber_.join();
    }
    if (wake_fd_ >= 0) ::close(wake_fd_);
    wake_fd_ = -1;
}

void RedisBroker::subscriber_loop() {
    std::mt19937 jitter{std::random_device{}()};
    std::chrono::milliseconds backoff{50};
    bool was_connected = false;
    while (!stopping_.load(std::memory_order_acquire)) {
        std::string why;
        redisContext* context = connect(why);
        if (!context) {
            SURGE_LOG_WARN("redis %s:%u: %s; again in %lld ms", options_.host.c_str(), options_.port, why.c_str(),
                           static_cast<long long>(backoff.count()));
            // Wait, but wake at once for stop().
            pollfd wait{wake_fd_, POLLIN, 0};
            const auto spread = std::uniform_int_distribution<long long>(0, backoff.count() / 2)(jitter);
            ::poll(&wait, 1, static_cast<int>(backoff.count() + spread));
            std::uint64_t drained;
            [[maybe_unused]] const ssize_t got = ::read(wake_fd_, &drained, sizeof drained);
            backoff = std::min(backoff * 2, std::chrono::milliseconds{5000});
            continue;
        }
        backoff = std::chrono::milliseconds{50};
        if (was_connected) reconnects_.fetch_add(1, std::memory_order_relaxed);
        SURGE_LOG_INFO("redis %s:%u: %s", options_.host.c_str(), options_.port,
                       was_connected ? "connected again; restoring subscriptions and catching up" : "connected");
        serve(context, was_connected);
        was_connected = true;
        redisFree(context);
        connected_.store(false, std::memory_order_release);
        {
            const std::lock_guard<std::mutex> hold(interest_lock_);
            heard_.notify_all();  // interest(on) callers stop waiting for this connection
        }
    }
}

void RedisBroker::serve(redisContext* context, bool reconnected) {
    // Every wanted topic is asked for again on this connection; what the last one had queued is moot.
    std::vector<std::string> channels;
    {
        const std::lock_guard<std::mutex> hold(interest_lock_);
        orders_.clear();
        for (auto it = interests_.begin(); it != interests_.end();) {
            if (!it->second.wanted) {
                it = interests_.erase(it);
                continue;
            }
            it->second.heard = false;
            it->second.pending = 1;
            channels.push_back(key('c', it->first));
            ++it;
        }
        connected_.store(true, std::memory_order_release);
    }
    const auto append = [&](const char* verb, const std::vector<std::string>& names) {
        for (std::size_t from = 0; from < names.size(); from += 512) {
            std::vector<const char*> argv{verb};
            std::vector<std::size_t> lengths{std::strlen(verb)};
            for (std::size_t i = from; i < std::min(names.size(), from + 512); ++i) {
                argv.push_back(names[i].data());
                lengths.push_back(names[i].size());
            }
            redisAppendCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data());
        }
    };
    append("SUBSCRIBE", channels);
    // A reconnection is caught up once its subscriptions are in force (resync() reads each topic's history).
    bool catching_up = reconnected;
    const auto all_heard = [&] {
        const std::lock_guard<std::mutex> hold(interest_lock_);
        for (const auto& [topic, interest] : interests_) {
            if (interest.wanted && !interest.heard) return false;
        }
        return true;
    };
    for (;;) {
        int done = 0;
        while (!done) {
            if (redisBufferWrite(context, &done) != REDIS_OK) return;
            if (!done) {
                pollfd writable{context->fd, POLLOUT, 0};
                ::poll(&writable, 1, 100);
                if (stopping_.load(std::memory_order_acquire)) return;
            }
        }
        if (catching_up && all_heard()) {
            catching_up = false;
            sink_->resync();
        }
        pollfd waits[2] = {{context->fd, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
        ::poll(waits, 2, 1000);
        if (stopping_.load(std::memory_order_acquire)) return;
        if (waits[1].revents & POLLIN) {
            std::uint64_t drained;
            [[maybe_unused]] const ssize_t got = ::read(wake_fd_, &drained, sizeof drained);
            std::vector<std::string> subscribe;
            std::vector<std::string> unsubscribe;
            {
                const std::lock_guard<std::mutex> hold(interest_lock_);
                // In order: an unsubscribe followed by a subscribe of the same topic must reach Redis as such.
                for (Order& order : orders_) {
                    if (order.subscribe) {
                        if (!unsubscribe.empty()) {
                            append("UNSUBSCRIBE", unsubscribe);
                            unsubscribe.clear();
                        }
                        subscribe.push_back(std::move(order.channel));
                    } else {
                        if (!subscribe.empty()) {
                            append("SUBSCRIBE", subscribe);
                            subscribe.clear();
                        }
                        unsubscribe.push_back(std::move(order.channel));
                    }
                }
                orders_.clear();
            }
            append("SUBSCRIBE", subscribe);
            append("UNSUBSCRIBE", unsubscribe);
        }
        if (waits[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            if (redisBufferRead(context) != REDIS_OK) {
                SURGE_LOG_WARN("redis %s:%u: connection lost (%s); reconnecting", options_.host.c_str(),
                               options_.port, context->errstr);
                return;
            }
            void* reply = nullptr;
            while (redisGetReplyFromReader(context, &reply) == REDIS_OK && reply) {
                handle(static_cast<redisReply*>(reply));
                freeReplyObject(reply);
                reply = nullptr;
            }
            if (context->err) return;
        }
    }
}

void RedisBroker::handle(redisReply* reply) {
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) return;
    const std::string_view kind = text_of(reply->element[0]);
    const std::string_view channel = text_of(reply->element[1]);
    const std::string channel_prefix = options_.prefix + "c:";
    if (!channel.starts_with(channel_prefix)) return;
    const std::string_view topic = channel.substr(channel_prefix.size());
    if (kind == "subscribe") {
        const std::lock_guard<std::mutex> hold(interest_lock_);
        const auto found = interests_.find(std::string(topic));
        if (found == interests_.end() || found->second.pending == 0) return;
        if (--found->second.pending == 0) {
            if (found->second.wanted) found->second.heard = true;
            else interests_.erase(found);
        }
        heard_.notify_all();
        return;
    }
    if (kind != "message") return;
    // "<offset> <epoch> <kind> <origin>\n<data>"
    const std::string_view payload = text_of(reply->element[2]);
    const std::size_t line = payload.find('\n');
    if (line == std::string_view::npos) return;
    std::string_view head = payload.substr(0, line);
    std::string_view fields[4];
    for (int i = 0; i < 3; ++i) {
        const std::size_t space = head.find(' ');
        if (space == std::string_view::npos) return;
        fields[i] = head.substr(0, space);
        head.remove_prefix(space + 1);
    }
    fields[3] = head;
    BrokerMessage message;
    if (std::from_chars(fields[0].data(), fields[0].data() + fields[0].size(), message.offset).ec != std::errc{}) {
        return;
    }
    message.topic = topic;
    message.epoch = fields[1];
    message.opcode = opcode_of(fields[2]);
    message.origin = fields[3];
    message.data = payload.substr(line + 1);
    delivered_.fetch_add(1, std::memory_order_relaxed);
    sink_->deliver(message);
}

}  // namespace surge
