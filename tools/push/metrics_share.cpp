#include "tools/push/metrics_share.hpp"

#include <sys/mman.h>

#include <chrono>
#include <cstring>
#include <type_traits>

namespace surge::push {

static_assert(std::is_trivially_copyable_v<ShardStats>, "slots hold ShardStats as bytes");
static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "the sequence is shared between processes");

// A slot: the header, then `shards_` ShardStats.
struct MetricsShare::Slot {
    std::atomic<std::uint64_t> sequence;  // odd while written; 0: never written
    std::uint32_t shard_count;
    std::array<std::uint64_t, kPushCounts> pushes;
    ProcessFigures process;
    ShardStats* shards() noexcept { return reinterpret_cast<ShardStats*>(this + 1); }
};

std::unique_ptr<MetricsShare> MetricsShare::create(unsigned workers, unsigned shards) {
    const std::size_t slot = sizeof(Slot) + std::size_t{shards} * sizeof(ShardStats);
    const std::size_t bytes = slot * workers;
    void* region = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED) return nullptr;  // zero-filled: every sequence 0, never written
    return std::unique_ptr<MetricsShare>(new MetricsShare(region, bytes, workers, shards));
}

MetricsShare::~MetricsShare() { ::munmap(region_, bytes_); }

std::size_t MetricsShare::slot_bytes() const noexcept { return sizeof(Slot) + std::size_t{shards_} * sizeof(ShardStats); }

MetricsShare::Slot* MetricsShare::slot(unsigned worker) const noexcept {
    return reinterpret_cast<Slot*>(static_cast<char*>(region_) + worker * slot_bytes());
}

void MetricsShare::write(const WorkerFigures& figures) noexcept {
    if (figures.worker >= workers_) return;
    Slot& s = *slot(figures.worker);
    const std::uint64_t before = s.sequence.load(std::memory_order_relaxed);
    s.sequence.store(before + 1, std::memory_order_relaxed);  // odd: being written
    std::atomic_thread_fence(std::memory_order_release);
    const std::size_t shards = std::min<std::size_t>(figures.shards.size(), shards_);
    s.shard_count = static_cast<std::uint32_t>(shards);
    s.pushes = figures.pushes;
    s.process = figures.process;
    std::memcpy(static_cast<void*>(s.shards()), figures.shards.data(), shards * sizeof(ShardStats));
    s.sequence.store(before + 2, std::memory_order_release);
}

std::vector<WorkerFigures> MetricsShare::read_all() const {
    std::vector<WorkerFigures> all;
    for (unsigned w = 0; w < workers_; ++w) {
        Slot& s = *slot(w);
        for (int attempt = 0; attempt < 1000; ++attempt) {
            const std::uint64_t before = s.sequence.load(std::memory_order_acquire);
            if (before == 0) break;  // never written (a worker still starting)
            if (before & 1) continue;
            WorkerFigures f;
            f.worker = w;
            const std::uint32_t count = std::min<std::uint32_t>(s.shard_count, shards_);
            f.shards.resize(count);
            f.pushes = s.pushes;
            f.process = s.process;
            std::memcpy(static_cast<void*>(f.shards.data()), s.shards(), count * sizeof(ShardStats));
            std::atomic_thread_fence(std::memory_order_acquire);
            if (s.sequence.load(std::memory_order_relaxed) != before) continue;  // written meanwhile: again
            all.push_back(std::move(f));
            break;
        }
    }
    return all;
}

MetricsShareWriter::MetricsShareWriter(MetricsShare& share, std::function<WorkerFigures()> take) {
    thread_ = std::thread([this, &share, take = std::move(take)] {
        std::unique_lock<std::mutex> hold(lock_);
        while (!done_) {
            hold.unlock();
            share.write(take());
            hold.lock();
            wake_.wait_for(hold, std::chrono::seconds(1), [this] { return done_; });
        }
    });
}

MetricsShareWriter::~MetricsShareWriter() {
    {
        const std::lock_guard<std::mutex> hold(lock_);
        done_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

}  // namespace surge::push
