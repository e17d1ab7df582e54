//! A projector in its own process, for tests that SIGKILL it.
//!
//! Usage: `stod-test-projector <nats-url> <data-dir>`. Runs until killed.
//!
//! With `STOD_TEST_FSIZE_LIMIT=<bytes>` the process may write no file past that size
//! (`RLIMIT_FSIZE`, with `SIGXFSZ` ignored so a write past it fails with `EFBIG`
//! instead of killing the process): a full disk under the read-model store, without
//! root or a special mount.

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if let Some(limit) = std::env::var_os("STOD_TEST_FSIZE_LIMIT") {
        let Some(limit) = limit.to_str().and_then(|l| l.parse::<u64>().ok()) else {
            eprintln!("STOD_TEST_FSIZE_LIMIT must be a number of bytes");
            std::process::exit(2);
        };
        if let Err(e) = limit_file_size(limit) {
            eprintln!("cannot limit the file size: {e}");
            std::process::exit(1);
        }
    }
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(dir)) = (args.next(), args.next()) else {
        eprintln!("usage: stod-test-projector <nats-url> <data-dir>");
        std::process::exit(2);
    };
    let client = match async_nats::ConnectOptions::new().retry_on_initial_connect().connect(url.as_str()).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot connect to {url}: {e}");
            std::process::exit(1);
        }
    };
    let opts = stod_projector::ProjectorOptions { max_batch: 500, ..stod_projector::ProjectorOptions::new(dir) };
    let _service = match stod_projector::start_service(client, opts).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("projector failed to start: {e}");
            std::process::exit(1);
        }
    };
    // Until SIGKILL: the point of this process is to be killed at a random moment.
    std::future::pending::<()>().await;
}

/// Caps the size of any file this process writes at `bytes`; writes past it fail.
fn limit_file_size(bytes: u64) -> std::io::Result<()> {
    let limit = libc::rlimit { rlim_cur: bytes as libc::rlim_t, rlim_max: bytes as libc::rlim_t };
    // SAFETY: setrlimit and signal have no memory-safety preconditions; the rlimit
    // struct lives across the call. Done before any other thread writes a file.
    unsafe {
        if libc::signal(libc::SIGXFSZ, libc::SIG_IGN) == libc::SIG_ERR {
            return Err(std::io::Error::last_os_error());
        }
        if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
