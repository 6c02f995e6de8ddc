//! SECS-II items and HSMS frames from arbitrary bytes (see README.md, `secs`).
#![no_main]

use bonder_secs::{Frame, FrameDecoder, Item};
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    // Items: what decodes re-encodes to itself, and SML reads back the same.
    if let Ok(item) = Item::decode(rest) {
        // Compared as bytes: a NaN float is not equal to itself as a value.
        let again = item.encode().expect("a decoded item encodes");
        let back = Item::decode(&again).expect("re-decodes");
        assert_eq!(back.encode().expect("encodes"), again);
        let sml = bonder_secs::sml::item_to_sml(&item);
        if !sml.contains("NaN") {
            assert_eq!(bonder_secs::sml::parse_item(&sml).expect("SML reads back"), item);
        }
    }
    // Frames: fed in chunks of the first byte's size, with a small maximum; never more
    // than a message's maximum (plus one chunk) is buffered.
    let chunk = usize::from(first % 64) + 1;
    let max = 64 + usize::from(first) * 4;
    let mut d = FrameDecoder::new(max);
    let mut buf = BytesMut::new();
    for c in rest.chunks(chunk) {
        buf.extend_from_slice(c);
        loop {
            match d.decode(&mut buf) {
                Ok(Some(Frame::Message { body, .. })) => {
                    assert!(body.len() + 10 <= max);
                    let _ = Item::decode(&body);
                }
                Ok(Some(Frame::TooLong { length, .. })) => assert!(length as usize > max),
                Ok(None) => break,
                Err(_) => return,
            }
        }
        assert!(buf.len() <= max + 4 + chunk);
    }
});
