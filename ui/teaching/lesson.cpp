#include "teaching/lesson.h"

#include "teaching/programrun.h"

#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QFrame>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QProcess>
#include <QPushButton>
#include <QTextBrowser>
#include <QVBoxLayout>

#include <algorithm>
#include <limits>
#include <mutex>

// Q_INIT_RESOURCE must be used outside any namespace. Registering twice is
// harmless (Qt ignores a root it already has), so the library does it itself
// and the app may call Q_INIT_RESOURCE(lessons) too.
static void initLessonResources()
{
    Q_INIT_RESOURCE(lessons);
}

namespace poolscope {

namespace {

using KeyValues = QList<QPair<QString, QString>>; // ordered

std::optional<bool> parseBool(const QString& v)
{
    const QString s = v.trimmed().toLower();
    if (s == QLatin1String("on") || s == QLatin1String("true") || s == QLatin1String("yes")
        || s == QLatin1String("1"))
        return true;
    if (s == QLatin1String("off") || s == QLatin1String("false") || s == QLatin1String("no")
        || s == QLatin1String("0"))
        return false;
    return std::nullopt;
}

std::optional<qint64> parseInt(QString v)
{
    v = v.trimmed().remove(QLatin1Char('_'));
    bool ok = false;
    const qint64 n = v.toLongLong(&ok);
    return ok ? std::optional<qint64>(n) : std::nullopt;
}

std::optional<QList<int>> parseWorkerList(const QString& v)
{
    const QString s = v.trimmed().toLower();
    if (s == QLatin1String("auto"))
        return QList<int>{};
    QList<int> out;
    const int dots = int(s.indexOf(QLatin1String("..")));
    if (dots > 0) {
        const auto a = parseInt(s.left(dots));
        const auto b = parseInt(s.mid(dots + 2));
        if (!a || !b || *a < 1 || *b < *a || *b > Executor::maxWorkersLimit())
            return std::nullopt;
        for (qint64 i = *a; i <= *b; ++i)
            out.append(int(i));
        return out;
    }
    for (const QString& part : s.split(QLatin1Char(','), Qt::SkipEmptyParts)) {
        const auto n = parseInt(part);
        if (!n || *n < 1 || *n > Executor::maxWorkersLimit())
            return std::nullopt;
        out.append(int(*n));
    }
    if (out.isEmpty())
        return std::nullopt;
    return out;
}

/// A program lesson's scenario (lesson 11): the script and its arguments;
/// the pool keys of a workload do not apply (its pools are its own).
std::optional<LessonScenario> buildProgramScenario(const KeyValues& keys, QString* error)
{
    auto fail = [error](const QString& why) {
        if (error)
            *error = why;
        return std::nullopt;
    };
    LessonScenario sc;
    for (const auto& [k, v] : keys) {
        if (k == QLatin1String("program")) {
            sc.program = v.trimmed();
            if (sc.program.isEmpty())
                return fail(QStringLiteral("'program:' needs a script, e.g. "
                                           "'program: examples/python/threads_submit.py'"));
        } else if (k == QLatin1String("program.args")) {
            sc.programArgs = QProcess::splitCommand(v.trimmed());
        } else if (k == QLatin1String("label")) {
            sc.label = v.trimmed();
        } else if (k == QLatin1String("workload")) {
            return fail(QStringLiteral("a lesson runs a workload or a program, not both "
                                       "(drop 'workload:' or 'program:')"));
        } else {
            return fail(QStringLiteral("'%1' does not apply to a program lesson: its pools "
                                       "are the program's own (use program.args)")
                            .arg(k));
        }
    }
    if (sc.program.isEmpty())
        return fail(QStringLiteral("'program.args:' without 'program:': 'program:' needs a "
                                   "script"));
    return sc;
}

/// Builds a scenario from its keys (workload first, then the rest).
std::optional<LessonScenario> buildScenario(const KeyValues& keys, QString* error)
{
    auto fail = [error](const QString& why) {
        if (error)
            *error = why;
        return std::nullopt;
    };
    LessonScenario sc;
    for (const auto& [k, v] : keys) {
        if (k == QLatin1String("workload"))
            sc.workload = v.trimmed();
        if (k == QLatin1String("program") || k == QLatin1String("program.args"))
            return buildProgramScenario(keys, error);
    }
    const Workload* w = Workloads::find(sc.workload);
    if (sc.workload.isEmpty())
        return fail(QStringLiteral("no 'workload:' line"));
    if (!w)
        return fail(QStringLiteral("unknown workload '%1' (known workloads: %2)")
                        .arg(sc.workload, Workloads::names().join(QStringLiteral(", "))));
    sc.run.tasks = w->defaultTasks;
    sc.run.size = w->defaultSize;
    for (const auto& [k, v] : keys) {
        auto badValue = [&](const char* expected) {
            return fail(QStringLiteral("'%1: %2': expected %3").arg(k, v, QLatin1String(expected)));
        };
        if (k == QLatin1String("workload")) {
            continue;
        } else if (k == QLatin1String("label")) {
            sc.label = v.trimmed();
        } else if (k == QLatin1String("tasks")) {
            const auto n = parseInt(v);
            if (!n || *n < 1 || *n > std::numeric_limits<int>::max())
                return badValue("a task count");
            sc.run.tasks = int(*n);
        } else if (k == QLatin1String("size")) {
            const auto n = parseInt(v);
            if (!n)
                return badValue("a whole number");
            sc.run.size = *n;
        } else if (k.startsWith(QLatin1String("knob."))) {
            const QString name = k.mid(5);
            if (v.trimmed() == QLatin1String("-")) {
                sc.run.knobs.remove(name);
                continue;
            }
            const auto n = parseInt(v);
            if (!n)
                return badValue("a whole number");
            sc.run.knobs.insert(name, *n);
        } else if (k == QLatin1String("pool")) {
            const QString p = v.trimmed().toLower();
            if (p == QLatin1String("thread") || p == QLatin1String("threads"))
                sc.poolKind = QStringLiteral("thread");
            else if (p == QLatin1String("process") || p == QLatin1String("processes"))
                sc.poolKind = QStringLiteral("process");
            else
                return badValue("thread or process");
        } else if (k == QLatin1String("workers")) {
            const auto n = parseInt(v);
            if (!n || *n < 0 || *n > Executor::maxWorkersLimit())
                return badValue("a worker count");
            sc.workers = int(*n);
        } else if (k == QLatin1String("gil")) {
            const auto b = parseBool(v);
            if (!b)
                return badValue("on or off");
            sc.gil = *b;
        } else if (k == QLatin1String("switch_interval_ms")) {
            bool ok = false;
            const double ms = v.trimmed().toDouble(&ok);
            if (!ok)
                return badValue("milliseconds");
            sc.switchIntervalMs = ms;
        } else if (k == QLatin1String("chunk")) {
            const auto n = parseInt(v);
            if (!n || *n < 1 || *n > 1'000'000)
                return badValue("a chunk size of at least 1");
            sc.chunkSize = int(*n);
        } else if (k == QLatin1String("timeout_ms")) {
            const auto n = parseInt(v);
            if (!n || *n < 0 || *n > 86'400'000)
                return badValue("milliseconds (0 = none)");
            sc.timeoutMs = int(*n);
        } else if (k == QLatin1String("continuations")) {
            const auto b = parseBool(v);
            if (!b)
                return badValue("on or off");
            sc.continuations = *b;
        } else {
            return fail(QStringLiteral("unknown key '%1'").arg(k));
        }
    }
    return sc;
}

} // namespace

// ------------------------------------------------------------ LessonScenario

QString LessonScenario::validate() const
{
    if (isProgram()) {
        QString why;
        if (ProgramPaths::resolveScript(program, &why).isEmpty())
            return why;
        return {};
    }
    if (poolKind != QLatin1String("thread") && poolKind != QLatin1String("process"))
        return QStringLiteral("unknown pool '%1': use thread or process").arg(poolKind);
    if (gil && poolKind != QLatin1String("thread"))
        return QStringLiteral("the GIL applies to thread pools (every worker process has its "
                              "own interpreter lock)");
    if (workers < 0 || workers > Executor::maxWorkersLimit())
        return QStringLiteral("workers must be between 1 and %1 (or 0 for the default)")
            .arg(Executor::maxWorkersLimit());
    if (!(switchIntervalMs >= 0.01 && switchIntervalMs <= 1000))
        return QStringLiteral("the GIL switch interval must be between 0.01 and 1000 ms");
    if (chunkSize < 1)
        return QStringLiteral("the chunk size must be at least 1");
    if (continuations
        && (qint64(run.tasks) + chunkSize - 1) / chunkSize > RunController::kMaxQFutureTasks)
        return QStringLiteral("continuations are delivered one per task: at most %1 tasks")
            .arg(RunController::kMaxQFutureTasks);
    const Workload* w = Workloads::find(workload);
    if (w && w->drive && chunkSize > 1)
        return QStringLiteral("the %1 workload cannot be chunked").arg(workload);
    return Workloads::validate(workload, run, poolKind);
}

QString LessonScenario::describe() const
{
    if (isProgram()) {
        QString s = QStringLiteral("python3 -m poolscope_probe %1").arg(program);
        if (!programArgs.isEmpty())
            s += QLatin1Char(' ') + programArgs.join(QLatin1Char(' '));
        return s;
    }
    const Workload* w = Workloads::find(workload);
    QString s = QStringLiteral("%1: %2 %3 × %4 %5")
                    .arg(workload)
                    .arg(run.tasks)
                    .arg(w && w->drive ? QStringLiteral("items") : QStringLiteral("tasks"))
                    .arg(run.size)
                    .arg(w ? w->sizeUnit : QString());
    for (auto it = run.knobs.cbegin(); it != run.knobs.cend(); ++it)
        s += QStringLiteral(", %1 = %2").arg(it.key()).arg(it.value());
    const bool process = poolKind == QLatin1String("process");
    const QString kind = process ? QStringLiteral("process") : QStringLiteral("thread");
    if (workers > 0) // (not kind + "s": the plural of process is processes)
        s += QStringLiteral("; %1 %2").arg(workers).arg(
            workers == 1 ? kind
                         : (process ? QStringLiteral("processes") : QStringLiteral("threads")));
    else
        s += QStringLiteral("; %1 pool, default size").arg(kind);
    if (!process)
        s += gil ? QStringLiteral(", GIL on (switch interval %1 ms)").arg(switchIntervalMs)
                 : QStringLiteral(", GIL off");
    if (chunkSize > 1)
        s += QStringLiteral(", chunk %1").arg(chunkSize);
    if (timeoutMs > 0)
        s += QStringLiteral(", timeout %1 ms per task").arg(timeoutMs);
    return s;
}

RunSpec LessonScenario::runSpec() const
{
    RunSpec spec;
    spec.workload = workload;
    spec.run = run;
    spec.poolKind = poolKind;
    spec.workers = workers;
    spec.gil = gil;
    spec.switchIntervalMs = switchIntervalMs;
    spec.chunkSize = chunkSize;
    spec.timeoutMs = timeoutMs;
    spec.qfutures = continuations;
    return spec;
}

// -------------------------------------------------------------------- Lesson

QString Lesson::validate() const
{
    if (QString why = scenario.validate(); !why.isEmpty())
        return QStringLiteral("lesson '%1': %2").arg(id, why);
    if (compare) {
        if (QString why = compare->validate(); !why.isEmpty())
            return QStringLiteral("lesson '%1', run B: %2").arg(id, why);
    }
    if (const auto req = sweepRequest()) {
        if (QString why = req->validate(); !why.isEmpty())
            return QStringLiteral("lesson '%1', sweep: %2").arg(id, why);
    }
    return {};
}

std::optional<SweepRequest> Lesson::sweepRequest() const
{
    if (!sweep)
        return std::nullopt;
    SweepRequest r;
    r.workload = scenario.workload;
    r.run = scenario.run;
    r.chunkSize = scenario.chunkSize;
    r.switchIntervalMs = scenario.switchIntervalMs;
    r.series = sweep->series;
    r.workers = sweep->workers.isEmpty() ? SweepRequest::autoWorkers() : sweep->workers;
    return r;
}

QString Lesson::displayName() const
{
    return number > 0 ? QStringLiteral("%1. %2").arg(number).arg(title) : title;
}

// ------------------------------------------------------------- LessonLibrary

QString LessonLibrary::resourceDir()
{
    return QStringLiteral(":/lessons");
}

std::optional<Lesson> LessonLibrary::parse(const QString& text, QString* error,
                                           const QString& source)
{
    const QStringList lines = text.split(QLatin1Char('\n'));
    auto fail = [&](int line, const QString& why) -> std::optional<Lesson> {
        if (error)
            *error = line > 0 ? QStringLiteral("%1:%2: %3")
                                    .arg(source.isEmpty() ? QStringLiteral("lesson") : source)
                                    .arg(line)
                                    .arg(why)
                              : QStringLiteral("%1: %2").arg(
                                  source.isEmpty() ? QStringLiteral("lesson") : source, why);
        return std::nullopt;
    };

    Lesson lesson;
    lesson.source = source;
    KeyValues main, compare;
    QString seriesText, workersText;
    int i = 0;
    bool headerEnded = false;
    for (; i < lines.size(); ++i) {
        const QString line = lines[i].trimmed();
        if (line == QLatin1String("---")) {
            headerEnded = true;
            ++i;
            break;
        }
        if (line.isEmpty() || line.startsWith(QLatin1Char('#')))
            continue;
        const int colon = int(line.indexOf(QLatin1Char(':')));
        if (colon <= 0)
            return fail(i + 1, QStringLiteral("expected 'key: value', got '%1'").arg(line));
        const QString key = line.left(colon).trimmed().toLower();
        const QString value = line.mid(colon + 1).trimmed();
        if (key == QLatin1String("id")) {
            lesson.id = value;
        } else if (key == QLatin1String("number")) {
            const auto n = parseInt(value);
            if (!n || *n < 0 || *n > 10'000)
                return fail(i + 1, QStringLiteral("'number' must be a whole number"));
            lesson.number = int(*n);
        } else if (key == QLatin1String("title")) {
            lesson.title = value;
        } else if (key == QLatin1String("pace")) {
            const QString v = value.toLower();
            if (v == QLatin1String("size"))
                lesson.pace = Lesson::Pace::Size;
            else if (v == QLatin1String("tasks"))
                lesson.pace = Lesson::Pace::Tasks;
            else if (v == QLatin1String("off"))
                lesson.pace = Lesson::Pace::Off;
            else
                return fail(
                    i + 1,
                    QStringLiteral("'pace' must be size, tasks or off, got '%1'").arg(value));
        } else if (key == QLatin1String("sweep.series")) {
            seriesText = value;
        } else if (key == QLatin1String("sweep.workers")) {
            workersText = value;
        } else if (key.startsWith(QLatin1String("compare."))) {
            compare.append({key.mid(8), value});
        } else {
            main.append({key, value});
        }
    }
    if (!headerEnded)
        return fail(0, QStringLiteral("no '---' line ends the header block"));
    if (lesson.id.isEmpty())
        return fail(0, QStringLiteral("no 'id:' line"));
    if (lesson.title.isEmpty())
        return fail(0, QStringLiteral("no 'title:' line"));

    QString why;
    auto sc = buildScenario(main, &why);
    if (!sc)
        return fail(0, why);
    lesson.scenario = *sc;
    if (sc->isProgram()) {
        if (!compare.isEmpty() || !seriesText.isEmpty() || !workersText.isEmpty())
            return fail(0, QStringLiteral("a program lesson has no run B and no sweep "
                                          "(drop the compare.* and sweep.* lines)"));
        lesson.pace = Lesson::Pace::Off; // the script's own length (program.args)
    }
    if (!compare.isEmpty()) {
        KeyValues merged = main;
        for (const auto& kv : compare) {
            // a later key wins; "-" on a knob removes it (buildScenario)
            merged.append(kv);
        }
        auto b = buildScenario(merged, &why);
        if (!b)
            return fail(0, QStringLiteral("run B: %1").arg(why));
        lesson.compare = *b;
        if (lesson.compare->label.isEmpty())
            lesson.compare->label = QStringLiteral("run B");
    }
    if (lesson.scenario.label.isEmpty())
        lesson.scenario.label = QStringLiteral("run A");
    if (!seriesText.isEmpty() || !workersText.isEmpty()) {
        LessonSweep sw;
        for (const QString& part : seriesText.split(QLatin1Char(','), Qt::SkipEmptyParts)) {
            const auto s = sweepSeriesFromString(part);
            if (!s)
                return fail(0, QStringLiteral("unknown sweep series '%1' (use threads, "
                                              "threads+gil or processes)")
                                   .arg(part.trimmed()));
            sw.series.append(*s);
        }
        if (sw.series.isEmpty())
            sw.series = {SweepSeries::Threads};
        if (!workersText.isEmpty()) {
            const auto list = parseWorkerList(workersText);
            if (!list)
                return fail(0, QStringLiteral("sweep.workers must be 'auto', 'A..B' or a "
                                              "list like '1,2,4', got '%1'")
                                   .arg(workersText));
            sw.workers = *list;
        }
        lesson.sweep = sw;
    }

    // Body: ## Predict / ## Observe / ## Explain
    enum Section { None, Predict, Observe, Explain } section = None;
    QStringList predict, explain;
    for (; i < lines.size(); ++i) {
        const QString raw = lines[i];
        const QString line = raw.trimmed();
        if (line.startsWith(QLatin1String("## "))) {
            const QString name = line.mid(3).trimmed().toLower();
            if (name == QLatin1String("predict"))
                section = Predict;
            else if (name == QLatin1String("observe"))
                section = Observe;
            else if (name == QLatin1String("explain") || name == QLatin1String("explanation"))
                section = Explain;
            else
                return fail(i + 1, QStringLiteral("unknown section '%1' (use Predict, Observe "
                                                  "or Explain)")
                                       .arg(line.mid(3).trimmed()));
            continue;
        }
        switch (section) {
        case None:
            if (!line.isEmpty())
                return fail(i + 1, QStringLiteral("text before the first '## ' section"));
            break;
        case Predict:
            predict << raw;
            break;
        case Observe:
            if (line.startsWith(QLatin1String("- ")) || line.startsWith(QLatin1String("* ")))
                lesson.observe << line.mid(2).trimmed();
            else if (!line.isEmpty()) {
                if (lesson.observe.isEmpty())
                    return fail(i + 1, QStringLiteral("the Observe section is a '- ' list"));
                lesson.observe.last() += QLatin1Char(' ') + line;
            }
            break;
        case Explain:
            explain << raw;
            break;
        }
    }
    lesson.predict = predict.join(QLatin1Char('\n')).trimmed();
    lesson.explanation = explain.join(QLatin1Char('\n')).trimmed();
    if (lesson.predict.isEmpty())
        return fail(0, QStringLiteral("no '## Predict' section (the question for the class)"));
    if (lesson.observe.isEmpty())
        return fail(0, QStringLiteral("no '## Observe' list (what to look for)"));
    if (lesson.explanation.isEmpty())
        return fail(0, QStringLiteral("no '## Explain' section"));
    return lesson;
}

std::optional<Lesson> LessonLibrary::fromFile(const QString& path, QString* error)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly | QIODevice::Text)) {
        if (error)
            *error = QStringLiteral("cannot read lesson '%1': %2").arg(path, f.errorString());
        return std::nullopt;
    }
    return parse(QString::fromUtf8(f.readAll()), error, QFileInfo(path).fileName());
}

