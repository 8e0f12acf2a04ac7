#pragma once
// Display helpers shared by the models and views of ui/: human-readable
// durations and palette-aware colours (dark and light themes alike).

#include <poolscope/future.h>
#include <poolscope/telemetry.h>

#include <QColor>
#include <QPalette>
#include <QString>
#include <QVariant>

#include <vector>

namespace poolscope::display {

/// "0 ns", "850 ns", "12.3 µs", "4.56 ms", "1.23 s", "2 min 05 s", "1 h 02 min".
/// Negative values are shown with a leading minus.
QString formatDuration(qint64 ns);

/// Text of a task result as a table cell shows it (QByteArray as a size,
/// invalid as empty). Not elided.
QString resultText(const QVariant& result);

/// Elides text longer than maxChars to its first maxChars - 1 characters and
/// "…", and folds line breaks into spaces (table cells are one line).
QString elide(const QString& text, int maxChars);

/// An error text "<C++ type>: <message>" (describeException) as Python
/// names it: "ValueError: ..." for std::invalid_argument, "RuntimeError"
/// for std::runtime_error, PoolScope's errors without their namespace
/// (TimeoutError, CancelledError, BrokenExecutor, WorkerCrashed), a remote
/// task's own type unwrapped from RemoteError. Text whose type has no
/// Python name comes back unchanged. *cppType gets the C++ type ("" when
/// the text names none).
QString pythonErrorText(const QString& text, QString* cppType = nullptr);

/// The p-th percentile (0..100) of v by the nearest-rank rule (the value
/// below which p % of the samples lie); 0 for no samples. For the lag
/// figures of the window (lesson 9's heartbeat, `poolscope --measure`).
double percentile(std::vector<double> v, double p);

/// True when the palette's base is dark (dark mode).
bool isDark(const QPalette& palette);

/// WCAG contrast ratio (1..21) between two colours.
double contrastRatio(const QColor& a, const QColor& b);

/// Colours for text or marks drawn on palette.base(): lightness is chosen per
/// theme so every colour keeps at least 3:1 contrast on both light and dark.
QColor statusColor(TaskStatus status, const QPalette& palette);
QColor workerStateColor(WorkerState state, const QPalette& palette);

/// A stable colour per task name (FNV-1a of the name, never the per-process
/// seeded qHash) that reads well as a fill on palette.base(). Hues near red
/// are skipped: red means failure.
QColor taskColor(const QString& name, const QPalette& palette);

/// Black or white, whichever reads better on background.
QColor textOn(const QColor& background);

} // namespace poolscope::display
