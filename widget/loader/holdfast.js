/* Holdfast loader. One <script async src=".../holdfast.js" data-app="app_..."> tag in the host page.
   Defines window.Holdfast, queues every call made before its WebAssembly bundle is ready (none is
   lost), fetches the cancel-flow bundle at the first cancel call, asks the server whether a usage
   or gate call earns a prompt before it fetches the upgrade-prompt bundle (only to render one), so
   a page that calls nothing, or whose call earns nothing, downloads nothing else; it is the page's
   one sender of the event outbox (what an earlier page left, and what either bundle records), and
   never throws into the host page. */
(function (w, d) {
  "use strict";
  var s = d.currentScript || d.querySelector("script[data-app][src*='holdfast']");
  var base = s ? s.src.replace(/[^/]*$/, "") : "/";
  // Frozen: no other script can point the widget at another app or server. The newest customer
  // token (Holdfast.identify) is read through a getter. The bundles send through `flush` and `post`.
  var token, cfg = Object.freeze({ app: s && s.getAttribute("data-app"), endpoint: (s && s.getAttribute("data-endpoint")) || base.replace(/\/$/, ""), get token() { return token; }, flush: flush, post: post });
  // The stub's queue, if the page made one (an element with id="Holdfast" is not a stub).
  var prev = w.Holdfast, queue = prev && Array.isArray(prev.q) ? prev.q : [];
  // Two bundles, each fetched on its own intent: the cancel flow and the upgrade prompts. A bundle
  // is { name, api, loading, queue }.
  var cancelB = { name: "holdfast-widget" }, promptsB = { name: "holdfast-prompts" };
  var key = "holdfast:outbox:" + cfg.app;
  function load(b) {
    return b.loading || (b.loading = import(base + b.name + ".js").then(function (m) {
      return m.default({ module_or_path: base + b.name + "_bg.wasm" }).then(function () {
        b.api = m; if (m.configure) m.configure(cfg); drain(b);
      });
    }).catch(function (e) {
      console.error("Holdfast: could not load", e);
      b.loading = null; var q = b.queue || []; b.queue = [];
      q.forEach(function (c) { c[3](e); });
    }));
  }
  // A Holdfast.cancel call, once the cancel bundle is there (only the cancel bundle queues calls).
  // The cancel dialog is modal: a prompt on screen makes way for it.
  function run(c) {
    try {
      if (promptsB.api) promptsB.api.hide_prompts();
      cancelB.api.cancel(c[1]).then(c[2], c[3]);
    } catch (e) { console.error(e); c[3](e); }
  }
  function drain(b) { var q = b.queue || []; b.queue = []; q.forEach(run); }
  function enqueue(c) {
    if (c[0] !== "cancel") return ask(c[0], c[1]).then(c[2], c[3]);
    if (cancelB.api) run(c); else { (cancelB.queue = cancelB.queue || []).push(c); load(cancelB); }
  }
  // POSTs `body` as JSON to one of the app's API routes. keepalive (the request outlives a page left
  // at once) takes bodies up to 64 KiB only. With `then`, the bundles' callback for a 2xx (a trial
  // the server started); a refusal or no answer calls nothing.
  function post(route, body, then) {
    var b = JSON.stringify(body), f = fetch(cfg.endpoint + "/v1/apps/" + cfg.app + route, { method: "POST", keepalive: b.length < 6e4, headers: { "content-type": "application/json" }, body: b });
    if (then) f.then(function (r) { if (r.ok) then(); }, function () {});
    return f;
  }
  // Holdfast.usage / Holdfast.gate: the server's prompt plan decides (with this customer's latest
  // prompt_shown and prompt_dismissed events still in the outbox, so a prompt shown or snoozed a
  // moment ago counts); usage below half of its limit, under every threshold, is a no without
  // asking. The server checks the call: a refusal rejects with a TypeError naming the field, and
  // no answer at all is "unavailable" (a prompt is never worth waiting for). The prompt bundle is
  // fetched only to render the plan's prompt or to settle one of its own on screen.
  function ask(name, o) {
    var q = Object(o), c = q.customer;
    return (name === "usage" && q.metric !== "seats" && q.limit > 0 && q.used >= 0 && q.used * 2 < q.limit
      ? Promise.resolve({ reason: "below_threshold" })
      : post("/prompts/plan", Object.assign({}, q, { ask: name, pending: outbox().filter(function (x) { return idOf(x.customer) === idOf(c) && /^prompt_[sd]/.test(x.event && x.event.type); }).slice(-100).map(function (x) { return x.event; }) }))
        .then(function (r) {
          return r.ok ? r.json() : later(r) ? null : r.json().then(function (b) {
            var e = b.error || {};
            throw new TypeError("Holdfast." + name + ": " + (e.field ? e.field + ": " : "") + e.message);
          });
        }, function () { return null; })
    ).then(function (p) {
      return !p ? { status: "suppressed", reason: "unavailable" } : !p.show && !promptsB.api ? { status: "suppressed", reason: p.reason } : load(promptsB).then(function () { return promptsB.api.prompt(name, q, p); });
    });
  }
  // A status that may succeed later: 408, 429, 5xx.
  function later(r) { return r.status > 499 || r.status == 408 || r.status == 429; }
  function call(name) {
    return function (opts) {
      return new Promise(function (ok, fail) { enqueue([name, opts, ok, fail]); });
    };
  }
  // Calls queued by the two-line stub before this file arrived: [name, opts, resolve, reject].
  // A fresh customer token: the bundles' outboxes send queued events of its customer with it.
  function identify(t) {
    if (typeof t !== "string") throw new TypeError("Holdfast.identify: expected a customer token (JWT)");
    token = t;
  }
  w.Holdfast = { cancel: call("cancel"), usage: call("usage"), gate: call("gate"), identify: identify, ready: function () { return load(cancelB).then(function () { return !!cancelB.api; }); }, config: cfg };
  queue.forEach(enqueue);
  // The outbox ([{ customer, event }] in localStorage, written by the bundles): sent batch by batch
  // (100 events of one customer), one request at a time, with the newest token of that customer;
  // what the server took or refused for good (a 4xx but 408 and 429; only events[i] when it names
  // one) leaves it, the rest is tried again with backoff (1 s doubling to a minute), then on the
  // next record, pagehide or page. The server drops duplicates.
  function idOf(c) {
    try { return typeof c === "string" ? JSON.parse(atob(c.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).sub : c.id; } catch (e) { return c; }
  }
  function outbox() { try { var l = JSON.parse(localStorage.getItem(key)); return Array.isArray(l) ? l : []; } catch (e) { return []; } }
  var sending, wait = 0;
  function flush() {
    var l = outbox(), c = l[0] && l[0].customer, id = idOf(c), ev = [];
    if (!c || sending) return;
    sending = 1;
    l.forEach(function (x) { if (idOf(x.customer) === id && ev.length < 100) ev.push(x.event); });
    if (typeof token === "string" && idOf(token) === id && typeof c === "string") c = token;
    post("/events", { customer: c, events: ev }).then(function (r) {
      if (later(r)) throw 0;
      return Promise.resolve(r.ok ? {} : r.json()).then(function (b) {
        var m = /^events\[(\d+)\]/.exec(b.error && b.error.field || ""), gone = m ? [ev[+m[1]]] : ev;
        localStorage.setItem(key, JSON.stringify(outbox().filter(function (x) { return !gone.some(function (g) { return g && x.event && g.id === x.event.id; }); })));
        sending = wait = 0;
        flush();
      });
    }).catch(function () { sending = 0; if (wait < 6e4) setTimeout(flush, wait = wait * 2 || 1e3); });
  }
  w.addEventListener("pagehide", flush);
  (w.requestIdleCallback || function (f) { setTimeout(f, 1); })(flush);
})(window, document);
