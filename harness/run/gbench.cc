// gbench.cc — the C wrapper around Google Benchmark (see gbench.h). The only C++
// in quintet. A reporter subclass forwards each repetition to C and prints nothing.
#include "run/gbench.h"

#include <benchmark/benchmark.h>

#include <cstring>
#include <string>
#include <vector>

namespace {

// Forwards every non-aggregate run to the C callback.
class ForwardingReporter : public benchmark::BenchmarkReporter {
  public:
    ForwardingReporter(void (*cb)(void *, const qt_gb_rep_t *), void *arg) : cb_(cb), arg_(arg) {}
    bool ReportContext(const Context &) override { return true; }
    void ReportRuns(const std::vector<Run> &runs) override
    {
        for (const Run &run : runs) {
            if (run.run_type == Run::RT_Aggregate) continue;
            qt_gb_rep_t rep;
            std::memset(&rep, 0, sizeof rep);
            rep.repetition = static_cast<int>(run.repetition_index < 0 ? delivered : run.repetition_index);
            rep.iterations = run.iterations;
            // Adjusted times are in the run's time unit; the multiplier converts seconds to it.
            double mult = benchmark::GetTimeUnitMultiplier(run.time_unit);
            rep.real_time_s = run.GetAdjustedRealTime() / mult;
            rep.cpu_time_s = run.GetAdjustedCPUTime() / mult;
            rep.error = error_of(run);
            rep.error_message = rep.error ? message_of(run) : nullptr;
            names_.clear();
            for (const auto &kv : run.counters) {
                if (rep.n_counters == QT_GB_MAX_COUNTERS) break;
                names_.push_back(kv.first);
            }
            int i = 0;
            for (const auto &kv : run.counters) {
                if (i == QT_GB_MAX_COUNTERS) break;
                rep.counter_names[i] = names_[i].c_str();
                rep.counter_values[i] = kv.second.value;
                i++;
            }
            rep.n_counters = i;
            cb_(arg_, &rep);
            delivered++;
        }
    }
    int delivered = 0;

  private:
    // 1.7 has error_occurred; 1.8 has skipped. Detect with SFINAE.
    template <typename R> static auto error_of_impl(const R &r, int) -> decltype(r.error_occurred, int())
    {
        return r.error_occurred ? 1 : 0;
    }
    template <typename R> static int error_of_impl(const R &r, long) { return r.skipped ? 1 : 0; }
    static int error_of(const Run &r) { return error_of_impl(r, 0); }
    template <typename R> static auto message_of_impl(const R &r, int) -> decltype(r.error_message, (const char *)0)
    {
        return r.error_message.c_str();
    }
    template <typename R> static const char *message_of_impl(const R &r, long) { return r.skip_message.c_str(); }
    static const char *message_of(const Run &r) { return message_of_impl(r, 0); }

    void (*cb_)(void *, const qt_gb_rep_t *);
    void *arg_;
    std::vector<std::string> names_;
};

} // namespace

extern "C" {

// Initialise Google Benchmark with no flags of ours.
void qt_gb_init(void)
{
    static bool done = false;
    if (done) return;
    int argc = 1;
    char name[] = "quintet";
    char *argv[] = {name, nullptr};
    benchmark::Initialize(&argc, argv);
    done = true;
}

// Register, run and unregister one benchmark.
int qt_gb_run_one(const char *name, void (*fn)(void *, void *), void *arg, const qt_gb_opts_t *opts,
                  void (*rep_cb)(void *, const qt_gb_rep_t *), void *cb_arg)
{
    qt_gb_init();
    benchmark::ClearRegisteredBenchmarks();
    auto *b = benchmark::RegisterBenchmark(name, [fn, arg](benchmark::State &st) { fn(&st, arg); });
    b->Repetitions(opts->repetitions > 0 ? opts->repetitions : 1);
    if (opts->min_time > 0) b->MinTime(opts->min_time);
    if (opts->manual_time) b->UseManualTime();
    b->ReportAggregatesOnly(false);
    b->Unit(benchmark::kSecond);
    ForwardingReporter reporter(rep_cb, cb_arg);
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::ClearRegisteredBenchmarks();
    return reporter.delivered;
}

int qt_gb_keep_running(void *state) { return static_cast<benchmark::State *>(state)->KeepRunning() ? 1 : 0; }

void qt_gb_set_iteration_time(void *state, double seconds)
{
    static_cast<benchmark::State *>(state)->SetIterationTime(seconds);
}

void qt_gb_set_counter(void *state, const char *name, double total)
{
    static_cast<benchmark::State *>(state)->counters[name] =
        benchmark::Counter(total, benchmark::Counter::kAvgIterations);
}

void qt_gb_skip_with_error(void *state, const char *message)
{
    static_cast<benchmark::State *>(state)->SkipWithError(message);
}

int64_t qt_gb_iterations(void *state) { return static_cast<benchmark::State *>(state)->iterations(); }

void qt_gb_pause_timing(void *state) { static_cast<benchmark::State *>(state)->PauseTiming(); }

void qt_gb_resume_timing(void *state) { static_cast<benchmark::State *>(state)->ResumeTiming(); }

// The Debian/Ubuntu packages do not export a version symbol; the build passes it in.
const char *qt_gb_version(void)
{
#ifdef QT_GBENCH_VERSION
    return QT_GBENCH_VERSION;
#else
    return "unknown";
#endif
}

} // extern "C"
