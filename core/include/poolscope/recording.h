#pragma once
// The complete record of a run: every task, compactly (docs/architecture.md,
// "The run record").
//
// Workers stage one fixed-size row per finished task in a writer of their
// own (RecordWriter: chunked, single producer, single consumer, no lock);
// the Monitor drains the writers on every tick into the RunRecord of the
// current run, a columnar store read by everything that shows or exports
// tasks (futures table, timeline, CSV, traces, A/B panel, analysis, replay).
//
// Up to its limit (default 1,000,000 tasks) a RunRecord holds every task.
// Past it, it keeps a uniform sample and says so: it then holds exactly the
// tasks whose id is a multiple of sampling() (a power of two times the
// base sampling asked for), halving itself whenever it fills up again.
// Whatever it holds, totals() counts every task it saw, exactly.

#include "gil.h"
#include "telemetry.h"

#include <QByteArray>
#include <QHash>
#include <QList>
#include <QString>
#include <QVariant>

#include <atomic>
#include <cstdint>
#include <iterator>
#include <memory>
#include <vector>

namespace poolscope {

namespace detail {

class StampConverter; // core/src/stamps.h

/// Texts of a task that has any (named tasks' arguments and results, errors).
struct TaskTexts {
    QString args;
    QString result;
    QString error;
};

/// One finished task as a worker stages it. Times are stamps (TSC ticks or
/// ns, see RecordWriter::ticks()); 0 = unknown.
struct StagedTask {
    quint64 id = 0;
    qint64 submit = 0;
    qint64 start = 0;
    qint64 end = 0;
    qint64 cpuNs = -1; // -1: not measured
    qint64 gilWaitNs = 0;
    quint64 value = 0;          // ValueKind Int/UInt/Double/Bool: the bits
    TaskTexts* texts = nullptr; // owned; only when the task has texts
    quint32 nameId = 0;
    qint32 worker = -1;
    qint16 core = -1;
    quint8 status = 0; // TaskStatus
    ValueKind valueKind = ValueKind::None;
    bool started = true; // false: ended while queued (stageUnstarted)
};

/// Stores a QVariant result (cheap types) into a staged row.
void setStagedValue(StagedTask& row, const QVariant& value);
/// Result and texts of a finished task into its row: the value of a
/// succeeded one, the error of a failed one, named tasks' arguments; nothing
/// for a plain callable returning nothing. Out of memory for a text, the row
/// keeps its times and status.
void stageTexts(StagedTask& row, const TaskNode& node, TaskStatus status) noexcept;
class RecordWriter;
/// Stages the row of a task that ends without having run on a worker
/// (cancelled or failed while queued), at time `when` (a stamp of the
/// writer's kind). The caller serialises the writer's producers.
void stageUnstarted(RecordWriter& writer, const TaskNode& node, TaskStatus status,
                    qint64 when) noexcept;
/// Stages the row of a task that ran on `worker` from `start` to `end`
/// (stamps of the writer's kind), with its texts. The caller serialises
/// the writer's producers (the process and MPI pools: their lock).
void stageFinished(RecordWriter& writer, const TaskNode& node, TaskStatus status, qint64 start,
                   qint64 end, qint64 cpuNs, int worker, int core) noexcept;

/// Bounded staging of finished tasks: one producer at a time (a worker, or
/// whoever holds the pool lock that serialises the producers), one consumer
/// (the Monitor). Rows live in chunks of kChunkRows that the consumer hands
/// back for reuse, so a steady run allocates nothing. When maxRows() rows
/// are waiting (the consumer fell behind), new rows are dropped and counted
/// in lost(): the producer is never blocked or slowed.
class RecordWriter {
public:
    static constexpr std::size_t kChunkRows = 512;
    /// Default bound: ~1M waiting rows (~72 MB) per writer.
    static constexpr std::size_t kDefaultMaxRows = 2048 * kChunkRows;

    /// ticks: the times of the rows are TSC ticks (stamps.h), else ns.
    explicit RecordWriter(bool ticks, std::size_t maxRows = kDefaultMaxRows);
    ~RecordWriter();
    RecordWriter(const RecordWriter&) = delete;
    RecordWriter& operator=(const RecordWriter&) = delete;

