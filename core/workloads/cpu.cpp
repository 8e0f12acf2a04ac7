// CPU-bound demo tasks: primes, mandelbrot, matmul, montecarlo_pi, hash and
// the "native" variants that release the simulated GIL (docs/architecture.md).
#include "kernels.h"

#include "poolscope/errors.h"
#include "poolscope/registry.h"

#include <QCborMap>

#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace poolscope::workloads {

qint64 countPrimesKernel(TaskContext& ctx, qint64 lo, qint64 hi, Gil mode)
{
    if (lo < 0 || hi < lo)
        throw InvalidArgument("primes: need 0 <= lo <= hi, got lo=" + std::to_string(lo)
                              + ", hi=" + std::to_string(hi));
    Checkpointer cp(ctx, mode);
    const qint64 span = std::max<qint64>(1, hi - lo);
    qint64 count = 0;
    for (qint64 x = lo; x < hi; ++x) {
        if (((x - lo) & 0x3ff) == 0) {
            ctx.throwIfStopRequested();
            ctx.setProgress(x - lo, span);
        }
        if (x < 2)
            continue;
        if (x < 4) {
            ++count;
            continue;
        }
        if ((x & 1) == 0)
            continue;
        bool prime = true;
        for (qint64 d = 3; d * d <= x; d += 2) {
            cp.tick();
            if (x % d == 0) {
                prime = false;
                break;
            }
        }
        count += prime ? 1 : 0;
    }
    ctx.setProgress(span, span);
    return count;
}

void fillStream(quint64& state, char* out, qint64 n) noexcept
{
    while (n > 0) {
        const quint64 v = splitmix64(state);
        const qint64 k = std::min<qint64>(8, n);
        for (qint64 b = 0; b < k; ++b)
            out[b] = char(quint8(v >> (8 * b)));
        out += k;
        n -= k;
    }
}

