//! Property tests of the frame codec: round trips, recovery from corruption and
//! garbage, chunking independence, seq gap counting.
//!
//! A note on strictness. A one-byte change inside a frame's CRC-protected span (type,
//! len kept, seq, payload, CRC) is always detected by CRC-16. Other damage (a changed
//! `len`, a lost sync, plain garbage) makes the decoder try candidates whose CRC is in
//! effect random, so one in 65536 of them passes: a genuine false frame that no
//! decoder of this wire format could refuse. Where a test's input can contain such
//! candidates, a case in which a frame that was never sent comes out is discarded
//! (`prop_assume!`) rather than failed; everything else is asserted strictly.

// Test helpers outside #[test] fns: panicking on bad test data is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bonder_link::codec::{DecodeStats, FrameCodec};
use bonder_link::frame::{
    AlarmFrame, BondFrame, ChannelFrame, Frame, FrameBody, HEADER_LEN, decode_payload,
};
use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::prelude::*;
use tokio_util::codec::Decoder;

// ---------------------------------------------------------------- strategies

fn arb_bond() -> impl Strategy<Value = BondFrame> {
    (0usize..=4, 0usize..=300)
        .prop_flat_map(|(channels, n)| {
            (
                (any::<u64>(), any::<u32>(), any::<u16>()),
                (any::<u8>(), any::<u8>()),
                (any::<i16>(), any::<i16>(), any::<u16>(), any::<u16>()),
                vec((any::<u8>(), vec(any::<i16>(), n)), channels),
            )
        })
        .prop_map(
            |((time_us, unit_no, wire_no), (bond_kind, ctrl_verdict), (dx, dy, ball, rate), ch)| {
                BondFrame {
                    time_us,
                    unit_no,
                    wire_no,
                    bond_kind,
                    ctrl_verdict,
                    place_dx_0p1um: dx,
                    place_dy_0p1um: dy,
                    ball_diameter_0p1um: ball,
                    sample_rate_per_100: rate,
                    channels: ch
                        .into_iter()
                        .map(|(id, samples)| ChannelFrame { id, samples })
                        .collect(),
                }
            },
        )
}

fn arb_body() -> impl Strategy<Value = FrameBody> {
    prop_oneof![
        any::<u64>().prop_map(|time_us| FrameBody::Heartbeat { time_us }),
        arb_bond().prop_map(FrameBody::Bond),
        (any::<u16>(), any::<bool>(), any::<u64>()).prop_map(|(code, raised, time_us)| {
            FrameBody::Alarm(AlarmFrame {
                code,
                raised,
                time_us,
            })
        }),
        any::<u16>().prop_map(|machine_state| FrameBody::State { machine_state }),
        (5u8..=255, vec(any::<u8>(), 0..=64)).prop_map(|(frame_type, payload)| {
            FrameBody::Unknown {
                frame_type,
                payload: Bytes::from(payload),
            }
        }),
    ]
}

fn arb_frame() -> impl Strategy<Value = Frame> {
    (any::<u32>(), arb_body()).prop_map(|(seq, body)| Frame { seq, body })
}

/// Bytes that often look like the start of a frame.
fn sync_heavy_byte() -> impl Strategy<Value = u8> {
    prop_oneof![4 => any::<u8>(), 1 => Just(0xA5u8), 1 => Just(0x5Au8), 1 => Just(0u8)]
}

/// Bytes that can never start a frame.
fn no_sync_byte() -> impl Strategy<Value = u8> {
    any::<u8>().prop_map(|b| if b == 0xA5 { 0xA4 } else { b })
}

/// Chunk sizes to feed a stream in (cycled).
fn arb_chunks() -> impl Strategy<Value = Vec<usize>> {
    vec(prop_oneof![1usize..=8, 1usize..=300, 1usize..=5000], 1..=16)
}

// ---------------------------------------------------------------- helpers

fn enc(f: &Frame) -> Vec<u8> {
    f.to_bytes().expect("generated frames encode").to_vec()
}

