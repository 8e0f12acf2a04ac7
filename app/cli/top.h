#pragma once
// poolscope-cli top / publishers: a live terminal view of the pools another
// program publishes (docs/attach.md), for machines without a display.

#include <poolscope/attach.h>
#include <poolscope/monitor.h>

#include <QString>

namespace poolscope::cli {

struct TopOptions {
    QString target;       // --attach PID|NAME; empty: the only publisher
    QString pool;         // --pool ID|NAME; empty: every pool
    int intervalMs = 500; // --interval
    int iterations = 0;   // --iterations N: stop after N frames (0 = until the program ends)
    bool plain = false;   // --plain: frames one after another, no screen control
    bool json = false;    // --json: one JSON line per pool per frame
    int waitMs = 0;       // --wait MS: wait that long for a publisher to appear
};

/// One pool's frame as text (pure: tests call it): header line, counters,
/// the queue head, one line per worker, at most `width` columns.
/// skipped/budget: of the tasks not received, those the program finished
/// faster than its row budget (AttachedPool::skippedRows(), rowBudget()).
QString renderPool(const PoolInfo& pool, const PublisherInfo& program, const Snapshot& s, int width,
                   quint64 skipped = 0, quint64 budget = 0);

/// `poolscope-cli publishers [--json]`: every publisher of this user.
int cmdPublishers(bool json);
/// `poolscope-cli top ...`. Exit 0 when the program ended normally or the
/// iterations were shown or on q, 1 when it was lost (died without goodbye)
/// or no publisher matched, 2 when several match, 128 + the signal on
/// SIGINT (130), SIGTERM (143) or SIGHUP (129), the terminal put back.
int cmdTop(const TopOptions& options, const std::atomic<bool>& interrupted);

} // namespace poolscope::cli
