//! Alarm codes of the controller link (`controller-link.md`, alarm table) with their
//! names (as the gateway's `{S}/alarms` carries them), bilingual text and the operator's
//! first action.

use serde::{Deserialize, Serialize};

/// A controller alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AlarmCode {
    Nsop,
    Nsol,
    ShortTail,
    WireBroken,
    EfoOpen,
    HeaterOutOfBand,
    FormingGasLow,
    PrFailure,
    DoorOpen,
    /// The station's own (9xx): no stream frame within the read deadline while the
    /// controller answers Modbus.
    StreamSilent,
    /// The station's own: the store cannot commit (disk full, I/O error) or free space
    /// is under the threshold.
    StorageFailing,
    /// The station's own: the wall clock jumped against the monotonic clock.
    ClockJumped,
    /// The station's own: a badge locked after too many failed sign-ins.
    LoginLocked,
    /// The station's own: the process drifts (drift statistics on the bonds' features
    /// and predicted strength).
    ProcessDrift,
    /// The station's own: the capillary's bonds are forecast to leave the window.
    CapillaryEndOfLife,
    /// The station's own: the yield is forecast to fall below the station's limit.
    YieldForecastLow,
    /// A code this version does not know (kept, shown by number).
    Other(u16),
}

impl AlarmCode {
    /// Every known alarm: the controller's, then the station's own (9xx).
    pub const KNOWN: [AlarmCode; 16] = [
        Self::Nsop,
        Self::Nsol,
        Self::ShortTail,
        Self::WireBroken,
        Self::EfoOpen,
        Self::HeaterOutOfBand,
        Self::FormingGasLow,
        Self::PrFailure,
        Self::DoorOpen,
        Self::StreamSilent,
        Self::StorageFailing,
        Self::ClockJumped,
        Self::LoginLocked,
        Self::ProcessDrift,
        Self::CapillaryEndOfLife,
        Self::YieldForecastLow,
    ];

    /// The alarm for a code; `None` for 0 (no alarm).
    pub fn from_code(code: u16) -> Option<AlarmCode> {
        if code == 0 {
            return None;
        }
        Some(
            Self::KNOWN
                .into_iter()
                .find(|a| a.code() == code)
                .unwrap_or(Self::Other(code)),
        )
    }

    /// The numeric code on the wire.
    pub fn code(self) -> u16 {
        match self {
            Self::Nsop => 101,
            Self::Nsol => 102,
            Self::ShortTail => 103,
            Self::WireBroken => 104,
            Self::EfoOpen => 105,
            Self::HeaterOutOfBand => 201,
            Self::FormingGasLow => 202,
            Self::PrFailure => 301,
            Self::DoorOpen => 401,
            Self::StreamSilent => 901,
            Self::StorageFailing => 902,
            Self::ClockJumped => 904,
            Self::LoginLocked => 905,
            Self::ProcessDrift => 910,
            Self::CapillaryEndOfLife => 911,
            Self::YieldForecastLow => 912,
            Self::Other(c) => c,
        }
    }

