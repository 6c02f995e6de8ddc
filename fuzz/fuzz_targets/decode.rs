//! Fuzz the bond event stream decoder: any bytes, fed in any chunk size.
//!
//! Input: the first byte picks the chunk size (0: all at once, else 1..=255 bytes
//! per read), the rest is the stream. Checked:
//! * decode / decode_eof never fail, never panic, and leave nothing buffered;
//! * chunked and one-shot feeding give the same frames and the same counters;
//! * every byte is accounted for (frames, malformed frames, skipped bytes);
//! * every decoded frame re-encodes to its `encoded_len` bytes and decodes back to
//!   itself.

#![no_main]

use bonder_link::codec::{DecodeStats, FrameCodec};
use bonder_link::frame::Frame;
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

fn decode(stream: &[u8], chunk: usize) -> (Vec<Frame>, DecodeStats) {
    let mut codec = FrameCodec::new();
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for c in stream.chunks(chunk.max(1)) {
        buf.extend_from_slice(c);
        while let Some(f) = codec.decode(&mut buf).expect("decode never fails") {
            frames.push(f);
        }
    }
    while let Some(f) = codec.decode_eof(&mut buf).expect("decode_eof never fails") {
        frames.push(f);
    }
    assert!(buf.is_empty(), "decode_eof left {} bytes", buf.len());
    (frames, codec.stats().clone())
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, stream)) = data.split_first() else {
        return;
    };
    let chunk = if first == 0 {
        stream.len()
    } else {
        usize::from(first)
    };
    let (frames, stats) = decode(stream, chunk);
    let (one_shot, one_shot_stats) = decode(stream, stream.len());
    assert_eq!(frames, one_shot, "chunking changed the frames");
    assert_eq!(stats, one_shot_stats, "chunking changed the counters");

    assert_eq!(stats.frames_ok, frames.len() as u64);
    if stats.malformed == 0 {
        let framed: usize = frames.iter().map(Frame::encoded_len).sum();
        assert_eq!(
            framed as u64 + stats.bytes_skipped,
            stream.len() as u64,
            "bytes unaccounted for"
        );
    }

    for f in &frames {
        let bytes = f.to_bytes().expect("a decoded frame re-encodes");
        assert_eq!(bytes.len(), f.encoded_len());
        let mut buf = BytesMut::from(&bytes[..]);
        let mut codec = FrameCodec::new();
        let again = codec.decode(&mut buf).expect("decode never fails");
        assert_eq!(
            again.as_ref(),
            Some(f),
            "re-encoded frame decodes differently"
        );
        assert!(buf.is_empty());
    }
});
