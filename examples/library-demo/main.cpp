// Runs work on PoolScope's thread pool from a plain C++ program: no Qt event
// loop, no QCoreApplication. Exits 0 only if every result is right.
#include <poolscope/threadpool.h>
#include <poolscope/waiting.h>

#include <exception>
#include <iostream>
#include <vector>

int main()
{
    try {
        poolscope::ThreadPoolOptions opts;
        opts.maxWorkers = 4;
        opts.threadNamePrefix = "demo";
        poolscope::ThreadPoolExecutor pool(opts);

        // submit(fn, args...) -> Future<R>; result() blocks, rethrows the task's exception.
        poolscope::Future<int> f = pool.submit([](int a, int b) { return a + b; }, 2, 3);
        const int sum = f.result();

        // map(fn, inputs): results in input order.
        const std::vector<int> squares =
            pool.map([](int x) { return x * x; }, std::vector<int>{1, 2, 3}).toList();

        pool.shutdown(); // wait = true: returns when every task has finished

        std::cout << "2 + 3 = " << sum << "\nsquares:";
        for (int s : squares)
            std::cout << ' ' << s;
        std::cout << '\n';

        const bool ok = sum == 5 && squares == std::vector<int>{1, 4, 9};
        std::cout << (ok ? "OK" : "WRONG RESULTS") << '\n';
        return ok ? 0 : 1;
    } catch (const std::exception& e) {
        std::cerr << "library-demo: " << e.what() << '\n';
        return 1;
    }
}
