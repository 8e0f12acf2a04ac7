#pragma once
// Amdahl's law for the pool-size sweep: speedup(n) = 1 / (s + (1 - s) / n)
// with s the serial fraction. fitSerialFraction() recovers s from measured
// (workers, speedup) points by least squares on the linearised form
//   1/S - 1/n = s * (1 - 1/n),
// which has a closed-form solution; s is clamped to [0, 1].

#include <QList>

namespace poolscope {

struct SpeedupPoint {
    int workers = 1;
    double speedup = 1.0;
};

double amdahlSpeedup(double serialFraction, double workers);
/// Returns -1 when the points cannot determine s (no point with n > 1).
double fitSerialFraction(const QList<SpeedupPoint>& points);

} // namespace poolscope