QList<Lesson> LessonLibrary::all()
{
    static std::once_flag once;
    static QList<Lesson> lessons;
    std::call_once(once, [] {
        initLessonResources();
        const QDir dir(resourceDir());
        const QStringList files = dir.entryList({QStringLiteral("*.md")}, QDir::Files, QDir::Name);
        for (const QString& file : files) {
            QString error;
            if (auto l = fromFile(dir.filePath(file), &error))
                lessons.append(*l);
            else
                qWarning("PoolScope: skipping a lesson: %s", qPrintable(error));
        }
        std::stable_sort(lessons.begin(), lessons.end(),
                         [](const Lesson& a, const Lesson& b) { return a.number < b.number; });
    });
    return lessons;
}

std::optional<Lesson> LessonLibrary::find(const QString& idOrNumber)
{
    const QString key = idOrNumber.trimmed();
    const auto lessons = all();
    for (const Lesson& l : lessons) {
        if (l.id.compare(key, Qt::CaseInsensitive) == 0)
            return l;
    }
    bool isNumber = false;
    const int n = key.toInt(&isNumber);
    for (const Lesson& l : lessons) {
        if (isNumber && l.number == n)
            return l;
        const QFileInfo fi(l.source);
        if (fi.fileName().compare(key, Qt::CaseInsensitive) == 0
            || fi.completeBaseName().compare(key, Qt::CaseInsensitive) == 0)
            return l;
    }
    return std::nullopt;
}