    bool ticks() const noexcept { return m_ticks; }
    std::size_t maxRows() const noexcept { return m_maxRows.load(std::memory_order_relaxed); }
    /// Changes the bound (any thread); chunks already made are kept.
    void setMaxRows(std::size_t rows) noexcept;

    // ---- producer
    /// A row to fill, or nullptr when full (the row is then lost: counted).
    StagedTask* next() noexcept;
    /// Publishes the row next() returned.
    void commit() noexcept;

    // ---- consumer
    /// Calls f(StagedTask&) for every committed row (at most `max`), oldest
    /// first; f may take texts (set it to nullptr), else they are freed.
    /// Returns the count.
    template<class F>
    std::size_t drain(F&& f, std::size_t max = SIZE_MAX);
    /// The same a run of rows at a time: f(const StagedTask* rows,
    /// std::size_t count) for rows contiguous in a chunk (texts are freed
    /// after f returns). What the Monitor uses: it never writes the rows.
    template<class F>
    std::size_t drainRuns(F&& f, std::size_t max = SIZE_MAX);
    /// Rows dropped because the writer was full.
    quint64 lost() const noexcept { return m_lost.load(std::memory_order_relaxed); }
    /// Producer: counts n rows that never reached this writer (an attached
    /// pool's rows the publisher could not send); the Monitor reads them
    /// with lost() like its own drops.
    void addLost(quint64 n) noexcept
    {
        m_lost.store(m_lost.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }

private:
    struct Chunk {
        std::atomic<std::uint32_t> count{0};
        std::atomic<Chunk*> next{nullptr};
        Chunk* freeNext = nullptr;
        StagedTask rows[kChunkRows];
    };
    Chunk* takeChunk() noexcept;
    void giveBack(Chunk* c) noexcept;

    const bool m_ticks;
    std::atomic<std::size_t> m_maxRows;
    // producer side
    alignas(64) Chunk* m_tail = nullptr;
    std::uint32_t m_pos = 0;
    Chunk* m_ownFree = nullptr; // chunks taken back from m_free
    quint64 m_written = 0;
    std::vector<Chunk*> m_all; // every chunk ever allocated (freed by the destructor)
    std::atomic<quint64> m_lost{0};
    // consumer side
    alignas(64) Chunk* m_head = nullptr;
    std::uint32_t m_read = 0;
    std::atomic<quint64> m_readTotal{0}; // rows drained so far (the producer's bound)
    std::atomic_flag m_consuming;        // set while a consumer drains (drainRuns)
    std::atomic<Chunk*> m_free{nullptr}; // consumer pushes, producer takes all
};

template<class F>
std::size_t RecordWriter::drainRuns(F&& f, std::size_t max)
{
    // One consumer at a time: a second Monitor that drains this writer while
    // another does (two Monitors of one pool for a moment: one attaching
    // while the other is mid-drain) finds it taken and takes nothing. The
    // flag's acquire/release also hands m_head/m_read from one consumer
    // thread to the next.
    if (m_consuming.test_and_set(std::memory_order_acquire))
        return 0;
    struct Release {
        std::atomic_flag& flag;
        ~Release() { flag.clear(std::memory_order_release); }
    } release{m_consuming};
    std::size_t n = 0;
    for (;;) {
        const std::uint32_t count = m_head->count.load(std::memory_order_acquire);
        const std::uint32_t from = m_read;
        const std::uint32_t to = std::uint32_t(
            std::min<std::size_t>(count, from + std::min(max - n, std::size_t(kChunkRows))));
        if (to > from) {
            StagedTask* rows = m_head->rows + from;
            f(static_cast<const StagedTask*>(rows), std::size_t(to - from));
            // Only rows with texts are written: the others' cache lines stay
            // clean, never bounced back to the producer's core dirty.
            for (std::uint32_t i = 0; i < to - from; ++i) {
                if (rows[i].texts) {
                    delete rows[i].texts;
                    rows[i].texts = nullptr;
                }
            }
            m_read = to;
        }
        n += to - from;
        // Release: the producer may reuse these rows once it sees the count.
        m_readTotal.store(m_readTotal.load(std::memory_order_relaxed) + (to - from),
                          std::memory_order_release);
        if (m_read < kChunkRows || n >= max)
            return n;
        Chunk* next = m_head->next.load(std::memory_order_acquire);
        if (!next)
            return n;
        Chunk* done = m_head;
        m_head = next;
        m_read = 0;
        giveBack(done);
    }
}

template<class F>
std::size_t RecordWriter::drain(F&& f, std::size_t max)
{
    return drainRuns(
        [&f](const StagedTask* rows, std::size_t count) {
            for (std::size_t i = 0; i < count; ++i)
                f(const_cast<StagedTask&>(rows[i])); // the writer's own rows
        },
        max);
}

} // namespace detail

/// What a run record holds, against what it saw.
struct RecordStats {
    quint64 seen = 0;        // tasks that reached the record (sampled or not)
    quint64 rows = 0;        // tasks held
    quint64 sampling = 1;    // rows are the seen tasks whose id is a multiple of this
    quint64 lost = 0;        // tasks whose row never reached the record (staging full)
    quint64 outOfMemory = 0; // of seen and kept: not held, memory ran out
    quint64 limit = 0;       // most rows held before it samples
    /// Every task is held.
    bool complete() const { return sampling == 1 && lost == 0 && outOfMemory == 0; }
};

/// The GIL turns a record holds, against those it saw (RunRecord, "GIL
/// turns"). It keeps the first `limit` turns of a run and counts the rest.
struct GilTurnStats {
    quint64 seen = 0;  // turns that ended while the run was recorded
    quint64 held = 0;  // turns held: the first ones, in time order
    quint64 lost = 0;  // of seen: lost before the record (the monitor fell behind)
    quint64 limit = 0; // most turns held
    bool complete() const { return held == seen; }
};

/// How one worker used the GIL over a time range (RunRecord::gilUse).
struct GilUse {
    qint64 heldNs = 0;   // holding it
    quint64 turns = 0;   // turns that overlap the range
    qint64 waitedNs = 0; // queued for it
};

/// Exact sums over every task a record saw, sampled or not.
struct RunTotals {
    quint64 tasks = 0;
    quint64 succeeded = 0;
    quint64 failed = 0;
    quint64 cancelled = 0;
    quint64 neverStarted = 0; // cancelled or failed while queued
    qint64 firstNs = 0;       // earliest submit (or start when unknown); 0 = none
    qint64 lastEndNs = 0;
    qint64 queuedNs = 0;  // sum of start - submit where the submit time is known
    qint64 runNs = 0;     // sum of end - start
    qint64 cpuNs = 0;     // sum of measured CPU times
    quint64 cpuTasks = 0; // tasks whose CPU time was measured
    qint64 cpuRunNs = 0;  // their run time (to scale CPU to the unmeasured ones)
    qint64 gilWaitNs = 0;
    // Run time split as TimeDecomposition (patterns.h) does it per task:
    // measured tasks' run - CPU - GIL wait (at least 0), and unmeasured
    // tasks' run - GIL wait.
    qint64 waitingNs = 0;
    qint64 unmeasuredNs = 0;
    qint64 wallNs() const { return firstNs > 0 && lastEndNs > firstNs ? lastEndNs - firstNs : 0; }
};

/// The complete (or, past its limit, uniformly sampled) record of one run.
/// Written by one thread (the Monitor's) and read on that thread; a record
/// handed to another thread must no longer be written (sealed()).
class RunRecord {
public:
    static constexpr quint64 kDefaultLimit = 1'000'000;
    static constexpr quint64 kMaxLimit = 100'000'000;

