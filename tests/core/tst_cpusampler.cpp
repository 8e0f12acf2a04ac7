// CpuSampler, /proc/stat parsing and /proc/PID/stat parsing (docs/architecture.md).
// Fixtures in fixtures/procstat/ are hand-written /proc/stat files; the
// expected fractions below are worked out by hand from them.

#include <poolscope/cpusampler.h>

#include <QElapsedTimer>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QThread>
#include <QtTest>

#include <atomic>
#include <cmath>
#include <thread>
#include <unistd.h>

using namespace poolscope;

using CoreMap = QMap<int, double>;
using KeyList = QList<int>;

namespace {

QByteArray fixture(const QString& name)
{
    QFile f(QStringLiteral(FIXTURE_DIR "/procstat/") + name);
    if (!f.open(QIODevice::ReadOnly))
        qFatal("missing fixture %s", qPrintable(f.fileName()));
    return f.readAll();
}

bool near(double a, double b)
{
    return std::fabs(a - b) < 1e-12;
}

/// A /proc/PID/stat line with the given comm; fields 3..52 as in a real
/// kernel 6.x line. utime (14) = 250, stime (15) = 75, rss (24) = 321 pages,
/// processor (39) = 1.
QByteArray taskStatLine(const QByteArray& comm, int lastField = 52)
{
    QList<QByteArray> f{"R",
                        "1",
                        "4242",
                        "4242",
                        "0",
                        "-1",
                        "4194304",
                        "100",
                        "0",
                        "0",
                        "0",
                        "250",
                        "75",
                        "0",
                        "0",
                        "20",
                        "0",
                        "3",
                        "0",
                        "12345",
                        "1000000",
                        "321",
                        "18446744073709551615",
                        "1",
                        "1",
                        "0",
                        "0",
                        "0",
                        "0",
                        "0",
                        "0",
                        "0",
                        "0",
                        "0",
                        "0",
                        "17",
                        "1",
                        "0",
                        "0",
                        "0",
                        "0",
                        "0",
                        "0",
                        "0",
                        "0",
                        "0",
                        "0",
                        "0",
                        "0",
                        "0"};
    Q_ASSERT(f.size() == 50); // fields 3..52
    f = f.first(lastField - 2);
    return "4242 (" + comm + ") " + f.join(' ') + '\n';
}

} // namespace

class TstCpuSampler : public QObject {
    Q_OBJECT
private slots:
    // ------------------------------------------------------------ LoadMeter
    void loadMeterBusyText_data()
    {
        QTest::addColumn<double>("cores");
        QTest::addColumn<QString>("text");
        QTest::newRow("unknown") << -1.0 << QString();
        QTest::newRow("quiet") << 0.0 << QString();
        QTest::newRow("below the line") << 0.149 << QString();
        QTest::newRow("at the line")
            << 0.15 << QStringLiteral("the machine was busy: other programs used 0.15 cores");
        QTest::newRow("busy") << 1.4234
                              << QStringLiteral(
                                     "the machine was busy: other programs used 1.42 cores");
    }
    void loadMeterBusyText()
    {
        QFETCH(double, cores);
        QFETCH(QString, text);
        QCOMPARE(LoadMeter::busyText(cores), text);
    }

    void loadMeterUnstartedIsUnknown()
    {
        LoadMeter m;
        QVERIFY(!m.isStarted());
        QCOMPARE(m.otherCores(), -1.0);
    }

