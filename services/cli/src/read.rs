//! The commands that read the read models: `report throughput`, `report styrgrupp`,
//! `report uppfoljning`, `case history`, `case list` and `worklist`. Each asks the projector (`stod-client`) and prints its answer:
//! the reply as received with `--json`, the Swedish report ([`crate::report`]) otherwise.

use stod_client::{Client, Report};
use stod_events::ids::CaseId;
use stod_projections::{AuditEntry, Caseload, CaseloadQuery, PublishedFunder, PublishedSteering, ThroughputReport};
use stod_protocol::{queries, FunderQuery, HistoryQuery, SteeringQuery, ThroughputQuery};

use crate::args::{CaseRef, CaseloadArgs, FunderArgs, FunderFormat, SteeringArgs, ThroughputArgs};
use crate::error::CliError;
use crate::output::Output;
use crate::report::{self, Basis};

fn basis<T>(answer: &Report<T>) -> Basis {
    Basis::ReadModel { checkpoint: answer.checkpoint, generation: answer.generation }
}

pub async fn throughput(client: &Client, out: Output, args: ThroughputArgs) -> Result<(), CliError> {
    let query = ThroughputQuery { period: report::period(&args)?, today: args.today };
    let answer: Report<ThroughputReport> = client.report(queries::THROUGHPUT, &query).await?;
    if out.json {
        out.result(&answer.raw, String::new);
        return Ok(());
    }
    let cat = client.catalogue().await;
    out.result(&answer.raw, || {
        stod_reports::throughput::throughput_text(&answer.report, &basis(&answer), &cat).trim_end().to_owned()
    });
    Ok(())
}

/// The steering group's report: the published form, small counts hidden by the
/// projector, never case ids.
pub async fn steering(client: &Client, out: Output, args: SteeringArgs) -> Result<(), CliError> {
    let as_of = args.as_of.unwrap_or_else(|| stod_projections::publication::latest(stod_events::sweden::today()));
    let query = SteeringQuery { as_of, previous_meeting: args.previous };
    let answer: Report<PublishedSteering> = client.report(queries::PUBLISHED_STEERING, &query).await?;
    if out.json {
        out.result(&answer.raw, String::new);
        return Ok(());
    }
    let cat = client.catalogue().await;
    out.result(&answer.raw, || {
        report::steering(&answer.report, &basis(&answer), &cat, args.format, &stod_reports::printed_now())
            .trim_end()
            .to_owned()
    });
    Ok(())
}

/// The funder's follow-up: a document, or CSV for Excel (written as bytes, with the
/// byte-order mark Excel needs to read UTF-8).
pub async fn funder(client: &Client, out: Output, args: FunderArgs) -> Result<(), CliError> {
    let period: stod_projections::Period = args
        .period
        .trim()
        .parse()
        .map_err(|e: stod_projections::period::BadPeriod| CliError::Invalid(e.to_string()))?;
    let query = FunderQuery { period: period.to_string() };
    let answer: Report<PublishedFunder> = client.report(queries::PUBLISHED_FUNDER, &query).await?;
    if out.json {
        out.result(&answer.raw, String::new);
        return Ok(());
    }
    let cat = client.catalogue().await;
    let format = match args.format {
        FunderFormat::Csv => {
            let csv = stod_reports::funder::funder_csv(&answer.report, &cat)
                .map_err(|e| CliError::Other(format!("CSV: {e}")))?;
            use std::io::Write as _;
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(&csv)
                .and_then(|_| stdout.flush())
                .map_err(|e| CliError::Other(format!("kunde inte skriva: {e}")))?;
            return Ok(());
        }
        FunderFormat::Text => crate::args::ReportFormat::Text,
        FunderFormat::Md => crate::args::ReportFormat::Md,
        FunderFormat::Html => crate::args::ReportFormat::Html,
    };
    out.result(&answer.raw, || {
        report::funder(&answer.report, &basis(&answer), &cat, format, &stod_reports::printed_now())
            .trim_end()
            .to_owned()
    });
    Ok(())
}

pub async fn history(client: &Client, out: Output, case: CaseId) -> Result<(), CliError> {
    let answer: Result<Report<Vec<AuditEntry>>, CliError> =
        client.report(queries::HISTORY, &HistoryQuery { case_id: case }).await.map_err(CliError::from);
    let answer = match answer {
        Ok(a) => a,
        // Our query is always well-formed, so `invalid` means the read models know no
        // such case (the reply has no kind of its own for that).
        Err(CliError::Invalid(_)) => {
            return Err(CliError::NotFound(format!(
                "ärendet {case} finns inte i läsmodellerna (ett ärende som just skrivits in kan dröja ett ögonblick; \
                 `stod case show {case}` läser loggen direkt)"
            )))
        }
        Err(e) => return Err(e),
    };
    out.result(&answer.raw, || stod_reports::case::history_text(case, &answer.report, &basis(&answer)));
    Ok(())
}

