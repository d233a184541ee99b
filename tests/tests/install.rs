//! `install.sh --non-interactive` end to end: install, route to mocks, re-run, commands, uninstall,
//! the installation record, keys from the environment and standard input, interrupts, and the
//! one-time setup code.
//!
//! Each test installs the frozen binary with `--from-binary` into its own temporary HOME and
//! prefix, on free ports, with `--no-systemd`; the [`Sandbox`] stops the gateway when dropped.

#[path = "../install/sandbox.rs"]
mod sandbox;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sandbox::{Sandbox, mode, process_alive};
use switchyard_shared::secret::mask_secret;
use switchyard_tests::{MockUpstream, switchyard_bin};

const OPENAI_KEY: &str = "sk-install-openai-5f1c9a7e3b2d4c60";
const DEEPSEEK_KEY: &str = "sk-install-deepseek-8e2b6d4f1a3c5e79";

/// Installs with an openai provider (key from the environment, base URL from a flag) pointing at
/// `mock`, plus `extra` options.
async fn install_openai(sandbox: &Sandbox, mock: &MockUpstream, extra: &[&str]) -> sandbox::Run {
    let base_url = mock.base_url();
    let mut args = vec!["--openai-base-url", base_url.as_str()];
    args.extend_from_slice(extra);
    sandbox
        .install(&args, &[("OPENAI_API_KEY", OPENAI_KEY)])
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
                "--openai-base-url",
                &openai_url,
                "--openai-models",
                "gpt-,o3",
                "--deepseek-base-url",
                &deepseek_url,
            ],
            &[
                ("OPENAI_API_KEY", OPENAI_KEY),
                ("DEEPSEEK_API_KEY", DEEPSEEK_KEY),
            ],
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
    install_openai(&sandbox, &mock, &[]).await;
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
    install_openai(&sandbox, &mock, &[]).await;

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

/// The pids of the supervisor and the gateway as the installer recorded them, asserting both run.
fn running_pids(sandbox: &Sandbox) -> [u32; 2] {
    let supervisor = sandbox.supervisor_pid().expect("a supervisor pid file");
    let gateway = sandbox.gateway_pid().expect("a gateway pid file");
    assert!(
        process_alive(supervisor),
        "the supervisor {supervisor} runs"
    );
    assert!(process_alive(gateway), "the gateway {gateway} runs");
    [supervisor, gateway]
}

