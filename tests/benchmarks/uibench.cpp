// poolscope-uibench: what the timeline costs over a complete run record.
//
//   poolscope-uibench [--quick] [--tasks N] [--workers N] [--only CASE]...
//
// Builds a record of 1,000,000 finished tasks on 8 workers (back-to-back
// tasks of 2-14 µs with short gaps and a few idle stretches, four task names,
// some failed and cancelled), shows it in a 1600x400 TimelineWidget on the
// offscreen platform and prints one figure per line, `name value unit #
// note`: paintEvent times (median and p99 over the frames of each case)
// fitted to the whole run, zoomed to 1 ms, during a pan sweep and a zoom
// sweep; the cost of indexing the record and of a live tick; the bytes per
// row of the timeline's own index. Speed is measured here, not asserted:
// the exit status is 1 only when a sanity check fails (a fitted paint that
// does not account for every task).

#include "timeline/timelinewidget.h"

#include <poolscope/recording.h>

#include <QApplication>
#include <QElapsedTimer>
#include <QImage>
#include <QThread>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#ifndef POOLSCOPE_BENCH_BUILD_TYPE
#define POOLSCOPE_BENCH_BUILD_TYPE "unknown"
#endif

using namespace poolscope;

namespace {

constexpr qint64 kUs = 1'000;
constexpr qint64 kMs = 1'000'000;
constexpr double kFrameMs = 16.0;

double percentile(std::vector<double> v, double p)
{
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    const auto rank = std::size_t(std::ceil(p / 100.0 * double(v.size())));
    return v[std::min(v.size() - 1, rank > 0 ? rank - 1 : 0)];
}

void line(const std::string& name, double value, const char* unit, const std::string& note)
{
    std::printf("%-44s %12.3f %-8s # %s\n", name.c_str(), value, unit, note.c_str());
    std::fflush(stdout);
}

/// Tasks of `workers` workers, added in the order they end (as a Monitor
/// drains them), each worker's in start order.
std::shared_ptr<RunRecord> makeRecord(quint64 tasks, int workers)
{
    const quint32 names[] = {NameTable::intern("primes"), NameTable::intern("hash"),
                             NameTable::intern("sleep"), NameTable::intern("resize")};
    auto rec = std::make_shared<RunRecord>(std::max<quint64>(tasks, 1));
    std::mt19937_64 rng(42);
    std::vector<qint64> next(std::size_t(workers), 1'000 * kMs); // next start per worker
    std::vector<TaskSpan> pending(static_cast<std::size_t>(workers));
    quint64 id = 1;
    auto draw = [&](int w) {
        TaskSpan s;
        s.taskId = id++;
        s.worker = w;
        qint64 gap = qint64(rng() % 3) * 500; // 0, 0.5 or 1 µs
        if (rng() % 20000 == 0)
            gap += 2 * kMs; // now and then an idle stretch
        s.startNs = next[std::size_t(w)] + gap;
        s.endNs = s.startNs + 2 * kUs + qint64(rng() % (12 * kUs));
        s.enqueueNs = s.startNs - kUs;
        s.cpuNs = (s.endNs - s.startNs) * 9 / 10;
        s.gilWaitNs = rng() % 50 == 0 ? kUs : 0;
        s.nameId = names[rng() % 4];
        s.status = s.taskId % 1000 == 0   ? TaskStatus::Failed
                   : s.taskId % 1500 == 0 ? TaskStatus::Cancelled
                                          : TaskStatus::Succeeded;
        s.core = qint16(w);
        next[std::size_t(w)] = s.endNs;
        pending[std::size_t(w)] = s;
    };
    for (int w = 0; w < workers; ++w)
        draw(w);
    for (quint64 n = 0; n < tasks; ++n) {
        int first = 0;
        for (int w = 1; w < workers; ++w) {
            if (pending[std::size_t(w)].endNs < pending[std::size_t(first)].endNs)
                first = w;
        }
        rec->add(pending[std::size_t(first)]);
        draw(first);
    }
    return rec;
}

double threadCpuMs()
{
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) / 1e6;
}

struct Frames {
    std::vector<double> paintMs; // paintEvent wall time
    std::vector<double> cpuMs;   // this thread's CPU time for the whole render()
    TimelineWidget::PaintStats worst;
};

/// Renders the widget once and returns its paintEvent time.
double paintOnce(TimelineWidget& w, QImage& target, Frames& f)
{
    const double cpu0 = threadCpuMs();
    w.render(&target);
    f.cpuMs.push_back(threadCpuMs() - cpu0);
    const auto st = w.lastPaintStats();
    const double ms = double(st.elapsedNs) / 1e6;
    if (f.paintMs.empty() || ms > *std::max_element(f.paintMs.begin(), f.paintMs.end()))
        f.worst = st;
    f.paintMs.push_back(ms);
    return ms;
}

void report(const std::string& name, const Frames& f, const std::string& what)
{
    const double med = percentile(f.paintMs, 50), p99 = percentile(f.paintMs, 99);
    const double mx = f.paintMs.empty() ? 0 : *std::max_element(f.paintMs.begin(), f.paintMs.end());
    char note[400];
    std::snprintf(note, sizeof note,
                  "%s; %zu frames, max %.2f ms (%s one %.0f ms frame), render() thread CPU "
                  "median %.2f ms; slowest: %lld rows read, %lld blocks, %lld drawn one by one, "
                  "%lld columns",
                  what.c_str(), f.paintMs.size(), mx, mx < kFrameMs ? "within" : "OVER", kFrameMs,
                  percentile(f.cpuMs, 50), f.worst.spansVisited, f.worst.blocksVisited,
                  f.worst.spansDrawn, f.worst.columnsAggregated);
    line(name + ".median", med, "ms", note);
    line(name + ".p99", p99, "ms", what);
}

} // namespace

