#pragma once
// Presenter mode: the window as a projector needs it. Larger fonts (1.6x),
// a high-contrast palette, the dynamic property "presenter" = true on every
// widget (views read it to draw thicker lines: it arrives as a
// QEvent::DynamicPropertyChange), and widgets marked "advanced" = true
// hidden. Turning it off restores fonts, palette, icon sizes and exactly the
// widgets it hid. Calling it twice with the same value changes nothing.
//
// Widgets created while presenter mode is on are not scaled; toggle it off
// and on again (or call it again after building a dock).
//
// Suggested shortcut: presenterShortcut() (Ctrl+Shift+P).

#include <QKeySequence>

class QWidget;

namespace poolscope {

inline constexpr double kPresenterFontScale = 1.6;
inline constexpr double kPresenterIconScale = 1.5;
/// Line widths of the charts (throughput, per-core, hosts) and the timeline's
/// outlines in presenter mode.
inline constexpr double kPresenterLineScale = 2.0;
/// Dynamic property names.
inline constexpr const char* kPresenterProperty = "presenter";
inline constexpr const char* kAdvancedProperty = "advanced";

void applyPresenterMode(QWidget* window, bool on);
bool isPresenterMode(const QWidget* window);
QKeySequence presenterShortcut();

} // namespace poolscope
