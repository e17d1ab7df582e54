//! The read model alone, without NATS or sled: how long a bulk fold and the settle of
//! N demo events take, and the process's peak memory. For finding where a projector's
//! start goes at size (`stod-bench-read` measures the whole path).
//!
//!   cargo run --release -p stod-bench --bin stod-bench-model -- 3000000

use std::time::Instant;

use anyhow::Context as _;
use stod_events::ids::Date;

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args().nth(1).map_or(Ok(1_000_000), |a| a.parse()).context("events: a number")?;
    let today = Date::from_ymd(2026, 11, 27).context("date")?;
    let participants = (n / 8).max(1) as u32;
    let t = Instant::now();
    let mut events = Vec::new();
    let mut seed = 1;
    while events.len() < n {
        let subs = stod_demo::generate(&stod_demo::DemoParams {
            participants: participants.min(20_000),
            years: 5,
            seed,
            today,
        });
        events.extend(stod_demo::seal_locally(&subs, today).into_iter().map(|s| s.event));
        seed += 1;
    }
    events.truncate(n);
    println!("generated {n} events in {:.1} s", t.elapsed().as_secs_f64());
    let mut model = stod_projections::Model::new();
    let t = Instant::now();
    for (i, chunk) in events.chunks(4096).enumerate() {
        model.fold_bulk(chunk.iter().enumerate().map(|(j, e)| ((i * 4096 + j + 1) as u64, e)));
    }
    let fold = t.elapsed();
    let t = Instant::now();
    model.settle();
    let settle = t.elapsed();
    println!(
        "{} cases: bulk fold {:.2} s, settle {:.2} s, peak RSS {:.0} MiB",
        model.cases(),
        fold.as_secs_f64(),
        settle.as_secs_f64(),
        peak_rss_mib()
    );
    Ok(())
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}
