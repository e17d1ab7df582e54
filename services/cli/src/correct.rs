//! Building a correction (rättelse) from `--set FIELD=VALUE`.
//!
//! A correction carries the whole corrected fact. The case worker names only what
//! changes, so we take the fact as it currently stands (the latest correction of the
//! event, else the original), edit its JSON form field by field, and read it back as a
//! [`Fact`], which checks every value's type. The case rules then decide on the service.

use serde::Serialize;
use serde_json::{Map, Value};
use stod_events::case::RejectionKind;
use stod_events::event::{
    Assessor, ExitOutcome, Fact, FollowUpPoint, FollowUpStatus, Gender, PlacementEndReason, RegionOfBirth,
    TrainingDiscontinuedReason,
};
use stod_events::ids::{Date, EventId};
use stod_protocol::{CaseView, EventView};

use crate::error::CliError;
use crate::sv::Term;

/// Intake details that sit inside `registration.consented` but may be set by name.
const DETAIL_FIELDS: [&str; 5] = ["municipality", "referrer", "support_at_start", "birth_year", "region_of_birth"];

/// A correction ready to submit, with what it changes for the receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Correction {
    pub replacement: Fact,
    pub occurred_on: Date,
    /// (field, before, after), for people.
    pub changes: Vec<(String, String, String)>,
}

/// The event's fact as it stands now: its latest correction's replacement, else itself.
pub fn current(view: &CaseView, event: EventId) -> Result<&EventView, CliError> {
    let original = view
        .events
        .iter()
        .find(|e| e.event_id == event)
        .ok_or_else(|| CliError::NotFound(format!("händelsen {event} finns inte i ärendet {}", view.case_id)))?;
    if let Some(target) = original.corrects {
        return Err(CliError::Rejected {
            kind: RejectionKind::NotCorrectable,
            message: format!(
                "händelsen {event} är en rättelse eller makulering; rätta den ursprungliga händelsen {target} i stället"
            ),
            valid: vec![target.to_string()],
        });
    }
    Ok(view.events.iter().rev().find(|e| e.corrects == Some(event) && e.fact.is_some()).unwrap_or(original))
}

/// Applies `sets` to the event's current fact; `date` defaults to its current date.
pub fn build(
    view: &CaseView,
    event: EventId,
    sets: &[(String, String)],
    date: Option<Date>,
) -> Result<Correction, CliError> {
    let now = current(view, event)?;
    let fact =
        now.fact.clone().ok_or_else(|| CliError::Other(format!("händelsen {event} har inget innehåll att rätta")))?;
    let mut value = serde_json::to_value(&fact).map_err(|e| CliError::Other(e.to_string()))?;
    let fact_type = fact.event_type().name();
    let mut changes = Vec::new();
    for (field, raw) in sets {
        let before = set_field(&mut value, fact_type, field, raw)?;
        // Read back after each field, so an error names the field that caused it.
        serde_json::from_value::<Fact>(value.clone())
            .map_err(|e| CliError::Usage(format!("--set {field}={raw}: värdet passar inte fältet {field} ({e})")))?;
        changes.push((field.clone(), show(&before), raw.clone()));
    }
    let replacement: Fact =
        serde_json::from_value(value).map_err(|e| CliError::Usage(format!("rättelsen går inte att läsa: {e}")))?;
    let occurred_on = date.unwrap_or(now.occurred_on);
    if occurred_on != now.occurred_on {
        changes.push(("datum".into(), now.occurred_on.to_string(), occurred_on.to_string()));
    }
    Ok(Correction { replacement, occurred_on, changes })
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "(inget)".into(),
        other => other.to_string(),
    }
}

