//! Property tests: every format round-trips through bytes and through SML; random bytes
//! never panic the item or frame decoders.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bonder_secs::sml::{item_to_sml, parse_item};
use bonder_secs::{FrameDecoder, Item};
use bytes::BytesMut;
use proptest::prelude::*;

fn leaf() -> impl Strategy<Value = Item> {
    let n = 0..8usize;
    prop_oneof![
        prop::collection::vec(any::<u8>(), n.clone()).prop_map(Item::Binary),
        prop::collection::vec(any::<bool>(), n.clone()).prop_map(Item::Boolean),
        prop::collection::vec(any::<u8>(), n.clone()).prop_map(Item::Ascii),
        ".{0,6}".prop_map(Item::ascii),
        prop::collection::vec(any::<u8>(), n.clone()).prop_map(Item::Jis8),
        prop::collection::vec(any::<i8>(), n.clone()).prop_map(Item::I1),
        prop::collection::vec(any::<i16>(), n.clone()).prop_map(Item::I2),
        prop::collection::vec(any::<i32>(), n.clone()).prop_map(Item::I4),
        prop::collection::vec(any::<i64>(), n.clone()).prop_map(Item::I8),
        prop::collection::vec(any::<u8>(), n.clone()).prop_map(Item::U1),
        prop::collection::vec(any::<u16>(), n.clone()).prop_map(Item::U2),
        prop::collection::vec(any::<u32>(), n.clone()).prop_map(Item::U4),
        prop::collection::vec(any::<u64>(), n.clone()).prop_map(Item::U8),
        // Finite floats: NaN is not equal to itself.
        prop::collection::vec(prop::num::f32::NORMAL | prop::num::f32::ZERO, n.clone())
            .prop_map(Item::F4),
        prop::collection::vec(prop::num::f64::NORMAL | prop::num::f64::ZERO, n).prop_map(Item::F8),
    ]
}

fn item() -> impl Strategy<Value = Item> {
    leaf().prop_recursive(4, 64, 6, |inner| {
        prop::collection::vec(inner, 0..6).prop_map(Item::List)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn bytes_round_trip(i in item()) {
        let b = i.encode().unwrap();
        prop_assert_eq!(b.len(), i.encoded_len());
        prop_assert_eq!(Item::decode(&b).unwrap(), i);
    }

    #[test]
    fn sml_round_trip(i in item()) {
        let text = item_to_sml(&i);
        prop_assert_eq!(parse_item(&text).unwrap(), i, "{}", text);
    }

    #[test]
    fn random_bytes_never_panic_the_item_decoder(b in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(i) = Item::decode(&b) {
            // What decodes re-encodes to a valid item of the same meaning (compared as
            // bytes: random bytes make NaN floats, which are not equal to themselves).
            let again = i.encode().unwrap();
            prop_assert_eq!(Item::decode(&again).unwrap().encode().unwrap(), again);
        }
    }

    #[test]
    fn random_bytes_never_panic_the_frame_decoder(
        b in prop::collection::vec(any::<u8>(), 0..2048),
        chunk in 1..64usize,
        max in 10..600usize,
    ) {
        let mut d = FrameDecoder::new(max);
        let mut buf = BytesMut::new();
        'outer: for c in b.chunks(chunk) {
            buf.extend_from_slice(c);
            loop {
                match d.decode(&mut buf) {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(_) => break 'outer,
                }
            }
            // Never more buffered than one message's maximum plus the chunk just read.
            prop_assert!(buf.len() <= max + 4 + chunk);
        }
    }
}

#[test]
fn every_length_byte_count_round_trips_for_every_format() {
    for n in [0usize, 1, 255, 256, 65_535, 65_536, 300_000] {
        let items = [
            Item::Binary(vec![1; n]),
            Item::Ascii(vec![b'a'; n]),
            Item::U1(vec![2; n]),
            Item::U2(vec![3; n / 2]),
            Item::U4(vec![4; n / 4]),
            Item::U8(vec![5; n / 8]),
            Item::I8(vec![-5; n / 8]),
            Item::F8(vec![0.5; n / 8]),
            Item::F4(vec![0.25; n / 4]),
            Item::Boolean(vec![true; n]),
            Item::List(vec![Item::U1(vec![]); n.min(70_000)]),
        ];
        for i in items {
            let b = i.encode().unwrap();
            let head = b[0] & 3;
            let expect = match i.length() {
                0..=0xFF => 1,
                0x100..=0xFFFF => 2,
                _ => 3,
            };
            assert_eq!(head, expect, "{:?} of length {}", i.format(), i.length());
            assert_eq!(Item::decode(&b).unwrap(), i);
        }
    }
}
