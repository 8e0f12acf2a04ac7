#pragma once
// Icons of the main window. The artwork lives in resources/icons/*.svg (the
// .desktop file and an SVG-capable Qt use those). Debian's Qt without the
// qt6-svg image plugin cannot read SVG, so each icon is also painted here
// with the same shapes by a QIconEngine: sharp at any device pixel ratio,
// no extra dependency.

#include <QIcon>

namespace poolscope::icons {

enum class Icon { Start, Pause, Resume, Cancel, Stop, Shutdown, Export, App };

/// The SVG from the resources when Qt can read SVG, else the painted one.
QIcon get(Icon icon);
/// Always the painted version (tests, screenshots).
QIcon painted(Icon icon);

} // namespace poolscope::icons