/// Feeds `stream` in chunks of the given sizes (cycled), decoding after each chunk
/// until the decoder wants more, then drains with `decode_eof`.
fn decode_chunked(stream: &[u8], chunks: &[usize]) -> (Vec<Frame>, DecodeStats) {
    let mut codec = FrameCodec::new();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut rest = stream;
    let mut sizes = chunks.iter().copied().cycle();
    while !rest.is_empty() {
        let n = sizes.next().unwrap_or(rest.len()).clamp(1, rest.len());
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        buf.extend_from_slice(chunk);
        while let Some(f) = codec.decode(&mut buf).expect("decode never fails") {
            out.push(f);
        }
    }
    while let Some(f) = codec.decode_eof(&mut buf).expect("decode_eof never fails") {
        out.push(f);
    }
    assert!(buf.is_empty(), "decode_eof leaves nothing behind");
    (out, codec.stats().clone())
}

fn decode_all(stream: &[u8]) -> (Vec<Frame>, DecodeStats) {
    decode_chunked(stream, &[usize::MAX])
}

/// Every byte is in a returned frame, a malformed frame or `bytes_skipped`; without
/// malformed frames that can be checked exactly.
fn check_accounting(stream_len: usize, got: &[Frame], stats: &DecodeStats) {
    assert_eq!(stats.frames_ok, got.len() as u64);
    if stats.malformed == 0 {
        let framed: usize = got.iter().map(Frame::encoded_len).sum();
        assert_eq!(framed as u64 + stats.bytes_skipped, stream_len as u64);
    }
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        max_global_rejects: 4096,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------- properties

proptest! {
    #![proptest_config(config(256))]

    /// Every frame type: encode → decode gives the same frame; re-encode gives the
    /// same bytes; the payload alone decodes to the same body.
    #[test]
    fn round_trip(frame in arb_frame()) {
        let bytes = enc(&frame);
        prop_assert_eq!(bytes.len(), frame.encoded_len());
        let mut codec = FrameCodec::new();
        let mut buf = BytesMut::from(&bytes[..]);
        let got = codec.decode(&mut buf).unwrap();
        prop_assert_eq!(got.as_ref(), Some(&frame));
        prop_assert!(buf.is_empty());
        prop_assert_eq!(enc(got.as_ref().unwrap()), bytes.clone());
        let payload = &bytes[HEADER_LEN..bytes.len() - 2];
        prop_assert_eq!(decode_payload(frame.frame_type(), payload).unwrap(), frame.body.clone());
        prop_assert_eq!(codec.stats(), &DecodeStats { frames_ok: 1, ..DecodeStats::default() });
    }

    /// One byte of the middle of three frames changed to any other value: the first
    /// and third come out exactly, the middle one never.
    #[test]
    fn corrupt_middle_frame(
        f1 in arb_frame(), f2 in arb_frame(), f3 in arb_frame(),
        pos in any::<prop::sample::Index>(), delta in 1u8..=255,
        chunks in arb_chunks(),
    ) {
        prop_assume!(f2 != f1 && f2 != f3);
        let (b1, b2, b3) = (enc(&f1), enc(&f2), enc(&f3));
        let at = b1.len() + pos.index(b2.len());
        let mut stream = [b1, b2.clone(), b3].concat();
        stream[at] ^= delta;

        let (got, stats) = decode_chunked(&stream, &chunks);
        prop_assert!(!got.contains(&f2), "the corrupted frame must never come out");
        prop_assume!(got.iter().all(|f| *f == f1 || *f == f3), "CRC-16 collision: {:?}", got);
        prop_assert_eq!(&got, &vec![f1, f3]);
        prop_assert!(stats.bytes_skipped > 0);
        check_accounting(stream.len(), &got, &stats);
    }

    /// The first frame's sync damaged: the second and third are still read.
    #[test]
    fn corrupt_first_sync(
        f1 in arb_frame(), f2 in arb_frame(), f3 in arb_frame(),
        which in 0usize..2, delta in 1u8..=255, chunks in arb_chunks(),
    ) {
        prop_assume!(f1 != f2 && f1 != f3);
        let mut stream = [enc(&f1), enc(&f2), enc(&f3)].concat();
        stream[which] ^= delta;
        let (got, stats) = decode_chunked(&stream, &chunks);
        prop_assert!(!got.contains(&f1));
        prop_assume!(got.iter().all(|f| *f == f2 || *f == f3), "CRC-16 collision: {:?}", got);
        prop_assert_eq!(&got, &vec![f2, f3]);
        check_accounting(stream.len(), &got, &stats);
    }

    /// Random garbage, fed in random chunks: no panic, no error, nothing left behind,
    /// every byte accounted for.
    #[test]
    fn garbage_never_panics(garbage in vec(sync_heavy_byte(), 0..4096), chunks in arb_chunks()) {
        let (got, stats) = decode_chunked(&garbage, &chunks);
        check_accounting(garbage.len(), &got, &stats);
        // Anything that did come out is a real (CRC-valid) frame and re-encodes.
        for f in &got {
            prop_assert_eq!(f.to_bytes().unwrap().len(), f.encoded_len());
        }
    }

    /// Valid frames between garbage that cannot contain a sync: found exactly, in
    /// order, and exactly the garbage is skipped.
    #[test]
    fn frames_between_plain_garbage(
        parts in vec((vec(no_sync_byte(), 0..600), arb_frame()), 1..=6),
        tail in vec(no_sync_byte(), 0..600),
        chunks in arb_chunks(),
    ) {
        let mut stream = Vec::new();
        let mut garbage = tail.len();
        for (g, f) in &parts {
            garbage += g.len();
            stream.extend_from_slice(g);
            stream.extend_from_slice(&enc(f));
        }
        stream.extend_from_slice(&tail);
        let (got, stats) = decode_chunked(&stream, &chunks);
        let frames: Vec<Frame> = parts.into_iter().map(|(_, f)| f).collect();
        prop_assert_eq!(&got, &frames);
        prop_assert_eq!(stats.bytes_skipped, garbage as u64);
        prop_assert_eq!(stats.bad_crc + stats.bad_length + stats.malformed, 0);
    }

    /// Valid frames between nasty garbage: sync-heavy bytes, truncated frames (whose
    /// `len` claims bytes that belong to the next good frame), frames with a byte
    /// changed. Every good frame is still found, in order.
    #[test]
    fn frames_between_nasty_garbage(
        parts in vec((
            prop_oneof![
                vec(sync_heavy_byte(), 0..300).prop_map(Junk::Bytes),
                (arb_frame(), any::<prop::sample::Index>()).prop_map(|(f, i)| Junk::Truncated(f, i)),
                (arb_frame(), any::<prop::sample::Index>(), 1u8..=255)
                    .prop_map(|(f, i, d)| Junk::Corrupted(f, i, d)),
            ],
            arb_frame(),
        ), 1..=5),
        chunks in arb_chunks(),
    ) {
        let mut stream = Vec::new();
        for (junk, f) in &parts {
            stream.extend_from_slice(&junk.bytes());
            stream.extend_from_slice(&enc(f));
        }
        let frames: Vec<Frame> = parts.into_iter().map(|(_, f)| f).collect();
        let (got, stats) = decode_chunked(&stream, &chunks);
        prop_assume!(got.iter().all(|f| frames.contains(f)), "CRC-16 collision: {:?}", got);
        prop_assert_eq!(&got, &frames);
        check_accounting(stream.len(), &got, &stats);
    }

    /// Splitting the stream anywhere changes nothing: same frames, same counters.
    #[test]
    fn chunking_is_transparent(
        parts in vec((vec(sync_heavy_byte(), 0..200), arb_frame()), 0..=5),
        tail in vec(sync_heavy_byte(), 0..200),
        chunks in arb_chunks(),
    ) {
        let mut stream = Vec::new();
        for (g, f) in &parts {
            stream.extend_from_slice(g);
            stream.extend_from_slice(&enc(f));
        }
        stream.extend_from_slice(&tail);
        let one_shot = decode_all(&stream);
        let chunked = decode_chunked(&stream, &chunks);
        prop_assert_eq!(&chunked, &one_shot);
        let byte_by_byte = decode_chunked(&stream, &[1]);
        prop_assert_eq!(&byte_by_byte, &one_shot);
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// Forward gaps in seq are lost frames; backward jumps are resets, not losses.
    #[test]
    fn seq_gaps_are_counted(
        start in any::<u32>(),
        steps in vec(prop_oneof![
            6 => Just(Step::Next),
            3 => (1u32..5).prop_map(Step::Skip),
            1 => (5u32..=0x7FFF_FFFF).prop_map(Step::Skip),
            1 => (1u32..=0x8000_0000).prop_map(Step::Back),
        ], 0..40),
        last_seq in prop::option::of(any::<u32>()),
    ) {
        let mut seq = start;
        let mut frames = vec![Frame { seq, body: FrameBody::Heartbeat { time_us: 0 } }];
        let (mut lost, mut resets) = (0u64, 0u64);
        if let Some(last) = last_seq {
            // Continuing after a reconnect: the first frame is judged against `last`.
            let d = start.wrapping_sub(last.wrapping_add(1));
            if d < 0x8000_0000 { lost += u64::from(d) } else { resets += 1 }
        }
        for (i, step) in steps.iter().enumerate() {
            let expected = seq.wrapping_add(1);
            seq = match *step {
                Step::Next => expected,
                Step::Skip(g) => { lost += u64::from(g); expected.wrapping_add(g) }
                Step::Back(b) => { resets += 1; expected.wrapping_sub(b) }
            };
            frames.push(Frame { seq, body: FrameBody::Heartbeat { time_us: i as u64 } });
        }
        let stream: Vec<u8> = frames.iter().flat_map(enc).collect();
        let mut codec = FrameCodec::with_last_seq(last_seq);
        let mut buf = BytesMut::from(&stream[..]);
        let mut got = Vec::new();
        while let Some(f) = codec.decode_eof(&mut buf).unwrap() {
            got.push(f);
        }
        prop_assert_eq!(&got, &frames);
        prop_assert_eq!(codec.stats().lost_frames, lost);
        prop_assert_eq!(codec.stats().seq_resets, resets);
        prop_assert_eq!(codec.last_seq(), Some(seq));
    }
}

#[derive(Debug, Clone)]
enum Step {
    Next,
    Skip(u32),
    Back(u32),
}

#[derive(Debug, Clone)]
enum Junk {
    Bytes(Vec<u8>),
    /// A proper prefix of a frame (at least its sync).
    Truncated(Frame, prop::sample::Index),
    /// A frame with one byte changed.
    Corrupted(Frame, prop::sample::Index, u8),
}

impl Junk {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Junk::Bytes(b) => b.clone(),
            Junk::Truncated(f, i) => {
                let b = enc(f);
                let keep = 2 + i.index(b.len() - 2);
                b[..keep].to_vec()
            }
            Junk::Corrupted(f, i, d) => {
                let mut b = enc(f);
                let at = i.index(b.len());
                b[at] ^= d;
                b
            }
        }
    }
}