// --------------------------------------------------------------- LessonPanel

LessonPanel::LessonPanel(QWidget* parent)
    : QWidget(parent)
{
    auto* layout = new QVBoxLayout(this);

    m_combo = new QComboBox(this);
    m_combo->setObjectName(QStringLiteral("lessonCombo"));
    m_combo->setToolTip(tr("Choose a lesson"));
    layout->addWidget(m_combo);

    m_title = new QLabel(this);
    m_title->setObjectName(QStringLiteral("lessonTitle"));
    m_title->setWordWrap(true);
    QFont tf = m_title->font();
    tf.setBold(true);
    tf.setPointSizeF(tf.pointSizeF() * 1.3);
    m_title->setFont(tf);
    layout->addWidget(m_title);

    m_scenario = new QLabel(this);
    m_scenario->setObjectName(QStringLiteral("lessonScenario"));
    m_scenario->setWordWrap(true);
    m_scenario->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_scenario->setForegroundRole(QPalette::PlaceholderText);
    layout->addWidget(m_scenario);
    m_pacing = new QLabel(this);
    m_pacing->setObjectName(QStringLiteral("lessonPacing"));
    m_pacing->setWordWrap(true);
    m_pacing->setForegroundRole(QPalette::PlaceholderText);
    m_pacing->setToolTip(
        tr("Lesson runs are lengthened to about 5 s on this machine so a class can "
           "watch them (Teach > Watchable lesson runs)"));
    m_pacing->hide();
    layout->addWidget(m_pacing);
    // Program lessons (lesson 11): which shipped example runs.
    m_programCombo = new QComboBox(this);
    m_programCombo->setObjectName(QStringLiteral("lessonProgramCombo"));
    m_programCombo->setToolTip(tr("The Python example Run starts under poolscope_probe "
                                  "(examples/python); the lesson's arguments go with its own "
                                  "example only"));
    m_programCombo->hide();
    layout->addWidget(m_programCombo);

    // The question comes first and stands out: the class answers it before
    // anything runs (predict-then-observe).
    auto* predictBox = new QFrame(this);
    predictBox->setObjectName(QStringLiteral("lessonPredictBox"));
    predictBox->setFrameShape(QFrame::StyledPanel);
    predictBox->setBackgroundRole(QPalette::AlternateBase);
    predictBox->setAutoFillBackground(true);
    auto* pl = new QVBoxLayout(predictBox);
    auto* predictHeading = new QLabel(tr("Predict, before you press Run"), predictBox);
    QFont hf = predictHeading->font();
    hf.setBold(true);
    predictHeading->setFont(hf);
    predictHeading->setForegroundRole(QPalette::Highlight);
    pl->addWidget(predictHeading);
    m_predict = new QLabel(predictBox);
    m_predict->setObjectName(QStringLiteral("lessonPredict"));
    m_predict->setTextFormat(Qt::MarkdownText);
    m_predict->setWordWrap(true);
    QFont pf = m_predict->font();
    pf.setPointSizeF(pf.pointSizeF() * 1.15);
    m_predict->setFont(pf);
    pl->addWidget(m_predict);
    // The class's answer, kept beside what the run then measures.
    auto* answerRow = new QHBoxLayout;
    auto* answerLabel = new QLabel(tr("Class prediction:"), predictBox);
    m_prediction = new QLineEdit(predictBox);
    m_prediction->setObjectName(QStringLiteral("lessonPrediction"));
    m_prediction->setPlaceholderText(tr("a choice or a number, e.g. \"B\" or \"2x faster\""));
    m_prediction->setClearButtonEnabled(true);
    answerLabel->setBuddy(m_prediction);
    answerRow->addWidget(answerLabel);
    answerRow->addWidget(m_prediction, 1);
    pl->addLayout(answerRow);
    m_measured = new QLabel(predictBox);
    m_measured->setObjectName(QStringLiteral("lessonMeasured"));
    m_measured->setWordWrap(true);
    m_measured->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_measured->hide();
    pl->addWidget(m_measured);
    layout->addWidget(predictBox);
    connect(m_prediction, &QLineEdit::textChanged, this, &LessonPanel::updateMeasured);

    auto* buttons = new QHBoxLayout;
    m_run = new QPushButton(tr("Run"), this);
    m_run->setObjectName(QStringLiteral("runButton"));
    m_run->setToolTip(tr("Run the lesson's scenario"));
    m_compare = new QPushButton(tr("Run B"), this);
    m_compare->setObjectName(QStringLiteral("compareButton"));
    m_sweep = new QPushButton(tr("Sweep"), this);
    m_sweep->setObjectName(QStringLiteral("sweepButton"));
    m_sweep->setToolTip(tr("Run the same batch at 1..N workers and plot the speedup"));
    m_reset = new QPushButton(tr("Reset"), this);
    m_reset->setObjectName(QStringLiteral("resetButton"));
    m_reset->setToolTip(tr("Put the controls back to this lesson's scenario"));
    m_reveal = new QPushButton(tr("What to look for"), this);
    m_reveal->setObjectName(QStringLiteral("revealButton"));
    m_reveal->setCheckable(true);
    m_reveal->setToolTip(tr("Show what to look for without running (Run shows it too)"));
    m_explainButton = new QPushButton(tr("Explain"), this);
    m_explainButton->setObjectName(QStringLiteral("explainButton"));
    m_explainButton->setCheckable(true);
    m_explainButton->setToolTip(
        tr("Show the explanation, after the class has watched the run (F4)"));
    buttons->addWidget(m_run);
    buttons->addWidget(m_compare);
    buttons->addWidget(m_sweep);
    buttons->addWidget(m_reset);
    buttons->addStretch(1);
    layout->addLayout(buttons);
    // What a program lesson's script does, how it ended, or why it cannot run.
    m_programStatus = new QLabel(this);
    m_programStatus->setObjectName(QStringLiteral("lessonProgramStatus"));
    m_programStatus->setWordWrap(true);
    m_programStatus->setTextFormat(Qt::PlainText);
    m_programStatus->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_programStatus->hide();
    layout->addWidget(m_programStatus);
    // Observe and explain on a row of their own: the panel stays narrow
    // enough for a projector's side column.
    auto* steps = new QHBoxLayout;
    steps->addStretch(1);
    steps->addWidget(m_reveal);
    steps->addWidget(m_explainButton);
    layout->addLayout(steps);

    // Lesson 9: the run's futures delivered by .then() and whenAll on the
    // GUI thread, and its heartbeat; visible whatever is revealed.
    m_continuations = new ContinuationsView(this);
    m_continuations->setObjectName(QStringLiteral("continuationsView"));
    m_continuations->hide();
    layout->addWidget(m_continuations);

    m_observe = new QLabel(this);
    m_observe->setObjectName(QStringLiteral("lessonObserve"));
    m_observe->setTextFormat(Qt::MarkdownText);
    m_observe->setWordWrap(true);
    layout->addWidget(m_observe);

    m_explain = new QTextBrowser(this);
    m_explain->setObjectName(QStringLiteral("lessonExplain"));
    m_explain->setOpenExternalLinks(true);
    layout->addWidget(m_explain, 10);
    // Takes the spare room while the explanation is hidden, so the question
    // stays compact at the top.
    layout->addStretch(1);

    connect(m_combo, &QComboBox::currentIndexChanged, this, &LessonPanel::showLesson);
    connect(m_run, &QPushButton::clicked, this, [this] {
        if (!hasLesson())
            return;
        if (m_programRunning) { // Run is Stop while a lesson's script runs
            emit stopRequested();
            return;
        }
        if (m_stage == Stage::Predict)
            setStage(Stage::Observe); // never the explanation: the class watches first
        m_continuations->clear();     // a refused run leaves no stale lines
        Lesson lesson = currentLesson();
        if (lesson.scenario.isProgram()) {
            const QString chosen = chosenProgram();
            if (chosen != lesson.scenario.program) { // another example: its own defaults
                lesson.scenario.program = chosen;
                lesson.scenario.programArgs.clear();
            }
        }
        emit runRequested(lesson);
    });
    connect(m_programCombo, &QComboBox::currentIndexChanged, this, [this] {
        if (!hasLesson() || !currentLesson().scenario.isProgram())
            return;
        LessonScenario sc = currentLesson().scenario;
        if (chosenProgram() != sc.program) {
            sc.program = chosenProgram();
            sc.programArgs.clear();
        }
        m_scenario->setText(tr("Run: %1").arg(sc.describe()));
        const QString why = sc.validate();
        setProgramStatus(why, !why.isEmpty());
    });
    connect(m_compare, &QPushButton::clicked, this, [this] {
        if (hasLesson() && currentLesson().compare) {
            if (m_stage == Stage::Predict)
                setStage(Stage::Observe);
            emit compareRequested(currentLesson());
        }
    });
    connect(m_sweep, &QPushButton::clicked, this, [this] {
        if (hasLesson() && currentLesson().sweep) {
            if (m_stage == Stage::Predict)
                setStage(Stage::Observe);
            emit sweepRequested(currentLesson());
        }
    });
    connect(m_reset, &QPushButton::clicked, this, [this] {
        if (!hasLesson())
            return;
        setRevealed(false);
        setMeasured({});
        m_continuations->clear();
        emit resetRequested(currentLesson());
    });
    connect(m_reveal, &QPushButton::toggled, this, &LessonPanel::setRevealed);
    connect(m_explainButton, &QPushButton::toggled, this, &LessonPanel::setExplained);

    setLessons(LessonLibrary::all());
}

