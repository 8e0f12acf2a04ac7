// Models of ui/models under QAbstractItemModelTester, fed scripted Snapshots
// built by hand (no executor): rows, columns, data and roles; the batching
// rules (one insertion per tick, dataChanged per contiguous range); bounded
// history; the futures filter and its numeric sorting; display helpers.

#include "models/display.h"
#include "models/futuresmodel.h"
#include "models/progressdelegate.h"
#include "models/queuemodel.h"
#include "models/workersmodel.h"

#include <poolscope/patterns.h>

#include <QAbstractItemModelTester>
#include <QApplication>
#include <QSignalSpy>
#include <QStandardItemModel>
#include <QTableView>
#include <QTest>

using namespace poolscope;
using namespace std::chrono_literals;

namespace {

constexpr qint64 kMs = 1'000'000;
constexpr qint64 kSec = 1'000'000'000;

QueuedTask queued(quint64 id, qint64 enqueueNs, qint32 priority = 0, const QString& name = "primes")
{
    return QueuedTask{id, NameTable::intern(name), priority, enqueueNs};
}

Snapshot queueSnapshot(qint64 timeNs, const QList<quint64>& ids, quint64 totalQueued = 0)
{
    Snapshot s;
    s.timeNs = timeNs;
    for (quint64 id : ids)
        s.queueHead.append(queued(id, qint64(id) * kMs));
    s.counters.queued = totalQueued ? totalQueued : quint64(ids.size());
    return s;
}

WorkerInfo worker(int index, WorkerState state = WorkerState::Idle)
{
    WorkerInfo w;
    w.index = index;
    w.name = QStringLiteral("poolscope_%1").arg(index);
    w.tid = 1000 + index;
    w.state = state;
    return w;
}

/// A worker of an MPI pool: rank `rank` on `host`, named as the pool names it.
WorkerInfo rankWorker(int index, const QString& host, int rank,
                      WorkerState state = WorkerState::Idle)
{
    WorkerInfo w;
    w.index = index;
    w.host = host;
    w.rank = rank;
    w.name = host.isEmpty() ? QStringLiteral("rank %1").arg(rank)
                            : QStringLiteral("%1/rank %2").arg(host).arg(rank);
    w.pid = 5000 + rank;
    w.state = state;
    return w;
}

QStringList column(const QAbstractItemModel& m, int col)
{
    QStringList out;
    for (int r = 0; r < m.rowCount(); ++r)
        out << m.index(r, col).data().toString();
    return out;
}

TaskRecord record(quint64 id, TaskStatus status = TaskStatus::Succeeded, qint64 runNs = 10 * kMs,
                  const QString& name = "primes")
{
    TaskRecord r;
    r.span.taskId = id;
    r.span.nameId = NameTable::intern(name);
    r.span.enqueueNs = 100 * kMs;
    r.span.startNs = 101 * kMs;
    r.span.endNs = r.span.startNs + runNs;
    r.span.cpuNs = runNs / 2;
    r.span.gilWaitNs = 0;
    r.span.worker = int(id % 4);
    r.span.core = qint16(id % 2);
    r.span.status = status;
    r.args = QStringLiteral("[%1, %2]").arg(id * 1000).arg(id * 1000 + 1000);
    if (status == TaskStatus::Succeeded)
        r.result = QVariant(qint64(id * 7));
    else if (status == TaskStatus::Failed)
        r.error = QStringLiteral("ValueError: boom in task %1").arg(id);
    return r;
}

/// A run's record fed tick by tick, as the Monitor does: each tick() adds
/// rows and returns the snapshot the views get.
struct Feed {
    std::shared_ptr<RunRecord> rec = std::make_shared<RunRecord>();
    QList<WorkerInfo> workers;
    Snapshot tick(const QList<TaskRecord>& rows)
    {
        for (const TaskRecord& r : rows)
            rec->add(r.span, r.args, r.result, r.error);
        Snapshot s;
        s.workers = workers;
        s.record = rec;
        s.newRows = quint64(rows.size());
        s.recordStats = rec->stats();
        return s;
    }
};

QString cell(const QAbstractItemModel& m, int row, int col, int role = Qt::DisplayRole)
{
    return m.index(row, col).data(role).toString();
}

QList<quint64> queueIds(const QueueModel& m)
{
    QList<quint64> out;
    for (int r = 0; r < m.rowCount(); ++r)
        out.append(m.task(r).id);
    return out;
}

QPalette darkPalette()
{
    QPalette p;
    p.setColor(QPalette::Base, QColor(0x1e, 0x1e, 0x1e));
    p.setColor(QPalette::Window, QColor(0x2b, 0x2b, 0x2b));
    p.setColor(QPalette::Text, QColor(0xe0, 0xe0, 0xe0));
    p.setColor(QPalette::WindowText, QColor(0xe0, 0xe0, 0xe0));
    return p;
}
QPalette lightPalette()
{
    QPalette p;
    p.setColor(QPalette::Base, Qt::white);
    p.setColor(QPalette::Window, QColor(0xef, 0xef, 0xef));
    p.setColor(QPalette::Text, Qt::black);
    p.setColor(QPalette::WindowText, Qt::black);
    return p;
}

} // namespace

class TstModels : public QObject {
    Q_OBJECT
private slots:
    // display helpers
    void formatDuration_data();
    void formatDuration();
    void percentile_data();
    void percentile();
    void statusColoursContrast_data();
    void statusColoursContrast();

    // QueueModel
    void queueRowsAndData();
    void queueSameIdsOnlyWaitedChanges();
    void queueTransitions_data();
    void queueTransitions();

    // WorkersModel
    void workersRowsAndRoles();
    void workersBatchedInsertAndRemove();
    void workersDeadLinger();
    void workersRetiredAndDeadBelowLive();
    void workersDataChangedPerRange();
    void workersGroupedByHostAndRank();
    void workersHostArrivesLate();
    void progressDelegatePaints();

    // FuturesModel (reads the run's record; filter and sort in the model)
    void futuresColumns();
    void futuresOneInsertionPerTick();
    void futuresEveryTaskOfAMillion();
    void futuresNewRecordResets();
    void futuresSampleNote_data();
    void futuresSampleNote();
    void futuresRowLimit();
    void futuresDetailsText();
    void pythonErrorNames_data();
    void pythonErrorNames();
    void filterByStatus_data();
    void filterByStatus();
    void filterByText_data();
    void filterByText();
    void sortNumeric_data();
    void sortNumeric();
    void sortedMergeKeepsSelection();
};

// ---------------------------------------------------------------- display

