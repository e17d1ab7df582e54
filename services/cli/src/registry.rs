//! The participant registry from the command line: `case find`, `participant erase`,
//! and the registration `intake --personnummer` does first.
//!
//! The number is sent as typed; the registry service validates it, holds the key and
//! answers. Nothing here prints or logs the number: replies name the participant
//! reference, and messages at most the date part (`19900314-****`).

use serde_json::json;
use stod_client::Client;
use stod_protocol::{RegistryOp, RegistryReply};

use crate::error::CliError;
use crate::output::Output;

/// The personnummer as given with `--personnummer`: `-` reads it from standard input
/// (asking for it on a terminal), so it never lands in the shell's history or the
/// process list; a number typed on the command line works, with a warning.
pub fn read_personnummer(given: &str) -> Result<String, CliError> {
    use std::io::{BufRead as _, IsTerminal as _, Write as _};
    if given != "-" {
        eprintln!(
            "Varning: ett personnummer på kommandoraden sparas i skalets historik och syns för andra i \
             processlistan. Skriv --personnummer - och ange numret när det efterfrågas."
        );
        return Ok(given.to_owned());
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Personnummer: ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line).map_err(|e| CliError::Usage(format!("personnumret kunde inte läsas: {e}")))?;
    let number = line.trim().to_owned();
    if number.is_empty() {
        return Err(CliError::Usage(
            "inget personnummer angavs på standard in (--personnummer -); skriv t.ex. 19811218-9876".into(),
        ));
    }
    Ok(number)
}

/// `stod case find --personnummer`.
pub async fn find(client: &Client, out: Output, personnummer: &str) -> Result<(), CliError> {
    let personnummer = read_personnummer(personnummer)?;
    match client.registry(RegistryOp::Lookup, &personnummer).await? {
        RegistryReply::Found { participant, case_id, case_open } => {
            let json =
                json!({ "status": "found", "participant": participant, "case_id": case_id, "case_open": case_open });
            out.result(&json, || {
                let mut text = format!("Deltagare: {participant}");
                match (case_id, case_open) {
                    (Some(case), Some(open)) => {
                        let state = if open { "öppet" } else { "avslutat" };
                        text.push_str(&format!("\nÄrende:    {case} ({state})\nVisa det:  stod case show {case}"));
                    }
                    _ => text.push_str("\nIngen inskrivning är registrerad för deltagaren ännu."),
                }
                text
            });
            Ok(())
        }
        other => Err(failure(other)),
    }
}

/// `stod participant erase --personnummer --yes`.
pub async fn erase(client: &Client, out: Output, personnummer: &str) -> Result<(), CliError> {
    let personnummer = read_personnummer(personnummer)?;
    match client.registry(RegistryOp::Erase, &personnummer).await? {
        RegistryReply::Erased => {
            out.result(&json!({ "status": "erased" }), || {
                "Gallrat: kopplingen mellan personnumret och deltagaren är borttagen ur deltagarregistret.\n\
                 Ärendena finns kvar i händelseloggen under den slumpmässiga deltagarreferensen, och i\n\
                 statistiken, men kan inte längre hittas med personnumret."
                    .to_owned()
            });
            Ok(())
        }
        other => Err(failure(other)),
    }
}

/// The refusal before anything is sent: erasure cannot be undone.
pub fn erase_needs_confirmation() -> CliError {
    CliError::Usage(
        "gallring tar bort kopplingen mellan personnumret och deltagaren för alltid och kan inte ångras: \
         ärendena och statistiken finns kvar men kan aldrig mer hittas med personnumret, och en ny \
         registrering ger en ny deltagarreferens. Lägg till --yes för att gallra. Inget gallrades."
            .into(),
    )
}

/// A reply that is not the one the operation hoped for.
fn failure(reply: RegistryReply) -> CliError {
    match reply {
        RegistryReply::Invalid { message, valid, .. } => {
            // Shown as "ogiltigt: personnummer: ...": the service's message already
            // begins "ogiltigt personnummer".
            let message = message.strip_prefix("ogiltigt ").unwrap_or(&message);
            CliError::Invalid(format!("{message}\nGiltigt: {valid}"))
        }
        RegistryReply::NotFound { message } => CliError::NotFound(message),
        RegistryReply::Unavailable { message } => CliError::Unavailable(message),
        RegistryReply::Limited { message, .. } => CliError::Unavailable(message),
        other => CliError::Other(format!("oväntat svar från deltagarregistret: {}", status_of(&other))),
    }
}

fn status_of(reply: &RegistryReply) -> &'static str {
    match reply {
        RegistryReply::Found { .. } => "found",
        RegistryReply::Registered { .. } => "registered",
        RegistryReply::Erased => "erased",
        RegistryReply::NotFound { .. } => "not_found",
        RegistryReply::Invalid { .. } => "invalid",
        RegistryReply::Unavailable { .. } => "unavailable",
        RegistryReply::Limited { .. } => "limited",
    }
}
