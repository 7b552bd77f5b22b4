#include "tools/push/metrics_share.hpp"

#include <pthread.h>
#include <sys/mman.h>

#include <cerrno>

#include <chrono>
#include <cstring>
#include <type_traits>

namespace surge::push {

static_assert(std::is_trivially_copyable_v<ShardStats>, "slots hold ShardStats as bytes");

// A slot: the header, then `shards_` ShardStats. Its lock is a robust, process-shared mutex: a worker that dies
// holding it leaves the next taker EOWNERDEAD, and that slot is read as never written (it may be half written).
struct MetricsShare::Slot {
    pthread_mutex_t lock;
    bool written;
    std::uint32_t shard_count;
    std::array<std::uint64_t, kPushCounts> pushes;
    ProcessFigures process;
    HistoryStats history;
    bool has_broker;
    BrokerStats broker;
    ShardStats* shards() noexcept { return reinterpret_cast<ShardStats*>(this + 1); }
};

std::unique_ptr<MetricsShare> MetricsShare::create(unsigned workers, unsigned shards) {
    const std::size_t slot = sizeof(Slot) + std::size_t{shards} * sizeof(ShardStats);
    const std::size_t bytes = slot * workers;
    void* region = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED) return nullptr;  // zero-filled: no slot written
    auto share = std::unique_ptr<MetricsShare>(new MetricsShare(region, bytes, workers, shards));
    pthread_mutexattr_t attributes;
    pthread_mutexattr_init(&attributes);
    pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST);
    for (unsigned w = 0; w < workers; ++w) pthread_mutex_init(&share->slot(w)->lock, &attributes);
    pthread_mutexattr_destroy(&attributes);
    return share;
}

MetricsShare::~MetricsShare() { ::munmap(region_, bytes_); }

std::size_t MetricsShare::slot_bytes() const noexcept { return sizeof(Slot) + std::size_t{shards_} * sizeof(ShardStats); }

MetricsShare::Slot* MetricsShare::slot(unsigned worker) const noexcept {
    return reinterpret_cast<Slot*>(static_cast<char*>(region_) + worker * slot_bytes());
}

bool MetricsShare::lock(Slot& slot) noexcept {
    const int taken = pthread_mutex_lock(&slot.lock);
    if (taken == EOWNERDEAD) {  // its writer died mid-write: what it left is not to be read
        slot.written = false;
        pthread_mutex_consistent(&slot.lock);
        return true;
    }
    return taken == 0;
}

void MetricsShare::write(const WorkerFigures& figures) noexcept {
    if (figures.worker >= workers_) return;
    Slot& s = *slot(figures.worker);
    if (!lock(s)) return;
    const std::size_t shards = std::min<std::size_t>(figures.shards.size(), shards_);
    s.shard_count = static_cast<std::uint32_t>(shards);
    s.pushes = figures.pushes;
    s.process = figures.process;
    s.history = figures.history;
    s.has_broker = figures.has_broker;
    s.broker = figures.broker;
    if (shards > 0) std::memcpy(static_cast<void*>(s.shards()), figures.shards.data(), shards * sizeof(ShardStats));
    s.written = true;
    pthread_mutex_unlock(&s.lock);
}

std::vector<WorkerFigures> MetricsShare::read_all() const {
    std::vector<WorkerFigures> all;
    for (unsigned w = 0; w < workers_; ++w) {
        Slot& s = *slot(w);
        WorkerFigures f;
        f.worker = w;
        if (!lock(s)) continue;
        const bool written = s.written;
        if (written) {
            const std::uint32_t count = std::min<std::uint32_t>(s.shard_count, shards_);
            try {
                f.shards.resize(count);
            } catch (const std::bad_alloc&) {
                pthread_mutex_unlock(&s.lock);
                throw;
            }
            f.pushes = s.pushes;
            f.process = s.process;
            f.history = s.history;
            f.has_broker = s.has_broker;
            f.broker = s.broker;
            if (count > 0) std::memcpy(static_cast<void*>(f.shards.data()), s.shards(), count * sizeof(ShardStats));
        }
        pthread_mutex_unlock(&s.lock);
        if (written) all.push_back(std::move(f));  // a worker still starting has written nothing yet
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
