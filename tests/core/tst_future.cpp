#include <poolscope/threadpool.h>
#include <poolscope/waiting.h>

#include <QtTest>

using namespace poolscope;
using namespace std::chrono_literals;

class TstFuture : public QObject {
    Q_OBJECT
private slots:
    void submitResult()
    {
        ThreadPoolExecutor pool(2);
        auto f = pool.submit([](int a, int b) { return a + b; }, 2, 3);
        QCOMPARE(f.result(), 5);
        QCOMPARE(f.state(), FutureState::Finished);
    }
    void exceptionKeepsType()
    {
        ThreadPoolExecutor pool(2);
        auto f = pool.submit([]() -> int { throw std::out_of_range("boom"); });
        QVERIFY_THROWS_EXCEPTION(std::out_of_range, f.result());
    }
    void mapOrder()
    {
        ThreadPoolExecutor pool(2);
        MapOptions o;
        o.chunkSize = 3;
        auto r = pool.map([](int x) { return x * x; }, std::vector<int>{1, 2, 3, 4, 5, 6, 7}, o)
                     .toList();
        QCOMPARE(r, (std::vector<int>{1, 4, 9, 16, 25, 36, 49}));
    }
};

QTEST_GUILESS_MAIN(TstFuture)
#include "tst_future.moc"
