//! What a subscriber cannot see in a unit test: accessibility checked by axe-core in a real
//! browser, a hostile host stylesheet that must change nothing, and a 320 px wide screen.

use std::time::Duration;

use fantoccini::Client;
use holdfast_e2e::demo::{click, open_flow};
use holdfast_e2e::{spawn_server, wait_for, with_browser};
use serde_json::Value;

/// Runs axe-core's WCAG 2.x A/AA rules on the widget and returns the violations.
async fn axe(client: &Client) -> anyhow::Result<Vec<Value>> {
    let result = client
        .execute_async(
            "const done = arguments[0];
             axe.run(document.getElementById('holdfast-root'), { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] })
                .then(r => done(r.violations.map(v => ({ id: v.id, help: v.help, nodes: v.nodes.map(n => n.html) }))))
                .catch(e => done([{ id: 'axe-error', help: String(e) }]));",
            vec![],
        )
        .await?;
    Ok(result.as_array().cloned().unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_step_of_the_flow_passes_axe_core_wcag_aa_checks() -> anyhow::Result<()> {
    let axe_source = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../node_modules/axe-core/axe.min.js"
    ))
    .map_err(|e| {
        anyhow::anyhow!("axe-core is missing (scripts/setup installs it with npm ci): {e}")
    })?;
    let server = spawn_server().await?;
    let url = server.url.clone();
    with_browser(move |client| async move {
        open_flow(&client, &url, "standard").await?;
        client.execute(&axe_source, vec![]).await?;
        let mut seen = Vec::new();
        for (step, action) in [
            ("survey", "hf-reason-too_expensive"),
            ("survey with a reason", "hf-survey-continue"),
            ("offer", "hf-decline"),
            ("confirm", "hf-confirm"),
            ("done", ""),
        ] {
            let violations = axe(&client).await?;
            assert!(
                violations.is_empty(),
                "axe-core finds no WCAG A/AA violation on the {step} step: {violations:#?}"
            );
            seen.push(step);
            if !action.is_empty() {
                click(&client, action).await?;
            }
        }
        assert_eq!(seen.len(), 5);
        Ok(())
    })
    .await
}