namespace {

// ------------------------------------------------------------------- primes

qint64 primes(TaskContext& ctx, qint64 lo, qint64 hi)
{
    return countPrimesKernel(ctx, lo, hi, Gil::Interpreted);
}

qint64 primesNative(TaskContext& ctx, qint64 lo, qint64 hi)
{
    TaskContext::GilRelease nogil(ctx);
    return countPrimesKernel(ctx, lo, hi, Gil::Native);
}

// --------------------------------------------------------------- mandelbrot

/// One tile of a width x height image of the Mandelbrot set over the window
/// re [-2.2, 0.8] x im [-1.2, 1.2]; pixel (px, py) samples its centre,
/// c = (-2.2 + 3.0 (px + 0.5) / width) + i (-1.2 + 2.4 (py + 0.5) / height).
/// With z0 = 0 and n the number of steps z = z^2 + c taken while |z| <= 2,
/// each pixel stores 255 when n reached maxIter (inside), else min(n, 254).
QCborMap mandelbrot(TaskContext& ctx, qint64 x, qint64 y, qint64 w, qint64 h, qint64 width,
                    qint64 height, qint64 maxIter)
{
    if (width <= 0 || height <= 0 || width > 65536 || height > 65536)
        throw InvalidArgument("mandelbrot: width and height must be between 1 and 65536");
    if (w <= 0 || h <= 0 || x < 0 || y < 0 || x > width - w || y > height - h)
        throw InvalidArgument("mandelbrot: the tile must lie inside the image");
    if (maxIter < 1 || maxIter > 1'000'000)
        throw InvalidArgument("mandelbrot: max_iter must be between 1 and 1000000");
    if (w * h > (qint64(1) << 28))
        throw InvalidArgument("mandelbrot: the tile is larger than 2^28 pixels");
    Checkpointer cp(ctx, Gil::Interpreted);
    QByteArray pixels(w * h, Qt::Uninitialized);
    auto* out = reinterpret_cast<quint8*>(pixels.data());
    for (qint64 row = 0; row < h; ++row) {
        ctx.throwIfStopRequested();
        ctx.setProgress(row, h);
        const double ci = -1.2 + 2.4 * (double(y + row) + 0.5) / double(height);
        for (qint64 col = 0; col < w; ++col) {
            const double cr = -2.2 + 3.0 * (double(x + col) + 0.5) / double(width);
            double zr = 0, zi = 0;
            qint64 n = 0;
            while (n < maxIter) {
                const double zr2 = zr * zr, zi2 = zi * zi;
                if (zr2 + zi2 > 4.0)
                    break;
                zi = 2.0 * zr * zi + ci;
                zr = zr2 - zi2 + cr;
                ++n;
                cp.tick();
            }
            *out++ = n >= maxIter ? 255 : quint8(std::min<qint64>(n, 254));
        }
    }
    ctx.setProgress(h, h);
    QCborMap m;
    m.insert(QStringLiteral("x"), x);
    m.insert(QStringLiteral("y"), y);
    m.insert(QStringLiteral("w"), w);
    m.insert(QStringLiteral("h"), h);
    m.insert(QStringLiteral("width"), width);
    m.insert(QStringLiteral("height"), height);
    m.insert(QStringLiteral("max_iter"), maxIter);
    m.insert(QStringLiteral("iterations"), pixels);
    return m;
}

// ------------------------------------------------------------------- matmul

/// C = A * B for n x n matrices of small integers, A[i][k] = (7i + 13k + seed)
/// mod 101, B[k][j] = (11k + 5j + 3 seed) mod 103; returns the checksum
/// sum over i, j of (i+1)(j+1) C[i][j], wrapping modulo 2^64 (as a signed
/// 64-bit integer). Integers keep the result exact on every machine.
qint64 matmulKernel(TaskContext& ctx, qint64 n, qint64 seed, Gil mode)
{
    if (n < 1 || n > 2048)
        throw InvalidArgument("matmul: n must be between 1 and 2048, got " + std::to_string(n));
    const auto N = std::size_t(n);
    const auto s = quint64(seed);
    std::vector<quint64> a(N * N), b(N * N), c(N * N, 0);
    for (std::size_t i = 0; i < N; ++i)
        for (std::size_t k = 0; k < N; ++k) {
            a[i * N + k] = (7 * quint64(i) + 13 * quint64(k) + s) % 101;
            b[i * N + k] = (11 * quint64(i) + 5 * quint64(k) + 3 * s) % 103;
        }
    Checkpointer cp(ctx, mode);
    for (std::size_t i = 0; i < N; ++i) {
        ctx.throwIfStopRequested();
        ctx.setProgress(qint64(i), n);
        quint64* crow = &c[i * N];
        for (std::size_t k = 0; k < N; ++k) {
            const quint64 aik = a[i * N + k];
            const quint64* brow = &b[k * N];
            for (std::size_t j = 0; j < N; ++j)
                crow[j] += aik * brow[j];
            cp.tick(quint32(std::min<std::size_t>(N, 256)));
        }
    }
    quint64 sum = 0;
    for (std::size_t i = 0; i < N; ++i)
        for (std::size_t j = 0; j < N; ++j)
            sum += quint64(i + 1) * quint64(j + 1) * c[i * N + j];
    ctx.setProgress(n, n);
    return qint64(sum);
}

qint64 matmul(TaskContext& ctx, qint64 n, qint64 seed)
{
    return matmulKernel(ctx, n, seed, Gil::Interpreted);
}

qint64 matmulNative(TaskContext& ctx, qint64 n, qint64 seed)
{
    TaskContext::GilRelease nogil(ctx);
    return matmulKernel(ctx, n, seed, Gil::Native);
}

// ------------------------------------------------------------ montecarlo_pi

/// Throws `samples` darts at the unit square with std::mt19937_64(seed):
/// x = (rng() >> 11) * 2^-53, then y the same way; returns how many landed in
/// the quarter disc x^2 + y^2 <= 1 (pi ~= 4 * hits / samples).
qint64 montecarloPi(TaskContext& ctx, qint64 samples, qint64 seed)
{
    if (samples < 0)
        throw InvalidArgument("montecarlo_pi: samples must not be negative");
    std::mt19937_64 rng(static_cast<std::mt19937_64::result_type>(seed));
    Checkpointer cp(ctx, Gil::Interpreted);
    constexpr double kScale = 1.0 / double(quint64(1) << 53);
    qint64 hits = 0;
    for (qint64 i = 0; i < samples; ++i) {
        if ((i & 0xffff) == 0) {
            ctx.throwIfStopRequested();
            ctx.setProgress(i, samples);
        }
        const double px = double(rng() >> 11) * kScale;
        const double py = double(rng() >> 11) * kScale;
        hits += (px * px + py * py <= 1.0) ? 1 : 0;
        cp.tick();
    }
    ctx.setProgress(samples, samples);
    return hits;
}

// --------------------------------------------------------------------- hash

/// FNV-1a (64-bit) over `bytes` bytes of the SplitMix64 stream seeded with
/// `seed` (see fillStream); returns 16 lower-case hex digits.
QString hashKernel(TaskContext& ctx, qint64 bytes, qint64 seed, Gil mode)
{
    if (bytes < 0)
        throw InvalidArgument("hash: bytes must not be negative");
    constexpr qint64 kChunk = 64 * 1024; // a multiple of 8: the stream stays aligned
    QByteArray buf(kChunk, Qt::Uninitialized);
    quint64 state = quint64(seed);
    quint64 h = 0xcbf29ce484222325ULL;
    Checkpointer cp(ctx, mode);
    for (qint64 done = 0; done < bytes;) {
        ctx.throwIfStopRequested();
        ctx.setProgress(done, bytes);
        const qint64 n = std::min(kChunk, bytes - done);
        fillStream(state, buf.data(), n);
        const auto* p = reinterpret_cast<const quint8*>(buf.constData());
        for (qint64 i = 0; i < n; ++i) {
            h = (h ^ p[i]) * 0x100000001b3ULL;
            cp.tick();
        }
        done += n;
    }
    ctx.setProgress(bytes, bytes);
    return QStringLiteral("%1").arg(h, 16, 16, QLatin1Char('0'));
}

QString hash(TaskContext& ctx, qint64 bytes, qint64 seed)
{
    return hashKernel(ctx, bytes, seed, Gil::Interpreted);
}

QString hashNative(TaskContext& ctx, qint64 bytes, qint64 seed)
{
    // CPython's hashlib drops the GIL while it hashes large buffers.
    TaskContext::GilRelease nogil(ctx);
    return hashKernel(ctx, bytes, seed, Gil::Native);
}

} // namespace

