//! HSMS-SS sessions over real TCP sockets: a raw host (bytes written by hand, read with
//! the frame decoder) against a passive [`Session`], and an active session against a
//! raw listener. Each test waits on the state or the bytes it expects, within a
//! deadline; timers are set short so expiry happens quickly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bonder_secs::message::{encode_frame, reject_reason, select_status};
use bonder_secs::session::{CloseReason, Refusal};
use bonder_secs::{
    Event, Frame, FrameDecoder, Header, HsmsConfig, Item, Message, RequestError, SType, Session,
    Timers,
};
use bytes::BytesMut;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

const WAIT: Duration = Duration::from_secs(5);

fn fast_timers() -> Timers {
    Timers {
        t3: Duration::from_millis(400),
        t5: Duration::from_millis(200),
        t6: Duration::from_millis(300),
        t7: Duration::from_millis(400),
        t8: Duration::from_millis(300),
        linktest: None,
    }
}

async fn equipment(timers: Timers) -> (Session, mpsc::Receiver<Event>, SocketAddr) {
    let mut cfg = HsmsConfig::passive("127.0.0.1:0".parse().unwrap());
    cfg.timers = timers;
    cfg.max_message = 4096;
    let (s, ev) = Session::start(cfg).await.unwrap();
    let addr = s.local_addr().unwrap();
    (s, ev, addr)
}

/// A host that speaks HSMS byte by byte.
struct RawHost {
    stream: TcpStream,
    dec: FrameDecoder,
    buf: BytesMut,
}

impl RawHost {
    async fn connect(addr: SocketAddr) -> RawHost {
        RawHost {
            stream: TcpStream::connect(addr).await.unwrap(),
            dec: FrameDecoder::new(1 << 20),
            buf: BytesMut::new(),
        }
    }

    async fn send(&mut self, header: Header, body: Option<&Item>) {
        self.stream
            .write_all(&encode_frame(&header, body).unwrap())
            .await
            .unwrap();
    }

    async fn data(&mut self, m: &Message, system: u32) {
        self.send(Header::data(0, m, system), m.body.as_ref()).await;
    }

    /// The next frame, or `None` when the equipment closed the connection.
    async fn recv(&mut self) -> Option<(Header, Option<Item>)> {
        timeout(WAIT, async {
            loop {
                if let Some(Frame::Message { header, body }) =
                    self.dec.decode(&mut self.buf).unwrap()
                {
                    let item = (!body.is_empty()).then(|| Item::decode(&body).unwrap());
                    return Some((header, item));
                }
                match self.stream.read_buf(&mut self.buf).await {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => {}
                }
            }
        })
        .await
        .expect("nothing from the equipment within 5 s")
    }

    async fn select(&mut self) {
        self.send(Header::control(SType::SelectReq, 1), None).await;
        let (h, _) = self.recv().await.expect("select answered");
        assert_eq!(h.stype, SType::SelectRsp as u8);
        assert_eq!(h.byte3, select_status::OK);
    }
}

async fn next_event(ev: &mut mpsc::Receiver<Event>) -> Event {
    timeout(WAIT, ev.recv())
        .await
        .expect("an event within 5 s")
        .expect("session alive")
}

async fn until_selected(ev: &mut mpsc::Receiver<Event>) {
    loop {
        if let Event::Selected { .. } = next_event(ev).await {
            return;
        }
    }
}

