// surge-push: the push server. Subscribers connect over WebSocket to topics; backends publish over HTTP; every
// subscriber of the topic gets the message at once. No configuration is needed: the defaults serve on port 9001.
//   GET  /ws?topics=a,b       upgrade and subscribe (then {"subscribe":"t"} / {"unsubscribe":"t"} as messages)
//   POST /publish/<topic>     publish the body (text if it is UTF-8, else binary); answers its offset and the
//                             subscriber count
//   GET  /metrics             Prometheus text: connections, subscriptions, traffic, drops, ring lag per shard
//   GET  /                    a page that subscribes, shows messages as they arrive, and publishes
// With --admin-address, /publish and /metrics are served there only, by a second server of one thread whose
// connections are kept apart from the subscribers' (descriptors included), so publishing goes on when
// subscribers fill the public port.
// SIGINT or SIGTERM closes every connection with 1001 and exits; SIGHUP reloads the TLS certificate and key
// (tools/hangup_reload.hpp). With --redis every process (on any machine) is a node on one Redis
// (surge/ws/redis_broker.hpp): offsets, history and publications are shared through it. With --workers N it runs
// N processes on one port (tools/worker_processes.hpp), each a node: on the Redis given, or else on a hub the
// parent serves (tools/push/worker_hub.hpp), so a publish taken by any worker reaches every subscriber with one
// offset, and a subscriber resumes on any worker.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "surge/core/log.hpp"
#include "surge/core/utf8.hpp"
#include "surge/net/listener.hpp"
#include "surge/core/json_string.hpp"
#include "tools/push/access.hpp"
#include "tools/push/body_kind.hpp"
#include "tools/push/client_js.hpp"
#include "tools/push/cluster.hpp"
#include "tools/push/command.hpp"
#include "tools/push/metrics.hpp"
#include "tools/push/metrics_share.hpp"
#include "tools/push/page.hpp"
#include "tools/hangup_reload.hpp"
#include "tools/memory_return.hpp"
#include "tools/server_main.hpp"
#include "surge/ws/server.hpp"

