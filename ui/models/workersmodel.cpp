#include "models/workersmodel.h"

#include "models/display.h"

#include <QGuiApplication>
#include <QLocale>

#include <algorithm>
#include <functional>

namespace poolscope {

namespace {
QString workerName(const WorkerInfo& w)
{
    return w.name.isEmpty() ? QStringLiteral("worker %1").arg(w.index) : w.name;
}
} // namespace

WorkersModel::WorkersModel(QObject* parent)
    : QAbstractTableModel(parent)
{}

bool WorkersModel::sameDisplay(const WorkerInfo& a, const WorkerInfo& b)
{
    return a.name == b.name && a.pid == b.pid && a.tid == b.tid && a.state == b.state
           && a.currentTask == b.currentTask && a.currentName == b.currentName
           && a.currentStartNs == b.currentStartNs && a.progress == b.progress
           && a.tasksDone == b.tasksDone && a.cpuLoad == b.cpuLoad && a.lastCore == b.lastCore
           && a.holdsGil == b.holdsGil && a.busyNs == b.busyNs && a.cpuNs == b.cpuNs
           && a.host == b.host && a.rank == b.rank;
}

bool WorkersModel::keyLess(const WorkerInfo& a, const WorkerInfo& b)
{
    // By host (an MPI pool's hosts stay one group each), then live workers
    // first: ended ones (retired, dead) below them until their rows linger
    // out.
    if (a.host != b.host)
        return a.host < b.host;
    if (hasEnded(a.state) != hasEnded(b.state))
        return hasEnded(b.state);
    if (a.rank != b.rank)
        return a.rank < b.rank;
    return a.index < b.index;
}

bool WorkersModel::sameKey(const WorkerInfo& a, const WorkerInfo& b)
{
    return a.index == b.index && a.rank == b.rank && a.host == b.host
           && hasEnded(a.state) == hasEnded(b.state);
}

int WorkersModel::rowOfKey(const WorkerInfo& w) const
{
    auto it =
        std::lower_bound(m_rows.begin(), m_rows.end(), w,
                         [](const Row& r, const WorkerInfo& k) { return keyLess(r.info, k); });
    return it != m_rows.end() && sameKey(it->info, w) ? int(it - m_rows.begin()) : -1;
}

int WorkersModel::rowOfWorker(int workerIndex) const
{
    // Rows are ordered by host first, so the index alone needs a scan (a
    // pool has at most a few thousand workers; the model itself looks rows
    // up by their full key).
    for (std::size_t r = 0; r < m_rows.size(); ++r) {
        if (m_rows[r].info.index == workerIndex)
            return int(r);
    }
    return -1;
}

QStringList WorkersModel::hosts() const
{
    QStringList out;
    for (const Row& r : m_rows) {
        if (out.isEmpty() || out.constLast() != r.info.host)
            out.append(r.info.host);
    }
    return out;
}

void WorkersModel::countHostRows()
{
    m_hostRows = int(std::count_if(m_rows.begin(), m_rows.end(),
                                   [](const Row& r) { return !r.info.host.isEmpty(); }));
}

void WorkersModel::applySnapshot(const Snapshot& snapshot)
{
    const qint64 now = snapshot.timeNs;
    // Running workers show "running for ..." which moves with time.
    const bool timeMoved = now != m_timeNs;
    m_timeNs = now;

    // 0. workers whose host or rank changed, or that ended, leave their old
    //    place (one removal each; an MPI rank's host arrives after its first
    //    report; an ended worker moves below the live ones). They come back
    //    below as new rows in their place.
    if (!m_rows.empty()) {
        std::vector<int> moved;
        for (const WorkerInfo& w : snapshot.workers) {
            if (rowOfKey(w) >= 0)
                continue;
            const int r = rowOfWorker(w.index);
            if (r >= 0 && std::find(moved.begin(), moved.end(), r) == moved.end())
                moved.push_back(r);
        }
        // One removal per contiguous range, from the back.
        std::sort(moved.begin(), moved.end(), std::greater<>());
        for (std::size_t i = 0; i < moved.size();) {
            std::size_t j = i;
            while (j + 1 < moved.size() && moved[j + 1] == moved[j] - 1)
                ++j;
            beginRemoveRows({}, moved[j], moved[i]);
            m_rows.erase(m_rows.begin() + moved[j], m_rows.begin() + moved[i] + 1);
            endRemoveRows();
            i = j + 1;
        }
    }

    std::vector<char> seen(m_rows.size(), 0);
    std::vector<int> changed;
    std::vector<WorkerInfo> added;

    for (const WorkerInfo& w : snapshot.workers) {
        const int r = rowOfKey(w);
        if (r < 0) {
            added.push_back(w);
            continue;
        }
        if (seen[std::size_t(r)])
            continue; // duplicate index in one snapshot: first wins
        seen[std::size_t(r)] = 1;
        Row& row = m_rows[std::size_t(r)];
        const bool wasDead = row.deadSinceNs >= 0;
        const bool dead = hasEnded(w.state);
        if (!sameDisplay(row.info, w) || wasDead != dead || (timeMoved && w.currentTask != 0))
            changed.push_back(r);
        row.info = w;
        row.deadSinceNs = dead ? (wasDead ? row.deadSinceNs : now) : -1;
    }
    // A worker that vanished without a "dead" report (its last report was
    // lost, or the pool dropped it) counts as dead from now: it leaves its
    // row and comes back below the live ones.
    std::vector<char> relocate(m_rows.size(), 0);
    for (std::size_t r = 0; r < m_rows.size(); ++r) {
        const Row& row = m_rows[r];
        if (seen[r] || row.deadSinceNs >= 0)
            continue;
        WorkerInfo gone = row.info;
        gone.state = WorkerState::Dead;
        gone.currentTask = 0;
        gone.currentName = 0;
        gone.progress = -1;
        gone.holdsGil = false;
        gone.cpuLoad = -1;
        added.push_back(gone);
        relocate[r] = 1;
    }

    // 1. changes of rows that stay
    const qint64 lingerNs = qint64(m_linger.count()) * 1'000'000;
    auto leaves = [&](std::size_t r) {
        const Row& row = m_rows[r];
        return relocate[r] || (row.deadSinceNs >= 0 && now - row.deadSinceNs >= lingerNs);
    };
    std::sort(changed.begin(), changed.end());
    changed.erase(std::remove_if(changed.begin(), changed.end(),
                                 [&](int r) { return leaves(std::size_t(r)); }),
                  changed.end());
    emitChangedRanges(changed);

    // 2. removals, one per contiguous range, from the back so rows stay valid
    for (int r = int(m_rows.size()) - 1; r >= 0;) {
        if (!leaves(std::size_t(r))) {
            --r;
            continue;
        }
        const int last = r;
        while (r - 1 >= 0 && leaves(std::size_t(r - 1)))
            --r;
        beginRemoveRows({}, r, last);
        m_rows.erase(m_rows.begin() + r, m_rows.begin() + last + 1);
        endRemoveRows();
        --r;
    }

    // 3. insertions, one per run of new workers landing at the same place
    //    (normally one at the end: new workers get new, higher indices; in
    //    an MPI pool one per host group)
    std::stable_sort(added.begin(), added.end(),
                     [](const WorkerInfo& a, const WorkerInfo& b) { return a.index < b.index; });
    added.erase(
        std::unique(added.begin(), added.end(),
                    [](const WorkerInfo& a, const WorkerInfo& b) { return a.index == b.index; }),
        added.end());
    if (lingerNs <= 0) // an ended worker would leave at once: never shown
        added.erase(std::remove_if(added.begin(), added.end(),
                                   [](const WorkerInfo& w) { return hasEnded(w.state); }),
                    added.end());
    std::sort(added.begin(), added.end(), keyLess);
    for (std::size_t i = 0; i < added.size();) {
        const auto pos = std::lower_bound(
            m_rows.begin(), m_rows.end(), added[i],
            [](const Row& row, const WorkerInfo& k) { return keyLess(row.info, k); });
        const int at = int(pos - m_rows.begin());
        std::size_t j = i + 1;
        while (j < added.size() && (pos == m_rows.end() || keyLess(added[j], pos->info)))
            ++j;
        std::vector<Row> batch;
        batch.reserve(j - i);
        for (std::size_t k = i; k < j; ++k)
            batch.push_back(Row{added[k], hasEnded(added[k].state) ? now : qint64(-1)});
        beginInsertRows({}, at, at + int(batch.size()) - 1);
        m_rows.insert(m_rows.begin() + at, batch.begin(), batch.end());
        endInsertRows();
        i = j;
    }
    countHostRows();
}

void WorkersModel::emitChangedRanges(const std::vector<int>& rows)
{
    for (std::size_t i = 0; i < rows.size();) {
        std::size_t j = i;
        while (j + 1 < rows.size() && rows[j + 1] <= rows[j] + 1)
            ++j;
        emit dataChanged(index(rows[i], 0), index(rows[j], ColumnCount - 1));
        i = j + 1;
    }
}

void WorkersModel::clear()
{
    beginResetModel();
    m_rows.clear();
    m_hostRows = 0;
    m_timeNs = 0;
    endResetModel();
}

void WorkersModel::setDeadLinger(std::chrono::milliseconds linger)
{
    m_linger = std::max(linger, std::chrono::milliseconds(0));
}

void WorkersModel::setPalette(const QPalette& palette)
{
    m_palette = palette;
    m_customPalette = true;
    if (!m_rows.empty())
        emit dataChanged(index(0, 0), index(rowCount() - 1, ColumnCount - 1),
                         {Qt::ForegroundRole, Qt::DecorationRole, StateColorRole});
}

int WorkersModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int WorkersModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant WorkersModel::data(const QModelIndex& index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const Row& row = m_rows[std::size_t(index.row())];
    const WorkerInfo& w = row.info;
    const bool dead = row.deadSinceNs >= 0;
    const bool busy = w.currentTask != 0 && !dead;
    const double progress = busy && w.progress >= 0 ? std::clamp(w.progress, 0.0, 1.0) : -1.0;
    const qint64 runningNs =
        busy && w.currentStartNs > 0 ? std::max<qint64>(0, m_timeNs - w.currentStartNs) : -1;
    const QPalette pal = m_customPalette ? m_palette : QGuiApplication::palette();
    const int col = index.column();

    switch (role) {
    case Qt::DisplayRole:
        switch (col) {
        case NameColumn:
            return workerName(w);
        case HostColumn:
            return w.host.isEmpty() ? QStringLiteral("—") : w.host;
        case RankColumn:
            return w.rank >= 0 ? QString::number(w.rank) : QStringLiteral("—");
        case StateColumn:
            return QString::fromLatin1(nameOf(w.state));
        case TaskColumn:
            return busy ? QStringLiteral("%1 #%2")
                              .arg(NameTable::name(w.currentName))
                              .arg(w.currentTask)
                        : QString();
        case ProgressColumn:
            if (progress >= 0)
                return QStringLiteral("%1 %").arg(progress * 100.0, 0, 'f', 0);
            return runningNs >= 0 ? display::formatDuration(runningNs) : QString();
        case DoneColumn:
            return QLocale().toString(w.tasksDone);
        case CpuColumn:
            return w.cpuLoad >= 0 && !dead
                       ? QStringLiteral("%1 %").arg(w.cpuLoad * 100.0, 0, 'f', 0)
                       : QStringLiteral("—");
        case CoreColumn:
            return w.lastCore >= 0 ? QString::number(w.lastCore) : QStringLiteral("—");
        case PidColumn:
            return w.pid > 0 ? QString::number(w.pid) : QStringLiteral("—");
        case GilColumn:
            return w.holdsGil ? QStringLiteral("✓") : QString();
        }
        break;
    case SortRole:
        switch (col) {
        case NameColumn:
            return w.index;
        case HostColumn:
            return w.host;
        case RankColumn:
            return w.rank;
        case StateColumn:
            return int(w.state);
        case TaskColumn:
            return w.currentTask;
        case ProgressColumn:
            return progress;
        case DoneColumn:
            return w.tasksDone;
        case CpuColumn:
            return w.cpuLoad;
        case CoreColumn:
            return w.lastCore;
        case PidColumn:
            return w.pid;
        case GilColumn:
            return int(w.holdsGil);
        }
        break;
    case ProgressRole:
        return progress;
    case StateRole:
        return int(w.state);
    case StateColorRole:
        return display::workerStateColor(w.state, pal);
    case TaskIdRole:
        return busy ? w.currentTask : quint64(0);
    case WorkerIndexRole:
        return w.index;
    case DeadRole:
        return dead;
    case Qt::DecorationRole:
        if (col == StateColumn)
            return display::workerStateColor(w.state, pal);
        break;
    case Qt::ForegroundRole:
        if (dead)
            return pal.color(QPalette::Disabled, QPalette::Text);
        if (col == StateColumn)
            return display::workerStateColor(w.state, pal);
        break;
    case Qt::ToolTipRole:
        switch (col) {
        case NameColumn: {
            QString t = tr("Worker #%1").arg(w.index);
            if (w.rank >= 0)
                t += tr(", MPI rank %1").arg(w.rank);
            if (!w.host.isEmpty())
                t += tr(" on %1").arg(w.host);
            if (w.pid > 0)
                t += tr(", process %1").arg(w.pid);
            else if (w.tid > 0)
                t += tr(", thread %1").arg(w.tid);
            t += tr("\nbusy %1").arg(display::formatDuration(w.busyNs));
            if (w.cpuNs >= 0)
                t += tr(", CPU time %1").arg(display::formatDuration(w.cpuNs));
            if (dead)
                t += tr("\ndead: removed from this list shortly");
            return t;
        }
        case TaskColumn:
        case ProgressColumn:
            if (runningNs >= 0)
                return tr("running for %1").arg(display::formatDuration(runningNs));
            break;
        case HostColumn:
            return w.host.isEmpty() ? QVariant()
                                    : tr("Host the MPI runtime placed this rank on (rows are "
                                         "grouped by host, then rank)");
        case RankColumn:
            return w.rank >= 0 ? tr("MPI rank in the job (rank 0 is the master)") : QVariant();
        case CpuColumn:
            return tr("CPU time / wall time of this worker over the last tick");
        case CoreColumn:
            return tr("CPU core the worker last ran on");
        case GilColumn:
            return w.holdsGil ? tr("Holds the simulated GIL") : QVariant();
        }
        break;
    case Qt::TextAlignmentRole:
        switch (col) {
        case RankColumn:
        case DoneColumn:
        case CpuColumn:
        case CoreColumn:
        case PidColumn:
            return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
        case GilColumn:
            return QVariant::fromValue(Qt::AlignCenter);
        }
        break;
    default:
        break;
    }
    return {};
}

QVariant WorkersModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case NameColumn:
        return tr("Worker");
    case HostColumn:
        return tr("Host");
    case RankColumn:
        return tr("Rank");
    case StateColumn:
        return tr("State");
    case TaskColumn:
        return tr("Task");
    case ProgressColumn:
        return tr("Progress");
    case DoneColumn:
        return tr("Done");
    case CpuColumn:
        return tr("CPU");
    case CoreColumn:
        return tr("Core");
    case PidColumn:
        return tr("PID");
    case GilColumn:
        return tr("GIL");
    }
    return {};
}

} // namespace poolscope
