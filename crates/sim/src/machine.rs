//! The controller's register map and state machine (`controller-link.md` section 1).

use bonder_core::alarm::AlarmCode;
use bonder_core::recipe::{BLOCK_LEN, BlockValues, parse_block};
use bonder_core::state::{Command, CommandRefusal, MachineState};
use bonder_link::block_crc;
use std::collections::VecDeque;

/// `proto_version` (input register 0): 1.0.
pub const PROTO_VERSION: u16 = 0x0100;

/// Something the machine did that the stream must carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MachineEvent {
    State(MachineState),
    Alarm { code: u16, raised: bool },
}

/// Registers and state of the simulated controller.
#[derive(Debug, Clone)]
pub struct Machine {
    pub state: MachineState,
    pub wires_bonded: u32,
    pub bonds_rejected: u32,
    pub alarm: Option<AlarmCode>,
    /// Active recipe block and its parsed values (`None` until one is applied).
    pub active: Option<([u16; BLOCK_LEN], BlockValues)>,
    /// Holding registers 200–215 as last written.
    pub pending_block: [u16; BLOCK_LEN],
    pub heater_temp_c: f64,
    pub forming_gas_l_min: f64,
    pub capillary_touchdowns: u32,
    pub stream_port: u16,
    command: u16,
    command_seq: u16,
    command_ack: u16,
    command_result: u16,
    /// Completion times (µs) of recent wires, for the wire-rate register.
    recent_wires: VecDeque<u64>,
    /// Events for the stream, drained by the stream task.
    pub events: Vec<MachineEvent>,
    /// Test hook: the next apply stores a block that differs from the one written, so
    /// the station's CRC read-back must catch it.
    pub corrupt_next_apply: bool,
}

impl Default for Machine {
    fn default() -> Self {
        Machine {
            state: MachineState::Idle,
            wires_bonded: 0,
            bonds_rejected: 0,
            alarm: None,
            active: None,
            pending_block: [0; BLOCK_LEN],
            heater_temp_c: 25.0,
            forming_gas_l_min: 0.0,
            capillary_touchdowns: 0,
            stream_port: 0,
            command: 0,
            command_seq: 0,
            command_ack: 0,
            command_result: 0,
            recent_wires: VecDeque::new(),
            events: Vec::new(),
            corrupt_next_apply: false,
        }
    }
}

/// Why a register access is refused (a Modbus exception).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessError {
    /// Address not writable or out of the map (exception 02).
    IllegalAddress,
}

impl Machine {
    /// CRC-32 of the active block (0 when none).
    pub fn recipe_crc(&self) -> u32 {
        self.active.as_ref().map_or(0, |(b, _)| block_crc(b))
    }

    /// Smoothed wire rate over the last 10 s, wires per minute.
    pub fn wire_rate(&self, now_us: u64) -> u16 {
        let n = self
            .recent_wires
            .iter()
            .filter(|&&t| now_us.saturating_sub(t) <= 10_000_000)
            .count();
        (n * 6).min(usize::from(u16::MAX)) as u16
    }

    /// Input registers `addr..addr+cnt`.
    pub fn read_input(&self, addr: u16, cnt: u16, now_us: u64) -> Vec<u16> {
        let (crc_hi, crc_lo) = split(self.recipe_crc());
        let (w_hi, w_lo) = split(self.wires_bonded);
        let (r_hi, r_lo) = split(self.bonds_rejected);
        let (t_hi, t_lo) = split(self.capillary_touchdowns);
        (addr..addr.saturating_add(cnt))
            .map(|a| match a {
                0 => PROTO_VERSION,
                1 => self.state.as_u16(),
                2 => w_hi,
                3 => w_lo,
                4 => r_hi,
                5 => r_lo,
                6 => self.alarm.map_or(0, AlarmCode::code),
                7 => self.active.as_ref().map_or(0, |(_, v)| v.slot),
                8 => crc_hi,
                9 => crc_lo,
                10 => ((self.heater_temp_c * 10.0).round() as i16) as u16,
                11 => self.wire_rate(now_us),
                12 => t_hi,
                13 => t_lo,
                14 => (self.forming_gas_l_min * 100.0).round().clamp(0.0, 65535.0) as u16,
                15 => self.stream_port,
                _ => 0,
            })
            .collect()
    }

