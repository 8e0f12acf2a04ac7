// libFuzzer target: the trace/replay loader (files people send each other).
#include <poolscope/traceexport.h>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    QString error;
    const auto t = poolscope::readChromeTrace(
        QByteArrayView(reinterpret_cast<const char*>(data), qsizetype(size)), &error);
    if (t)
        (void)poolscope::toChromeTrace(*t); // what loads must serialise again
    return 0;
}
