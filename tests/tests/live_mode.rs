//! Live mode end to end: the host page passes a customer token its backend signed (here, the test
//! signs it with the demo app's live signing secret); the flow runs on the widget, the outcome
//! counts in live mode only; a token whose claims were edited is refused; the no-JavaScript
//! page's forms refuse a post from another site.

use std::time::Duration;

use holdfast_e2e::demo::{click, step};
use holdfast_e2e::{LIVE_SECRET, live_token, spawn_server, wait_for, with_browser};
use serde_json::{Value, json};

async fn live_stats(base: &str) -> anyhow::Result<Value> {
    Ok(reqwest::Client::new()
        .get(format!("{base}/v1/admin/apps/app_demo/stats"))
        .bearer_auth(LIVE_SECRET)
        .send()
        .await?
        .json()
        .await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_customer_cancels_in_live_mode_and_a_tampered_token_is_refused()
-> anyhow::Result<()> {
    let server = spawn_server().await?;
    let url = server.url.clone();
    let token = live_token(&json!({}))?;
    let signed = token.clone();
    with_browser(move |client| async move {
        client.goto(&url).await?;
        wait_for(&client, "return document.getElementById('holdfast-status').textContent.includes('mounted');", Duration::from_secs(20)).await?;
        // A subscriber edits the token's claims in the console and asks for a plan with it.
        let status = client
            .execute_async(
                "const [token, done] = arguments; \
                 const p = token.split('.'); \
                 const claims = JSON.parse(atob(p[1].replace(/-/g, '+').replace(/_/g, '/'))); \
                 claims.mrr_cents = 990000; \
                 const forged = [p[0], btoa(JSON.stringify(claims)).replace(/=+$/, '').replace(/\\+/g, '-').replace(/\\//g, '_'), p[2]].join('.'); \
                 fetch('/v1/apps/app_demo/cancel-plan', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ customer: forged }) }) \
                   .then(r => r.json().then(b => done(r.status + ' ' + b.error.code)));",
                vec![json!(signed)],
            )
            .await?;
        assert_eq!(status, json!("401 bad_signature"));
        // The host page passes the signed token.
        client
            .execute(
                "Holdfast.cancel({ customer: arguments[0], profile: 'standard', locale: 'en', \
                   onOutcome: o => { document.getElementById('outcome').textContent = JSON.stringify(o); } });",
                vec![json!(token)],
            )
            .await?;
        wait_for(&client, "return !!document.getElementById('holdfast-root').shadowRoot.querySelector('[data-testid=hf-dialog]');", Duration::from_secs(10)).await?;
        click(&client, "hf-reason-too_expensive").await?;
        click(&client, "hf-survey-continue").await?;
        wait_for(&client, "const r = document.getElementById('holdfast-root').shadowRoot; const o = r.querySelector('[data-testid=hf-offer]'); return o && o.dataset.offer;", Duration::from_secs(5)).await?;
        click(&client, "hf-decline").await?;
        assert_eq!(step(&client).await?, "confirm");
        click(&client, "hf-confirm").await?;
        let outcome = wait_for(&client, "const t = document.getElementById('outcome').textContent; return t.startsWith('{') && t;", Duration::from_secs(5)).await?;
        let outcome: Value = serde_json::from_str(outcome.as_str().unwrap_or_default())?;
        assert_eq!(outcome["outcome"], "cancelled");
        Ok(())
    })
    .await?;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let stats = live_stats(&server.url).await?;
        if stats["totals"]["cancels"] == 1 {
            assert_eq!(stats["mode"], "live");
            assert_eq!(stats["totals"]["sessions"], 1, "{stats}");
            break;
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the live cancellation never counted: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cancel_pages_forms_refuse_a_post_from_another_site() -> anyhow::Result<()> {
    let server = spawn_server().await?;
    let url = server.url.clone();
    let token = live_token(&json!({ "purpose": "cancel_page" }))?;
    with_browser(move |client| async move {
        // The subscriber's link works on the server's own origin.
        client.goto(&format!("{url}/cancel/app_demo?token={token}&profile=standard")).await?;
        wait_for(&client, "return document.querySelector('[data-step]')?.dataset.step === 'survey';", Duration::from_secs(10)).await?;
        let fields = client
            .execute("return [...document.querySelectorAll('input[type=hidden]')].map(i => [i.name, i.value]);", vec![])
            .await?;
        // Another site (a second server, so another origin) serves a page that posts the same
        // fields to it at once: the browser sends that site's Origin, and the page refuses.
        let inputs: String = fields
            .as_array()
            .into_iter()
            .flatten()
            .chain([&json!(["action", "continue"])])
            .map(|pair| {
                format!(
                    r#"<input type="hidden" name="{}" value="{}">"#,
                    pair[0].as_str().unwrap_or_default(),
                    pair[1].as_str().unwrap_or_default().replace('"', "&quot;")
                )
            })
            .collect();
        let attack = format!(
            r#"<!doctype html><html><body><form id="f" method="post" action="{url}/cancel/app_demo">{inputs}</form><script>document.getElementById("f").submit();</script></body></html>"#
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let other = format!("http://{}/", listener.local_addr()?);
        let site = axum::Router::new().route(
            "/",
            axum::routing::get(move || {
                let attack = attack.clone();
                async move { axum::response::Html(attack) }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, site).await });
        client.goto(&other).await?;
        let body = wait_for(&client, "return location.pathname.startsWith('/cancel/') && document.body && document.body.textContent;", Duration::from_secs(10)).await?;
        assert!(body.as_str().unwrap_or_default().contains("foreign_origin"), "{body}");
        Ok(())
    })
    .await?;
    Ok(())
}
