//! The console in a real browser: headless Chromium, driven by `tests/browser/console.test.mjs`.
//!
//! The test starts a gateway without an admin token (so the console opens on first-run setup) and
//! a mock upstream, then runs the Node script, which walks one browser session through setup,
//! login, providers, routes, fallback, the playground, configuration import, consumers and their
//! keys, requiring client keys in Settings, and the dashboard, then sends priced traffic (a
//! success, a fallback and a failure) and checks that the Usage and Logs pages and the dashboard's
//! spend show what the admin API reports, saving a screenshot of every page into
//! `tests/browser/screenshots/`. The script's output is streamed into this test's output;
//! afterwards the test checks what reached the mock upstream and that no secret typed into the
//! browser appears in the gateway's logs.
//!
//! Chromium, Node and `playwright-core` are installed by `tests/run.sh`; when any is missing this
//! test fails and says so, rather than passing without having driven a browser.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use switchyard_tests::mock::When;
use switchyard_tests::{Gateway, GatewayOptions, MockUpstream, Reply, workspace_root};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;

/// The API key the script types into the provider forms.
const MOCK_API_KEY: &str = "sk-browser-mock-7d3f91c2a8e45b60";
/// The admin password the script chooses at setup, and the one it changes to.
const ADMIN_PASSWORDS: [&str; 2] = ["browser-test-pass-1", "browser-test-pass-2"];
/// A model whose first request the mock refuses with 503 (the route's primary, `mock`), so the
/// fallback `backup` answers it: a request with a two-step fallback trail.
const FALLBACK_MODEL: &str = "mock-flaky";
/// A model the mock always refuses with 500, through the primary and the fallback alike: a
/// failed request for the Logs page's error filter.
const FAILING_MODEL: &str = "mock-broken";
/// Far more than the script needs (well under a minute); only a hang reaches it.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(240);

/// What the browser test needs on this machine, or a failure that says how to get it.
struct Prerequisites {
    chromium: PathBuf,
    script: PathBuf,
    screenshots: PathBuf,
}

fn prerequisites() -> Prerequisites {
    let root = workspace_root();
    let browser_dir = root.join("tests/browser");
    let mut missing = Vec::new();

    let chromium = std::env::var_os("CHROMIUM")
        .filter(|c| !c.is_empty())
        .map(PathBuf::from)
        .or_else(|| find_on_path("chromium"))
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if !chromium.is_file() {
        missing.push(format!("chromium (looked for {})", chromium.display()));
    }
    let node_ok = std::process::Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !node_ok {
        missing.push("node (not on PATH)".to_owned());
    }
    let driver = browser_dir.join("node_modules/playwright-core/package.json");
    if !driver.is_file() {
        missing.push(format!("playwright-core ({} is missing)", driver.display()));
    }
    let console = root.join("console/dist/index.html");
    if !console.is_file() {
        missing.push(format!(
            "the built console ({} is missing; console/build.sh --console-only builds it)",
            console.display()
        ));
    }
    assert!(
        missing.is_empty(),
        "the browser test cannot run; missing: {}.\nRun tests/run.sh once: it installs chromium \
         and playwright-core and builds the console.",
        missing.join("; ")
    );
    Prerequisites {
        chromium,
        script: browser_dir.join("console.test.mjs"),
        screenshots: browser_dir.join("screenshots"),
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Copies a child's output into the test's output, line by line, as it arrives.
fn relay<R: AsyncRead + Unpin + Send + 'static>(
    stream: R,
    to_stderr: bool,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if to_stderr {
                eprintln!("[browser] {line}");
            } else {
                println!("[browser] {line}");
            }
        }
    })
}

