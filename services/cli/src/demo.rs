//! A short, realistic demo for `stod up --demo`: five participants' journeys over the
//! past year, recorded through the client library exactly as case workers would.
//!
//! Recorded only into an empty log, so running `up --demo` again on the same data does
//! nothing twice.

use serde_json::json;
use stod_client::Client;
use stod_events::case::{Action, Command, TrainingRef};
use stod_events::event::{
    AnonymityReason, AreaScore, Assessor, CorrectionReason, EnrolmentDetails, ExitOutcome, Fact,
    FollowUpPoint, FollowUpStatus, Gender, PlacementEndReason, PlacementNo, Registration,
    RegionOfBirth, TrainingNo,
};
use stod_events::ids::{CaseId, Code, Date, EventId, ParticipantRef, UserId};
use stod_events::reference::Catalogue;
use stod_store::STREAM_NAME;

use crate::error::CliError;
use crate::output::Output;
use crate::show;

/// The user the demo records as, so demo events are recognisable in every history.
pub const DEMO_USER: &str = "demo";

/// Records the demo unless the log already holds events.
pub async fn run(nats: &async_nats::Client, out: Output) -> Result<(), CliError> {
    let js = async_nats::jetstream::new(nats.clone());
    let existing = match js.get_stream(STREAM_NAME).await {
        Ok(mut stream) => stream
            .info()
            .await
            .map(|info| info.state.messages)
            .map_err(|e| CliError::Unavailable(format!("händelseloggen: {e}")))?,
        Err(e) => return Err(CliError::Unavailable(format!("händelseloggen: {e}"))),
    };
    if existing > 0 {
        out.result(&json!({ "status": "demo", "recorded": false, "existing_events": existing }), || {
            format!("Demo: händelseloggen har redan {existing} händelser, så ingen demodata läggs till.")
        });
        return Ok(());
    }

    let user = UserId::parse(DEMO_USER).map_err(|e| CliError::Other(e.to_string()))?;
    let client = Client::from_nats(nats.clone(), user);
    let (_, file) = client.reference().await?;
    let mut demo = Demo { client, cat: show::names(file), today: stod_command::today_in_sweden(), out, cases: Vec::new(), events: 0 };
    out.say("Demo: registrerar fem deltagares vägar genom programmet (användare \"demo\"):");
    demo.script().await?;

    let cases: Vec<String> = demo.cases.iter().map(CaseId::to_string).collect();
    let first = cases.first().cloned().unwrap_or_default();
    out.result(&json!({ "status": "demo", "recorded": true, "cases": cases, "events": demo.events }), || {
        format!(
            "Demo klar: {} ärenden, {} händelser. Titta på det första:\n  STOD_USER=anna stod case show {first}",
            demo.cases.len(),
            demo.events
        )
    });
    Ok(())
}

struct Demo {
    client: Client,
    cat: Catalogue,
    today: Date,
    out: Output,
    cases: Vec<CaseId>,
    events: usize,
}

fn code(s: &str) -> Result<Code, CliError> {
    Code::parse(s).map_err(|e| CliError::Other(format!("demo: {e}")))
}

fn consented(municipality: &str, referrer: &str, support: &str, birth_year: u16, region: Option<RegionOfBirth>) -> Result<Registration, CliError> {
    Ok(Registration::Consented(EnrolmentDetails {
        municipality: code(municipality)?,
        referrer: code(referrer)?,
        support_at_start: code(support)?,
        birth_year,
        region_of_birth: region,
    }))
}

fn scores(pairs: &[(&str, u8)]) -> Result<Vec<AreaScore>, CliError> {
    pairs.iter().map(|(area, score)| Ok(AreaScore { area: code(area)?, score: *score })).collect()
}

impl Demo {
    fn day(&self, days_ago: i64) -> Date {
        Date::new(self.today.naive() - chrono::Duration::days(days_ago))
    }

    /// Opens a case for a new participant; returns the case and its number in the demo.
    async fn intake(&mut self, days_ago: i64, gender: Gender, registration: Registration) -> Result<CaseId, CliError> {
        let case = CaseId::new();
        self.cases.push(case);
        let action = Action::Enroll { participant: ParticipantRef::new(), gender, registration };
        self.record(case, days_ago, action).await?;
        self.out.say(&format!("      ärende {case}"));
        Ok(case)
    }

    async fn record(&mut self, case: CaseId, days_ago: i64, action: Action) -> Result<(EventId, Fact), CliError> {
        let command = Command::Record { occurred_on: self.day(days_ago), action };
        self.submit(case, command).await
    }

