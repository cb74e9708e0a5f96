//! The growth team's dashboard end to end: the real server with the demo's seeded history serving
//! the Trunk build of `dashboard/`, signed in to in headless Chromium. Every page passes axe-core's
//! WCAG A/AA rules and fits 375 px; an invalid edit shows at its field with core's words; a publish
//! and a restore change the live config; an experiment is shipped from its report.

use std::time::Duration;

use fantoccini::{Client, Locator};
use holdfast_e2e::demo::{click, in_widget};
use holdfast_e2e::{PEOPLE, spawn_dashboard_server, wait_for, with_browser};
use serde_json::Value;

const PAGES: [(&str, &str); 9] = [
    ("Overview", "Overview"),
    ("Breakdowns", "Breakdowns"),
    ("Sessions", "Sessions"),
    ("Experiments", "Experiments"),
    ("Prompts", "Prompts"),
    ("Flow editor", "Flow editor"),
    ("Webhooks", "Webhooks"),
    ("Compliance", "Compliance"),
    ("Settings", "Settings"),
];

fn axe_source() -> anyhow::Result<String> {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../node_modules/axe-core/axe.min.js"
    ))
    .map_err(|e| {
        anyhow::anyhow!("axe-core is missing (scripts/setup installs it with npm ci): {e}")
    })
}

/// axe-core's WCAG 2.x A/AA violations on the whole page.
async fn axe(client: &Client) -> anyhow::Result<Vec<Value>> {
    let result = client
        .execute_async(
            "const done = arguments[0];
             axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] })
                .then(r => done(r.violations.map(v => ({ id: v.id, help: v.help, nodes: v.nodes.map(n => n.html).slice(0, 3) }))))
                .catch(e => done([{ id: 'axe-error', help: String(e) }]));",
            vec![],
        )
        .await?;
    Ok(result.as_array().cloned().unwrap_or_default())
}

/// Waits until the page has settled: its heading says `h1` and nothing is loading.
async fn settled(client: &Client, h1: &str) -> anyhow::Result<()> {
    let script = format!(
        "const h = document.querySelector('main h1'); return !!h && h.textContent.startsWith({h1:?}) && !document.querySelector('[aria-busy=true]');"
    );
    wait_for(client, &script, Duration::from_secs(15)).await?;
    Ok(())
}

async fn sign_in(client: &Client, base: &str, who: usize) -> anyhow::Result<()> {
    let (email, password, _) = PEOPLE[who];
    client.goto(&format!("{base}/dashboard/")).await?;
    wait_for(
        client,
        "return !!document.getElementById('email');",
        Duration::from_secs(20),
    )
    .await?;
    client
        .find(Locator::Id("email"))
        .await?
        .send_keys(email)
        .await?;
    client
        .find(Locator::Id("password"))
        .await?
        .send_keys(password)
        .await?;
    client
        .find(Locator::Css(
            "form[data-testid=sign-in] button[type=submit]",
        ))
        .await?
        .click()
        .await?;
    settled(client, "Overview").await
}

async fn nav(client: &Client, name: &str) -> anyhow::Result<()> {
    client.find(Locator::LinkText(name)).await?.click().await?;
    Ok(())
}