/// Sizes and colours of the dialog's parts, as the browser computed them.
const MEASURE: &str = "
    const r = document.getElementById('holdfast-root').shadowRoot;
    const pick = (sel) => { const el = r.querySelector(sel); const s = getComputedStyle(el); const b = el.getBoundingClientRect();
        return [sel, Math.round(b.width), Math.round(b.height), s.fontSize, s.fontFamily, s.color, s.backgroundColor, s.lineHeight, s.padding].join('|'); };
    return ['.hf-dialog', '#hf-title', '.hf-reason', '[data-testid=hf-survey-continue]', '[data-testid=hf-continue-cancel]', '.hf-close'].map(pick);";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_host_stylesheet_changes_nothing_in_the_dialog() -> anyhow::Result<()> {
    let server = spawn_server().await?;
    let url = server.url.clone();
    with_browser(move |client| async move {
        open_flow(&client, &url, "standard").await?;
        let before = client.execute(MEASURE, vec![]).await?;
        click(&client, "hf-close").await?;
        client
            .execute(
                "const s = document.createElement('style');
                 s.textContent = `html { font-size: 40px !important; } * { font-family: 'Comic Sans MS', cursive !important; color: red !important;
                   line-height: 9 !important; box-sizing: content-box !important; letter-spacing: 3px !important; }
                   button, input, label, div, p, h2 { all: unset !important; display: inline !important; padding: 30px !important; }
                   #holdfast-root { font-size: 30px !important; color: lime !important; }`;
                 document.head.appendChild(s);",
                vec![],
            )
            .await?;
        client.execute("document.getElementById('cancel-subscription').click();", vec![]).await?;
        wait_for(&client, "return !!document.getElementById('holdfast-root').shadowRoot.querySelector('[data-testid=hf-dialog]');", Duration::from_secs(10)).await?;
        let after = client.execute(MEASURE, vec![]).await?;
        assert_eq!(before, after, "the host's CSS does not reach into the shadow root");
        let host_button = client
            .execute("return getComputedStyle(document.getElementById('cancel-subscription')).color;", vec![])
            .await?;
        assert_eq!(host_button, "rgb(255, 0, 0)", "the hostile sheet really applies to the host page");
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dialog_fits_a_320_pixel_wide_screen() -> anyhow::Result<()> {
    let server = spawn_server().await?;
    let url = server.url.clone();
    with_browser(move |client| async move {
        client.set_window_size(320, 640).await?;
        open_flow(&client, &url, "standard").await?;
        let width = client.execute("return window.innerWidth;", vec![]).await?;
        assert!(width.as_i64().is_some_and(|w| w <= 320), "the viewport is 320 px wide: {width}");
        for step_action in ["hf-reason-too_expensive", "hf-survey-continue", "hf-decline"] {
            let overflow = client
                .execute(
                    "const r = document.getElementById('holdfast-root').shadowRoot; const d = r.querySelector('.hf-dialog');
                     const out = [...r.querySelectorAll('button, label, p, a')].filter(e => { const b = e.getBoundingClientRect(); return b.width > 0 && (b.left < 0 || b.right > window.innerWidth); }).map(e => e.outerHTML.slice(0, 80));
                     return { scroll: d.scrollWidth - d.clientWidth, out };",
                    vec![],
                )
                .await?;
            assert_eq!(overflow["scroll"], 0, "no horizontal scrolling at 320 px: {overflow}");
            assert_eq!(overflow["out"], serde_json::json!([]), "every control is inside the screen: {overflow}");
            click(&client, step_action).await?;
        }
        Ok(())
    })
    .await
}

/// Writes the README's screenshot of the flow (`docs/cancel-flow.png`). Not part of the suite:
/// run with `cargo test -p holdfast-e2e --test quality -- --ignored`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes docs/cancel-flow.png; run on demand"]
async fn screenshot_of_the_offer_step() -> anyhow::Result<()> {
    let server = spawn_server().await?;
    let url = server.url.clone();
    with_browser(move |client| async move {
        client.set_window_size(1100, 760).await?;
        open_flow(&client, &url, "standard").await?;
        click(&client, "hf-reason-too_expensive").await?;
        click(&client, "hf-survey-continue").await?;
        let png = client.screenshot().await?;
        std::fs::create_dir_all(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs"))?;
        std::fs::write(
            concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/cancel-flow.png"),
            png,
        )?;
        Ok(())
    })
    .await
}

/// Writes the README's screenshot of an upgrade prompt (`docs/upgrade-prompt.png`). Not part of
/// the suite: run with `cargo test -p holdfast-e2e --test quality -- --ignored`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes docs/upgrade-prompt.png; run on demand"]
async fn screenshot_of_the_limit_prompt() -> anyhow::Result<()> {
    let server = spawn_server().await?;
    let url = server.url.clone();
    with_browser(move |client| async move {
        client.set_window_size(1100, 760).await?;
        client.goto(&url).await?;
        wait_for(&client, "return document.getElementById('holdfast-status').textContent.includes('mounted');", Duration::from_secs(20)).await?;
        // Straight to 10 of 10 projects: the "limit reached" dialog with its plan comparison.
        client
            .execute(
                "const c = { id: 'cus_shot', plan: 'pro', mrr_cents: 4900, created_at: 1700000000 };
                 Holdfast.usage({ customer: c, metric: 'projects', used: 10, limit: 10, period_end: 4000000000 });",
                vec![],
            )
            .await?;
        wait_for(&client, "const p = document.getElementById('holdfast-root').shadowRoot.querySelector('[data-testid=hf-prompt]'); return !!p;", Duration::from_secs(10)).await?;
        client.execute_async("requestAnimationFrame(() => requestAnimationFrame(arguments[0]));", vec![]).await?;
        let png = client.screenshot().await?;
        std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/upgrade-prompt.png"), png)?;
        Ok(())
    })
    .await
}
