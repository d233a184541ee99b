//! Running the gateway: opening the store, the first snapshot, both listeners, reload triggers,
//! and graceful shutdown.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::admin::{self, AdminState, AuthState, GatewayFacts};
use crate::cli::ServeArgs;
use crate::consumers;
use crate::guard::HostPolicy;
use crate::health::HealthRegistry;
use crate::health_check;
use crate::listener;
use crate::metrics::Metrics;
use crate::pipeline::InFlightLimit;
use crate::proxy::{self, ProxyState};
use crate::reload::{self, CurrentSnapshot, ReloadStatus, Trigger};
use crate::{upstream, watch as file_watch};

pub async fn run(args: &ServeArgs, data_dir: &Path) -> anyhow::Result<()> {
    let store = crate::store::open_configured(
        args.database_url.as_ref(),
        data_dir,
        crate::secrets::master_key(args)?,
    )
    .await?;
    // The data dir must exist and be private even when the databases are elsewhere: token files
    // live there.
    crate::store::ensure_data_dir(data_dir)?;
    let usage_db =
        crate::store::usage::open_configured(args.database_url.as_ref(), data_dir).await?;
    let registry = Arc::new(HealthRegistry::default());
    let first = reload::prepare(&store, 1, &registry)
        .await
        .map_err(|e| anyhow::anyhow!("the stored configuration is invalid: {e}"))?;
    let open = GatewayFacts {
        client_auth_flag: args.client_auth,
        proxy_loopback: args.listen.ip().is_loopback(),
        allow_open_proxy: args.allow_open_proxy,
    };
    if open.refuses(first.consumers.client_auth) {
        anyhow::bail!(
            "refusing to start: the proxy would listen on {} (not loopback) with client_auth              \"off\", so anyone who reaches it could spend the provider keys. Require client keys              (--client-auth required, or PUT /api/settings {{\"client_auth\":\"required\"}} on a              loopback start), or pass --allow-open-proxy if a network control in front already              restricts who can reach it.",
            args.listen
        );
    }
    reload::record_limits(&first, &registry);
    let clock = Arc::clone(&registry.budgets.clock);
    // Budgets start from what the records say was spent this period, before any request counts.
    crate::metering::load_budgets(&first, &usage_db, &clock).await;
    let snapshot = Arc::new(CurrentSnapshot::new(first));
    let reload_status = Arc::new(ReloadStatus::default());
    let reloader = reload::spawn(
        store.clone(),
        Arc::clone(&snapshot),
        Arc::clone(&reload_status),
        Arc::clone(&registry),
    );
    // On PostgreSQL the data dir's file never changes: another process's writes arrive as
    // notifications (below), and the watcher's two-second revision poll backs them up.
    let _watcher = file_watch::spawn(data_dir, reloader.clone())
        .context("cannot watch the data dir for changes")?;
    if let Some(url) = &args.database_url {
        let notified = reloader.clone();
        tokio::spawn(crate::store::listen_for_revisions(
            url.expose().to_owned(),
            move |_revision| notified.request(Trigger::Notify),
        ));
    }
    spawn_sighup(reloader.clone());

    let token = admin_token(args)?;
    if token.is_none() {
        tracing::info!(
            "no admin token set: the admin API takes console sessions only (set SWITCHYARD_ADMIN_TOKEN for automation)"
        );
    }
    raise_open_files_limit(args.max_connections);
    let proxy_listener = bind(args.listen, "proxy").await?;
    let admin_listener = bind(args.admin_listen, "admin API").await?;
    let proxy_addr = proxy_listener.local_addr()?;
    // Until an admin account exists, the console's first-run setup needs proof of being the
    // operator: this code, which only whoever sees the server's output has.
    let setup_code = if store.admin_exists().await? {
        None
    } else {
        Some(admin::new_setup_code())
    };
    let hosts = HostPolicy::new(&args.allowed_hosts);
    let client = upstream::client(Arc::clone(&snapshot));
    health_check::spawn(Arc::clone(&snapshot), client.clone());
    let metrics = Arc::new(Metrics::default());
    let (meter, meter_queue) = crate::metering::Meter::new(args.request_log == "on");
    let prom = Arc::new(crate::prometheus::PromMetrics::new());
    let meter_task = crate::metering::spawn(
        &meter,
        meter_queue,
        usage_db.clone(),
        Arc::clone(&snapshot),
        Arc::clone(&prom),
        Arc::clone(&clock),
    );
    crate::alerts::spawn(&registry, Arc::clone(&snapshot), client.clone());
    let redis = match &args.redis_url {
        Some(url) => {
            let redis = crate::shared_state::Redis::connect(
                url.expose(),
                &args.redis_prefix,
                Duration::from_millis(args.redis_timeout_ms.max(1)),
            )?;
            redis.check().await;
            Some(Arc::new(redis))
        }
        None => {
            if args.database_url.is_some() {
                tracing::warn!(
                    "the configuration is shared through PostgreSQL but counters are not: without --redis-url every gateway applies each rate limit, concurrency cap and budget on its own"
                );
            }
            None
        }
    };
    // With Redis the response cache is the cluster's (an answer stored through one gateway is a
    // hit on all); without it, this gateway's memory, sized by the setting in force at start.
    let cache = Arc::new(match &redis {
        Some(redis) => crate::cache::ResponseCache::shared(Arc::clone(redis), Arc::clone(&clock)),
        None => crate::cache::ResponseCache::new(
            crate::cache::max_bytes(snapshot.load().consumers.settings.cache_max_mb),
            Arc::clone(&clock),
        ),
    });
    let shared_limits = redis.as_ref().map(|redis| {
        let (limits, leases) = crate::shared_state::admission::SharedLimits::new(
            Arc::clone(redis),
            Duration::from_millis(args.redis_lease_ms),
        );
        crate::shared_state::spawn_background(Arc::clone(&limits), leases, Arc::clone(&snapshot));
        limits
    });
    let proxy_app = proxy::router(ProxyState {
        snapshot: Arc::clone(&snapshot),
        client: client.clone(),
        max_body_bytes: args.max_body_bytes,
        metrics: Arc::clone(&metrics),
        registry: Arc::clone(&registry),
        client_auth: args.client_auth,
        hosts: hosts.clone(),
        allowed_origins: args.allowed_origins.clone().into(),
        in_flight: InFlightLimit::new(args.max_in_flight),
        body_read_timeout: Duration::from_millis(args.request_read_timeout_ms),
        meter: meter.clone(),
        clock: Arc::clone(&clock),
        cache: Arc::clone(&cache),
        redis: redis.clone(),
        shared_limits,
        guardrail_key: store
            .guardrail_hash_key()
            .await
            .context("cannot read the guardrails' hash key")?,
    });
    consumers::spawn_last_used_writer(store.clone(), Arc::clone(&registry));
    crate::store::spawn_audit_pruner(store.clone(), Arc::clone(&snapshot), Arc::clone(&clock));
    // One cache for the whole gateway, sized by the setting in force at start; its TTLs run on
    // the gateway's clock, so a test that moves the clock expires entries.
    let admin_app = admin::router(AdminState {
        store: store.clone(),
        reloader,
        snapshot: Arc::clone(&snapshot),
        reload_status,
        auth: Arc::new(AuthState::new(
            token.as_deref(),
            Duration::from_secs(args.session_ttl_secs),
            setup_code.clone(),
            args.allow_remote_setup,
        )),
        metrics,
        proxy_url: loopback_url(proxy_addr),
        client,
        registry,
        gateway: open,
        hosts,
        usage_db: usage_db.clone(),
        prom,
        meter,
        clock,
        test_clock: args.test_clock,
        metrics_public: args.metrics_public,
        cache,
        redis,
    });

    let admin_addr = admin_listener.local_addr()?;
    if let Some(code) = &setup_code {
        // On stdout only (not in the structured log): the installer and the operator read it.
        println!("setup code: {code}");
        tracing::info!(
            "no admin account yet: open the console and complete the setup with the setup code printed above"
        );
    }
    // One machine-readable line on stdout once both sockets accept: scripts and tests wait for it.
    println!("listening proxy=http://{proxy_addr} admin=http://{admin_addr}");
    tracing::info!(%proxy_addr, %admin_addr, data_dir = %data_dir.display(), "switchyard is ready");

    let (stop_tx, stop_rx) = watch::channel(false);
    let limits = listener::Limits {
        max_connections: args.max_connections,
        header_read_timeout: Duration::from_millis(args.request_read_timeout_ms),
    };
    let proxy_server = listener::serve(proxy_listener, proxy_app, limits, stop_rx.clone());
    let admin_server = listener::serve(admin_listener, admin_app, limits, stop_rx);
    let serving = async { tokio::try_join!(proxy_server, admin_server) };

    let grace = Duration::from_millis(args.shutdown_grace_ms);
    let shutdown = async {
        shutdown_signal().await;
        tracing::info!(
            ?grace,
            "shutting down: no new connections; waiting for in-flight requests"
        );
        let _ = stop_tx.send(true);
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        result = serving => { result?; tracing::info!("all connections finished"); }
        () = shutdown => tracing::warn!("shutdown grace period ended with requests still in flight"),
    }
    // The listeners are done, so no request hands over a record any more: write what is queued.
    meter_task.stop().await;
    store.close().await;
    // Closing checkpoints the request log's WAL into the file.
    usage_db.close().await;
    Ok(())
}

