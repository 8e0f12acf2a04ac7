// libFuzzer target: the attach codec (docs/attach.md), fed as a hostile
// publisher could feed a viewer and a hostile viewer a publisher.
#include "attachprotocol.h"

#include <poolscope/protocol.h>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace poolscope;
    const QByteArrayView all(reinterpret_cast<const char*>(data), qsizetype(size));
    // As a stream of frames, cut in two pieces (partial frames), with the
    // viewer's limit and the publisher's.
    for (qsizetype limit : {attachproto::kPublisherMaxFrame, attachproto::kViewerMaxFrame}) {
        protocol::FrameReader reader(limit);
        reader.feed(all.first(qsizetype(size / 2)));
        for (int pass = 0; pass < 2; ++pass) {
            for (;;) {
                QByteArray payload;
                QString error;
                if (reader.next(&payload, &error) != protocol::FrameReader::Status::Frame)
                    break;
                // A decoded frame must re-encode to something that decodes.
                if (auto m = attachproto::decodeFromPublisher(payload, &error)) {
                    if (!attachproto::decodeFromPublisher(attachproto::encode(*m), &error))
                        __builtin_trap();
                }
                if (auto m = attachproto::decodeFromViewer(payload, &error)) {
                    if (!attachproto::decodeFromViewer(attachproto::encode(*m), &error))
                        __builtin_trap();
                }
            }
            if (pass == 0)
                reader.feed(all.sliced(qsizetype(size / 2)));
        }
    }
    // And the whole input as one payload.
    QString error;
    (void)attachproto::decodeFromPublisher(all, &error);
    (void)attachproto::decodeFromViewer(all, &error);
    return 0;
}