/// Asserts that none of `pids` runs any more, and that no process of the sandbox is left.
fn assert_all_gone(sandbox: &Sandbox, pids: &[u32], after: &str) {
    for pid in pids {
        assert!(
            !process_alive(*pid),
            "process {pid} still runs after {after}"
        );
    }
    assert_eq!(
        sandbox.processes(),
        Vec::<u32>::new(),
        "processes left after {after}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_data_dir_and_ports_are_recorded_and_every_command_acts_on_them_without_flags() {
    let mock = MockUpstream::start("openai").await;
    let sandbox = Sandbox::with_custom_data_dir();
    let data_dir = sandbox.data_dir().display().to_string();
    install_openai(&sandbox, &mock, &["--data-dir", &data_dir]).await;
    assert_routed(&sandbox, "gpt-4o", &mock, OPENAI_KEY).await;
    assert!(
        !sandbox.default_data_dir().exists(),
        "the default data dir is not used"
    );

    // One private record names the installation.
    let record = std::fs::read_to_string(sandbox.record_file()).expect("the installation record");
    assert_eq!(mode(&sandbox.record_file()), 0o600, "the record's mode");
    assert_eq!(mode(sandbox.record_file().parent().expect("a dir")), 0o700);
    for line in [
        format!(
            "SWITCHYARD_INSTALL_PREFIX=\"{}\"",
            sandbox.prefix().display()
        ),
        format!("SWITCHYARD_INSTALL_DATA_DIR=\"{data_dir}\""),
        format!("SWITCHYARD_INSTALL_PORT=\"{}\"", sandbox.port),
        format!(
            "SWITCHYARD_INSTALL_CONSOLE_PORT=\"{}\"",
            sandbox.console_port
        ),
        "SWITCHYARD_INSTALL_SERVICE=\"supervised\"".to_owned(),
    ] {
        assert!(
            record.lines().any(|l| l == line),
            "{line:?} in the record:\n{record}"
        );
    }

    // Every day-to-day command, typed with no option at all, acts on that installation.
    let status = sandbox.installer_bare(&["status"]).await;
    status.expect_success("status");
    assert!(
        status
            .stdout
            .contains(&format!("127.0.0.1:{}/v1", sandbox.port)),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains(&data_dir),
        "status names the data dir: {}",
        status.stdout
    );
    let logs = sandbox.installer_bare(&["logs"]).await;
    logs.expect_success("logs");
    assert!(
        logs.stdout.contains("switchyard is ready"),
        "{}",
        logs.stdout
    );
    assert!(
        logs.stdout.contains(&data_dir),
        "the log of this installation: {}",
        logs.stdout
    );

    let first = running_pids(&sandbox);
    sandbox
        .installer_bare(&["stop"])
        .await
        .expect_success("stop");
    assert_all_gone(&sandbox, &first, "stop");
    assert!(!sandbox.is_live().await);
    let status = sandbox.installer_bare(&["status"]).await;
    status.expect_code(3, "status of a stopped gateway");
    assert!(status.stdout.contains("not running"), "{}", status.stdout);

    sandbox
        .installer_bare(&["start"])
        .await
        .expect_success("start");
    assert!(sandbox.is_live().await, "start started it");
    let started = running_pids(&sandbox);
    let restart = sandbox.installer_bare(&["restart"]).await;
    restart.expect_success("restart");
    assert!(
        restart
            .stdout
            .contains(&format!("127.0.0.1:{}/v1", sandbox.port)),
        "{}",
        restart.stdout
    );
    assert!(sandbox.is_live().await, "restart left it running");
    for pid in started {
        assert!(!process_alive(pid), "restart ended the old process {pid}");
    }
    assert_routed(&sandbox, "gpt-4o", &mock, OPENAI_KEY).await;
    let before_uninstall = running_pids(&sandbox);
    assert_eq!(
        sandbox.processes().len(),
        2,
        "one supervisor and one gateway"
    );

    // Uninstall stops both processes before it removes the binary, and keeps the data.
    sandbox
        .installer_bare(&["uninstall"])
        .await
        .expect_success("uninstall");
    assert_all_gone(&sandbox, &before_uninstall, "uninstall");
    assert!(!sandbox.is_live().await, "nothing answers after uninstall");
    assert!(!sandbox.installed_bin().exists(), "the binary is removed");
    for kept in ["admin-token", "switchyard.db", "switchyard.env"] {
        assert!(sandbox.data_dir().join(kept).exists(), "{kept} is kept");
    }
    let status = sandbox.installer_bare(&["status"]).await;
    status.expect_code(3, "status after uninstall");
    assert!(status.stdout.contains("not installed"), "{}", status.stdout);

    // The record still leads uninstall --purge to the custom data dir.
    sandbox
        .installer_bare(&["uninstall", "--purge", "--yes"])
        .await
        .expect_success("uninstall --purge --yes");
    assert!(
        !sandbox.data_dir().exists(),
        "the custom data dir is deleted"
    );
    assert!(!sandbox.record_file().exists(), "the record is deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orphaned_gateway_without_its_supervisor_is_stopped_too() {
    let mock = MockUpstream::start("openai").await;
    let sandbox = Sandbox::new();
    install_openai(&sandbox, &mock, &[]).await;
    let [supervisor, gateway] = running_pids(&sandbox);

    // The supervisor dies without stopping its gateway (as with kill -9 or an OOM kill).
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &supervisor.to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    while process_alive(supervisor) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!process_alive(supervisor), "the supervisor was killed");
    assert!(process_alive(gateway), "its gateway runs on as an orphan");

    sandbox
        .installer_bare(&["uninstall"])
        .await
        .expect_success("uninstall");
    assert_all_gone(&sandbox, &[supervisor, gateway], "uninstall");
    assert!(!sandbox.installed_bin().exists());
}

/// Watches the command line of every process on the machine, from its creation until
/// [`CmdlineWatch::finish`], for any of a set of strings.
struct CmdlineWatch {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(Vec<String>, usize)>,
}

impl CmdlineWatch {
    fn start(needles: &[&str]) -> CmdlineWatch {
        let needles: Vec<String> = needles.iter().map(|n| (*n).to_owned()).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::spawn({
            let stop = stop.clone();
            move || {
                let (mut found, mut rounds) = (Vec::new(), 0);
                while !stop.load(Ordering::Relaxed) {
                    rounds += 1;
                    let Ok(entries) = std::fs::read_dir("/proc") else {
                        break;
                    };
                    for entry in entries.flatten() {
                        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                            continue;
                        };
                        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                        if needles.iter().any(|n| text.contains(n.as_str())) {
                            found.push(format!("{:?}: {text}", entry.file_name()));
                        }
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
                (found, rounds)
            }
        });
        CmdlineWatch { stop, thread }
    }

    /// The command lines that held a needle, and how many times the process list was read.
    fn finish(self) -> (Vec<String>, usize) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("the watcher did not panic")
    }
}

/// Every regular file under `dir` (recursively, symbolic links not followed) whose bytes
/// contain `needle`, except those for which `skip` says so.
fn files_containing(dir: &Path, needle: &str, skip: &dyn Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() && !skip(&path) {
                let bytes = std::fs::read(&path).unwrap_or_default();
                if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    hits.push(path);
                }
            }
        }
    }
    hits
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_from_the_environment_and_stdin_stay_out_of_the_process_list_and_every_other_file() {
    let openai = MockUpstream::start("openai").await;
    let deepseek = MockUpstream::start("deepseek").await;
    let sandbox = Sandbox::new();
    let options = sandbox.install_options().await;
    let (openai_url, deepseek_url) = (openai.base_url(), deepseek.base_url());
    let mut args = vec!["--non-interactive", "--keys-from-stdin"];
    args.extend(options.iter().map(String::as_str));
    args.extend_from_slice(&[
        "--openai-base-url",
        &openai_url,
        "--deepseek-base-url",
        &deepseek_url,
    ]);
    // The openai key comes on standard input (with the comments and blank lines a key file has),
    // the deepseek key from the environment.
    let input = format!("# keys for the gateway\n\nopenai={OPENAI_KEY}\n");

    let watch = CmdlineWatch::start(&[OPENAI_KEY, DEEPSEEK_KEY]);
    let install = sandbox
        .installer_with_input(
            &args,
            &[("DEEPSEEK_API_KEY", DEEPSEEK_KEY)],
            input.as_bytes(),
        )
        .await;
    let (in_process_list, rounds) = watch.finish();
    install.expect_success("install with keys from stdin and the environment");
    assert!(rounds > 10, "the process list was read only {rounds} times");
    assert!(
        in_process_list.is_empty(),
        "keys on command lines: {in_process_list:#?}"
    );

    // Both keys reached the store: the providers use them.
    assert_routed(&sandbox, "gpt-4o", &openai, OPENAI_KEY).await;
    assert_routed(&sandbox, "deepseek-chat", &deepseek, DEEPSEEK_KEY).await;
    for key in [OPENAI_KEY, DEEPSEEK_KEY] {
        assert!(!install.all().contains(key), "the installer printed {key}");
    }

    // No file but the store holds a key (the installed binary is a byte copy of the frozen one).
    let data_dir = sandbox.data_dir();
    let installed = sandbox.installed_bin();
    let skip = |path: &Path| {
        path == installed
            || (path.parent() == Some(data_dir.as_path())
                && path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("switchyard.db")))
    };
    assert_eq!(
        std::fs::metadata(&installed)
            .expect("the installed binary")
            .len(),
        std::fs::metadata(switchyard_bin())
            .expect("the frozen binary")
            .len()
    );
    for key in [OPENAI_KEY, DEEPSEEK_KEY] {
        let hits = files_containing(sandbox.root(), key, &skip);
        assert!(hits.is_empty(), "{key} found in {hits:?}");
    }

    // The gateway and its supervisor did not inherit the key variables.
    let processes = sandbox.processes();
    assert_eq!(processes.len(), 2, "one supervisor and one gateway");
    for pid in processes {
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let environ = String::from_utf8_lossy(&environ);
        for key in [OPENAI_KEY, DEEPSEEK_KEY] {
            assert!(
                !environ.contains(key),
                "process {pid} has {key} in its environment"
            );
        }
        assert!(
            !environ.contains("DEEPSEEK_API_KEY="),
            "process {pid} inherited DEEPSEEK_API_KEY"
        );
    }

    // --help says where keys come from.
    let help = sandbox.installer(&["--help"], &[]).await;
    help.expect_success("--help");
    for wanted in [
        "--keys-from-stdin",
        "DEEPSEEK_API_KEY",
        "OPENAI_COMPATIBLE_API_KEY",
        "never taken from the command line",
    ] {
        assert!(
            help.stdout.contains(wanted),
            "{wanted:?} in --help:\n{}",
            help.stdout
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_on_the_command_line_or_a_bad_key_line_is_refused_without_echoing_it() {
    let sandbox = Sandbox::new();
    let options = sandbox.install_options().await;
    let mut args = vec!["--non-interactive"];
    args.extend(options.iter().map(String::as_str));

    let mut old_flag = args.clone();
    old_flag.extend_from_slice(&["--openai-key", OPENAI_KEY]);
    let refused = sandbox.installer(&old_flag, &[]).await;
    refused.expect_code(1, "install with --openai-key");
    assert!(
        !refused.all().contains(OPENAI_KEY),
        "the error repeats the key:\n{}",
        refused.all()
    );
    for wanted in [
        "--openai-key is no longer accepted",
        "OPENAI_API_KEY",
        "--keys-from-stdin",
        "ps",
    ] {
        assert!(
            refused.stderr.contains(wanted),
            "{wanted:?} in:\n{}",
            refused.stderr
        );
    }
    assert!(!sandbox.installed_bin().exists(), "nothing was installed");
    assert!(!sandbox.record_file().exists(), "nothing was recorded");

    let mut from_stdin = args.clone();
    from_stdin.push("--keys-from-stdin");
    let input = format!("openai={OPENAI_KEY}\nopenia={DEEPSEEK_KEY}\n");
    let refused = sandbox
        .installer_with_input(&from_stdin, &[], input.as_bytes())
        .await;
    refused.expect_code(1, "a misspelt type on stdin");
    assert!(
        refused
            .stderr
            .contains("line 2: unknown provider type 'openia'"),
        "{}",
        refused.stderr
    );
    for key in [OPENAI_KEY, DEEPSEEK_KEY] {
        assert!(
            !refused.all().contains(key),
            "the error repeats {key}:\n{}",
            refused.all()
        );
    }
    assert!(!sandbox.installed_bin().exists(), "nothing was installed");
}

/// A stand-in for the switchyard binary whose `config apply` reads its input, marks `marker`, and
/// then hangs, so that the installer can be interrupted while it configures.
fn hanging_binary(sandbox: &Sandbox, marker: &Path) -> PathBuf {
    let path = sandbox.root().join("fake").join("switchyard");
    std::fs::create_dir_all(path.parent().expect("a dir")).expect("the fake's dir");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\n\
             case \"$1\" in\n\
               --version) echo 'switchyard 0.0.0-hanging' ;;\n\
               config) cat >/dev/null; : >'{}'; exec sleep 30 ;;\n\
               *) exit 2 ;;\n\
             esac\n",
            marker.display()
        ),
    )
    .expect("the fake binary is written");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_install_leaves_no_temporary_file_and_no_key_behind() {
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        let sandbox = Sandbox::new();
        let marker = sandbox.root().join("applying");
        let fake = hanging_binary(&sandbox, &marker);
        let (port, console_port, prefix) = (
            sandbox.port.to_string(),
            sandbox.console_port.to_string(),
            sandbox.prefix().display().to_string(),
        );
        let args = [
            "--non-interactive",
            "--keys-from-stdin",
            "--from-binary",
            fake.to_str().expect("a UTF-8 path"),
            "--port",
            &port,
            "--console-port",
            &console_port,
            "--prefix",
            &prefix,
            "--deepseek-base-url",
            "http://127.0.0.1:9/v1",
        ];
        let child = sandbox.spawn_installer(&args, format!("deepseek={DEEPSEEK_KEY}\n").as_bytes());
        let pid = child.id().expect("the installer's pid");

        // Interrupted while `config apply` has the configuration, as Ctrl-C (INT) or a service
        // manager (TERM) would: the signal goes to the whole process group, which `setsid` made
        // the installer lead.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !marker.exists() {
            assert!(Instant::now() < deadline, "config apply was never reached");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("its stat");
        let pgid = stat
            .rsplit_once(')')
            .expect("a stat line")
            .1
            .split_whitespace()
            .nth(2);
        assert_eq!(
            pgid,
            Some(pid.to_string().as_str()),
            "the installer leads its process group"
        );
        let sent = std::process::Command::new("kill")
            .args([format!("-{signal}"), "--".into(), format!("-{pid}")])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIG{signal} was sent");
        let output = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("the installer did not end after SIG{signal}"))
            .expect("the installer's output");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(code),
            "exit status after SIG{signal}:\n{stderr}"
        );

        let leftovers: Vec<_> = std::fs::read_dir(sandbox.tmp()).expect("TMPDIR").collect();
        assert!(
            leftovers.is_empty(),
            "files left in TMPDIR after SIG{signal}: {leftovers:?}"
        );
        let hits = files_containing(sandbox.root(), DEEPSEEK_KEY, &|_| false);
        assert!(hits.is_empty(), "the key is in {hits:?} after SIG{signal}");
        let temporary = files_containing(sandbox.root(), "SWITCHYARD_INSTALL_", &|path| {
            path == sandbox.record_file()
        });
        assert!(temporary.is_empty(), "half-written records: {temporary:?}");
        assert!(!sandbox.prefix().join("bin/switchyard.new").exists());
    }
}