/// The admin token from `--admin-token-file` or `--admin-token` / `SWITCHYARD_ADMIN_TOKEN`;
/// refuses one shorter than [`admin::MIN_ADMIN_TOKEN_LEN`], and warns when it was given on the
/// command line, where every user sees it in `ps`.
fn admin_token(args: &ServeArgs) -> anyhow::Result<Option<String>> {
    let token = match &args.admin_token_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the admin token file {}", path.display()))?
                .trim()
                .to_owned(),
        ),
        None => args.admin_token.clone().filter(|t| !t.is_empty()),
    };
    let Some(token) = token else {
        return Ok(None);
    };
    let length = token.chars().count();
    if length < admin::MIN_ADMIN_TOKEN_LEN {
        anyhow::bail!(
            "the admin token is {length} characters long; it must have at least {} (for example \
             `head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n'`)",
            admin::MIN_ADMIN_TOKEN_LEN
        );
    }
    let on_command_line =
        std::env::args().any(|arg| arg == "--admin-token" || arg.starts_with("--admin-token="));
    if on_command_line {
        tracing::warn!(
            "the admin token was given with --admin-token, where any user can read it in `ps`; \
             use SWITCHYARD_ADMIN_TOKEN or --admin-token-file"
        );
    }
    Ok(Some(token))
}