#[tokio::test]
async fn select_then_data_is_delivered_and_answered() {
    let (s, mut ev, addr) = equipment(fast_timers()).await;
    let mut host = RawHost::connect(addr).await;
    // Data before select: Reject.req, reason "entity not selected".
    host.data(&Message::header_only(1, 1, true), 3).await;
    let (h, _) = host.recv().await.unwrap();
    assert_eq!(
        (h.stype, h.byte3, h.system),
        (SType::RejectReq as u8, reject_reason::NOT_SELECTED, 3)
    );
    host.select().await;
    until_selected(&mut ev).await;
    assert!(s.state().borrow().selected);
    host.data(&Message::request(1, 3, Item::list([Item::u2(1002)])), 77)
        .await;
    let Event::Primary(p) = next_event(&mut ev).await else {
        panic!("a primary")
    };
    assert_eq!(
        (p.message.stream, p.message.function, p.message.w),
        (1, 3, true)
    );
    assert_eq!(
        p.message.body.as_ref().unwrap().at(0).unwrap().as_u32(),
        Some(1002)
    );
    s.reply(&p.token, Message::reply(1, 4, Item::list([Item::u1(4)])));
    let (h, body) = host.recv().await.unwrap();
    assert_eq!(
        (h.stream(), h.function(), h.system, h.w()),
        (1, 4, 77, false)
    );
    assert_eq!(body, Some(Item::list([Item::u1(4)])));
    let recent = s.recent();
    assert_eq!(recent.len(), 2);
    assert_eq!(recent[0].sml, "S1F3 W <L [1] <U2 1002>>");
    assert_eq!(recent[1].sml, "S1F4 <L [1] <U1 4>>");
}

#[tokio::test]
async fn what_the_session_answers_itself() {
    let (_s, mut ev, addr) = equipment(fast_timers()).await;
    let mut host = RawHost::connect(addr).await;
    host.select().await;
    until_selected(&mut ev).await;

    // Wrong device id: S9F1 with the offending header.
    let m = Message::header_only(1, 1, true);
    let wrong = Header::data(9, &m, 11);
    host.send(wrong, None).await;
    let (h, body) = host.recv().await.unwrap();
    assert_eq!((h.stream(), h.function()), (9, 1));
    assert_eq!(body, Some(Item::Binary(wrong.to_bytes().to_vec())));

    // A body that is not SECS-II: S9F7.
    let m = Message::header_only(1, 3, true);
    let h3 = Header::data(0, &m, 12);
    let mut bytes = encode_frame(&h3, None).unwrap();
    bytes[3] += 3;
    bytes.extend([0xB1, 0x09, 0x00]); // a U4 saying 9 bytes, with 1
    host.stream.write_all(&bytes).await.unwrap();
    let (h, body) = host.recv().await.unwrap();
    assert_eq!((h.stream(), h.function()), (9, 7));
    assert_eq!(body, Some(Item::Binary(h3.to_bytes().to_vec())));

    // Over max_message (4096): S9F11, then the stream goes on.
    let big = Message::request(7, 3, Item::Binary(vec![1; 10_000]));
    let hb = Header::data(0, &big, 13);
    host.send(hb, big.body.as_ref()).await;
    let (h, body) = host.recv().await.unwrap();
    assert_eq!((h.stream(), h.function()), (9, 11));
    assert_eq!(body, Some(Item::Binary(hb.to_bytes().to_vec())));

    // Unknown session type: Reject.req reason 1; linktest answered.
    let mut odd = Header::control(SType::LinktestReq, 14);
    odd.stype = 42;
    host.send(odd, None).await;
    let (h, _) = host.recv().await.unwrap();
    assert_eq!(
        (h.stype, h.byte2, h.byte3),
        (
            SType::RejectReq as u8,
            42,
            reject_reason::STYPE_NOT_SUPPORTED
        )
    );
    host.send(Header::control(SType::LinktestReq, 15), None)
        .await;
    let (h, _) = host.recv().await.unwrap();
    assert_eq!((h.stype, h.system), (SType::LinktestRsp as u8, 15));

    // None of those reached the application; the next good primary does.
    host.data(&Message::header_only(1, 1, true), 16).await;
    let Event::Primary(p) = next_event(&mut ev).await else {
        panic!("a primary")
    };
    assert_eq!(p.header.system, 16);
}