int main(int argc, char** argv)
{
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);

    bool quick = false;
    quint64 tasks = 1'000'000;
    int workers = 8;
    std::vector<std::string> only; // case names to run (empty: all)
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--quick") {
            quick = true;
            tasks = 20'000;
        } else if (a == "--tasks" && i + 1 < argc) {
            tasks = std::strtoull(argv[++i], nullptr, 10);
        } else if (a == "--workers" && i + 1 < argc) {
            workers = std::max(1, std::atoi(argv[++i]));
        } else if (a == "--only" && i + 1 < argc) {
            only.push_back(argv[++i]);
        } else {
            std::fprintf(stderr, "usage: poolscope-uibench [--quick] [--tasks N] [--workers N] "
                                 "[--only fit|zoom_1ms|pan_sweep|zoom_sweep|live]...\n");
            return 2;
        }
    }
    tasks = std::clamp<quint64>(tasks, 1, RunRecord::kMaxLimit);
    const int width = 1600, height = 400;
    std::printf("# poolscope-uibench: build %s, Qt %s, %d cores, platform %s, %llu tasks on %d "
                "workers, widget %dx%d%s\n",
                POOLSCOPE_BENCH_BUILD_TYPE, qVersion(), QThread::idealThreadCount(),
                qPrintable(QGuiApplication::platformName()), qulonglong(tasks), workers, width,
                height, quick ? ", --quick (figures mean nothing)" : "");
    const std::string buildType = POOLSCOPE_BENCH_BUILD_TYPE;
    if (buildType != "Release" && buildType != "RelWithDebInfo")
        std::printf("# warning: not an optimised build; figures are not comparable\n");
    std::fflush(stdout);

    const std::shared_ptr<RunRecord> record = makeRecord(tasks, workers);
    int failures = 0;

    TimelineWidget w;
    w.resize(width, height);
    QImage target(w.size(), QImage::Format_ARGB32_Premultiplied);

    // ---- index
    {
        std::vector<double> ms;
        for (int r = 0; r < (quick ? 1 : 5); ++r) {
            QElapsedTimer t;
            t.start();
            w.setRecord(record);
            ms.push_back(double(t.nsecsElapsed()) / 1e6);
        }
        line("timeline.index.build", percentile(ms, 50), "ms",
             "setRecord(): summaries of every lane, median of " + std::to_string(ms.size()));
        const double perRow = double(w.indexBytes()) / double(record->size());
        line("timeline.index.bytes_per_row", perRow, "B",
             "the timeline's own index (" + std::to_string(w.indexBytes())
                 + " B); the record "
                   "itself: "
                 + std::to_string(record->bytes() / std::max<quint64>(1, record->size()))
                 + " B/row");
    }

    auto wants = [&only](const char* name) {
        return only.empty() || std::find(only.begin(), only.end(), name) != only.end();
    };

    // ---- fitted to the whole run
    if (wants("fit")) {
        Frames f;
        w.fitToData();
        paintOnce(w, target, f); // warm-up: colour and layout caches
        f = {};
        for (int i = 0; i < (quick ? 5 : 60); ++i)
            paintOnce(w, target, f);
        report("timeline.paint.fit", f, "whole run in view");
        const auto st = w.lastPaintStats();
        const qint64 shown = qint64(w.spanCount());
        if (st.spansAggregated + st.spansDrawn != shown) {
            std::printf("# FAILED: fitted paint accounted for %lld + %lld of %lld tasks\n",
                        st.spansAggregated, st.spansDrawn, shown);
            ++failures;
        }
    }

    const double mid = double(record->totals().firstNs) + double(record->totals().wallNs()) / 2.0;
    const double plotW = double(w.plotRect().width());

    // ---- 1 ms across the plot
    if (wants("zoom_1ms")) {
        Frames f;
        w.setView(mid, double(kMs) / plotW);
        paintOnce(w, target, f);
        f = {};
        for (int i = 0; i < (quick ? 5 : 60); ++i)
            paintOnce(w, target, f);
        report("timeline.paint.zoom_1ms", f, "1 ms in view");
    }

    // ---- pan sweep at 1 ms
    if (wants("pan_sweep")) {
        Frames f;
        w.setView(mid - 100.0 * kMs, double(kMs) / plotW);
        const int steps = quick ? 20 : 200;
        for (int i = 0; i < steps; ++i) {
            w.panBy(plotW / 4); // a quarter of the view a step
            paintOnce(w, target, f);
        }
        report("timeline.paint.pan_sweep", f,
               std::to_string(steps) + " panBy steps of 400 px at 1 ms zoom");
    }

    // ---- zoom sweep: whole run down to 10 µs and back out
    if (wants("zoom_sweep")) {
        Frames f;
        w.fitToData();
        const double from = w.nsPerPixel(), to = 10.0 * kUs / plotW;
        const int steps = quick ? 20 : 200;
        const double factor = std::pow(from / to, 1.0 / (steps / 2));
        const double anchor = w.timeToX(qint64(mid));
        for (int i = 0; i < steps; ++i) {
            w.zoomBy(i < steps / 2 ? factor : 1.0 / factor, anchor);
            paintOnce(w, target, f);
        }
        report("timeline.paint.zoom_sweep", f,
               std::to_string(steps) + " zoomBy steps, whole run to 10 µs and back");
    }

    // ---- live: a record growing by a tick's rows (100k tasks/s, 30 Hz)
    if (wants("live")) {
        TimelineWidget live;
        live.resize(width, height);
        auto growing = std::make_shared<RunRecord>(std::max<quint64>(tasks, 1));
        const quint64 perTick = 3'300;
        std::vector<double> applyMs;
        Frames f;
        Snapshot s;
        for (int i = 0; i < workers; ++i) {
            WorkerInfo wi;
            wi.index = i;
            wi.state = WorkerState::Running;
            s.workers.append(wi);
        }
        s.record = growing;
        quint64 row = 0;
        for (int tick = 0; row < record->size(); ++tick) {
            const quint64 end = std::min<quint64>(record->size(), row + perTick);
            for (; row < end; ++row)
                growing->add(record->span(row));
            s.tick = quint64(tick);
            s.newRows = perTick;
            s.timeNs = growing->totals().lastEndNs;
            s.sinceStartNs = s.timeNs - record->totals().firstNs;
            QElapsedTimer t;
            t.start();
            live.applySnapshot(s);
            applyMs.push_back(double(t.nsecsElapsed()) / 1e6);
            if (tick % 10 == 0)
                paintOnce(live, target, f);
        }
        char note[200];
        std::snprintf(note, sizeof note,
                      "applySnapshot() with 3,300 new rows (100k tasks/s at 30 Hz), %zu ticks up "
                      "to %llu rows",
                      applyMs.size(), qulonglong(tasks));
        line("timeline.live.apply.median", percentile(applyMs, 50), "ms", note);
        line("timeline.live.apply.p99", percentile(applyMs, 99), "ms", note);
        report("timeline.paint.live_follow", f, "following, every 10th tick");
        line("timeline.live.bytes_per_row", double(live.indexBytes()) / double(growing->size()),
             "B", "the index grown tick by tick (vector capacity included)");
    }
    return failures ? 1 : 0;
}
