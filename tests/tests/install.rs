//! `install.sh --non-interactive` end to end: install, route to mocks, re-run, commands, uninstall.
//!
//! Each test installs the frozen binary with `--from-binary` into its own temporary HOME and
//! prefix, on free ports, with `--no-systemd`; the [`Sandbox`] stops the gateway when dropped.

#[path = "../install/sandbox.rs"]
mod sandbox;

use std::os::unix::fs::MetadataExt;

use sandbox::{Sandbox, mode, process_alive};
use switchyard_shared::secret::mask_secret;
use switchyard_tests::{MockUpstream, switchyard_bin};

const OPENAI_KEY: &str = "sk-install-openai-5f1c9a7e3b2d4c60";
const DEEPSEEK_KEY: &str = "sk-install-deepseek-8e2b6d4f1a3c5e79";

/// Installs with an openai provider (key and base URL from flags) pointing at `mock`.
async fn install_openai(sandbox: &Sandbox, mock: &MockUpstream) -> sandbox::Run {
    let base_url = mock.base_url();
    sandbox
        .install(
            &["--openai-key", OPENAI_KEY, "--openai-base-url", &base_url],
            &[],
        )
        .await
}

/// Sends a chat for `model` through the proxy and asserts that `mock` received it with `key`.
async fn assert_routed(sandbox: &Sandbox, model: &str, mock: &MockUpstream, key: &str) {
    let before = mock.request_count();
    sandbox
        .chat(model)
        .await
        .expect_status(200, &format!("a chat for {model}"));
    assert_eq!(
        mock.request_count(),
        before + 1,
        "{model} reached {}",
        mock.name()
    );
    let request = mock.last_request();
    assert_eq!(request.path, "/v1/chat/completions");
    assert_eq!(request.model(), model);
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {key}").as_str()),
        "{} received the key the installer was given",
        mock.name()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_interactive_install_serves_the_configured_models_without_leaking_keys() {
    let openai = MockUpstream::start("openai").await;
    let deepseek = MockUpstream::start("deepseek").await;
    let sandbox = Sandbox::new();
    let (openai_url, deepseek_url) = (openai.base_url(), deepseek.base_url());
    let install = sandbox
        .install(
            &[
                "--openai-key",
                OPENAI_KEY,
                "--openai-base-url",
                &openai_url,
                "--openai-models",
                "gpt-,o3",
                "--deepseek-base-url",
                &deepseek_url,
            ],
            &[("DEEPSEEK_API_KEY", DEEPSEEK_KEY)],
        )
        .await;

    // The installed binary runs and is the one given with --from-binary.
    let version = std::process::Command::new(sandbox.installed_bin())
        .arg("--version")
        .output()
        .expect("the installed binary runs");
    let expected = std::process::Command::new(switchyard_bin())
        .arg("--version")
        .output()
        .expect("the frozen binary runs");
    assert!(version.status.success(), "--version exits 0");
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("switchyard "));
    assert_eq!(version.stdout, expected.stdout);
    assert_eq!(mode(&sandbox.installed_bin()), 0o755);

    // The summary names the console, the proxy and a request to try.
    let output = install.all();
    for wanted in [
        format!("Console:   http://127.0.0.1:{}/", sandbox.console_port),
        format!("Proxy:     http://127.0.0.1:{}/v1", sandbox.port),
        format!("curl http://127.0.0.1:{}/v1/chat/completions", sandbox.port),
    ] {
        assert!(output.contains(&wanted), "{wanted:?} in:\n{output}");
    }

    // The service answers, and `status` says so without being told the ports.
    assert!(sandbox.is_live().await, "/api/health/live answers 200");
    let status = sandbox.installer(&["status"], &[]).await;
    status.expect_success("install.sh status");
    assert!(
        status
            .stdout
            .contains(&format!("127.0.0.1:{}/v1", sandbox.port))
    );

    // Each configured prefix reaches its provider with its key.
    assert_routed(&sandbox, "gpt-4o-mini", &openai, OPENAI_KEY).await;
    assert_routed(&sandbox, "o3-mini", &openai, OPENAI_KEY).await;
    assert_routed(&sandbox, "deepseek-chat", &deepseek, DEEPSEEK_KEY).await;
    sandbox
        .chat("o1-preview")
        .await
        .expect_status(404, "o1 was replaced by --openai-models");

    // The admin API shows the keys masked.
    let providers = sandbox.admin_get("/api/providers").await;
    let keys: Vec<&str> = providers
        .as_array()
        .expect("a provider list")
        .iter()
        .flat_map(|p| p["api_keys"].as_array().expect("masked keys"))
        .filter_map(|k| k.as_str())
        .collect();
    assert_eq!(keys.len(), 2, "one key each: {providers}");
    for key in [OPENAI_KEY, DEEPSEEK_KEY] {
        assert!(keys.contains(&mask_secret(key).as_str()), "{key} masked");
    }

    // The files are private, and the service gets the admin token through the env file.
    let data_dir = sandbox.data_dir();
    assert_eq!(mode(&data_dir), 0o700, "the data dir's mode");
    assert_eq!(mode(&data_dir.join("admin-token")), 0o600);
    assert_eq!(mode(&data_dir.join("switchyard.env")), 0o600);
    let env_file = std::fs::read_to_string(data_dir.join("switchyard.env")).expect("env file");
    assert!(env_file.contains(&format!(
        "SWITCHYARD_ADMIN_TOKEN=\"{}\"",
        sandbox.admin_token()
    )));
    assert_eq!(sandbox.admin_token().len(), 64, "32 random bytes in hex");

    // No key appears in what the installer printed, the env file, the log or `logs`.
    let logs = sandbox.installer(&["logs"], &[]).await;
    logs.expect_success("install.sh logs");
    assert!(
        logs.stdout.contains("switchyard is ready"),
        "{}",
        logs.stdout
    );
    for key in [OPENAI_KEY, DEEPSEEK_KEY] {
        assert!(!output.contains(key), "the installer printed {key}");
        assert!(!env_file.contains(key), "the env file holds {key}");
        assert!(!sandbox.log().contains(key), "switchyard.log holds {key}");
        assert!(!logs.all().contains(key), "install.sh logs printed {key}");
    }
    // The config document handed to `config apply` held the keys; it must not be left behind.
    let leftovers: Vec<_> = std::fs::read_dir(sandbox.tmp())
        .expect("the sandbox's TMPDIR")
        .collect();
    assert!(leftovers.is_empty(), "files left in TMPDIR: {leftovers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rerun_upgrades_in_place_and_keeps_the_data() {
    let mock = MockUpstream::start("openai").await;
    let sandbox = Sandbox::new();
    install_openai(&sandbox, &mock).await;
    assert_routed(&sandbox, "gpt-4o", &mock, OPENAI_KEY).await;
    let token = sandbox.admin_token();
    let first_pid = sandbox.supervisor_pid().expect("a pid file");
    let first_inode = std::fs::metadata(sandbox.installed_bin())
        .expect("the installed binary")
        .ino();

    // A re-run without any provider options: what is configured must survive it.
    let rerun = sandbox.install(&[], &[]).await;
    assert!(
        rerun.all().contains("Switchyard is running."),
        "{}",
        rerun.all()
    );

    assert_eq!(sandbox.admin_token(), token, "the admin token is kept");
    let inode = std::fs::metadata(sandbox.installed_bin())
        .expect("the installed binary")
        .ino();
    assert_ne!(inode, first_inode, "the binary was replaced, not rewritten");
    assert!(!sandbox.prefix().join("bin/switchyard.new").exists());
    let pid = sandbox.supervisor_pid().expect("a pid file");
    assert_ne!(pid, first_pid, "the gateway was restarted");
    assert!(!process_alive(first_pid), "the old supervisor is gone");
    assert_eq!(
        sandbox.processes().len(),
        2,
        "one supervisor and one gateway run"
    );
    assert!(sandbox.is_live().await);
    assert_routed(&sandbox, "gpt-4o", &mock, OPENAI_KEY).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn day_to_day_commands_and_uninstall() {
    let mock = MockUpstream::start("openai").await;
    let sandbox = Sandbox::new();
    install_openai(&sandbox, &mock).await;

    // The day-to-day commands take the ports and the prefix from the installation.
    sandbox
        .installer(&["stop"], &[])
        .await
        .expect_success("stop");
    assert!(sandbox.processes().is_empty(), "stop ends every process");
    assert!(!sandbox.is_live().await, "stopped gateways do not answer");
    let status = sandbox.installer(&["status"], &[]).await;
    status.expect_code(3, "status of a stopped gateway");
    assert!(status.stdout.contains("not running"), "{}", status.stdout);

    sandbox
        .installer(&["start"], &[])
        .await
        .expect_success("start");
    assert!(sandbox.is_live().await);
    let started_pid = sandbox.supervisor_pid().expect("a pid file");
    sandbox
        .installer(&["restart"], &[])
        .await
        .expect_success("restart");
    assert!(sandbox.is_live().await);
    assert_ne!(sandbox.supervisor_pid(), Some(started_pid), "restarted");
    assert_routed(&sandbox, "gpt-4o", &mock, OPENAI_KEY).await;

    // Uninstall removes the binary and stops the gateway, but keeps the data.
    let uninstall = sandbox.installer(&["uninstall"], &[]).await;
    uninstall.expect_success("uninstall");
    assert!(!sandbox.installed_bin().exists(), "the binary is removed");
    assert!(sandbox.processes().is_empty(), "no gateway process is left");
    assert!(!sandbox.is_live().await);
    for kept in ["admin-token", "switchyard.db", "switchyard.env"] {
        assert!(sandbox.data_dir().join(kept).exists(), "{kept} is kept");
    }

    // With --purge (confirmed by --yes) the data goes too.
    sandbox
        .installer(&["uninstall", "--purge", "--yes"], &[])
        .await
        .expect_success("uninstall --purge --yes");
    assert!(!sandbox.data_dir().exists(), "the data dir is deleted");
}
