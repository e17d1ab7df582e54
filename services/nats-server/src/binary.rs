//! Finding a nats-server binary and checking that it is new enough.

use std::env;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, ErrorKind};

/// Environment variable that names the nats-server binary to use. It wins over
/// every other place, so a developer can try another server build without
/// touching `.tools/`.
pub const BINARY_ENV: &str = "STOD_NATS_SERVER";

/// The oldest server we accept: 2.12 brought `sync_interval: always` as we use
/// it and atomic batch publish, which the event log's group commit relies on.
pub const MIN_VERSION: Version = Version { major: 2, minor: 12, patch: 0 };

const INSTALL_HINT: &str = "run `scripts/install-nats-server` in the stod repository \
     (it installs the pinned server into .tools/bin), or set STOD_NATS_SERVER to a nats-server >= 2.12";

/// A nats-server release number, as printed by `nats-server --version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl Version {
    /// Parses the output of `nats-server --version`, e.g. `nats-server: v2.15.1`.
    /// A pre-release suffix (`v2.12.0-RC.3`) is ignored: we only gate on
    /// features, and release candidates of a version already carry them.
    pub fn parse_version_output(output: &str) -> Option<Version> {
        let token = output
            .split_whitespace()
            .find(|word| word.starts_with('v') && word[1..].starts_with(|c: char| c.is_ascii_digit()))?;
        let numbers = token[1..].split(['-', '+']).next()?;
        let mut parts = numbers.split('.').map(str::parse::<u32>);
        let major = parts.next()?.ok()?;
        let minor = parts.next()?.ok()?;
        let patch = parts.next().unwrap_or(Ok(0)).ok()?;
        Some(Version { major, minor, patch })
    }
}

/// Finds the nats-server binary to run, and checks that it is at least
/// [`MIN_VERSION`].
///
/// Looks, in order, at:
/// 1. `$STOD_NATS_SERVER`, when set;
/// 2. `.tools/bin/nats-server` in the current directory or any ancestor, so a
///    checkout's own pinned server is used from anywhere inside it;
/// 3. this workspace's `.tools/bin/nats-server`, found from where this crate
///    was compiled, so `cargo test` works whatever the current directory;
/// 4. `nats-server` on `PATH`.
///
/// The first binary found is the one checked; an old server earlier in the
/// list is an error rather than silently skipped, so nobody runs the
/// durability tests against a server other than the one they think.
pub fn locate_binary() -> Result<PathBuf, Error> {
    let path = find_candidate()?;
    let version = binary_version(&path)?;
    if version < MIN_VERSION {
        return Err(Error::new(
            ErrorKind::UnsupportedVersion,
            format!("{} is nats-server {version}, but stod needs >= {MIN_VERSION}; {INSTALL_HINT}", path.display()),
        ));
    }
    Ok(path)
}

fn find_candidate() -> Result<PathBuf, Error> {
    if let Some(explicit) = env::var_os(BINARY_ENV).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(explicit);
        // An explicit choice that is wrong must fail loudly, not fall back.
        return if path.is_file() {
            Ok(path)
        } else {
            Err(Error::new(
                ErrorKind::BinaryNotFound,
                format!("{BINARY_ENV}={} is not a file; {INSTALL_HINT}", path.display()),
            ))
        };
    }

    let relative = Path::new(".tools").join("bin").join("nats-server");
    if let Ok(cwd) = env::current_dir() {
        if let Some(found) = cwd.ancestors().map(|dir| dir.join(&relative)).find(|p| p.is_file()) {
            return Ok(found);
        }
    }

    // CARGO_MANIFEST_DIR is services/nats-server; the workspace root is two up.
    let workspace_tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("..").join(&relative);
    if workspace_tools.is_file() {
        return Ok(workspace_tools);
    }

    if let Some(found) = search_path(OsStr::new("nats-server")) {
        return Ok(found);
    }

    Err(Error::new(
        ErrorKind::BinaryNotFound,
        format!("no nats-server in ${BINARY_ENV}, .tools/bin or PATH; {INSTALL_HINT}"),
    ))
}

fn search_path(name: &OsStr) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| candidate.is_file())
}

/// Runs `<binary> --version` and parses what it prints.
pub fn binary_version(binary: &Path) -> Result<Version, Error> {
    let output = Command::new(binary).arg("--version").output().map_err(|err| {
        Error::with_source(
            ErrorKind::UnsupportedVersion,
            format!("could not run `{} --version`; {INSTALL_HINT}", binary.display()),
            err,
        )
    })?;
    // Older releases printed the version on stderr; accept either.
    let text = format!("{} {}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    Version::parse_version_output(&text).ok_or_else(|| {
        Error::new(
            ErrorKind::UnsupportedVersion,
            format!(
                "`{} --version` printed {:?}, which is not a nats-server version; {INSTALL_HINT}",
                binary.display(),
                text.trim()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_release_and_prerelease_versions() {
        let v = |major, minor, patch| Version { major, minor, patch };
        assert_eq!(Version::parse_version_output("nats-server: v2.15.1\n"), Some(v(2, 15, 1)));
        assert_eq!(Version::parse_version_output("nats-server: v2.12.0-RC.3"), Some(v(2, 12, 0)));
        assert_eq!(Version::parse_version_output("nats-server: v2.9"), Some(v(2, 9, 0)));
        assert_eq!(Version::parse_version_output("command not found"), None);
    }

    #[test]
    fn minimum_version_is_compared_numerically() {
        let old = Version::parse_version_output("v2.11.9");
        let new = Version::parse_version_output("v2.100.0");
        assert!(old.is_some_and(|v| v < MIN_VERSION));
        assert!(new.is_some_and(|v| v >= MIN_VERSION));
    }
}