void LessonPanel::setLessons(const QList<Lesson>& lessons)
{
    m_lessons = lessons;
    m_current = -1;
    {
        const QSignalBlocker block(m_combo);
        m_combo->clear();
        for (const Lesson& l : m_lessons)
            m_combo->addItem(l.displayName(), l.id);
    }
    showLesson(m_lessons.isEmpty() ? -1 : 0);
}

bool LessonPanel::selectLesson(const QString& idOrNumber)
{
    const QString key = idOrNumber.trimmed();
    bool isNumber = false;
    const int n = key.toInt(&isNumber);
    for (int i = 0; i < m_lessons.size(); ++i) {
        const Lesson& l = m_lessons[i];
        const QFileInfo fi(l.source);
        if (l.id.compare(key, Qt::CaseInsensitive) == 0 || (isNumber && l.number == n)
            || (!l.source.isEmpty()
                && (fi.fileName().compare(key, Qt::CaseInsensitive) == 0
                    || fi.completeBaseName().compare(key, Qt::CaseInsensitive) == 0))) {
            m_combo->setCurrentIndex(i); // showLesson() through the signal
            if (m_current != i)
                showLesson(i);
            return true;
        }
    }
    return false;
}

const Lesson& LessonPanel::currentLesson() const
{
    static const Lesson none;
    return m_current >= 0 ? m_lessons[m_current] : none;
}

