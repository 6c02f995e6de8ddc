//! The client against a server that sends a garbled header: the documented error, then a
//! reconnect that gets back in step.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bonder_camera::{CameraError, CameraSource, Frame, SimCamera};
use std::io::Write;
use std::net::TcpListener;
use std::time::Duration;

#[test]
fn garbled_header_is_reported_then_the_client_reconnects() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        // First connection: garbage where a header should be.
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(&[0x55; 64]).unwrap();
        // Second: a good frame, then a header whose CRC does not match, then close.
        let (mut s, _) = listener.accept().unwrap();
        let mut f = Frame::new(8, 4);
        f.seq = 41;
        f.pixels
            .iter_mut()
            .enumerate()
            .for_each(|(i, p)| *p = i as u8);
        let mut b = Vec::new();
        f.encode(&mut b).unwrap();
        s.write_all(&b).unwrap();
        let mut bad = b.clone();
        bad[20] ^= 1;
        s.write_all(&bad).unwrap();
        // Third: a good frame, then a clean close.
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(&b).unwrap();
    });
    let mut cam = SimCamera::new(addr).with_read_timeout(Duration::from_secs(5));
    let e = cam.next_frame().unwrap_err();
    assert!(
        matches!(e, CameraError::BadMagic([0x55, 0x55, 0x55, 0x55])),
        "{e}"
    );
    assert!(e.is_protocol());
    assert!(!cam.is_connected());
    let f = cam.next_frame().unwrap();
    assert_eq!((f.width, f.height, f.seq), (8, 4, 41));
    assert_eq!(f.pixels[5], 5);
    let e = cam.next_frame().unwrap_err();
    assert!(matches!(e, CameraError::HeaderCrc { .. }), "{e}");
    let f = cam.next_frame().unwrap();
    assert_eq!(f.seq, 41);
    let e = cam.next_frame().unwrap_err();
    assert!(matches!(e, CameraError::Disconnected), "{e}");
    assert_eq!(cam.reconnects(), 3);
    server.join().unwrap();
    // Nobody listening any more: a connect error, not a hang.
    let e = cam.next_frame().unwrap_err();
    assert!(matches!(e, CameraError::Connect { .. }), "{e}");
}
