#include "models/progressdelegate.h"

#include <QApplication>
#include <QPainter>
#include <QStyle>
#include <QStyleOptionProgressBar>

#include <cmath>

namespace poolscope {

ProgressBarDelegate::ProgressBarDelegate(QObject* parent)
    : QStyledItemDelegate(parent)
{}

ProgressBarDelegate::ProgressBarDelegate(int progressRole, QObject* parent)
    : QStyledItemDelegate(parent)
    , m_role(progressRole)
{}

void ProgressBarDelegate::paint(QPainter* painter, const QStyleOptionViewItem& option,
                                const QModelIndex& index) const
{
    bool ok = false;
    const double p = index.data(m_role).toDouble(&ok);
    if (!ok || !(p >= 0.0)) {
        QStyledItemDelegate::paint(painter, option, index);
        return;
    }
    QStyleOptionViewItem opt = option;
    initStyleOption(&opt, index);
    const QWidget* widget = option.widget;
    QStyle* style = widget ? widget->style() : QApplication::style();
    // Selection / hover background first, as a plain cell would have it.
    opt.text.clear();
    style->drawControl(QStyle::CE_ItemViewItem, &opt, painter, widget);

    QStyleOptionProgressBar bar;
    if (widget)
        bar.initFrom(widget);
    bar.state = option.state | QStyle::State_Horizontal;
    bar.direction = option.direction;
    bar.fontMetrics = option.fontMetrics;
    bar.palette = option.palette;
    // A little inset so bars in adjacent rows do not touch (scaled with font).
    const int inset = std::max(1, option.fontMetrics.height() / 8);
    bar.rect = option.rect.adjusted(inset, inset, -inset, -inset);
    bar.minimum = 0;
    bar.maximum = 1000;
    bar.progress = int(std::lround(std::min(p, 1.0) * 1000.0));
    bar.text = index.data(Qt::DisplayRole).toString();
    bar.textVisible = true;
    bar.textAlignment = Qt::AlignCenter;
    style->drawControl(QStyle::CE_ProgressBar, &bar, painter, widget);
}

QSize ProgressBarDelegate::sizeHint(const QStyleOptionViewItem& option,
                                    const QModelIndex& index) const
{
    QSize s = QStyledItemDelegate::sizeHint(option, index);
    // Room for "100 %" plus the bar's frame.
    const int minW = option.fontMetrics.horizontalAdvance(QStringLiteral("100 %")) * 2;
    return {std::max(s.width(), minW), s.height()};
}

} // namespace poolscope
