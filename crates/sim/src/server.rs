//! The simulator's network side: Modbus TCP server, stream listeners and sinks, pty.

use crate::machine::AccessError;
use crate::{Shared, lock};
use bytes::Bytes;
use std::future;
use std::sync::Arc;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_modbus::prelude::{ExceptionCode, Request, Response};
use tokio_modbus::server::tcp::{Server, accept_tcp_connection};

/// One Modbus connection's view of the machine.
struct RegisterService {
    shared: Arc<Shared>,
}

impl tokio_modbus::server::Service for RegisterService {
    type Request = Request<'static>;
    type Response = Response;
    type Exception = ExceptionCode;
    type Future = future::Ready<Result<Response, ExceptionCode>>;

    fn call(&self, req: Self::Request) -> Self::Future {
        let now = self.shared.now_us();
        let mut m = lock(&self.shared.machine);
        let limit = |cnt: u16| {
            if cnt == 0 || cnt > 125 {
                Err(ExceptionCode::IllegalDataValue)
            } else {
                Ok(cnt)
            }
        };
        let map_err = |e: AccessError| match e {
            AccessError::IllegalAddress => ExceptionCode::IllegalDataAddress,
        };
        let r = match req {
            Request::ReadInputRegisters(addr, cnt) => {
                limit(cnt).map(|cnt| Response::ReadInputRegisters(m.read_input(addr, cnt, now)))
            }
            Request::ReadHoldingRegisters(addr, cnt) => {
                limit(cnt).map(|cnt| Response::ReadHoldingRegisters(m.read_holding(addr, cnt)))
            }
            Request::WriteSingleRegister(addr, v) => m
                .write_holding(addr, &[v])
                .map(|()| Response::WriteSingleRegister(addr, v))
                .map_err(map_err),
            Request::WriteMultipleRegisters(addr, values) => m
                .write_holding(addr, &values)
                .map(|()| Response::WriteMultipleRegisters(addr, values.len() as u16))
                .map_err(map_err),
            _ => Err(ExceptionCode::IllegalFunction),
        };
        future::ready(r)
    }
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

pub(crate) async fn serve_modbus(
    listener: TcpListener,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) {
    let server = Server::new(listener);
    let on_connected = |stream, addr| {
        let shared = shared.clone();
        async move {
            tracing::debug!(%addr, "modbus client connected");
            accept_tcp_connection(stream, addr, move |_| {
                Ok(Some(RegisterService {
                    shared: shared.clone(),
                }))
            })
        }
    };
    // Dropping the server on stop also cancels every connection it serves.
    if let Err(e) = server
        .serve_until(
            &on_connected,
            |e| tracing::debug!("modbus connection: {e}"),
            stopped(stop),
        )
        .await
    {
        tracing::error!("modbus server: {e}");
    }
}

pub(crate) async fn serve_stream(
    listener: TcpListener,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) {
    let mut conns = tokio::task::JoinSet::new();
    let mut stop_accept = stop.clone();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((sock, addr)) => {
                    tracing::debug!(%addr, "stream client connected");
                    let _ = sock.set_nodelay(true);
                    let (tx, rx) = mpsc::channel(256);
                    lock(&shared.sinks).push(tx);
                    conns.spawn(write_sink(sock, rx, None::<()>, stop.clone()));
                }
                Err(e) => tracing::warn!("stream accept: {e}"),
            },
            _ = stop_accept.changed() => if *stop_accept.borrow() { break },
        }
    }
    // Writers flush what they have, then close.
    while conns.join_next().await.is_some() {}
}

/// Writes frames to one reader until it goes away or the simulator stops. `keep` is held
/// for as long as the sink lives (the pty's other side).
pub(crate) async fn write_sink<W: AsyncWrite + Unpin, K>(
    mut w: W,
    mut rx: mpsc::Receiver<Bytes>,
    keep: Option<K>,
    mut stop: watch::Receiver<bool>,
) {
    let _keep = keep;
    loop {
        tokio::select! {
            biased;
            m = rx.recv() => match m {
                Some(bytes) => if let Err(e) = w.write_all(&bytes).await {
                    tracing::debug!("stream reader gone: {e}");
                    return;
                },
                None => break,
            },
            _ = stop.changed() => if *stop.borrow() {
                // Send what was queued before the stop, then close.
                rx.close();
                while let Some(bytes) = rx.recv().await {
                    if w.write_all(&bytes).await.is_err() { return; }
                }
                break;
            },
        }
    }
    let _ = w.flush().await;
    let _ = w.shutdown().await;
}

/// Opens a pseudo-terminal pair: (reader's device path, our writing side, the reader's
/// side kept open so writes do not fail before someone opens it).
pub(crate) fn open_pty() -> Result<
    (
        String,
        tokio_serial::SerialStream,
        tokio_serial::SerialStream,
    ),
    String,
> {
    use tokio_serial::SerialPort;
    let (master, slave) = tokio_serial::SerialStream::pair().map_err(|e| e.to_string())?;
    let path = slave
        .name()
        .ok_or_else(|| "pty has no device name".to_string())?;
    Ok((path, master, slave))
}

/// Serves the camera: every client gets the frame stream (docs/spec/camera-protocol.md) at
/// `fps`; a client that falls behind loses frames (never more than two are queued), as a
/// live camera would. Frames are only rendered while somebody watches.
pub(crate) async fn serve_camera(
    listener: TcpListener,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
    fps: f64,
    params: crate::camera::CameraParams,
    seed: u64,
) {
    use rand::SeedableRng;
    let period = std::time::Duration::from_secs_f64(1.0 / fps.clamp(0.1, 1000.0));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut clients: Vec<mpsc::Sender<Bytes>> = Vec::new();
    let mut conns = tokio::task::JoinSet::new();
    let mut stop_accept = stop.clone();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0xca3e_0f00);
    let mut frame_no: u32 = 0;
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((sock, addr)) => {
                    tracing::debug!(%addr, "camera client connected");
                    let _ = sock.set_nodelay(true);
                    let (tx, rx) = mpsc::channel(2);
                    clients.push(tx);
                    conns.spawn(write_sink(sock, rx, None::<()>, stop.clone()));
                }
                Err(e) => tracing::warn!("camera accept: {e}"),
            },
            _ = tick.tick() => {
                clients.retain(|c| !c.is_closed());
                if clients.is_empty() {
                    continue;
                }
                let t_us = shared.now_us();
                let (scene, bond) = {
                    let site = lock(&shared.camera);
                    (site.scene(t_us as f64 / 1e6), site.bond())
                };
                let p = params.clone();
                let mut r = rng.clone();
                let rendered = tokio::task::spawn_blocking(move || {
                    let (frame, _) = crate::camera::render(&scene, &p, &mut r);
                    (frame, r)
                })
                .await;
                let Ok((mut frame, r)) = rendered else { continue };
                rng = r;
                frame.seq = frame_no;
                frame.timestamp_us = t_us;
                frame.bond = bond;
                frame_no = frame_no.wrapping_add(1);
                let mut buf = Vec::new();
                if let Err(e) = frame.encode(&mut buf) {
                    tracing::error!("camera frame: {e}");
                    continue;
                }
                let bytes = Bytes::from(buf);
                for c in &clients {
                    let _ = c.try_send(bytes.clone());
                }
            }
            _ = stop_accept.changed() => if *stop_accept.borrow() { break },
        }
    }
    drop(clients);
    while conns.join_next().await.is_some() {}
}
