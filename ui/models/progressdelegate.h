#pragma once
// ProgressBarDelegate: paints a progress bar (the style's own, through
// QStyleOptionProgressBar) in cells whose progressRole holds a fraction 0..1;
// cells with -1 or no value are painted as ordinary text. The bar's text is
// the cell's DisplayRole.

#include "models/roles.h"

#include <QStyledItemDelegate>

namespace poolscope {

class ProgressBarDelegate : public QStyledItemDelegate {
    Q_OBJECT
public:
    explicit ProgressBarDelegate(QObject* parent = nullptr);
    ProgressBarDelegate(int progressRole, QObject* parent);

    int progressRole() const { return m_role; }

    void paint(QPainter* painter, const QStyleOptionViewItem& option,
               const QModelIndex& index) const override;
    QSize sizeHint(const QStyleOptionViewItem& option, const QModelIndex& index) const override;

private:
    int m_role = ModelRoles::Progress;
};

} // namespace poolscope
