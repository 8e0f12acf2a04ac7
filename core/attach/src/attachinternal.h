#pragma once
// Internals of PoolScope::attach shared by its units and its tests
// (tests/attach): small pure decisions and test hooks. Not installed.

#include <QString>

#include <memory>

namespace poolscope {
class Executor;
class Publication;
} // namespace poolscope

namespace poolscope::attachdetail {

/// SO_PEERCRED decision: a viewer may attach only when it runs as the
/// publisher's user. False with *why (the text of the `error` frame).
bool peerAllowed(qint64 peerUid, qint64 ownUid, QString* why);

/// Checks (and with create, makes mode 0700) a socket directory per
/// docs/attach.md: a real directory owned by the user with no group/other
/// permission bits. False with *error naming the path.
bool checkDirectory(const QString& path, bool create, QString* error);

/// The peer's uid of a connected Unix-domain socket, -1 when unknown.
qint64 peerUid(qintptr fd);

/// The program's name as a hello says it (basename of the executable).
QString programName();

/// Test hooks: the highest unsent byte count any viewer's connection held
/// since the last reset (bounded by PublishOptions::viewerBufferBytes plus
/// one frame), and the rows counted lost for viewers that fell behind.
qint64 publisherPeakQueuedBytes();
void resetPublisherPeak();
/// Test hook: pools of this process that a publisher's Monitor watches now.
int publisherWatchedPools();

/// Takes the POOLSCOPE_PUBLISH publication of `executor` out of the
/// environment's list, if any (an explicit publish() of the same pool
/// replaces it, destroying it once the new one exists); null when there is
/// none or when called from within the environment's own publishing.
/// Defined by envpublish.cpp.
std::unique_ptr<Publication> takeEnvPublication(Executor* executor);

/// Most bytes of one text (args, result, error) a snap carries; longer ones
/// are cut and end with "…".
inline constexpr qsizetype kMaxTextChars = 4096;
/// Rows in a run record of the publisher before it starts a new one (its
/// memory stays bounded).
inline constexpr quint64 kPublisherRunRows = 100'000;

} // namespace poolscope::attachdetail

extern "C" {
/// Defined by envpublish.cpp; the library's link interface asks for it
/// (--undefined) so that the static initialiser is linked into every
/// program that links PoolScope::attach, even one that calls nothing of it.
extern const int poolscope_attach_env_anchor;
}
