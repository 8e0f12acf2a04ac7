#pragma once
// File > Attach to a program...: the programs of this user that publish
// their pools (attach::listPublishers), each with its pools; choosing a
// program follows it, choosing a pool watches that pool (docs/attach.md).

#include <poolscope/attach.h>

#include <QDialog>

#include <optional>

class QDialogButtonBox;
class QLabel;
class QTreeWidget;

namespace poolscope {

class AttachDialog : public QDialog {
    Q_OBJECT
public:
    explicit AttachDialog(QWidget* parent = nullptr);

    /// Lists the publishers again (F5, the Refresh button; once on open).
    void refresh();
    /// What was chosen: the program, and a pool id or nullopt (follow).
    std::optional<PublisherInfo> chosenProgram() const;
    std::optional<quint64> chosenPool() const;
    QTreeWidget* list() const { return m_list; }
    QLabel* hintLabel() const { return m_hint; }

private:
    void updateButtons();

    QTreeWidget* m_list = nullptr;
    QLabel* m_hint = nullptr;
    QDialogButtonBox* m_buttons = nullptr;
    QList<PublisherInfo> m_programs;
};

} // namespace poolscope
