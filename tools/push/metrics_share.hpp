// --workers: one scrape of any worker reports every worker. Layer: tools.
// The parent maps a shared region before it forks the workers, a slot per worker. Each worker writes its
// figures (tools/push/metrics.hpp) into its own slot once a second and again whenever it serves /metrics;
// a scrape reads every slot. So a scrape sees the answering worker as of now and its siblings as of the last
// second at most, and the series never flap between workers. Each slot has a robust process-shared mutex, held
// for a copy of a few KiB: a worker that died mid-write leaves its figures unread, not torn.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "tools/push/metrics.hpp"

namespace surge::push {

class MetricsShare {
public:
    // Room for `workers` slots of up to `shards` shards each; null when the region cannot be mapped.
    static std::unique_ptr<MetricsShare> create(unsigned workers, unsigned shards);
    ~MetricsShare();
    MetricsShare(const MetricsShare&) = delete;
    MetricsShare& operator=(const MetricsShare&) = delete;

    // Into slot figures.worker (shards past the slot's room are left out).
    void write(const WorkerFigures& figures) noexcept;
    // Every slot written at least once, in worker order.
    std::vector<WorkerFigures> read_all() const;

private:
    MetricsShare(void* region, std::size_t bytes, unsigned workers, unsigned shards) noexcept
        : region_(region), bytes_(bytes), workers_(workers), shards_(shards) {}
    struct Slot;
    Slot* slot(unsigned worker) const noexcept;
    static bool lock(Slot& slot) noexcept;
    std::size_t slot_bytes() const noexcept;

    void* region_;
    std::size_t bytes_;
    unsigned workers_;
    unsigned shards_;
};

// Calls `take()` and writes what it returns into the share once a second, on a thread of its own, until destroyed.
class MetricsShareWriter {
public:
    MetricsShareWriter(MetricsShare& share, std::function<WorkerFigures()> take);
    ~MetricsShareWriter();
    MetricsShareWriter(const MetricsShareWriter&) = delete;
    MetricsShareWriter& operator=(const MetricsShareWriter&) = delete;

private:
    std::mutex lock_;
    std::condition_variable wake_;
    bool done_ = false;
    std::thread thread_;
};

}  // namespace surge::push