    // A child process that spins is another program unless its pid is given
    // (a process pool's worker): the difference is its CPU over the interval.
    void loadMeterCountsGivenChildrenAsOwn()
    {
        QProcess child;
        child.start(QStringLiteral("/bin/sh"),
                    {QStringLiteral("-c"), QStringLiteral("while :; do :; done")});
        QVERIFY(child.waitForStarted());
        const qint64 pid = child.processId();
        LoadMeter m, blind;
        m.start({pid});
        blind.start();
        const auto before = readTaskStat(pid);
        QVERIFY(before);
        // until the child has used 300 ms of CPU (however loaded the machine)
        QTRY_VERIFY_WITH_TIMEOUT(readTaskStat(pid)->cpuNs - before->cpuNs >= 300'000'000, 20'000);
        const double withChild = m.otherCores({pid});
        const double without = blind.otherCores();
        child.kill();
        QVERIFY(child.waitForFinished());
        QVERIFY2(withChild >= 0 && without >= 0,
                 qPrintable(QStringLiteral("%1 %2").arg(withChild).arg(without)));
        QVERIFY2(without - withChild >= 0.1,
                 qPrintable(QStringLiteral("others with the child counted as ours %1, as another "
                                           "program %2")
                                .arg(withChild)
                                .arg(without)));
    }

    // The calling thread's CPU only: another thread spinning does not count,
    // the caller's own spinning does (what the window's GUI thread drew).
    void threadCpuIsTheCallersOnly()
    {
        std::atomic<bool> stop{false};
        std::thread spinner([&stop] {
            while (!stop.load(std::memory_order_relaxed)) {
            }
        });
        const double t0 = LoadMeter::threadCpuSeconds();
        const double own0 = LoadMeter::ownCpuSeconds();
        QThread::msleep(300); // the spinner runs, the caller sleeps
        const double sleptCpu = LoadMeter::threadCpuSeconds() - t0;
        const double processCpu = LoadMeter::ownCpuSeconds() - own0;
        stop = true;
        spinner.join();
        QVERIFY2(
            sleptCpu < 0.05 && processCpu > 0.1,
            qPrintable(QStringLiteral("caller %1 s, process %2 s").arg(sleptCpu).arg(processCpu)));
        const double t1 = LoadMeter::threadCpuSeconds();
        QElapsedTimer busy;
        busy.start();
        volatile unsigned sink = 0;
        while (LoadMeter::threadCpuSeconds() - t1 < 0.1 && busy.elapsed() < 20'000)
            sink = sink + 1;
        QVERIFY(LoadMeter::threadCpuSeconds() - t1 >= 0.1);
    }

    void cpuTimesFormula()
    {
        // guest (9) and guest_nice (10) are inside user and nice: not added.
        const CpuTimes t{100, 10, 50, 800, 40, 5, 5, 0, 30, 3};
        QCOMPARE(t.total(), quint64(100 + 10 + 50 + 800 + 40 + 5 + 5 + 0)); // 1010
        QCOMPARE(t.busy(), quint64(1010 - 800 - 40));                       // 170
    }

    void parse_data()
    {
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<bool>("valid");
        QTest::addColumn<KeyList>("cores");
        QTest::addColumn<QString>("errorContains");

        QTest::newRow("2core") << fixture("2core_a.stat") << true << KeyList{0, 1} << QString();
        QTest::newRow("4core") << fixture("4core_a.stat") << true << KeyList{0, 1, 2, 3}
                               << QString();
        QTest::newRow("cpu2 offline: gap")
            << fixture("4core_b_cpu2_offline.stat") << true << KeyList{0, 1, 3} << QString();
        QTest::newRow("old kernel, 7 columns")
            << fixture("oldkernel7_a.stat") << true << KeyList{0, 1} << QString();
        QTest::newRow("2.4 kernel, 4 columns")
            << QByteArray("cpu  1 2 3 4\ncpu0 1 2 3 4\n") << true << KeyList{0} << QString();
        QTest::newRow("future kernel, 12 columns")
            << QByteArray("cpu  1 2 3 4 5 6 7 8 9 10 11 12\ncpu7 1 2 3 4 5 6 7 8 9 10 11 12\n")
            << true << KeyList{7} << QString();
        QTest::newRow("CRLF line ends") << QByteArray("cpu  1 2 3 4 5\r\ncpu0 1 2 3 4 5\r\n")
                                        << true << KeyList{0} << QString();
        QTest::newRow("no trailing newline")
            << QByteArray("cpu  1 2 3 4\ncpu0 1 2 3 4") << true << KeyList{0} << QString();
        QTest::newRow("html") << fixture("garbage_html.stat") << false << KeyList{}
                              << QStringLiteral("no aggregate 'cpu' line");
        QTest::newRow("random bytes") << fixture("garbage_random.stat") << false << KeyList{}
                                      << QStringLiteral("no aggregate 'cpu' line");
        QTest::newRow("binary field") << fixture("garbage_binary.stat") << false << KeyList{}
                                      << QStringLiteral("line 2: field 1 of cpu0");
        QTest::newRow("non-numeric field")
            << fixture("garbage_badfield.stat") << false << KeyList{}
            << QStringLiteral("field 4 of cpu0 is not a counter: '4x000'");
        QTest::newRow("truncated") << fixture("garbage_truncated.stat") << false << KeyList{}
                                   << QStringLiteral("cpu has 2 fields, need at least 4");
        QTest::newRow("empty") << QByteArray() << false << KeyList{}
                               << QStringLiteral("no aggregate");
        QTest::newRow("negative counter")
            << QByteArray("cpu  1 -2 3 4\n") << false << KeyList{} << QStringLiteral("field 2");
        QTest::newRow("overflowing counter") << QByteArray("cpu  1 2 3 99999999999999999999999\n")
                                             << false << KeyList{} << QStringLiteral("field 4");
        QTest::newRow("bad label") << QByteArray("cpu  1 2 3 4\ncpuX 1 2 3 4\n") << false
                                   << KeyList{} << QStringLiteral("bad cpu label 'cpuX'");
        QTest::newRow("negative core") << QByteArray("cpu  1 2 3 4\ncpu-1 1 2 3 4\n") << false
                                       << KeyList{} << QStringLiteral("bad cpu label");
        QTest::newRow("duplicate core")
            << QByteArray("cpu  1 2 3 4\ncpu0 1 2 3 4\ncpu0 1 2 3 4\n") << false << KeyList{}
            << QStringLiteral("duplicate line for cpu0");
        QTest::newRow("duplicate aggregate") << QByteArray("cpu  1 2 3 4\ncpu  1 2 3 4\n") << false
                                             << KeyList{} << QStringLiteral("duplicate");
    }
    void parse()
    {
        QFETCH(QByteArray, text);
        QFETCH(bool, valid);
        QFETCH(KeyList, cores);
        QFETCH(QString, errorContains);
        const ProcStat s = parseProcStat(text);
        QCOMPARE(s.valid, valid);
        if (valid) {
            QVERIFY(s.error.isEmpty());
            QCOMPARE(s.cores.keys(), cores);
        } else {
            QVERIFY2(s.error.contains(errorContains), qPrintable(s.error));
            QVERIFY(s.cores.isEmpty());
        }
    }

    void parseFields()
    {
        // The 7-column line: steal, guest, guest_nice missing -> 0.
        const ProcStat s = parseProcStat(fixture("oldkernel7_a.stat"));
        QVERIFY(s.valid);
        const CpuTimes want{2255, 34, 2290, 22625563, 6290, 127, 456, 0, 0, 0};
        QCOMPARE(s.all, want);
        const CpuTimes cpu1{1123, 0, 849, 11313845, 2614, 0, 18, 0, 0, 0};
        QCOMPARE(s.cores.value(1), cpu1);
    }

    void parseSurvivesMutations()
    {
        // Any bytes: a result or an error, never a crash (fuzzing smoke test).
        const QByteArray stat = fixture("4core_a.stat");
        const QByteArray task = taskStatLine("evil ) (name");
        QRandomGenerator rng(777);
        for (int round = 0; round < 5000; ++round) {
            QByteArray a = round % 2 ? stat : task;
            for (int k = 0; k < 1 + int(rng.bounded(6)); ++k)
                a[rng.bounded(int(a.size()))] = char(rng.bounded(256));
            if (round % 3 == 0)
                a.truncate(rng.bounded(int(a.size())));
            const ProcStat s = parseProcStat(a);
            QVERIFY(s.valid || !s.error.isEmpty());
            if (const auto t = parseTaskStat(a)) {
                QVERIFY(t->cpuNs >= 0);
                QVERIFY(t->rssBytes >= 0);
            }
        }
    }

    void usage_data()
    {
        QTest::addColumn<QString>("before");
        QTest::addColumn<QString>("after");
        QTest::addColumn<double>("total");
        QTest::addColumn<CoreMap>("perCore");

        // cpu0: user +30 system +10 idle +50 iowait +10         -> busy 40 / 100
        // cpu1: user +70 nice +5 system +15 idle +8 irq +1 softirq +1 (guest +20
        //       is inside user, not added)                    -> busy 92 / 100
        // cpu : user +100 nice +5 system +25 idle +58 iowait +10 irq +1
        //       softirq +1                                    -> busy 132 / 200
        QTest::newRow("2 cores") << "2core_a.stat"
                                 << "2core_b.stat" << 0.66 << CoreMap{{0, 0.40}, {1, 0.92}};
        // cpu0: user +50 system +10 idle +40                  -> 60 / 100
        // cpu1: user +25 idle +75                             -> 25 / 100
        // cpu2: offline in the second reading                 -> omitted
        // cpu3: user +90 system +5 softirq +5                 -> 100 / 100
        // cpu : user +165 system +15 idle +115 softirq +5     -> 185 / 300
        QTest::newRow("cpu2 goes offline") << "4core_a.stat"
                                           << "4core_b_cpu2_offline.stat" << 185.0 / 300.0
                                           << CoreMap{{0, 0.60}, {1, 0.25}, {3, 1.0}};
        // Reversed: every counter goes back or stays -> all deltas clamp to 0,
        // total delta 0 -> 0; cpu2 appears only in the later reading -> omitted.
        QTest::newRow("cpu2 comes online, counters back")
            << "4core_b_cpu2_offline.stat"
            << "4core_a.stat" << 0.0 << CoreMap{{0, 0.0}, {1, 0.0}, {3, 0.0}};
        // user +40 system +10 idle +40 iowait -100 (clamped to 0) -> 50 / 90.
        // Unclamped, total would be -10 and the fraction meaningless.
        QTest::newRow("iowait goes backwards")
            << "backwards_a.stat"
            << "backwards_b.stat" << 50.0 / 90.0 << CoreMap{{0, 50.0 / 90.0}};
        // cpu0: user +10 system +10 idle +70 iowait +5 irq +5 -> 25 / 100
        // cpu1: user +45 system +5 idle +48 iowait +2         -> 50 / 100
        // cpu : user +55 system +15 idle +118 iowait +7 irq +5 -> 75 / 200
        QTest::newRow("old kernel, 7 columns")
            << "oldkernel7_a.stat"
            << "oldkernel7_b.stat" << 0.375 << CoreMap{{0, 0.25}, {1, 0.50}};
        // Nothing moved: total delta 0 -> 0, not NaN.
        QTest::newRow("no ticks") << "2core_a.stat"
                                  << "2core_a.stat" << 0.0 << CoreMap{{0, 0.0}, {1, 0.0}};
    }
    void usage()
    {
        QFETCH(QString, before);
        QFETCH(QString, after);
        QFETCH(double, total);
        QFETCH(CoreMap, perCore);
        const CpuUsage u =
            usageBetween(parseProcStat(fixture(before)), parseProcStat(fixture(after)));
        QVERIFY(u.valid);
        QVERIFY2(near(u.total, total), qPrintable(QString::number(u.total, 'g', 17)));
        QCOMPARE(u.perCore.keys(), perCore.keys());
        for (auto it = perCore.cbegin(); it != perCore.cend(); ++it)
            QVERIFY2(near(u.perCore.value(it.key()), it.value()),
                     qPrintable(QStringLiteral("cpu%1: %2 != %3")
                                    .arg(it.key())
                                    .arg(u.perCore.value(it.key()))
                                    .arg(it.value())));
    }

    void usageInvalidInput()
    {
        const ProcStat good = parseProcStat(fixture("2core_a.stat"));
        const ProcStat bad = parseProcStat(fixture("garbage_html.stat"));
        QVERIFY(!usageBetween(good, bad).valid);
        QVERIFY(!usageBetween(bad, good).valid);
        QCOMPARE(usageBetween(bad, good).total, -1.0);
    }

    void samplerPrimesThenMeasures()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString path = dir.filePath(QStringLiteral("stat"));
        auto put = [&](const char* name) {
            QFile f(path);
            QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
            f.write(fixture(QString::fromLatin1(name)));
        };
        CpuSampler s(path);
        QCOMPARE(s.path(), path);

        put("2core_a.stat");
        QVERIFY(!s.sample().valid); // first reading: since boot, discarded
        put("2core_b.stat");
        CpuUsage u = s.sample();
        QVERIFY(u.valid);
        QVERIFY(u.timeNs > 0);
        QVERIFY(near(u.total, 0.66));
        QVERIFY(near(u.perCore.value(1), 0.92));

        // A garbage reading is reported, and the next good one primes again.
        put("garbage_badfield.stat");
        QVERIFY(!s.sample().valid);
        QVERIFY2(s.lastError().contains(QStringLiteral("not a counter")),
                 qPrintable(s.lastError()));
        put("2core_a.stat");
        QVERIFY(!s.sample().valid);
        QVERIFY(s.lastError().isEmpty());
        put("2core_b.stat");
        QVERIFY(near(s.sample().total, 0.66));

        // reset(): the next call primes.
        s.reset();
        QVERIFY(!s.sample().valid);
        QVERIFY(s.sample().valid);
    }

    void samplerMissingFile()
    {
        CpuSampler s(QStringLiteral("/nonexistent/poolscope/stat"));
        QVERIFY(!s.sample().valid);
        QVERIFY(!s.sample().valid);
        QVERIFY(s.lastError().contains(QStringLiteral("/nonexistent/poolscope/stat")));
    }

    void formulaText()
    {
        const QString f = CpuSampler::formula();
        QVERIFY(f.contains(QStringLiteral("idle + iowait")));
        QVERIFY(f.contains(QStringLiteral("guest")));
        QVERIFY(f.contains(QString::number(CpuSampler::kDefaultPeriodMs)));
        QVERIFY(!f.contains(QLatin1Char('\n'))); // one paragraph
    }

    void liveProcStat()
    {
        if (!QFile::exists(QStringLiteral("/proc/stat")))
            QSKIP("no /proc/stat on this system");
        CpuSampler s;
        QVERIFY(!s.sample().valid);
        // Some work between the readings, bounded by iterations, not time.
        volatile quint64 sink = 0;
        for (quint64 i = 0; i < 30'000'000; ++i)
            sink = sink + i * i;
        const CpuUsage u = s.sample();
        QVERIFY2(u.valid, qPrintable(s.lastError()));
        QVERIFY(u.total >= 0.0 && u.total <= 1.0);
        QFile f(QStringLiteral("/proc/stat"));
        QVERIFY(f.open(QIODevice::ReadOnly));
        const ProcStat now = parseProcStat(f.readAll());
        QVERIFY2(now.valid, qPrintable(now.error));
        QCOMPARE(u.perCore.keys(), now.cores.keys()); // no hotplug during a test
        for (double v : u.perCore)
            QVERIFY(v >= 0.0 && v <= 1.0);
    }

    void taskStat_data()
    {
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<bool>("ok");
        QTest::addColumn<int>("lastCpu");

        QTest::newRow("plain") << taskStatLine("poolscope") << true << 1;
        QTest::newRow("comm with ') (' and spaces") << taskStatLine("evil ) (name) x") << true << 1;
        QTest::newRow("comm of parens only") << taskStatLine(")()(") << true << 1;
        QTest::newRow("comm with a newline") << taskStatLine("a\nb) 9 9") << true << 1;
        QTest::newRow("old kernel: no processor field") << taskStatLine("old", 38) << true << -1;
        QTest::newRow("up to rss only") << taskStatLine("old", 24) << true << -1;
        QTest::newRow("truncated before rss") << taskStatLine("x", 23) << false << -1;
        QTest::newRow("no parens") << QByteArray("4242 poolscope R 1 2 3") << false << -1;
        QTest::newRow("no pid") << taskStatLine("x").mid(4) << false << -1;
        QTest::newRow("empty") << QByteArray() << false << -1;
        QTest::newRow("only ')'") << QByteArray(")") << false << -1;
        QByteArray bad = taskStatLine("x");
        bad.replace(" 250 75 ", " 25o 75 ");
        QTest::newRow("non-numeric utime") << bad << false << -1;
    }
    void taskStat()
    {
        QFETCH(QByteArray, text);
        QFETCH(bool, ok);
        QFETCH(int, lastCpu);
        const auto t = parseTaskStat(text);
        QCOMPARE(t.has_value(), ok);
        if (!ok)
            return;
        const qint64 hz = sysconf(_SC_CLK_TCK);
        QCOMPARE(t->cpuNs, (250 + 75) * (1'000'000'000 / hz)); // utime + stime
        QCOMPARE(t->rssBytes, 321 * qint64(sysconf(_SC_PAGESIZE)));
        QCOMPARE(t->lastCpu, lastCpu);
    }

    void liveTaskStat()
    {
        if (!QFile::exists(QStringLiteral("/proc/self/stat")))
            QSKIP("no /proc on this system");
        const qint64 pid = getpid();
        const qint64 tid = gettid();
        volatile quint64 sink = 0;
        for (quint64 i = 0; i < 5'000'000; ++i)
            sink = sink + i;
        const auto thread = readTaskStat(pid, tid);
        const auto proc = readTaskStat(pid); // read second: includes this thread
        QVERIFY(proc && thread);
        QVERIFY(thread->cpuNs >= 0);
        const qint64 tickNs = 1'000'000'000 / sysconf(_SC_CLK_TCK);
        QVERIFY(proc->cpuNs + tickNs >= thread->cpuNs); // one tick of rounding
        QVERIFY(thread->rssBytes > 0);
        QFile f(QStringLiteral("/proc/stat"));
        QVERIFY(f.open(QIODevice::ReadOnly));
        QVERIFY(parseProcStat(f.readAll()).cores.contains(thread->lastCpu));
        QVERIFY(!readTaskStat(pid, 999'999'999)); // no such thread
        QVERIFY(!readTaskStat(0));
        QVERIFY(!readTaskStat(-5));
    }
};

QTEST_GUILESS_MAIN(TstCpuSampler)
#include "tst_cpusampler.moc"