namespace {

using namespace surge;

Server* g_server = nullptr;
Server* g_admin = nullptr;

void on_signal(int) {
    // stop() is async-signal-safe: an atomic store and eventfd writes.
    if (g_server) g_server->stop();
    if (g_admin) g_admin->stop();
}

constexpr std::string_view kOwnFlags[] = {"--token",         "--token-file",        "--allowed-origins",
                                          "--max-backpressure", "--slow-policy",       "--max-message",
                                          "--max-subscriptions", "--max-topic-bytes",  "--max-per-address",
                                          "--admin-address", "--history-size",     "--history-seconds",
                                          "--history-bytes", "--redis",        "--redis-prefix"};

// The admin listener's own connections (publishers, scrapers): kept out of the subscribers' descriptor budget.
constexpr std::size_t kAdminConnections = 256;

const char* const kPushUsage =
    "  --token T            POST /publish needs 'Authorization: Bearer T' (401 otherwise). Visible to other\n"
    "                       users in the process list: prefer --token-file or SURGE_PUSH_TOKEN\n"
    "  --token-file FILE    the token is the first line of FILE\n"
    "  --allowed-origins L  comma-separated origins (https://app.example.com) browsers may subscribe and publish\n"
    "                       from, or '*'; without it any page may subscribe and only this server's own page may\n"
    "                       publish. Requests without an Origin header (curl, backends) are not affected\n"
    "  --max-backpressure BYTES\n"
    "                       bytes queued for one subscriber before the slow policy applies (default 1048576)\n"
    "  --slow-policy P      drop | close: past the bound, drop that subscriber's messages (counted) or close\n"
    "                       it with 1008 (default drop)\n"
    "  --max-message BYTES  largest message a subscriber may send, and largest POST body (default 65536)\n"
    "  --max-subscriptions N\n"
    "                       topics one subscriber may hold at once (default 100); past it: {\"error\":...}\n"
    "  --max-topic-bytes N  longest topic name, 1 to 1024 (default 256); names are UTF-8 without control\n"
    "                       characters\n"
    "  --history-size N     publications each topic keeps for subscribers that resume (default 1000; 0: none)\n"
    "  --history-seconds S  ... none older than S seconds (default 300)\n"
    "  --history-bytes B    ... and at most B bytes over every topic (default 67108864)\n"
    "  --max-per-address N  connections from one source address at once, per process (default 1024; 0: no\n"
    "                       limit, e.g. behind a proxy, where every client has the proxy's address); past it: 429\n"
    "  --redis URL          join a cluster of nodes on Redis: redis://[[user]:password@]host[:port][/db]\n"
    "                       (or SURGE_REDIS_URL; SURGE_REDIS_PASSWORD keeps the password out of the process\n"
    "                       list). Publishes on any node reach the subscribers of every node, offsets and history\n"
    "                       are Redis's, so a subscriber resumes on any node; 503 while Redis is unreachable\n"
    "  --redis-prefix P     prefix of every Redis key and channel (default surge:; or SURGE_REDIS_PREFIX)\n"
    "  --admin-address IP:PORT\n"
    "                       serve POST /publish and GET /metrics on this address only (plain HTTP: keep it on\n"
    "                       a private network or loopback), not on the public port, with up to 256 connections\n"
    "                       of its own that subscribers cannot take\n"
    "  --help               this text\n"
    "\n"
    "Subscribers: connect to ws://HOST:PORT/ws?topics=a,b (comma separated, percent-encoded). Over the socket,\n"
    "{\"subscribe\":\"t\"} and {\"unsubscribe\":\"t\"} change the set; each is answered with {\"subscribed\":\"t\"},\n"
    "{\"unsubscribed\":\"t\"} or {\"error\":\"...\"}. Every other message received is a published one, as is.\n"
    "Publishers: POST the message as the body to /publish/<topic>; the answer is\n"
    "{\"topic\":...,\"subscribers\":N,\"offset\":O} (O: the publication's offset in the topic),\n"
    "N being the subscribers of the topic in the process that took the request when it published; 503 when the\n"
    "broadcast ring is full (retry), 413 past --max-message. With --workers, a publish taken by any worker\n"
    "reaches the subscribers of all. With --redis, N counts this node's subscribers only; 503 while Redis cannot\n"
    "be reached (not published), 504 when its answer was lost (published or not: unknown).\n"
    "\n"
    "Open by default: without a token (--token, --token-file or the SURGE_PUSH_TOKEN environment variable) anyone\n"
    "who reaches the port may publish, and without --admin-address /metrics is public. Browsers on other sites\n"
    "may subscribe, but not publish, unless --allowed-origins says otherwise.\n";

void usage(std::FILE* to) {
    std::fprintf(to, "usage: surge-push [options]\n%s%s", tools::kServerFlagsUsage, kPushUsage);
}

struct Options {
    tools::ServerFlags server;
    std::string token;
    std::vector<std::string> allowed_origins;
    std::size_t max_backpressure = 1024 * 1024;
    SlowPolicy slow_policy = SlowPolicy::Drop;
    std::size_t max_message = 64 * 1024;
    std::uint32_t max_subscriptions = 100;
    std::size_t max_topic_bytes = 256;
    std::uint32_t max_per_address = 1024;
    bool admin = false;  // --admin-address given
    std::string admin_address;
    std::uint16_t admin_port = 0;
    bool admin_exclusive = true;  // false with --workers: the workers share the admin port too
    push::ClusterFlags cluster;   // --redis, --redis-prefix (or the workers' hub)
};

std::string json_answer(std::string_view key, std::string_view value) {
    std::string out = "{";
    append_json_string(out, key);
    out.push_back(':');
    append_json_string(out, value);
    out.push_back('}');
    return out;
}

// `answer` with the command's "id" (JSON text; "" for none) added, so a client can match replies to commands.
std::string with_id(std::string answer, const std::string& id_json) {
    if (id_json.empty()) return answer;
    answer.pop_back();  // the closing brace
    answer.append(",\"id\":").append(id_json).push_back('}');
    return answer;
}

// {"subscribed":"t","offset":17,"epoch":"...","recovered":true}: where the topic stands, and whether everything
// after the position asked for came from history.
std::string subscribed_answer(std::string_view topic, const SubscribeResult& result) {
    std::string out = json_answer("subscribed", topic);
    out.pop_back();
    out.append(",\"offset\":").append(std::to_string(result.offset)).append(",\"epoch\":");
    append_json_string(out, result.epoch);
    out.append(",\"recovered\":").append(result.recovered ? "true" : "false").push_back('}');
    return out;
}

// One server process: the routes, its broker if any, and the run.
// `admin_port` is set to the admin listener's port once it listens.
int serve(const Options& options, unsigned worker, std::uint16_t& admin_port, push::MetricsShare* share,
          const std::function<void(std::uint16_t, unsigned)>& ready) {
    tools::block_hangup();  // before any thread: SIGHUP is for the reload thread made below
    const auto started = static_cast<std::uint64_t>(std::time(nullptr));
    ServerConfig config = options.server.config;
    config.max_body_bytes = options.max_message;
    config.max_connections_per_address = options.max_per_address;
    std::unique_ptr<Server> admin;
    if (options.admin) {
        // The subscribers leave the admin listener its connections, and its own shard's descriptors.
        config.reserved_descriptors += kAdminConnections + 64;
        ServerConfig admin_config;
        admin_config.address = options.admin_address;
        admin_config.port = options.admin_port;
        admin_config.exclusive_port = options.admin_exclusive;
        admin_config.threads = 1;
        admin_config.pin_threads = false;
        admin_config.backend = config.backend;
        admin_config.max_connections = kAdminConnections;
        admin_config.max_body_bytes = options.max_message;
        admin_config.on_access = config.on_access;  // one access log for both listeners
        admin_config.trusted_proxies = config.trusted_proxies;
        admin = std::make_unique<Server>(admin_config);
    }
    config.broker = push::make_broker(options.cluster, config);
    Server server(config);
    Server& control = admin ? *admin : server;  // where /publish and /metrics are served
    push::PushCounters counters;

    WebSocketBehavior subscriber;
    subscriber.max_message_bytes = options.max_message;
    subscriber.max_backpressure_bytes = options.max_backpressure;
    subscriber.slow_policy = options.slow_policy;
    subscriber.idle_timeout_seconds = options.server.idle_timeout_seconds;
    subscriber.deflate = options.server.deflate;
    subscriber.max_subscriptions = options.max_subscriptions;
    subscriber.check_origin = [&options](const HttpRequest& request) {
        const HttpHeader* origin = request.find("Origin");
        const HttpHeader* host = request.find("Host");
        return push::may_subscribe(origin ? origin->value : "", host ? host->value : "", options.allowed_origins);
    };
    // What a subscribe answers: where the topic stands (subscribed_answer()), or an error; the topic is named only
    // once it is known to be valid. With a position, what history holds after it is queued before the answer.
    auto subscribe = [&options, &counters](WebSocket& ws, std::string_view topic,
                                           const SubscribeOptions& from) -> std::string {
        if (!push::valid_topic(topic, options.max_topic_bytes)) {
            counters.add(push::PushCount::TopicsRefused);
            return json_answer("error", "a topic is 1 to " + std::to_string(options.max_topic_bytes) +
                                            " bytes of UTF-8 without control characters");
        }
        const SubscribeResult result = ws.subscribe(topic, from);
        switch (result.status) {
        case SubscribeStatus::Subscribed:
        case SubscribeStatus::AlreadySubscribed: return subscribed_answer(topic, result);
        case SubscribeStatus::TooMany:
            return json_answer("error", "at most " + std::to_string(options.max_subscriptions) +
                                            " subscriptions per connection");
        case SubscribeStatus::InvalidTopic: return json_answer("error", "invalid topic");
        case SubscribeStatus::NotOpen:
        case SubscribeStatus::NoMemory: break;
        }
        return json_answer("error", "not subscribed: the server is out of memory or closing");
    };
    // A reply is never dropped silently: a client would wait for it forever. One that cannot be queued (the
    // subscriber is past --max-backpressure, not reading) ends the connection with 1008, which says why.
    auto reply = [&counters](WebSocket& ws, const std::string& answer) {
        if (ws.send(answer, Opcode::Text) != SendStatus::Dropped) return;
        counters.add(push::PushCount::RepliesUndeliverable);
        ws.close(1008, "replies are not being read");
    };
    // /ws?topics=a,b[&since=a:17][&epoch=E][&format=json|raw]: every publication comes as an envelope (JSON:
    // topic, offset, data) unless format=raw asks for the bytes as published. The URL's topics are subscribed at
    // once; each gets an answer when the URL resumes it (since=) or it is refused, and none otherwise.
    subscriber.on_upgrade = [subscribe, reply](WebSocket& ws, const Request& request) {
        const std::string format = push::query_parameter(request.query(), "format");
        if (format != "raw") ws.set_delivery(Delivery::Envelope);
        if (!format.empty() && format != "raw" && format != "json") {
            reply(ws, json_answer("error", "format is json (the default) or raw"));
        }
        push::QueryPositions positions;
        std::string error;
        if (!push::positions_from_query(request.query(), positions, error)) reply(ws, json_answer("error", error));
        for (const std::string& topic : push::topics_from_query(request.query())) {
            std::optional<StreamPosition> since;
            for (const auto& [named, offset] : positions.since) {
                if (named == topic) since = StreamPosition{offset, positions.epoch};
            }
            const std::string answer = subscribe(ws, topic, SubscribeOptions{since});
            if (since || answer.starts_with("{\"error\"")) reply(ws, answer);
        }
    };
    subscriber.on_message = [subscribe, reply](WebSocket& ws, std::string_view message, Opcode) {
        push::Command command;
        std::string error;
        if (!push::parse_command(message, command, error)) {
            reply(ws, json_answer("error", error));
            return;
        }
        if (command.action == push::Action::Subscribe) {
            std::optional<StreamPosition> since;
            if (command.since) since = StreamPosition{*command.since, command.epoch};
            reply(ws, with_id(subscribe(ws, command.topic, SubscribeOptions{since}), command.id_json));
        } else if (!is_valid_utf8(command.topic)) {
            reply(ws, with_id(json_answer("error", "a topic is UTF-8"), command.id_json));
        } else {
            ws.unsubscribe(command.topic);
            reply(ws, with_id(json_answer("unsubscribed", command.topic), command.id_json));
        }
    };
    server.websocket("/ws", subscriber);

    // GET /sse?topics=a,b[&since=a:17&epoch=E]: the same topics as Server-Sent Events, for a browser's plain
    // EventSource. Each publication is an event (id: the position over every topic; data: the envelope); an
    // EventSource that reconnects sends the last id back as Last-Event-ID, and every topic resumes from it.
    // Answers are named events, so onmessage sees publications only: "subscribed" (when resuming) and "error".
    WebSocketBehavior stream = subscriber;
    stream.on_message = nullptr;
    stream.on_upgrade = [subscribe](WebSocket& ws, const Request& request) {
        auto event = [&ws](std::string_view name, const std::string& data) {
            ws.send("event: " + std::string(name) + "\ndata: " + data + "\n\n", Opcode::Text);
        };
        push::QueryPositions positions;
        std::string error;
        if (!push::positions_from_query(request.query(), positions, error)) event("error", json_answer("error", error));
        const std::string_view last_event = request.header("Last-Event-ID");
        for (const std::string& topic : push::topics_from_query(request.query())) {
            SubscribeOptions from;
            from.since_event = last_event;
            for (const auto& [named, offset] : positions.since) {
                if (named == topic) from.since = StreamPosition{offset, positions.epoch};
            }
            const std::string answer = subscribe(ws, topic, from);
            const bool refused = answer.starts_with("{\"error\"");
            if (refused || from.since || !last_event.empty()) event(refused ? "error" : "subscribed", answer);
        }
    };
    server.event_stream("/sse", stream);

    control.post("/publish/*", [&](const Request& request, Response& response) {
        response.header("Content-Type", "application/json");
        if (!push::may_publish(request.header("Origin"), request.header("Host"), options.allowed_origins)) {
            counters.add(push::PushCount::Forbidden);
            response.status(403).send(json_answer("error", "publishing from this origin is not allowed"));
            return;
        }
        if (!options.token.empty()) {
            const std::string_view given = request.header("Authorization");
            if (!given.starts_with("Bearer ") || !push::same_secret(given.substr(7), options.token)) {
                counters.add(push::PushCount::Unauthorized);
                response.status(401).header("WWW-Authenticate", "Bearer");
                response.send(json_answer("error", "unauthorized"));
                return;
            }
        }
        std::string topic;
        if (!push::percent_decode(request.path().substr(std::string_view("/publish/").size()), topic, false) ||
            !push::valid_topic(topic, options.max_topic_bytes)) {
            counters.add(push::PushCount::Invalid);
            response.status(400).send(json_answer("error", "the topic is 1 to " +
                                                               std::to_string(options.max_topic_bytes) +
                                                               " bytes of UTF-8 without control characters, "
                                                               "percent-encoded"));
            return;
        }
        const push::BodyKind kind = push::body_kind(request.header("Content-Type"), request.body);
        if (kind == push::BodyKind::NotUtf8 || kind == push::BodyKind::UnsupportedCharset) {
            counters.add(push::PushCount::Invalid);
            response.status(kind == push::BodyKind::NotUtf8 ? 400 : 415)
                .send(json_answer("error", kind == push::BodyKind::NotUtf8
                                               ? "the body is not UTF-8, but its Content-Type says text; send "
                                                 "binary as application/octet-stream"
                                               : "a text body's charset must be utf-8; send other bytes as "
                                                 "application/octet-stream"));
            return;
        }
        const Opcode opcode = kind == push::BodyKind::Text ? Opcode::Text : Opcode::Binary;
        const std::uint64_t subscribers = server.subscribers(topic);
        const PublishResult published = server.publish(topic, request.body, opcode);
        const PublishStatus status = published.status;
        if (status == PublishStatus::Unavailable) {
            counters.add(push::PushCount::BrokerUnavailable);
            response.status(503).header("Retry-After", "1");
            response.send(json_answer("error", "the broker (Redis) cannot be reached; nothing was published, retry"));
            return;
        }
        if (status == PublishStatus::Unconfirmed) {
            counters.add(push::PushCount::BrokerUnconfirmed);
            response.status(504);
            response.send(json_answer("error", "the broker (Redis) took the publish but its answer was lost: it may "
                                               "have been published, and a retry may publish it twice"));
            return;
        }
        if (status == PublishStatus::TooManyTopics) {
            counters.add(push::PushCount::Backpressure);
            response.status(503).header("Retry-After", "60");
            response.send(json_answer("error", "too many topics: the server keeps the offsets of at most " +
                                                   std::to_string(options.server.config.max_topic_logs) +
                                                   ", and none is idle"));
            return;
        }
        if (status != PublishStatus::Success) {
            counters.add(push::PushCount::Backpressure);
            response.status(503).header("Retry-After", "1");
            response.send(json_answer("error", "the broadcast ring is full; retry"));
            return;
        }
        counters.add(push::PushCount::Accepted);
        SURGE_LOG_DEBUG("published %zu bytes (%s) to '%s': %llu subscribers here", request.body.size(),
                        opcode == Opcode::Text ? "text" : "binary", topic.c_str(),
                        static_cast<unsigned long long>(subscribers));
        std::string body = "{\"topic\":";
        append_json_string(body, topic);
        body.append(",\"subscribers\":").append(std::to_string(subscribers));
        body.append(",\"offset\":").append(std::to_string(published.offset)).append("}");
        response.send(body);
    });
    control.get("/metrics", [&](const Request&, Response& response) {
        response.header("Content-Type", "text/plain; version=0.0.4");
        const push::WorkerFigures own = push::snapshot(worker, server, counters, started);
        if (!share) {
            response.send(push::render_metrics({&own, 1}));
            return;
        }
        share->write(own);  // itself as of now, its siblings as of their last second
        response.send(push::render_metrics(share->read_all()));
    });
    server.get("/", [](const Request&, Response& response) {
        response.header("Content-Type", "text/html; charset=utf-8");
        response.send(push::kPage);
    });
    server.get("/surge.js", [](const Request&, Response& response) {
        response.header("Content-Type", "text/javascript; charset=utf-8");
        response.header("Cache-Control", "max-age=300");
        response.send(push::kClientJs);
    });
    server.get("/health", [](const Request&, Response& response) { response.send("ok\n"); });
    if (admin) {
        admin->get("/health", [](const Request&, Response& response) { response.send("ok\n"); });
        // Said plainly to whoever tries the public port (the page's publish form among them).
        server.post("/publish/*", [](const Request&, Response& response) {
            response.status(404).header("Content-Type", "application/json");
            response.send(json_answer("error", "publishing is not served on this port (--admin-address)"));
        });
    }

    g_server = &server;
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGPIPE, SIG_IGN);

