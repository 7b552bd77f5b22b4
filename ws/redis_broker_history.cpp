// RedisBroker's history reads: one topic (history()), or many in one round trip (histories(), what a node reads
// when its connection comes back). Both run the history script (redis_broker.cpp) on a pooled connection.
#include "surge/ws/redis_broker.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "surge/core/log.hpp"
#include "surge/ws/redis_reply.hpp"

namespace surge {

using detail::number_of;
using detail::opcode_of;
using detail::Reply;
using detail::text_of;
using detail::unknown_script;

namespace {

// The history script's answer, {epoch, last offset, entries}, for a read after `after` (kNewest: the newest,
// which the script lists newest first). Not ok when the answer is not one.
BrokerHistory read_history(std::string_view topic, const redisReply* reply, std::uint64_t after) {
    BrokerHistory history;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
        !number_of(reply->element[1], history.last_offset)) {
        if (reply && reply->type == REDIS_REPLY_ERROR) {
            SURGE_LOG_WARN("redis: history of '%.*s' failed: %s", static_cast<int>(topic.size()), topic.data(),
                           std::string(text_of(reply)).c_str());
        }
        return history;
    }
    history.epoch = std::string(text_of(reply->element[0]));
    const redisReply* entries = reply->element[2];
    if (entries->type == REDIS_REPLY_ARRAY) {
        history.entries.reserve(entries->elements);
        for (std::size_t i = 0; i < entries->elements; ++i) {
            const redisReply* entry = entries->element[i];
            if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2) continue;
            const std::string_view id = text_of(entry->element[0]);
            BrokerEntry kept;
            if (std::from_chars(id.data(), id.data() + id.size(), kept.offset).ec != std::errc{}) continue;
            const redisReply* fields = entry->element[1];
            for (std::size_t f = 0; f + 1 < fields->elements; f += 2) {
                const std::string_view name = text_of(fields->element[f]);
                const std::string_view value = text_of(fields->element[f + 1]);
                if (name == "d") kept.data = std::string(value);
                else if (name == "k") kept.opcode = opcode_of(value);
                else if (name == "t") {
                    std::from_chars(value.data(), value.data() + value.size(), kept.published_unix_ms);
                }
            }
            history.entries.push_back(std::move(kept));
        }
        if (after == Broker::kNewest) std::reverse(history.entries.begin(), history.entries.end());
    }
    history.ok = true;
    return history;
}

}  // namespace

std::vector<std::string> RedisBroker::history_arguments(const HistoryQuery& query) const {
    return {key('s', query.topic), key('m', query.topic),
            query.after == kNewest ? "-" : std::to_string(query.after), std::to_string(query.limit),
            std::to_string(std::max(options_.epoch_seconds, options_.history_seconds))};
}

BrokerHistory RedisBroker::history(std::string_view topic, std::uint64_t after, std::size_t limit) {
    const std::vector<std::string> arguments = history_arguments({topic, after, limit});
    bool sent = false;  // a read: a lost answer changed nothing
    const Reply reply(script(std::string(redis_history_script()), history_sha_,
                             {"2", arguments[0], arguments[1], arguments[2], arguments[3], arguments[4]}, sent));
    return read_history(topic, reply.get(), after);
}

std::vector<BrokerHistory> RedisBroker::histories(std::span<const HistoryQuery> queries) {
    std::vector<BrokerHistory> answers(queries.size());
    std::vector<std::size_t> unanswered = pipeline_histories(queries, answers);
    if (unanswered.empty()) return answers;
    // Redis did not have the script (it restarted, say): loaded once, then those are asked again together.
    bool sent = false;
    const Reply loaded(command({"SCRIPT", "LOAD", redis_history_script()}, sent));
    if (!loaded || loaded->type == REDIS_REPLY_ERROR) return answers;  // not ok: the caller tries again later
    std::vector<HistoryQuery> again;
    again.reserve(unanswered.size());
    for (const std::size_t i : unanswered) again.push_back(queries[i]);
    std::vector<BrokerHistory> second(again.size());
    const std::vector<std::size_t> still = pipeline_histories(again, second);
    for (std::size_t j = 0; j < again.size(); ++j) answers[unanswered[j]] = std::move(second[j]);
    for (const std::size_t j : still) answers[unanswered[j]] = history(again[j].topic, again[j].after, again[j].limit);
    return answers;
}

std::vector<std::size_t> RedisBroker::pipeline_histories(std::span<const HistoryQuery> queries,
                                                        std::vector<BrokerHistory>& answers) {
    std::vector<std::size_t> unknown;
    redisContext* context = borrow();
    if (!context) return unknown;  // every answer stays not ok
    // Every command is written before any answer is read: one round trip for all (hiredis copies the arguments
    // into its output buffer, and Redis holds the answers of a normal client whatever their size).
    std::size_t written = 0;
    for (const HistoryQuery& query : queries) {
        const std::vector<std::string> arguments = history_arguments(query);
        const std::string_view parts[] = {"EVALSHA",    history_sha_, "2",          arguments[0],
                                          arguments[1], arguments[2], arguments[3], arguments[4]};
        const char* argv[std::size(parts)];
        std::size_t lengths[std::size(parts)];
        for (std::size_t a = 0; a < std::size(parts); ++a) {
            argv[a] = parts[a].data();
            lengths[a] = parts[a].size();
        }
        if (redisAppendCommandArgv(context, static_cast<int>(std::size(argv)), argv, lengths) != REDIS_OK) break;
        ++written;
    }
    bool lost = written < queries.size();
    for (std::size_t i = 0; i < written; ++i) {
        void* raw = nullptr;
        if (redisGetReply(context, &raw) != REDIS_OK || !raw) {
            lost = true;  // the rest stay not ok
            break;
        }
        const Reply reply(static_cast<redisReply*>(raw));
        if (unknown_script(reply.get())) unknown.push_back(i);
        else answers[i] = read_history(queries[i].topic, reply.get(), queries[i].after);
    }
    // A connection with answers still unread must not serve another command.
    if (lost) redisFree(context);
    else give_back(context);
    return unknown;
}

}  // namespace surge