    /// limit: rows held before sampling (1..kMaxLimit); baseSampling: keep
    /// only tasks whose id is a multiple of it from the start (>= 1).
    explicit RunRecord(quint64 limit = kDefaultLimit, quint64 baseSampling = 1);
    ~RunRecord();
    RunRecord(const RunRecord&) = delete;
    RunRecord& operator=(const RunRecord&) = delete;

    // ---- rows
    quint64 size() const { return m_rows; }
    bool empty() const { return m_rows == 0; }
    /// A row as the timeline and the analysis read it.
    TaskSpan span(quint64 row) const;
    /// A row with its texts (futures table details, CSV).
    TaskRecord record(quint64 row) const;
    quint64 taskId(quint64 row) const { return chunk(row).id[off(row)]; }
    qint64 startNs(quint64 row) const { return chunk(row).start[off(row)]; }
    qint64 endNs(quint64 row) const;
    qint64 submitNs(quint64 row) const; // 0 when unknown
    quint32 nameId(quint64 row) const { return chunk(row).name[off(row)]; }
    qint32 worker(quint64 row) const { return chunk(row).worker[off(row)]; }
    TaskStatus status(quint64 row) const;
    /// False for a task that ended without running (TaskSpan::started).
    bool started(quint64 row) const;
    qint64 cpuNs(quint64 row) const; // -1 when not measured
    qint64 gilWaitNs(quint64 row) const;
    QString args(quint64 row) const;
    QVariant result(quint64 row) const; // empty for none
    QString error(quint64 row) const;
    /// True when the row has any text (args, text result, error).
    bool hasTexts(quint64 row) const;