/// Lifts the soft open-files limit towards the hard one, so the connection cap decides how many
/// clients are served, not a low default of 1024.
fn raise_open_files_limit(max_connections: usize) {
    let wanted = u64::try_from(max_connections)
        .unwrap_or(u64::MAX)
        .saturating_mul(2)
        .saturating_add(1024);
    match rlimit::increase_nofile_limit(wanted) {
        Ok(limit) if limit < wanted => tracing::warn!(
            limit,
            max_connections,
            "the open-files limit is below what --max-connections needs; raise it (ulimit -n)"
        ),
        Ok(_) => {}
        Err(error) => tracing::debug!(%error, "cannot raise the open-files limit"),
    }
}

/// The proxy's URL as reachable from this process (a wildcard address becomes loopback).
fn loopback_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        ip if !ip.is_unspecified() => ip,
        std::net::IpAddr::V4(_) => std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        std::net::IpAddr::V6(_) => std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    if !addr.ip().is_loopback() {
        tracing::warn!(%addr, "the {what} listens on a non-loopback address: it is reachable from other machines");
    }
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} for the {what}"))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// SIGHUP asks for a reload, as operators expect of a long-running server.
fn spawn_sighup(reloader: reload::Reloader) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hangups) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hangups.recv().await.is_some() {
            reloader.request(Trigger::Signal);
        }
    });
}
