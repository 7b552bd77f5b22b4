// What one receiving connection has seen of each publisher's numbered stream (the sequence mark of stamp.hpp),
// so that a load run can say whether every published message reached every subscriber, not only how many
// arrived in all. Layer: tools. One per connection, used by the thread that owns it; it is reset when the
// connection (re)opens, and the first message from a publisher starts that publisher's stream there.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace surge::loadgen {

struct SequenceCounts {
    std::uint64_t checked = 0;   // messages that carried a sequence mark
    std::uint64_t lost = 0;      // numbers skipped: a message arrived and some before it never did
    std::uint64_t repeated = 0;  // a number at or below one already seen (a duplicate, or one out of order)
};

class SequenceCheck {
public:
    void reset() { next_.clear(); }
    bool empty() const { return next_.empty(); }

    void see(std::uint32_t publisher, std::uint32_t sequence, SequenceCounts& counts) {
        ++counts.checked;
        for (auto& [who, next] : next_) {
            if (who != publisher) continue;
            if (sequence < next) {
                ++counts.repeated;
            } else {
                counts.lost += sequence - next;
                next = sequence + 1;
            }
            return;
        }
        next_.emplace_back(publisher, sequence + 1);  // a publisher is rarely more than one: a short list
    }

private:
    std::vector<std::pair<std::uint32_t, std::uint32_t>> next_;  // publisher, the number expected next
};

}  // namespace surge::loadgen