async fn text_of(client: &Client, css: &str) -> anyhow::Result<String> {
    Ok(client.find(Locator::Css(css)).await?.text().await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_refused_and_every_page_passes_axe_at_1280_and_fits_375_px()
-> anyhow::Result<()> {
    let axe_js = axe_source()?;
    let server = spawn_dashboard_server().await?;
    let base = server.url.clone();
    with_browser(move |client| async move {
        client.set_window_size(1280, 900).await?;
        client.goto(&format!("{base}/dashboard/experiments")).await?;
        wait_for(&client, "return !!document.getElementById('email');", Duration::from_secs(20)).await?;
        client.execute(&axe_js, vec![]).await?;
        assert_eq!(axe(&client).await?, Vec::<Value>::new(), "the sign-in page");
        client.find(Locator::Id("email")).await?.send_keys(PEOPLE[0].0).await?;
        client.find(Locator::Id("password")).await?.send_keys("not-the-password").await?;
        client.find(Locator::Css("form[data-testid=sign-in] button[type=submit]")).await?.click().await?;
        let refused = wait_for(&client, "const e = document.querySelector('[role=alert]'); return e && e.textContent;", Duration::from_secs(10)).await?;
        assert!(refused.as_str().unwrap_or_default().to_lowercase().contains("password"), "{refused}");

        sign_in(&client, &base, 0).await?;
        let headline = text_of(&client, ".kpis").await?;
        assert!(headline.contains("Save rate") && headline.contains("%"), "{headline}");
        let caption = text_of(&client, "figure.chart figcaption").await?;
        assert!(caption.starts_with("Save rate "), "the trend's caption states the takeaway: {caption}");
        for (link, h1) in PAGES {
            nav(&client, link).await?;
            settled(&client, h1).await?;
            client.execute(&axe_js, vec![]).await?;
            assert_eq!(axe(&client).await?, Vec::<Value>::new(), "{link} at 1280 px");
        }
        client.set_window_size(375, 800).await?;
        for (link, h1) in PAGES {
            nav(&client, link).await?;
            settled(&client, h1).await?;
            let overflow = client
                .execute("return document.documentElement.scrollWidth - document.documentElement.clientWidth;", vec![])
                .await?;
            let out = client
                .execute(
                    "const w = document.documentElement.clientWidth;
                     return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > w + 0.5 && !(function clipped(p) { for (; p && p !== document.body; p = p.parentElement) { if (getComputedStyle(p).overflowX !== 'visible') return true; } return false; })(e.parentElement))
                         .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))
                         .concat([...document.querySelectorAll('body, body *')].filter(e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX === 'visible' && e.clientWidth > 0).slice(0, 5).map(e => 'wide ' + e.tagName + '.' + e.className + ' ' + e.scrollWidth + '>' + e.clientWidth));",
                    vec![],
                )
                .await?;
            assert_eq!(overflow, 0, "{link}: no sideways scrolling of the page at 375 px (wide tables scroll in their own box); outside: {out}");
        }
        // The sessions log: search by a word a subscriber wrote; the CSV link exports the same.
        client.set_window_size(1280, 900).await?;
        nav(&client, "Sessions").await?;
        settled(&client, "Sessions").await?;
        let word = wait_for(
            &client,
            "const q = [...document.querySelectorAll('td.quote')].map(t => t.textContent).find(t => t.length > 0);
             return q && q.split(/[^A-Za-z]+/).sort((a, b) => b.length - a.length)[0];",
            Duration::from_secs(10),
        )
        .await?;
        let word = word.as_str().unwrap_or_default().to_string();
        let before = text_of(&client, "main p.muted[aria-live]").await?;
        client.find(Locator::Css("input[type=search]")).await?.send_keys(&word).await?;
        client.find(Locator::XPath("//form[@role='search']//button[text()='Search']")).await?.click().await?;
        let after = wait_for(
            &client,
            &format!("const t = document.querySelector('main p.muted[aria-live]').textContent; return t !== {before:?} && t;"),
            Duration::from_secs(10),
        )
        .await?;
        let quotes = client
            .execute("return [...document.querySelectorAll('td.quote')].map(t => t.textContent.toLowerCase());", vec![])
            .await?;
        let quotes = quotes.as_array().cloned().unwrap_or_default();
        assert!(!quotes.is_empty(), "{after}");
        for q in &quotes {
            assert!(q.as_str().unwrap_or_default().contains(&word.to_lowercase()), "{word:?} in every answer found: {q}");
        }
        let csv = client
            .execute_async(
                "const done = arguments[0];
                 fetch(document.querySelector('a[download=\"holdfast-sessions.csv\"]').href).then(r => r.text()).then(done, e => done(String(e)));",
                vec![],
            )
            .await?;
        let csv = csv.as_str().unwrap_or_default();
        let total: usize = after.as_str().unwrap_or_default().chars().filter(char::is_ascii_digit).collect::<String>().parse()?;
        assert!(csv.starts_with("session_id,") && csv.lines().count() == total + 1, "{total} sessions match: {csv}");
        // Reload on a deep link: the server answers every dashboard path with the app.
        client.goto(&format!("{base}/dashboard/compliance")).await?;
        settled(&client, "Compliance").await?;
        let evidence = text_of(&client, "main table").await?;
        assert!(evidence.contains("Standard") && evidence.contains("100.0%"), "{evidence}");
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_edit_shows_at_its_field_and_a_publish_and_a_restore_change_the_live_config()
-> anyhow::Result<()> {
    let server = spawn_dashboard_server().await?;
    let base = server.url.clone();
    let api = server.url.clone();
    with_browser(move |client| async move {
        sign_in(&client, &base, 0).await?;
        nav(&client, "Flow editor").await?;
        settled(&client, "Flow editor").await?;
        wait_for(&client, "return !!document.getElementById('f-offers-0-terms-percent');", Duration::from_secs(10)).await?;
        let field = client.find(Locator::Id("f-offers-0-terms-percent")).await?;
        field.clear().await?;
        field.send_keys("60").await?;
        let shown = wait_for(
            &client,
            "const p = document.querySelector('[data-field=\"offers[0].terms.percent\"]'); return p && p.textContent;",
            Duration::from_secs(5),
        )
        .await?;
        assert_eq!(shown, "60 is above the 50% limit", "core's words, at the field");
        assert_eq!(field.attr("aria-invalid").await?.as_deref(), Some("true"));
        let publish = client.find(Locator::XPath("//button[text()='Publish…']")).await?;
        assert!(publish.attr("disabled").await?.is_some(), "an invalid draft cannot be published");

        // A rule's reasons name one the config does not have: core says so at the list.
        let reasons = client.find(Locator::Id("f-rules-0-reasons")).await?;
        let before = reasons.prop("value").await?.unwrap_or_default();
        reasons.clear().await?;
        reasons.send_keys(&format!("{before}, bored\t")).await?;
        let shown = wait_for(
            &client,
            "const p = document.querySelector('[data-field=\"rules[0].reasons\"]'); return p && p.textContent;",
            Duration::from_secs(5),
        )
        .await?;
        assert!(shown.as_str().unwrap_or_default().contains("bored"), "{shown}");
        reasons.clear().await?;
        reasons.send_keys(&format!("{before}\t")).await?;
        wait_for(&client, "return !document.querySelector('[data-field=\"rules[0].reasons\"]');", Duration::from_secs(5)).await?;

        field.clear().await?;
        field.send_keys("20").await?;
        wait_for(&client, "return !document.querySelector('[data-field=\"offers[0].terms.percent\"]');", Duration::from_secs(5)).await?;
        publish.click().await?;
        let diff = wait_for(&client, "const d = document.querySelector('[data-testid=diff]'); return d && d.textContent;", Duration::from_secs(5)).await?;
        let diff = diff.as_str().unwrap_or_default();
        assert!(diff.contains("- ") && diff.contains("\"percent\": 25") && diff.contains("+ ") && diff.contains("\"percent\": 20"), "{diff}");
        client.find(Locator::XPath("//div[@role='alertdialog']//button[text()='Publish']")).await?.click().await?;
        wait_for(&client, "return document.body.textContent.includes('Published as version 2');", Duration::from_secs(10)).await?;
        assert_eq!(live_percent(&api).await?, 20);
        // The history says who made each version.
        wait_for(
            &client,
            "return [...document.querySelectorAll('.versions li')].some(l => l.textContent.includes('Version 2') && l.textContent.includes('owner@example.com'));",
            Duration::from_secs(10),
        )
        .await?;

        client.find(Locator::XPath("//button[text()='Restore version 1']")).await?.click().await?;
        wait_for(&client, "return document.body.textContent.includes('Version 1 restored as version 3');", Duration::from_secs(10)).await?;
        assert_eq!(live_percent(&api).await?, 25);

        // The preview plans from the draft and records nothing. The demo's experiment is
        // running and puts the preview's customer in its control arm, whose offer is
        // `switch_discount` (the seventh): the draft changes that one.
        let field = client.find(Locator::Id("f-offers-6-terms-percent")).await?;
        field.clear().await?;
        field.send_keys("15").await?;
        client.find(Locator::XPath("//button[text()='Preview']")).await?.click().await?;
        let preview = wait_for(&client, "const p = document.querySelector('[data-testid=preview-result]'); return p && p.textContent.includes('off') && p.textContent;", Duration::from_secs(10)).await?;
        assert!(preview.as_str().unwrap_or_default().contains("15% off"), "the draft's terms: {preview}");
        assert_eq!(live_percent(&api).await?, 25, "the preview changed nothing");

        // The real widget runs the draft in a frame: the survey, the draft's 15% offer, a save
        // that is answered but never recorded.
        let sessions_before = sessions_of(&api, "preview_customer").await?;
        client.find(Locator::XPath("//button[text()='Run the widget on the draft']")).await?.click().await?;
        wait_for(
            &client,
            "return !!document.querySelector('[data-testid=live-preview]');",
            Duration::from_secs(10),
        )
        .await?;
        let frame = client.find(Locator::Css("[data-testid=live-preview]")).await?;
        frame.enter_frame().await?;
        wait_for(&client, "const r = document.getElementById('holdfast-root'); return !!(r && r.shadowRoot.querySelector('[data-testid=hf-dialog]'));", Duration::from_secs(20)).await?;
        click(&client, "hf-reason-too_expensive").await?;
        click(&client, "hf-survey-continue").await?;
        let offer = in_widget(&client, "const o = root.querySelector('[data-testid=hf-offer]'); return o && o.textContent;").await?;
        assert!(offer.as_str().unwrap_or_default().contains("15%"), "the draft's offer in the real widget: {offer}");
        click(&client, "hf-accept").await?;
        let outcome = wait_for(&client, "const t = document.getElementById('outcome').textContent; return t.includes('saved') && t;", Duration::from_secs(10)).await?;
        assert!(outcome.as_str().unwrap_or_default().contains("not recorded"), "{outcome}");
        client.enter_parent_frame().await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(sessions_of(&api, "preview_customer").await?, sessions_before, "the preview recorded no session");
        Ok(())
    })
    .await
}

/// How many sessions the server holds for a customer (through the sessions log).
async fn sessions_of(base: &str, customer: &str) -> anyhow::Result<i64> {
    let log: Value = reqwest::Client::new()
        .get(format!(
            "{base}/v1/admin/apps/app_demo/sessions?q={customer}"
        ))
        .bearer_auth("sk_test_e2e")
        .send()
        .await?
        .json()
        .await?;
    log["total"]
        .as_i64()
        .ok_or_else(|| anyhow::anyhow!("no total: {log}"))
}

async fn live_percent(base: &str) -> anyhow::Result<i64> {
    let config: Value = reqwest::Client::new()
        .get(format!("{base}/v1/admin/apps/app_demo/config"))
        .bearer_auth("sk_test_e2e")
        .send()
        .await?
        .json()
        .await?;
    Ok(config["config"]["offers"][0]["terms"]["percent"]
        .as_i64()
        .unwrap_or(-1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_experiment_is_read_in_order_and_shipped_from_its_report_and_a_viewer_cannot()
-> anyhow::Result<()> {
    let server = spawn_dashboard_server().await?;
    let base = server.url.clone();
    let api = server.url.clone();
    with_browser(move |client| async move {
        // A viewer reads the report but has no ship button.
        sign_in(&client, &base, 1).await?;
        client
            .goto(&format!("{base}/dashboard/experiments/too_expensive_depth"))
            .await?;
        settled(&client, "too_expensive_depth").await?;
        let order = client
            .execute(
                "return [...document.querySelectorAll('main h2')].map(h => h.textContent);",
                vec![],
            )
            .await?;
        assert_eq!(order[0], "Health checks", "{order}");
        assert_eq!(order[1], "Verdict", "{order}");
        assert!(
            client
                .find_all(Locator::XPath("//button[starts-with(text(), 'Ship')]"))
                .await?
                .is_empty()
        );
        client
            .find(Locator::XPath("//button[text()='Sign out']"))
            .await?
            .click()
            .await?;

        sign_in(&client, &base, 0).await?;
        nav(&client, "Experiments").await?;
        settled(&client, "Experiments").await?;
        client
            .find(Locator::LinkText("too_expensive_depth"))
            .await?
            .click()
            .await?;
        settled(&client, "too_expensive_depth").await?;
        let verdict = text_of(&client, ".verdict").await?;
        assert!(verdict.starts_with("Inconclusive."), "{verdict}");
        // By keyboard: focus the ship button of the 'deeper' variant and press Enter.
        let ship = client
            .find(Locator::XPath("//button[text()='Ship deeper…']"))
            .await?;
        client
            .execute("arguments[0].focus();", vec![serde_json::to_value(&ship)?])
            .await?;
        client.active_element().await?.send_keys("\u{E007}").await?;
        let confirm = wait_for(
            &client,
            "const d = document.querySelector('[role=alertdialog]'); return d && d.textContent;",
            Duration::from_secs(5),
        )
        .await?;
        let confirm = confirm.as_str().unwrap_or_default();
        assert!(
            confirm.contains("Ship “deeper”?")
                && confirm.contains("restoring the previous config version"),
            "{confirm}"
        );
        client
            .find(Locator::XPath("//button[text()='Ship it']"))
            .await?
            .click()
            .await?;
        wait_for(
            &client,
            "return document.body.textContent.includes('Shipped “deeper”');",
            Duration::from_secs(10),
        )
        .await?;
        let config: Value = reqwest::Client::new()
            .get(format!("{api}/v1/admin/apps/app_demo/config"))
            .bearer_auth("sk_test_e2e")
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(
            config["config"]["experiments"],
            serde_json::json!([]),
            "the experiment left the config"
        );
        Ok(())
    })
    .await
}

/// Writes the README's screenshots of the dashboard (`docs/dashboard-*.png`): the overview, an
/// experiment report and the flow editor with its preview. Not part of the suite: run with
/// `cargo test -p holdfast-e2e --test dashboard -- --ignored`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes docs/dashboard-*.png; run on demand"]
async fn screenshots_of_the_dashboard() -> anyhow::Result<()> {
    let server = spawn_dashboard_server().await?;
    let base = server.url.clone();
    with_browser(move |client| async move {
        client.set_window_size(1280, 900).await?;
        sign_in(&client, &base, 0).await?;
        let docs = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs");
        std::fs::create_dir_all(docs)?;
        std::fs::write(format!("{docs}/dashboard-overview.png"), client.screenshot().await?)?;
        client.goto(&format!("{base}/dashboard/experiments/too_expensive_depth")).await?;
        settled(&client, "too_expensive_depth").await?;
        std::fs::write(format!("{docs}/dashboard-experiment.png"), client.screenshot().await?)?;
        client.goto(&format!("{base}/dashboard/flow")).await?;
        settled(&client, "Flow editor").await?;
        wait_for(&client, "return !!document.getElementById('f-offers-0-terms-percent');", Duration::from_secs(10)).await?;
        let field = client.find(Locator::Id("f-offers-0-terms-percent")).await?;
        field.clear().await?;
        field.send_keys("40").await?;
        client.find(Locator::XPath("//button[text()='Preview']")).await?.click().await?;
        wait_for(&client, "const p = document.querySelector('[data-testid=preview-result]'); return p && p.textContent.length > 0;", Duration::from_secs(10)).await?;
        client.execute("window.scrollTo(0, 0);", vec![]).await?;
        std::fs::write(format!("{docs}/dashboard-flow-editor.png"), client.screenshot().await?)?;
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_invites_a_viewer_whose_one_time_link_sets_a_password_and_signs_in()
-> anyhow::Result<()> {
    let server = spawn_dashboard_server().await?;
    let base = server.url.clone();
    with_browser(move |client| async move {
        sign_in(&client, &base, 0).await?;
        nav(&client, "Settings").await?;
        settled(&client, "Settings").await?;
        let email = client.find(Locator::Css("section[aria-labelledby=people-h] input[type=email]")).await?;
        email.send_keys("new.viewer@example.com").await?;
        client.find(Locator::XPath("//button[text()='Invite']")).await?.click().await?;
        let link = wait_for(&client, "const c = document.querySelector('[data-testid=shown-once]'); return c && c.textContent;", Duration::from_secs(10)).await?;
        let link = link.as_str().unwrap_or_default().to_string();
        assert!(link.starts_with(&format!("{base}/dashboard/#accept=")), "{link}");
        wait_for(&client, "return document.body.textContent.includes('person.invited');", Duration::from_secs(10)).await?;
        client.find(Locator::XPath("//button[text()='Sign out']")).await?.click().await?;
        wait_for(&client, "return !!document.getElementById('email');", Duration::from_secs(10)).await?;

        // The link, opened: choose a password, and the viewer is signed in.
        client.goto(&link).await?;
        wait_for(&client, "return !!document.getElementById('new-password');", Duration::from_secs(20)).await?;
        client.find(Locator::Id("new-password")).await?.send_keys("a-new-password-1").await?;
        client.find(Locator::XPath("//button[text()='Set password and sign in']")).await?.click().await?;
        settled(&client, "Overview").await?;
        assert_eq!(text_of(&client, ".who").await?, "new.viewer@example.com");
        // Taken up once: the same link again is refused.
        client.find(Locator::XPath("//button[text()='Sign out']")).await?.click().await?;
        client.goto(&link).await?;
        wait_for(&client, "return !!document.getElementById('new-password');", Duration::from_secs(20)).await?;
        client.find(Locator::Id("new-password")).await?.send_keys("another-password-2").await?;
        client.find(Locator::XPath("//button[text()='Set password and sign in']")).await?.click().await?;
        let refused = wait_for(&client, "const e = document.querySelector('[role=alert]'); return e && e.textContent;", Duration::from_secs(10)).await?;
        assert!(!refused.as_str().unwrap_or_default().is_empty());
        Ok(())
    })
    .await
}
