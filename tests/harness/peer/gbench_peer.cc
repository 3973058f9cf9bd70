// gbench_peer.cc — a tiny Google Benchmark program standing in for a foreign peer (e.g. the PyTorch
// timings of suites/peers/): two benchmark families with arguments, a user counter and one error, so
// that tests/harness/test_gbjson.c can check `quintet import` on JSON written by the real library.
// Built by `make tests` into build/tests/harness/gbench_peer; run it with
// --benchmark_out=F.json --benchmark_out_format=json --benchmark_repetitions=3.
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

// Sum of a vector of n floats; counter "elements" per iteration.
static void BM_sum(benchmark::State &state)
{
    std::vector<float> v(static_cast<size_t>(state.range(0)), 1.5f);
    for (auto _ : state) {
        float s = 0;
        for (float x : v) s += x;
        benchmark::DoNotOptimize(s);
    }
    state.counters["elements"] = static_cast<double>(state.range(0));
}
BENCHMARK(BM_sum)->Arg(64)->Arg(4096);

// A copy with named arguments (name "BM_copy/bytes:1024").
static void BM_copy(benchmark::State &state)
{
    std::vector<char> a(static_cast<size_t>(state.range(0)), 'x'), b(a.size());
    for (auto _ : state) {
        std::memcpy(b.data(), a.data(), a.size());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_copy)->ArgName("bytes")->Arg(1024);

// A benchmark that reports an error (imported as a failed case).
static void BM_broken(benchmark::State &state)
{
    for (auto _ : state) {
        state.SkipWithError("no device");
        break;
    }
}
BENCHMARK(BM_broken);

BENCHMARK_MAIN();
