//! The `stod` binary: parse, set up logging, run. Everything else is the library.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use anyhow::Context as _;
use tracing_subscriber::EnvFilter;

/// Log filter unless `STOD_LOG` says otherwise: our own crates at info, the rest at warn.
const DEFAULT_LOG: &str = "warn,stod=info,stod_command=info,stod_store=info,stod_nats_server=info,stod_client=info";

fn main() -> anyhow::Result<ExitCode> {
    // Everything this process writes (the data directory, the managed server's store,
    // read models, keys, credentials, audit bundles) is its user's alone: directories
    // 0700, files 0600. The managed nats-server inherits it.
    #[cfg(unix)]
    // SAFETY: umask(2) only sets this process's file-mode mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
    let invocation = stod::Invocation::from_env();
    let filter = EnvFilter::try_from_env("STOD_LOG").unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG));
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter)
        .init();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    Ok(ExitCode::from(runtime.block_on(stod::execute(invocation))))
}
