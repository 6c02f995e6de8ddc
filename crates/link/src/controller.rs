//! Modbus TCP client of the controller (`controller-link.md` section 1): status poll,
//! commands with seq/ack, recipe block download with CRC read-back.

use bonder_core::recipe::{BLOCK_LEN, BLOCK_START};
use bonder_core::state::{Command, CommandRefusal, MachineState};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::{Instant, sleep, timeout};
use tokio_modbus::client::{Context, Reader, Writer};
use tokio_modbus::prelude::{ExceptionCode, Slave, SlaveContext};

/// Modbus unit id of the controller.
pub const UNIT_ID: u8 = 1;
/// The protocol version this client speaks (major 1).
pub const PROTO_MAJOR: u8 = 1;
/// Input registers read by a status poll (0..16).
pub const STATUS_REGS: u16 = 16;

/// The transport or the protocol failed (the controller may be gone).
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("controller connection failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("controller did not answer within {0:?}")]
    Timeout(Duration),
    #[error("controller answered with Modbus exception {0:?}")]
    Exception(ExceptionCode),
    #[error("controller speaks protocol version {0:#06x}, this station speaks 1.x")]
    ProtoVersion(u16),
    #[error("controller did not acknowledge command seq {seq} within {waited:?}")]
    NoAck { seq: u16, waited: Duration },
    #[error("controller protocol error: {0}")]
    Protocol(String),
}

impl From<tokio_modbus::Error> for LinkError {
    fn from(e: tokio_modbus::Error) -> Self {
        match e {
            tokio_modbus::Error::Transport(io) => LinkError::Io(io),
            other => LinkError::Protocol(other.to_string()),
        }
    }
}

/// Outer: the link failed; inner: the controller answered and said no.
pub type LinkResult<T, F> = Result<Result<T, F>, LinkError>;

/// Why a recipe download did not end with the recipe active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DownloadFault {
    #[error("apply refused: {0}")]
    Refused(CommandRefusal),
    #[error("CRC read-back {actual:#010x} does not match the block sent ({expected:#010x})")]
    CrcMismatch { expected: u32, actual: u32 },
}

/// CRC-32 (IEEE, as zlib's `crc32`) of a recipe block, each register as two big-endian
/// bytes — what the controller reports in input registers 8–9.
pub fn block_crc(block: &[u16; BLOCK_LEN]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    for r in block {
        h.update(&r.to_be_bytes());
    }
    h.finalize()
}

/// Input registers 0–15, decoded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Status {
    pub proto_version: u16,
    /// Raw state register; [`Status::state`] decodes it.
    pub machine_state: u16,
    pub wires_bonded: u32,
    pub bonds_rejected: u32,
    pub alarm_code: u16,
    pub recipe_slot: u16,
    pub recipe_crc: u32,
    pub heater_temp_c: f32,
    pub wire_rate_per_min: u16,
    pub capillary_touchdowns: u32,
    pub forming_gas_l_min: f32,
    pub stream_port: u16,
}

impl Status {
    /// Decodes registers 0..16.
    pub fn from_registers(r: &[u16]) -> Result<Status, LinkError> {
        if r.len() < usize::from(STATUS_REGS) {
            return Err(LinkError::Protocol(format!(
                "status: {} registers, expected 16",
                r.len()
            )));
        }
        let u32_at = |i: usize| (u32::from(r[i]) << 16) | u32::from(r[i + 1]);
        Ok(Status {
            proto_version: r[0],
            machine_state: r[1],
            wires_bonded: u32_at(2),
            bonds_rejected: u32_at(4),
            alarm_code: r[6],
            recipe_slot: r[7],
            recipe_crc: u32_at(8),
            heater_temp_c: f32::from(r[10] as i16) / 10.0,
            wire_rate_per_min: r[11],
            capillary_touchdowns: u32_at(12),
            forming_gas_l_min: f32::from(r[14]) / 100.0,
            stream_port: r[15],
        })
    }

    /// The machine state (`None` for a value this version does not know).
    pub fn state(&self) -> Option<MachineState> {
        MachineState::from_u16(self.machine_state)
    }
}

/// A connected Modbus client of one controller.
pub struct Controller {
    ctx: Context,
    addr: SocketAddr,
    seq: u16,
    io_timeout: Duration,
    ack_timeout: Duration,
}