    const Result<std::uint16_t> port = server.listen();
    if (!port) {
        std::fprintf(stderr, "surge-push: cannot listen: %s\n", port.error().message().c_str());
        return 1;
    }
    std::thread admin_thread;
    if (admin) {
        const Result<std::uint16_t> listening = admin->listen();
        if (!listening) {
            std::fprintf(stderr, "surge-push: --admin-address %s:%u: cannot listen: %s%s\n",
                         options.admin_address.c_str(), options.admin_port, listening.error().message().c_str(),
                         listening.error() == std::errc::address_in_use ? " (another process serves this port)" : "");
            return 1;
        }
        admin_port = listening.value();
        g_admin = admin.get();
        admin_thread = std::thread([&] {
            if (const Result<void> ran = admin->run(); !ran) {
                std::fprintf(stderr, "surge-push: admin listener: %s\n", ran.error().message().c_str());
                server.stop();  // publishing is gone: say so by exiting, not by serving on without it
            }
        });
    }
    ready(port.value(), server.thread_count());
    const tools::MemoryReturn memory_return(server);  // gives a burst's memory back once it has passed
    const tools::ReloadTlsOnHangup reload(server);     // SIGHUP: the certificate and key read again
    std::unique_ptr<push::MetricsShareWriter> share_writer;  // --workers: this worker's figures, every second
    if (share) {
        share_writer = std::make_unique<push::MetricsShareWriter>(
            *share, [&] { return push::snapshot(worker, server, counters, started); });
    }
    const Result<void> ran = server.run();
    g_server = nullptr;
    if (admin) {
        admin->stop();
        admin_thread.join();
        g_admin = nullptr;
    }
    if (!ran) {
        std::fprintf(stderr, "surge-push: %s\n", ran.error().message().c_str());
        return 1;
    }
    return 0;
}

