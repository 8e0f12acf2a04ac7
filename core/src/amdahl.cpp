#include "poolscope/amdahl.h"

#include <algorithm>

namespace poolscope {

double amdahlSpeedup(double s, double n)
{
    if (n <= 0)
        return 0;
    return 1.0 / (s + (1.0 - s) / n);
}

double fitSerialFraction(const QList<SpeedupPoint>& points)
{
    double sxx = 0, sxy = 0;
    for (const auto& p : points) {
        if (p.workers <= 1 || p.speedup <= 0)
            continue;
        const double x = 1.0 - 1.0 / p.workers;
        const double y = 1.0 / p.speedup - 1.0 / p.workers;
        sxx += x * x;
        sxy += x * y;
    }
    if (sxx <= 0)
        return -1;
    return std::clamp(sxy / sxx, 0.0, 1.0);
}

} // namespace poolscope
