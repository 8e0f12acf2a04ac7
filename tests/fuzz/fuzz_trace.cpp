// libFuzzer target: the trace/replay loader (files people send each other),
// both formats through readTrace(): Chrome JSON and Perfetto protobuf.
#include <poolscope/traceexport.h>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const QByteArrayView bytes(reinterpret_cast<const char*>(data), qsizetype(size));
    QString error;
    // Both readers on every input: the dispatch in readTrace() would keep the
    // fuzzer away from the one the first byte does not select.
    for (const auto& t :
         {poolscope::readChromeTrace(bytes, &error), poolscope::readPerfettoTrace(bytes, &error)}) {
        if (t) { // what loads must serialise again, in both formats
            (void)poolscope::toChromeTrace(*t);
            (void)poolscope::toPerfettoTrace(*t);
        }
    }
    return 0;
}
