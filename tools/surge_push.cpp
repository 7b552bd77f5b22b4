// surge-push: the push server. Subscribers connect over WebSocket to topics; backends publish over HTTP; every
// subscriber of the topic gets the message at once. No configuration is needed: the defaults serve on port 9001.
//   GET  /ws?topics=a,b       upgrade and subscribe (then {"subscribe":"t"} / {"unsubscribe":"t"} as messages)
//   POST /publish/<topic>     publish the body (text if it is UTF-8, else binary); answers the subscriber count
//   GET  /metrics             Prometheus text: connections, subscriptions, traffic, drops, ring lag per shard
//   GET  /                    a page that subscribes, shows messages as they arrive, and publishes
// SIGINT or SIGTERM closes every connection with 1001 and exits. With --workers N it runs N processes on one port
// (tools/worker_processes.hpp) that forward publishes to each other (tools/push/worker_mesh.hpp).
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/utf8.hpp"
#include "tools/json_string.hpp"
#include "tools/push/access.hpp"
#include "tools/push/command.hpp"
#include "tools/push/metrics.hpp"
#include "tools/push/page.hpp"
#include "tools/push/worker_mesh.hpp"
#include "tools/memory_return.hpp"
#include "tools/server_main.hpp"
#include "ws/server.hpp"

namespace {

using namespace surge;

Server* g_server = nullptr;

void on_signal(int) {
    if (g_server) g_server->stop();  // stop() is async-signal-safe: an atomic store and eventfd writes
}

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
    "  --max-per-address N  connections from one source address at once, per process (default 1024; 0: no\n"
    "                       limit, e.g. behind a proxy, where every client has the proxy's address); past it: 429\n"
    "  --help               this text\n"
    "\n"
    "Subscribers: connect to ws://HOST:PORT/ws?topics=a,b (comma separated, percent-encoded). Over the socket,\n"
    "{\"subscribe\":\"t\"} and {\"unsubscribe\":\"t\"} change the set; each is answered with {\"subscribed\":\"t\"},\n"
    "{\"unsubscribed\":\"t\"} or {\"error\":\"...\"}. Every other message received is a published one, as is.\n"
    "Publishers: POST the message as the body to /publish/<topic>; the answer is {\"topic\":...,\"subscribers\":N},\n"
    "N being the subscribers of the topic in the process that took the request when it published; 503 when the\n"
    "broadcast ring is full (retry), 413 past --max-message. With --workers, a publish taken by any worker\n"
    "reaches the subscribers of all.\n"
    "\n"
    "Open by default: without a token (--token, --token-file or the SURGE_PUSH_TOKEN environment variable) anyone\n"
    "who reaches the port may publish, and /metrics is public. Browsers on other sites may subscribe, but not\n"
    "publish, unless --allowed-origins says otherwise.\n";

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
};

std::string json_answer(std::string_view key, std::string_view value) {
    std::string out = "{";
    tools::append_json_string(out, key);
    out.push_back(':');
    tools::append_json_string(out, value);
    out.push_back('}');
    return out;
}

