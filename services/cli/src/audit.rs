//! `stod audit`: what an auditor (revisor, granskare) runs.
//!
//! - `history`: a case's events as the log holds them (the command service's case
//!   query), with the correction links both ways.
//! - `replay`: a report as it stood at a past moment. The whole stream is read and
//!   folded in memory with [`stod_audit::records_at`]: the temporary store is this
//!   process's memory, so the live projector and its sled store are never touched.
//! - `verify`: every case's hash chain, over the live stream or offline over an export.
//! - `export`: a self-contained bundle that `verify --bundle` checks without NATS.
//! - `access`: who looked at which case and when, from the access log (`STOD_ACCESS`).
//!
//! The logs are read as stored, byte for byte, through the command service
//! (`stod.audit.*`), which records each run in the access log before it sends
//! anything; the checks run here, on those bytes, so a verification does not depend on
//! the code that wrote the log. No person reaches JetStream itself (decision 0012).
//! The layout of what is printed is in [`crate::audit_text`].

use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use stod_audit::bundle::BundleError;
use stod_audit::SetAside;
use stod_audit::{records_at, Cutoff, Finding, Record, Verification};
use stod_client::{Client, RetryPolicy};
use stod_events::codec;
use stod_events::ids::{CaseId, Date, Timestamp, UserId};
use stod_events::reference::Catalogue;
use stod_events::RecordedEvent;
use stod_projections::period::BadPeriod;
use stod_projections::{steering, throughput, CaseRecord, Period};
use stod_protocol::audit::{AuditPurpose, LogInfoReply, LogName, LoggedMessage};
use stod_store::{AccessFilter, StoredAccess, ACCESS_STREAM_NAME, STREAM_NAME};

use crate::args::{AccessArgs, ReplayArgs, ReplayReport, ReportFormat};
use crate::audit_text::{self, History};
use crate::error::CliError;
use crate::output::Output;
use crate::projections::{grouped, seconds};
use crate::reference::ANONYMOUS_READER;
use crate::report::{self, Basis};
use crate::session::Session;

/// `stod audit history CASE`.
pub async fn history(client: &Client, out: Output, case: CaseId) -> Result<(), CliError> {
    let view = client.case(case).await?;
    let history = History::of(&view);
    if out.json {
        out.result(&history, String::new);
        return Ok(());
    }
    let cat = client.catalogue().await;
    out.result(&history, || audit_text::history_text(&view, &cat));
    Ok(())
}

/// How a read of the whole stream went, for the summary.
struct Read {
    events: u64,
    elapsed: Duration,
}

impl Read {
    fn text(&self) -> String {
        let rate = (self.events as f64 / self.elapsed.as_secs_f64().max(1e-3)) as u64;
        format!("{} händelser på {} s ({} händelser/s)", grouped(self.events), seconds(self.elapsed), grouped(rate))
    }
}

