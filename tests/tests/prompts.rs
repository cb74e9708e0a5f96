//! Upgrade prompts end to end: the demo page reports usage through `Holdfast.usage`, the widget
//! shows the prompt its history allows, the subscriber clicks upgrade, the host's backend reports
//! the upgrade, and the server's prompt stats count the conversion.

use std::time::Duration;

use holdfast_e2e::{spawn_server, wait_for, with_browser};
use serde_json::{Value, json};

async fn prompt_stats(base: &str) -> anyhow::Result<Value> {
    Ok(reqwest::Client::new()
        .get(format!("{base}/v1/admin/apps/app_demo/prompts/stats"))
        .bearer_auth("sk_test_e2e")
        .send()
        .await?
        .json()
        .await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_usage_prompt_that_leads_to_an_upgrade_counts_as_a_conversion() -> anyhow::Result<()> {
    let server = spawn_server().await?;
    let (url, base) = (server.url.clone(), server.url.clone());
    with_browser(move |client| async move {
        client.goto(&url).await?;
        wait_for(&client, "return document.getElementById('holdfast-status').textContent.includes('mounted');", Duration::from_secs(20)).await?;
        // 4 of 10 projects used: the fifth is 50% (a banner, dismissed), then 60 to 80% are
        // held back by the caps, and the ninth is the 90% plan comparison.
        let mut kinds = Vec::new();
        for _ in 0..5 {
            client.execute("document.getElementById('add-project').click();", vec![]).await?;
            let last = wait_for(&client, "const t = document.getElementById('prompt-result').textContent; return t.startsWith('{') && t;", Duration::from_secs(10)).await?;
            let last: Value = serde_json::from_str(last.as_str().unwrap_or_default())?;
            client.execute("document.getElementById('prompt-result').textContent = '';", vec![]).await?;
            kinds.push(last["prompt"]["kind"].as_str().or(last["reason"].as_str()).unwrap_or_default().to_string());
            if last["prompt"]["kind"] == "banner" {
                client
                    .execute("document.getElementById('holdfast-root').shadowRoot.querySelector('[data-testid=hf-prompt-dismiss]').click();", vec![])
                    .await?;
            }
        }
        assert_eq!(kinds, ["banner", "already_shown_this_period", "already_shown_this_period", "window", "compare"]);
        client
            .execute("document.getElementById('holdfast-root').shadowRoot.querySelector('[data-testid=hf-prompt-upgrade]').click();", vec![])
            .await?;
        wait_for(&client, "return document.getElementById('outcome').textContent.includes('upgrade to team');", Duration::from_secs(5)).await?;
        // The page stays open until the widget's events have arrived (the outbox sends them
        // asynchronously).
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let stats = prompt_stats(&base).await?;
            if stats["totals"]["clicked"] == 1 {
                assert_eq!(stats["totals"]["shown"], 2, "{stats}");
                assert_eq!(stats["totals"]["dismissed"], 1, "{stats}");
                break;
            }
            anyhow::ensure!(std::time::Instant::now() < deadline, "prompt events never arrived: {stats}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    })
    .await?;

    // The host's backend applies the upgrade and tells Holdfast.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let upgrade = reqwest::Client::new()
        .post(format!(
            "{}/v1/admin/apps/app_demo/customers/cus_demo_pro/lifecycle",
            server.url
        ))
        .bearer_auth("sk_test_e2e")
        .json(&json!({ "type": "upgraded", "at": now + 1, "plan": "team", "mrr_cents": 9900 }))
        .send()
        .await?;
    assert!(upgrade.status().is_success(), "{}", upgrade.text().await?);
    let stats = prompt_stats(&server.url).await?;
    assert_eq!(stats["totals"]["upgraded"], 1, "{stats}");
    let compare = stats["breakdowns"]["threshold"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["key"] == "90"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        compare["upgraded"], 1,
        "the upgrade is credited to the 90% prompt: {stats}"
    );
    assert_eq!(compare["conversion"], 1.0, "{stats}");
    Ok(())
}

/// The two bundles share one page: the cancel flow never downloads the prompts, a prompt on
/// screen makes way for the cancel dialog, and no prompt shows over it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cancel_dialog_and_the_prompts_come_in_separate_bundles_and_never_overlap()
-> anyhow::Result<()> {
    let server = spawn_server().await?;
    let url = server.url.clone();
    with_browser(move |client| async move {
        client.goto(&url).await?;
        wait_for(&client, "return document.getElementById('holdfast-status').textContent.includes('mounted');", Duration::from_secs(20)).await?;
        // Bundle names carry a content hash (`holdfast-widget-<16 hex>_bg.wasm`): compared without it.
        let loaded = "return performance.getEntriesByType('resource').map(e => e.name.split('/').pop()).filter(n => n.endsWith('.wasm')).map(n => n.replace(/-[0-9a-f]{16}_bg/, '_bg')).sort().join(',');";
        assert_eq!(client.execute(loaded, vec![]).await?, "holdfast-widget_bg.wasm", "only the cancel bundle loads (the demo warms it)");

        // 5 of 10 projects: the prompt bundle arrives with the first usage report and shows a banner.
        client.execute("document.getElementById('add-project').click();", vec![]).await?;
        wait_for(&client, "const r = document.getElementById('holdfast-root').shadowRoot; return !!r.querySelector('[data-testid=hf-prompt]');", Duration::from_secs(10)).await?;
        assert_eq!(
            client.execute(loaded, vec![]).await?,
            "holdfast-prompts_bg.wasm,holdfast-widget_bg.wasm"
        );

        // Cancelling takes the banner away and opens the modal dialog alone.
        client.execute("document.getElementById('cancel-subscription').click();", vec![]).await?;
        wait_for(&client, "const r = document.getElementById('holdfast-root').shadowRoot; return !!r.querySelector('[data-testid=hf-dialog]');", Duration::from_secs(10)).await?;
        let banners = client
            .execute("return document.getElementById('holdfast-root').shadowRoot.querySelectorAll('[data-testid=hf-prompt]').length;", vec![])
            .await?;
        assert_eq!(banners, 0, "the banner made way for the cancel dialog");

        // A prompt asked for while the dialog is open is held back.
        let answer = client
            .execute_async(
                "const done = arguments[0];
                 Holdfast.usage({ customer: { id: 'cus_overlap', plan: 'pro', mrr_cents: 4900, created_at: 1700000000 }, metric: 'projects', used: 10, limit: 10 })
                   .then(r => done(r.status + ':' + (r.reason || '')), e => done('error:' + e.message));",
                vec![],
            )
            .await?;
        let answer = answer.as_str().unwrap_or_default().to_string();
        assert!(answer.starts_with("suppressed:"), "{answer}");
        let prompts = client
            .execute("return document.getElementById('holdfast-root').shadowRoot.querySelectorAll('[data-testid=hf-prompt]').length;", vec![])
            .await?;
        assert_eq!(prompts, 0, "nothing shows over the cancel dialog");
        Ok(())
    })
    .await
}

/// A feature trial is the server's to grant: from the third try of a locked feature the prompt
/// offers one, the server records it (re-checked, once per feature) and only then does the host's
/// `onTrial` run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trial_is_granted_by_the_server_before_the_host_hears_of_it() -> anyhow::Result<()> {
    let server = spawn_server().await?;
    let url = server.url.clone();
    with_browser(move |client| async move {
        client.goto(&url).await?;
        wait_for(&client, "return document.getElementById('holdfast-status').textContent.includes('mounted');", Duration::from_secs(20)).await?;
        for _ in 0..3 {
            client.execute("document.getElementById('prompt-result').textContent = ''; document.getElementById('sso').click();", vec![]).await?;
            wait_for(&client, "const t = document.getElementById('prompt-result').textContent; return t.startsWith('{') && t;", Duration::from_secs(10)).await?;
        }
        wait_for(&client, "return !!document.getElementById('holdfast-root').shadowRoot.querySelector('[data-testid=hf-prompt-trial]');", Duration::from_secs(5)).await?;
        client
            .execute("document.getElementById('holdfast-root').shadowRoot.querySelector('[data-testid=hf-prompt-trial]').click();", vec![])
            .await?;
        wait_for(&client, "return document.getElementById('outcome').textContent.includes('trial of SSO started');", Duration::from_secs(15)).await?;
        Ok(())
    })
    .await
}

/// Priority on the real page: a banner never holds back the subscriber's own action (the third
/// try of a locked feature replaces it with the trial offer), and a usage report that falls below
/// the banner on screen takes the stale banner away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gate_hit_replaces_a_banner_and_a_stale_banner_goes() -> anyhow::Result<()> {
    let server = spawn_server().await?;
    let url = server.url.clone();
    with_browser(move |client| async move {
        client.goto(&url).await?;
        wait_for(&client, "return document.getElementById('holdfast-status').textContent.includes('mounted');", Duration::from_secs(20)).await?;
        let on_screen = "const p = document.getElementById('holdfast-root').shadowRoot.querySelectorAll('[data-testid=hf-prompt]'); return p.length === 1 ? p[0].getAttribute('data-kind') : String(p.length);";
        let report = |button: &'static str| {
            let client = client.clone();
            async move {
                client.execute(&format!("document.getElementById('prompt-result').textContent = ''; document.getElementById('{button}').click();"), vec![]).await?;
                wait_for(&client, "const t = document.getElementById('prompt-result').textContent; return t.startsWith('{') && t;", Duration::from_secs(10)).await
            }
        };
        // 5 of 10 projects: the banner; then three tries of SSO: the third one's trial offer
        // replaces it.
        report("add-project").await?;
        assert_eq!(client.execute(on_screen, vec![]).await?, "banner");
        for _ in 0..3 {
            report("sso").await?;
        }
        assert_eq!(client.execute(on_screen, vec![]).await?, "gate_trial", "the subscriber's own action wins the screen");
        client.execute("document.getElementById('holdfast-root').shadowRoot.querySelector('[data-testid=hf-prompt-dismiss]').click();", vec![]).await?;
        // Another customer reaches 5 of 10 (a banner), then a new month starts and they create a
        // project: 1 of 10 needs no plan, and the banner's 50% is no longer true.
        client.execute("document.getElementById('demo-customer').value = 'starter'; document.getElementById('reset-usage').click();", vec![]).await?;
        for _ in 0..5 {
            report("add-project").await?;
        }
        assert_eq!(client.execute(on_screen, vec![]).await?, "banner");
        client.execute("document.getElementById('reset-usage').click();", vec![]).await?;
        report("add-project").await?;
        wait_for(&client, "return document.getElementById('holdfast-root').shadowRoot.querySelectorAll('[data-testid=hf-prompt]').length === 0;", Duration::from_secs(5)).await?;
        Ok(())
    })
    .await
}