    /// Rows of one worker in the order they arrived (start order on every
    /// pool: a worker runs one task at a time), or nullptr. Tasks that never
    /// started are in no lane.
    const std::vector<quint32>* laneRows(qint32 worker) const;
    /// Workers with rows of started tasks, ascending (-1: tasks whose worker
    /// is unknown, as in other tools' traces).
    QList<qint32> workers() const;

    // ---- the run
    RecordStats stats() const;
    const RunTotals& totals() const { return m_totals; }
    quint64 sampling() const { return m_sampling; }
    quint64 limit() const { return m_limit; }
    /// Changes whenever rows are dropped or reordered (re-sampling): row
    /// numbers taken before it changed mean nothing after.
    quint64 generation() const { return m_generation; }
    /// "" when every task is held; else words for the user, e.g. "sample: 1
    /// in 128 of 1,000,000 tasks" (and the lost ones, if any).
    QString samplingNote() const;
    /// Heap bytes held (columns, texts, lanes).
    std::size_t bytes() const;
    /// Bytes of text entries held, those of dropped rows included until the
    /// arena is compacted (re-sampling does that once they are most of it).
    std::size_t textBytes() const { return m_textBytes; }

    // ---- writing (the owner's thread)
    /// Adds a staged row whose times are already ns (its texts are copied).
    void add(detail::StagedTask& row);
    /// Adds a run of staged rows (the Monitor's drain), their stamps turned
    /// into ns by `stamps` (nullptr: they are ns already); the rows are
    /// only read. One call per run keeps the per-row work in one loop.
    void addStaged(const detail::StagedTask* rows, std::size_t count,
                   detail::StampConverter* stamps);
    /// Adds a decoded row (trace readers, tests); texts optional.
    void add(const TaskSpan& span, const QString& args = {}, const QVariant& result = {},
             const QString& error = {});
    /// Rows that never reached the record (counted in stats().lost).
    void addLost(quint64 n) { m_lost += n; }
    /// Sets the totals and stats of a record read back from a file (which
    /// says how many tasks the run had, how it was sampled and how many were
    /// lost), rather than those of the rows it holds.
    void setRecordedRun(const RunTotals& totals, quint64 seen, quint64 sampling, quint64 lost);
    /// Changes the limit; a smaller one re-samples at once.
    void setLimit(quint64 limit);
    /// A copy with the rows in the order the tasks ended (replay shows the
    /// tasks finished by a position as a prefix of it); same run figures.
    std::shared_ptr<RunRecord> copyInEndOrder() const;

