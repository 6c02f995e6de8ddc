//! Bond event stream codec throughput: 1000 typical bond frames (4 channels × 300
//! samples, 2442 bytes each), decoded and encoded.
//!
//! `cargo bench -p bonder-link --bench decode` (runs in well under a minute).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use bonder_link::codec::FrameCodec;
use bonder_link::frame::{BondFrame, ChannelFrame, Frame, FrameBody};
use bytes::{Bytes, BytesMut};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tokio_util::codec::Decoder;

const FRAMES: usize = 1000;
const SAMPLES: usize = 300;

/// Tiny deterministic noise source (xorshift), so the bench needs no rand crate.
struct Noise(u64);

impl Noise {
    fn next(&mut self, amplitude: i32) -> i32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let span = u64::try_from(2 * amplitude + 1).unwrap();
        i32::try_from(self.0 % span).unwrap() - amplitude
    }
}

fn sample(v: i32) -> i16 {
    i16::try_from(v.clamp(i32::from(i16::MIN), i32::from(i16::MAX))).unwrap()
}

/// A bond as the controller would send it: US current ramps to ~150 mA, force to
/// ~30 gf, the capillary sinks ~15 µm as the ball deforms, impedance settles.
fn bond(i: usize, noise: &mut Noise) -> Frame {
    let curve = |f: &dyn Fn(i32) -> i32, amplitude: i32, noise: &mut Noise| -> Vec<i16> {
        (0..SAMPLES)
            .map(|t| sample(f(i32::try_from(t).unwrap()) + noise.next(amplitude)))
            .collect()
    };
    let us = curve(&|t| 1500 * t.min(30) / 30, 12, noise);
    let force = curve(&|t| 300 * t.min(15) / 15, 4, noise);
    let z = curve(&|t| -150 * t / 300 - 20 * t.min(20) / 20, 2, noise);
    let imp = curve(&|t| 180 - 60 * t.min(100) / 100, 3, noise);
    let n = u32::try_from(i).unwrap();
    let ball = i % 2 == 0;
    Frame {
        seq: n,
        body: FrameBody::Bond(BondFrame {
            time_us: 1_000_000 + u64::from(n) * 25_000,
            unit_no: n / 32,
            wire_no: u16::try_from((i / 2) % 16 + 1).unwrap(),
            bond_kind: if ball { 1 } else { 2 },
            ctrl_verdict: 0,
            place_dx_0p1um: sample(noise.next(30)),
            place_dy_0p1um: sample(noise.next(30)),
            ball_diameter_0p1um: if ball {
                u16::try_from(480 + noise.next(8)).unwrap()
            } else {
                0
            },
            sample_rate_per_100: 1000,
            channels: vec![
                ChannelFrame { id: 1, samples: us },
                ChannelFrame {
                    id: 2,
                    samples: force,
                },
                ChannelFrame { id: 3, samples: z },
                ChannelFrame {
                    id: 4,
                    samples: imp,
                },
            ],
        }),
    }
}

fn frames() -> Vec<Frame> {
    let mut noise = Noise(0x2545_F491_4F6C_DD1D);
    (0..FRAMES).map(|i| bond(i, &mut noise)).collect()
}

fn encode_all(frames: &[Frame]) -> Bytes {
    let mut buf = BytesMut::new();
    for f in frames {
        f.encode(&mut buf).unwrap();
    }
    buf.freeze()
}

fn decode_all(stream: &mut BytesMut) -> usize {
    let mut codec = FrameCodec::new();
    let mut n = 0;
    while let Some(f) = codec.decode(stream).unwrap() {
        black_box(&f);
        n += 1;
    }
    assert_eq!(codec.stats().frames_ok, FRAMES as u64);
    n
}

fn benches(c: &mut Criterion) {
    let frames = frames();
    let stream = encode_all(&frames);
    assert_eq!(stream.len(), FRAMES * frames[0].encoded_len());
    eprintln!(
        "{FRAMES} bond frames, {} bytes each, {} bytes in all",
        frames[0].encoded_len(),
        stream.len()
    );

    let mut g = c.benchmark_group("decode_frames");
    g.throughput(Throughput::Elements(FRAMES as u64));
    g.bench_function("bond_4x300", |b| {
        b.iter_batched(
            || BytesMut::from(&stream[..]),
            |mut buf| decode_all(&mut buf),
            BatchSize::LargeInput,
        );
    });
    g.finish();

    let mut g = c.benchmark_group("decode_bytes");
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.bench_function("bond_4x300", |b| {
        b.iter_batched(
            || BytesMut::from(&stream[..]),
            |mut buf| decode_all(&mut buf),
            BatchSize::LargeInput,
        );
    });
    // As a FramedRead feeds it: 4 KiB reads, decoding after each.
    g.bench_function("bond_4x300_4k_reads", |b| {
        b.iter(|| {
            let mut codec = FrameCodec::new();
            let mut buf = BytesMut::with_capacity(8192);
            let mut n = 0;
            for chunk in stream.chunks(4096) {
                buf.extend_from_slice(chunk);
                while let Some(f) = codec.decode(&mut buf).unwrap() {
                    black_box(&f);
                    n += 1;
                }
            }
            assert_eq!(n, FRAMES);
        });
    });
    g.finish();

    let mut g = c.benchmark_group("encode_frames");
    g.throughput(Throughput::Elements(FRAMES as u64));
    let mut buf = BytesMut::with_capacity(stream.len());
    g.bench_function("bond_4x300", |b| {
        b.iter(|| {
            buf.clear();
            for f in &frames {
                f.encode(&mut buf).unwrap();
            }
            black_box(buf.len())
        });
    });
    g.finish();
}

criterion_group! {
    name = decode;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(decode);
