//! Budget alerts: each one is logged where it is raised (`budgets.rs`) and posted here, as JSON,
//! to the `alert_webhook_url` setting when one is set — off the request path, on one task, with
//! a timeout and one retry, through the gateway's pooled upstream client.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use switchyard_shared::BudgetAlert;

use crate::health::HealthRegistry;
use crate::reload::CurrentSnapshot;
use crate::upstream::UpstreamClient;

/// How long one delivery may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The wait before the one retry of a failed delivery.
const RETRY_AFTER: Duration = Duration::from_secs(2);

/// Starts the task that delivers the budgets' alerts.
pub fn spawn(registry: &HealthRegistry, snapshot: Arc<CurrentSnapshot>, client: UpstreamClient) {
    let (sink, mut alerts) = tokio::sync::mpsc::unbounded_channel::<BudgetAlert>();
    registry.budgets.set_alert_sink(sink);
    tokio::spawn(async move {
        while let Some(alert) = alerts.recv().await {
            let url = snapshot.load().consumers.settings.alert_webhook_url.clone();
            let Some(url) = url else {
                continue;
            };
            let Ok(body) = serde_json::to_vec(&alert) else {
                continue;
            };
            let body = Bytes::from(body);
            for attempt in 0..2 {
                match deliver(&client, &url, body.clone()).await {
                    Ok(()) => break,
                    Err(error) => {
                        tracing::warn!(%error, attempt, event = %alert.event, "could not post a budget alert to the webhook");
                        tokio::time::sleep(RETRY_AFTER).await;
                    }
                }
            }
        }
    });
}

async fn deliver(client: &UpstreamClient, url: &str, body: Bytes) -> Result<(), String> {
    let request = http::Request::post(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::USER_AGENT, "switchyard-alerts")
        .body(Full::new(body))
        .map_err(|e| e.to_string())?;
    let response = tokio::time::timeout(TIMEOUT, client.request(request))
        .await
        .map_err(|_| "timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("the webhook answered {}", response.status()))
    }
}
