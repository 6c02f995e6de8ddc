//! `bonder-station`: the operator station of one wire bonder. Everything is in the
//! library (`bonder_station`); see its docs and `bonder-station --help`.

fn main() -> anyhow::Result<()> {
    bonder_station::run()
}
