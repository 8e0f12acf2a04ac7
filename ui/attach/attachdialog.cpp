#include "attachdialog.h"

#include <QDialogButtonBox>
#include <QHeaderView>
#include <QKeySequence>
#include <QLabel>
#include <QPushButton>
#include <QShortcut>
#include <QTreeWidget>
#include <QVBoxLayout>

namespace poolscope {

namespace {
constexpr int kProgramRole = Qt::UserRole;
constexpr int kPoolRole = Qt::UserRole + 1;
} // namespace

AttachDialog::AttachDialog(QWidget* parent)
    : QDialog(parent)
{
    setObjectName(QStringLiteral("attachDialog"));
    setWindowTitle(tr("Attach to a program"));
    auto* layout = new QVBoxLayout(this);
    auto* intro = new QLabel(
        tr("Programs of this user that publish their pools. Choose a program to follow its "
           "pools as it makes them, or one pool."),
        this);
    intro->setWordWrap(true);
    layout->addWidget(intro);
    m_list = new QTreeWidget(this);
    m_list->setObjectName(QStringLiteral("publisherList"));
    m_list->setColumnCount(3);
    m_list->setHeaderLabels({tr("Program / pool"), tr("Kind"), tr("Control")});
    m_list->header()->setSectionResizeMode(0, QHeaderView::Stretch);
    m_list->setRootIsDecorated(true);
    layout->addWidget(m_list, 1);
    m_hint = new QLabel(this);
    m_hint->setObjectName(QStringLiteral("attachHint"));
    m_hint->setWordWrap(true);
    m_hint->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(m_hint);
    m_buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    m_buttons->button(QDialogButtonBox::Ok)->setText(tr("&Attach"));
    QPushButton* refreshButton = m_buttons->addButton(tr("&Refresh"), QDialogButtonBox::ResetRole);
    refreshButton->setToolTip(tr("List the programs again (F5)"));
    layout->addWidget(m_buttons);
    connect(m_buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(m_buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(refreshButton, &QPushButton::clicked, this, &AttachDialog::refresh);
    connect(new QShortcut(QKeySequence::Refresh, this), &QShortcut::activated, this,
            &AttachDialog::refresh);
    connect(m_list, &QTreeWidget::itemSelectionChanged, this, &AttachDialog::updateButtons);
    connect(m_list, &QTreeWidget::itemDoubleClicked, this, [this] {
        if (chosenProgram())
            accept();
    });
    resize(640, 360);
    refresh();
}

void AttachDialog::refresh()
{
    m_list->clear();
    QString dirError;
    const QString dir = attach::socketDirectory(&dirError);
    QStringList problems;
    m_programs = dir.isEmpty() ? QList<PublisherInfo>{} : attach::listPublishers(1000, &problems);
    for (int i = 0; i < m_programs.size(); ++i) {
        const PublisherInfo& p = m_programs[i];
        auto* item = new QTreeWidgetItem(m_list);
        item->setText(0, tr("%1 (pid %2)").arg(p.program).arg(p.pid));
        item->setText(1, p.runtime.isEmpty() ? p.language : p.runtime);
        item->setText(2, p.pools.isEmpty() ? tr("no pool yet")
                                           : tr("%n pool(s)", nullptr, int(p.pools.size())));
        item->setData(0, kProgramRole, i);
        item->setData(0, kPoolRole, QVariant());
        for (const PoolInfo& pool : p.pools) {
            auto* child = new QTreeWidgetItem(item);
            child->setText(0, tr("%1 (%n worker(s))", nullptr, pool.maxWorkers).arg(pool.name));
            child->setText(1, pool.kind);
            child->setText(2, pool.control.isEmpty() ? tr("read-only")
                                                     : pool.control.join(QLatin1String(", ")));
            child->setData(0, kProgramRole, i);
            child->setData(0, kPoolRole, pool.id);
        }
        item->setExpanded(true);
    }
    if (!m_programs.isEmpty())
        m_list->setCurrentItem(m_list->topLevelItem(0));
    QString hint;
    if (dir.isEmpty())
        hint = dirError;
    else if (m_programs.isEmpty())
        hint = tr("No program of this user publishes its pools (looked in %1). Python: run "
                  "python3 -m poolscope_probe script.py. C++: call poolscope::publish(executor, "
                  "\"name\"), or start the program with POOLSCOPE_PUBLISH=1 (docs/attach.md).")
                   .arg(dir);
    if (!problems.isEmpty())
        hint +=
            (hint.isEmpty() ? QString() : QStringLiteral("\n")) + problems.join(QLatin1Char('\n'));
    m_hint->setText(hint);
    m_hint->setVisible(!hint.isEmpty());
    updateButtons();
}

std::optional<PublisherInfo> AttachDialog::chosenProgram() const
{
    const QTreeWidgetItem* item = m_list->currentItem();
    if (!item)
        return std::nullopt;
    const int i = item->data(0, kProgramRole).toInt();
    if (i < 0 || i >= m_programs.size())
        return std::nullopt;
    return m_programs[i];
}

std::optional<quint64> AttachDialog::chosenPool() const
{
    const QTreeWidgetItem* item = m_list->currentItem();
    if (!item || !item->data(0, kPoolRole).isValid())
        return std::nullopt;
    return item->data(0, kPoolRole).toULongLong();
}

void AttachDialog::updateButtons()
{
    m_buttons->button(QDialogButtonBox::Ok)->setEnabled(chosenProgram().has_value());
}

} // namespace poolscope