impl std::fmt::Debug for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller")
            .field("addr", &self.addr)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl Controller {
    /// Connects (TCP keepalive on) and checks the protocol version.
    pub async fn connect(addr: SocketAddr, io_timeout: Duration) -> Result<Controller, LinkError> {
        let socket = crate::net::connect(addr, io_timeout)
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::TimedOut => LinkError::Timeout(io_timeout),
                _ => LinkError::from(e),
            })?;
        let ctx = tokio_modbus::client::tcp::attach_slave(socket, Slave(UNIT_ID));
        let mut c = Controller {
            ctx,
            addr,
            seq: 0,
            io_timeout,
            ack_timeout: Duration::from_secs(3),
        };
        c.ctx.set_slave(Slave(UNIT_ID));
        let st = c.status().await?;
        if (st.proto_version >> 8) as u8 != PROTO_MAJOR {
            return Err(LinkError::ProtoVersion(st.proto_version));
        }
        // Continue from the controller's last acknowledged seq so a new session's first
        // command is never mistaken for an old one.
        let ack = c.read_holding(102, 1).await?;
        c.seq = ack.first().copied().unwrap_or(0);
        Ok(c)
    }

    /// The controller's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    async fn read_holding(&mut self, addr: u16, cnt: u16) -> Result<Vec<u16>, LinkError> {
        let t = self.io_timeout;
        match timeout(t, self.ctx.read_holding_registers(addr, cnt)).await {
            Err(_) => Err(LinkError::Timeout(t)),
            Ok(Err(e)) => Err(e.into()),
            Ok(Ok(Err(exc))) => Err(LinkError::Exception(exc)),
            Ok(Ok(Ok(v))) => Ok(v),
        }
    }

    /// Reads input registers 0–15.
    pub async fn status(&mut self) -> Result<Status, LinkError> {
        let t = self.io_timeout;
        let regs = match timeout(t, self.ctx.read_input_registers(0, STATUS_REGS)).await {
            Err(_) => return Err(LinkError::Timeout(t)),
            Ok(r) => r?.map_err(LinkError::Exception)?,
        };
        Status::from_registers(&regs)
    }

    /// Sends a command (function 16 at 100: command, seq) and waits for its ack.
    pub async fn command(&mut self, cmd: Command) -> LinkResult<(), CommandRefusal> {
        self.seq = self.seq.wrapping_add(1);
        if self.seq == 0 {
            self.seq = 1;
        }
        let seq = self.seq;
        let values = [cmd.code(), seq];
        let t = self.io_timeout;
        match timeout(t, self.ctx.write_multiple_registers(100, &values)).await {
            Err(_) => return Err(LinkError::Timeout(t)),
            Ok(r) => r?.map_err(LinkError::Exception)?,
        }
        let started = Instant::now();
        loop {
            let r = self.read_holding(102, 2).await?;
            if let [ack, result] = r[..] {
                if ack == seq {
                    return Ok(CommandRefusal::from_result(result));
                }
            }
            if started.elapsed() > self.ack_timeout {
                return Err(LinkError::NoAck {
                    seq,
                    waited: self.ack_timeout,
                });
            }
            sleep(Duration::from_millis(5)).await;
        }
    }

    /// Writes the recipe block (registers 200–215), applies it (command 5) and reads
    /// the CRC back. Returns the CRC when it matches the block sent.
    pub async fn download_recipe(
        &mut self,
        block: &[u16; BLOCK_LEN],
    ) -> LinkResult<u32, DownloadFault> {
        let t = self.io_timeout;
        match timeout(t, self.ctx.write_multiple_registers(BLOCK_START, block)).await {
            Err(_) => return Err(LinkError::Timeout(t)),
            Ok(r) => r?.map_err(LinkError::Exception)?,
        }
        if let Err(refusal) = self.command(Command::ApplyRecipe).await? {
            return Ok(Err(DownloadFault::Refused(refusal)));
        }
        let expected = block_crc(block);
        let actual = self.status().await?.recipe_crc;
        Ok(if actual == expected {
            Ok(actual)
        } else {
            Err(DownloadFault::CrcMismatch { expected, actual })
        })
    }

    /// Reads the recipe block registers as last written (not necessarily active).
    pub async fn read_block(&mut self) -> Result<[u16; BLOCK_LEN], LinkError> {
        let r = self.read_holding(BLOCK_START, BLOCK_LEN as u16).await?;
        r.try_into()
            .map_err(|_| LinkError::Protocol("recipe block: wrong register count".into()))
    }
}
