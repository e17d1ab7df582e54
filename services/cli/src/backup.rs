//! `stod backup`, `stod backup verify`, `stod backup key` and `stod restore`: adapters
//! over `stod-backup` (taking and checking) and `stod-system` (restoring), with progress
//! for people and `--json` for scripts.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use stod_backup::{BackupError, Checked};
use stod_client::Client;
use stod_protocol::audit::LogName;
use stod_system::restore::Stage;
use stod_system::DataDir;

use crate::error::CliError;
use crate::output::Output;
use crate::run::system_error;

fn backup_error(e: BackupError) -> CliError {
    match e {
        BackupError::Damaged(_) => CliError::Integrity { message: e.to_string(), shown: false },
        BackupError::Usage(m) => CliError::Usage(m),
        BackupError::Io(m) => CliError::Other(m),
        BackupError::Client(c) => c.into(),
    }
}

fn bar(out: Output) -> ProgressBar {
    if out.json {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    let style = ProgressStyle::with_template("{spinner} {prefix:12} [{bar:30}] {pos}/{len} · {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("█▉▊▋▌▍▎▏ ");
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn name_sv(log: LogName) -> &'static str {
    match log {
        LogName::Events => "händelser",
        LogName::Access => "åtkomstlogg",
        LogName::Quarantine => "karantän",
        LogName::Participants => "deltagare",
        LogName::Reference => "referensdata",
        LogName::Registry => "register",
    }
}

/// A restore's (or a promotion's) stage on the progress bar.
fn show_stage(bar: &ProgressBar, stage: Stage, at: u64, last: u64) {
    bar.set_prefix(match stage {
        Stage::Checking => "kontrollerar".to_owned(),
        Stage::Writing(log) => format!("skriver {}", name_sv(log)),
        Stage::Comparing(log) => format!("jämför {}", name_sv(log)),
        Stage::Rebuilding => "läsmodeller".to_owned(),
    });
    bar.set_length(last);
    bar.set_position(at);
}

/// `stod backup --out DIR`.
pub async fn take(
    client: &Client,
    signer: Option<&stod_auth::Credentials>,
    out: Output,
    dir: &Path,
    data: Option<PathBuf>,
) -> Result<(), CliError> {
    let data = match data {
        Some(d) => Some(DataDir::new(d)),
        None => DataDir::default_location().ok().filter(|d| d.auth().users_path().exists()),
    };
    let auth = data.as_ref().map(DataDir::auth).filter(|a| a.users_path().exists());
    let bar = bar(out);
    let started = Instant::now();
    let taken = stod_backup::take_signed(client, signer, dir, auth.as_ref(), |log, at, last| {
        bar.set_prefix(name_sv(log));
        bar.set_length(last);
        bar.set_position(at);
        let rate = (at as f64 / started.elapsed().as_secs_f64().max(1e-3)) as u64;
        bar.set_message(format!("{rate}/s"));
    })
    .await;
    bar.finish_and_clear();
    let taken = taken.map_err(backup_error)?;
    let m = &taken.manifest;
    let json = json!({
        "status": "ok",
        "dir": taken.dir,
        "number": m.number,
        "kind": m.kind,
        "logs": m.logs.iter().map(|(k, p)| (k.clone(), json!({"from": p.from, "to": p.to, "messages": p.messages}))).collect::<serde_json::Map<_, _>>(),
        "buckets": m.buckets.iter().map(|(k, p)| (k.clone(), json!(p.keys))).collect::<serde_json::Map<_, _>>(),
        "users": m.auth.as_ref().map(|a| a.users),
        "signer": signer_key(signer),
        "seconds": started.elapsed().as_secs_f64(),
    });
    out.result(&json, || {
        let kind = match m.kind {
            stod_backup::Kind::Full => "full",
            stod_backup::Kind::Incremental => "inkrementell",
        };
        let mut text = format!("Säkerhetskopia {:04} ({kind}) i {}\n", m.number, taken.dir.display());
        for (log, p) in &m.logs {
            let name: &str = LogName::parse(log).map(name_sv).unwrap_or(log);
            if p.messages == 0 {
                text.push_str(&format!("  {name:13} inget nytt (loggen slutar på sekvens {})\n", p.to));
            } else {
                text.push_str(&format!("  {name:13} sekvens {}–{} ({} nya)\n", p.from, p.to, p.messages));
            }
        }
        for (bucket, p) in &m.buckets {
            let name: &str = LogName::parse(bucket).map(name_sv).unwrap_or(bucket);
            text.push_str(&format!("  {name:13} {} nycklar\n", p.keys));
        }
        match &m.auth {
            Some(a) => text.push_str(&format!("  {:13} {} personer (publika nycklar)\n", "användare", a.users)),
            None => text.push_str("  användare     inte med (ange --data KATALOG på serverns maskin)\n"),
        }
        if let Some(key) = signer_key(signer) {
            text.push_str(&format!("  signerad av   {} ({key})\n", client.user()));
        }
        text.push_str(&format!(
            "Klar på {:.1} s. Kontrollera: stod backup verify {}\n\
             Registernyckeln ingår inte: stod backup key --out FIL (förvaras på annan plats).",
            started.elapsed().as_secs_f64(),
            dir.display()
        ));
        text
    });
    Ok(())
}

/// The public key a backup is signed with.
fn signer_key(signer: Option<&stod_auth::Credentials>) -> Option<String> {
    signer.and_then(|c| nkeys::KeyPair::from_seed(&c.nkey_seed).ok()).map(|k| k.public_key())
}

fn check(out: Output, dir: &Path, signer: Option<&str>) -> Result<Checked, CliError> {
    let bar = bar(out);
    bar.set_prefix("kontrollerar");
    let checked = stod_backup::check_signed(dir, signer, |at, last| {
        bar.set_length(u64::from(last));
        bar.set_position(u64::from(at));
    });
    bar.finish_and_clear();
    checked.map_err(backup_error)
}

/// `stod backup verify DIR`.
pub fn verify(out: Output, dir: &Path, signer: Option<&str>) -> Result<(), CliError> {
    let checked = check(out, dir, signer)?;
    let signed_by = checked.signers.last().cloned().flatten();
    let problems = checked.describe_sv();
    let intact = checked.intact();
    let json = json!({
        "intact": intact,
        "backups": checked.manifests.len(),
        "events": checked.events.events,
        "cases": checked.events.cases,
        "last": LogName::ALL.iter().filter(|l| !l.is_bucket()).map(|l| (l.as_str().to_owned(), json!(checked.last(*l)))).collect::<serde_json::Map<_, _>>(),
        "problems": problems,
        "signed_by": signed_by.as_ref().map(|s| json!({ "user": s.user, "nkey": s.nkey })),
        "signer_checked": signer.is_some(),
        "newest": checked.manifests.last().map(|m| json!({ "number": m.number, "taken_at": m.taken_at })),
    });
    out.result(&json, || {
        let mut text = format!(
            "{} säkerhetskopior i {}: {} händelser i {} ärenden, till sekvens {}; åtkomstloggen till {}.\n",
            checked.manifests.len(),
            dir.display(),
            checked.events.events,
            checked.events.cases,
            checked.last(LogName::Events),
            checked.last(LogName::Access),
        );
        if let Some(m) = checked.manifests.last() {
            text.push_str(&format!("Senaste: {:04}, tagen {}.\n", m.number, m.taken_at));
        }
        match (&signed_by, signer) {
            (Some(s), Some(_)) => {
                text.push_str(&format!("Signerad av {} ({}), den väntade nyckeln.\n", s.user, s.nkey))
            }
            (Some(s), None) => text.push_str(&format!(
                "Signerad av {} ({}). Ange --signer {} för att kräva just den nyckeln.\n",
                s.user, s.nkey, s.nkey
            )),
            (None, _) => text.push_str("Inte signerad: bara filernas överensstämmelse med varandra är kontrollerad.\n"),
        }
        if intact {
            text.push_str("Hel: varje fil, varje kedja och varje kedjeslut stämmer, och tilläggen ansluter.");
        } else {
            text.push_str(&format!("INTE HEL ({} fel):\n", problems.len()));
            for p in &problems {
                text.push_str(&format!("  - {p}\n"));
            }
        }
        text
    });
    if intact {
        Ok(())
    } else {
        Err(CliError::Integrity {
            message: format!("säkerhetskopian i {} håller inte ihop", dir.display()),
            shown: true,
        })
    }
}

fn passphrase(from_stdin: bool, twice: bool) -> Result<String, CliError> {
    use std::io::BufRead as _;
    let read_error = |e: std::io::Error| CliError::Usage(format!("lösenfrasen kunde inte läsas: {e}"));
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(read_error)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    let first = rpassword::prompt_password("Lösenfras: ").map_err(read_error)?;
    if twice {
        let again = rpassword::prompt_password("Samma lösenfras igen: ").map_err(read_error)?;
        if again != first {
            return Err(CliError::Usage("lösenfraserna var inte lika; inget skrevs".into()));
        }
    }
    Ok(first)
}

/// `stod backup key --out FILE`.
pub fn seal_key(
    out: Output,
    file: &Path,
    data: Option<PathBuf>,
    registry_key: Option<PathBuf>,
    from_stdin: bool,
) -> Result<(), CliError> {
    let key_path = match registry_key {
        Some(p) => p,
        None => DataDir::or_default(data).map_err(system_error)?.registry_key(),
    };
    let key = std::fs::read(&key_path)
        .map_err(|e| CliError::Usage(format!("registernyckeln {} kan inte läsas: {e}", key_path.display())))?;
    if file.exists() {
        return Err(CliError::Usage(format!("{} finns redan; välj en ny fil", file.display())));
    }
    let sealed = stod_backup::key::seal(&key, &passphrase(from_stdin, true)?).map_err(backup_error)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    use std::io::Write as _;
    options
        .open(file)
        .and_then(|mut f| f.write_all(&sealed).and_then(|_| f.sync_all()))
        .map_err(|e| CliError::Other(format!("{}: {e}", file.display())))?;
    let json = json!({ "status": "ok", "file": file });
    out.result(&json, || {
        format!(
            "Registernyckeln är förseglad i {}.\nFörvara den på en annan plats än säkerhetskopiorna, och lösenfrasen på en tredje.",
            file.display()
        )
    });
    Ok(())
}

/// `stod restore --from DIR --data NEWDIR`.
pub async fn restore(out: Output, args: crate::args::RestoreArgs) -> Result<(), CliError> {
    let key = match &args.registry_key {
        Some(path) => {
            let sealed = std::fs::read(path).map_err(|e| {
                CliError::Usage(format!("den förseglade nyckeln {} kan inte läsas: {e}", path.display()))
            })?;
            Some(stod_backup::key::unseal(&sealed, &passphrase(args.passphrase_stdin, false)?).map_err(backup_error)?)
        }
        None => None,
    };
    let target = DataDir::new(&args.data);
    let bar = bar(out);
    let started = Instant::now();
    let restored = stod_system::restore::restore_dir(
        &args.from,
        args.signer.as_deref(),
        &target,
        key.as_deref(),
        args.port,
        |stage, at, last| show_stage(&bar, stage, at, last),
    )
    .await;
    bar.finish_and_clear();
    let restored = restored.map_err(system_error)?;
    let counts: serde_json::Map<_, _> =
        restored.counts.iter().map(|(log, n)| (log.as_str().to_owned(), json!(n))).collect();
    let json = json!({
        "status": "ok",
        "data": args.data,
        "counts": counts,
        "users": restored.users,
        "operator": restored.operator.user,
        "registry_key": restored.registry_key,
        "checkpoint": restored.checkpoint,
        "seconds": started.elapsed().as_secs_f64(),
    });
    out.result(&json, || {
        let mut text =
            format!("Återställt till {} på {:.1} s:\n", args.data.display(), started.elapsed().as_secs_f64());
        for (log, n) in &restored.counts {
            text.push_str(&format!("  {:13} {n}\n", name_sv(*log)));
        }
        text.push_str(&format!(
            "  {:13} {} personer, med sina gamla inloggningsuppgifter\n\
             Läsmodellerna är byggda till sekvens {}.\n",
            "användare", restored.users, restored.checkpoint
        ));
        if !restored.registry_key {
            text.push_str(
                "Registernyckeln lades inte tillbaka: utan den hittas ingen på personnummer. \
                 Lägg den med --registry-key, eller kopiera den till <DATA>/registry.key (läge 0600).\n",
            );
        }
        text.push_str(&format!(
            "Den nya driftanvändaren ({}) har sina uppgifter i {}/auth/credentials.\nStarta: stod up --data {}",
            restored.operator.user,
            args.data.display(),
            args.data.display()
        ));
        text
    });
    Ok(())
}

fn unseal_key(path: Option<&Path>, from_stdin: bool) -> Result<Option<Vec<u8>>, CliError> {
    let Some(path) = path else { return Ok(None) };
    let sealed = std::fs::read(path)
        .map_err(|e| CliError::Usage(format!("den förseglade nyckeln {} kan inte läsas: {e}", path.display())))?;
    Ok(Some(stod_backup::key::unseal(&sealed, &passphrase(from_stdin, false)?).map_err(backup_error)?))
}

/// `stod mirror --data DIR --upstream URL`: runs the mirror until Ctrl-C.
pub async fn mirror(
    session: &crate::session::Session,
    out: Output,
    data: Option<PathBuf>,
    upstream: Option<String>,
    (ca, insecure): (Option<PathBuf>, bool),
    port: u16,
) -> Result<(), CliError> {
    let Some(url) = upstream else {
        return Err(CliError::Usage(
            "ange primärens leaf-nod-adress: stod mirror --upstream nats-leaf://VÄRD:7422 --credentials spegel.creds"
                .into(),
        ));
    };
    let Some(credentials) = session.credentials().cloned() else {
        return Err(CliError::Usage(
            "ange spegelns inloggningsfil (från stod user add spegel --role spegel): --credentials FIL".into(),
        ));
    };
    if credentials.role != stod_auth::Role::Mirror {
        return Err(CliError::Usage(format!(
            "inloggningsfilen gäller {} med rollen {}; spegeln ansluter med en användare med rollen spegel",
            credentials.user, credentials.role
        )));
    }
    let dir = DataDir::or_default(data.map(|d| d.to_path_buf())).map_err(system_error)?;
    if ca.is_none() && !crate::run::is_loopback(&url) && !insecure {
        return Err(CliError::Usage(format!(
            "{url} är en annan maskin, och loggen skulle gå okrypterad hit. Ange --upstream-ca FIL (CA-certifikatet \
             för primärens --mirror-tls-cert), eller --upstream-insecure om en VPN redan krypterar"
        )));
    }
    let upstream = stod_system::mirror::Upstream { url: url.clone(), credentials, ca };
    let mut signals = stod_system::Signals::install().map_err(system_error)?;
    let mut running = stod_system::mirror::start(&dir, port, Some(&upstream)).await.map_err(system_error)?;
    let ready = json!({ "status": "ready", "data": dir.root(), "nats_url": running.server.url(), "upstream": url });
    out.result(&ready, || {
        format!(
            "Spegeln körs: {} följer {url}.\nData i {}. Stoppa med Ctrl-C. Efter en förlust av primären: stod mirror promote.",
            running.server.url(),
            dir.root().display()
        )
    });
    let mut tick = tokio::time::interval(Duration::from_secs(30));
    tick.tick().await;
    loop {
        tokio::select! {
            _ = signals.recv() => break,
            _ = tick.tick() => {
                if !running.server.is_running() {
                    return Err(CliError::Other("spegelns nats-server har stannat; se dess logg i <DATA>/nats".into()));
                }
                if let Ok(status) = stod_system::mirror::status(&running).await {
                    let line = json!({ "status": "mirror", "streams": status });
                    out.result(&line, || {
                        let events = status.get(stod_store::STREAM_NAME).map_or(0, |(last, _)| *last);
                        format!("Spegeln har händelseloggen till sekvens {events}.")
                    });
                }
            }
        }
    }
    running.server.stop().await.map_err(|e| CliError::Other(e.to_string()))?;
    out.result(&json!({ "status": "stopped" }), || "Spegeln är stoppad.".to_owned());
    Ok(())
}

/// `stod mirror promote --mirror DIR --data NEWDIR`.
pub async fn promote(
    out: Output,
    mirror: &Path,
    data: &Path,
    backup: Option<(&Path, Option<&str>)>,
    registry_key: Option<&Path>,
    passphrase_stdin: bool,
) -> Result<(), CliError> {
    let (backup, signer) = match backup {
        Some((dir, signer)) => (Some(dir), signer),
        None => (None, None),
    };
    let key = unseal_key(registry_key, passphrase_stdin)?;
    let bar = bar(out);
    let started = Instant::now();
    let target = DataDir::new(data);
    let promoted = stod_system::mirror::promote(
        &DataDir::new(mirror),
        &target,
        backup,
        signer,
        key.as_deref(),
        0,
        |stage, at, last| show_stage(&bar, stage, at, last),
    )
    .await;
    bar.finish_and_clear();
    let promoted = promoted.map_err(system_error)?;
    let counts: serde_json::Map<_, _> =
        promoted.counts.iter().map(|(log, n)| (log.as_str().to_owned(), json!(n))).collect();
    let json = json!({ "status": "ok", "data": data, "counts": counts, "users": promoted.users, "seconds": started.elapsed().as_secs_f64() });
    out.result(&json, || {
        let mut text = format!("Spegeln är nu en ny primär i {} ({:.1} s):\n", data.display(), started.elapsed().as_secs_f64());
        for (log, n) in &promoted.counts {
            text.push_str(&format!("  {:13} {n}\n", name_sv(*log)));
        }
        if backup.is_none() {
            text.push_str("Inga användare eller deltagarregister följde med (ange --backup KATALOG): lägg till personerna igen.\n");
        }
        text.push_str(&format!(
            "Starta: stod up --data {}\nPeka klienterna (STOD_NATS_URL) på den nya servern, och låt aldrig den gamla primären starta igen med samma data.",
            data.display()
        ));
        text
    });
    Ok(())
}
