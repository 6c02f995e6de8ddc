//! The command line: flags, subcommands, settings from flags and the config file, logs,
//! and [`run`], which the binary calls.

use crate::config::{self, FileConfig};
use crate::{admin, demo, export, wiring};
use anyhow::Context;
use bonder_core::recipe::Recipe;
use bonder_gateway::StationId;
use bonder_link::StreamEndpoint;
use bonder_store::Store;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The operator station of a wire bonder.
#[derive(Debug, Parser)]
#[command(name = "bonder-station", version)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    /// Run without a display: the same core, a status line a second on stdout.
    #[arg(long)]
    headless: bool,
    /// Full screen (panel PCs).
    #[arg(long)]
    fullscreen: bool,
    /// Config file (default: the platform's config dir, bonder-station/station.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Controller Modbus TCP address (or `controller` in the config file). One of it and
    /// --simulate is required.
    #[arg(long)]
    controller: Option<String>,
    /// Run against the built-in simulator instead of a controller: for demos and
    /// training. The gateway's {S}/status then carries "simulated": true, so the plant
    /// never mistakes its production for real.
    #[arg(long, conflicts_with = "controller")]
    simulate: bool,
    /// Bond event stream: tcp://HOST:PORT or serial:///dev/ttyX?baud=921600. Absent: the
    /// TCP port the controller announces.
    #[arg(long)]
    stream: Option<String>,
    /// ISA-95 station id (site/area/line/station), the gateway's topic prefix.
    #[arg(long)]
    station_id: Option<String>,
    /// SQLite file (default: station.sqlite in the platform's data dir).
    #[arg(long)]
    db: Option<PathBuf>,
    /// Gateway broker URL, mqtt://HOST[:PORT] or mqtts://HOST[:PORT]. Absent: an
    /// embedded broker on 127.0.0.1:1883.
    #[arg(long)]
    gateway: Option<String>,
    /// Where the embedded broker listens when no --gateway is given (port 0: a free
    /// port, logged at start).
    #[arg(long, default_value = bonder_gateway::broker::DEFAULT_ADDR)]
    embedded_broker: SocketAddr,
    /// Gateway user name.
    #[arg(long)]
    gateway_user: Option<String>,
    /// File holding the gateway password (first line; mode 0600, else refused). A
    /// password on the command line would be visible to every user in `ps`.
    #[arg(long, value_name = "FILE")]
    gateway_password_file: Option<PathBuf>,
    /// CA certificate (PEM) for mqtts://.
    #[arg(long)]
    gateway_ca: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS.
    #[arg(long)]
    gateway_cert: Option<PathBuf>,
    /// Client key (PEM) for mutual TLS.
    #[arg(long)]
    gateway_key: Option<PathBuf>,
    /// Trust this Ed25519 public key (PEM) for signed gateway commands; repeatable. Its
    /// key id is the file name without extension. Added to the config's `trusted_keys`.
    #[arg(long = "trusted-key", value_name = "FILE")]
    trusted_keys: Vec<PathBuf>,
    /// Also take unsigned version-1 gateway commands (a migration aid, off by default;
    /// logged as a warning at start and on every such command).
    #[arg(long)]
    accept_unsigned: bool,
    /// Recipe document (JSON) to judge against and download.
    #[arg(long)]
    recipe: Option<PathBuf>,
    /// Log filter (`EnvFilter` syntax, e.g. info, debug, `warn,bonder_gateway=debug`).
    /// Default: warn,bonder=info (our crates at info, dependencies at warnings).
    #[arg(long)]
    log: Option<String>,
    /// Stop after this many seconds and print the summary.
    #[arg(long)]
    for_seconds: Option<u64>,
    /// Camera: tcp://HOST:PORT (bondersim's camera), /dev/videoN (built with the `v4l`
    /// feature) or none. Absent: the built-in simulator's camera.
    #[arg(long)]
    camera: Option<String>,
    /// OPC UA listen URL, opc.tcp://HOST:PORT/ (default opc.tcp://127.0.0.1:4840/);
    /// `none` turns the OPC UA server off.
    #[arg(long, value_name = "URL")]
    opcua_listen: Option<String>,
    /// OPC UA PKI directory: own/, private/, trusted/, rejected/ (default
    /// <data dir>/opcua-pki, next to the store).
    #[arg(long, value_name = "DIR")]
    opcua_pki: Option<PathBuf>,
    /// A folder a pull/shear tester exports to: its CSV files are imported (and moved to
    /// imported/ or refused/).
    #[arg(long, value_name = "DIR")]
    pull_tests_dir: Option<PathBuf>,
    /// The yield limit of the process-health forecast (alarm 912), % (default 98).
    #[arg(long, value_name = "PCT")]
    yield_limit_pct: Option<f64>,
    /// SECS/GEM on or off (default on).
    #[arg(long, value_name = "BOOL")]
    gem_enabled: Option<bool>,
    /// HSMS listen address, passive mode (default 127.0.0.1:5000).
    #[arg(long, value_name = "IP:PORT")]
    gem_listen: Option<String>,
    /// HSMS mode: passive (the host connects; default) or active.
    #[arg(long, value_name = "MODE")]
    gem_mode: Option<String>,
    /// The host's HSMS address in active mode.
    #[arg(long, value_name = "IP:PORT")]
    gem_connect: Option<String>,
    /// HSMS device id (default 0).
    #[arg(long)]
    gem_device_id: Option<u16>,
    /// Host IPs allowed to connect, comma-separated (default: any).
    #[arg(long, value_delimiter = ',')]
    gem_allowed_hosts: Option<Vec<String>>,
    /// HSMS reply timeout T3, seconds (default 45).
    #[arg(long)]
    gem_t3: Option<u64>,
    /// HSMS connect separation T5, seconds (default 10).
    #[arg(long)]
    gem_t5: Option<u64>,
    /// HSMS control transaction timeout T6, seconds (default 5).
    #[arg(long)]
    gem_t6: Option<u64>,
    /// HSMS not-selected timeout T7, seconds (default 10).
    #[arg(long)]
    gem_t7: Option<u64>,
    /// HSMS inter-character timeout T8, seconds (default 5).
    #[arg(long)]
    gem_t8: Option<u64>,
    /// HSMS linktest period, seconds (default 60; 0 = off).
    #[arg(long)]
    gem_linktest: Option<u64>,
    /// Largest HSMS message, bytes (default 16 MiB).
    #[arg(long)]
    gem_max_message: Option<usize>,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        action: AuditCmd,
    },
    /// Renders every page in both languages to DIR/<page>-<lang>.png with the software
    /// renderer (no display needed), against a built-in simulator.
    Screenshots {
        #[arg(long)]
        out: PathBuf,
        /// Window size, WIDTHxHEIGHT.
        #[arg(long, default_value = "1280x800")]
        size: String,
        /// Seconds of bonding before the first picture.
        #[arg(long, default_value_t = 4)]
        fill_seconds: u64,
        /// Raise this station alarm (e.g. 902) for the pictures instead of the
        /// controller's wire break.
        #[arg(long)]
        station_alarm: Option<u16>,
        /// A terminal message from the (demo) SECS/GEM host, shown on every page.
        #[arg(long)]
        host_message: Option<String>,
        /// An OPC UA session, USER=CLIENT_URI, to list on the GEM page (repeatable; the
        /// demo runs no OPC UA server, so the pictures show these rows).
        #[arg(long = "opcua-session")]
        opcua_sessions: Vec<String>,
    },
    /// Exports from the store, with headers in the chosen language.
    Export {
        #[command(subcommand)]
        what: ExportCmd,
    },
    /// The station's users (for headless deployments). Secrets (PIN or password) are
    /// read from standard input, one line. Acts as the local administrator
    /// (`cli:<os user>`), audited.
    Users {
        #[command(subcommand)]
        action: UsersCmd,
    },
    /// The OPC UA server's trust list.
    Opcua {
        #[command(subcommand)]
        action: OpcuaCmd,
    },
    /// Takes data in: `import tests FILE` (a pull/shear tester's CSV export). The
    /// person's badge and PIN are read from standard input, one line each; the sign-in
    /// and the import are audited.
    Import {
        #[command(subcommand)]
        what: ImportCmd,
    },
    /// The predicted-strength models: `strength fit` fits shear and pull on the stored
    /// test results now (a new version each), and prints them with their 5-fold
    /// cross-validated R² and MAE as JSON.
    Strength {
        #[command(subcommand)]
        what: StrengthCmd,
    },
    /// A process-window search on the machine (engineers only, machine in setup): test
    /// units with candidate parameters, then the estimated window as a draft recipe
    /// version; the previous recipe goes back on the machine. The engineer's badge and
    /// PIN are read from standard input, one line each. Run the same command again to
    /// resume an interrupted session; `--abandon` ends it and restores the recipe.
    WindowSearch {
        /// The controller's Modbus TCP address.
        #[arg(long)]
        controller: SocketAddr,
        /// The bond stream (default: the port the controller announces).
        #[arg(long, value_name = "URL")]
        stream: Option<String>,
        /// Store file (default: the configured one).
        #[arg(long)]
        db: Option<PathBuf>,
        /// The parameters to vary (document keys; `.` or `_`).
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "ball_us_power_pct,ball_force_gf,ball_time_ms,heater_temp_c"
        )]
        params: Vec<String>,
        /// Bounds of a parameter, PARAM=LO:HI (repeatable or comma-separated; default:
        /// half to 2.5 × the starting value, temperatures −50/+80 °C, inside the recipe
        /// ranges).
        #[arg(long, value_delimiter = ',')]
        bounds: Vec<String>,
        /// Test units the search may use.
        #[arg(long, default_value_t = 200)]
        budget_units: u32,
        /// Units bonded per candidate.
        #[arg(long, default_value_t = 4)]
        units_per_run: u32,
        /// `bo` (Bayesian optimisation) or `ccd` (central composite design).
        #[arg(long, default_value = "bo")]
        method: String,
        /// The wire, MATERIAL:DIAMETER_UM (`Au:25.4`); the start is the newest released
        /// library recipe for it, else the built-in one.
        #[arg(long)]
        material: Option<String>,
        /// The bench tester's export folder: its files are imported as they come in and
        /// give the runs' pull and shear (else the predicted strength is used).
        #[arg(long, value_name = "DIR")]
        tests: Option<PathBuf>,
        /// Seed of the initial design.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Ends the open session: the previous recipe back (CRC checked), no draft.
        #[arg(long)]
        abandon: bool,
        /// Why it is abandoned (audited).
        #[arg(long, default_value = "abandoned from the command line")]
        reason: String,
        /// Prints the result as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Copies the store to a file while the station runs (SQLite online backup).
    Backup {
        /// Store file (default: the configured one).
        #[arg(long)]
        db: Option<PathBuf>,
        /// Backup file to write.
        #[arg(long)]
        to: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum StrengthCmd {
    /// Fits now.
    Fit {
        /// Store file (default: the configured one).
        #[arg(long)]
        db: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportCmd {
    /// A pull/shear tester's export (docs/pull-tester-csv.md): every row or nothing.
    Tests {
        /// Store file (default: the configured one).
        #[arg(long)]
        db: Option<PathBuf>,
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum OpcuaCmd {
    /// Trusts a client certificate (DER or PEM): copied into trusted/, removed from
    /// rejected/. Audited as the local administrator.
    Trust {
        /// PKI directory (default: the configured one).
        #[arg(long, value_name = "DIR")]
        opcua_pki: Option<PathBuf>,
        #[arg(long)]
        db: Option<PathBuf>,
        /// The certificate file (e.g. one from rejected/).
        file: PathBuf,
    },
    /// Lists the trusted and the rejected client certificates.
    List {
        #[arg(long, value_name = "DIR")]
        opcua_pki: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ExportCmd {
    /// Bond records (seq range) to CSV.
    Bonds {
        #[arg(long)]
        db: Option<PathBuf>,
        /// First seq (default 1).
        #[arg(long, default_value_t = 1)]
        from: u64,
        /// Last seq (default: the newest).
        #[arg(long)]
        to: Option<u64>,
        /// en-US or zh-CN.
        #[arg(long, default_value = "en-US")]
        lang: String,
        /// Output file (.csv).
        #[arg(long)]
        out: PathBuf,
    },
    /// A shift report to CSV or XLSX (by the output's extension).
    Shift {
        #[arg(long)]
        db: Option<PathBuf>,
        /// Shift id (default: the newest).
        #[arg(long)]
        id: Option<i64>,
        /// en-US or zh-CN.
        #[arg(long, default_value = "en-US")]
        lang: String,
        /// Output file (.csv or .xlsx).
        #[arg(long)]
        out: PathBuf,
    },
    /// The changeover report (per step median and p90 minutes, slowest first) to CSV.
    Changeovers {
        #[arg(long)]
        db: Option<PathBuf>,
        /// Over the last N completed changeovers.
        #[arg(long, default_value_t = 20)]
        last: usize,
        /// en-US or zh-CN.
        #[arg(long, default_value = "en-US")]
        lang: String,
        /// Output file (.csv).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCmd {
    /// Adds a user; the PIN (operator, technician) or password (the others) is read
    /// from standard input. The first user of an empty store must be an admin.
    Add {
        #[arg(long)]
        db: Option<PathBuf>,
        #[arg(long)]
        badge: String,
        #[arg(long)]
        name: String,
        /// operator, technician, engineer, supervisor or admin.
        #[arg(long)]
        role: String,
        /// en-US or zh-CN.
        #[arg(long, default_value = "en-US")]
        lang: String,
    },
    /// Lists the users with their role and state (enabled, disabled, locked).
    List {
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// Disables a user: they cannot sign in anywhere.
    Disable {
        #[arg(long)]
        db: Option<PathBuf>,
        #[arg(long)]
        badge: String,
    },
    /// Enables a disabled user again.
    Enable {
        #[arg(long)]
        db: Option<PathBuf>,
        #[arg(long)]
        badge: String,
    },
    /// Sets a new PIN or password (from standard input) and clears a lock.
    Reset {
        #[arg(long)]
        db: Option<PathBuf>,
        #[arg(long)]
        badge: String,
    },
    /// Gives a user another role.
    Role {
        #[arg(long)]
        db: Option<PathBuf>,
        #[arg(long)]
        badge: String,
        #[arg(long)]
        role: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Checks the hash chain: exit 0 and the row count when intact, non-zero naming the
    /// first broken row otherwise.
    Verify {
        /// Store file (default: the configured one).
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// Writes the audit rows since a time for a plant SIEM: RFC 5424 syslog lines or
    /// CSV, to a file or standard output. The export is itself audited.
    Export {
        /// Store file (default: the configured one).
        #[arg(long)]
        db: Option<PathBuf>,
        /// 2026-12-01 (UTC midnight) or an RFC 3339 time.
        #[arg(long)]
        since: String,
        #[arg(long, value_enum, default_value = "syslog")]
        format: admin::AuditFormat,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug)]
pub struct Settings {
    pub controller: Option<SocketAddr>,
    pub stream: Option<StreamEndpoint>,
    pub station_id: StationId,
    pub db: PathBuf,
    pub gateway: Option<String>,
    /// `--embedded-broker`.
    pub embedded_broker: SocketAddr,
    pub file: FileConfig,
    pub recipe: Recipe,
    /// The recipe came from a flag or the config file (else: the last changeover's).
    pub recipe_explicit: bool,
    pub log: String,
    /// `--camera` or the config's `camera`.
    pub camera: Option<String>,
    /// What gateway commands are checked against (trusted keys, `accept_unsigned`).
    pub commands: bonder_gateway::CommandPolicy,
    /// The trusted key files, as configured (for the start's audit row).
    pub trusted_key_files: Vec<PathBuf>,
    /// PIN/password rules and lockout (`[login]`).
    pub login: bonder_core::login::LoginPolicy,
    /// `--simulate`: the built-in simulator instead of a controller.
    pub simulate: bool,
    /// Retention, free-space floor, failure behaviour (`[storage]`).
    pub storage: config::StoragePolicy,
    /// The stream's read deadline (`[link] stream_deadline_ms`).
    pub stream_deadline: std::time::Duration,
    /// SECS/GEM (`gem_…`).
    pub gem: config::GemSettings,
    /// OPC UA (`opcua_…`); `None`: off.
    pub opcua: Option<bonder_opcua::OpcuaConfig>,
    /// The OPC UA PKI directory (also when the server is off: `opcua trust` uses it).
    pub opcua_pki: PathBuf,
    /// The folder of the pull/shear tester's exports (`pull_tests_dir`), if any.
    pub pull_tests_dir: Option<PathBuf>,
    /// The process-health yield limit, % (`yield_limit_pct`).
    pub yield_limit_pct: f64,
    /// The configuration as loaded: the file (if any) and its SHA-256, for the start's
    /// audit row.
    pub config_file: Option<(PathBuf, String)>,
}

/// The log filter unless `--log` or the config says otherwise: our crates (`bonder_*`,
/// `bondersim`) at info, every dependency (the embedded broker's connection lines
/// among them) at warnings.
pub const DEFAULT_LOG: &str = "warn,bonder=info";

/// The first line of a secret file that only its owner may read.
fn read_secret_file(p: &std::path::Path) -> anyhow::Result<String> {
    let loose = bonder_credentials::private_files::loose_mode(p)
        .with_context(|| format!("gateway password file {}", p.display()))?;
    if let Some(mode) = loose {
        anyhow::bail!(
            "gateway password file {}: others may read it (mode {mode:o}); chmod 600 it / 密码文件权限过宽，请设为 600",
            p.display()
        );
    }
    let text = std::fs::read_to_string(p)
        .with_context(|| format!("gateway password file {}", p.display()))?;
    Ok(text.lines().next().unwrap_or_default().to_string())
}

/// Settings from flags, then the config file, then defaults.
pub fn settings(cli: &Cli) -> anyhow::Result<Settings> {
    let dirs = config::project_dirs();
    let (path, explicit) = match &cli.config {
        Some(p) => (p.clone(), true),
        None => match &dirs {
            Some(d) => (d.config_dir().join("station.toml"), false),
            None => (PathBuf::from("station.toml"), false),
        },
    };
    let file = FileConfig::load(&path, explicit)?;
    let pick = |flag: &Option<String>, file: &Option<String>| flag.clone().or_else(|| file.clone());
    let controller = match pick(&cli.controller, &file.controller) {
        Some(s) => Some(s.parse::<SocketAddr>().with_context(|| {
            format!("controller {s:?}: expected HOST:PORT, e.g. 127.0.0.1:1502")
        })?),
        None => None,
    };
    let stream = match pick(&cli.stream, &file.stream) {
        Some(s) => Some(s.parse::<StreamEndpoint>()?),
        None => None,
    };
    let recipe_explicit = cli.recipe.is_some() || file.recipe.is_some();
    let recipe = match cli.recipe.clone().or(file.recipe.clone()) {
        Some(p) => {
            let text = std::fs::read_to_string(&p)
                .with_context(|| format!("recipe file {}", p.display()))?;
            Recipe::from_json(&text).with_context(|| format!("recipe file {}", p.display()))?
        }
        None => Recipe::default_au(),
    };
    let station_id: StationId = pick(&cli.station_id, &file.station_id)
        .unwrap_or_else(|| "sz1/assembly/l1/wb-01".into())
        .parse()?;
    let db = match cli.db.clone().or(file.db.clone()) {
        Some(p) => p,
        None => {
            let d = dirs
                .as_ref()
                .map(|d| d.data_dir().to_path_buf())
                .unwrap_or_else(|| PathBuf::from("."));
            bonder_credentials::private_files::private_dir(&d)
                .with_context(|| format!("data dir {}", d.display()))?;
            d.join("station.sqlite")
        }
    };
    let mut file = file;
    // Flags win over the file for the gateway's settings too.
    file.gateway_user = pick(&cli.gateway_user, &file.gateway_user);
    if let Some(p) = cli
        .gateway_password_file
        .clone()
        .or(file.gateway_password_file.clone())
    {
        file.gateway_password = Some(read_secret_file(&p)?);
    }
    file.gateway_ca = cli.gateway_ca.clone().or(file.gateway_ca);
    file.gateway_cert = cli.gateway_cert.clone().or(file.gateway_cert);
    file.gateway_key = cli.gateway_key.clone().or(file.gateway_key);
    let mut trusted_key_files = file.trusted_keys.clone().unwrap_or_default();
    trusted_key_files.extend(cli.trusted_keys.iter().cloned());
    let commands = bonder_gateway::CommandPolicy {
        trust: bonder_gateway::TrustStore::load(&trusted_key_files)?,
        accept_unsigned: cli.accept_unsigned || file.accept_unsigned.unwrap_or(false),
    };
    let simulate = cli.simulate || file.simulate.unwrap_or(false);
    if simulate && controller.is_some() {
        anyhow::bail!(
            "--simulate and a controller ({}) exclude each other / 模拟器与控制器地址不能同时设置",
            controller.map(|c| c.to_string()).unwrap_or_default()
        );
    }
    let config_file = std::fs::read(&path)
        .ok()
        .map(|bytes| (path.clone(), bonder_store::audit::sha256_hex(&bytes)));
    let login = file
        .login
        .clone()
        .unwrap_or_default()
        .policy()
        .with_context(|| format!("config file {}, [login]", path.display()))?;
    let storage = file
        .storage
        .clone()
        .unwrap_or_default()
        .policy()
        .map_err(|e| anyhow::anyhow!("config file {}, [storage]: {e}", path.display()))?;
    let deadline_ms = file
        .link
        .as_ref()
        .and_then(|l| l.stream_deadline_ms)
        .unwrap_or(3000);
    if !(500..=60_000).contains(&deadline_ms) {
        anyhow::bail!(
            "config file {}, [link] stream_deadline_ms = {deadline_ms}: between 500 and 60000 / 取值须在 500 与 60000 之间",
            path.display()
        );
    }
    let gem = config::GemInput {
        enabled: cli.gem_enabled.or(file.gem_enabled),
        listen: pick(&cli.gem_listen, &file.gem_listen),
        mode: pick(&cli.gem_mode, &file.gem_mode),
        connect: pick(&cli.gem_connect, &file.gem_connect),
        device_id: cli.gem_device_id.or(file.gem_device_id),
        allowed_hosts: cli
            .gem_allowed_hosts
            .clone()
            .or(file.gem_allowed_hosts.clone()),
        t3: cli.gem_t3.or(file.gem_t3),
        t5: cli.gem_t5.or(file.gem_t5),
        t6: cli.gem_t6.or(file.gem_t6),
        t7: cli.gem_t7.or(file.gem_t7),
        t8: cli.gem_t8.or(file.gem_t8),
        linktest: cli.gem_linktest.or(file.gem_linktest),
        max_message: cli.gem_max_message.or(file.gem_max_message),
    }
    .settings()
    .map_err(|e| {
        anyhow::anyhow!(
            "SECS/GEM settings (config {} or --gem-… flags): {e}",
            path.display()
        )
    })?;
    let opcua_pki = cli
        .opcua_pki
        .clone()
        .or(file.opcua_pki.clone())
        .unwrap_or_else(|| {
            db.parent()
                .map(|d| d.join("opcua-pki"))
                .unwrap_or_else(|| PathBuf::from("opcua-pki"))
        });
    let opcua_url = pick(&cli.opcua_listen, &file.opcua_listen)
        .unwrap_or_else(|| bonder_opcua::Listen::DEFAULT.to_string());
    let opcua = bonder_opcua::Listen::parse(&opcua_url)
        .map_err(|e| anyhow::anyhow!("config {} or --opcua-listen: {e}", path.display()))?
        .map(|listen| bonder_opcua::OpcuaConfig {
            listen,
            pki_dir: opcua_pki.clone(),
            allow_insecure: file.allow_insecure.unwrap_or(false),
            anonymous_read: file.anonymous_read.unwrap_or(false),
            station_id: station_id.to_string(),
            manufacturer: "bonder-hmi".into(),
            software_revision: env!("CARGO_PKG_VERSION").into(),
        });
    let yield_limit_pct = cli.yield_limit_pct.or(file.yield_limit_pct).unwrap_or(98.0);
    if !(50.0..100.0).contains(&yield_limit_pct) {
        anyhow::bail!(
            "yield_limit_pct = {yield_limit_pct}: must be at least 50 and below 100 / \
             yield_limit_pct = {yield_limit_pct}：须不小于 50 且小于 100"
        );
    }
    Ok(Settings {
        yield_limit_pct,
        pull_tests_dir: cli.pull_tests_dir.clone().or(file.pull_tests_dir.clone()),
        opcua,
        opcua_pki,
        gem,
        storage,
        stream_deadline: std::time::Duration::from_millis(deadline_ms),
        simulate,
        config_file,
        login,
        commands,
        trusted_key_files,
        controller,
        stream,
        station_id,
        db,
        gateway: pick(&cli.gateway, &file.gateway),
        embedded_broker: cli.embedded_broker,
        recipe,
        recipe_explicit,
        log: pick(&cli.log, &file.log).unwrap_or_else(|| DEFAULT_LOG.into()),
        camera: pick(&cli.camera, &file.camera),
        file,
    })
}

/// Logs to stderr and a daily file in the data dir; `filter` is an `EnvFilter`.
pub fn init_logs(
    filter: &str,
) -> anyhow::Result<Option<tracing_appender::non_blocking::WorkerGuard>> {
    use tracing_subscriber::prelude::*;
    let env = tracing_subscriber::EnvFilter::try_new(filter)
        .with_context(|| format!("log filter {filter:?}"))?;
    let stderr = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let (file, guard) = match config::project_dirs().map(|d| d.data_dir().join("logs")) {
        Some(dir) if bonder_credentials::private_files::private_dir(&dir).is_ok() => {
            let appender = tracing_appender::rolling::Builder::new()
                .rotation(tracing_appender::rolling::Rotation::DAILY)
                .filename_prefix("station")
                .filename_suffix("log")
                .max_log_files(14)
                .build(&dir)
                .context("log file")?;
            let (nb, guard) = tracing_appender::non_blocking(appender);
            (
                Some(
                    tracing_subscriber::fmt::layer()
                        .with_ansi(false)
                        .with_writer(nb),
                ),
                Some(guard),
            )
        }
        _ => (None, None),
    };
    tracing_subscriber::registry()
        .with(env)
        .with(stderr)
        .with(file)
        .init();
    Ok(guard)
}

fn parse_size(s: &str) -> anyhow::Result<(u32, u32)> {
    let (w, h) = s
        .split_once('x')
        .with_context(|| format!("size {s:?}: expected WIDTHxHEIGHT, e.g. 1280x800"))?;
    Ok((
        w.parse().with_context(|| format!("size {s:?}"))?,
        h.parse().with_context(|| format!("size {s:?}"))?,
    ))
}

/// The station: a subcommand, or the station itself (the touch UI where there is a
/// display and `--headless` is not given, else headless).
pub fn run() -> anyhow::Result<()> {
    // Everything the station writes (store, logs, exports) is its owner's only.
    bonder_credentials::private_files::owner_only_umask();
    bonder_station_ui::mark_process_start();
    bonder_station_ui::init_local_time();
    let cli = Cli::parse();
    let settings = settings(&cli)?;
    let _guard = init_logs(&settings.log)?;
    match &cli.command {
        Some(Cmd::Audit {
            action: AuditCmd::Verify { db },
        }) => return export::audit_verify(db.as_ref().unwrap_or(&settings.db)),
        Some(Cmd::Audit {
            action:
                AuditCmd::Export {
                    db,
                    since,
                    format,
                    out,
                },
        }) => {
            let since = admin::parse_since(since)?;
            let db = db.as_ref().unwrap_or(&settings.db);
            let station = settings.station_id.to_string();
            let n = match out {
                Some(p) => {
                    let mut f = std::io::BufWriter::new(
                        std::fs::File::create(p)
                            .with_context(|| format!("audit export {}", p.display()))?,
                    );
                    let n = admin::audit_export(db, &station, since, *format, &mut f)?;
                    eprintln!("{n} audit rows written to {}", p.display());
                    n
                }
                None => admin::audit_export(
                    db,
                    &station,
                    since,
                    *format,
                    &mut std::io::stdout().lock(),
                )?,
            };
            tracing::info!(rows = n, "audit exported");
            return Ok(());
        }
        Some(Cmd::Users { action }) => return users(action, &settings),
        Some(Cmd::Opcua { action }) => return opcua(action, &settings),
        Some(Cmd::Import {
            what: ImportCmd::Tests { db, file },
        }) => {
            let store = Store::open(db.as_ref().unwrap_or(&settings.db))?;
            let by = admin::sign_in_from_stdin(&store, &settings.login)?;
            let out = crate::pull_tests::import_file(&store, file, &by)?;
            println!(
                "{}: {} imported ({} joined to bond records), {} already imported / 已导入 {} 条",
                file.display(),
                out.imported,
                out.joined,
                out.duplicates,
                out.imported
            );
            crate::strength::refit(&store, crate::strength::REFIT_AFTER)?;
            return Ok(());
        }
        Some(Cmd::Strength {
            what: StrengthCmd::Fit { db },
        }) => {
            let store = Store::open(db.as_ref().unwrap_or(&settings.db))?;
            let reports = crate::strength::refit(&store, 0)?;
            println!("{}", serde_json::to_string_pretty(&reports)?);
            return Ok(());
        }
        Some(c @ Cmd::WindowSearch { .. }) => return window_search(c, &settings),
        Some(Cmd::Backup { db, to }) => {
            let db = db.as_ref().unwrap_or(&settings.db);
            let store = Store::open(db)?;
            store
                .backup_to(to)
                .with_context(|| format!("backup to {}", to.display()))?;
            admin::audit_file_export(&store, "backup", to)?;
            println!("backup written to {}", to.display());
            return Ok(());
        }
        Some(Cmd::Export { what }) => return export::export(what, &settings.db),
        Some(Cmd::Screenshots {
            out,
            size,
            fill_seconds,
            station_alarm,
            host_message,
            opcua_sessions,
        }) => {
            std::fs::create_dir_all(out)
                .with_context(|| format!("screenshot dir {}", out.display()))?;
            let run = bonder_station_ui::ScreenshotRun {
                size_px: parse_size(size)?,
                fill: Duration::from_secs(*fill_seconds),
            };
            let files = demo::render_screenshots_with_simulator(
                out,
                &run,
                *station_alarm,
                host_message.as_deref(),
                opcua_sessions,
            )?;
            for f in files {
                println!("{}", f.display());
            }
            return Ok(());
        }
        None => {}
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let opcua_on = settings.opcua.is_some();
    let running = rt.block_on(wiring::start(settings))?;
    if cli.headless || !wiring::has_display() {
        if !cli.headless {
            tracing::info!("no display (DISPLAY/WAYLAND_DISPLAY unset): running headless");
        }
        rt.block_on(wiring::headless(&running, cli.for_seconds));
    } else {
        // Slint's event loop runs on the main thread; the core keeps running on the
        // Tokio workers. Users, recipes, the audit trail and shift handovers live in
        // the store.
        let mut opts = bonder_station_ui::UiOptions::new(
            running.recipe.clone(),
            wiring::ui_stores(&running, rt.handle()),
        );
        opts.fullscreen = cli.fullscreen;
        opts.work_order = running.next_job.clone();
        opts.changeover = Some(running.changeover.clone());
        opts.operator = running.operator.clone();
        opts.camera = running.camera.clone();
        opts.gem = running.gem.clone();
        opts.host_sessions = opcua_on.then(|| crate::opcua_link::host_sessions(&running.opcua));
        opts.health = Some(running.health.process_health());
        opts.window = Some(crate::window_search::window_view(running.store.clone()));
        bonder_station_ui::run(running.station.clone(), rt.handle().clone(), opts)?;
    }
    rt.block_on(wiring::stop(running))
}

/// `users …`.
fn opcua(cmd: &OpcuaCmd, settings: &Settings) -> anyhow::Result<()> {
    match cmd {
        OpcuaCmd::Trust {
            opcua_pki,
            db,
            file,
        } => {
            let pki = opcua_pki.as_ref().unwrap_or(&settings.opcua_pki);
            let db = db.as_ref().unwrap_or(&settings.db);
            let c = admin::opcua_trust(db, pki, file)?;
            println!(
                "trusted {} ({}) -> {}",
                c.subject,
                c.thumbprint,
                c.file.display()
            );
            Ok(())
        }
        OpcuaCmd::List { opcua_pki } => {
            let pki = opcua_pki.as_ref().unwrap_or(&settings.opcua_pki);
            for sub in ["trusted", "rejected"] {
                for c in bonder_opcua::pki::list(&pki.join(sub))? {
                    println!(
                        "{sub}\t{}\t{}\t{}",
                        c.thumbprint,
                        c.subject,
                        c.file.display()
                    );
                }
            }
            Ok(())
        }
    }
}

fn users(cmd: &UsersCmd, settings: &Settings) -> anyhow::Result<()> {
    let db_of = |db: &Option<PathBuf>| db.clone().unwrap_or_else(|| settings.db.clone());
    let policy = &settings.login;
    match cmd {
        UsersCmd::Add {
            db,
            badge,
            name,
            role,
            lang,
        } => {
            export::lang(lang)?;
            let secret = admin::read_secret(&format!("PIN or password for {badge}"))?;
            admin::add(&db_of(db), policy, badge, name, role, lang, &secret)
        }
        UsersCmd::List { db } => {
            admin::print_list(&admin::list(&db_of(db))?);
            Ok(())
        }
        UsersCmd::Disable { db, badge } => admin::change(
            &db_of(db),
            policy,
            badge,
            bonder_store::AccountChange::Disabled(true),
        ),
        UsersCmd::Enable { db, badge } => admin::change(
            &db_of(db),
            policy,
            badge,
            bonder_store::AccountChange::Disabled(false),
        ),
        UsersCmd::Reset { db, badge } => {
            let secret = admin::read_secret(&format!("new PIN or password for {badge}"))?;
            admin::change(
                &db_of(db),
                policy,
                badge,
                bonder_store::AccountChange::Secret(secret),
            )
        }
        UsersCmd::Role { db, badge, role } => admin::change(
            &db_of(db),
            policy,
            badge,
            bonder_store::AccountChange::Role(admin::parse_role(role)?),
        ),
    }
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_password_file_must_be_private() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("gw.pass");
        std::fs::write(&p, "s3cret\nignored\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = read_secret_file(&p).unwrap_err().to_string();
        assert!(
            e.contains("others may read it") && !e.contains("s3cret"),
            "{e}"
        );
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_secret_file(&p).unwrap(), "s3cret");
    }
}

/// `bonder-station window-search …`: signs the engineer in from stdin, runs (or resumes,
/// or abandons) the session, prints progress on stderr and the result on stdout.
fn window_search(c: &Cmd, settings: &Settings) -> anyhow::Result<()> {
    use crate::window_search::{Rig, Session, SessionConfig, abandon, starting_recipe};
    use bonder_core::window::{self, Method};
    use bonder_core::window_session::Plan;
    let Cmd::WindowSearch {
        controller,
        stream,
        db,
        params,
        bounds,
        budget_units,
        units_per_run,
        method,
        material,
        tests,
        seed,
        abandon: abandoning,
        reason,
        json,
    } = c
    else {
        anyhow::bail!("not a window-search command");
    };
    let stream = stream
        .as_deref()
        .map(str::parse::<StreamEndpoint>)
        .transpose()?;
    let store = std::sync::Arc::new(
        Store::open(db.as_ref().unwrap_or(&settings.db))
            .with_context(|| "store for the window search / 工艺窗口搜索的数据库")?,
    );
    let by = admin::sign_in_from_stdin(&store, &settings.login)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let rig = Rig::start(store.clone(), *controller, stream)?;
        let result: anyhow::Result<()> = async {
            if *abandoning {
                let (id, restored) = abandon(&rig, &by, *controller, reason).await?;
                if *json {
                    println!(
                        "{}",
                        serde_json::json!({"abandoned": id, "restored": restored})
                    );
                } else {
                    println!(
                        "process-window search #{id} abandoned, {restored} back on the machine / 工艺窗口搜索 #{id} 已放弃，已恢复 {restored}"
                    );
                }
                return Ok(());
            }
            let wire = material.as_deref().ok_or_else(|| {
                anyhow::anyhow!("--material MATERIAL:DIAMETER_UM is needed (e.g. Au:25.4) / 需要 --material")
            })?;
            let (m, d) = window::parse_wire(wire)?;
            let params = window::parse_params(params)?;
            let method = Method::from_name(method).ok_or_else(|| {
                anyhow::anyhow!("--method {method:?}: bo or ccd / 方法应为 bo 或 ccd")
            })?;
            let start = starting_recipe(&store, m, d)?;
            let mut b = window::default_bounds(&start, &params);
            for s in bounds {
                let (p, lohi) = window::parse_bound(s)?;
                let i = params.iter().position(|q| *q == p).ok_or_else(|| {
                    anyhow::anyhow!("--bounds {s}: {p} is not among --params / 该参数不在 --params 中")
                })?;
                b.0[i] = lohi;
            }
            let plan = Plan {
                method,
                params,
                bounds: b,
                budget_units: *budget_units,
                units_per_run: (*units_per_run).max(1),
                seed: *seed,
            };
            let cfg = SessionConfig {
                tests_dir: tests.clone(),
                ..SessionConfig::default()
            };
            let session = Session::begin(&rig, cfg, by.clone(), *controller, m, d, plan).await?;
            eprintln!(
                "process-window search #{} ({} runs done) / 工艺窗口搜索 #{}",
                session.id(),
                session.runs(),
                session.id()
            );
            let out = session
                .run_to_end(|p| {
                    eprintln!(
                        "run {}: {}/{} units, {:?}, margins {:?} ({}) / 第 {} 轮",
                        p.run,
                        p.units_used,
                        p.budget_units,
                        p.candidate,
                        p.margins
                            .iter()
                            .map(|m| (m * 100.0).round() / 100.0)
                            .collect::<Vec<_>>(),
                        p.strength_from,
                        p.run
                    );
                })
                .await?;
            if *json {
                println!("{}", out.to_json());
            } else {
                println!(
                    "{}\ndraft {} — release it on the recipe page once reviewed / 草稿 {}：审核后在配方页面发布",
                    serde_json::to_string_pretty(&out.to_json())?,
                    out.draft,
                    out.draft
                );
            }
            Ok(())
        }
        .await;
        rig.close().await?;
        result
    })
}
