#include <poolscope/amdahl.h>

#include <QtTest>

using namespace poolscope;

class TstAmdahl : public QObject {
    Q_OBJECT
private slots:
    void recoversSerialFraction_data()
    {
        QTest::addColumn<double>("serial");
        QTest::addColumn<double>("noise");
        QTest::newRow("perfectly parallel") << 0.0 << 0.0;
        QTest::newRow("10% serial") << 0.10 << 0.0;
        QTest::newRow("50% serial") << 0.50 << 0.0;
        QTest::newRow("all serial") << 1.0 << 0.0;
        QTest::newRow("25% serial, 2% noise") << 0.25 << 0.02;
    }
    void recoversSerialFraction()
    {
        QFETCH(double, serial);
        QFETCH(double, noise);
        QList<SpeedupPoint> pts;
        for (int n = 1; n <= 8; ++n) {
            const double wobble = (n % 2 ? 1.0 : -1.0) * noise;
            pts.append({n, amdahlSpeedup(serial, n) * (1.0 + wobble)});
        }
        const double s = fitSerialFraction(pts);
        QVERIFY2(qAbs(s - serial) < 0.02 + noise, qPrintable(QString::number(s)));
    }
    void speedupFormula()
    {
        QCOMPARE(amdahlSpeedup(0.0, 4), 4.0);
        QCOMPARE(amdahlSpeedup(1.0, 4), 1.0);
        QVERIFY(qAbs(amdahlSpeedup(0.5, 2) - 4.0 / 3.0) < 1e-12);
    }
    void undetermined()
    {
        QCOMPARE(fitSerialFraction({}), -1.0);
        QCOMPARE(fitSerialFraction({{1, 1.0}}), -1.0);
    }
};

QTEST_GUILESS_MAIN(TstAmdahl)
#include "tst_amdahl.moc"