    /// Holding registers `addr..addr+cnt`.
    pub fn read_holding(&self, addr: u16, cnt: u16) -> Vec<u16> {
        (addr..addr.saturating_add(cnt))
            .map(|a| match a {
                100 => self.command,
                101 => self.command_seq,
                102 => self.command_ack,
                103 => self.command_result,
                200..=215 => self.pending_block[usize::from(a - 200)],
                _ => 0,
            })
            .collect()
    }

    /// Writes holding registers; a write that covers register 100 runs the command
    /// (with the `command_seq` of the same write, or the one already in 101).
    pub fn write_holding(&mut self, addr: u16, values: &[u16]) -> Result<(), AccessError> {
        let end = usize::from(addr) + values.len();
        let writable = |a: usize| a == 100 || a == 101 || (200..=215).contains(&a);
        if values.is_empty() || !(usize::from(addr)..end).all(writable) {
            return Err(AccessError::IllegalAddress);
        }
        let mut run = false;
        for (i, &v) in values.iter().enumerate() {
            match usize::from(addr) + i {
                100 => {
                    self.command = v;
                    run = true;
                }
                101 => self.command_seq = v,
                a => self.pending_block[a - 200] = v,
            }
        }
        if run {
            let result = self.execute(self.command);
            self.command_result = match result {
                Ok(()) => 0,
                Err(e) => e.code(),
            };
            self.command_ack = self.command_seq;
        }
        Ok(())
    }

    fn set_state(&mut self, s: MachineState) {
        if s != self.state {
            self.state = s;
            self.events.push(MachineEvent::State(s));
        }
    }

    /// Raises an alarm; alarms that stop the machine put it in the alarm state.
    pub fn raise_alarm(&mut self, a: AlarmCode) {
        self.events.push(MachineEvent::Alarm {
            code: a.code(),
            raised: true,
        });
        if a.stops_machine() {
            self.alarm = Some(a);
            self.set_state(MachineState::Alarm);
        } else {
            self.events.push(MachineEvent::Alarm {
                code: a.code(),
                raised: false,
            });
        }
    }

    /// Carries out a command code (holding register 100).
    pub fn execute(&mut self, code: u16) -> Result<(), CommandRefusal> {
        let cmd = Command::from_code(code).ok_or(CommandRefusal::Unknown)?;
        let next = self.state.accept(cmd).ok_or(CommandRefusal::WrongState)?;
        match cmd {
            Command::ApplyRecipe => {
                let values =
                    parse_block(&self.pending_block).map_err(|_| CommandRefusal::InvalidRecipe)?;
                let mut block = self.pending_block;
                if std::mem::take(&mut self.corrupt_next_apply) {
                    block[9] ^= 1; // ball_time off by one count: the CRC no longer matches
                }
                self.forming_gas_l_min = values.forming_gas_l_min;
                self.active = Some((block, values));
            }
            Command::Start if self.active.is_none() => return Err(CommandRefusal::WrongState),
            Command::ResetAlarm => {
                if let Some(a) = self.alarm.take() {
                    self.events.push(MachineEvent::Alarm {
                        code: a.code(),
                        raised: false,
                    });
                }
            }
            _ => {}
        }
        self.set_state(next);
        Ok(())
    }

    /// Counts a bonded wire (and its rejected bonds, by the controller's own check).
    pub fn count_wire(&mut self, now_us: u64, rejected_bonds: u32) {
        self.wires_bonded = self.wires_bonded.wrapping_add(1);
        self.bonds_rejected = self.bonds_rejected.wrapping_add(rejected_bonds);
        self.capillary_touchdowns = self.capillary_touchdowns.wrapping_add(2);
        self.recent_wires.push_back(now_us);
        while self
            .recent_wires
            .front()
            .is_some_and(|&t| now_us.saturating_sub(t) > 10_000_000)
        {
            self.recent_wires.pop_front();
        }
    }
}

fn split(v: u32) -> (u16, u16) {
    ((v >> 16) as u16, v as u16)
}