    // ---- GIL turns (a pool with a simulated GIL; docs/architecture.md)
    static constexpr quint64 kDefaultGilTurnLimit = 1'000'000;
    /// One worker's turns, in time order (they never overlap): columns of
    /// ns, 20 bytes a turn.
    struct GilTurnLane {
        std::vector<qint64> start;
        std::vector<qint64> end;
        std::vector<quint32> wait; // queued before the turn, encoded (encodeDuration)
        std::size_t size() const { return start.size(); }
        qint64 waitNs(std::size_t i) const;
        /// Index of the first turn ending after `ns`.
        std::size_t firstEndingAfter(qint64 ns) const;
    };
    /// The GIL as the last batch of turns found it (for running tasks).
    struct GilNow {
        qint32 holder = -1; // -1: free, or unknown
        qint64 holdStartNs = 0;
        qint64 holdWaitNs = 0;                          // its holder queued this long before
        std::vector<std::pair<qint32, qint64>> waiting; // worker, queued since (ns)
    };
    /// True once turns were recorded for this run (a GIL pool): the timeline
    /// then draws turns instead of the per-task GIL wait.
    bool hasGilTurns() const { return m_gilTurnsOn; }
    /// Every turn that ended by this time is held (a task that ended by it
    /// has all its turns here); after it, none or only some. 0: none.
    qint64 gilTurnsUntilNs() const { return m_gilUntilNs; }
    /// A worker's turns, or nullptr.
    const GilTurnLane* gilTurns(qint32 worker) const;
    QList<qint32> gilTurnWorkers() const;
    GilTurnStats gilTurnStats() const;
    const GilNow& gilNow() const { return m_gilNow; }
    /// What `worker` did with the GIL in [lo, hi] by the turns held (the
    /// turn in progress included, up to gilTurnsUntilNs()).
    GilUse gilUse(qint32 worker, qint64 lo, qint64 hi) const;
    /// "" when every turn seen is held; else e.g. "GIL turns: first 200,000
    /// of 340,512 shown" (and the lost ones, if any).
    QString gilTurnNote() const;
    quint64 gilTurnLimit() const { return m_gilLimit; }
    /// Changes the most turns held; turns already held stay.
    void setGilTurnLimit(quint64 limit);
    /// Adds a batch the GIL wrote (SimulatedGil::takeTurns), its stamps
    /// turned into ns by `stamps` (nullptr: they are ns already). Turns past
    /// the limit, and every turn after one that was lost, are counted only:
    /// the record holds a gap-free prefix of the run's turns.
    void addGilTurns(const detail::GilTurnBatch& batch, detail::StampConverter* stamps);

    // ---- iteration over rows as TaskSpan values
    class const_iterator {
    public:
        using iterator_category = std::random_access_iterator_tag;
        using value_type = TaskSpan;
        using difference_type = std::ptrdiff_t;
        using pointer = void;
        using reference = TaskSpan;
        const_iterator() = default;
        const_iterator(const RunRecord* r, quint64 i)
            : m_r(r)
            , m_i(i)
        {}
        TaskSpan operator*() const { return m_r->span(m_i); }
        TaskSpan operator[](difference_type d) const { return m_r->span(m_i + quint64(d)); }
        const_iterator& operator++()
        {
            ++m_i;
            return *this;
        }
        const_iterator operator++(int)
        {
            auto t = *this;
            ++m_i;
            return t;
        }
        const_iterator& operator--()
        {
            --m_i;
            return *this;
        }
        const_iterator& operator+=(difference_type d)
        {
            m_i += quint64(d);
            return *this;
        }
        const_iterator& operator-=(difference_type d)
        {
            m_i -= quint64(d);
            return *this;
        }
        friend const_iterator operator+(const_iterator a, difference_type d) { return a += d; }
        friend const_iterator operator-(const_iterator a, difference_type d) { return a -= d; }
        friend difference_type operator-(const const_iterator& a, const const_iterator& b)
        {
            return difference_type(a.m_i) - difference_type(b.m_i);
        }
        friend bool operator==(const const_iterator& a, const const_iterator& b)
        {
            return a.m_i == b.m_i;
        }
        friend auto operator<=>(const const_iterator& a, const const_iterator& b)
        {
            return a.m_i <=> b.m_i;
        }

    private:
        const RunRecord* m_r = nullptr;
        quint64 m_i = 0;
    };
    const_iterator begin() const { return {this, 0}; }
    const_iterator end() const { return {this, m_rows}; }

