//! The controller link through the faults a plant has, made by the fault proxy
//! (`bonder-testkit`) between the station core and the simulator on both channels: a
//! stream cut without FIN (blackhole), a trickling sender, a half-closed stream, a
//! Modbus reset; and a controller that replays frames.
//!
//! The stream's read deadline is the default 3 s: alarm 901 must be up within the
//! deadline + 2 s of the cut, and bonds must flow again through a new connection within
//! 15 s. Times are printed (detection, recovery) for the fault figures.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use bonder_e2e::wait_for;
use bonder_link::StreamEndpoint;
use bonder_link::codec::FrameCodec;
use bonder_link::frame::{Frame, FrameBody};
use bonder_runtime::{RuntimeConfig, Station};
use bonder_testkit::fault_proxy::{Fault, FaultProxy};
use bondersim::{SimConfig, Simulator, WireRate};
use bytes::BytesMut;
use futures::StreamExt;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio_util::codec::FramedRead;

const STREAM_SILENT: u16 = 901;

struct Rig {
    sim: Simulator,
    stream: FaultProxy,
    modbus: FaultProxy,
    station: Station,
}

/// The simulator bonding at 20 wires/s.
async fn sim(seed: u64) -> Simulator {
    Simulator::start(SimConfig {
        wire_rate: WireRate::PerSecond(20.0),
        autostart: true,
        seed,
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

async fn rig() -> Rig {
    let sim = sim(11).await;
    let stream = FaultProxy::start(sim.stream_addr.unwrap()).await.unwrap();
    let modbus = FaultProxy::start(sim.modbus_addr).await.unwrap();
    let mut cfg = RuntimeConfig::new(modbus.addr());
    cfg.stream = Some(StreamEndpoint::Tcp(stream.addr().to_string()));
    let station = Station::start(cfg);
    wait_for(&station, 20, "bonds flowing", |s| s.bonds_received >= 20).await;
    Rig {
        sim,
        stream,
        modbus,
        station,
    }
}

impl Rig {
    async fn stop(self) {
        self.station.shutdown().await;
        self.sim.shutdown().await;
    }
}

/// After a fault at `t0`: alarm 901 up (if `alarm`), then bonds again through a new
/// stream connection and 901 cleared. Prints detection and recovery times.
async fn expect_recovery(rig: &Rig, what: &str, t0: Instant, conns_before: u64, alarm: bool) {
    let deadline = Duration::from_secs(3);
    if alarm {
        wait_for(&rig.station, 5, "alarm 901", |s| {
            s.active_alarms.contains(&STREAM_SILENT)
        })
        .await;
        let detected = t0.elapsed();
        println!("{what}: alarm 901 after {detected:?}");
        assert!(
            detected <= deadline + Duration::from_secs(2),
            "{what}: 901 after {detected:?}"
        );
        assert!(
            detected >= deadline - Duration::from_millis(1100),
            "{what}: 901 already after {detected:?}, before the deadline could pass"
        );
    }
    let bonds = rig.station.snapshot().bonds_received;
    wait_for(&rig.station, 15, "bonds again", |s| {
        s.bonds_received >= bonds + 10 && !s.active_alarms.contains(&STREAM_SILENT)
    })
    .await;
    let recovered = t0.elapsed();
    println!("{what}: bonds recorded again, 901 clear after {recovered:?}");
    assert!(
        recovered <= Duration::from_secs(15),
        "{what}: recovered after {recovered:?}"
    );
    assert!(
        rig.stream.accepted() > conns_before,
        "{what}: recovery came through a new stream connection"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blackholed_stream_raises_901_and_reconnects() {
    let rig = rig().await;
    let mut events = rig.station.subscribe();
    let before = rig.stream.accepted();
    let t0 = Instant::now();
    // The cable of the open connection is cut: nothing arrives, nothing closes.
    rig.stream.set_current(Fault::Blackhole);
    expect_recovery(&rig, "blackhole", t0, before, true).await;
    let s = rig.station.snapshot();
    assert!(s.stream_deadlines >= 1, "{s:?}");
    assert!(s.modbus_connected, "Modbus stayed up: {s:?}");
    // 901 went out as an event both ways (the store and the gateway take it from there).
    let mut seen = Vec::new();
    while let Ok(ev) = events.try_recv() {
        if let bonder_runtime::StationEvent::Alarm {
            code: 901, raised, ..
        } = ev
        {
            seen.push(raised);
        }
    }
    assert_eq!(seen, [true, false], "901 raised once, cleared once");
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_blackholed_for_long_keeps_901_until_frames_flow() {
    let rig = rig().await;
    let before = rig.stream.accepted();
    // Every connection, new ones too: the station keeps reopening, 901 stays up.
    rig.stream.set(Fault::Blackhole);
    wait_for(&rig.station, 6, "alarm 901", |s| {
        s.active_alarms.contains(&STREAM_SILENT)
    })
    .await;
    wait_for(&rig.station, 10, "a second deadline", |s| {
        s.stream_deadlines >= 2
    })
    .await;
    // Reopened after each deadline (100 ms after it).
    bonder_e2e::wait_until("the second reopening", Duration::from_secs(2), || {
        rig.stream.accepted() >= before + 2
    })
    .await;
    assert!(
        rig.station
            .snapshot()
            .active_alarms
            .contains(&STREAM_SILENT)
    );
    let t0 = Instant::now();
    // The cable is back (for the open connection too): frames flow, 901 clears.
    rig.stream.set(Fault::Pass);
    expect_recovery(&rig, "long blackhole, cable back", t0, 0, false).await;
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_stream_is_given_up_and_reopened() {
    let rig = rig().await;
    let before = rig.stream.accepted();
    let t0 = Instant::now();
    // One byte a second: a heartbeat frame (19 bytes) takes 19 s, far past the deadline.
    rig.stream
        .set_current(Fault::Trickle(Duration::from_secs(1)));
    expect_recovery(&rig, "trickle", t0, before, true).await;
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_closed_stream_is_reopened() {
    let rig = rig().await;
    let before = rig.stream.accepted();
    let t0 = Instant::now();
    rig.stream.half_close_all();
    // End of stream is seen at once: no silence long enough for 901.
    expect_recovery(&rig, "half-close", t0, before, false).await;
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_modbus_reconnect_reopens_the_stream() {
    let rig = rig().await;
    let stream_before = rig.stream.accepted();
    let modbus_before = rig.modbus.accepted();
    let reconnects = rig.station.snapshot().reconnects;
    let t0 = Instant::now();
    rig.modbus.reset_all();
    wait_for(&rig.station, 15, "Modbus back", |s| {
        s.reconnects > reconnects && s.modbus_connected
    })
    .await;
    assert!(rig.modbus.accepted() > modbus_before);
    // The stream itself was fine, yet a new Modbus session opens a new stream.
    bonder_e2e::wait_until("a new stream connection", Duration::from_secs(10), || {
        rig.stream.accepted() > stream_before
    })
    .await;
    expect_recovery(&rig, "Modbus reset", t0, stream_before, false).await;
    rig.stop().await;
}

/// Frames of a real simulator's stream, as bytes are read: the first bond frame.
async fn one_bond_frame(sim: &Simulator) -> Frame {
    let s = tokio::net::TcpStream::connect(sim.stream_addr.unwrap())
        .await
        .unwrap();
    let mut framed = FramedRead::new(s, FrameCodec::new());
    loop {
        let f = tokio::time::timeout(Duration::from_secs(10), framed.next())
            .await
            .expect("a frame within 10 s")
            .expect("stream open")
            .expect("a good frame");
        if matches!(f.body, FrameBody::Bond(_)) {
            return f;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_frames_are_counted_and_never_recorded_twice() {
    let sim = sim(12).await;
    let bond = one_bond_frame(&sim).await;
    // A controller's stream of our own making: Modbus is the simulator's.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut cfg = RuntimeConfig::new(sim.modbus_addr);
    cfg.stream = Some(StreamEndpoint::Tcp(
        listener.local_addr().unwrap().to_string(),
    ));
    let station = Station::start(cfg);
    let (mut sock, _) = listener.accept().await.unwrap();
    let mut send = async |f: &Frame| {
        let mut buf = BytesMut::new();
        f.encode(&mut buf).unwrap();
        sock.write_all(&buf).await.unwrap();
    };
    let hb = |seq| Frame {
        seq,
        body: FrameBody::Heartbeat { time_us: 1 },
    };
    let with_seq = |seq| Frame {
        seq,
        body: bond.body.clone(),
    };
    send(&hb(100)).await;
    send(&with_seq(101)).await;
    // The same frame again (same seq), an older seq, then the same bond with a new seq.
    send(&with_seq(101)).await;
    send(&hb(90)).await;
    send(&with_seq(102)).await;
    send(&hb(103)).await;
    let s = wait_for(&station, 10, "the frames judged", |s| {
        s.decode.frames_ok >= 6
    })
    .await;
    assert_eq!(s.bonds_received, 1, "one bond recorded: {s:?}");
    assert_eq!(s.frames_replayed, 3, "three replays counted: {s:?}");
    station.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interlock_stops_the_machine_and_refuses_start_until_lifted() {
    use bonder_core::state::{Command, MachineState};
    let rig = rig().await;
    assert_eq!(rig.sim.state(), MachineState::Running);
    rig.station
        .set_interlock(Some("data storage failing (test)".into()));
    bonder_e2e::wait_until("the machine stopped", Duration::from_secs(5), || {
        rig.sim.state() != MachineState::Running
    })
    .await;
    let e = rig.station.command(Command::Start).await.unwrap_err();
    assert!(
        matches!(&e, bonder_runtime::CommandError::Interlocked(w) if w.contains("storage")),
        "{e}"
    );
    assert!(e.to_string().contains("联锁"), "bilingual: {e}");
    assert_eq!(
        rig.station.snapshot().interlock.as_deref(),
        Some("data storage failing (test)")
    );
    // Started at the machine's own panel: stopped again.
    rig.sim.command(Command::Start).unwrap();
    bonder_e2e::wait_until("stopped again", Duration::from_secs(5), || {
        rig.sim.state() != MachineState::Running
    })
    .await;
    rig.station.set_interlock(None);
    rig.station.command(Command::Start).await.unwrap();
    let bonds = rig.station.snapshot().bonds_received;
    wait_for(&rig.station, 10, "bonds after the interlock", |s| {
        s.bonds_received > bonds + 10
    })
    .await;
    assert_eq!(rig.sim.state(), MachineState::Running);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_bytes_are_counted_and_the_stream_goes_on() {
    let rig = rig().await;
    let before = rig.station.snapshot();
    // One flipped byte in 300: most frames keep their CRC, some lose it.
    rig.stream.set(Fault::Corrupt { one_in: 300 });
    wait_for(&rig.station, 10, "bad CRCs counted", |s| {
        s.decode.bad_crc > before.decode.bad_crc + 5
    })
    .await;
    rig.stream.set(Fault::Pass);
    let s = rig.station.snapshot();
    wait_for(&rig.station, 10, "bonds after the corruption", |n| {
        n.bonds_received > s.bonds_received + 20
    })
    .await;
    let (_, _, corrupted) = rig.stream.bytes();
    assert!(corrupted > 0);
    // Bad bytes are skipped, never fatal: the stream is reopened only when its read
    // deadline passes (a starved 2-core CI machine can miss one), never for a bad frame.
    let deadlines = rig.station.snapshot().stream_deadlines - before.stream_deadlines;
    assert_eq!(
        rig.stream.accepted(),
        1 + deadlines,
        "no reconnect but for a read deadline ({deadlines} passed): bad bytes are skipped"
    );
    rig.stop().await;
}