void LessonPanel::showLesson(int index)
{
    if (index < 0 || index >= m_lessons.size()) {
        m_current = -1;
        m_title->setText(tr("No lessons"));
        m_scenario->clear();
        m_predict->clear();
        m_observe->clear();
        m_explain->clear();
        m_continuations->clear();
        m_continuations->hide();
        for (QPushButton* b : {m_run, m_compare, m_sweep, m_reset, m_reveal, m_explainButton})
            b->setEnabled(false);
        return;
    }
    const bool changed = m_current != index;
    m_current = index;
    const Lesson& l = m_lessons[index];
    m_title->setText(l.displayName());
    QString scenario = tr("Run: %1").arg(l.scenario.describe());
    if (l.compare)
        scenario +=
            QLatin1Char('\n') + tr("Run B (%1): %2").arg(l.compare->label, l.compare->describe());
    if (const auto sw = l.sweepRequest()) {
        QStringList names;
        for (SweepSeries s : sw->series)
            names << seriesName(s);
        scenario += QLatin1Char('\n')
                    + tr("Sweep: %1 at %2..%3 workers")
                          .arg(names.join(QStringLiteral(", ")))
                          .arg(sw->workers.first())
                          .arg(sw->workers.last());
    }
    m_scenario->setText(scenario);
    m_programCombo->setVisible(l.scenario.isProgram());
    if (l.scenario.isProgram()) {
        const QSignalBlocker block(m_programCombo);
        m_programCombo->clear();
        const QString own = QFileInfo(l.scenario.program).fileName();
        const QString prefix = QFileInfo(l.scenario.program).path();
        for (const QString& file : ProgramPaths::examples())
            m_programCombo->addItem(file,
                                    file == own ? l.scenario.program : QDir(prefix).filePath(file));
        int chosen = m_programCombo->findData(l.scenario.program);
        if (chosen < 0) { // not a shipped example (or none found): the lesson's own
            m_programCombo->insertItem(0, own, l.scenario.program);
            chosen = 0;
        }
        m_programCombo->setCurrentIndex(chosen);
    }
    if (changed || !m_programRunning) {
        const QString why = l.scenario.isProgram() ? l.scenario.validate() : QString();
        setProgramStatus(why, !why.isEmpty());
    }
    m_predict->setText(l.predict);
    QString observe;
    for (const QString& item : l.observe)
        observe += QStringLiteral("- %1\n").arg(item);
    m_observe->setText(QStringLiteral("**What to look for**\n\n") + observe);
    m_explain->setMarkdown(l.explanation);
    m_compare->setVisible(l.compare.has_value());
    if (l.compare)
        m_compare->setToolTip(tr("Run B: %1").arg(l.compare->describe()));
    m_sweep->setVisible(l.sweep.has_value());
    if (changed)
        m_continuations->clear();
    m_continuations->setVisible(l.scenario.continuations);
    for (QPushButton* b : {m_run, m_compare, m_sweep, m_reset, m_reveal, m_explainButton})
        b->setEnabled(true);
    if (changed) { // a new question: no answer, no result yet
        m_prediction->clear();
        setMeasured({});
    }
    if (m_combo->currentIndex() != index) {
        const QSignalBlocker block(m_combo);
        m_combo->setCurrentIndex(index);
    }
    setRevealed(false);
    if (changed)
        emit lessonChanged(l);
}

