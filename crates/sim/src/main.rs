//! `bondersim`: run a simulated bonder controller.

use anyhow::Context;
use bondersim::{SimConfig, Simulator, WireRate};
use clap::Parser;
use std::net::SocketAddr;

/// A wire bonder's controller, simulated: Modbus TCP + bond event stream
/// (docs/spec/controller-link.md).
#[derive(Debug, Parser)]
#[command(name = "bondersim", version)]
struct Cli {
    /// Modbus TCP listen address.
    #[arg(long, default_value = "127.0.0.1:1502")]
    modbus: SocketAddr,
    /// Bond event stream TCP listen address.
    #[arg(long, default_value = "127.0.0.1:1503")]
    stream_tcp: SocketAddr,
    /// Also send the stream on a pseudo-terminal; prints `serial: /dev/pts/N`.
    #[arg(long)]
    serial_pty: bool,
    /// Wires per second, or `max`.
    #[arg(long, default_value = "10")]
    wires_per_s: WireRate,
    /// Probability that a wire carries a defect (NSOP, NSOL, short tail, ball size,
    /// placement, curve).
    #[arg(long, default_value_t = 0.002)]
    defect_rate: f64,
    /// Probability per wire of a wire-break alarm that stops the machine.
    #[arg(long, default_value_t = 0.0)]
    alarm_rate: f64,
    /// Random seed (same seed, same bonds).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Apply the built-in recipe (SOT23-AU25@7) and start bonding.
    #[arg(long)]
    autostart: bool,
    /// Camera frame stream TCP listen address (docs/spec/camera-protocol.md); prints
    /// `camera: tcp://ADDR`.
    #[arg(long, default_value = "127.0.0.1:1504")]
    camera: SocketAddr,
    /// No camera.
    #[arg(long)]
    no_camera: bool,
    /// Camera frames per second.
    #[arg(long, default_value_t = 30.0)]
    camera_fps: f64,
    /// Camera-only defects per ball (missing, off-pad, oversized), on top of the bond
    /// model's.
    #[arg(long, default_value_t = 0.0)]
    camera_defect_rate: f64,
    /// An excursion, NAME:key=value,... (repeatable; counts in wires since start):
    /// us-drift:start=W,pct_per_100k=X; capillary-wear:factor=X;
    /// heater-drift:start=W,c_per_100k=X; lot-change:at=W,bondability=B;
    /// pad-contamination:at=W,wires=N,severity=S.
    #[arg(long = "scenario")]
    scenarios: Vec<bondersim::scenario::Scenario>,
    /// Touchdowns after which the capillary is changed (the touchdown register resets).
    #[arg(long, default_value_t = 1_000_000)]
    capillary_life: u64,
    /// Write one JSON line of ground truth per wire to FILE.
    #[arg(long)]
    truth: Option<std::path::PathBuf>,
    /// Write a bench pull/shear tester's CSV files into DIR.
    #[arg(long)]
    pull_tests: Option<std::path::PathBuf>,
    /// With --pull-tests: test the last unit of every N units.
    #[arg(long, default_value_t = 200)]
    pull_test_every: u32,
    /// Print the true process window of a wire, MATERIAL:DIAMETER_UM (e.g. Au:25.4,
    /// Cu:20), as one JSON object `{"centre", "box", "margin"}`, and exit. The window is
    /// over --window-params (document keys or with `_`), the others at the built-in
    /// recipe's values.
    #[arg(long, value_name = "MATERIAL:DIAMETER_UM")]
    print_window: Option<String>,
    /// The parameters of --print-window.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "ball.us_power_pct,ball.force_gf,ball.time_ms,heater_temp_c"
    )]
    window_params: Vec<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    if let Some(wire) = &cli.print_window {
        let (material, diameter) = bondersim::window::parse_wire(wire)?;
        let params = bondersim::window::parse_params(&cli.window_params)?;
        let recipe = bondersim::window::built_in(material, diameter);
        let truth = bondersim::window::truth(&recipe, &params, None);
        println!("{}", truth.to_json());
        return Ok(());
    }
    if !(0.0..=1.0).contains(&cli.defect_rate)
        || !(0.0..=1.0).contains(&cli.alarm_rate)
        || !(0.0..=1.0).contains(&cli.camera_defect_rate)
    {
        anyhow::bail!(
            "--defect-rate, --alarm-rate and --camera-defect-rate are probabilities: 0..1"
        );
    }
    if cli.capillary_life < 2 || cli.pull_test_every == 0 {
        anyhow::bail!("--capillary-life: at least 2 touchdowns; --pull-test-every: at least 1");
    }
    if !(cli.camera_fps > 0.0 && cli.camera_fps <= 1000.0) {
        anyhow::bail!("--camera-fps: 0 < fps <= 1000");
    }
    let sim = Simulator::start(SimConfig {
        modbus: cli.modbus,
        stream_tcp: Some(cli.stream_tcp),
        serial_pty: cli.serial_pty,
        wire_rate: cli.wires_per_s,
        defect_rate: cli.defect_rate,
        alarm_rate: cli.alarm_rate,
        seed: cli.seed,
        autostart: cli.autostart,
        camera: (!cli.no_camera).then_some(cli.camera),
        camera_fps: cli.camera_fps,
        camera_params: bondersim::camera::CameraParams {
            extra_defect_rate: cli.camera_defect_rate,
            ..Default::default()
        },
        scenarios: cli.scenarios.clone(),
        capillary_life: cli.capillary_life,
        truth: cli.truth.clone(),
        pull_tests: cli
            .pull_tests
            .clone()
            .map(|dir| bondersim::pull_tester::PullTests {
                dir,
                every_units: cli.pull_test_every,
            }),
        ..SimConfig::default()
    })
    .await
    .context("cannot start the simulator")?;
    println!("modbus: {}", sim.modbus_addr);
    if let Some(a) = sim.stream_addr {
        println!("stream: tcp://{a}");
    }
    if let Some(p) = &sim.pty_path {
        println!("serial: {p}");
    }
    if let Some(a) = sim.camera_addr {
        println!("camera: tcp://{a}");
    }
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    let s = sim.stats();
    let wires = s.wires.load(std::sync::atomic::Ordering::Relaxed);
    sim.shutdown().await;
    println!("stopped after {wires} wires");
    Ok(())
}