fn progress_bar(out: Output, len: u64, what: &'static str) -> ProgressBar {
    if out.json {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template("{spinner} {prefix} [{bar:30}] {pos}/{len} händelser · {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("█▉▊▋▌▍▎▏ ");
    bar.set_style(style);
    bar.set_prefix(what);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Reads a whole log in order through the command service (which records the run in
/// the access log first), with a progress bar. Warns of protections looser than stod
/// requires, and returns them too.
async fn read_log(
    client: &Client,
    out: Output,
    log: LogName,
    purpose: AuditPurpose,
    what: &'static str,
    mut each: impl FnMut(LoggedMessage),
) -> Result<(Read, Vec<String>), CliError> {
    let bar = progress_bar(out, 0, what);
    let started = Instant::now();
    let mut events = 0u64;
    let result = client
        .read_log(
            log,
            purpose,
            |m| {
                events += 1;
                each(m);
            },
            |seq, last| {
                bar.set_length(last);
                bar.set_position(seq);
                let rate = (seq as f64 / started.elapsed().as_secs_f64().max(1e-3)) as u64;
                bar.set_message(format!("{} händelser/s", grouped(rate)));
            },
        )
        .await;
    bar.finish_and_clear();
    let read = result?;
    let name = match log {
        LogName::Events => "händelseloggens",
        LogName::Access => "åtkomstloggens",
        LogName::Quarantine => "karantänlistans",
        LogName::Participants | LogName::Reference | LogName::Registry => "nyckelvärdeslagrets",
    };
    let loosened: Vec<String> = read
        .loosened
        .iter()
        .map(|m| {
            format!(
                "{name} inställning {} är {}, ska vara {}: servern skyddar inte längre loggen mot ändringar",
                m.setting, m.actual, m.expected
            )
        })
        .collect();
    for l in &loosened {
        eprintln!("Varning: {l}");
    }
    Ok((Read { events, elapsed: started.elapsed() }, loosened))
}

/// The messages operators set aside (the quarantine list), by the sequence they set
/// aside; empty where no list exists yet.
async fn set_aside(client: &Client, out: Output, purpose: AuditPurpose) -> Result<SetAside, CliError> {
    if !matches!(client.log_info(LogName::Quarantine).await?, LogInfoReply::Found { .. }) {
        return Ok(SetAside::new());
    }
    let mut list = SetAside::new();
    let mut bad = None;
    read_log(client, out, LogName::Quarantine, purpose, "Karantän", |m| {
        match serde_json::from_slice::<stod_store::Quarantined>(&m.data) {
            Ok(q) => {
                list.entry(q.sequence).or_insert((q.sha256, q.reason));
            }
            Err(e) => {
                bad.get_or_insert(format!("post {} i karantänlistan går inte att läsa: {e}", m.seq));
            }
        }
    })
    .await?;
    match bad {
        Some(message) => Err(CliError::Integrity { message, shown: false }),
        None => Ok(list),
    }
}

/// A message as a [`Record`] for verification. A subject that names no case cannot
/// have been written by stod; it is kept (under the nil case, so the sequence has no
/// hole) and named separately.
fn record(m: LoggedMessage, foreign: &mut Vec<Finding>) -> Record {
    let case = m.subject.rsplit('.').next().and_then(|token| token.parse::<CaseId>().ok());
    if case.is_none() {
        foreign.push(Finding::Undecodable {
            stream_sequence: m.seq,
            detail: format!("ämnet {:?} namnger inget ärende", m.subject),
        });
    }
    Record { stream_sequence: m.seq, subject_case: case.unwrap_or_else(|| CaseId::from([0; 16])), bytes: m.data }
}

fn with_findings(v: &mut Verification, more: Vec<Finding>) {
    if !more.is_empty() {
        v.findings.extend(more);
        v.findings.sort_by_key(|f| f.stream_sequence().unwrap_or(u64::MAX));
    }
}

/// The JSON of a verification result with `intact` added at the top.
fn with_intact(value: impl serde::Serialize, intact: bool) -> Value {
    let mut json = serde_json::to_value(value).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut json {
        map.insert("intact".into(), Value::Bool(intact));
    }
    json
}

/// `stod audit verify` against the live stream.
pub async fn verify_log(client: &Client, url: &str, out: Output) -> Result<(), CliError> {
    let set_aside = set_aside(client, out, AuditPurpose::Verify).await?;
    let mut records = Vec::new();
    let mut foreign = Vec::new();
    let (read, loosened) = read_log(client, out, LogName::Events, AuditPurpose::Verify, "Kontrollerar", |m| {
        records.push(record(m, &mut foreign))
    })
    .await?;
    // A subject naming no case is set aside like any other foreign message.
    foreign.retain(|f| f.stream_sequence().is_none_or(|seq| !set_aside.contains_key(&seq)));
    // Our streams start at 1 and refuse deletes and purges: a later first sequence is
    // events gone from the start, and verify names them as missing.
    let mut v = stod_audit::verify_setting_aside(records, 1, &set_aside);
    with_findings(&mut v, foreign);
    // Loosened protections are an integrity problem even when every chain holds.
    let intact = v.intact() && loosened.is_empty();
    out.result(&with_intact(&v, intact), || {
        audit_text::verification_text(&v, &format!("{STREAM_NAME} på {url}"), &read.text())
    });
    if intact {
        Ok(())
    } else {
        let problems = v.findings.len() + loosened.len();
        Err(CliError::Integrity { message: format!("{problems} fel i händelseloggen"), shown: true })
    }
}

/// `stod audit verify --bundle DIR`: offline, no NATS connection at all.
pub fn verify_bundle(dir: &Path, out: Output) -> Result<(), CliError> {
    if !dir.is_dir() {
        return Err(CliError::NotFound(format!("exportmappen {} finns inte", dir.display())));
    }
    if !dir.join("manifest.json").is_file() {
        return Err(CliError::Invalid(format!(
            "{} är ingen export från stod: manifest.json saknas (exporter görs med stod audit export)",
            dir.display()
        )));
    }
    // A bundle that cannot even be read (a damaged manifest or event file) cannot be
    // shown intact: that is an integrity failure, not a usage error.
    let check = stod_audit::check(dir).map_err(|e| CliError::Integrity {
        message: format!("exporten {} går inte att kontrollera: {e}", dir.display()),
        shown: false,
    })?;
    let intact = check.intact();
    out.result(&with_intact(&check, intact), || audit_text::bundle_text(&check, &dir.display().to_string()));
    if intact {
        Ok(())
    } else {
        let problems = check.file_problems.len() + check.verification.findings.len();
        Err(CliError::Integrity { message: format!("{problems} fel i exporten {}", dir.display()), shown: true })
    }
}

fn bundle_error(e: BundleError) -> CliError {
    match e {
        BundleError::Format(message) => CliError::Invalid(message),
        BundleError::Io { .. } => CliError::Other(format!("exporten kunde inte skrivas: {e}")),
    }
}

/// `stod audit export --out DIR`.
pub async fn export(client: &Client, url: &str, out: Output, dir: &Path) -> Result<(), CliError> {
    // Refused before reading a long log; the library checks again when it writes.
    if dir.exists() {
        let empty = std::fs::read_dir(dir).map(|mut entries| entries.next().is_none());
        match empty {
            Ok(true) => {}
            Ok(false) => {
                return Err(CliError::Invalid(format!("{} är inte tom; välj en ny mapp för exporten", dir.display())))
            }
            Err(e) => return Err(CliError::Invalid(format!("{} kan inte användas för exporten: {e}", dir.display()))),
        }
    }
    let set_aside = set_aside(client, out, AuditPurpose::Export).await?;
    let mut records = Vec::new();
    let mut foreign = Vec::new();
    let (read, _loosened) = read_log(client, out, LogName::Events, AuditPurpose::Export, "Exporterar", |m| {
        records.push(record(m, &mut foreign))
    })
    .await?;
    foreign.retain(|f| f.stream_sequence().is_none_or(|seq| !set_aside.contains_key(&seq)));
    let (manifest, mut v) = stod_audit::export(dir, records, 1, &set_aside).map_err(bundle_error)?;
    with_findings(&mut v, foreign);
    let intact = v.intact();
    let json = json!({
        "status": "exported",
        "dir": dir.display().to_string(),
        "manifest": manifest,
        "intact": intact,
        "findings": v.findings,
    });
    out.result(&json, || {
        let mut text = audit_text::export_text(&manifest, &dir.display().to_string(), &read.text());
        if !intact {
            text.push_str("\n\n");
            text.push_str(&audit_text::verification_text(&v, &format!("{STREAM_NAME} på {url}"), &read.text()));
        }
        text
    });
    if intact {
        Ok(())
    } else {
        Err(CliError::Integrity {
            message: format!("exporten är skriven, men händelseloggen har {} fel", v.findings.len()),
            shown: true,
        })
    }
}

/// What `audit replay` computes, checked before the log is read.
enum Spec {
    Throughput { period: Period, today: Option<Date> },
    Steering { meeting: Date, previous: Option<Date>, format: ReportFormat },
    Funder { period: Period },
}

fn spec(args: &ReplayArgs) -> Result<Spec, CliError> {
    let usage = |m: &str| Err(CliError::Usage(m.to_owned()));
    match args.report {
        ReplayReport::Funder => {
            if args.meeting.is_some() || args.previous.is_some() || args.today.is_some() {
                return usage("--meeting, --previous och --today gäller inte uppföljningen; den tar --period");
            }
            if args.format != ReportFormat::Text {
                return usage("--format gäller --report styrgrupp; uppföljningen skrivs som text eller --json");
            }
            let Some(period) = args.period.as_deref() else {
                return usage(
                    "--report funder kräver --period, t.ex. --period 2025, --period 2025-Q2 eller --period 2025-03",
                );
            };
            let period = period.parse().map_err(|e: BadPeriod| CliError::Invalid(e.to_string()))?;
            Ok(Spec::Funder { period })
        }
        ReplayReport::Throughput => {
            if args.meeting.is_some() || args.previous.is_some() {
                return usage(
                    "--meeting och --previous gäller --report styrgrupp; genomströmningen tar --period och --today",
                );
            }
            if args.format != ReportFormat::Text {
                return usage("--format gäller --report styrgrupp; genomströmningen skrivs som text eller --json");
            }
            let Some(period) = args.period.as_deref() else {
                return usage(
                    "--report throughput kräver --period, t.ex. --period 2025, --period 2025-Q2 eller --period 2025-03",
                );
            };
            let period = period.parse().map_err(|e: BadPeriod| CliError::Invalid(e.to_string()))?;
            Ok(Spec::Throughput { period, today: args.today })
        }
        ReplayReport::Styrgrupp => {
            if args.period.is_some() || args.today.is_some() {
                return usage(
                    "--period och --today gäller --report throughput; styrgruppsrapporten tar --meeting och --previous",
                );
            }
            let Some(meeting) = args.meeting else {
                return usage(
                    "--report styrgrupp kräver --meeting, mötesdatumet rapporten gäller, t.ex. --meeting 2025-06-30",
                );
            };
            if let Some(previous) = args.previous.filter(|p| *p >= meeting) {
                return Err(CliError::Invalid(format!("föregående möte ({previous}) måste ligga före {meeting}")));
            }
            if args.format != ReportFormat::Text && args.compare_now {
                return usage("--compare-now skrivs bara som text; ta bort --format eller --compare-now");
            }
            Ok(Spec::Steering { meeting, previous: args.previous, format: args.format })
        }
    }
}

/// A rebuilt report.
enum Replayed {
    Throughput(stod_projections::ThroughputReport),
    Steering(stod_projections::SteeringReport),
    Funder(stod_projections::FunderReport),
}

impl Replayed {
    /// The report's JSON. The steering group's report holds counts only, so the case
    /// lists of its alerts are left out here too (and so from the comparison).
    fn json(&self) -> Value {
        match self {
            Replayed::Throughput(r) => serde_json::to_value(r).unwrap_or(Value::Null),
            Replayed::Steering(r) => {
                let wrapped = json!({ "report": r });
                report::without_case_ids(wrapped)["report"].take()
            }
            Replayed::Funder(r) => serde_json::to_value(r).unwrap_or(Value::Null),
        }
    }
}

fn compute(spec: &Spec, records: &std::collections::BTreeMap<CaseId, CaseRecord>, today: Date) -> Replayed {
    match spec {
        Spec::Throughput { period, .. } => {
            // As the projector does: the journeys as they stood on the report's day.
            let journeys: Vec<_> = records.values().map(|c| c.journey_on(today)).collect();
            Replayed::Throughput(throughput(&journeys, *period, today))
        }
        Spec::Steering { meeting, previous, .. } => {
            let journeys: Vec<_> = records.values().map(|c| c.journey_on(*meeting)).collect();
            Replayed::Steering(steering(&journeys, *meeting, *previous))
        }
        Spec::Funder { period } => {
            let journeys: Vec<_> = records.values().map(|c| c.journey_on(today)).collect();
            Replayed::Funder(stod_projections::funder(&journeys, *period))
        }
    }
}

/// Reference-data names for the report, without waiting for a command service that may
/// not be running (an auditor may read a bare NATS): names are a courtesy.
async fn names(session: &Session) -> Catalogue {
    let policy = RetryPolicy { retries: 0, request_timeout: Duration::from_secs(2), ..RetryPolicy::default() };
    let user = match session.user_opt() {
        Some(user) => user.clone(),
        None => match UserId::parse(ANONYMOUS_READER) {
            Ok(user) => user,
            Err(_) => return Catalogue::default_catalogue(),
        },
    };
    match session.options("stod audit").user(user).retry(policy).connect().await {
        Ok(client) => client.catalogue().await,
        Err(_) => Catalogue::default_catalogue(),
    }
}

/// `stod audit replay`.
pub async fn replay(session: &Session, client: &Client, out: Output, args: ReplayArgs) -> Result<(), CliError> {
    let spec = spec(&args)?;
    let cutoff = args.as_of;
    if let Cutoff::RecordedBy(t) = cutoff {
        if t > Timestamp::now() {
            return Err(CliError::Invalid(format!(
                "{} ligger i framtiden; läget just nu visar stod report",
                audit_text::moment_text(&cutoff)
            )));
        }
    }
    // Said before a long read rather than after it.
    if let Cutoff::Sequence(n) = cutoff {
        let end = match client.log_info(LogName::Events).await? {
            LogInfoReply::Found { last, .. } => last,
            LogInfoReply::NotFound { message } | LogInfoReply::Invalid { message } => {
                return Err(CliError::NotFound(message))
            }
            LogInfoReply::Unavailable { message } => return Err(CliError::Unavailable(message)),
        };
        if n > end {
            return Err(CliError::Invalid(format!("seq:{n} finns inte: händelseloggen slutar vid sekvens {end}")));
        }
    }
    let set_aside = set_aside(client, out, AuditPurpose::Replay).await?;
    let mut events: Vec<(u64, RecordedEvent)> = Vec::new();
    let mut unreadable: Option<(u64, codec::DecodeError)> = None;
    read_log(client, out, LogName::Events, AuditPurpose::Replay, "Läser loggen", |m| match codec::decode(&m.data) {
        Ok(sealed) => events.push((m.seq, sealed.event)),
        Err(_) if set_aside.contains_key(&m.seq) => {}
        Err(e) => {
            unreadable.get_or_insert((m.seq, e));
        }
    })
    .await?;
    if let Some((seq, detail)) = unreadable {
        // A type this version does not know was written by a newer stod: not damage.
        if detail.kind() == codec::DecodeErrorKind::UnknownType {
            return Err(CliError::Other(format!(
                "händelse {seq} är av en typ som den här versionen av stod inte känner ({detail}); \
                 den skrevs av en nyare version: uppdatera stod och försök igen"
            )));
        }
        return Err(CliError::Integrity {
            message: format!(
                "händelse {seq} går inte att läsa ({detail}); ingen rapport återskapas ur en skadad logg. \
                 stod audit verify visar vad som är fel"
            ),
            shown: false,
        });
    }
    let last = events.last().map_or(0, |(seq, _)| *seq);
    let total = events.len() as u64;

    let included: Vec<&(u64, RecordedEvent)> = events.iter().filter(|(seq, e)| cutoff.includes(*seq, e)).collect();
    let through = included.last().map_or(0, |(seq, _)| *seq);
    // Instances' clocks can differ a little: an event stored earlier may carry a later
    // recorded_at. Say so rather than hide it.
    let recorded_later = events.iter().filter(|(seq, e)| *seq < through && !cutoff.includes(*seq, e)).count();
    let moment = match cutoff {
        Cutoff::RecordedBy(t) => t,
        Cutoff::Sequence(_) => included.last().map_or_else(Timestamp::now, |(_, e)| e.recorded_at),
    };
    let today = match &spec {
        Spec::Throughput { today, .. } => today.unwrap_or_else(|| stod_events::sweden::date_of(moment)),
        Spec::Steering { meeting, .. } => *meeting,
        Spec::Funder { .. } => stod_events::sweden::date_of(moment),
    };

    let then = compute(&spec, &records_at(events.iter().map(|(s, e)| (*s, e)), cutoff), today);
    let then_json = then.json();
    let now = args.compare_now.then(|| {
        let now = compute(&spec, &records_at(events.iter().map(|(s, e)| (*s, e)), Cutoff::Sequence(last)), today);
        let now_json = now.json();
        let differences = stod_audit::compare(&then_json, &now_json);
        (now_json, differences)
    });

    let (kind, query) = match &spec {
        Spec::Throughput { period, .. } => ("throughput", json!({ "period": period.to_string(), "today": today })),
        Spec::Steering { meeting, previous, .. } => {
            ("styrgrupp", json!({ "as_of": meeting, "previous_meeting": previous }))
        }
        Spec::Funder { period } => ("funder", json!({ "period": period.to_string() })),
    };
    let mut json = json!({
        "status": "ok",
        "report_kind": kind,
        "as_of": cutoff,
        "query": query,
        "checkpoint": through,
        "events_included": included.len(),
        "log": { "events": total, "last_sequence": last },
        "report": then_json,
    });
    if let Some((now_json, differences)) = &now {
        json["compare_now"] = json!({
            "checkpoint": last,
            "events": total,
            "report": now_json,
            "differences": differences,
        });
    }
    if out.json {
        out.result(&json, String::new);
        return Ok(());
    }

    let cat = names(session).await;
    let basis = Basis::Replay(audit_text::replay_basis(&cutoff, included.len() as u64, through, total));
    let printed = stod_reports::printed_now();
    let text = match (&then, &spec) {
        (Replayed::Steering(r), Spec::Steering { format, .. }) if *format != ReportFormat::Text => {
            // A document to save or print: nothing around it.
            report::steering(&stod_projections::protect_steering(r, 1), &basis, &cat, *format, &printed)
        }
        (report, _) => {
            let mut text = format!(
                "Återskapad ur händelseloggen som den stod {}, i minnet: läsmodellerna i drift är inte använda.\n\n",
                audit_text::moment_text(&cutoff)
            );
            match report {
                Replayed::Throughput(r) => {
                    text.push_str(stod_reports::throughput::throughput_text(r, &basis, &cat).trim_end())
                }
                // Auditors see exact counts (no protection threshold).
                Replayed::Steering(r) => text.push_str(
                    report::steering(
                        &stod_projections::protect_steering(r, 1),
                        &basis,
                        &cat,
                        ReportFormat::Text,
                        &printed,
                    )
                    .trim_end(),
                ),
                Replayed::Funder(r) => text.push_str(
                    report::funder(&stod_projections::protect_funder(r, 1), &basis, &cat, ReportFormat::Text, &printed)
                        .trim_end(),
                ),
            }
            if recorded_later > 0 {
                text.push_str(&format!(
                    "\n\nObs: {} händelse(r) före sekvens {} registrerades efter tidpunkten (tjänsteinstansernas \
                     klockor skiljer sig något) och är inte med.",
                    grouped(recorded_later as u64),
                    grouped(through)
                ));
            }
            if let Some((_, differences)) = &now {
                text.push_str(&format!(
                    "\n\nJämfört med i dag: samma rapport ur hela loggen ({} händelser, t.o.m. händelse {}), \
                     samma datum.\n",
                    grouped(total),
                    grouped(last)
                ));
                text.push_str(&audit_text::differences_text(differences, &then_json, &cat));
            }
            text
        }
    };
    out.result(&json, || text.trim_end().to_owned());
    Ok(())
}

/// `stod audit access`: the access log, read straight from JetStream like the event log
/// (no service in between), never created by reading it, and read even when its
/// protection was loosened (with a warning, as `history` and `replay` do).
pub async fn access(client: &Client, url: &str, out: Output, args: AccessArgs) -> Result<(), CliError> {
    if let (Some(since), Some(until)) = (args.since, args.until) {
        if since > until {
            return Err(CliError::Invalid(format!(
                "--since ({}) ligger efter --until ({})",
                stod_reports::local_time(since),
                stod_reports::local_time(until)
            )));
        }
    }
    if let LogInfoReply::NotFound { .. } = client.log_info(LogName::Access).await? {
        return Err(CliError::NotFound(format!(
            "det finns ingen åtkomstlogg ({ACCESS_STREAM_NAME}) på {url}: tjänsterna har inte körts här med åtkomstloggning"
        )));
    }
    let filter = AccessFilter { user: args.by, case_id: args.case, since: args.since, until: args.until };
    let mut records = Vec::new();
    let mut corrupt = None;
    let (_, loosened) = read_log(client, out, LogName::Access, AuditPurpose::Access, "Läser åtkomstloggen", |m| {
        match stod_store::access::decode(m.seq, &m.subject, &m.data) {
            Ok(record) if filter.matches(&record) => records.push(StoredAccess { stream_sequence: m.seq, record }),
            Ok(_) => {}
            Err(e) => {
                corrupt.get_or_insert(e);
            }
        }
    })
    .await?;
    if let Some(e) = corrupt {
        return Err(CliError::Integrity {
            message: format!("åtkomstloggen innehåller något som stod inte har skrivit: {e}"),
            shown: false,
        });
    }
    let json = json!({
        "status": "ok",
        "filter": {
            "case_id": filter.case_id,
            "user": filter.user,
            "since": filter.since,
            "until": filter.until,
        },
        "count": records.len(),
        "records": records,
        "loosened": loosened,
    });
    out.result(&json, || audit_text::access_text(&records, &filter));
    Ok(())
}
