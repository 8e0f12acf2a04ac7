// libFuzzer target: the process pool's frame reader and message decoder,
// fed exactly as a hostile worker could feed the parent.
#include <poolscope/protocol.h>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace poolscope::protocol;
    // Small frame limit so "oversized" paths are reachable quickly.
    FrameReader reader(1 << 20);
    // Feed in two pieces to exercise partial frames.
    const std::size_t half = size / 2;
    reader.feed(QByteArrayView(reinterpret_cast<const char*>(data), qsizetype(half)));
    for (int pass = 0; pass < 2; ++pass) {
        for (;;) {
            QByteArray payload;
            QString error;
            const auto st = reader.next(&payload, &error);
            if (st != FrameReader::Status::Frame)
                break;
            for (bool fromWorker : {true, false}) {
                if (auto m = decode(payload, fromWorker, &error))
                    (void)encode(*m); // a decoded message must re-encode
            }
        }
        if (pass == 0)
            reader.feed(
                QByteArrayView(reinterpret_cast<const char*>(data) + half, qsizetype(size - half)));
    }
    // And the whole input as one payload.
    QString error;
    (void)decode(QByteArrayView(reinterpret_cast<const char*>(data), qsizetype(size)), true,
                 &error);
    return 0;
}