void TstModels::formatDuration_data()
{
    QTest::addColumn<qint64>("ns");
    QTest::addColumn<QString>("text");
    QTest::newRow("zero") << qint64(0) << "0 ns";
    QTest::newRow("ns") << qint64(850) << "850 ns";
    QTest::newRow("us") << qint64(12'345) << "12.3 µs";
    QTest::newRow("us-small") << qint64(1'500) << "1.50 µs";
    QTest::newRow("ms") << qint64(4'560'000) << "4.56 ms";
    QTest::newRow("ms-round-up") << qint64(999'999'000) << "1.00 s";
    QTest::newRow("s") << qint64(1'234'000'000) << "1.23 s";
    QTest::newRow("min") << 125 * kSec << "2 min 05 s";
    QTest::newRow("hours") << 3720 * kSec << "1 h 02 min";
    QTest::newRow("negative") << qint64(-2'000'000) << "-2.00 ms";
}

void TstModels::formatDuration()
{
    QFETCH(qint64, ns);
    QFETCH(QString, text);
    QCOMPARE(display::formatDuration(ns), text);
}

void TstModels::percentile_data()
{
    QTest::addColumn<QList<double>>("samples");
    QTest::addColumn<double>("p");
    QTest::addColumn<double>("expected");
    const QList<double> ten{9, 1, 8, 2, 7, 3, 6, 4, 5, 10}; // unsorted on purpose
    QTest::newRow("no samples") << QList<double>{} << 99.0 << 0.0;
    QTest::newRow("one sample, p99") << QList<double>{4.5} << 99.0 << 4.5;
    QTest::newRow("p0 is the smallest") << ten << 0.0 << 1.0;
    QTest::newRow("p50 of 1..10") << ten << 50.0 << 6.0;
    QTest::newRow("p99 of 1..10 is the largest") << ten << 99.0 << 10.0;
    QTest::newRow("p100 stays in range") << ten << 100.0 << 10.0;
    QTest::newRow("p above 100 is clamped") << ten << 250.0 << 10.0;
    QTest::newRow("negative p is clamped") << ten << -5.0 << 1.0;
}

void TstModels::percentile()
{
    QFETCH(QList<double>, samples);
    QFETCH(double, p);
    QFETCH(double, expected);
    QCOMPARE(display::percentile(std::vector<double>(samples.begin(), samples.end()), p), expected);
}

void TstModels::statusColoursContrast_data()
{
    QTest::addColumn<bool>("dark");
    QTest::newRow("light") << false;
    QTest::newRow("dark") << true;
}

void TstModels::statusColoursContrast()
{
    QFETCH(bool, dark);
    const QPalette pal = dark ? darkPalette() : lightPalette();
    QCOMPARE(display::isDark(pal), dark);
    const QColor base = pal.color(QPalette::Base);
    for (auto s : {TaskStatus::Succeeded, TaskStatus::Failed, TaskStatus::Cancelled})
        QVERIFY2(display::contrastRatio(display::statusColor(s, pal), base) >= 3.0, nameOf(s));
    for (auto s : {WorkerState::Starting, WorkerState::Idle, WorkerState::Running,
                   WorkerState::Retiring, WorkerState::Dead})
        QVERIFY2(display::contrastRatio(display::workerStateColor(s, pal), base) >= 3.0, nameOf(s));
    // Task colours are stable (same name, same colour) and differ by name.
    QCOMPARE(display::taskColor("primes", pal), display::taskColor("primes", pal));
    QVERIFY(display::taskColor("primes", pal) != display::taskColor("sleep", pal));
}

// ---------------------------------------------------------------- QueueModel

void TstModels::queueRowsAndData()
{
    QueueModel m;
    QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy total(&m, &QueueModel::totalQueuedChanged);

    Snapshot s;
    s.timeNs = 10 * kMs;
    s.queueHead = {queued(1, 8'500'000, 0, "primes"), queued(2, 9 * kMs, 5, "sleep"),
                   queued(3, 0, 0, "hash")};
    s.counters.queued = 50;
    m.applySnapshot(s);

    QCOMPARE(m.rowCount(), 3);
    QCOMPARE(m.columnCount(), int(QueueModel::ColumnCount));
    QCOMPARE(cell(m, 0, QueueModel::IdColumn), "1");
    QCOMPARE(cell(m, 0, QueueModel::TaskColumn), "primes");
    QCOMPARE(cell(m, 1, QueueModel::TaskColumn), "sleep");
    QCOMPARE(m.index(1, QueueModel::PriorityColumn).data().toInt(), 5);
    QCOMPARE(cell(m, 0, QueueModel::WaitedColumn), "1.50 ms");
    QCOMPARE(cell(m, 1, QueueModel::WaitedColumn), "1.00 ms");
    QCOMPARE(cell(m, 2, QueueModel::WaitedColumn), "—"); // enqueued before the monitor
    QCOMPARE(m.index(0, QueueModel::WaitedColumn).data(QueueModel::SortRole).toLongLong(),
             1'500'000);
    QCOMPARE(m.index(2, QueueModel::WaitedColumn).data(QueueModel::SortRole).toLongLong(), -1);
    QCOMPARE(m.index(1, 0).data(QueueModel::TaskIdRole).toULongLong(), 2u);
    QCOMPARE(m.headerData(QueueModel::WaitedColumn, Qt::Horizontal).toString(), "Waited");
    QCOMPARE(m.totalQueued(), 50);
    QCOMPARE(m.hiddenCount(), 47);
    QCOMPARE(m.footerText(), "+47 more");
    QCOMPARE(total.count(), 1);
    QCOMPARE(total.first().first().toInt(), 50);

    m.clear();
    QCOMPARE(m.rowCount(), 0);
    QCOMPARE(m.footerText(), QString());
}

void TstModels::queueSameIdsOnlyWaitedChanges()
{
    QueueModel m;
    QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
    m.applySnapshot(queueSnapshot(10 * kMs, {1, 2, 3, 4}));

    QSignalSpy changed(&m, &QAbstractItemModel::dataChanged);
    QSignalSpy inserted(&m, &QAbstractItemModel::rowsInserted);
    QSignalSpy removed(&m, &QAbstractItemModel::rowsRemoved);
    QSignalSpy reset(&m, &QAbstractItemModel::modelReset);
    m.applySnapshot(queueSnapshot(20 * kMs, {1, 2, 3, 4}));

    QCOMPARE(inserted.count(), 0);
    QCOMPARE(removed.count(), 0);
    QCOMPARE(reset.count(), 0);
    QCOMPARE(changed.count(), 1);
    const auto tl = changed.first().at(0).value<QModelIndex>();
    const auto br = changed.first().at(1).value<QModelIndex>();
    QCOMPARE(tl.row(), 0);
    QCOMPARE(br.row(), 3);
    QCOMPARE(tl.column(), int(QueueModel::WaitedColumn));
    QCOMPARE(br.column(), int(QueueModel::WaitedColumn));
    QCOMPARE(cell(m, 0, QueueModel::WaitedColumn), "19.0 ms");
}

void TstModels::queueTransitions_data()
{
    QTest::addColumn<QList<quint64>>("before");
    QTest::addColumn<QList<quint64>>("after");
    QTest::addColumn<int>("inserts");
    QTest::addColumn<int>("removes");
    QTest::addColumn<int>("resets");

    using L = QList<quint64>;
    QTest::newRow("fill") << L{} << L{1, 2, 3} << 1 << 0 << 0;
    QTest::newRow("drain") << L{1, 2, 3} << L{} << 0 << 1 << 0;
    QTest::newRow("dispatch front") << L{1, 2, 3, 4} << L{3, 4} << 0 << 1 << 0;
    QTest::newRow("append") << L{1, 2} << L{1, 2, 3, 4} << 1 << 0 << 0;
    QTest::newRow("dispatch and append") << L{1, 2, 3} << L{3, 4, 5, 6} << 1 << 1 << 0;
    QTest::newRow("tail replaced") << L{1, 2, 3, 4} << L{1, 2, 9} << 1 << 1 << 0;
    QTest::newRow("priority jump") << L{1, 2, 3} << L{9, 1, 2, 3} << 0 << 0 << 1;
    QTest::newRow("all new") << L{1, 2} << L{7, 8} << 0 << 0 << 1;
}

void TstModels::queueTransitions()
{
    QFETCH(QList<quint64>, before);
    QFETCH(QList<quint64>, after);
    QFETCH(int, inserts);
    QFETCH(int, removes);
    QFETCH(int, resets);

    QueueModel m;
    QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
    m.applySnapshot(queueSnapshot(10 * kMs, before));
    QCOMPARE(queueIds(m), before);

    QSignalSpy inserted(&m, &QAbstractItemModel::rowsInserted);
    QSignalSpy removed(&m, &QAbstractItemModel::rowsRemoved);
    QSignalSpy reset(&m, &QAbstractItemModel::modelReset);
    m.applySnapshot(queueSnapshot(20 * kMs, after));
    QCOMPARE(queueIds(m), after);
    QCOMPARE(inserted.count(), inserts);
    QCOMPARE(removed.count(), removes);
    QCOMPARE(reset.count(), resets);
}

// ---------------------------------------------------------------- WorkersModel

void TstModels::workersRowsAndRoles()
{
    WorkersModel m;
    QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
    m.setPalette(lightPalette());

    Snapshot s;
    s.timeNs = 5 * kSec;
    WorkerInfo busy = worker(0, WorkerState::Running);
    busy.currentTask = 7;
    busy.currentName = NameTable::intern("primes");
    busy.currentStartNs = 4 * kSec;
    busy.progress = 0.5;
    busy.tasksDone = 1234;
    busy.cpuLoad = 0.75;
    busy.lastCore = 1;
    busy.holdsGil = true;
    WorkerInfo idle = worker(1, WorkerState::Idle);
    WorkerInfo proc = worker(2, WorkerState::Running);
    proc.pid = 4242;
    proc.currentTask = 9;
    proc.currentName = NameTable::intern("sleep");
    proc.currentStartNs = 3 * kSec; // no progress reported
    s.workers = {busy, idle, proc};
    m.applySnapshot(s);

    QCOMPARE(m.rowCount(), 3);
    QCOMPARE(m.columnCount(), int(WorkersModel::ColumnCount));
    QCOMPARE(cell(m, 0, WorkersModel::NameColumn), "poolscope_0");
    QCOMPARE(cell(m, 0, WorkersModel::StateColumn), "running");
    QCOMPARE(cell(m, 1, WorkersModel::StateColumn), "idle");
    QCOMPARE(cell(m, 0, WorkersModel::TaskColumn), "primes #7");
    QCOMPARE(cell(m, 1, WorkersModel::TaskColumn), QString());
    QCOMPARE(m.index(0, WorkersModel::ProgressColumn).data(WorkersModel::ProgressRole).toDouble(),
             0.5);
    QCOMPARE(cell(m, 0, WorkersModel::ProgressColumn), "50 %");
    QCOMPARE(m.index(1, WorkersModel::ProgressColumn).data(WorkersModel::ProgressRole).toDouble(),
             -1.0);
    // Running without progress: the progress cell shows how long it runs.
    QCOMPARE(m.index(2, WorkersModel::ProgressColumn).data(WorkersModel::ProgressRole).toDouble(),
             -1.0);
    QCOMPARE(cell(m, 2, WorkersModel::ProgressColumn), "2.00 s");
    QCOMPARE(m.index(0, WorkersModel::DoneColumn).data(WorkersModel::SortRole).toULongLong(),
             1234u);
    QCOMPARE(cell(m, 0, WorkersModel::CpuColumn), "75 %");
    QCOMPARE(cell(m, 1, WorkersModel::CpuColumn), "—");
    QCOMPARE(cell(m, 0, WorkersModel::CoreColumn), "1");
    QCOMPARE(cell(m, 1, WorkersModel::CoreColumn), "—");
    QCOMPARE(cell(m, 0, WorkersModel::PidColumn), "—");
    QCOMPARE(cell(m, 2, WorkersModel::PidColumn), "4242");
    QCOMPARE(cell(m, 0, WorkersModel::GilColumn), "✓");
    QCOMPARE(cell(m, 1, WorkersModel::GilColumn), QString());
    QCOMPARE(m.index(0, 0).data(WorkersModel::TaskIdRole).toULongLong(), 7u);
    QCOMPARE(m.index(2, 0).data(WorkersModel::WorkerIndexRole).toInt(), 2);
    QCOMPARE(m.index(0, 0).data(WorkersModel::StateRole).toInt(), int(WorkerState::Running));

    const QColor running =
        m.index(0, WorkersModel::StateColumn).data(WorkersModel::StateColorRole).value<QColor>();
    const QColor idleC =
        m.index(1, WorkersModel::StateColumn).data(WorkersModel::StateColorRole).value<QColor>();
    QVERIFY(running.isValid());
    QVERIFY(running != idleC);
    QCOMPARE(m.index(0, WorkersModel::StateColumn).data(Qt::DecorationRole).value<QColor>(),
             running);
    QCOMPARE(m.rowOfWorker(2), 2);
    QCOMPARE(m.rowOfWorker(99), -1);
}

void TstModels::workersBatchedInsertAndRemove()
{
    WorkersModel m;
    QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
    m.setDeadLinger(0ms);
    QSignalSpy inserted(&m, &QAbstractItemModel::rowsInserted);
    QSignalSpy removed(&m, &QAbstractItemModel::rowsRemoved);

    Snapshot s;
    s.timeNs = kSec;
    for (int i = 0; i < 8; ++i)
        s.workers.append(worker(i));
    m.applySnapshot(s);
    QCOMPARE(m.rowCount(), 8);
    QCOMPARE(inserted.count(), 1); // one batch for 8 workers
    QCOMPARE(inserted.first().at(1).toInt(), 0);
    QCOMPARE(inserted.first().at(2).toInt(), 7);

    // Workers 2 and 3 die (process pool: respawned as 8 and 9).
    inserted.clear();
    s.timeNs = 2 * kSec;
    s.workers = {worker(0),
                 worker(1),
                 worker(2, WorkerState::Dead),
                 worker(3, WorkerState::Dead),
                 worker(4),
                 worker(5),
                 worker(6),
                 worker(7),
                 worker(8, WorkerState::Starting),
                 worker(9, WorkerState::Starting)};
    m.applySnapshot(s);
    QCOMPARE(removed.count(), 1); // 2..3, one contiguous range (linger 0)
    QCOMPARE(removed.first().at(1).toInt(), 2);
    QCOMPARE(removed.first().at(2).toInt(), 3);
    QCOMPARE(inserted.count(), 1); // 8 and 9 in one batch
    QCOMPARE(m.rowCount(), 8);
    QList<int> indices;
    for (int r = 0; r < m.rowCount(); ++r)
        indices.append(m.worker(r).index);
    QCOMPARE(indices, (QList<int>{0, 1, 4, 5, 6, 7, 8, 9}));
}

void TstModels::workersGroupedByHostAndRank()
{
    WorkersModel m;
    QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy inserted(&m, &QAbstractItemModel::rowsInserted);

    // A local pool: no host, no rank, index order, host columns meaningless.
    Snapshot local;
    local.timeNs = kSec;
    local.workers = {worker(1), worker(0)};
    m.applySnapshot(local);
    QVERIFY(!m.hasHosts());
    QCOMPARE(column(m, WorkersModel::NameColumn), (QStringList{"poolscope_0", "poolscope_1"}));
    QCOMPARE(column(m, WorkersModel::HostColumn), (QStringList{"—", "—"}));
    m.clear();
    inserted.clear();

    // An MPI pool over two hosts. The pool numbers workers in the order the
    // ranks answered, so indices interleave the hosts; rows are grouped by
    // host (name order), then rank.
    Snapshot s;
    s.timeNs = 2 * kSec;
    s.poolKind = QStringLiteral("mpi");
    WorkerInfo busy = rankWorker(0, "nodeB", 4, WorkerState::Running);
    busy.currentTask = 11;
    busy.currentName = NameTable::intern("primes");
    busy.currentStartNs = kSec;
    s.workers = {busy, rankWorker(1, "nodeA", 2), rankWorker(2, "nodeB", 3),
                 rankWorker(3, "nodeA", 1)};
    m.applySnapshot(s);
    QVERIFY(m.hasHosts());
    QCOMPARE(m.rowCount(), 4);
    QCOMPARE(inserted.count(), 1); // one batch into an empty model
    QCOMPARE(column(m, WorkersModel::HostColumn),
             (QStringList{"nodeA", "nodeA", "nodeB", "nodeB"}));
    QCOMPARE(column(m, WorkersModel::RankColumn), (QStringList{"1", "2", "3", "4"}));
    QCOMPARE(column(m, WorkersModel::NameColumn),
             (QStringList{"nodeA/rank 1", "nodeA/rank 2", "nodeB/rank 3", "nodeB/rank 4"}));
    QCOMPARE(m.hosts(), (QStringList{"nodeA", "nodeB"}));
    QCOMPARE(m.rowOfWorker(0), 3); // index 0 is rank 4 on nodeB, the last row
    QCOMPARE(cell(m, 3, WorkersModel::StateColumn), "running");
    QCOMPARE(cell(m, 3, WorkersModel::TaskColumn), "primes #11");
    QCOMPARE(m.index(0, WorkersModel::HostColumn).data(WorkersModel::SortRole).toString(), "nodeA");
    QCOMPARE(m.index(0, WorkersModel::RankColumn).data(WorkersModel::SortRole).toInt(), 1);
    QVERIFY(cell(m, 0, WorkersModel::NameColumn, Qt::ToolTipRole).contains("MPI rank 1 on nodeA"));
    QCOMPARE(m.headerData(WorkersModel::HostColumn, Qt::Horizontal).toString(), "Host");
    QCOMPARE(m.headerData(WorkersModel::RankColumn, Qt::Horizontal).toString(), "Rank");

    // Rank 5 joins on nodeA: it lands inside nodeA's group, not at the end.
    inserted.clear();
    s.timeNs = 3 * kSec;
    s.workers.append(rankWorker(4, "nodeA", 5));
    m.applySnapshot(s);
    QCOMPARE(inserted.count(), 1);
    QCOMPARE(inserted.first().at(1).toInt(), 2);
    QCOMPARE(inserted.first().at(2).toInt(), 2);
    QCOMPARE(column(m, WorkersModel::RankColumn), (QStringList{"1", "2", "5", "3", "4"}));
    QCOMPARE(m.hosts(), (QStringList{"nodeA", "nodeB"}));

    // A new pool on a third host alone: the old rows go, the new one stays.
    m.setDeadLinger(0ms);
    s.timeNs = 4 * kSec;
    s.workers = {rankWorker(0, "nodeC", 1)};
    m.applySnapshot(s);
    QCOMPARE(column(m, WorkersModel::NameColumn), (QStringList{"nodeC/rank 1"}));
    QCOMPARE(m.hosts(), (QStringList{"nodeC"}));
}

void TstModels::workersHostArrivesLate()
{
    // An MPI rank is listed before its first heartbeat names its host; when
    // the host arrives the row moves into its host's group (one removal, one
    // insertion), keeping the model consistent.
    WorkersModel m;
    QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
    Snapshot s;
    s.timeNs = kSec;
    s.workers = {rankWorker(0, "nodeA", 1), rankWorker(1, QString(), 2), rankWorker(2, "nodeB", 3)};
    m.applySnapshot(s);
    QCOMPARE(column(m, WorkersModel::HostColumn), (QStringList{"—", "nodeA", "nodeB"}));
    QVERIFY(m.hasHosts());

    QSignalSpy inserted(&m, &QAbstractItemModel::rowsInserted);
    QSignalSpy removed(&m, &QAbstractItemModel::rowsRemoved);
    s.timeNs = 2 * kSec;
    s.workers[1] = rankWorker(1, "nodeB", 2);
    m.applySnapshot(s);
    QCOMPARE(removed.count(), 1);
    QCOMPARE(inserted.count(), 1);
    QCOMPARE(m.rowCount(), 3);
    QCOMPARE(column(m, WorkersModel::NameColumn),
             (QStringList{"nodeA/rank 1", "nodeB/rank 2", "nodeB/rank 3"}));
    QCOMPARE(m.rowOfWorker(1), 1);
    QVERIFY(!m.isDead(1));
}

void TstModels::workersDeadLinger()
{
    WorkersModel m;
    QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
    m.setDeadLinger(2000ms);
    m.setPalette(darkPalette());
    QSignalSpy removed(&m, &QAbstractItemModel::rowsRemoved);

    Snapshot s;
    s.timeNs = 10 * kSec;
    s.workers = {worker(0), worker(1), worker(2)};
    m.applySnapshot(s);

    // t = 11 s: worker 1 reported dead (once, as pools do): its row moves
    // below the live ones.
    WorkerInfo dying = worker(1, WorkerState::Dead);
    dying.currentTask = 5; // the task it died with must not show as running
    s.timeNs = 11 * kSec;
    s.workers = {worker(0), dying, worker(2)};
    m.applySnapshot(s);
    QCOMPARE(m.rowCount(), 3);
    QCOMPARE(m.rowOfWorker(1), 2);
    QVERIFY(m.isDead(2));
    QVERIFY(!m.isDead(0) && !m.isDead(1));
    QCOMPARE(m.index(2, 0).data(WorkersModel::DeadRole).toBool(), true);
    QCOMPARE(m.index(2, 0).data(Qt::ForegroundRole).value<QColor>(),
             darkPalette().color(QPalette::Disabled, QPalette::Text));
    QCOMPARE(cell(m, 2, WorkersModel::TaskColumn), QString());
    removed.clear();

    // t = 12 s: worker 1 gone from the snapshot, worker 2 vanishes silently
    // (it too goes below the live ones, after worker 1).
    s.timeNs = 12 * kSec;
    s.workers = {worker(0)};
    m.applySnapshot(s);
    QCOMPARE(m.rowCount(), 3);
    QCOMPARE(m.rowOfWorker(0), 0);
    QCOMPARE(m.rowOfWorker(1), 1);
    QCOMPARE(m.rowOfWorker(2), 2);
    QVERIFY(m.isDead(2));
    QCOMPARE(cell(m, 2, WorkersModel::StateColumn), "dead");
    QCOMPARE(removed.count(), 1); // worker 2 left its place, nothing expired
    removed.clear();

    // t = 13 s: worker 1 dead for 2 s -> removed; worker 2 (dead for 1 s) stays.
    s.timeNs = 13 * kSec;
    m.applySnapshot(s);
    QCOMPARE(removed.count(), 1);
    QCOMPARE(m.rowCount(), 2);
    QCOMPARE(m.rowOfWorker(1), -1);
    QVERIFY(m.rowOfWorker(2) >= 0);

    s.timeNs = 14 * kSec;
    m.applySnapshot(s);
    QCOMPARE(m.rowCount(), 1);
    QCOMPARE(m.worker(0).index, 0);
}

// A worker retired by a resize is grey and says "retired"; a crashed one is
// red and says "dead"; both sit below the live ones, new workers included.
void TstModels::workersRetiredAndDeadBelowLive()
{
    WorkersModel m;
    QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
    m.setDeadLinger(5000ms);
    Snapshot s;
    s.timeNs = kSec;
    s.workers = {worker(0), worker(1), worker(2), worker(3)};
    m.applySnapshot(s);
    s.timeNs = 2 * kSec;
    s.workers = {worker(0, WorkerState::Retired), worker(1, WorkerState::Dead), worker(2),
                 worker(3), worker(4, WorkerState::Starting)};
    m.applySnapshot(s);
    QCOMPARE(m.rowCount(), 5);
    QCOMPARE(column(m, WorkersModel::StateColumn),
             (QStringList{"idle", "idle", "starting", "retired", "dead"}));
    QCOMPARE(m.worker(3).index, 0);
    QCOMPARE(m.worker(4).index, 1);
    const QPalette pal = QGuiApplication::palette();
    const QColor retired = display::workerStateColor(WorkerState::Retired, pal);
    const QColor dead = display::workerStateColor(WorkerState::Dead, pal);
    QCOMPARE(retired.hsvSaturationF() < 0.05, true); // grey
    QVERIFY(dead.hsvSaturationF() > 0.5);            // red
    QVERIFY(dead.hueF() < 0.05 || dead.hueF() > 0.95);
}

void TstModels::workersDataChangedPerRange()
{
    WorkersModel m;
    QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
    Snapshot s;
    s.timeNs = kSec;
    for (int i = 0; i < 5; ++i)
        s.workers.append(worker(i));
    m.applySnapshot(s);

    QSignalSpy changed(&m, &QAbstractItemModel::dataChanged);
    s.timeNs = 2 * kSec;
    s.workers[0].tasksDone = 1;
    s.workers[1].tasksDone = 1;
    s.workers[3].lastCore = 1;
    m.applySnapshot(s);
    QCOMPARE(changed.count(), 2); // rows 0..1 and 3
    QCOMPARE(changed.at(0).at(0).value<QModelIndex>().row(), 0);
    QCOMPARE(changed.at(0).at(1).value<QModelIndex>().row(), 1);
    QCOMPARE(changed.at(1).at(0).value<QModelIndex>().row(), 3);
    QCOMPARE(changed.at(1).at(1).value<QModelIndex>().row(), 3);

    changed.clear();
    s.timeNs = 3 * kSec; // nothing changed, no running task: no signal at all
    m.applySnapshot(s);
    QCOMPARE(changed.count(), 0);
}

void TstModels::progressDelegatePaints()
{
    WorkersModel m;
    Snapshot s;
    s.timeNs = kSec;
    WorkerInfo w = worker(0, WorkerState::Running);
    w.currentTask = 1;
    w.progress = 0.3;
    s.workers = {w, worker(1)};
    m.applySnapshot(s);

    QTableView view;
    auto* delegate = new ProgressBarDelegate(&view);
    QCOMPARE(delegate->progressRole(), int(WorkersModel::ProgressRole));
    view.setItemDelegateForColumn(WorkersModel::ProgressColumn, delegate);
    view.setModel(&m);
    view.resize(800, 200);
    const QImage img = view.grab().toImage();
    QVERIFY(!img.isNull());
    QStyleOptionViewItem opt;
    opt.initFrom(&view);
    const QSize hint = delegate->sizeHint(opt, m.index(0, WorkersModel::ProgressColumn));
    QVERIFY(hint.width() >= view.fontMetrics().horizontalAdvance("100 %"));
}

// ---------------------------------------------------------------- FuturesModel

void TstModels::futuresColumns()
{
    FuturesModel m;
    QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
    Feed feed;
    feed.workers = {worker(1)};
    TaskRecord ok = record(1, TaskStatus::Succeeded, 2 * kMs);
    ok.span.gilWaitNs = 300'000;
    TaskRecord bad = record(2, TaskStatus::Failed, 1500);
    TaskRecord cancelled = record(3, TaskStatus::Cancelled, 0);
    cancelled.span.cpuNs = -1;
    cancelled.span.enqueueNs = 0;
    cancelled.span.core = -1;
    m.applySnapshot(feed.tick({ok, bad, cancelled}));

    QCOMPARE(m.rowCount(), 3);
    QCOMPARE(m.columnCount(), int(FuturesModel::ColumnCount));
    QCOMPARE(cell(m, 0, FuturesModel::IdColumn), "1");
    QCOMPARE(cell(m, 0, FuturesModel::TaskColumn), "primes");
    QCOMPARE(cell(m, 0, FuturesModel::ArgsColumn), "[1000, 2000]");
    QCOMPARE(cell(m, 0, FuturesModel::ResultColumn), "7");
    QCOMPARE(cell(m, 1, FuturesModel::ResultColumn), "ValueError: boom in task 2");
    QCOMPARE(cell(m, 2, FuturesModel::ResultColumn), "cancelled");
    QCOMPARE(cell(m, 0, FuturesModel::StatusColumn), "succeeded");
    QCOMPARE(cell(m, 1, FuturesModel::StatusColumn), "failed");
    QCOMPARE(cell(m, 2, FuturesModel::StatusColumn), "cancelled");
    QCOMPARE(cell(m, 0, FuturesModel::WorkerColumn), "poolscope_1");
    QCOMPARE(cell(m, 1, FuturesModel::WorkerColumn), "worker 2"); // name never seen
    QCOMPARE(cell(m, 0, FuturesModel::CoreColumn), "1");
    QCOMPARE(cell(m, 2, FuturesModel::CoreColumn), "—");
    QCOMPARE(cell(m, 0, FuturesModel::QueuedColumn), "1.00 ms");
    QCOMPARE(cell(m, 2, FuturesModel::QueuedColumn), "—");
    QCOMPARE(cell(m, 0, FuturesModel::RunColumn), "2.00 ms");
    QCOMPARE(cell(m, 1, FuturesModel::RunColumn), "1.50 µs");
    QCOMPARE(cell(m, 0, FuturesModel::CpuColumn), "1.00 ms");
    QCOMPARE(cell(m, 2, FuturesModel::CpuColumn), "—");
    QCOMPARE(cell(m, 0, FuturesModel::GilWaitColumn), "300 µs");
    // waiting = run − CPU − GIL wait = 2 ms − 1 ms − 300 µs, the run bar's split
    QCOMPARE(cell(m, 0, FuturesModel::WaitingColumn), "700 µs");
    QCOMPARE(cell(m, 2, FuturesModel::WaitingColumn), "—");
    QCOMPARE(m.index(0, FuturesModel::WaitingColumn).data(FuturesModel::SortRole).toLongLong(),
             decompose(ok.span).waitingNs);
    QVERIFY(m.headerData(FuturesModel::WaitingColumn, Qt::Horizontal, Qt::ToolTipRole)
                .toString()
                .contains(QStringLiteral("GIL wait")));
    QVERIFY(m.detailsText(0).contains(QStringLiteral("700 µs")));
    {
        // GIL wait larger than wall − CPU (clock skew): clamped at 0, like the bar
        FuturesModel clamp;
        Feed f2;
        TaskRecord skew = record(4, TaskStatus::Succeeded, 2 * kMs); // CPU 1 ms
        skew.span.gilWaitNs = 1500 * 1000;
        clamp.applySnapshot(f2.tick({skew}));
        QCOMPARE(
            clamp.index(0, FuturesModel::WaitingColumn).data(FuturesModel::SortRole).toLongLong(),
            0);
    }

    // raw numbers for sorting
    QCOMPARE(m.index(0, FuturesModel::RunColumn).data(FuturesModel::SortRole).toLongLong(),
             2 * kMs);
    QCOMPARE(m.index(2, FuturesModel::CpuColumn).data(FuturesModel::SortRole).toLongLong(), -1);
    QCOMPARE(m.index(1, 0).data(FuturesModel::StatusRole).toInt(), int(TaskStatus::Failed));
    QCOMPARE(m.index(1, 0).data(FuturesModel::TaskIdRole).toULongLong(), 2u);
    QVERIFY(
        m.index(1, FuturesModel::StatusColumn).data(Qt::ForegroundRole).value<QColor>().isValid());
}

void TstModels::futuresOneInsertionPerTick()
{
    FuturesModel m;
    QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy inserted(&m, &QAbstractItemModel::rowsInserted);
    QSignalSpy aboutToInsert(&m, &QAbstractItemModel::rowsAboutToBeInserted);
    Feed feed;
    QList<TaskRecord> batch;
    for (quint64 i = 1; i <= 1000; ++i)
        batch.append(record(i));
    m.applySnapshot(feed.tick(batch)); // the first tick of a record: a reset
    QCOMPARE(m.rowCount(), 1000);

    batch.clear();
    for (quint64 i = 1001; i <= 2000; ++i)
        batch.append(record(i));
    m.applySnapshot(feed.tick(batch));
    QCOMPARE(m.rowCount(), 2000);
    QCOMPARE(aboutToInsert.count(), 1);
    QCOMPARE(inserted.count(), 1);
    QCOMPARE(inserted.last().at(1).toInt(), 1000);
    QCOMPARE(inserted.last().at(2).toInt(), 1999);

    m.applySnapshot(feed.tick({})); // a tick without completions: no signal
    QCOMPARE(inserted.count(), 1);
}

void TstModels::futuresEveryTaskOfAMillion()
{
    // The table is the record: a million rows, none trimmed, no copy.
    FuturesModel m;
    Feed feed;
    feed.rec = std::make_shared<RunRecord>(RunRecord::kDefaultLimit);
    QList<TaskRecord> batch;
    for (quint64 i = 1; i <= 1'000'000; ++i) {
        TaskRecord r = record(i);
        r.args.clear();
        r.result = QVariant(qint64(i));
        batch.append(r);
        if (batch.size() == 100'000) {
            m.applySnapshot(feed.tick(batch));
            batch.clear();
        }
    }
    QCOMPARE(m.rowCount(), 1'000'000);
    QCOMPARE(m.sampleNote(), QString()); // every task: no note
    QCOMPARE(m.runTasks(), quint64(1'000'000));
    QCOMPARE(cell(m, 999'999, FuturesModel::IdColumn), "1000000");
    QCOMPARE(cell(m, 0, FuturesModel::ResultColumn), "1");
    QCOMPARE(m.rowOfTask(500'000), 499'999);
}

void TstModels::futuresNewRecordResets()
{
    FuturesModel m;
    QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
    Feed a;
    m.applySnapshot(a.tick({record(1), record(2)}));
    QSignalSpy reset(&m, &QAbstractItemModel::modelReset);
    Feed b; // the next run: a new record
    m.applySnapshot(b.tick({record(10)}));
    QCOMPARE(reset.count(), 1);
    QCOMPARE(m.rowCount(), 1);
    QCOMPARE(cell(m, 0, FuturesModel::IdColumn), "10");
    m.clear();
    QCOMPARE(m.rowCount(), 0);
}

void TstModels::futuresSampleNote_data()
{
    QTest::addColumn<quint64>("limit");
    QTest::addColumn<int>("tasks");
    QTest::addColumn<QString>("note");
    QTest::newRow("every task") << quint64(100) << 100 << QString();
    QTest::newRow("past the limit")
        << quint64(100) << 1000 << QStringLiteral("sample: 1 in 16 of 1,000 tasks");
}

void TstModels::futuresSampleNote()
{
    // The note appears exactly when the record had to sample.
    QFETCH(quint64, limit);
    QFETCH(int, tasks);
    QFETCH(QString, note);
    FuturesModel m;
    QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy changed(&m, &FuturesModel::contentsChanged);
    Feed feed;
    feed.rec = std::make_shared<RunRecord>(limit);
    for (int i = 1; i <= tasks; i += 50) {
        QList<TaskRecord> batch;
        for (int k = i; k < i + 50 && k <= tasks; ++k)
            batch.append(record(quint64(k)));
        m.applySnapshot(feed.tick(batch));
    }
    QCOMPARE(m.sampleNote(), note);
    QCOMPARE(m.rowCount(), int(feed.rec->size()));
    QCOMPARE(m.runTasks(), quint64(tasks));
    QVERIFY(changed.count() > 0);
}

void TstModels::futuresRowLimit()
{
    // Replay: a record in end order, shown up to the position.
    FuturesModel m;
    QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
    auto rec = std::make_shared<RunRecord>();
    for (quint64 i = 1; i <= 10; ++i)
        rec->add(record(i).span);
    m.setRecord(rec);
    QCOMPARE(m.rowCount(), 10);
    m.setRowLimit(4);
    QCOMPARE(m.rowCount(), 4);
    m.setRowLimit(7);
    QCOMPARE(m.rowCount(), 7);
    QCOMPARE(cell(m, 6, FuturesModel::IdColumn), "7");
    m.setStatusFilter(FuturesModel::StatusFilter::Succeeded);
    QCOMPARE(m.rowCount(), 7);
    m.setRowLimit(2);
    QCOMPARE(m.rowCount(), 2);
}

void TstModels::futuresDetailsText()
{
    FuturesModel m;
    Feed feed;
    feed.workers = {worker(3)};
    TaskRecord bad = record(3, TaskStatus::Failed);
    bad.error = QStringLiteral("RuntimeError: ") + QString(500, QLatin1Char('x')) + " END";
    m.applySnapshot(feed.tick({bad}));

    // the cell is elided, the details are not
    QVERIFY(cell(m, 0, FuturesModel::ResultColumn).size() <= 200);
    QVERIFY(cell(m, 0, FuturesModel::ResultColumn).endsWith(QChar(0x2026)));
    const QString d = m.detailsText(0);
    QVERIFY2(d.contains(bad.error), qPrintable(d));
    QVERIFY(d.contains("primes"));
    QVERIFY(d.contains("#3"));
    QVERIFY(d.contains(bad.args));
    QVERIFY(d.contains("poolscope_3"));
    QVERIFY(d.contains("core 1"));
    QVERIFY(d.contains("10.0 ms")); // run time
    QVERIFY(d.contains("5.00 ms")); // CPU time
    QCOMPARE(m.detailsText(5), QString());
}

void TstModels::pythonErrorNames_data()
{
    QTest::addColumn<QString>("cpp");
    QTest::addColumn<QString>("python");
    QTest::addColumn<QString>("type"); // the C++ type kept for the tooltip
    QTest::newRow("runtime_error") << "std::runtime_error: task 5 failed on purpose"
                                   << "RuntimeError: task 5 failed on purpose"
                                   << "std::runtime_error";
    QTest::newRow("invalid_argument") << "std::invalid_argument: bad n"
                                      << "ValueError: bad n"
                                      << "std::invalid_argument";
    QTest::newRow("PoolScope's InvalidArgument")
        << "poolscope::InvalidArgument: sleep: ms must not be negative, got -1"
        << "ValueError: sleep: ms must not be negative, got -1"
        << "poolscope::InvalidArgument";
    QTest::newRow("out_of_range") << "std::out_of_range: vector::_M_range_check: __n (which is 9)"
                                  << "IndexError: vector::_M_range_check: __n (which is 9)"
                                  << "std::out_of_range";
    QTest::newRow("overflow_error") << "std::overflow_error: too big"
                                    << "OverflowError: too big"
                                    << "std::overflow_error";
    QTest::newRow("bad_alloc") << "std::bad_alloc: std::bad_alloc"
                               << "MemoryError: std::bad_alloc"
                               << "std::bad_alloc";
    QTest::newRow("ABI tag") << "std::ios_base::failure[abi:cxx11]: basic_ios::clear"
                             << "OSError: basic_ios::clear"
                             << "std::ios_base::failure[abi:cxx11]";
    QTest::newRow("TimeoutError") << "poolscope::TimeoutError: task 3 ran past its 2 s timeout"
                                  << "TimeoutError: task 3 ran past its 2 s timeout"
                                  << "poolscope::TimeoutError";
    QTest::newRow("WorkerCrashed")
        << "poolscope::WorkerCrashed: worker 1 (pid 7) was killed by SIGSEGV"
        << "WorkerCrashed: worker 1 (pid 7) was killed by SIGSEGV"
        << "poolscope::WorkerCrashed";
    QTest::newRow("remote, unknown type") << "poolscope::RemoteError: my::ParseError: line 3"
                                          << "my::ParseError: line 3"
                                          << "my::ParseError";
    QTest::newRow("remote, known type") << "poolscope::RemoteError: std::domain_error: x < 0"
                                        << "ValueError: x < 0"
                                        << "std::domain_error";
    QTest::newRow("unknown type unchanged") << "my::ParseError: line 3"
                                            << "my::ParseError: line 3"
                                            << "my::ParseError";
    QTest::newRow("no type") << "cancelled"
                             << "cancelled"
                             << "";
    QTest::newRow("a sentence, not a type") << "exception of type int: oops"
                                            << "exception of type int: oops"
                                            << "";
}

void TstModels::pythonErrorNames()
{
    QFETCH(QString, cpp);
    QFETCH(QString, python);
    QFETCH(QString, type);
    QString got;
    QCOMPARE(display::pythonErrorText(cpp, &got), python);
    QCOMPARE(got, type);

    // The table says it Python's way, the tooltip keeps the C++ type, the
    // CSV-facing text (resultOrError) stays as thrown; and it can be off.
    FuturesModel m;
    QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
    Feed feed;
    feed.workers = {worker(3)};
    TaskRecord bad = record(3, TaskStatus::Failed);
    bad.error = cpp;
    m.applySnapshot(feed.tick({bad}));
    QVERIFY(m.pythonErrorNames());
    QCOMPARE(cell(m, 0, FuturesModel::ResultColumn), python);
    const QString tip = cell(m, 0, FuturesModel::ResultColumn, Qt::ToolTipRole);
    QVERIFY2(tip.startsWith(python), qPrintable(tip));
    if (!type.isEmpty())
        QVERIFY2(tip.contains(QStringLiteral("C++ type: ") + type), qPrintable(tip));
    QCOMPARE(m.resultOrError(0), cpp);
    if (python != cpp) {
        QVERIFY(m.detailsText(0).contains(python));
        QVERIFY(m.detailsText(0).contains(QStringLiteral("(C++: ") + cpp));
        // A search for the Python name finds it.
        m.setTextFilter(python.section(QLatin1Char(':'), 0, 0));
        QCOMPARE(m.rowCount(), 1);
        m.setTextFilter(QString());
    }
    QSignalSpy changed(&m, &QAbstractItemModel::dataChanged);
    m.setPythonErrorNames(false);
    QCOMPARE(changed.count(), 1);
    QCOMPARE(cell(m, 0, FuturesModel::ResultColumn), cpp);
}

void TstModels::filterByStatus_data()
{
    QTest::addColumn<FuturesModel::StatusFilter>("filter");
    QTest::addColumn<int>("rows");
    QTest::newRow("all") << FuturesModel::StatusFilter::All << 10;
    QTest::newRow("succeeded") << FuturesModel::StatusFilter::Succeeded << 5;
    QTest::newRow("failed") << FuturesModel::StatusFilter::Failed << 3;
    QTest::newRow("cancelled") << FuturesModel::StatusFilter::Cancelled << 2;
}

void TstModels::filterByStatus()
{
    QFETCH(FuturesModel::StatusFilter, filter);
    QFETCH(int, rows);
    FuturesModel m;
    QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
    Feed feed;
    QList<TaskRecord> batch;
    for (quint64 i = 1; i <= 10; ++i) {
        const TaskStatus st = i <= 5   ? TaskStatus::Succeeded
                              : i <= 8 ? TaskStatus::Failed
                                       : TaskStatus::Cancelled;
        batch.append(record(i, st));
    }
    m.applySnapshot(feed.tick(batch));
    m.setStatusFilter(filter);
    QCOMPARE(m.statusFilter(), filter);
    QCOMPARE(m.rowCount(), rows);
    for (int r = 0; r < m.rowCount(); ++r) {
        if (filter != FuturesModel::StatusFilter::All)
            QCOMPARE(m.index(r, 0).data(FuturesModel::StatusRole).toInt(),
                     int(filter) - 1); // StatusFilter follows TaskStatus, shifted by All
    }
    // New rows are filtered as they arrive.
    m.applySnapshot(feed.tick({record(11, TaskStatus::Failed)}));
    QCOMPARE(m.rowCount(), rows
                               + (filter == FuturesModel::StatusFilter::All
                                  || filter == FuturesModel::StatusFilter::Failed));
}

void TstModels::filterByText_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<QList<quint64>>("ids");
    QTest::newRow("empty") << QString() << QList<quint64>{1, 2, 3, 4};
    QTest::newRow("task name") << "SLEEP" << QList<quint64>{3};
    QTest::newRow("args") << "[2000," << QList<quint64>{2};
    QTest::newRow("error") << "boom" << QList<quint64>{4};
    QTest::newRow("result") << "21" << QList<quint64>{3}; // 3 * 7
    QTest::newRow("none") << "zzz" << QList<quint64>{};
}

void TstModels::filterByText()
{
    QFETCH(QString, text);
    QFETCH(QList<quint64>, ids);
    FuturesModel m;
    QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
    Feed feed;
    m.applySnapshot(feed.tick({record(1), record(2), record(3, TaskStatus::Succeeded, kMs, "sleep"),
                               record(4, TaskStatus::Failed)}));
    m.setTextFilter(text);
    QList<quint64> got;
    for (int r = 0; r < m.rowCount(); ++r)
        got.append(m.index(r, 0).data(FuturesModel::TaskIdRole).toULongLong());
    QCOMPARE(got, ids);

    // text and status combine
    m.setStatusFilter(FuturesModel::StatusFilter::Failed);
    QCOMPARE(m.rowCount(), ids.contains(4) ? 1 : 0);
}

void TstModels::sortNumeric_data()
{
    QTest::addColumn<int>("column");
    QTest::addColumn<Qt::SortOrder>("order");
    QTest::addColumn<QList<quint64>>("ids");
    // ids 2, 10, 100 with run times 9 ns, 100 ns, 20 ns: as text "100" < "2" and
    // "100 ns" < "20 ns" < "9 ns"; as numbers they sort the other way.
    QTest::newRow("id asc") << int(FuturesModel::IdColumn) << Qt::AscendingOrder
                            << QList<quint64>{2, 10, 100};
    QTest::newRow("id desc") << int(FuturesModel::IdColumn) << Qt::DescendingOrder
                             << QList<quint64>{100, 10, 2};
    QTest::newRow("run asc") << int(FuturesModel::RunColumn) << Qt::AscendingOrder
                             << QList<quint64>{2, 100, 10};
    QTest::newRow("run desc") << int(FuturesModel::RunColumn) << Qt::DescendingOrder
                              << QList<quint64>{10, 100, 2};
    QTest::newRow("cpu asc") << int(FuturesModel::CpuColumn) << Qt::AscendingOrder
                             << QList<quint64>{2, 100, 10};
    QTest::newRow("record order") << -1 << Qt::AscendingOrder << QList<quint64>{2, 10, 100};
}

void TstModels::sortNumeric()
{
    QFETCH(int, column);
    QFETCH(Qt::SortOrder, order);
    QFETCH(QList<quint64>, ids);
    FuturesModel m;
    QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
    Feed feed;
    m.applySnapshot(
        feed.tick({record(2, TaskStatus::Succeeded, 9), record(10, TaskStatus::Succeeded, 100),
                   record(100, TaskStatus::Succeeded, 20)}));
    m.sort(column, order);
    QList<quint64> got;
    for (int r = 0; r < m.rowCount(); ++r)
        got.append(m.index(r, 0).data(FuturesModel::TaskIdRole).toULongLong());
    QCOMPARE(got, ids);
}

void TstModels::sortedMergeKeepsSelection()
{
    // Sorted by run time, new rows merge in where they belong; a persistent
    // index (a selection) follows its task.
    FuturesModel m;
    QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
    Feed feed;
    m.applySnapshot(
        feed.tick({record(1, TaskStatus::Succeeded, 10), record(2, TaskStatus::Succeeded, 30),
                   record(3, TaskStatus::Succeeded, 50)}));
    m.sort(FuturesModel::RunColumn, Qt::AscendingOrder);
    const QPersistentModelIndex selected(m.index(1, 0)); // task 2
    QSignalSpy layout(&m, &QAbstractItemModel::layoutChanged);
    m.applySnapshot(
        feed.tick({record(4, TaskStatus::Succeeded, 20), record(5, TaskStatus::Succeeded, 60),
                   record(6, TaskStatus::Succeeded, 5)}));
    QCOMPARE(layout.count(), 1);
    QList<quint64> got;
    for (int r = 0; r < m.rowCount(); ++r)
        got.append(m.index(r, 0).data(FuturesModel::TaskIdRole).toULongLong());
    QCOMPARE(got, (QList<quint64>{6, 1, 4, 2, 3, 5}));
    QVERIFY(selected.isValid());
    QCOMPARE(selected.data(FuturesModel::TaskIdRole).toULongLong(), 2u);
    QCOMPARE(selected.row(), 3);
}

QTEST_MAIN(TstModels)
#include "tst_models.moc"
