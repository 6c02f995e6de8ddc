//! The spec's test vectors (`docs/spec/controller-link-vectors.json`, the contract's own
//! file): each frame decodes to exactly its fields and re-encodes to exactly its bytes.

// Test helpers outside #[test] fns: panicking on bad test data is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bonder_link::codec::{DecodeStats, FrameCodec};
use bonder_link::frame::{
    AlarmFrame, BondFrame, CRC_LEN, ChannelFrame, Frame, FrameBody, HEADER_LEN, crc16,
    decode_payload,
};
use bytes::BytesMut;
use serde_json::Value;
use tokio_util::codec::{Decoder, Encoder};

const VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../docs/spec/controller-link-vectors.json"
));

fn vectors() -> Value {
    serde_json::from_str(VECTORS).expect("vectors parse")
}

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn u(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing or not unsigned: {v}"))
}

fn i(v: &Value, key: &str) -> i64 {
    v[key]
        .as_i64()
        .unwrap_or_else(|| panic!("{key} missing or not an integer: {v}"))
}

/// The frame a vector's `decoded` object describes, built independently of the codec.
fn expected_frame(d: &Value) -> Frame {
    let seq = u32::try_from(u(d, "seq")).unwrap();
    let body = match u(d, "type") {
        1 => FrameBody::Heartbeat {
            time_us: u(d, "time_us"),
        },
        2 => {
            let n = usize::try_from(u(d, "n")).unwrap();
            let channels: Vec<ChannelFrame> = d["channels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| ChannelFrame {
                    id: u8::try_from(u(c, "id")).unwrap(),
                    samples: c["samples"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|s| i16::try_from(s.as_i64().unwrap()).unwrap())
                        .collect(),
                })
                .collect();
            assert!(channels.iter().all(|c| c.samples.len() == n));
            FrameBody::Bond(BondFrame {
                time_us: u(d, "time_us"),
                unit_no: u32::try_from(u(d, "unit_no")).unwrap(),
                wire_no: u16::try_from(u(d, "wire_no")).unwrap(),
                bond_kind: u8::try_from(u(d, "bond_kind")).unwrap(),
                ctrl_verdict: u8::try_from(u(d, "ctrl_verdict")).unwrap(),
                place_dx_0p1um: i16::try_from(i(d, "place_dx_0p1um")).unwrap(),
                place_dy_0p1um: i16::try_from(i(d, "place_dy_0p1um")).unwrap(),
                ball_diameter_0p1um: u16::try_from(u(d, "ball_diameter_0p1um")).unwrap(),
                sample_rate_per_100: u16::try_from(u(d, "sample_rate_per_100")).unwrap(),
                channels,
            })
        }
        3 => FrameBody::Alarm(AlarmFrame {
            code: u16::try_from(u(d, "code")).unwrap(),
            raised: d["raised"].as_bool().unwrap(),
            time_us: u(d, "time_us"),
        }),
        4 => FrameBody::State {
            machine_state: u16::try_from(u(d, "machine_state")).unwrap(),
        },
        t => panic!("unexpected type {t} in vectors"),
    };
    Frame { seq, body }
}

fn frames() -> Vec<(String, Vec<u8>, Frame)> {
    let v = vectors();
    let list = v["frames"].as_array().unwrap();
    assert_eq!(list.len(), 4, "the spec has 4 frame vectors");
    list.iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_owned(),
                hex(f["frame_hex"].as_str().unwrap()),
                expected_frame(&f["decoded"]),
            )
        })
        .collect()
}