// ---------------------------------------------------------------- examples

fn hb(seq: u32, time_us: u64) -> Frame {
    Frame {
        seq,
        body: FrameBody::Heartbeat { time_us },
    }
}

#[test]
fn long_len_does_not_swallow_next_frame() {
    // A heartbeat whose len byte was hit, now claiming 0x0108 = 264 bytes, followed
    // by good frames that lie inside those 264 bytes.
    let mut bad = enc(&hb(1, 10));
    bad[4] = 0x01;
    let good: Vec<Frame> = (2..6).map(|s| hb(s, s.into())).collect();
    let mut stream = bad.clone();
    for f in &good {
        stream.extend(enc(f));
    }
    let (got, stats) = decode_all(&stream);
    assert_eq!(got, good);
    // The bad candidate is only judged at end of stream (fewer than 264 + 11 bytes
    // follow): bad_length; its other bytes are skipped.
    assert_eq!(stats.bad_length, 1);
    assert_eq!(stats.bytes_skipped, bad.len() as u64);
    // With enough bytes behind it, the same candidate is a CRC failure instead.
    stream.extend(std::iter::repeat_n(0u8, 300));
    let (got, stats) = decode_all(&stream);
    assert_eq!(got, good);
    assert_eq!((stats.bad_crc, stats.bad_length), (1, 0));
}

