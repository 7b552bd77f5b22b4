// surge-push's shared metrics (--workers): what one process writes, another reads whole.
#include "tools/push/metrics_share.hpp"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

using namespace surge;
using namespace surge::push;

namespace {

WorkerFigures figures(unsigned worker, std::size_t shards, std::uint64_t base) {
    WorkerFigures f;
    f.worker = worker;
    f.shards.resize(shards);
    for (std::size_t i = 0; i < shards; ++i) {
        f.shards[i].connections = base + i;
        f.shards[i].closes[0] = base * 10 + i;
    }
    f.pushes[static_cast<std::size_t>(PushCount::Accepted)] = base;
    f.process.resident_bytes = base * 4096;
    return f;
}

}  // namespace

TEST_CASE("metrics share: slots written are read back whole, unwritten ones are left out, shards past room cut") {
    const auto share = MetricsShare::create(3, 2);
    REQUIRE(share);
    CHECK(share->read_all().empty());
    share->write(figures(2, 2, 7));
    share->write(figures(0, 5, 1));  // room for 2 shards only
    share->write(figures(9, 1, 1));  // no such worker: ignored
    share->write(figures(1, 0, 3));  // a worker not yet running has no shards
    REQUIRE(share->read_all().size() == 3);
    CHECK(share->read_all()[1].shards.empty());
    share->write(figures(1, 0, 3));
    const std::vector<WorkerFigures> all = share->read_all();
    REQUIRE(all.size() == 3);
    CHECK(all[0].worker == 0);
    CHECK(all[0].shards.size() == 2);
    CHECK(all[0].shards[1].connections == 2);
    CHECK(all[2].worker == 2);
    CHECK(all[2].shards[0].closes[0] == 70);
    CHECK(all[2].pushes[static_cast<std::size_t>(PushCount::Accepted)] == 7);
    CHECK(all[2].process.resident_bytes == 7 * 4096);
    // A rendering of both names both workers.
    const std::string text = render_metrics(all);
    CHECK(text.find("surge_connections{worker=\"2\",shard=\"1\"} 8\n") != std::string::npos);
    CHECK(text.find("surge_closes_total{worker=\"0\",shard=\"1\",code=\"1000\"} 11\n") != std::string::npos);
    CHECK(text.find("surge_publish_requests_total{worker=\"2\",outcome=\"accepted\"} 7\n") != std::string::npos);
}

TEST_CASE("metrics share: what a forked process writes, its parent reads") {
    const auto share = MetricsShare::create(2, 4);
    REQUIRE(share);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        for (std::uint64_t round = 1; round <= 200; ++round) share->write(figures(1, 4, round));
        ::_exit(0);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    const std::vector<WorkerFigures> all = share->read_all();
    REQUIRE(all.size() == 1);
    CHECK(all[0].worker == 1);
    CHECK(all[0].shards[3].connections == 203);
}