    /// Short machine name (`{S}/alarms` `name`, Fluent key stem `alarm-<name>`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Nsop => "nsop",
            Self::Nsol => "nsol",
            Self::ShortTail => "short_tail",
            Self::WireBroken => "wire_broken",
            Self::EfoOpen => "efo_open",
            Self::HeaterOutOfBand => "heater_out_of_band",
            Self::FormingGasLow => "forming_gas_low",
            Self::PrFailure => "pr_failure",
            Self::DoorOpen => "door_open",
            Self::StreamSilent => "stream_silent",
            Self::StorageFailing => "storage_failing",
            Self::ClockJumped => "clock_jumped",
            Self::LoginLocked => "login_locked",
            Self::ProcessDrift => "process_drift",
            Self::CapillaryEndOfLife => "capillary_end_of_life",
            Self::YieldForecastLow => "yield_forecast_low",
            Self::Other(_) => "unknown",
        }
    }

    /// English text.
    pub fn text_en(self) -> &'static str {
        match self {
            Self::Nsop => "Non-stick on pad: the ball bond did not stick",
            Self::Nsol => "Non-stick on lead: the stitch bond did not stick",
            Self::ShortTail => "Short tail: the wire tail broke too short",
            Self::WireBroken => "Wire broken or wire out",
            Self::EfoOpen => "EFO open: no spark, no free air ball",
            Self::HeaterOutOfBand => "Heater temperature out of band",
            Self::FormingGasLow => "Forming gas flow low",
            Self::PrFailure => "PR failure: pattern not found",
            Self::DoorOpen => "Door open / safety",
            Self::StreamSilent => "Bond stream silent",
            Self::StorageFailing => "Data storage failing",
            Self::ClockJumped => "Clock jumped",
            Self::LoginLocked => "Login locked: too many failed sign-ins",
            Self::ProcessDrift => "Process drift",
            Self::CapillaryEndOfLife => "Capillary end of life forecast",
            Self::YieldForecastLow => "Yield forecast below limit",
            Self::Other(_) => "Unknown alarm",
        }
    }

    /// Chinese text.
    pub fn text_zh(self) -> &'static str {
        match self {
            Self::Nsop => "第一焊点未粘上（焊盘未粘）",
            Self::Nsol => "第二焊点未粘上（引线框未粘）",
            Self::ShortTail => "尾丝过短",
            Self::WireBroken => "断线或线材用完",
            Self::EfoOpen => "EFO 开路：无打火，未形成金属球",
            Self::HeaterOutOfBand => "加热温度超出范围",
            Self::FormingGasLow => "保护气体流量过低",
            Self::PrFailure => "图像识别失败：未找到图案",
            Self::DoorOpen => "安全门打开",
            Self::StreamSilent => "焊线数据流中断",
            Self::StorageFailing => "数据存储故障",
            Self::ClockJumped => "时钟跳变",
            Self::LoginLocked => "登录已锁定：登录失败次数过多",
            Self::ProcessDrift => "工艺漂移",
            Self::CapillaryEndOfLife => "预测劈刀寿命将尽",
            Self::YieldForecastLow => "预测良率将低于下限",
            Self::Other(_) => "未知报警",
        }
    }

    /// The operator's first action, in English.
    pub fn action_en(self) -> &'static str {
        match self {
            Self::Nsop => "Check pad contamination and the ball US power; clean the capillary",
            Self::Nsol => "Check lead frame clamping and plating; check stitch force",
            Self::ShortTail => "Check wire clamp and tail length; re-thread if needed",
            Self::WireBroken => "Re-thread the wire or change the spool, then reset",
            Self::EfoOpen => "Check the EFO wand gap and the tail; clean the wand",
            Self::HeaterOutOfBand => "Wait for the heater to settle; check the heater block",
            Self::FormingGasLow => "Check the N2/H2 supply and flow meter",
            Self::PrFailure => "Check lighting and focus; re-teach the pattern",
            Self::DoorOpen => "Close the door, then reset",
            Self::StreamSilent => "Check the controller's stream cable",
            Self::StorageFailing => "Do not produce; call maintenance",
            Self::ClockJumped => "Check the time source (NTP)",
            Self::LoginLocked => "Wait for the lock to end; if it was not you, tell security",
            Self::ProcessDrift => "Open Process health: check the first-ranked cause",
            Self::CapillaryEndOfLife => "Plan a capillary change before the forecast",
            Self::YieldForecastLow => "Call the process engineer with the ranked causes",
            Self::Other(_) => "Call the process engineer",
        }
    }

    /// The operator's first action, in Chinese.
    pub fn action_zh(self) -> &'static str {
        match self {
            Self::Nsop => "检查焊盘污染和第一焊点超声功率；清洁劈刀",
            Self::Nsol => "检查引线框压板和镀层；检查第二焊点压力",
            Self::ShortTail => "检查线夹和尾丝长度；必要时重新穿线",
            Self::WireBroken => "重新穿线或更换线轴，然后复位",
            Self::EfoOpen => "检查打火杆间隙和尾丝；清洁打火杆",
            Self::HeaterOutOfBand => "等待温度稳定；检查加热块",
            Self::FormingGasLow => "检查氮氢气源和流量计",
            Self::PrFailure => "检查光源和焦距；重新示教图案",
            Self::DoorOpen => "关闭安全门，然后复位",
            Self::StreamSilent => "检查控制器数据线",
            Self::StorageFailing => "请勿生产；通知维护人员",
            Self::ClockJumped => "检查时间源（NTP）",
            Self::LoginLocked => "等待锁定结束；如非本人操作，请通知安全人员",
            Self::ProcessDrift => "打开工艺健康页面：检查排名第一的原因",
            Self::CapillaryEndOfLife => "在预测时间前安排更换劈刀",
            Self::YieldForecastLow => "带上原因排名通知工艺工程师",
            Self::Other(_) => "请联系工艺工程师",
        }
    }

    /// Whether this alarm stops the machine (state 3) until reset, rather than being a
    /// per-bond event the machine reports and carries on from.
    pub fn stops_machine(self) -> bool {
        !matches!(
            self,
            Self::Nsop
                | Self::Nsol
                | Self::ShortTail
                | Self::StreamSilent
                | Self::StorageFailing
                | Self::ClockJumped
                | Self::LoginLocked
                | Self::ProcessDrift
                | Self::CapillaryEndOfLife
                | Self::YieldForecastLow
        )
    }
}