void LessonPanel::setRevealed(bool revealed)
{
    if (revealed)
        setStage(m_stage == Stage::Predict ? Stage::Observe : m_stage);
    else
        setStage(Stage::Predict);
}

void LessonPanel::setExplained(bool explained)
{
    if (explained)
        setStage(Stage::Explain);
    else if (m_stage == Stage::Explain)
        setStage(Stage::Observe);
}

void LessonPanel::setStage(Stage stage)
{
    const bool changed = m_stage != stage;
    m_stage = stage;
    m_observe->setVisible(stage != Stage::Predict);
    m_explain->setVisible(stage == Stage::Explain);
    for (auto [button, on] : {std::pair{m_reveal, stage != Stage::Predict},
                              std::pair{m_explainButton, stage == Stage::Explain}}) {
        if (button->isChecked() != on) {
            const QSignalBlocker block(button);
            button->setChecked(on);
        }
    }
    if (changed)
        emit stageChanged();
}

QString LessonPanel::prediction() const
{
    return m_prediction->text().trimmed();
}

void LessonPanel::setPacing(const QString& text)
{
    m_pacing->setText(text);
    m_pacing->setVisible(!text.isEmpty());
}

QString LessonPanel::pacingText() const
{
    return m_pacing->text();
}

void LessonPanel::setMeasured(const QString& text)
{
    m_measuredText = text;
    updateMeasured();
}