/// Sets one field; returns its old value.
fn set_field(fact: &mut Value, fact_type: &str, field: &str, raw: &str) -> Result<Value, CliError> {
    let Some(obj) = fact.as_object_mut() else {
        return Err(CliError::Other("händelsens innehåll är inte ett JSON-objekt".into()));
    };
    if field == "type" {
        return Err(CliError::Usage(
            "händelsens typ kan inte ändras genom rättelse; makulera och registrera på nytt".into(),
        ));
    }
    if fact_type == "enrolled" && field == "registration" {
        return Err(CliError::Usage(
            "registreringen (samtycke eller anonym) kan inte ändras med --set; makulera inskrivningen och skriv in på nytt, \
             eller rätta enskilda uppgifter: municipality, referrer, support_at_start, birth_year, region_of_birth"
                .into(),
        ));
    }
    let target: &mut Map<String, Value> = if fact_type == "enrolled" && DETAIL_FIELDS.contains(&field) {
        match obj.get_mut("registration").and_then(|r| r.get_mut("consented")).and_then(Value::as_object_mut) {
            Some(details) => details,
            None => {
                return Err(CliError::Usage(format!(
                    "deltagaren är anonymt registrerad, så {field} finns inte att rätta; \
                     att gå från anonym till registrering med samtycke kräver makulering och ny inskrivning"
                )))
            }
        }
    } else {
        obj
    };
    let Some(old) = target.get(field).cloned() else {
        let mut fields: Vec<&str> = target.keys().map(String::as_str).filter(|k| *k != "type").collect();
        if fact_type == "enrolled" {
            fields.retain(|k| *k != "registration");
            fields.extend(DETAIL_FIELDS);
        }
        return Err(CliError::Usage(format!(
            "händelsen ({fact_type}) har inget fält {field:?}; fält som kan rättas: {}",
            fields.join(", ")
        )));
    };
    let new = value_for(fact_type, field, raw, &old)?;
    target.insert(field.to_owned(), new);
    Ok(old)
}

/// The JSON value for `raw`: a Swedish token for the fixed-value fields, otherwise
/// typed like the value it replaces (so municipality=2084 stays a string code).
fn value_for(fact_type: &str, field: &str, raw: &str, old: &Value) -> Result<Value, CliError> {
    let term = match (fact_type, field) {
        ("placement_ended", "reason") => term::<PlacementEndReason>(raw),
        ("training_discontinued", "reason") => term::<TrainingDiscontinuedReason>(raw),
        ("progress_assessed", "assessor") => term::<Assessor>(raw),
        ("exited", "outcome") => term::<ExitOutcome>(raw),
        ("followed_up", "point") => term::<FollowUpPoint>(raw),
        ("followed_up", "status") => term::<FollowUpStatus>(raw),
        ("enrolled", "gender") => term::<Gender>(raw),
        ("enrolled", "region_of_birth") if raw != "null" => term::<RegionOfBirth>(raw),
        _ => None,
    };
    if let Some(result) = term {
        return result.map_err(|valid| CliError::Usage(format!("--set {field}={raw}: giltiga värden är {valid}")));
    }
    // `null` clears an optional field (region_of_birth, support_at_exit).
    if raw == "null" {
        return Ok(Value::Null);
    }
    Ok(match old {
        Value::String(_) => Value::String(raw.to_owned()),
        Value::Bool(_) => match raw {
            "true" | "ja" => Value::Bool(true),
            "false" | "nej" => Value::Bool(false),
            _ => return Err(CliError::Usage(format!("--set {field}={raw}: skriv ja eller nej"))),
        },
        Value::Number(_) => match serde_json::from_str::<Value>(raw) {
            Ok(n @ Value::Number(_)) => n,
            _ => return Err(CliError::Usage(format!("--set {field}={raw}: {field} ska vara ett heltal"))),
        },
        // Lists (scores) and unset optional values: JSON if it reads as JSON.
        _ => serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned())),
    })
}

/// `Some(Ok)` for a known token (or the English JSON name), `Some(Err(valid tokens))`.
fn term<T: Term + Serialize>(raw: &str) -> Option<Result<Value, String>> {
    if let Some(v) = T::from_token(raw) {
        return Some(serde_json::to_value(v).map_err(|e| e.to_string()));
    }
    let json_name =
        T::TERMS.iter().filter_map(|(v, ..)| serde_json::to_value(v).ok()).find(|v| v.as_str() == Some(raw));
    Some(json_name.ok_or_else(T::tokens))
}

#[cfg(test)]
mod tests {
    use super::*;
    use stod_events::event::{
        AnonymityReason, CorrectionReason, Enrolled, EnrolmentDetails, PlacementEnded, PlacementNo, PlacementStarted,
        Registration,
    };
    use stod_events::ids::{CaseId, Code, ParticipantRef, SubmissionId, Timestamp, UserId};

    fn ev(fact: Option<Fact>, corrects: Option<EventId>, day: u32) -> EventView {
        EventView {
            stream_sequence: 1,
            event_id: EventId::new(),
            event_type: String::new(),
            label: String::new(),
            occurred_on: Date::from_ymd(2025, 3, day).unwrap(),
            recorded_at: Timestamp::now(),
            recorded_by: UserId::parse("anna").unwrap(),
            submission_id: SubmissionId::new(),
            fact,
            corrects,
            reason: corrects.map(|_| CorrectionReason::EntryError),
            chain_hash: String::new(),
        }
    }

    fn case(events: Vec<EventView>) -> CaseView {
        CaseView {
            case_id: CaseId::new(),
            open: true,
            void: false,
            open_placements: vec![],
            open_trainings: vec![],
            events,
        }
    }

