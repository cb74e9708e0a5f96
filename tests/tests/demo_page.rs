//! The demo page, served by the real server, loads the widget through holdfast.js the way a
//! customer's page does and mounts it in a shadow root.

use std::time::Duration;

use holdfast_e2e::{spawn_server, wait_for, with_browser};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_page_mounts_the_widget_in_a_shadow_root_through_the_loader() -> anyhow::Result<()>
{
    let server = spawn_server().await?;
    let url = server.url.clone();
    with_browser(move |client| async move {
        client.goto(&url).await?;
        let mounted = wait_for(
            &client,
            "const h = document.getElementById('holdfast-root');
             return !!(h && h.shadowRoot && h.shadowRoot.querySelector('[data-testid=holdfast-ready]'));",
            Duration::from_secs(20),
        )
        .await?;
        assert_eq!(mounted, true, "the widget mounts inside the host's shadow root");
        let leaked = client
            .execute("return document.querySelectorAll('[data-testid=holdfast-ready]').length", vec![])
            .await?;
        assert_eq!(leaked, 0, "nothing of the widget is in the light DOM");
        let status = wait_for(
            &client,
            "const s = document.getElementById('holdfast-status').textContent; return s.includes('mounted') && s;",
            Duration::from_secs(5),
        )
        .await?;
        assert!(status.as_str().unwrap_or_default().contains("shadow root"));
        let loader = client
            .execute("return typeof window.Holdfast.cancel === 'function' && window.Holdfast.config.app", vec![])
            .await?;
        assert_eq!(loader, "app_demo", "the loader read data-app from its script tag");
        Ok(())
    })
    .await
}

#[tokio::test]
async fn the_server_answers_health_and_the_demo_config() -> anyhow::Result<()> {
    let server = spawn_server().await?;
    let health = fetch(&format!("{}/healthz", server.url)).await?;
    assert_eq!(health, "ok");
    let ready = fetch(&format!("{}/readyz", server.url)).await?;
    assert_eq!(ready, "ready");
    let config: serde_json::Value =
        serde_json::from_str(&fetch(&format!("{}/v1/apps/app_demo/config", server.url)).await?)?;
    assert_eq!(config["schema"], 1);
    assert_eq!(config["reasons"][0]["id"], "too_expensive");
    let missing = fetch(&format!("{}/v1/apps/app_nope/config", server.url)).await?;
    let missing: serde_json::Value = serde_json::from_str(&missing)?;
    assert_eq!(missing["error"]["code"], "app_not_found");
    Ok(())
}

async fn fetch(url: &str) -> anyhow::Result<String> {
    Ok(reqwest::get(url).await?.text().await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_made_before_the_loader_arrives_are_queued_and_answered() -> anyhow::Result<()> {
    let server = spawn_server().await?;
    // A bare page of the server's origin, without the widget, where the host's code runs first.
    let url = format!("{}/healthz", server.url);
    with_browser(move |client| async move {
        client.goto(&url).await?;
        client
            .execute(
                "window.Holdfast = window.Holdfast || { q: [] };
                 ['cancel', 'usage', 'gate'].forEach(function (m) { window.Holdfast[m] = window.Holdfast[m] || function (o) { return new Promise(function (a, b) { window.Holdfast.q.push([m, o, a, b]); }); }; });
                 const customer = { id: 'cus_early', plan: 'pro', mrr_cents: 4900, created_at: 1700000000 };
                 window.early = [];
                 Holdfast.usage({ customer, metric: 'projects', used: 5, limit: 10 }).then(r => early.push(r.status));
                 Holdfast.gate({ customer, feature: 'sso' }).then(r => early.push(r.status + ':' + r.reason));
                 Holdfast.usage({ customer }).catch(e => early.push('rejected:' + e.message));
                 const s = document.createElement('script');
                 s.async = true; s.src = '/holdfast.js'; s.dataset.app = 'app_demo';
                 document.body.appendChild(s);",
                vec![],
            )
            .await?;
        let early = wait_for(&client, "return window.early.length === 3 && window.early;", Duration::from_secs(20)).await?;
        let mut early: Vec<String> =
            serde_json::from_value(early).map_err(|e| anyhow::anyhow!("{e}"))?;
        early.sort();
        assert_eq!(
            early,
            [
                "rejected:Holdfast.usage: metric: expected a non-empty string for a usage call",
                "shown",
                "suppressed:not_yet"
            ],
            "no queued call is lost"
        );
        Ok(())
    })
    .await
}

/// A newcomer's first try shows the product: the demo's customers have a billing place, so the
/// server resolves the standard profile (survey, offer, confirmation), and the page says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_try_resolves_the_standard_profile_and_says_why() -> anyhow::Result<()> {
    let server = holdfast_e2e::spawn_server().await?;
    let url = server.url.clone();
    holdfast_e2e::with_browser(move |client| async move {
        client.goto(&url).await?;
        let shown = holdfast_e2e::wait_for(
            &client,
            "const t = document.getElementById('resolved-profile').textContent; return t.includes('(') && t;",
            std::time::Duration::from_secs(10),
        )
        .await?;
        let shown = shown.as_str().unwrap_or_default().to_string();
        anyhow::ensure!(shown.starts_with("standard (from the billing place US-NY)"), "{shown}");
        Ok(())
    })
    .await
}