void LessonPanel::updateMeasured()
{
    if (m_measuredText.isEmpty()) {
        m_measured->clear();
        m_measured->hide();
        return;
    }
    const QString predicted = prediction();
    m_measured->setText(predicted.isEmpty()
                            ? tr("Measured: %1").arg(m_measuredText)
                            : tr("Predicted: %1  |  Measured: %2").arg(predicted, m_measuredText));
    m_measured->show();
}

void LessonPanel::watchFutures(quint64 runId, const QList<QFuture<QCborValue>>& futures)
{
    if (hasLesson() && currentLesson().scenario.continuations)
        m_continuations->watch(runId, futures);
}

void LessonPanel::setProgramRunning(bool running)
{
    m_programRunning = running;
    m_run->setText(running ? tr("Stop") : tr("Run"));
    m_run->setToolTip(running ? tr("Stop the script (it and its worker processes are killed)")
                              : tr("Run the lesson's scenario"));
    m_programCombo->setEnabled(!running);
}

void LessonPanel::setProgramStatus(const QString& text, bool isError)
{
    m_programStatus->setText(text);
    m_programStatus->setStyleSheet(isError ? QStringLiteral("QLabel { color: #b00020; }")
                                           : QString());
    m_programStatus->setVisible(!text.isEmpty());
}

QString LessonPanel::programStatus() const
{
    return m_programStatus->text();
}

QString LessonPanel::chosenProgram() const
{
    if (!hasLesson() || !currentLesson().scenario.isProgram())
        return {};
    const QString chosen = m_programCombo->currentData().toString();
    return chosen.isEmpty() ? currentLesson().scenario.program : chosen;
}

void LessonPanel::setRunEnabled(bool enabled)
{
    m_run->setEnabled(enabled && hasLesson());
    m_compare->setEnabled(enabled && hasLesson());
    m_sweep->setEnabled(enabled && hasLesson());
}

} // namespace poolscope