#[test]
fn impossible_len_is_bad_length() {
    let mut bad = enc(&hb(1, 10));
    bad[3..5].copy_from_slice(&16385u16.to_le_bytes());
    let stream = [bad, enc(&hb(2, 0))].concat();
    let (got, stats) = decode_all(&stream);
    assert_eq!(got, vec![hb(2, 0)]);
    assert_eq!(stats.bad_length, 1);
    assert_eq!(stats.bad_crc, 0);
    assert_eq!(stats.lost_frames, 0);
}

#[test]
fn malformed_payload_is_dropped_whole() {
    // A CRC-valid bond frame whose payload is one byte short of what n and
    // channels say: counted as malformed, the next frame follows directly, and its
    // seq does not count the malformed frame as lost.
    let bond = Frame {
        seq: 1,
        body: FrameBody::Bond(BondFrame {
            channels: vec![ChannelFrame {
                id: 1,
                samples: vec![1, 2, 3],
            }],
            ..BondFrame::default()
        }),
    };
    let payload = enc(&bond);
    let payload = &payload[HEADER_LEN..payload.len() - 3];
    let raw = Frame {
        seq: 1,
        body: FrameBody::Unknown {
            frame_type: 2,
            payload: Bytes::copy_from_slice(payload),
        },
    };
    let stream = [enc(&hb(0, 0)), enc(&raw), enc(&hb(2, 0))].concat();
    let (got, stats) = decode_all(&stream);
    assert_eq!(got, vec![hb(0, 0), hb(2, 0)]);
    assert_eq!(
        stats,
        DecodeStats {
            frames_ok: 2,
            malformed: 1,
            ..DecodeStats::default()
        }
    );
}

