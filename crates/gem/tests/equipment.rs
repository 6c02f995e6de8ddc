//! GEM over a real HSMS session (a `bonder-secs` host on loopback) with a station of
//! its own: an in-memory `Equipment` and `GemStore` (the ports; the station's real ones
//! are tested end to end with python secsgem in `crates/station/tests/secs_gem.rs`).
//! These pin the state models and the spool's order quickly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use bonder_core::state::MachineState;
use bonder_gem::{RemoteCommand, StationEvent};
use bonder_secs::{Item, Message};
use support::{Host, Station, equipment, host};

fn unit(n: u32) -> StationEvent {
    StationEvent::UnitCompleted {
        unit: n,
        wires: 8,
        rejects: 0,
    }
}

async fn define_unit_report(h: &Host) {
    let def = Item::list([
        Item::u4(1),
        Item::list([Item::list([Item::u4(7), Item::list([Item::u4(2001)])])]),
    ]);
    assert_eq!(h.ask(Message::request(2, 33, def)).await, Item::binary(0));
    let link = Item::list([
        Item::u4(1),
        Item::list([Item::list([Item::u4(106), Item::list([Item::u4(7)])])]),
    ]);
    assert_eq!(h.ask(Message::request(2, 35, link)).await, Item::binary(0));
    let en = Item::list([Item::boolean(true), Item::list([])]);
    assert_eq!(h.ask(Message::request(2, 37, en)).await, Item::binary(0));
}

fn unit_of(m: &Message) -> u32 {
    let b = m.body.as_ref().unwrap();
    assert_eq!(b.at(1).and_then(Item::as_u32), Some(106));
    b.at(2)
        .and_then(|r| r.at(0))
        .and_then(|r| r.at(1))
        .and_then(|v| v.at(0))
        .and_then(Item::as_u32)
        .unwrap()
}

#[tokio::test]
async fn events_spool_while_the_host_is_away_and_replay_in_order() {
    let st = Station::default();
    let (gem, addr) = equipment(&st).await;
    let mut h = host(addr).await;
    define_unit_report(&h).await;
    // Spooling on; S1F13 retried after 1 s.
    let ec = Item::list([
        Item::list([Item::u4(3003), Item::boolean(true)]),
        Item::list([Item::u4(3001), Item::u2(1)]),
    ]);
    assert_eq!(h.ask(Message::request(2, 15, ec)).await, Item::binary(0));
    gem.notify(unit(1));
    assert_eq!(unit_of(&h.next_unit().await), 1);

    // The host stops answering: T3 → communication lost, the S6F11 spooled, and so is
    // everything after it.
    *h.answer.lock().unwrap() = false;
    gem.notify(unit(2));
    let unanswered = h.next_unit().await;
    assert_eq!(unit_of(&unanswered), 2);
    let mut status = gem.status();
    status.wait_for(|s| s.spool_active).await.unwrap();
    for n in 3..=5 {
        gem.notify(unit(n));
    }
    status.wait_for(|s| s.spool_count >= 5).await.unwrap(); // 111 + units 2..=5

    // Back: S1F13 again, then S6F23 replays oldest first.
    *h.answer.lock().unwrap() = true;
    status
        .wait_for(|s| s.comm == bonder_gem::CommState::Communicating)
        .await
        .unwrap();
    gem.notify(unit(6)); // while the spool is not empty: behind it
    assert_eq!(
        h.ask(Message::request(6, 23, Item::u1(0))).await,
        Item::binary(0)
    );
    let mut units = Vec::new();
    while units.len() < 5 {
        let m = h.next(6).await;
        let ceid = m
            .body
            .as_ref()
            .and_then(|b| b.at(1))
            .and_then(Item::as_u32)
            .unwrap();
        if ceid == 106 {
            units.push(unit_of(&m));
        }
    }
    assert_eq!(units, [2, 3, 4, 5, 6]);
    status
        .wait_for(|s| !s.spool_active && s.spool_count == 0)
        .await
        .unwrap();
    assert_eq!(
        h.ask(Message::request(6, 23, Item::u1(0))).await,
        Item::binary(2),
        "RSDA 2: nothing spooled"
    );
}

#[tokio::test]
async fn control_states_gate_what_the_host_may_do() {
    let st = Station::default();
    st.0.status.lock().unwrap().machine_state = Some(MachineState::Running);
    let (gem, addr) = equipment(&st).await;
    let h = host(addr).await;
    let rcmd =
        |name: &str| Message::request(2, 41, Item::list([Item::ascii(name), Item::list([])]));
    let ack = |i: &Item| i.at(0).and_then(Item::bytes).map(|b| b[0]).unwrap();
    assert_eq!(ack(&h.ask(rcmd("START")).await), 5, "already executing");
    assert_eq!(ack(&h.ask(rcmd("STOP")).await), 0);
    assert_eq!(
        st.0.commands.lock().unwrap().as_slice(),
        [RemoteCommand::Stop]
    );
    // The operator switches to LOCAL: nothing happens on a command.
    gem.set_remote(false, "T3", bonder_core::permissions::Role::Technician)
        .await
        .unwrap();
    assert_eq!(ack(&h.ask(rcmd("START")).await), 2);
    assert_eq!(st.0.commands.lock().unwrap().len(), 1);
    // An operator may not switch; the table says so.
    assert!(
        gem.set_remote(true, "OP1", bonder_core::permissions::Role::Operator)
            .await
            .is_err()
    );
    // Host offline: everything but S1F13/S1F17 aborted (SxF0).
    assert_eq!(
        h.ask(Message::header_only(1, 15, true)).await,
        Item::binary(0)
    );
    let r =
        h.s.request(Message::request(1, 3, Item::list([])))
            .await
            .unwrap();
    assert_eq!((r.stream, r.function), (1, 0), "S1F0 while HOST-OFFLINE");
    assert_eq!(
        h.ask(Message::header_only(1, 17, true)).await,
        Item::binary(0),
        "ONLACK 0"
    );
    assert_eq!(
        h.ask(Message::header_only(1, 17, true)).await,
        Item::binary(2),
        "ONLACK 2"
    );
    let sv = h
        .ask(Message::request(1, 3, Item::list([Item::u4(1002)])))
        .await;
    assert_eq!(sv, Item::list([Item::u1(4)]), "ONLINE-LOCAL");
    // Equipment offline (operator): even S1F17 is aborted.
    gem.set_online(false, "T3", bonder_core::permissions::Role::Technician)
        .await
        .unwrap();
    let r =
        h.s.request(Message::header_only(1, 17, true))
            .await
            .unwrap();
    assert_eq!(r.function, 0);
    assert!(
        st.0.audit
            .lock()
            .unwrap()
            .iter()
            .any(|a| a.object == "gem:control")
    );
}