void announce(const Options& options, std::uint16_t port, std::uint16_t admin_port, unsigned workers,
              unsigned threads) {
    const char* s = options.server.config.tls_cert_file.empty() ? "" : "s";
    const std::string host = tools::url_host(options.server.config.address);
    std::string publish = "http" + std::string(s) + "://" + host + ":" + std::to_string(port);
    if (options.admin) {
        publish = "http://" + tools::url_host(options.admin_address) + ":" + std::to_string(admin_port);
    }
    std::printf("surge-push: http%s://%s:%u/ (page), ws%s://%s:%u/ws?topics=news (subscribe), "
                "POST %s/publish/news (publish), %s/metrics; %u worker%s x %u threads; Ctrl-C stops\n",
                s, host.c_str(), port, s, host.c_str(), port, publish.c_str(), publish.c_str(), workers,
                workers == 1 ? "" : "s", threads);
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    const int status = tools::parse_server_command_line(
        "surge-push", argc, argv, usage, options.server, kOwnFlags, [&](std::string_view flag, const char* value) {
            const std::string_view text = value;
            unsigned long long number = 0;
            const bool numeric = tools::parse_number(value, number);
            if (flag == "--token" && !text.empty()) {
                options.token = value;
            } else if (flag == "--token-file") {
                std::string error;
                if (!push::read_token_file(value, options.token, error)) {
                    std::fprintf(stderr, "surge-push: --token-file %s: %s\n", value, error.c_str());
                    return false;
                }
            } else if (flag == "--allowed-origins") {
                if (!push::parse_origin_list(text, options.allowed_origins)) {
                    std::fprintf(stderr, "surge-push: --allowed-origins: expected scheme://host[:port], comma "
                                         "separated, or '*'\n");
                    return false;
                }
            } else if (flag == "--max-backpressure" && numeric && number > 0 && number <= (1ULL << 31)) {
                options.max_backpressure = number;
            } else if (flag == "--slow-policy" && (text == "drop" || text == "close")) {
                options.slow_policy = text == "drop" ? SlowPolicy::Drop : SlowPolicy::Close;
            } else if (flag == "--max-message" && numeric && number > 0 && number <= 16 * 1024 * 1024) {
                options.max_message = number;
            } else if (flag == "--max-subscriptions" && numeric && number > 0 && number <= 1'000'000) {
                options.max_subscriptions = static_cast<std::uint32_t>(number);
            } else if (flag == "--max-topic-bytes" && numeric && number > 0 && number <= kMaxTopicBytes) {
                options.max_topic_bytes = number;
            } else if (flag == "--history-size" && numeric && number <= 1'000'000) {
                options.server.config.history_per_topic = number;
            } else if (flag == "--history-seconds" && numeric && number <= 30 * 86400) {
                options.server.config.history_seconds = static_cast<unsigned>(number);
            } else if (flag == "--history-bytes" && numeric && number <= (1ULL << 40)) {
                options.server.config.history_max_bytes = number;
            } else if (flag == "--max-per-address" && numeric && number <= 1'000'000) {
                options.max_per_address = static_cast<std::uint32_t>(number);
            } else if (flag == "--redis") {
                options.cluster.redis = true;
                options.cluster.url = text;
            } else if (flag == "--redis-prefix" && !text.empty() && text.size() <= 256) {
                options.cluster.prefix = text;
            } else if (flag == "--admin-address") {
                if (!tools::parse_listen_address(text, options.admin_address, options.admin_port)) {
                    std::fprintf(stderr, "surge-push: --admin-address: expected IP:PORT (127.0.0.1:9002, "
                                         "[::1]:9002)\n");
                    return false;
                }
                options.admin = true;
            } else {
                return false;
            }
            return true;
        });
    if (status >= 0) return status;
    if (options.token.empty()) {
        if (const char* from_environment = std::getenv("SURGE_PUSH_TOKEN")) options.token = from_environment;
    }
    if (const int settled = push::settle_cluster_flags(options.cluster); settled >= 0) return settled;
    if (options.admin && options.server.workers > 1) {
        // Every worker serves the admin port too (a publish taken by one reaches all): checked once here, as
        // the public port is, then shared.
        if (options.admin_port == 0) {
            std::fprintf(stderr, "surge-push: --admin-address: give a port (not 0) with --workers\n");
            return 2;
        }
        if (const int free = net::check_port_free(options.admin_address, options.admin_port); free != 0) {
            std::fprintf(stderr, "surge-push: --admin-address %s:%u: cannot listen: %s\n",
                         options.admin_address.c_str(), options.admin_port, std::strerror(-free));
            return 1;
        }
        options.admin_exclusive = false;
    }
    // --workers without Redis: the parent serves the workers' hub (bound now, served once they are forked).
    int hub_status = -1;
    const push::HubHandle hub = push::open_hub(options.cluster, options.server.workers, options.server.config,
                                               options.max_message, hub_status);
    if (hub_status >= 0) return hub_status;
    std::uint16_t admin_port = options.admin_port;  // the one it got, when 0 asked for any (one process only)
    // With --workers, every worker's figures in one scrape: the region is mapped here, before the fork.
    std::unique_ptr<push::MetricsShare> share;
    if (options.server.workers > 1) {
        const unsigned threads = options.server.config.threads ? options.server.config.threads
                                                               : std::max(1u, std::thread::hardware_concurrency());
        share = push::MetricsShare::create(options.server.workers, threads);
        if (!share) {
            std::fprintf(stderr, "surge-push: cannot map the workers' shared metrics: %s\n", std::strerror(errno));
            return 1;
        }
    }
    return tools::run_servers(
        "surge-push", options.server,
        [&](unsigned worker, const auto& ready) {
            return serve(options, worker, admin_port, share.get(), ready);
        },
        [&](std::uint16_t port, unsigned workers, unsigned threads) {
            push::start_hub(hub.get());  // in the parent only, now that the workers are forked
            announce(options, port, admin_port, workers, threads);
        });
}
