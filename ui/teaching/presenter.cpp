#include "teaching/presenter.h"

#include <QAbstractButton>
#include <QFont>
#include <QPalette>
#include <QToolBar>
#include <QVariant>
#include <QWidget>

namespace poolscope {

namespace {
// Saved state lives in dynamic properties of the widgets themselves, so no
// registry can outlive (or dangle on) a widget.
constexpr const char* kSavedFont = "_presenterSavedFont";       // explicit font before
constexpr const char* kSavedPalette = "_presenterSavedPalette"; // window palette before
constexpr const char* kHadPalette = "_presenterHadPalette";     // window had its own palette
constexpr const char* kHidByPresenter = "_presenterHid";
constexpr const char* kSavedIconSize = "_presenterSavedIconSize";

QFont scaled(QFont f)
{
    if (f.pointSizeF() > 0)
        f.setPointSizeF(f.pointSizeF() * kPresenterFontScale);
    else if (f.pixelSize() > 0)
        f.setPixelSize(qRound(f.pixelSize() * kPresenterFontScale));
    return f;
}

QPalette highContrast()
{
    QPalette p;
    const QColor black(Qt::black), white(Qt::white), yellow(0xffd400), cyan(0x00e5ff);
    for (auto group : {QPalette::Active, QPalette::Inactive}) {
        p.setColor(group, QPalette::Window, black);
        p.setColor(group, QPalette::WindowText, white);
        p.setColor(group, QPalette::Base, black);
        p.setColor(group, QPalette::AlternateBase, QColor(0x202020));
        p.setColor(group, QPalette::Text, white);
        p.setColor(group, QPalette::Button, QColor(0x101010));
        p.setColor(group, QPalette::ButtonText, white);
        p.setColor(group, QPalette::BrightText, yellow);
        p.setColor(group, QPalette::Highlight, yellow);
        p.setColor(group, QPalette::HighlightedText, black);
        p.setColor(group, QPalette::ToolTipBase, black);
        p.setColor(group, QPalette::ToolTipText, white);
        p.setColor(group, QPalette::PlaceholderText, QColor(0xc8c8c8));
        p.setColor(group, QPalette::Link, cyan);
        p.setColor(group, QPalette::Mid, QColor(0x9a9a9a));
        p.setColor(group, QPalette::Dark, QColor(0x6a6a6a));
        p.setColor(group, QPalette::Light, QColor(0xe0e0e0));
        p.setColor(group, QPalette::Midlight, QColor(0xb0b0b0));
        p.setColor(group, QPalette::Shadow, white);
    }
    p.setColor(QPalette::Disabled, QPalette::WindowText, QColor(0x8a8a8a));
    p.setColor(QPalette::Disabled, QPalette::Text, QColor(0x8a8a8a));
    p.setColor(QPalette::Disabled, QPalette::ButtonText, QColor(0x8a8a8a));
    p.setColor(QPalette::Disabled, QPalette::Window, black);
    p.setColor(QPalette::Disabled, QPalette::Base, black);
    p.setColor(QPalette::Disabled, QPalette::Button, QColor(0x101010));
    return p;
}

QList<QWidget*> selfAndDescendants(QWidget* window)
{
    QList<QWidget*> all{window};
    all += window->findChildren<QWidget*>();
    return all;
}

} // namespace

bool isPresenterMode(const QWidget* window)
{
    return window && window->property(kPresenterProperty).toBool();
}

QKeySequence presenterShortcut()
{
    return QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_P);
}

void applyPresenterMode(QWidget* window, bool on)
{
    if (!window || isPresenterMode(window) == on)
        return;
    const QList<QWidget*> widgets = selfAndDescendants(window);
    if (on) {
        window->setProperty(kHadPalette, window->testAttribute(Qt::WA_SetPalette));
        window->setProperty(kSavedPalette, window->palette());
        window->setPalette(highContrast());
        // Fonts: the window's font is inherited by every child that has not
        // set its own; those that have (titles, headings) are scaled one by
        // one. Read every font before changing any, so a child that inherits
        // its size is never scaled twice.
        QList<QPair<QWidget*, QFont>> fonts;
        for (QWidget* w : widgets) {
            if (w == window || w->testAttribute(Qt::WA_SetFont))
                fonts.append({w, w->font()});
        }
        for (const auto& [w, font] : fonts) {
            const bool own = w->testAttribute(Qt::WA_SetFont);
            w->setProperty(kSavedFont, own ? QVariant(font) : QVariant());
            w->setFont(scaled(font));
        }
        for (QWidget* w : widgets) {
            if (auto* tb = qobject_cast<QToolBar*>(w)) {
                tb->setProperty(kSavedIconSize, tb->iconSize());
                tb->setIconSize(tb->iconSize() * kPresenterIconScale);
            }
            if (w != window && w->property(kAdvancedProperty).toBool() && !w->isHidden()) {
                w->setProperty(kHidByPresenter, true);
                w->hide();
            }
        }
        for (QWidget* w : widgets)
            w->setProperty(kPresenterProperty, true);
        return;
    }

    for (QWidget* w : widgets) {
        const QVariant saved = w->property(kSavedFont);
        if (saved.isValid()) {
            w->setFont(saved.value<QFont>());
            w->setProperty(kSavedFont, QVariant());
        } else if (w == window) {
            w->setFont(QFont()); // had no font of its own: inherit again
            w->setAttribute(Qt::WA_SetFont, false);
        }
        if (auto* tb = qobject_cast<QToolBar*>(w)) {
            const QVariant size = tb->property(kSavedIconSize);
            if (size.isValid())
                tb->setIconSize(size.toSize());
            tb->setProperty(kSavedIconSize, QVariant());
        }
        if (w->property(kHidByPresenter).toBool()) {
            w->setProperty(kHidByPresenter, QVariant());
            w->show();
        }
    }
    if (window->property(kHadPalette).toBool())
        window->setPalette(window->property(kSavedPalette).value<QPalette>());
    else {
        window->setPalette(QPalette());
        window->setAttribute(Qt::WA_SetPalette, false);
    }
    window->setProperty(kSavedPalette, QVariant());
    window->setProperty(kHadPalette, QVariant());
    for (QWidget* w : widgets)
        w->setProperty(kPresenterProperty, QVariant());
}

} // namespace poolscope