#[tokio::test]
async fn t3_expiry_sends_s9f9_and_drops_the_transaction() {
    let (s, mut ev, addr) = equipment(fast_timers()).await;
    let mut host = RawHost::connect(addr).await;
    host.select().await;
    until_selected(&mut ev).await;
    let req = tokio::spawn({
        let s = s.clone();
        async move {
            s.request(Message::request(6, 11, Item::list([Item::u4(1)])))
                .await
        }
    });
    let (h, _) = host.recv().await.unwrap();
    assert_eq!((h.stream(), h.function(), h.w()), (6, 11, true));
    // The host stays silent: S9F9 names our S6F11 and the caller learns of it.
    let (h9, body) = host.recv().await.unwrap();
    assert_eq!((h9.stream(), h9.function()), (9, 9));
    assert_eq!(body, Some(Item::Binary(h.to_bytes().to_vec())));
    assert_eq!(req.await.unwrap(), Err(RequestError::ReplyTimeout));
    // A late reply matches nothing and is dropped; the session stays up.
    host.data(&Message::reply(6, 12, Item::binary(0)), h.system)
        .await;
    host.send(Header::control(SType::LinktestReq, 99), None)
        .await;
    assert_eq!(host.recv().await.unwrap().0.stype, SType::LinktestRsp as u8);
}

#[tokio::test]
async fn replies_are_matched_while_the_application_reads_no_events() {
    let (s, mut ev, addr) = equipment(fast_timers()).await;
    let mut host = RawHost::connect(addr).await;
    host.select().await;
    until_selected(&mut ev).await;
    // 200 primaries the application never reads, then a request of ours.
    for i in 0..200 {
        host.data(&Message::header_only(1, 1, true), 1000 + i).await;
    }
    let req = tokio::spawn({
        let s = s.clone();
        async move { s.request(Message::header_only(1, 1, true)).await }
    });
    let (h, _) = loop {
        let f = host.recv().await.unwrap();
        if f.0.is_data() {
            break f;
        }
    };
    host.data(&Message::reply(1, 2, Item::List(vec![])), h.system)
        .await;
    let reply = timeout(WAIT, req).await.unwrap().unwrap().unwrap();
    assert_eq!((reply.stream, reply.function), (1, 2));
    drop(ev);
}

#[tokio::test]
async fn t7_closes_a_connection_never_selected() {
    let (_s, mut ev, addr) = equipment(fast_timers()).await;
    let mut host = RawHost::connect(addr).await;
    let t0 = Instant::now();
    assert!(host.recv().await.is_none(), "closed without a frame");
    assert!(
        t0.elapsed() >= Duration::from_millis(350),
        "{:?}",
        t0.elapsed()
    );
    loop {
        if let Event::Closed { reason, .. } = next_event(&mut ev).await {
            assert_eq!(reason, CloseReason::T7NotSelected);
            break;
        }
    }
}

#[tokio::test]
async fn t8_closes_a_message_that_stops_mid_way() {
    let (_s, mut ev, addr) = equipment(fast_timers()).await;
    let mut host = RawHost::connect(addr).await;
    host.select().await;
    until_selected(&mut ev).await;
    let m = Message::request(1, 3, Item::list([Item::u4(1)]));
    let bytes = encode_frame(&Header::data(0, &m, 5), m.body.as_ref()).unwrap();
    host.stream.write_all(&bytes[..9]).await.unwrap();
    assert!(host.recv().await.is_none());
    loop {
        if let Event::Closed { reason, .. } = next_event(&mut ev).await {
            assert_eq!(reason, CloseReason::T8InterCharacter);
            break;
        }
    }
}

#[tokio::test]
async fn unanswered_linktest_closes_after_t6_and_the_period_restarts_on_reconnect() {
    let mut t = fast_timers();
    t.linktest = Some(Duration::from_millis(500));
    let (_s, mut ev, addr) = equipment(t).await;
    for round in 0..2 {
        let mut host = RawHost::connect(addr).await;
        host.select().await;
        let selected = Instant::now();
        until_selected(&mut ev).await;
        let (h, _) = host.recv().await.unwrap();
        assert_eq!(h.stype, SType::LinktestReq as u8);
        // The period counts from this connection's select, not from the last one's.
        let after = selected.elapsed();
        assert!(
            after >= Duration::from_millis(450),
            "round {round}: linktest after {after:?}"
        );
        if round == 0 {
            host.send(Header::control(SType::LinktestRsp, h.system), None)
                .await;
            let (h2, _) = host.recv().await.unwrap();
            assert_eq!(h2.stype, SType::LinktestReq as u8);
            // Not answered: closed after T6.
            assert!(host.recv().await.is_none());
            loop {
                if let Event::Closed { reason, .. } = next_event(&mut ev).await {
                    assert_eq!(reason, CloseReason::T6ControlTimeout("linktest"));
                    break;
                }
            }
        }
    }
}

