//! The cancel flow end to end: the demo page served by the real server, the widget loaded through
//! holdfast.js, a subscriber's clicks in headless Chromium, and the outcome read back from the
//! server's stats.

use std::time::Duration;

use holdfast_e2e::demo::{click, in_widget, open_flow, step};
use holdfast_e2e::{spawn_server, wait_for, with_browser};
use serde_json::Value;

/// The admin stats totals, polled until `check` accepts them (the outbox sends asynchronously).
async fn stats_until(base: &str, check: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
    let http = reqwest::Client::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let stats: Value = http
            .get(format!("{base}/v1/admin/apps/app_demo/stats"))
            .bearer_auth("sk_test_e2e")
            .send()
            .await?
            .json()
            .await?;
        if check(&stats["totals"]) {
            return Ok(stats);
        }
        if std::time::Instant::now() > deadline {
            anyhow::bail!("stats never matched: {stats}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_who_declines_the_offer_cancels_and_the_server_counts_it() -> anyhow::Result<()>
{
    let server = spawn_server().await?;
    let url = server.url.clone();
    with_browser(move |client| async move {
        open_flow(&client, &url, "standard").await?;
        click(&client, "hf-reason-too_expensive").await?;
        click(&client, "hf-survey-continue").await?;
        wait_for(&client, "const r = document.getElementById('holdfast-root').shadowRoot; const o = r.querySelector('[data-testid=hf-offer]'); return o && o.dataset.offer;", Duration::from_secs(5)).await?;
        assert_eq!(step(&client).await?, "offer");
        click(&client, "hf-decline").await?;
        assert_eq!(step(&client).await?, "confirm");
        click(&client, "hf-confirm").await?;
        let outcome = wait_for(&client, "const t = document.getElementById('outcome').textContent; return t.startsWith('{') && t;", Duration::from_secs(5)).await?;
        let outcome: Value = serde_json::from_str(outcome.as_str().unwrap_or_default())?;
        assert_eq!(outcome["outcome"], "cancelled");
        assert_eq!(outcome["recorded"], true, "the widget says cancelled once the server recorded it: {outcome}");
        assert!(outcome["effective_date"].as_str().is_some_and(|d| d.len() == 10), "{outcome}");
        Ok(())
    })
    .await?;
    let stats = stats_until(&server.url, |t| t["cancels"] == 1).await?;
    assert_eq!(stats["totals"]["sessions"], 1, "{stats}");
    assert_eq!(stats["totals"]["saves"], 0, "{stats}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_who_accepts_the_offer_is_saved_and_the_server_counts_it() -> anyhow::Result<()>
{
    let server = spawn_server().await?;
    let url = server.url.clone();
    with_browser(move |client| async move {
        open_flow(&client, &url, "standard").await?;
        click(&client, "hf-reason-too_expensive").await?;
        click(&client, "hf-survey-continue").await?;
        click(&client, "hf-accept").await?;
        let outcome = wait_for(&client, "const t = document.getElementById('outcome').textContent; return t.startsWith('{') && t;", Duration::from_secs(10)).await?;
        let outcome: Value = serde_json::from_str(outcome.as_str().unwrap_or_default())?;
        assert_eq!(outcome["outcome"], "saved", "{outcome}");
        // The demo runs its experiment on this reason's offer, and the demo page's customer is
        // in its `deeper` arm: 30% off instead of the standard 25%.
        assert_eq!(outcome["offer"]["id"], "discount_30");
        assert_eq!(outcome["offer"]["percent"], 30);
        let thanks = in_widget(&client, "return root.querySelector('#hf-title').textContent;").await?;
        assert_eq!(thanks, "Thanks for staying!");
        Ok(())
    })
    .await?;
    let stats = stats_until(&server.url, |t| t["saves"] == 1).await?;
    assert_eq!(stats["totals"]["sessions"], 1, "{stats}");
    assert_eq!(stats["totals"]["saved_mrr_cents"], 4900, "{stats}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_left_by_an_earlier_page_arrive_and_a_refused_one_does_not_take_its_batch_with_it()
-> anyhow::Result<()> {
    let server = spawn_server().await?;
    let url = server.url.clone();
    with_browser(move |client| async move {
        client.goto(&url).await?;
        wait_for(&client, "return document.getElementById('holdfast-status').textContent.includes('mounted');", Duration::from_secs(20)).await?;
        // What a page that closed before it could send would leave behind: one malformed event
        // between two good ones of the same session.
        client
            .execute(
                "const c = { id: 'cus_left', plan: 'pro', mrr_cents: 4900, created_at: 1700000000 };
                 const s = crypto.randomUUID(); const now = Date.now();
                 const e = (id, type) => ({ customer: c, event: { id, type, at: now, session_id: s } });
                 localStorage.setItem('holdfast:outbox:app_demo', JSON.stringify([
                   e(crypto.randomUUID(), 'flow_started'), e('not-a-uuid', 'reason_selected'), e(crypto.randomUUID(), 'cancel_confirmed')]));",
                vec![],
            )
            .await?;
        client.refresh().await?;
        wait_for(&client, "const v = localStorage.getItem('holdfast:outbox:app_demo'); return v === '[]';", Duration::from_secs(15)).await?;
        Ok(())
    })
    .await?;
    let stats = stats_until(&server.url, |t| t["cancels"] == 1).await?;
    assert_eq!(stats["totals"]["sessions"], 1, "{stats}");
    Ok(())
}

/// The demo page's plain link: the whole flow as HTML forms in a real browser, counted by the
/// server like the widget's sessions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_rendered_page_cancels_without_the_widget() -> anyhow::Result<()> {
    let server = spawn_server().await?;
    let url = server.url.clone();
    with_browser(move |client| async move {
        client.goto(&url).await?;
        // The standard profile (the link follows the demo's profile switch).
        let href = client
            .execute(
                "const p = document.getElementById('demo-profile'); p.value = 'standard';
                 p.dispatchEvent(new Event('change'));
                 return document.getElementById('cancel-no-js').href;",
                vec![],
            )
            .await?;
        client.goto(href.as_str().unwrap_or_default()).await?;
        let step = "return document.querySelector('[data-testid=hf-dialog]').dataset.step;";
        assert_eq!(client.execute(step, vec![]).await?, "survey");
        assert_eq!(client.execute("return document.scripts.length;", vec![]).await?, 0);
        client
            .execute("document.querySelector('input[value=too_expensive]').click(); document.querySelector('button[value=survey]').click();", vec![])
            .await?;
        wait_for(&client, "const d = document.querySelector('[data-testid=hf-dialog]'); return d && d.dataset.step === 'offer';", Duration::from_secs(10)).await?;
        client.execute("document.querySelector('button[value=decline]').click();", vec![]).await?;
        wait_for(&client, "const d = document.querySelector('[data-testid=hf-dialog]'); return d && d.dataset.step === 'confirm';", Duration::from_secs(10)).await?;
        client.execute("document.querySelector('button[value=confirm]').click();", vec![]).await?;
        let done = wait_for(&client, "const d = document.querySelector('[data-testid=hf-dialog]'); return d && d.dataset.step === 'done' && d.textContent;", Duration::from_secs(10)).await?;
        assert!(done.as_str().unwrap_or_default().contains("Your subscription is cancelled."), "{done}");
        Ok(())
    })
    .await?;
    // The page records its events before it answers: no waiting for an outbox here.
    let stats = stats_until(&server.url, |t| t["cancels"] == 1).await?;
    assert_eq!(stats["totals"]["sessions"], 1, "{stats}");
    Ok(())
}