// One server process: the routes, the mesh to sibling workers, and the run.
int serve(const Options& options, unsigned worker, pid_t group, const std::function<void(std::uint16_t, unsigned)>& ready) {
    ServerConfig config = options.server.config;
    config.max_body_bytes = options.max_message;
    config.max_connections_per_address = options.max_per_address;
    Server server(config);
    push::PublishCounters counters;

    std::unique_ptr<push::WorkerMesh> mesh;
    if (options.server.workers > 1) {
        mesh = std::make_unique<push::WorkerMesh>(worker, options.server.workers, group, options.max_message);
        if (!mesh->ok()) return 1;
    }

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
    // What a subscribe that did not take says; the topic is named only once it is known to be valid.
    auto subscribe = [&options](WebSocket& ws, std::string_view topic) -> std::string {
        if (!push::valid_topic(topic, options.max_topic_bytes)) {
            return json_answer("error", "a topic is 1 to " + std::to_string(options.max_topic_bytes) +
                                            " bytes of UTF-8 without control characters");
        }
        switch (ws.subscribe(topic)) {
        case SubscribeStatus::Subscribed:
        case SubscribeStatus::AlreadySubscribed: return {};
        case SubscribeStatus::TooMany:
            return json_answer("error", "at most " + std::to_string(options.max_subscriptions) +
                                            " subscriptions per connection");
        case SubscribeStatus::InvalidTopic: return json_answer("error", "invalid topic");
        case SubscribeStatus::NotOpen:
        case SubscribeStatus::NoMemory: break;
        }
        return json_answer("error", "not subscribed: the server is out of memory or closing");
    };
    subscriber.on_upgrade = [subscribe](WebSocket& ws, const Request& request) {
        for (const std::string& topic : push::topics_from_query(request.query())) {
            const std::string refused = subscribe(ws, topic);
            if (!refused.empty()) ws.send(refused, Opcode::Text);
        }
    };
    subscriber.on_message = [subscribe](WebSocket& ws, std::string_view message, Opcode) {
        push::Command command;
        if (!push::parse_command(message, command)) {
            ws.send(json_answer("error", "expected {\"subscribe\":\"topic\"} or {\"unsubscribe\":\"topic\"}"),
                    Opcode::Text);
            return;
        }
        if (command.action == push::Action::Subscribe) {
            const std::string refused = subscribe(ws, command.topic);
            ws.send(refused.empty() ? json_answer("subscribed", command.topic) : refused, Opcode::Text);
        } else if (!is_valid_utf8(command.topic)) {
            ws.send(json_answer("error", "a topic is UTF-8"), Opcode::Text);
        } else {
            ws.unsubscribe(command.topic);
            ws.send(json_answer("unsubscribed", command.topic), Opcode::Text);
        }
    };
    server.websocket("/ws", subscriber);

    server.post("/publish/*", [&](const Request& request, Response& response) {
        response.header("Content-Type", "application/json");
        if (!push::may_publish(request.header("Origin"), request.header("Host"), options.allowed_origins)) {
            counters.forbidden.fetch_add(1, std::memory_order_relaxed);
            response.status(403).send(json_answer("error", "publishing from this origin is not allowed"));
            return;
        }
        if (!options.token.empty()) {
            const std::string_view given = request.header("Authorization");
            if (!given.starts_with("Bearer ") || !push::same_secret(given.substr(7), options.token)) {
                counters.unauthorized.fetch_add(1, std::memory_order_relaxed);
                response.status(401).header("WWW-Authenticate", "Bearer");
                response.send(json_answer("error", "unauthorized"));
                return;
            }
        }
        std::string topic;
        if (!push::percent_decode(request.path().substr(std::string_view("/publish/").size()), topic, false) ||
            !push::valid_topic(topic, options.max_topic_bytes)) {
            response.status(400).send(json_answer("error", "the topic is 1 to " +
                                                               std::to_string(options.max_topic_bytes) +
                                                               " bytes of UTF-8 without control characters, "
                                                               "percent-encoded"));
            return;
        }
        const Opcode opcode = is_valid_utf8(request.body) ? Opcode::Text : Opcode::Binary;
        const std::uint64_t subscribers = server.subscribers(topic);
        const PublishStatus status = server.publish(topic, request.body, opcode);
        if (status != PublishStatus::Success) {
            counters.backpressure.fetch_add(1, std::memory_order_relaxed);
            response.status(503).header("Retry-After", "1");
            response.send(json_answer("error", "the broadcast ring is full; retry"));
            return;
        }
        counters.accepted.fetch_add(1, std::memory_order_relaxed);
        if (mesh) {
            const unsigned reached = mesh->forward(topic, request.body, opcode);
            counters.forward_missed.fetch_add(mesh->siblings() - reached, std::memory_order_relaxed);
        }
        std::string body = "{\"topic\":";
        tools::append_json_string(body, topic);
        body.append(",\"subscribers\":").append(std::to_string(subscribers)).append("}");
        response.send(body);
    });
    server.get("/metrics", [&](const Request&, Response& response) {
        response.header("Content-Type", "text/plain; version=0.0.4");
        response.send(push::render_metrics(server.stats(), counters, worker));
    });
    server.get("/", [](const Request&, Response& response) {
        response.header("Content-Type", "text/html; charset=utf-8");
        response.send(push::kPage);
    });
    server.get("/health", [](const Request&, Response& response) { response.send("ok\n"); });

    g_server = &server;
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGPIPE, SIG_IGN);

    const Result<std::uint16_t> port = server.listen();
    if (!port) {
        std::fprintf(stderr, "surge-push: cannot listen: %s\n", port.error().message().c_str());
        return 1;
    }
    if (mesh) {
        mesh->start([&](std::string_view topic, std::string_view message, Opcode opcode) {
            // From a sibling: wait a little for room rather than lose it (this thread serves no one else).
            if (server.publish(topic, message, opcode, std::chrono::milliseconds(100)) == PublishStatus::Success) {
                counters.forwarded.fetch_add(1, std::memory_order_relaxed);
            }
        });
    }
    ready(port.value(), server.thread_count());
    const tools::MemoryReturn memory_return(server);  // gives a burst's memory back once it has passed
    const Result<void> ran = server.run();
    g_server = nullptr;
    mesh.reset();  // joins the receiving thread before the server goes
    if (!ran) {
        std::fprintf(stderr, "surge-push: %s\n", ran.error().message().c_str());
        return 1;
    }
    return 0;
}

void announce(bool tls, std::uint16_t port, unsigned workers, unsigned threads) {
    const char* s = tls ? "s" : "";
    std::printf("surge-push: http%s://127.0.0.1:%u/ (page), ws%s://127.0.0.1:%u/ws?topics=news (subscribe), "
                "POST http%s://127.0.0.1:%u/publish/news (publish); %u worker%s x %u threads; Ctrl-C stops\n",
                s, port, s, port, s, port, workers, workers == 1 ? "" : "s", threads);
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    const int status = tools::parse_server_command_line(
        "surge-push", argc, argv, usage, options.server, [&](std::string_view flag, const char* value) {
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
            } else if (flag == "--max-per-address" && numeric && number <= 1'000'000) {
                options.max_per_address = static_cast<std::uint32_t>(number);
            } else {
                return false;
            }
            return true;
        });
    if (status >= 0) return status;
    if (options.token.empty()) {
        if (const char* from_environment = std::getenv("SURGE_PUSH_TOKEN")) options.token = from_environment;
    }
    const pid_t group = ::getpid();  // names the workers' publish sockets
    return tools::run_servers(
        "surge-push", options.server,
        [&](unsigned worker, const auto& ready) { return serve(options, worker, group, ready); },
        [&](std::uint16_t port, unsigned workers, unsigned threads) {
            announce(!options.server.config.tls_cert_file.empty(), port, workers, threads);
        });
}