#[test]
fn crc16_check_value() {
    let v = vectors();
    let check = &v["crc16_ccitt_false_check"];
    let input = check["input_ascii"].as_str().unwrap();
    let crc =
        u16::from_str_radix(check["crc"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    assert_eq!(crc, 0x29B1);
    assert_eq!(crc16(input.as_bytes()), crc);
}

#[test]
fn each_vector_decodes_exactly() {
    for (name, bytes, expected) in frames() {
        let mut codec = FrameCodec::new();
        let mut buf = BytesMut::from(&bytes[..]);
        let got = codec.decode(&mut buf).unwrap();
        assert_eq!(got.as_ref(), Some(&expected), "vector {name:?}");
        assert!(buf.is_empty(), "vector {name:?}: whole frame consumed");
        assert_eq!(codec.decode_eof(&mut buf).unwrap(), None);
        assert_eq!(
            codec.stats(),
            &DecodeStats {
                frames_ok: 1,
                ..DecodeStats::default()
            },
            "vector {name:?}"
        );
        assert_eq!(codec.last_seq(), Some(expected.seq));
        assert_eq!(
            expected.frame_type(),
            bytes[2],
            "vector {name:?}: type byte"
        );
    }
}

#[test]
fn each_vector_reencodes_exactly() {
    for (name, bytes, frame) in frames() {
        assert_eq!(frame.encoded_len(), bytes.len(), "vector {name:?}");
        assert_eq!(
            &frame.to_bytes().unwrap()[..],
            &bytes[..],
            "vector {name:?}"
        );
        let mut dst = BytesMut::new();
        FrameCodec::new().encode(&frame, &mut dst).unwrap();
        assert_eq!(&dst[..], &bytes[..], "vector {name:?} via Encoder");
    }
}

#[test]
fn each_vector_header_is_consistent() {
    // The len field matches the payload, and the CRC is little-endian over
    // type..payload (checked independently of the codec).
    for (name, bytes, frame) in frames() {
        let len = usize::from(u16::from_le_bytes([bytes[3], bytes[4]]));
        assert_eq!(len + HEADER_LEN + CRC_LEN, bytes.len(), "vector {name:?}");
        let seq = u32::from_le_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]);
        assert_eq!(seq, frame.seq, "vector {name:?}");
        let crc = u16::from_le_bytes([bytes[len + HEADER_LEN], bytes[len + HEADER_LEN + 1]]);
        assert_eq!(crc16(&bytes[2..HEADER_LEN + len]), crc, "vector {name:?}");
        let payload = &bytes[HEADER_LEN..HEADER_LEN + len];
        assert_eq!(
            decode_payload(bytes[2], payload).unwrap(),
            frame.body,
            "vector {name:?}"
        );
    }
    // The ball bond: 27 fixed bytes + 2 channels × (1 id + 3 × 2 sample bytes) = 41.
    let (_, bond, _) = &frames()[3];
    assert_eq!(u16::from_le_bytes([bond[3], bond[4]]), 27 + 2 * (1 + 2 * 3));
}

#[test]
fn vectors_concatenated_decode_in_order() {
    let all = frames();
    let stream: Vec<u8> = all.iter().flat_map(|(_, b, _)| b.clone()).collect();
    let mut codec = FrameCodec::new();
    let mut buf = BytesMut::from(&stream[..]);
    let mut got = Vec::new();
    while let Some(f) = codec.decode(&mut buf).unwrap() {
        got.push(f);
    }
    while let Some(f) = codec.decode_eof(&mut buf).unwrap() {
        got.push(f);
    }
    let expected: Vec<Frame> = all.into_iter().map(|(_, _, f)| f).collect();
    assert_eq!(got, expected);
    assert_eq!(
        got.iter().map(|f| f.seq).collect::<Vec<_>>(),
        [0, 1, 2, 4_294_967_295]
    );
    // seq 2 → 4294967295: expected 3, d = 4294967295 − 3 = 4294967292 ≥ 2^31, which
    // the rule reads as seq going backwards (a controller restart), not as 4 billion
    // lost frames: one seq reset, no lost frames. (The vectors are separate examples,
    // not one stream; the note's "after the last vector the next seq wraps to 0" is
    // covered by the wrap test below.)
    assert_eq!(
        codec.stats(),
        &DecodeStats {
            frames_ok: 4,
            seq_resets: 1,
            ..DecodeStats::default()
        }
    );
    assert_eq!(codec.last_seq(), Some(u32::MAX));
}

#[test]
fn seq_wraps_after_last_vector() {
    // "After the last vector the next seq wraps to 0": 4294967295 → 0 is no gap.
    let (_, bond, _) = frames().remove(3);
    let next = Frame {
        seq: 0,
        body: FrameBody::Heartbeat { time_us: 1 },
    };
    let mut buf = BytesMut::from(&bond[..]);
    buf.extend_from_slice(&next.to_bytes().unwrap());
    let mut codec = FrameCodec::new();
    assert!(codec.decode(&mut buf).unwrap().is_some());
    assert_eq!(codec.decode(&mut buf).unwrap(), Some(next));
    assert_eq!(codec.stats().lost_frames, 0);
    assert_eq!(codec.stats().seq_resets, 0);
}