    async fn submit(&mut self, case: CaseId, command: Command) -> Result<(EventId, Fact), CliError> {
        let label = crate::record::event_type(&command).label_sv();
        let accepted = self.client.submit(case, command).await?;
        self.events += 1;
        let event_id = accepted.event_ids.first().copied().ok_or_else(|| CliError::Other("demo: tomt kvitto".into()))?;
        let view = self.client.case(case).await?;
        let event = view
            .events
            .iter()
            .find(|e| e.event_id == event_id)
            .ok_or_else(|| CliError::Other("demo: händelsen syns inte i ärendet".into()))?;
        let fact = event.fact.clone().ok_or_else(|| CliError::Other("demo: händelsen saknar innehåll".into()))?;
        let number = self.cases.iter().position(|c| *c == case).map_or(0, |i| i + 1);
        self.out.say(&format!(
            "  [{number}] {}  {label}: {}",
            event.occurred_on,
            show::describe(&fact, &self.cat)
        ));
        Ok((event_id, fact))
    }

    async fn script(&mut self) -> Result<(), CliError> {
        // 1: a woman born outside Europe, through placement, SFI and two assessments to a
        // job with wage subsidy, followed up after three months.
        let c = self.intake(330, Gender::Woman, consented("2084", "af", "forsorjningsstod", 1986, Some(RegionOfBirth::OutsideEurope))?).await?;
        self.record(c, 320, Action::StartPlacement { site: code("industrisparet")?, work_area: code("montering")?, hours_per_week: 20 }).await?;
        self.record(c, 310, Action::StartTraining { course: code("sfi")?, provider: code("vbu-komvux")? }).await?;
        let before = scores(&[("job-skills", 3), ("motivation", 5), ("stability", 4), ("basic-skills", 3)])?;
        self.record(c, 300, Action::AssessProgress { instrument: code("work-star")?, assessor: Assessor::Staff, scores: before }).await?;
        self.record(c, 200, Action::CompleteTraining { training: TrainingRef::Started(TrainingNo(1)), hours: 120, credential_earned: true }).await?;
        let after = scores(&[("job-skills", 6), ("motivation", 8), ("stability", 6), ("basic-skills", 6)])?;
        self.record(c, 150, Action::AssessProgress { instrument: code("work-star")?, assessor: Assessor::Joint, scores: after }).await?;
        self.record(c, 130, Action::EndPlacement { placement: PlacementNo(1), reason: PlacementEndReason::Employment }).await?;
        self.record(c, 125, Action::Exit { outcome: ExitOutcome::EmploymentSubsidised, support_at_exit: Some(code("lon")?) }).await?;
        self.record(c, 30, Action::FollowUp { point: FollowUpPoint::Months3, status: FollowUpStatus::Employed }).await?;

        // 2: a man from Smedjebacken at the dog centre, with a forklift licence.
        let c = self.intake(200, Gender::Man, consented("2061", "ame-smedjebacken", "aktivitetsstod", 1994, Some(RegionOfBirth::Sweden))?).await?;
        self.record(c, 195, Action::StartPlacement { site: code("luddes-hundcenter")?, work_area: code("djurskotsel")?, hours_per_week: 30 }).await?;
        let truck = TrainingRef::New { course: code("truckkort")?, provider: code("af-leverantor")? };
        self.record(c, 100, Action::CompleteTraining { training: truck, hours: 16, credential_earned: true }).await?;

        // 3: a placement recorded at the wrong site, then corrected.
        let c = self.intake(150, Gender::Woman, consented("2084", "socialtjansten", "forsorjningsstod", 1979, Some(RegionOfBirth::Europe))?).await?;
        let (wrong, fact) = self
            .record(c, 140, Action::StartPlacement { site: code("atervinningsbutiken")?, work_area: code("butik")?, hours_per_week: 15 })
            .await?;
        if let Fact::PlacementStarted(mut p) = fact {
            p.site = code("vaderbacken")?;
            p.work_area = code("textilhantering")?;
            let fix = Command::Correct {
                target: wrong,
                reason: CorrectionReason::EntryError,
                occurred_on: self.day(140),
                replacement: Fact::PlacementStarted(p),
            };
            self.submit(c, fix).await?;
        }
        self.record(c, 139, Action::AssessProgress { instrument: code("sjalvskattning")?, assessor: Assessor::Participant, scores: scores(&[("narhet", 4)])? }).await?;

        // 4: an anonymous participant (no consent): only gender and intake year are kept.
        let c = self.intake(90, Gender::Other, Registration::Anonymous(AnonymityReason::NoConsent)).await?;
        self.record(c, 85, Action::StartPlacement { site: code("odla-pa-angen")?, work_area: code("odling")?, hours_per_week: 10 }).await?;

        // 5: a recent intake, in a placement and a first-aid course.
        let c = self.intake(60, Gender::Man, consented("2061", "fk", "sjuk-aktivitetsersattning", 2001, None)?).await?;
        self.record(c, 55, Action::StartPlacement { site: code("disponentparken")?, work_area: code("fastighet-utemiljo")?, hours_per_week: 20 }).await?;
        self.record(c, 20, Action::StartTraining { course: code("hlr")?, provider: code("studieforbund")? }).await?;
        Ok(())
    }
}