#[test]
fn reconnect_continues_seq() {
    let mut codec = FrameCodec::with_last_seq(Some(u32::MAX - 1));
    let mut buf = BytesMut::from(&[enc(&hb(u32::MAX, 0)), enc(&hb(3, 0))].concat()[..]);
    assert_eq!(codec.decode(&mut buf).unwrap(), Some(hb(u32::MAX, 0)));
    assert_eq!(codec.decode(&mut buf).unwrap(), Some(hb(3, 0)));
    // u32::MAX → 0 is the wrap; 0, 1, 2 are missing.
    assert_eq!(codec.stats().lost_frames, 3);
    assert_eq!(codec.last_seq(), Some(3));
}

#[test]
fn trailing_garbage_and_partial_frames_at_eof() {
    let f = hb(9, 9);
    let full = enc(&f);
    // A partial frame, then a full one, then a lone first sync byte.
    let mut stream = full[..12].to_vec();
    stream.extend(&full);
    stream.push(0xA5);
    let mut codec = FrameCodec::new();
    let mut buf = BytesMut::from(&stream[..]);
    // While the stream is open the partial candidate waits for its bytes...
    let mut got = Vec::new();
    while let Some(f) = codec.decode(&mut buf).unwrap() {
        got.push(f);
    }
    // ...its 12 + 19 + 1 bytes hold 2 + 8 + 2 it wants, so its CRC is judged: bad.
    assert_eq!(codec.stats().bad_crc, 1);
    assert_eq!(got, vec![f.clone()]);
    assert_eq!(&buf[..], &[0xA5]);
    assert_eq!(codec.decode_eof(&mut buf).unwrap(), None);
    assert!(buf.is_empty());
    assert_eq!(codec.stats().bytes_skipped, 13);
}
