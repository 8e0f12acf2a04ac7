#include "poolscope/recording.h"

#include "poolscope/errors.h"
#include "stamps.h"

#include <QLocale>

#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <new>
#include <system_error>
#include <thread>

namespace poolscope {

namespace detail {

// ------------------------------------------------------------------ values

void setStagedValue(StagedTask& row, const QVariant& v)
{
    if (!v.isValid() || v.isNull())
        return;
    switch (v.typeId()) {
    case QMetaType::Bool:
        row.valueKind = ValueKind::Bool;
        row.value = v.toBool() ? 1 : 0;
        return;
    case QMetaType::Int:
    case QMetaType::Long:
    case QMetaType::LongLong:
    case QMetaType::Short:
    case QMetaType::Char:
    case QMetaType::SChar:
        row.valueKind = ValueKind::Int;
        row.value = quint64(v.toLongLong());
        return;
    case QMetaType::UInt:
    case QMetaType::ULong:
    case QMetaType::ULongLong:
    case QMetaType::UShort:
    case QMetaType::UChar:
        row.valueKind = ValueKind::UInt;
        row.value = v.toULongLong();
        return;
    case QMetaType::Double:
    case QMetaType::Float:
        row.valueKind = ValueKind::Double;
        row.value = std::bit_cast<quint64>(v.toDouble());
        return;
    default:
        break;
    }
    if (!row.texts)
        row.texts = new TaskTexts;
    row.texts->result = v.canConvert<QString>()
                            ? v.toString()
                            : QStringLiteral("<%1>").arg(QString::fromLatin1(v.typeName()));
}

void stageTexts(StagedTask& row, const TaskNode& node, TaskStatus status) noexcept
{
    try {
        if (status == TaskStatus::Succeeded) {
            quint64 bits = 0;
            const ValueKind kind = node.scalarResult(bits);
            if (kind == ValueKind::Text) {
                setStagedValue(row, node.resultVariant());
            } else if (kind != ValueKind::None) {
                row.valueKind = kind;
                row.value = bits;
            }
        } else if (node.error)
            (row.texts ? row.texts : (row.texts = new TaskTexts))->error =
                QString::fromStdString(describeException(node.error));
        QString args = node.argsSummary();
        if (!args.isEmpty())
            (row.texts ? row.texts : (row.texts = new TaskTexts))->args = std::move(args);
    } catch (...) {
    }
}

// --------------------------------------------------------------- durations

quint32 encodeDuration(qint64 ns) noexcept
{
    if (ns < 0)
        ns = 0;
    constexpr qint64 kMant = qint64(1) << 30;
    if (ns < kMant)
        return quint32(ns);
    const qint64 us = (ns + 500) / 1000;
    if (us < kMant)
        return (1u << 30) | quint32(us);
    const qint64 ms = (ns + 500'000) / 1'000'000;
    if (ms < kMant)
        return (2u << 30) | quint32(ms);
    const qint64 s = std::min<qint64>((ns + 500'000'000) / 1'000'000'000, kMant - 2);
    return (3u << 30) | quint32(s);
}

qint64 decodeDuration(quint32 v) noexcept
{
    if (v == kUnknownDuration)
        return -1;
    const qint64 m = qint64(v & ((1u << 30) - 1));
    switch (v >> 30) {
    case 0:
        return m;
    case 1:
        return m * 1000;
    case 2:
        return m * 1'000'000;
    default:
        return m * 1'000'000'000;
    }
}

// ------------------------------------------------------------ RecordWriter

RecordWriter::RecordWriter(bool ticks, std::size_t maxRows)
    : m_ticks(ticks)
    , m_maxRows(std::max<std::size_t>(1, maxRows))
{
    auto* c = new Chunk;
    m_all.push_back(c);
    m_tail = m_head = c;
}

void RecordWriter::setMaxRows(std::size_t rows) noexcept
{
    m_maxRows.store(std::max<std::size_t>(1, rows), std::memory_order_relaxed);
}

RecordWriter::~RecordWriter()
{
    // Texts of rows nobody drained.
    for (Chunk* c = m_head; c; c = c->next.load(std::memory_order_relaxed)) {
        const std::uint32_t count = c->count.load(std::memory_order_relaxed);
        for (std::uint32_t i = (c == m_head ? m_read : 0); i < count; ++i) {
            delete c->rows[i].texts;
            c->rows[i].texts = nullptr;
        }
    }
    for (Chunk* c : m_all)
        delete c;
}

RecordWriter::Chunk* RecordWriter::takeChunk() noexcept
{
    if (!m_ownFree)
        m_ownFree = m_free.exchange(nullptr, std::memory_order_acquire);
    if (Chunk* c = m_ownFree) {
        m_ownFree = c->freeNext;
        c->freeNext = nullptr;
        c->count.store(0, std::memory_order_relaxed);
        c->next.store(nullptr, std::memory_order_relaxed);
        return c;
    }
    try {
        auto* c = new Chunk;
        m_all.push_back(c);
        return c;
    } catch (const std::bad_alloc&) {
        return nullptr; // out of memory: the row is lost, the task is not
    }
}

void RecordWriter::giveBack(Chunk* c) noexcept
{
    Chunk* head = m_free.load(std::memory_order_relaxed);
    do {
        c->freeNext = head;
    } while (!m_free.compare_exchange_weak(head, c, std::memory_order_release,
                                           std::memory_order_relaxed));
}

StagedTask* RecordWriter::next() noexcept
{
    // At most maxRows() rows waiting: the consumer fell behind, the row is
    // lost (counted), the task goes on. Chunks in use are bounded by it too.
    if (m_written - m_readTotal.load(std::memory_order_acquire)
        >= m_maxRows.load(std::memory_order_relaxed)) {
        m_lost.store(m_lost.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        return nullptr;
    }
    if (m_pos == kChunkRows) {
        Chunk* c = takeChunk();
        if (!c) {
            m_lost.store(m_lost.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
            return nullptr;
        }
        m_tail->next.store(c, std::memory_order_release);
        m_tail = c;
        m_pos = 0;
    }
    StagedTask* row = &m_tail->rows[m_pos];
    *row = StagedTask{};
    return row;
}

void RecordWriter::commit() noexcept
{
    ++m_written;
    m_tail->count.store(++m_pos, std::memory_order_release);
}

void stageUnstarted(RecordWriter& writer, const TaskNode& node, TaskStatus status,
                    qint64 when) noexcept
{
    StagedTask* row = writer.next();
    if (!row)
        return;
    row->id = node.id;
    row->submit = node.submitStamp;
    row->start = row->end = when;
    row->nameId = node.nameId;
    row->status = quint8(status);
    row->started = false;
    stageTexts(*row, node, status);
    writer.commit();
}

void stageFinished(RecordWriter& writer, const TaskNode& node, TaskStatus status, qint64 start,
                   qint64 end, qint64 cpuNs, int worker, int core) noexcept
{
    StagedTask* row = writer.next();
    if (!row)
        return;
    row->id = node.id;
    row->submit = node.submitStamp;
    row->start = start;
    row->end = end;
    row->cpuNs = cpuNs;
    row->nameId = node.nameId;
    row->worker = worker;
    row->core = qint16(core);
    row->status = quint8(status);
    stageTexts(*row, node, status);
    writer.commit();
}

} // namespace detail

using detail::decodeDuration;
using detail::encodeDuration;
using detail::kUnknownDuration;
using detail::StagedTask;
using detail::TaskTexts;
using detail::ValueKind;

namespace {
constexpr quint8 kStatusMask = 0x3;
constexpr int kKindShift = 2;
constexpr quint8 kKindMask = 0x7 << kKindShift;
constexpr quint8 kNotStarted = 0x20;
constexpr std::size_t kTextBlock = 1 << 20;

template<class T>
std::unique_ptr<T[]> column(std::size_t n)
{
    return std::make_unique_for_overwrite<T[]>(n);
}

constexpr std::size_t kHugePage = std::size_t(2) << 20;
// Bytes per row of the base columns: id, start, wait, run, name, worker,
// core, flags.
constexpr std::size_t kBaseRowBytes = 8 + 8 + 4 + 4 + 4 + 4 + 2 + 1;

void putVarint(QByteArray& out, quint64 v)
{
    while (v >= 0x80) {
        out.append(char(quint8(v) | 0x80));
        v >>= 7;
    }
    out.append(char(v));
}

quint64 getVarint(const char*& p)
{
    quint64 v = 0;
    int shift = 0;
    for (;;) {
        const quint8 b = quint8(*p++);
        v |= quint64(b & 0x7F) << shift;
        if (!(b & 0x80))
            return v;
        shift += 7;
    }
}

QString groupedNumber(quint64 n)
{
    return QLocale(QLocale::English).toString(n);
}
} // namespace

// --------------------------------------------------------------- RunRecord

namespace {

/// Blocks of the base columns, kept for reuse when a record is re-sampled
/// or dropped. Fresh memory costs its page faults and zeroing on the
/// Monitor's thread (on this project's VMs ~2 ns a byte, ~70 ns a row:
/// docs/benchmarks.md "Complete recording"); a reused block costs nothing.
/// Bounded: at most kPooledBlocks (~75 MB) wait here; the rest go back to
/// the kernel.
class BlockPool {
public:
    static constexpr std::size_t kPooledBlocks = 32;
    static constexpr std::size_t kAhead = 2; // blocks made ahead of need
    static BlockPool& instance()
    {
        static BlockPool pool;
        return pool;
    }
    /// A block of `bytes` (a multiple of 4096), its first 2 MB on a huge
    /// page where the kernel allows. When none is pooled, one is made here,
    /// and the next ones are made ahead on a thread of its own: a new
    /// block's first touch costs ~1-3 ms of page faults (zeroing 2.3 MB),
    /// which the thread that records (the GUI's) should not wait for.
    void* take(std::size_t bytes)
    {
        void* b = nullptr;
        {
            std::lock_guard lk(m_mutex);
            if (!m_free.empty()) {
                b = m_free.back();
                m_free.pop_back();
            }
        }
        if (!b)
            b = make(bytes);
        prepareNext(bytes);
        return b;
    }
    void give(void* block, std::size_t bytes)
    {
        {
            std::lock_guard lk(m_mutex);
            if (m_free.size() < kPooledBlocks) {
                m_free.push_back(block);
                return;
            }
        }
        munmap(block, bytes);
    }

private:
    static void* make(std::size_t bytes)
    {
        // mmap a huge page's worth more than needed, keep a huge-page-
        // aligned range and ask for a huge page for its first 2 MB only:
        // the tail stays in small pages, so it costs only what is used.
        const std::size_t span = bytes + kHugePage;
        void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (raw == MAP_FAILED)
            throw std::bad_alloc();
        const auto first = reinterpret_cast<std::uintptr_t>(raw);
        const std::uintptr_t aligned = (first + kHugePage - 1) & ~(kHugePage - 1);
        const std::size_t head = aligned - first;
        if (head > 0)
            munmap(raw, head);
        if (span - head > bytes)
            munmap(reinterpret_cast<void*>(aligned + bytes), span - head - bytes);
#ifdef MADV_HUGEPAGE
        madvise(reinterpret_cast<void*>(aligned), kHugePage, MADV_HUGEPAGE); // a hint
#endif
        return reinterpret_cast<void*>(aligned);
    }
    /// Makes blocks ahead, touched, on a helper thread, until kAhead are
    /// pooled; one helper at a time, and it ends when done, so a program's
    /// thread count returns to where it was once recording stops (the soak
    /// gate checks that). A plain std::thread, not a QThreadPool: when the
    /// system refuses a thread (`ulimit -u`), QThreadPool (Qt 6.4) still
    /// counts it as active and its waitForDone() at exit never returned
    /// (issue #17); here the refusal is caught and the recording thread
    /// makes its own blocks.
    void prepareNext(std::size_t bytes)
    {
        std::unique_lock lk(m_mutex);
        if (m_free.size() >= kAhead || m_preparing)
            return;
        m_preparing = true; // until the helper is done: no other starts one
        std::thread done = std::move(m_helper);
        lk.unlock();
        if (done.joinable())
            done.join(); // it has cleared m_preparing: only its return is left
        lk.lock();
        try {
            // Made under the lock: the helper takes it before it ends, so it
            // is m_helper before anyone could join or replace it.
            m_helper = std::thread([this, bytes] { makeAhead(bytes); });
        } catch (const std::system_error&) {
            m_preparing = false;
        }
    }

    void makeAhead(std::size_t bytes)
    {
        // Niced, so that waking it never preempts the thread that records
        // (seen: the GUI thread runnable but off its core for ~5 ms after
        // starting a job on a nice-0 thread).
        errno = 0;
        const int base = getpriority(PRIO_PROCESS, id_t(gettid()));
        if (errno == 0)
            setpriority(PRIO_PROCESS, id_t(gettid()), std::min(19, base + 10));
        for (;;) {
            void* b = nullptr;
            try {
                b = make(bytes);
                // One write per page: the faults happen here, not on the
                // recording thread.
                auto* p = static_cast<volatile char*>(b);
                for (std::size_t o = 0; o < bytes; o += 4096)
                    p[o] = 0;
            } catch (const std::bad_alloc&) {
                b = nullptr; // the recording thread makes its own, or fails there
            }
            std::lock_guard lk(m_mutex);
            if (b)
                m_free.push_back(b);
            if (!b || m_free.size() >= kAhead) {
                m_preparing = false;
                return;
            }
        }
    }

    BlockPool() = default;
    ~BlockPool()
    {
        // At exit: the helper's last block pushed before the list goes.
        std::thread helper;
        {
            std::lock_guard lk(m_mutex);
            helper = std::move(m_helper);
        }
        if (helper.joinable())
            helper.join();
        std::lock_guard lk(m_mutex);
        m_free.clear(); // the blocks go with the process
    }
    BlockPool(const BlockPool&) = delete;
    BlockPool& operator=(const BlockPool&) = delete;

    std::mutex m_mutex;
    std::vector<void*> m_free;
    bool m_preparing = false;
    std::thread m_helper; // the last helper (joined before the next starts)
};

constexpr std::size_t kBlockBytes =
    (RunRecord::kChunkRowsForPool * kBaseRowBytes + 4095) & ~std::size_t(4095);

} // namespace

RunRecord::Chunk::Chunk()
{
    blockBytes = kBlockBytes;
    block = BlockPool::instance().take(blockBytes);
    char* p = static_cast<char*>(block);
    id = reinterpret_cast<quint64*>(p);
    p += kChunkRows * 8;
    start = reinterpret_cast<qint64*>(p);
    p += kChunkRows * 8;
    wait = reinterpret_cast<quint32*>(p);
    p += kChunkRows * 4;
    run = reinterpret_cast<quint32*>(p);
    p += kChunkRows * 4;
    name = reinterpret_cast<quint32*>(p);
    p += kChunkRows * 4;
    worker = reinterpret_cast<qint32*>(p);
    p += kChunkRows * 4;
    core = reinterpret_cast<qint16*>(p);
    p += kChunkRows * 2;
    flags = reinterpret_cast<quint8*>(p);
}

RunRecord::Chunk::~Chunk()
{
    if (block)
        BlockPool::instance().give(block, blockBytes);
}

RunRecord::RunRecord(quint64 limit, quint64 baseSampling)
    : m_limit(std::clamp<quint64>(limit, 1, kMaxLimit))
    , m_baseSampling(std::max<quint64>(1, baseSampling))
    , m_sampling(m_baseSampling)
{
    setSampling(m_baseSampling);
}

void RunRecord::setSampling(quint64 sampling)
{
    m_sampling = std::max<quint64>(1, sampling);
    m_samplingMask = m_sampling > 1 && (m_sampling & (m_sampling - 1)) == 0 ? m_sampling - 1 : 0;
}

RunRecord::~RunRecord() = default;

qint64 RunRecord::endNs(quint64 row) const
{
    const Chunk& c = chunk(row);
    return c.start[off(row)] + decodeDuration(c.run[off(row)]);
}

qint64 RunRecord::submitNs(quint64 row) const
{
    const Chunk& c = chunk(row);
    const quint32 w = c.wait[off(row)];
    return w == kUnknownDuration ? 0 : c.start[off(row)] - decodeDuration(w);
}

TaskStatus RunRecord::status(quint64 row) const
{
    return TaskStatus(chunk(row).flags[off(row)] & kStatusMask);
}

bool RunRecord::started(quint64 row) const
{
    return !(chunk(row).flags[off(row)] & kNotStarted);
}

qint64 RunRecord::cpuNs(quint64 row) const
{
    const Chunk& c = chunk(row);
    return c.cpu ? decodeDuration(c.cpu[off(row)]) : -1;
}

qint64 RunRecord::gilWaitNs(quint64 row) const
{
    const Chunk& c = chunk(row);
    return c.gil ? decodeDuration(c.gil[off(row)]) : 0;
}

TaskSpan RunRecord::span(quint64 row) const
{
    const Chunk& c = chunk(row);
    const std::size_t o = off(row);
    TaskSpan s;
    s.taskId = c.id[o];
    s.startNs = c.start[o];
    s.endNs = s.startNs + decodeDuration(c.run[o]);
    s.enqueueNs = c.wait[o] == kUnknownDuration ? 0 : s.startNs - decodeDuration(c.wait[o]);
    s.cpuNs = c.cpu ? decodeDuration(c.cpu[o]) : -1;
    s.gilWaitNs = c.gil ? decodeDuration(c.gil[o]) : 0;
    s.nameId = c.name[o];
    s.worker = c.worker[o];
    s.core = c.core[o];
    s.status = TaskStatus(c.flags[o] & kStatusMask);
    s.started = !(c.flags[o] & kNotStarted);
    return s;
}

bool RunRecord::hasTexts(quint64 row) const
{
    const Chunk& c = chunk(row);
    return ValueKind((c.flags[off(row)] & kKindMask) >> kKindShift) == ValueKind::Text;
}

TaskTexts RunRecord::texts(quint64 row) const
{
    TaskTexts t;
    if (!hasTexts(row))
        return t;
    const quint64 at = chunk(row).value[off(row)];
    const QByteArray& block = m_texts[std::size_t(at >> 32)];
    const char* p = block.constData() + (at & 0xFFFFFFFFu);
    QString* parts[3] = {&t.args, &t.result, &t.error};
    const quint64 n0 = getVarint(p);
    const quint64 n1 = getVarint(p);
    const quint64 n2 = getVarint(p);
    const quint64 lens[3] = {n0, n1, n2};
    for (int i = 0; i < 3; ++i) {
        *parts[i] = QString::fromUtf8(p, qsizetype(lens[i]));
        p += lens[i];
    }
    return t;
}

QString RunRecord::args(quint64 row) const
{
    return hasTexts(row) ? texts(row).args : QString();
}

QString RunRecord::error(quint64 row) const
{
    return hasTexts(row) ? texts(row).error : QString();
}

QVariant RunRecord::result(quint64 row) const
{
    const Chunk& c = chunk(row);
    const std::size_t o = off(row);
    const auto kind = ValueKind((c.flags[o] & kKindMask) >> kKindShift);
    switch (kind) {
    case ValueKind::None:
        return {};
    case ValueKind::Int:
        return QVariant(qint64(c.value[o]));
    case ValueKind::UInt:
        return QVariant(quint64(c.value[o]));
    case ValueKind::Double:
        return QVariant(std::bit_cast<double>(c.value[o]));
    case ValueKind::Bool:
        return QVariant(c.value[o] != 0);
    case ValueKind::Text: {
        const QString r = texts(row).result;
        return r.isEmpty() ? QVariant() : QVariant(r);
    }
    }
    return {};
}

TaskRecord RunRecord::record(quint64 row) const
{
    TaskRecord r;
    r.span = span(row);
    r.result = result(row);
    if (hasTexts(row)) {
        const TaskTexts t = texts(row);
        r.args = t.args;
        r.error = t.error;
    }
    return r;
}

const std::vector<quint32>* RunRecord::laneRows(qint32 worker) const
{
    if (worker >= -1 && worker < kDenseLanes - 1) {
        const std::size_t i = std::size_t(worker + 1);
        return i < m_denseLanes.size() && !m_denseLanes[i].empty() ? &m_denseLanes[i] : nullptr;
    }
    auto it = m_farLanes.constFind(worker);
    return it == m_farLanes.constEnd() || it->empty() ? nullptr : &it.value();
}

QList<qint32> RunRecord::workers() const
{
    QList<qint32> w;
    for (std::size_t i = 0; i < m_denseLanes.size(); ++i) {
        if (!m_denseLanes[i].empty())
            w.append(qint32(i) - 1);
    }
    for (auto it = m_farLanes.cbegin(); it != m_farLanes.cend(); ++it) {
        if (!it->empty())
            w.append(it.key());
    }
    std::sort(w.begin(), w.end());
    return w;
}

RecordStats RunRecord::stats() const
{
    RecordStats s;
    s.seen = m_seen;
    s.rows = m_rows;
    s.sampling = m_sampling;
    s.lost = m_lost;
    s.outOfMemory = m_noMemory;
    s.limit = m_limit;
    return s;
}

QString RunRecord::samplingNote() const
{
    QStringList parts;
    if (m_sampling > 1)
        parts << QStringLiteral("sample: 1 in %1 of %2 tasks")
                     .arg(groupedNumber(m_sampling), groupedNumber(m_seen + m_lost));
    if (m_lost > 0)
        parts << QStringLiteral("%1 tasks not recorded (the monitor fell behind)")
                     .arg(groupedNumber(m_lost));
    if (m_noMemory > 0)
        parts << QStringLiteral("%1 tasks not recorded (out of memory)")
                     .arg(groupedNumber(m_noMemory));
    return parts.join(QStringLiteral("; "));
}

std::size_t RunRecord::bytes() const
{
    std::size_t b = 0;
    for (const auto& c : m_chunks) {
        b += kChunkRows * kBaseRowBytes;
        if (c->cpu)
            b += kChunkRows * 4;
        if (c->gil)
            b += kChunkRows * 4;
        if (c->value)
            b += kChunkRows * 8;
    }
    for (const QByteArray& t : m_texts)
        b += std::size_t(t.capacity());
    // Lanes reserve room for every row (lane()); only the pages rows have
    // reached are memory.
    auto touched = [](const std::vector<quint32>& l) {
        return (l.size() * sizeof(quint32) + 4095) & ~std::size_t(4095);
    };
    for (const auto& l : m_denseLanes)
        b += touched(l);
    for (const auto& l : m_farLanes)
        b += touched(l);
    for (const auto& [w, l] : m_gilLanes)
        b += l.start.capacity() * 8 + l.end.capacity() * 8 + l.wait.capacity() * 4;
    return b;
}

void RunRecord::count(const StagedTask& row)
{
    RunTotals& t = m_totals;
    ++t.tasks;
    switch (TaskStatus(row.status)) {
    case TaskStatus::Succeeded:
        ++t.succeeded;
        break;
    case TaskStatus::Failed:
        ++t.failed;
        break;
    case TaskStatus::Cancelled:
        ++t.cancelled;
        break;
    }
    const bool started = row.started;
    if (!started)
        ++t.neverStarted;
    const qint64 first = row.submit > 0 ? row.submit : row.start;
    if (first > 0 && (t.firstNs == 0 || first < t.firstNs))
        t.firstNs = first;
    t.lastEndNs = std::max(t.lastEndNs, row.end);
    if (started) {
        if (row.submit > 0)
            t.queuedNs += std::max<qint64>(0, row.start - row.submit);
        const qint64 run = std::max<qint64>(0, row.end - row.start);
        t.runNs += run;
        const qint64 gil = std::max<qint64>(0, row.gilWaitNs);
        if (row.cpuNs >= 0) {
            t.cpuNs += row.cpuNs;
            ++t.cpuTasks;
            t.cpuRunNs += run;
            t.waitingNs += std::max<qint64>(0, run - row.cpuNs - gil);
        } else {
            t.unmeasuredNs += std::max<qint64>(0, run - gil);
        }
    }
    t.gilWaitNs += std::max<qint64>(0, row.gilWaitNs);
}

std::vector<quint32>& RunRecord::lane(qint32 worker)
{
    if (worker != m_lastLaneWorker || !m_lastLane) {
        if (worker >= -1 && worker < kDenseLanes - 1) {
            const std::size_t i = std::size_t(worker + 1);
            if (i >= m_denseLanes.size())
                m_denseLanes.resize(i + 1);
            m_lastLane = &m_denseLanes[i];
        } else {
            m_lastLane = &m_farLanes[worker];
        }
        m_lastLaneWorker = worker;
        // Room for every row up front (address space only: a page becomes
        // memory when a row first lands in it). Grown by doubling instead,
        // a lane of 500k rows moved 1 MB into 2 MB of fresh pages at once,
        // a 10 ms stall of the thread that records (the GUI's).
        if (m_lastLane->capacity() == 0)
            m_lastLane->reserve(std::size_t(std::min<quint64>(m_limit, kLaneReserve)));
    }
    return *m_lastLane;
}

quint64 RunRecord::storeTexts(const TaskTexts& t)
{
    const QByteArray parts[3] = {t.args.toUtf8(), t.result.toUtf8(), t.error.toUtf8()};
    const std::size_t need = 30 + std::size_t(parts[0].size() + parts[1].size() + parts[2].size());
    if (m_texts.empty() || std::size_t(m_texts.back().size()) + need > kTextBlock) {
        m_texts.emplace_back();
        m_texts.back().reserve(qsizetype(std::max(kTextBlock, need)));
    }
    QByteArray& block = m_texts.back();
    const qsizetype before = block.size();
    const quint64 at = (quint64(m_texts.size() - 1) << 32) | quint64(before);
    for (const QByteArray& p : parts)
        putVarint(block, quint64(p.size()));
    for (const QByteArray& p : parts)
        block.append(p);
    m_textBytes += std::size_t(block.size() - before);
    return at;
}

void RunRecord::append(const StagedTask& row, const TaskTexts* texts)
{
    const std::size_t ci = std::size_t(m_rows >> kChunkBits);
    if (ci == m_chunks.size())
        m_chunks.push_back(std::make_unique<Chunk>());
    Chunk& c = *m_chunks[ci];
    const std::size_t o = off(m_rows);
    const qint64 end = std::max(row.end, row.start);
    c.id[o] = row.id;
    c.start[o] = row.start;
    c.wait[o] = row.submit > 0 ? encodeDuration(row.start - row.submit) : kUnknownDuration;
    c.run[o] = encodeDuration(end - row.start);
    c.name[o] = row.nameId;
    c.worker[o] = row.worker;
    c.core[o] = row.core;

    ValueKind kind = row.valueKind;
    quint64 value = row.value;
    if (texts && (!texts->args.isEmpty() || !texts->result.isEmpty() || !texts->error.isEmpty())) {
        TaskTexts all = *texts;
        if (kind != ValueKind::None && all.result.isEmpty()) {
            // A scalar beside texts: kept as text.
            QVariant v;
            switch (kind) {
            case ValueKind::Int:
                v = qint64(value);
                break;
            case ValueKind::UInt:
                v = quint64(value);
                break;
            case ValueKind::Double:
                v = std::bit_cast<double>(value);
                break;
            case ValueKind::Bool:
                v = value != 0;
                break;
            default:
                break;
            }
            all.result = v.toString();
        }
        kind = ValueKind::Text;
        value = storeTexts(all);
    } else if (kind == ValueKind::Text) {
        kind = ValueKind::None;
    }
    c.flags[o] = quint8((row.status & kStatusMask) | (quint8(kind) << kKindShift)
                        | (row.started ? 0 : kNotStarted));

    auto ensure = [](std::unique_ptr<quint32[]>& col, quint32 fill) {
        if (!col) {
            col = column<quint32>(kChunkRows);
            std::fill_n(col.get(), kChunkRows, fill);
        }
    };
    if (row.cpuNs >= 0)
        ensure(c.cpu, kUnknownDuration);
    if (c.cpu)
        c.cpu[o] = row.cpuNs >= 0 ? encodeDuration(row.cpuNs) : kUnknownDuration;
    if (row.gilWaitNs > 0)
        ensure(c.gil, 0);
    if (c.gil)
        c.gil[o] = encodeDuration(row.gilWaitNs);
    if (kind != ValueKind::None && !c.value) {
        c.value = column<quint64>(kChunkRows);
        std::fill_n(c.value.get(), kChunkRows, 0);
    }
    if (c.value)
        c.value[o] = value;

    if (row.started)
        lane(row.worker).push_back(quint32(m_rows));
    ++m_rows;
}

inline void RunRecord::take(const StagedTask& row)
{
    count(row);
    ++m_seen;
    if (!keeps(row.id))
        return;
    if (m_rows >= m_limit) {
        resample();
        if (!keeps(row.id))
            return;
    }
    appendOrCount(row, row.texts);
}

void RunRecord::appendOrCount(const StagedTask& row, const detail::TaskTexts* texts)
{
    // Out of memory (a large run under `ulimit -v`, or a machine that is
    // full): the task is counted and said to be missing, the run goes on.
    // It threw from the Monitor's timer through Qt's event loop before.
    try {
        append(row, texts);
    } catch (const std::bad_alloc&) {
        ++m_noMemory;
    }
}

void RunRecord::add(StagedTask& row)
{
    take(row);
}

void RunRecord::addStaged(const StagedTask* rows, std::size_t n, detail::StampConverter* stamps)
{
    for (std::size_t i = 0; i < n; ++i) {
        // The rows were just written on another core: ask for the next
        // ones early (a run is contiguous; reading past its end is harmless
        // for a prefetch, which never faults).
        __builtin_prefetch(rows + i + 6);
        StagedTask row = rows[i];
        if (stamps) {
            stamps->rowToNs(row.submit, row.start, row.end);
            // Ticks of different CPUs agree to ~0.1 µs: never let that
            // show as a negative wait or run time.
            if (row.submit > row.start)
                row.submit = row.start;
            if (row.end < row.start)
                row.end = row.start;
        }
        take(row);
    }
}

void RunRecord::add(const TaskSpan& span, const QString& args, const QVariant& result,
                    const QString& error)
{
    StagedTask row;
    row.id = span.taskId;
    row.submit = span.enqueueNs;
    row.start = span.startNs;
    row.end = span.endNs;
    row.cpuNs = span.cpuNs;
    row.gilWaitNs = span.gilWaitNs;
    row.nameId = span.nameId;
    row.worker = span.worker;
    row.core = span.core;
    row.status = quint8(span.status);
    row.started = span.started;
    TaskTexts t;
    t.args = args;
    t.error = error;
    setStagedValue(row, result);
    if (row.texts) {
        t.result = row.texts->result;
        delete row.texts;
        row.texts = nullptr;
    }
    count(row);
    ++m_seen;
    if (!keeps(row.id))
        return;
    if (m_rows >= m_limit) {
        resample();
        if (!keeps(row.id))
            return;
    }
    appendOrCount(row, &t);
}

void RunRecord::setRecordedRun(const RunTotals& totals, quint64 seen, quint64 sampling,
                               quint64 lost)
{
    m_totals = totals;
    m_seen = seen;
    setSampling(sampling);
    m_lost = lost;
}

void RunRecord::setLimit(quint64 limit)
{
    m_limit = std::clamp<quint64>(limit, 1, kMaxLimit);
    while (m_rows > m_limit)
        resample();
}

std::shared_ptr<RunRecord> RunRecord::copyInEndOrder() const
{
    std::vector<quint32> order(static_cast<std::size_t>(m_rows));
    for (quint64 r = 0; r < m_rows; ++r)
        order[std::size_t(r)] = quint32(r);
    std::stable_sort(order.begin(), order.end(),
                     [this](quint32 a, quint32 b) { return endNs(a) < endNs(b); });
    auto out = std::make_shared<RunRecord>(std::max<quint64>(1, m_rows));
    for (quint32 r : order) {
        if (hasTexts(r)) {
            const detail::TaskTexts t = texts(r);
            out->add(span(r), t.args, result(r), t.error);
        } else {
            out->add(span(r), {}, result(r));
        }
    }
    out->m_totals = m_totals;
    out->m_seen = m_seen;
    out->setSampling(m_sampling);
    out->m_lost = m_lost;
    out->m_noMemory = m_noMemory;
    // The GIL turns, as they are.
    out->m_gilTurnsOn = m_gilTurnsOn;
    out->m_gilClosed = m_gilClosed;
    out->m_gilLimit = m_gilLimit;
    out->m_gilSeen = m_gilSeen;
    out->m_gilHeld = m_gilHeld;
    out->m_gilLost = m_gilLost;
    out->m_gilUntilNs = m_gilUntilNs;
    out->m_gilLastEndNs = m_gilLastEndNs;
    out->m_gilLanes = m_gilLanes;
    out->m_gilNow = m_gilNow;
    return out;
}

void RunRecord::resample()
{
    // Keep the rows whose id is a multiple of twice the sampling, in their
    // order, moving column values down in place (no decoding: a million rows
    // take a few ms on the Monitor's thread, a GUI thread in the window).
    // Text offsets stay valid; the arena is rebuilt only once most of it is
    // text of dropped rows.
    setSampling(m_sampling * 2);
    quint64 w = 0;
    for (quint64 r = 0; r < m_rows; ++r) {
        Chunk& src = *m_chunks[std::size_t(r >> kChunkBits)];
        const std::size_t so = off(r);
        if (!keeps(src.id[so]))
            continue;
        if (w != r) {
            Chunk& dst = *m_chunks[std::size_t(w >> kChunkBits)];
            const std::size_t d = off(w);
            dst.id[d] = src.id[so];
            dst.start[d] = src.start[so];
            dst.wait[d] = src.wait[so];
            dst.run[d] = src.run[so];
            dst.name[d] = src.name[so];
            dst.worker[d] = src.worker[so];
            dst.core[d] = src.core[so];
            dst.flags[d] = src.flags[so];
            auto move = [&](auto& to, const auto& from, auto unset) {
                if (!from && !to)
                    return;
                if (!to) {
                    to = column<std::remove_reference_t<decltype(to[0])>>(kChunkRows);
                    std::fill_n(to.get(), kChunkRows, unset);
                }
                to[d] = from ? from[so] : unset;
            };
            move(dst.cpu, src.cpu, kUnknownDuration);
            move(dst.gil, src.gil, quint32(0));
            move(dst.value, src.value, quint64(0));
        }
        ++w;
    }
    m_rows = w;
    // Chunks past the last row go; their memory with them.
    m_chunks.resize(std::size_t((m_rows + kChunkRows - 1) >> kChunkBits));
    rebuildLanes();
    if (m_textBytes > 0) {
        std::size_t live = 0;
        for (quint64 r = 0; r < m_rows; ++r) {
            if (hasTexts(r))
                live += textEntryBytes(r);
        }
        if (live * 2 < m_textBytes)
            compactTexts();
    }
    ++m_generation;
}

void RunRecord::rebuildLanes()
{
    for (auto& lane : m_denseLanes)
        lane.clear(); // capacity kept: the rows come back into it
    m_farLanes.clear();
    m_lastLane = nullptr;
    m_lastLaneWorker = INT32_MIN;
    for (quint64 r = 0; r < m_rows; ++r) {
        if (started(r))
            lane(worker(r)).push_back(quint32(r));
    }
    // Capacity kept: the record fills up to its limit again.
    m_lastLane = nullptr;
    m_lastLaneWorker = INT32_MIN;
}

std::size_t RunRecord::textEntryBytes(quint64 row) const
{
    const quint64 at = chunk(row).value[off(row)];
    const char* p = m_texts[std::size_t(at >> 32)].constData() + (at & 0xFFFFFFFFu);
    const char* q = p;
    const quint64 n = getVarint(q) + getVarint(q) + getVarint(q);
    return std::size_t(q - p) + std::size_t(n);
}

void RunRecord::compactTexts()
{
    std::vector<QByteArray> old;
    old.swap(m_texts);
    m_textBytes = 0;
    for (quint64 r = 0; r < m_rows; ++r) {
        if (!hasTexts(r))
            continue;
        Chunk& c = *m_chunks[std::size_t(r >> kChunkBits)];
        const quint64 at = c.value[off(r)];
        // Read from the old blocks, then store again.
        const QByteArray& block = old[std::size_t(at >> 32)];
        const char* p = block.constData() + (at & 0xFFFFFFFFu);
        const char* q = p;
        const quint64 n0 = getVarint(q);
        const quint64 n1 = getVarint(q);
        const quint64 n2 = getVarint(q);
        detail::TaskTexts t;
        t.args = QString::fromUtf8(q, qsizetype(n0));
        t.result = QString::fromUtf8(q + n0, qsizetype(n1));
        t.error = QString::fromUtf8(q + n0 + n1, qsizetype(n2));
        c.value[off(r)] = storeTexts(t);
    }
}

// -------------------------------------------------------------- GIL turns

qint64 RunRecord::GilTurnLane::waitNs(std::size_t i) const
{
    return decodeDuration(wait[i]);
}

std::size_t RunRecord::GilTurnLane::firstEndingAfter(qint64 ns) const
{
    // A worker's turns never overlap: their ends ascend with their starts.
    return std::size_t(std::upper_bound(end.begin(), end.end(), ns) - end.begin());
}

const RunRecord::GilTurnLane* RunRecord::gilTurns(qint32 worker) const
{
    auto it = std::lower_bound(m_gilLanes.begin(), m_gilLanes.end(), worker,
                               [](const auto& l, qint32 w) { return l.first < w; });
    return it != m_gilLanes.end() && it->first == worker ? &it->second : nullptr;
}

QList<qint32> RunRecord::gilTurnWorkers() const
{
    QList<qint32> w;
    for (const auto& l : m_gilLanes)
        w.append(l.first);
    return w;
}

GilTurnStats RunRecord::gilTurnStats() const
{
    GilTurnStats s;
    s.seen = m_gilSeen;
    s.held = m_gilHeld;
    s.lost = m_gilLost;
    s.limit = m_gilLimit;
    return s;
}

GilUse RunRecord::gilUse(qint32 worker, qint64 lo, qint64 hi) const
{
    GilUse u;
    if (hi <= lo)
        return u;
    auto add = [&](qint64 s, qint64 e, qint64 wait) {
        const qint64 a = std::max(s, lo), b = std::min(e, hi);
        if (b > a || (s == e && s >= lo && s < hi)) {
            u.heldNs += std::max<qint64>(0, b - a);
            ++u.turns;
        }
        // The wait before the turn, where it lies in the range.
        const qint64 wa = std::max(s - wait, lo), wb = std::min(s, hi);
        if (wb > wa)
            u.waitedNs += wb - wa;
    };
    if (const GilTurnLane* l = gilTurns(worker)) {
        for (std::size_t i = l->firstEndingAfter(lo);
             i < l->size() && l->start[i] - l->waitNs(i) < hi; ++i)
            add(l->start[i], l->end[i], l->waitNs(i));
    }
    // The turn in progress, and a wait in progress, up to what is known.
    if (m_gilNow.holder == worker && m_gilNow.holdStartNs > 0)
        add(m_gilNow.holdStartNs, std::max(m_gilNow.holdStartNs, m_gilUntilNs),
            m_gilNow.holdWaitNs);
    for (const auto& [w, since] : m_gilNow.waiting) {
        if (w != worker || since <= 0)
            continue;
        const qint64 wa = std::max(since, lo), wb = std::min(m_gilUntilNs, hi);
        if (wb > wa)
            u.waitedNs += wb - wa;
    }
    return u;
}

QString RunRecord::gilTurnNote() const
{
    if (m_gilHeld == m_gilSeen)
        return {};
    QString note = QStringLiteral("GIL turns: first %1 of %2 shown")
                       .arg(groupedNumber(m_gilHeld), groupedNumber(m_gilSeen));
    if (m_gilLost > 0)
        note += QStringLiteral(" (%1 lost: the monitor fell behind)").arg(groupedNumber(m_gilLost));
    return note;
}

void RunRecord::setGilTurnLimit(quint64 limit)
{
    m_gilLimit = std::clamp<quint64>(limit, 1, kMaxLimit);
}

void RunRecord::addGilTurns(const detail::GilTurnBatch& batch, detail::StampConverter* stamps)
{
    auto ns = [stamps](qint64 stamp) { return stamps ? stamps->toNs(stamp) : stamp; };
    m_gilTurnsOn = true;
    auto close = [this](qint64 atNs) {
        // The first turn not held: every turn that ended before it is.
        m_gilClosed = true;
        m_gilUntilNs = atNs;
        m_gilNow = {};
    };
    GilTurnLane* lane = nullptr;
    qint32 laneWorker = INT32_MIN;
    for (const detail::GilTurnStamp& t : batch.turns) {
        ++m_gilSeen;
        if (m_gilClosed)
            continue;
        // One holder at a time: a turn starts where the last one ended at
        // the earliest (a hand-over is one stamp; converting it in two
        // batches, with anchors added between, may differ by the anchors'
        // jitter, ~0.1 µs).
        const qint64 start = std::max(ns(t.start), m_gilLastEndNs);
        if (m_gilHeld >= m_gilLimit) {
            close(start);
            continue;
        }
        if (t.worker != laneWorker || !lane) {
            auto it = std::lower_bound(m_gilLanes.begin(), m_gilLanes.end(), t.worker,
                                       [](const auto& l, qint32 w) { return l.first < w; });
            if (it == m_gilLanes.end() || it->first != t.worker)
                it = m_gilLanes.insert(it, {t.worker, GilTurnLane{}});
            lane = &it->second;
            laneWorker = t.worker;
        }
        const qint64 end = std::max(start, ns(t.end));
        m_gilLastEndNs = end;
        lane->start.push_back(start);
        lane->end.push_back(end);
        lane->wait.push_back(
            encodeDuration(t.waitStart ? std::max<qint64>(0, start - ns(t.waitStart)) : 0));
        ++m_gilHeld;
    }
    if (batch.lost > 0) {
        m_gilSeen += batch.lost;
        m_gilLost += batch.lost;
        if (!m_gilClosed)
            close(ns(batch.firstLostStart));
    }
    if (m_gilClosed)
        return;
    m_gilUntilNs = ns(batch.takenAt);
    m_gilNow.holder = batch.openWorker;
    m_gilNow.holdStartNs =
        batch.openWorker >= 0 ? std::max(ns(batch.openStart), m_gilLastEndNs) : 0;
    m_gilNow.holdWaitNs = batch.openWorker >= 0 && batch.openWaitStart
                              ? std::max<qint64>(0, m_gilNow.holdStartNs - ns(batch.openWaitStart))
                              : 0;
    m_gilNow.waiting.clear();
    for (const auto& [w, since] : batch.waiting)
        m_gilNow.waiting.emplace_back(w, since ? ns(since) : 0);
}

} // namespace poolscope