    /// Rows per chunk of columns (the block pool sizes its blocks by it).
    static constexpr std::size_t kChunkRowsForPool = std::size_t(1) << 16;

private:
    static constexpr int kChunkBits = 16;
    static constexpr quint64 kChunkRows = quint64(1) << kChunkBits;
    /// The base columns of 65,536 rows share one block (2.3 MB, its first
    /// 2 MB on a transparent huge page where the kernel allows: a million
    /// rows a second would otherwise take ~30k page faults a second on the
    /// Monitor's thread), taken from and given back to a bounded pool of
    /// blocks, so a re-sampled or dropped record's memory is reused.
    struct Chunk {
        Chunk();
        ~Chunk();
        Chunk(const Chunk&) = delete;
        Chunk& operator=(const Chunk&) = delete;
        void* block = nullptr;
        std::size_t blockBytes = 0;
        quint64* id = nullptr;
        qint64* start = nullptr;
        quint32* wait = nullptr; // submit -> start, encoded (see encodeDuration)
        quint32* run = nullptr;  // start -> end, encoded
        quint32* name = nullptr;
        qint32* worker = nullptr;
        qint16* core = nullptr;
        quint8* flags = nullptr; // status | value kind | never started
        // Allocated the first time a row of the chunk needs them.
        std::unique_ptr<quint32[]> cpu;   // encoded; kUnknown = not measured
        std::unique_ptr<quint32[]> gil;   // encoded
        std::unique_ptr<quint64[]> value; // scalar bits, or an offset into m_texts
    };
    const Chunk& chunk(quint64 row) const { return *m_chunks[std::size_t(row >> kChunkBits)]; }
    static std::size_t off(quint64 row) { return std::size_t(row & (kChunkRows - 1)); }

    void count(const detail::StagedTask& row);
    bool keeps(quint64 id) const
    {
        // A power of two (every sampling but a --sample base): no division.
        return m_samplingMask ? (id & m_samplingMask) == 0
                              : m_sampling == 1 || id % m_sampling == 0;
    }
    void setSampling(quint64 sampling);
    void append(const detail::StagedTask& row, const detail::TaskTexts* texts);
    /// Counts a row and keeps it if the sampling does (re-sampling when
    /// full): the one path of add() and addStaged().
    void take(const detail::StagedTask& row);
    void resample();
    void rebuildLanes();
    void compactTexts();
    std::size_t textEntryBytes(quint64 row) const;
    std::vector<quint32>& lane(qint32 worker);
    quint64 storeTexts(const detail::TaskTexts& t);
    void appendOrCount(const detail::StagedTask& row, const detail::TaskTexts* texts);
    detail::TaskTexts texts(quint64 row) const;

    quint64 m_limit;
    quint64 m_baseSampling;
    quint64 m_sampling;
    quint64 m_samplingMask = 0; // m_sampling - 1 when a power of two above 1
    quint64 m_rows = 0;
    quint64 m_seen = 0;
    quint64 m_lost = 0;
    quint64 m_noMemory = 0; // rows not held: memory ran out (appendOrCount)
    quint64 m_generation = 0;
    std::vector<std::unique_ptr<Chunk>> m_chunks;
    std::vector<QByteArray> m_texts; // blocks of length-prefixed UTF-8
    std::size_t m_textBytes = 0;
    // Lanes of workers -1 .. kDenseLanes - 2 by index (worker + 1), the
    // others (a process pool that respawned thousands of workers) by hash.
    static constexpr qint32 kDenseLanes = 4096;
    static constexpr quint64 kLaneReserve = quint64(1) << 21; // rows a lane reserves at most
    std::vector<std::vector<quint32>> m_denseLanes;
    QHash<qint32, std::vector<quint32>> m_farLanes;
    // GIL turns
    bool m_gilTurnsOn = false;
    bool m_gilClosed = false; // a turn was dropped: later ones are only counted
    quint64 m_gilLimit = kDefaultGilTurnLimit;
    quint64 m_gilSeen = 0;
    quint64 m_gilHeld = 0;
    quint64 m_gilLost = 0;
    qint64 m_gilUntilNs = 0;
    qint64 m_gilLastEndNs = 0;                              // of the last turn held
    std::vector<std::pair<qint32, GilTurnLane>> m_gilLanes; // sorted by worker
    GilNow m_gilNow;
    qint32 m_lastLaneWorker = INT32_MIN;
    std::vector<quint32>* m_lastLane = nullptr;
    RunTotals m_totals;
};

/// Durations in 32 bits: exact to the ns up to 1.07 s, to the µs up to
/// 17.9 min, to the ms up to 12.4 days, to the s beyond. kUnknownDuration is
/// "not measured".
namespace detail {
inline constexpr quint32 kUnknownDuration = 0xFFFFFFFFu;
quint32 encodeDuration(qint64 ns) noexcept;
qint64 decodeDuration(quint32 v) noexcept;
} // namespace detail

} // namespace poolscope