fn caseload_query(client: &Client, args: &CaseloadArgs) -> (CaseloadQuery, String) {
    let responsible = match (&args.responsible, args.all) {
        (_, true) => None,
        (Some(u), false) => Some(u.clone()),
        (None, false) => Some(client.user().clone()),
    };
    let whose = responsible.as_ref().map_or("alla".to_owned(), |u| format!("ansvarig {u}"));
    let query = CaseloadQuery {
        responsible,
        status: args.status,
        site: args.site.clone(),
        due: args.due,
        rule: args.rule,
        prefix: None,
        today: args.today,
        limit: args.limit,
    };
    (query, whose)
}

/// `stod case list`: the caseload.
pub async fn caseload(client: &Client, out: Output, args: CaseloadArgs) -> Result<(), CliError> {
    let (query, whose) = caseload_query(client, &args);
    let answer: Report<Caseload> = client.report(queries::CASELOAD, &query).await?;
    if out.json {
        out.result(&answer.raw, String::new);
    } else {
        let names = client.catalogue().await;
        out.result(&answer.raw, || {
            stod_reports::caseload::caseload_text(&answer.report, &whose, &names, &basis(&answer))
        });
    }
    Ok(())
}

/// `stod worklist`: what is due, item by item, with the command that resolves each.
pub async fn worklist(client: &Client, out: Output, args: CaseloadArgs) -> Result<(), CliError> {
    let (query, whose) = caseload_query(client, &args);
    let query = CaseloadQuery { due: true, ..query };
    let answer: Report<Caseload> = client.report(queries::CASELOAD, &query).await?;
    let now = stod_events::sweden::today();
    let items = stod_reports::caseload::work_items(&answer.report, now);
    let json = serde_json::json!({
        "today": answer.report.today,
        "items": items,
        "cases": answer.report.total,
        "truncated": answer.report.truncated,
        "checkpoint": answer.checkpoint,
        "generation": answer.generation,
    });
    out.result(&json, || stod_reports::caseload::worklist_text(&answer.report, &whose, now, &basis(&answer)));
    Ok(())
}

/// The case a person means: the id itself, or the one case whose id starts with the
/// characters given (asked of the read models, so a case recorded a moment ago may
/// need its whole id).
pub async fn resolve_case(client: &Client, case: &CaseRef) -> Result<CaseId, CliError> {
    let prefix = match case {
        CaseRef::Id(id) => return Ok(*id),
        CaseRef::Prefix(p) => p,
    };
    let query = CaseloadQuery { prefix: Some(prefix.clone()), limit: Some(5), ..CaseloadQuery::default() };
    // Only for roles that may read the caseload (checked before, in `run`). Taken as
    // unique only from read models that hold the whole log: a case recorded a moment
    // ago, not yet folded, could share the start and must not be passed over.
    let mut tries = 0;
    let answer: Report<Caseload> = loop {
        let end = client.projection_status().await?.status.log_end;
        let answer: Report<Caseload> = client.report(queries::CASELOAD, &query).await?;
        if end.is_some_and(|end| answer.checkpoint >= end) {
            break answer;
        }
        tries += 1;
        if tries >= 30 {
            return Err(CliError::Unavailable(format!(
                "läsmodellerna har inte hunnit ikapp loggen, så {prefix} kan inte slås upp säkert; ange hela ärende-id:t"
            )));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    match &answer.report.cases[..] {
        [] => Err(CliError::NotFound(format!(
            "inget ärende börjar med {prefix} (`stod case list --all` visar alla; ett ärende som just skrivits in \
             kan dröja ett ögonblick, ange då hela id:t)"
        ))),
        [only] if answer.report.total == 1 => Ok(only.case_id),
        some => {
            let ids: Vec<String> = some.iter().map(|c| c.case_id.to_string()).collect();
            Err(CliError::Usage(format!(
                "{prefix} passar {} ärenden ({}{}); ange fler tecken",
                answer.report.total,
                ids.join(", "),
                if answer.report.truncated { ", …" } else { "" }
            )))
        }
    }
}
