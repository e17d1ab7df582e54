//! Demo data: `stod demo seed`, and the demo of `stod up --demo`.
//!
//! Journeys come from `stod-demo`'s generator, reproducible from a seed, and are
//! recorded through the real command path (the command service decides every one),
//! as the demo's case workers. The same values give the same submission ids, so
//! seeding twice records nothing new.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use stod_client::{Client, ClientError};
use stod_demo::{DemoParams, SeedReport, Submission};
use stod_events::case::Command;
use stod_events::ids::{CaseId, Date};

use crate::args::DemoSeedArgs;
use crate::error::CliError;
use crate::output::Output;
use crate::projections::{duration_left, grouped, seconds, seconds_left};
use crate::session::Session;

/// What `stod up --demo` records: a programme's worth of two years.
pub const UP_PARTICIPANTS: u32 = 40;
pub const UP_YEARS: u32 = 2;
pub const UP_SEED: u64 = 2025;
/// Cases submitted at once by `up --demo`.
const UP_CONCURRENCY: usize = 8;

/// The connection's own user; every submission is made as the demo's case worker
/// who "did" it (`Client::as_user`).
pub const SEEDER: &str = "demo";

/// What a seeding run did, with what it was asked.
pub struct Seeded {
    pub params: DemoParams,
    pub cases: Vec<CaseId>,
    /// A case with a correction in it, the most interesting to look at.
    pub showcase: Option<CaseId>,
    pub report: SeedReport,
    pub elapsed: Duration,
}

impl Seeded {
    fn json(&self, status: &str) -> serde_json::Value {
        json!({
            "status": status,
            "recorded": self.report.accepted > 0,
            "participants": self.params.participants,
            "years": self.params.years,
            "seed": self.params.seed,
            "today": self.params.today,
            "cases": self.cases,
            "submitted": self.report.submitted,
            "accepted": self.report.accepted,
            "duplicates": self.report.duplicates,
            "rejected": self.report.rejected,
        })
    }

    fn text(&self) -> String {
        let p = &self.params;
        let r = &self.report;
        let rate = (r.submitted as f64 / self.elapsed.as_secs_f64().max(1e-3)) as u64;
        let mut text = format!(
            "Demo: {} deltagare över {} år (frö {}, t.o.m. {}), {} ärenden: {} inlämningar på {} s ({}/s)\n\
             \x20 registrerade nu:     {:>6}\n\
             \x20 redan registrerade:  {:>6}\n\
             \x20 avvisade:            {:>6}",
            p.participants,
            p.years,
            p.seed,
            p.today,
            self.cases.len(),
            grouped(r.submitted),
            seconds(self.elapsed),
            grouped(rate),
            grouped(r.accepted),
            grouped(r.duplicates),
            grouped(r.rejected),
        );
        if r.accepted == 0 && r.duplicates > 0 {
            text.push_str(
                "\nInget nytt: samma demo var redan registrerad (samma frö och datum ger samma inlämningar).",
            );
        }
        if r.rejected > 0 {
            text.push_str("\nAvvisade inlämningar bröt mot en regel i loggens nuvarande läge (t.ex. en deltagare med ett öppet ärende sedan tidigare).");
        }
        text
    }
}

fn progress_bar(total: u64, out: Output) -> ProgressBar {
    if out.json {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template("{spinner} Registrerar [{bar:30}] {pos}/{len} inlämningar · {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("█▉▊▋▌▍▎▏ ");
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Generates the demo and submits it with a progress bar.
pub async fn seed(client: &Client, params: DemoParams, concurrency: usize, out: Output) -> Result<Seeded, CliError> {
    let submissions = stod_demo::generate(&params);
    let mut seen = BTreeSet::new();
    let cases: Vec<CaseId> = submissions.iter().map(|s| s.case_id).filter(|c| seen.insert(*c)).collect();
    let showcase = submissions.iter().find(|s| matches!(s.command, Command::Correct { .. })).map(|s| s.case_id);
    let showcase = showcase.or_else(|| cases.first().copied());
    let bar = progress_bar(submissions.len() as u64, out);
    let started = Instant::now();
    let result = submit(client, submissions, concurrency, &bar, started).await;
    bar.finish_and_clear();
    let report = result.map_err(|e| match CliError::from(e) {
        CliError::Unavailable(m) => CliError::Unavailable(format!(
            "{m}. Kör samma kommando igen: det som redan registrerats registreras inte två gånger."
        )),
        other => other,
    })?;
    Ok(Seeded { params, cases, showcase, report, elapsed: started.elapsed() })
}

async fn submit(
    client: &Client,
    submissions: Vec<Submission>,
    concurrency: usize,
    bar: &ProgressBar,
    started: Instant,
) -> Result<SeedReport, ClientError> {
    stod_demo::seed(client, submissions, concurrency, |r: &SeedReport| {
        bar.set_position(r.submitted);
        let rate = (r.submitted as f64 / started.elapsed().as_secs_f64().max(1e-3)) as u64;
        let left = seconds_left(bar.length().unwrap_or(0).saturating_sub(r.submitted), rate);
        let eta = left.map_or_else(String::new, |s| format!(" · {} kvar", duration_left(s)));
        bar.set_message(format!("{}/s{eta}", grouped(rate)));
    })
    .await
}

/// `stod demo seed`.
pub async fn seed_command(session: &Session, out: Output, args: DemoSeedArgs) -> Result<(), CliError> {
    let now = stod_events::sweden::today();
    let today = args.today.unwrap_or(now);
    if today > now {
        return Err(CliError::Usage(format!(
            "--today {today} ligger i framtiden: inga händelser får ha ett senare datum än i dag ({now})"
        )));
    }
    let client = session.client_or(SEEDER).await?;
    let params = DemoParams { participants: args.participants, years: args.years, seed: args.seed, today };
    let seeded = seed(&client, params, args.concurrency as usize, out).await?;
    out.result(&seeded.json("seeded"), || {
        let mut text = seeded.text();
        if let Some(case) = seeded.showcase {
            text.push_str(&format!(
                "\nTitta: stod report throughput --year {}   eller   stod case history {case}",
                today.year()
            ));
        }
        text
    });
    Ok(())
}

/// `stod up --demo`, on an empty log: records the demo. Returns whether anything was
/// recorded.
pub async fn up_demo(client: &Client, today: Date, out: Output) -> Result<bool, CliError> {
    let params = DemoParams { participants: UP_PARTICIPANTS, years: UP_YEARS, seed: UP_SEED, today };
    out.say(&format!(
        "Demo: registrerar {UP_PARTICIPANTS} påhittade deltagares vägar under {UP_YEARS} år genom kommandotjänsten \
         (som anna, bertil, cecilia och projektledare)."
    ));
    let seeded = seed(client, params, UP_CONCURRENCY, out).await?;
    out.result(&seeded.json("demo"), || {
        let mut text = seeded.text();
        if let Some(case) = seeded.showcase {
            text.push_str(&format!(
                "\nEtt ärende med en rättelse (som handläggare, med STOD_CREDENTIALS från stod user add):\n  stod case show {case}\n  stod case history {case}"
            ));
        }
        text
    });
    Ok(seeded.report.accepted > 0)
}
