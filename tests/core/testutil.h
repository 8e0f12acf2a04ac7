#pragma once
// Hand-shakes between a test and the tasks it submits, so that "running" and
// "pending" are facts, not hopes: no fixed sleeps anywhere in the tests.
//
// Gate: tasks block in wait() until the test calls open(). The Gate object the
// test declares (the "owner") opens itself when destroyed, so a test that
// fails early never leaves a pool's destructor waiting for a blocked task.
// Declare the Gate AFTER the pool, so it is destroyed (opened) first.
//
// Arrivals: tasks arrive(); the test waits until n have arrived. The wait is
// bounded (a guard that turns a hang into a failure, never a sleep).

#include <QMutex>
#include <QStringList>
#include <QTest>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

// Under ThreadSanitizer (timing slack in a few tests). The process pool runs
// under TSan like everything else (docs/reliability.md "Sanitizers").
#if defined(__SANITIZE_THREAD__)
#define POOLSCOPE_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define POOLSCOPE_UNDER_TSAN 1
#endif
#endif

namespace tst {

using namespace std::chrono_literals;

/// Generous bound for hand-shakes that must happen (TSan builds are slow).
inline constexpr auto kGuard = 30s;

class Gate {
public:
    Gate()
        : m_s(std::make_shared<State>())
        , m_owner(true)
    {}
    Gate(const Gate& o)
        : m_s(o.m_s)
        , m_owner(false)
    {}
    Gate& operator=(const Gate&) = delete;
    ~Gate()
    {
        if (m_owner)
            open();
    }
    void open() const
    {
        std::lock_guard lk(m_s->m);
        m_s->open = true;
        m_s->cv.notify_all();
    }
    void wait() const
    {
        std::unique_lock lk(m_s->m);
        m_s->cv.wait(lk, [&] { return m_s->open; });
    }
    /// Guarded wait for tasks that must not hang a failing test.
    bool waitFor(std::chrono::milliseconds limit) const
    {
        std::unique_lock lk(m_s->m);
        return m_s->cv.wait_for(lk, limit, [&] { return m_s->open; });
    }
    bool isOpen() const
    {
        std::lock_guard lk(m_s->m);
        return m_s->open;
    }

private:
    struct State {
        std::mutex m;
        std::condition_variable cv;
        bool open = false;
    };
    std::shared_ptr<State> m_s;
    bool m_owner;
};

/// Opens a gate when destroyed. For gates that must exist before the pool
/// (e.g. captured by an initializer): declare the opener after the pool.
class GateOpener {
public:
    explicit GateOpener(const Gate& g)
        : m_g(g)
    {}
    GateOpener(const GateOpener&) = delete;
    GateOpener& operator=(const GateOpener&) = delete;
    ~GateOpener() { m_g.open(); }

private:
    Gate m_g;
};

class Arrivals {
public:
    Arrivals()
        : m_s(std::make_shared<State>())
    {}
    void arrive() const
    {
        std::lock_guard lk(m_s->m);
        ++m_s->n;
        m_s->cv.notify_all();
    }
    /// True once at least n arrived; false after the guard time.
    bool waitFor(int n, std::chrono::milliseconds limit = kGuard) const
    {
        std::unique_lock lk(m_s->m);
        return m_s->cv.wait_for(lk, limit, [&] { return m_s->n >= n; });
    }
    int count() const
    {
        std::lock_guard lk(m_s->m);
        return m_s->n;
    }

private:
    struct State {
        std::mutex m;
        std::condition_variable cv;
        int n = 0;
    };
    std::shared_ptr<State> m_s;
};

/// Thread-safe list of labels, to check the order in which tasks ran.
class Recorder {
public:
    Recorder()
        : m_s(std::make_shared<State>())
    {}
    void add(const QString& s) const
    {
        QMutexLocker lk(&m_s->m);
        m_s->items.append(s);
    }
    QStringList items() const
    {
        QMutexLocker lk(&m_s->m);
        return m_s->items;
    }

private:
    struct State {
        QMutex m;
        QStringList items;
    };
    std::shared_ptr<State> m_s;
};

} // namespace tst

// Compares a future's state by name, so a failure prints "running" vs
// "finished". (The name functions are called nameOf, not toString, because
// QtTest's QCOMPARE finds a toString() by ADL and delete[]s what it returns.)
#define TST_COMPARE_STATE(future, expected)                                                        \
    QCOMPARE(QByteArray(poolscope::nameOf((future).state())),                                      \
             QByteArray(poolscope::nameOf(expected)))
