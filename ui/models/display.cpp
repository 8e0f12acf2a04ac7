#include "models/display.h"

#include <QByteArray>
#include <QCborValue>

#include <algorithm>
#include <cmath>
#include <limits>

namespace poolscope::display {

namespace {

QString threeDigits(double v, const char* unit)
{
    const int decimals = v < 9.995 ? 2 : (v < 99.95 ? 1 : 0);
    return QStringLiteral("%1 %2").arg(v, 0, 'f', decimals).arg(QString::fromUtf8(unit));
}

double luminance(const QColor& c)
{
    auto lin = [](double v) {
        return v <= 0.04045 ? v / 12.92 : std::pow((v + 0.055) / 1.055, 2.4);
    };
    return 0.2126 * lin(c.redF()) + 0.7152 * lin(c.greenF()) + 0.0722 * lin(c.blueF());
}

/// Walks the lightness of (h, s) away from the background until the colour
/// has minContrast against it.
QColor withContrast(double hue, double sat, double light, const QColor& bg, double minContrast)
{
    const bool darkBg = luminance(bg) < 0.2;
    const double step = darkBg ? 0.02 : -0.02;
    QColor c = QColor::fromHslF(float(hue), float(sat), float(light));
    for (int i = 0; i < 60 && contrastRatio(c, bg) < minContrast; ++i) {
        light = std::clamp(light + step, 0.0, 1.0);
        c = QColor::fromHslF(float(hue), float(sat), float(light));
    }
    return c;
}

} // namespace

double percentile(std::vector<double> v, double p)
{
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    const double rank = std::clamp(p, 0.0, 100.0) / 100.0 * double(v.size());
    return v[std::min(v.size() - 1, std::size_t(rank))];
}

QString formatDuration(qint64 ns)
{
    if (ns < 0)
        return QStringLiteral("-")
               + formatDuration(ns == std::numeric_limits<qint64>::min()
                                    ? std::numeric_limits<qint64>::max()
                                    : -ns);
    if (ns < 1000)
        return QStringLiteral("%1 ns").arg(ns);
    const double v = double(ns);
    if (v < 999.5e3)
        return threeDigits(v / 1e3, "µs");
    if (v < 999.5e6)
        return threeDigits(v / 1e6, "ms");
    if (v < 59.995e9)
        return threeDigits(v / 1e9, "s");
    const qint64 s = (ns + 500'000'000) / 1'000'000'000;
    if (s < 3600)
        return QStringLiteral("%1 min %2 s").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
    const qint64 m = (s + 30) / 60;
    return QStringLiteral("%1 h %2 min").arg(m / 60).arg(m % 60, 2, 10, QLatin1Char('0'));
}

QString resultText(const QVariant& result)
{
    if (!result.isValid() || result.isNull())
        return {};
    switch (result.metaType().id()) {
    case QMetaType::QByteArray:
        return QStringLiteral("<%1 bytes>").arg(result.toByteArray().size());
    case QMetaType::Double:
    case QMetaType::Float:
        return QString::number(result.toDouble(), 'g', 12);
    default:
        break;
    }
    if (result.metaType() == QMetaType::fromType<QCborValue>())
        return result.value<QCborValue>().toDiagnosticNotation(QCborValue::Compact);
    if (result.canConvert<QString>())
        return result.toString();
    return QStringLiteral("<%1>").arg(QString::fromLatin1(result.typeName()));
}

QString elide(const QString& text, int maxChars)
{
    QString t =
        text.size() > maxChars ? text.left(std::max(0, maxChars - 1)) + QChar(0x2026) : text;
    for (QChar& c : t) {
        if (c == QLatin1Char('\n') || c == QLatin1Char('\r') || c == QLatin1Char('\t'))
            c = QLatin1Char(' ');
    }
    return t;
}

bool isDark(const QPalette& palette)
{
    return luminance(palette.color(QPalette::Base)) < 0.2;
}

double contrastRatio(const QColor& a, const QColor& b)
{
    const double la = luminance(a), lb = luminance(b);
    return (std::max(la, lb) + 0.05) / (std::min(la, lb) + 0.05);
}

QColor statusColor(TaskStatus status, const QPalette& palette)
{
    const QColor bg = palette.color(QPalette::Base);
    const bool dark = isDark(palette);
    switch (status) {
    case TaskStatus::Succeeded:
        return withContrast(130 / 360.0, 0.6, dark ? 0.6 : 0.32, bg, 3.0);
    case TaskStatus::Failed:
        return withContrast(0.0, 0.75, dark ? 0.65 : 0.42, bg, 3.0);
    case TaskStatus::Cancelled:
        return withContrast(0.0, 0.0, dark ? 0.68 : 0.42, bg, 3.0);
    }
    return palette.color(QPalette::Text);
}

QString pythonErrorText(const QString& text, QString* cppType)
{
    // Longest C++ names first where one is a prefix of another.
    static const std::pair<QLatin1StringView, QLatin1StringView> names[] = {
        {QLatin1StringView("std::invalid_argument"), QLatin1StringView("ValueError")},
        {QLatin1StringView("std::domain_error"), QLatin1StringView("ValueError")},
        {QLatin1StringView("std::length_error"), QLatin1StringView("ValueError")},
        {QLatin1StringView("std::range_error"), QLatin1StringView("ValueError")},
        {QLatin1StringView("std::bad_optional_access"), QLatin1StringView("ValueError")},
        {QLatin1StringView("std::out_of_range"), QLatin1StringView("IndexError")},
        {QLatin1StringView("std::overflow_error"), QLatin1StringView("OverflowError")},
        {QLatin1StringView("std::underflow_error"), QLatin1StringView("ArithmeticError")},
        {QLatin1StringView("std::runtime_error"), QLatin1StringView("RuntimeError")},
        {QLatin1StringView("std::logic_error"), QLatin1StringView("RuntimeError")},
        {QLatin1StringView("std::bad_alloc"), QLatin1StringView("MemoryError")},
        {QLatin1StringView("std::bad_array_new_length"), QLatin1StringView("MemoryError")},
        {QLatin1StringView("std::system_error"), QLatin1StringView("OSError")},
        {QLatin1StringView("std::ios_base::failure"), QLatin1StringView("OSError")},
        {QLatin1StringView("std::filesystem::__cxx11::filesystem_error"),
         QLatin1StringView("OSError")},
        {QLatin1StringView("std::bad_cast"), QLatin1StringView("TypeError")},
        {QLatin1StringView("std::bad_any_cast"), QLatin1StringView("TypeError")},
        {QLatin1StringView("std::bad_variant_access"), QLatin1StringView("TypeError")},
        {QLatin1StringView("std::exception"), QLatin1StringView("Exception")},
        {QLatin1StringView("poolscope::InvalidArgument"), QLatin1StringView("ValueError")},
        {QLatin1StringView("poolscope::ShutdownError"), QLatin1StringView("RuntimeError")},
        {QLatin1StringView("poolscope::Error"), QLatin1StringView("Exception")},
    };
    if (cppType)
        cppType->clear();
    QString type;
    QString rest;
    QString body = text;
    // A process worker's exception PoolScope cannot rebuild comes as
    // "poolscope::RemoteError: <its type>: <message>": name its own type.
    static const QLatin1StringView remote("poolscope::RemoteError: ");
    if (body.startsWith(remote))
        body = body.mid(remote.size());
    const qsizetype colon = body.indexOf(QLatin1String(": "));
    if (colon <= 0)
        return text;
    type = body.left(colon);
    rest = body.mid(colon);
    // A type name has no spaces (but may have template arguments or an ABI
    // tag: std::ios_base::failure[abi:cxx11]).
    if (type.contains(QLatin1Char(' ')))
        return text;
    if (cppType)
        *cppType = type;
    for (const auto& [cpp, py] : names) {
        if (type == cpp || (type.startsWith(cpp) && type.at(cpp.size()) == QLatin1Char('[')))
            return py + rest;
    }
    static const QLatin1StringView ns("poolscope::");
    if (type.startsWith(ns)) // TimeoutError, CancelledError, BrokenExecutor, WorkerCrashed
        return type.mid(ns.size()) + rest;
    return body == text ? text : type + rest;
}

QColor workerStateColor(WorkerState state, const QPalette& palette)
{
    const QColor bg = palette.color(QPalette::Base);
    const bool dark = isDark(palette);
    switch (state) {
    case WorkerState::Starting:
        return withContrast(40 / 360.0, 0.85, dark ? 0.6 : 0.35, bg, 3.0);
    case WorkerState::Idle:
        return withContrast(210 / 360.0, 0.25, dark ? 0.65 : 0.4, bg, 3.0);
    case WorkerState::Running:
        return withContrast(130 / 360.0, 0.6, dark ? 0.6 : 0.32, bg, 3.0);
    case WorkerState::Retiring:
        return withContrast(280 / 360.0, 0.5, dark ? 0.7 : 0.42, bg, 3.0);
    case WorkerState::Dead: // crashed: red
        return withContrast(0.0, 0.75, dark ? 0.65 : 0.42, bg, 3.0);
    case WorkerState::Retired: // left on purpose: grey, like disabled text
        return withContrast(0.0, 0.0, dark ? 0.55 : 0.55, bg, 2.0);
    }
    return palette.color(QPalette::Text);
}

QColor taskColor(const QString& name, const QPalette& palette)
{
    quint32 h = 2166136261u;
    for (QChar c : name) {
        h ^= c.unicode();
        h *= 16777619u;
    }
    // Spread hues by the golden angle; keep out of [-25°, 25°] around red.
    const double golden = 0.6180339887498949;
    const double u = std::fmod(double(h % 1000003u) * golden, 1.0);
    const double hue = (25.0 + u * 310.0) / 360.0;
    const double sat = 0.45 + double((h >> 20) % 16) / 100.0;
    const bool dark = isDark(palette);
    // Fills must stand out from the base, but stay light enough (light theme)
    // or muted enough (dark theme) for a label on top.
    return withContrast(hue, sat, dark ? 0.5 : 0.62, palette.color(QPalette::Base), 1.6);
}

QColor textOn(const QColor& background)
{
    return contrastRatio(background, Qt::black) >= contrastRatio(background, Qt::white)
               ? QColor(Qt::black)
               : QColor(Qt::white);
}

} // namespace poolscope::display
