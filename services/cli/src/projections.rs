//! `stod projections status` and `stod projections rebuild`: the operator's view of the
//! read models, and rebuilding them from the log with a progress bar.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use serde_json::json;
use stod_protocol::ops::{QuarantineReason, QuarantineReply, QuarantineRequest};

use crate::args::{ProjectionName, QuarantineReasonArg};
use crate::error::CliError;
use crate::output::Output;
use stod_client::Client;
use stod_protocol::ProjectionStatus;

/// How often a rebuild's progress is asked for.
const POLL: Duration = Duration::from_millis(200);
/// How long a rebuild may be missing from the status before we stop waiting for it
/// (the projector restarted and dropped the half-built generation).
const VANISHED_AFTER: Duration = Duration::from_secs(10);

/// `1 234 567`: Swedish digit grouping.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('\u{a0}');
        }
        out.push(c);
    }
    out
}

/// `2,5`: seconds with a Swedish decimal comma.
pub fn seconds(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64()).replace('.', ",")
}

/// Seconds left for `left` items at `per_second`, rounded up; `None` before a rate is known.
pub fn seconds_left(left: u64, per_second: u64) -> Option<u64> {
    (per_second > 0).then(|| left.div_ceil(per_second))
}

/// `2 min 5 s`: time left, for progress bars.
pub fn duration_left(secs: u64) -> String {
    match secs {
        0 => "under en sekund".into(),
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

pub fn status_text(s: &ProjectionStatus, log_end: Option<u64>) -> String {
    let generation = if s.generation == 0 {
        "ingen ännu (byggs för första gången)".to_owned()
    } else {
        s.generation.to_string()
    };
    let read = match log_end {
        Some(end) if s.checkpoint >= end => {
            format!("händelse {} av {} i loggen (ikapp)", grouped(s.checkpoint), grouped(end))
        }
        Some(end) => format!(
            "händelse {} av {} i loggen ({} efter)",
            grouped(s.checkpoint),
            grouped(end),
            grouped(end - s.checkpoint)
        ),
        None => format!("händelse {}", grouped(s.checkpoint)),
    };
    let rebuild = match &s.rebuild {
        None => "ingen pågår".to_owned(),
        Some(r) if r.generation == 0 => "förbereds".to_owned(),
        Some(r) => format!(
            "generation {}: {} av {} händelser, {} händelser/s",
            r.generation,
            grouped(r.position),
            grouped(r.target),
            grouped(r.events_per_second)
        ),
    };
    let fault = match &s.fault {
        None => "inget".to_owned(),
        Some(f) => format!(
            "{f}\n                   Läsmodellerna står still vid händelse {}; `stod projections rebuild` bygger om dem.",
            s.checkpoint
        ),
    };
    format!(
        "Läsmodeller (genomströmning, styrgrupp, granskning)\n\
         \x20 Generation:      {generation}\n\
         \x20 Läst t.o.m.:     {read}\n\
         \x20 Ombyggnad:       {rebuild}\n\
         \x20 Fel:             {fault}"
    )
}

pub async fn status(client: &Client, out: Output) -> Result<(), CliError> {
    let answer = client.projection_status().await?;
    out.result(&answer.raw, || status_text(&answer.status, answer.status.log_end));
    Ok(())
}

fn progress_bar(out: Output) -> ProgressBar {
    if out.json {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    let style = ProgressStyle::with_template("{spinner} Bygger om [{bar:30}] {pos}/{len} händelser · {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("█▉▊▋▌▍▎▏ ");
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

pub async fn rebuild(client: &Client, out: Output, name: ProjectionName) -> Result<(), CliError> {
    if name != ProjectionName::Alla {
        out.say(
            "Alla läsmodeller (genomströmning, styrgrupp, granskning) är en och samma vikning av loggen \
             och byggs om tillsammans.",
        );
    }
    let before = client.projection_status().await?.status;
    let started = Instant::now();
    // A rebuild under way (also the first build after a start) is followed rather than
    // queued behind: a second request would wait for it, then rebuild all over again.
    let target = match &before.rebuild {
        Some(r) => {
            out.say("En ombyggnad pågår redan; följer den.");
            r.generation.max(before.generation + 1)
        }
        None => client.start_rebuild().await?,
    };
    out.say(&format!("Bygger om läsmodellerna från händelseloggen till generation {target}; frågor besvaras som vanligt under tiden."));

    let bar = progress_bar(out);
    let mut events = 0;
    let mut missing_since: Option<Instant> = None;
    let mut tick = tokio::time::interval(POLL);
    let (raw, done) = loop {
        tick.tick().await;
        let (raw, s) = match client.projection_status().await {
            Ok(answer) => (answer.raw, answer.status),
            Err(e) => {
                bar.abandon();
                return Err(e.into());
            }
        };
        if let Some(fault) = &s.fault {
            bar.abandon();
            return Err(CliError::Other(format!(
                "ombyggnaden stannade: {fault}. De tidigare läsmodellerna gäller fortfarande (generation {}).",
                s.generation
            )));
        }
        if s.rebuild.is_none() && s.generation >= target {
            break (raw, s);
        }
        match &s.rebuild {
            Some(p) if p.generation >= target => {
                missing_since = None;
                events = p.position;
                bar.set_length(p.target);
                bar.set_position(p.position);
                let left = seconds_left(p.target.saturating_sub(p.position), p.events_per_second);
                let eta = left.map_or_else(|| "beräknar tid kvar".to_owned(), |s| format!("{} kvar", duration_left(s)));
                bar.set_message(format!("{} händelser/s · {eta}", grouped(p.events_per_second)));
            }
            _ => {
                // Between the start and the first progress report, or gone.
                let since = *missing_since.get_or_insert_with(Instant::now);
                if since.elapsed() > VANISHED_AFTER {
                    bar.abandon();
                    return Err(CliError::Other(format!(
                        "ombyggnaden till generation {target} syns inte längre hos projektorn (startades den om?); \
                         läsmodellerna är generation {}. Försök igen.",
                        s.generation
                    )));
                }
            }
        }
    };
    bar.finish_and_clear();
    let elapsed = started.elapsed();
    let events = events.max(done.checkpoint);
    let rate = (events as f64 / elapsed.as_secs_f64().max(1e-3)) as u64;
    out.result(&raw, || {
        format!(
            "Läsmodellerna är ombyggda: generation {}, {} händelser på {} s ({} händelser/s).",
            done.generation,
            grouped(events),
            seconds(elapsed),
            grouped(rate)
        )
    });
    Ok(())
}

/// `stod projections quarantine SEQ --reason ...`.
pub async fn quarantine(
    client: &Client,
    out: Output,
    sequence: u64,
    reason: QuarantineReasonArg,
    ticket: Option<String>,
) -> Result<(), CliError> {
    let reason = match reason {
        QuarantineReasonArg::Foreign => QuarantineReason::Foreign,
        QuarantineReasonArg::Damaged => QuarantineReason::Damaged,
    };
    match client.quarantine(&QuarantineRequest { sequence, reason, ticket }).await? {
        QuarantineReply::Quarantined { sequence, sha256, already } => {
            out.result(
                &json!({ "status": "quarantined", "sequence": sequence, "sha256": sha256, "already": already }),
                || {
                    let head = if already { "Redan lagd åt sidan tidigare" } else { "Lagd åt sidan" };
                    format!(
                        "{head}: sekvens {sequence} (SHA-256 {sha256}).\n\
                     Läsmodellerna och ärendet läses nu utan den; beslutet finns kvar i karantänlistan och \
                     visas av stod audit verify."
                    )
                },
            );
            Ok(())
        }
        QuarantineReply::Refused { message } | QuarantineReply::Invalid { message } => Err(CliError::Invalid(message)),
        QuarantineReply::Unavailable { message } => Err(CliError::Unavailable(message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stod_protocol::RebuildProgress;

    #[test]
    fn numbers_read_the_swedish_way() {
        assert_eq!(grouped(7), "7");
        assert_eq!(grouped(1234), "1\u{a0}234");
        assert_eq!(grouped(1_234_567), "1\u{a0}234\u{a0}567");
        assert_eq!(seconds(Duration::from_millis(2540)), "2,5");
        assert_eq!(duration_left(125), "2 min 5 s");
    }

    #[test]
    fn status_says_how_far_behind_and_why_stopped() {
        let mut s = ProjectionStatus { generation: 2, checkpoint: 90, rebuild: None, fault: None, log_end: None };
        assert!(status_text(&s, Some(100)).contains("(10 efter)"));
        assert!(status_text(&s, Some(90)).contains("(ikapp)"));
        s.rebuild = Some(RebuildProgress { generation: 3, position: 40, target: 100, events_per_second: 2000 });
        s.fault = Some("stream sequence 91 is not a valid event".into());
        let text = status_text(&s, None);
        assert!(text.contains("generation 3: 40 av 100") && text.contains("står still vid händelse 90"), "{text}");
    }
}