async fn run_script(
    needs: &Prerequisites,
    gateway: &Gateway,
    mock: &MockUpstream,
    cwd: &Path,
) -> std::process::ExitStatus {
    let mut child = Command::new("node")
        .arg(&needs.script)
        .current_dir(cwd)
        .env("CONSOLE_URL", gateway.admin_url())
        .env("PROXY_URL", gateway.proxy_url())
        .env("MOCK_BASE_URL", mock.base_url())
        .env("MOCK_API_KEY", MOCK_API_KEY)
        .env("FALLBACK_MODEL", FALLBACK_MODEL)
        .env("FAILING_MODEL", FAILING_MODEL)
        .env("SETUP_CODE", gateway.setup_code().unwrap_or_default())
        .env("ADMIN_PASSWORD", ADMIN_PASSWORDS[0])
        .env("ADMIN_NEW_PASSWORD", ADMIN_PASSWORDS[1])
        .env("SCREENSHOT_DIR", &needs.screenshots)
        .env("CHROMIUM", &needs.chromium)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("could not start node {}: {e}", needs.script.display()));
    let out = relay(child.stdout.take().expect("stdout is piped"), false);
    let err = relay(child.stderr.take().expect("stderr is piped"), true);
    let status = match tokio::time::timeout(SCRIPT_TIMEOUT, child.wait()).await {
        Ok(status) => status.expect("waiting for node works"),
        Err(_) => {
            let _ = child.kill().await;
            panic!("the browser script did not finish within {SCRIPT_TIMEOUT:?}");
        }
    };
    // The pipes close when node exits (Chromium is its child and is closed or killed with it).
    for relay in [out, err] {
        let _ = tokio::time::timeout(Duration::from_secs(10), relay).await;
    }
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_walks_through_setup_configuration_and_traffic_in_chromium() {
    let needs = prerequisites();
    let mock = MockUpstream::start("mock").await;
    // Both providers the script creates call this mock; these two models fail there, for the
    // metered traffic at the end of the script.
    mock.enqueue_when(
        When::Model(FALLBACK_MODEL.into()),
        Reply::error(503, "overloaded, try the fallback"),
    );
    mock.reply_when(
        When::Model(FAILING_MODEL.into()),
        Reply::error(500, "the upstream is broken"),
    );
    let gateway = Gateway::start_with(GatewayOptions::default().without_admin_token()).await;

    let started = Instant::now();
    let status = run_script(
        &needs,
        &gateway,
        &mock,
        &workspace_root().join("tests/browser"),
    )
    .await;
    println!("browser script finished in {:.1?}", started.elapsed());
    assert!(
        status.success(),
        "the browser script failed ({status}); its output is above, and screenshots (including \
         one of the failure) are in {}",
        needs.screenshots.display()
    );

    // The provider created in the browser called the mock with the key typed into the form.
    let requests = mock.requests();
    assert!(
        requests.len() >= 4,
        "the mock saw the script's chats (got {})",
        requests.len()
    );
    for request in &requests {
        assert_eq!(request.path, "/v1/chat/completions");
        assert_eq!(
            request.bearer(),
            Some(MOCK_API_KEY),
            "the key typed into the provider form reached the upstream"
        );
    }
    assert!(
        requests.iter().any(|r| r.json()["stream"] == true),
        "the playground streamed through the gateway"
    );
    let sent = |model: &str| requests.iter().filter(|r| r.model() == model).count();
    assert_eq!(
        sent(FALLBACK_MODEL),
        2,
        "the fallback request tried mock (503), then backup"
    );
    assert!(
        sent(FAILING_MODEL) >= 2,
        "the failing request tried mock and backup"
    );

    let logs = gateway.stderr_text();
    for secret in [MOCK_API_KEY, ADMIN_PASSWORDS[0], ADMIN_PASSWORDS[1]] {
        assert!(
            !logs.contains(secret),
            "a secret typed into the console appears in the gateway's logs"
        );
    }
    assert!(
        !contains_client_key(&logs),
        "a consumer key created in the console appears in the gateway's logs"
    );
}

/// Whether `text` holds something shaped like a Switchyard client key: `sy-` and 36 or more
/// letters and digits.
fn contains_client_key(text: &str) -> bool {
    text.match_indices("sy-").any(|(at, _)| {
        text[at + 3..]
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .count()
            >= 36
    })
}