void registerCpuTasks(TaskRegistry& r)
{
    auto add = [&r](TaskInfo info, const char* description, QStringList argNames) {
        info.description = QString::fromUtf8(description);
        info.argNames = std::move(argNames);
        r.add(std::move(info));
    };
    const QString lo = QStringLiteral("lo"), hi = QStringLiteral("hi"), n = QStringLiteral("n"),
                  seed = QStringLiteral("seed"), bytes = QStringLiteral("bytes");
    add(detail::makeTaskInfo(QStringLiteral("primes"), &primes),
        "Count primes in [lo, hi) by trial division, holding the GIL like pure Python "
        "(CPU-bound)",
        {lo, hi});
    add(detail::makeTaskInfo(QStringLiteral("primes_native"), &primesNative),
        "Count primes in [lo, hi) in a \"native\" kernel that releases the GIL (CPU-bound)",
        {lo, hi});
    add(detail::makeTaskInfo(QStringLiteral("mandelbrot"), &mandelbrot),
        "Render the tile (x, y, w, h) of a width x height Mandelbrot image; returns {x, y, w, "
        "h, width, height, max_iter, iterations: one byte per pixel}",
        {QStringLiteral("x"), QStringLiteral("y"), QStringLiteral("w"), QStringLiteral("h"),
         QStringLiteral("width"), QStringLiteral("height"), QStringLiteral("max_iter")});
    add(detail::makeTaskInfo(QStringLiteral("matmul"), &matmul),
        "Multiply two deterministic n x n integer matrices, holding the GIL; returns a checksum",
        {n, seed});
    add(detail::makeTaskInfo(QStringLiteral("matmul_native"), &matmulNative),
        "Multiply two deterministic n x n integer matrices in a \"native\" kernel that releases "
        "the GIL (the NumPy case); returns a checksum",
        {n, seed});
    add(detail::makeTaskInfo(QStringLiteral("montecarlo_pi"), &montecarloPi),
        "Throw samples random darts (mt19937_64 seeded with seed) at the unit square; returns "
        "the hits inside the quarter circle",
        {QStringLiteral("samples"), seed});
    add(detail::makeTaskInfo(QStringLiteral("hash"), &hash),
        "FNV-1a hash of bytes generated bytes, holding the GIL; returns the hex digest",
        {bytes, seed});
    add(detail::makeTaskInfo(QStringLiteral("hash_native"), &hashNative),
        "FNV-1a hash of bytes generated bytes with the GIL released, as hashlib does; returns "
        "the hex digest",
        {bytes, seed});
}

} // namespace poolscope::workloads
