//! SECS-II encode and decode throughput (MB/s) on an S6F11-like event report and on a
//! recipe download (S7F3, one large binary item); HSMS frame decoding of a stream of
//! event reports. `cargo bench -p bonder-secs --bench items`.

use bonder_secs::message::encode_frame;
use bonder_secs::{FrameDecoder, Header, Item, Message};
use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

/// An event report with 3 reports of mixed values (a BondRejected-sized S6F11).
fn event_report() -> Item {
    Item::list([
        Item::u4(123_456),
        Item::u4(107),
        Item::list((0..3).map(|r| {
            Item::list([
                Item::u4(r),
                Item::list([
                    Item::u4(98_765),
                    Item::u4(42),
                    Item::ascii("ball_diameter"),
                    Item::f4(31.25),
                    Item::f4(-1.5),
                    Item::f4(0.75),
                ]),
            ])
        })),
    ])
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("secs2");
    for (name, item) in [
        ("s6f11_event_report", event_report()),
        (
            "s7f3_recipe_64k",
            Item::list([
                Item::ascii("SOT23-AU25@9"),
                Item::Binary(vec![b'{'; 64 * 1024]),
            ]),
        ),
    ] {
        let bytes = item.encode().unwrap_or_default();
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function(format!("encode/{name}"), |b| {
            let mut out = Vec::with_capacity(bytes.len());
            b.iter(|| {
                out.clear();
                black_box(&item).encode_into(&mut out).ok();
                black_box(out.len())
            })
        });
        g.bench_function(format!("decode/{name}"), |b| {
            b.iter(|| Item::decode(black_box(&bytes)).ok())
        });
    }
    // 1000 framed event reports in 4 KiB reads.
    let m = Message::request(6, 11, event_report());
    let mut wire = Vec::new();
    for i in 0..1000 {
        wire.extend(encode_frame(&Header::data(0, &m, i), m.body.as_ref()).unwrap_or_default());
    }
    g.throughput(Throughput::Bytes(wire.len() as u64));
    g.bench_function("hsms_frames/1000_event_reports", |b| {
        b.iter(|| {
            let mut d = FrameDecoder::new(16 << 20);
            let mut buf = BytesMut::new();
            let mut n = 0;
            for c in wire.chunks(4096) {
                buf.extend_from_slice(c);
                while let Ok(Some(bonder_secs::Frame::Message { body, .. })) = d.decode(&mut buf) {
                    n += usize::from(Item::decode(&body).is_ok());
                }
            }
            black_box(n)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