    fn placement(site: &str, hours: u8) -> Fact {
        Fact::PlacementStarted(PlacementStarted {
            placement: PlacementNo(1),
            site: Code::parse(site).unwrap(),
            work_area: Code::parse("montering").unwrap(),
            hours_per_week: hours,
        })
    }

    fn sets(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn corrects_the_latest_version_keeping_its_date() {
        let original = ev(Some(placement("atervinningsbutiken", 20)), None, 3);
        let first_fix = ev(Some(placement("atervinningsbutiken", 25)), Some(original.event_id), 4);
        let view = case(vec![original.clone(), first_fix]);
        let c = build(&view, original.event_id, &sets(&[("site", "vaderbacken")]), None).unwrap();
        assert_eq!(c.replacement, placement("vaderbacken", 25));
        assert_eq!(c.occurred_on, Date::from_ymd(2025, 3, 4).unwrap());
        assert_eq!(c.changes, vec![("site".into(), "atervinningsbutiken".into(), "vaderbacken".into())]);
    }

    #[test]
    fn values_are_typed_like_the_field_and_tokens_are_swedish() {
        let ended = ev(
            Some(Fact::PlacementEnded(PlacementEnded {
                placement: PlacementNo(1),
                reason: stod_events::event::PlacementEndReason::Completed,
            })),
            None,
            3,
        );
        let view = case(vec![ended.clone()]);
        let c = build(&view, ended.event_id, &sets(&[("reason", "halsa")]), None).unwrap();
        assert!(matches!(c.replacement, Fact::PlacementEnded(p) if p.reason == PlacementEndReason::Health));
        let err = build(&view, ended.event_id, &sets(&[("reason", "sjuk")]), None).unwrap_err();
        assert!(matches!(err, CliError::Usage(m) if m.contains("halsa")));

        let place = ev(Some(placement("atervinningsbutiken", 20)), None, 3);
        let view = case(vec![place.clone()]);
        let err = build(&view, place.event_id, &sets(&[("hours_per_week", "många")]), None).unwrap_err();
        assert!(matches!(err, CliError::Usage(m) if m.contains("hours_per_week")));
        let err = build(&view, place.event_id, &sets(&[("sajt", "x")]), None).unwrap_err();
        assert!(matches!(err, CliError::Usage(m) if m.contains("work_area")));
    }

    #[test]
    fn intake_details_are_set_by_name_but_not_for_anonymous_participants() {
        let details = EnrolmentDetails {
            municipality: Code::parse("2084").unwrap(),
            referrer: Code::parse("af").unwrap(),
            support_at_start: Code::parse("ingen").unwrap(),
            birth_year: 1990,
            region_of_birth: None,
        };
        let intake = ev(
            Some(Fact::Enrolled(Enrolled {
                participant: ParticipantRef::new(),
                gender: Gender::Woman,
                registration: Registration::Consented(details),
            })),
            None,
            3,
        );
        let view = case(vec![intake.clone()]);
        let c = build(
            &view,
            intake.event_id,
            &sets(&[("municipality", "2061"), ("birth_year", "1991"), ("region_of_birth", "europa")]),
            None,
        )
        .unwrap();
        let Fact::Enrolled(Enrolled { registration: Registration::Consented(d), .. }) = c.replacement else { panic!() };
        assert_eq!(
            (d.municipality.as_str(), d.birth_year, d.region_of_birth),
            ("2061", 1991, Some(RegionOfBirth::Europe))
        );

        let anon = ev(
            Some(Fact::Enrolled(Enrolled {
                participant: ParticipantRef::new(),
                gender: Gender::Man,
                registration: Registration::Anonymous(AnonymityReason::NoConsent),
            })),
            None,
            3,
        );
        let view = case(vec![anon.clone()]);
        assert!(matches!(
            build(&view, anon.event_id, &sets(&[("municipality", "2061")]), None),
            Err(CliError::Usage(_))
        ));
        assert!(build(&view, anon.event_id, &sets(&[("gender", "kvinna")]), None).is_ok());
    }

    #[test]
    fn a_correction_itself_is_not_the_target() {
        let original = ev(Some(placement("atervinningsbutiken", 20)), None, 3);
        let fix = ev(Some(placement("vaderbacken", 20)), Some(original.event_id), 3);
        let view = case(vec![original, fix.clone()]);
        assert!(matches!(build(&view, fix.event_id, &[], None), Err(CliError::Rejected { .. })));
        assert!(matches!(build(&view, EventId::new(), &[], None), Err(CliError::NotFound(_))));
    }
}