/// A switchyard binary that prints `lines` on its standard output when it serves, then runs the
/// real binary (under the installed name, so the sandbox finds it) with that output discarded:
/// whether the real server prints a setup code of its own does not matter.
fn binary_printing(sandbox: &Sandbox, lines: &[&str]) -> PathBuf {
    let path = sandbox.root().join("fake").join("switchyard");
    std::fs::create_dir_all(path.parent().expect("a dir")).expect("the wrapper's dir");
    let echoes: String = lines
        .iter()
        .map(|line| format!("  echo '{line}'\n"))
        .collect();
    std::fs::write(
        &path,
        format!(
            "#!/bin/bash\n\
             if [ \"$1\" = serve ]; then\n{echoes}  exec -a \"$0\" '{real}' \"$@\" >/dev/null\n\
             fi\n\
             exec -a \"$0\" '{real}' \"$@\"\n",
            real = switchyard_bin().display()
        ),
    )
    .expect("the wrapper is written");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

/// Installs `binary` with the sandbox's ports and prefix, after leaving an old setup code in the
/// data dir's log, as an earlier start would have.
async fn install_with_old_log(sandbox: &Sandbox, binary: &Path) -> sandbox::Run {
    std::fs::create_dir_all(sandbox.data_dir()).expect("the data dir");
    std::fs::write(
        sandbox.data_dir().join("switchyard.log"),
        "setup code: OLD0-C0DE-0000\nan older start\n",
    )
    .expect("the old log");
    let (port, console_port, prefix) = (
        sandbox.port.to_string(),
        sandbox.console_port.to_string(),
        sandbox.prefix().display().to_string(),
    );
    let args = [
        "--non-interactive",
        "--from-binary",
        binary.to_str().expect("a UTF-8 path"),
        "--port",
        &port,
        "--console-port",
        &console_port,
        "--prefix",
        &prefix,
    ];
    let install = sandbox.installer(&args, &[]).await;
    install.expect_success("install");
    install
}

const SETUP_CODE: &str = "TEST-C0DE-9XY2";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_setup_code_printed_by_this_start_is_shown_next_to_the_console_url() {
    let sandbox = Sandbox::new();
    let code_line = format!("setup code: {SETUP_CODE}");
    let binary = binary_printing(
        &sandbox,
        &[
            "setup code: DECO-Y000-0001",
            &code_line,
            // Later lines that are not exactly `setup code: XXXX-XXXX-XXXX` must not win.
            "2026-01-01T00:00:00Z INFO setup code: DECO-Y000-0002",
            "setup code: deco-y000-0003",
            "setup code: DECO-Y000-0004 (an older format)",
            " setup code: DECO-Y000-0005",
        ],
    );
    let install = install_with_old_log(&sandbox, &binary).await;
    let lines: Vec<&str> = install.stdout.lines().collect();
    let console = lines
        .iter()
        .position(|l| l.starts_with("  Console:   http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("a console line in:\n{}", install.stdout));
    let shown = lines.get(console + 1).copied().unwrap_or_default();
    assert!(
        shown.starts_with(&format!("  Setup code: {SETUP_CODE}  ("))
            && shown.contains("first-run setup"),
        "the line after the console URL: {shown:?}\n{}",
        install.stdout
    );
    for other in ["OLD0-C0DE-0000", "DECO-Y000", "deco-y000"] {
        assert!(
            !install.all().contains(other),
            "{other} shown:\n{}",
            install.all()
        );
    }

    // A restart prints the code of the new start.
    let restart = sandbox.installer(&["restart"], &[]).await;
    restart.expect_success("restart");
    assert!(
        restart
            .stdout
            .contains(&format!("Setup code: {SETUP_CODE}")),
        "{}",
        restart.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_setup_code_from_this_start_nothing_is_said_about_one() {
    let sandbox = Sandbox::new();
    let binary = binary_printing(&sandbox, &[]);
    let install = install_with_old_log(&sandbox, &binary).await;
    assert!(
        install.stdout.contains("Switchyard is running."),
        "{}",
        install.stdout
    );
    assert!(
        !install.all().to_lowercase().contains("setup code"),
        "a setup code was mentioned:\n{}",
        install.all()
    );
}