#[tokio::test]
async fn a_second_connection_while_selected_is_refused() {
    let (_s, mut ev, addr) = equipment(fast_timers()).await;
    let mut first = RawHost::connect(addr).await;
    first.select().await;
    until_selected(&mut ev).await;
    let mut second = RawHost::connect(addr).await;
    second
        .send(Header::control(SType::SelectReq, 2), None)
        .await;
    let (h, _) = second.recv().await.unwrap();
    assert_eq!(
        (h.stype, h.byte3),
        (SType::SelectRsp as u8, select_status::ALREADY_ACTIVE)
    );
    assert!(second.recv().await.is_none(), "closed");
    loop {
        if let Event::Refused { why, .. } = next_event(&mut ev).await {
            assert_eq!(why, Refusal::AlreadySelected);
            break;
        }
    }
    // The first is untouched.
    first
        .send(Header::control(SType::LinktestReq, 3), None)
        .await;
    assert_eq!(
        first.recv().await.unwrap().0.stype,
        SType::LinktestRsp as u8
    );
}

#[tokio::test]
async fn a_host_not_allowed_is_closed_before_select() {
    let mut cfg = HsmsConfig::passive("127.0.0.1:0".parse().unwrap());
    cfg.timers = fast_timers();
    cfg.allowed_hosts = vec!["10.9.9.9".parse().unwrap()];
    let (s, mut ev) = Session::start(cfg).await.unwrap();
    let mut host = RawHost::connect(s.local_addr().unwrap()).await;
    host.send(Header::control(SType::SelectReq, 1), None).await;
    assert!(host.recv().await.is_none());
    let Event::Refused { why, .. } = next_event(&mut ev).await else {
        panic!("refused")
    };
    assert_eq!(why, Refusal::NotAllowed);
    assert!(!s.state().borrow().selected);
}

#[tokio::test]
async fn separate_closes_and_a_new_connection_starts_over() {
    let (s, mut ev, addr) = equipment(fast_timers()).await;
    let mut host = RawHost::connect(addr).await;
    host.select().await;
    until_selected(&mut ev).await;
    host.send(Header::control(SType::SeparateReq, 4), None)
        .await;
    loop {
        if let Event::Closed { reason, .. } = next_event(&mut ev).await {
            assert_eq!(reason, CloseReason::Separated);
            break;
        }
    }
    assert_eq!(
        s.request(Message::header_only(1, 1, true)).await,
        Err(RequestError::NotSelected)
    );
    let mut again = RawHost::connect(addr).await;
    again.select().await;
    until_selected(&mut ev).await;
    assert_eq!(s.state().borrow().connections, 2);
}

#[tokio::test]
async fn an_active_session_selects_and_reconnects_after_t5() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut cfg = HsmsConfig::active(listener.local_addr().unwrap());
    cfg.timers = fast_timers();
    let (s, mut ev) = Session::start(cfg).await.unwrap();
    for round in 0..2 {
        let (stream, _) = timeout(WAIT, listener.accept()).await.unwrap().unwrap();
        let mut host = RawHost {
            stream,
            dec: FrameDecoder::new(1 << 20),
            buf: BytesMut::new(),
        };
        let (h, _) = host.recv().await.unwrap();
        assert_eq!(h.stype, SType::SelectReq as u8, "round {round}");
        host.send(Header::control(SType::SelectRsp, h.system), None)
            .await;
        until_selected(&mut ev).await;
        // The equipment's request reaches the host and its reply comes back.
        let req = tokio::spawn({
            let s = s.clone();
            async move { s.request(Message::header_only(1, 1, true)).await }
        });
        let (h, _) = host.recv().await.unwrap();
        host.data(&Message::reply(1, 2, Item::List(vec![])), h.system)
            .await;
        assert_eq!(req.await.unwrap().unwrap().function, 2);
        drop(host); // the host goes away: the session reconnects after T5
    }
}
