/* Holdfast loader. One <script async src=".../holdfast.js" data-app="app_..."> tag in the host page.
   Defines window.Holdfast, queues every call made before its WebAssembly bundle is ready (none is
   lost), fetches the cancel-flow bundle at the first cancel call, asks the server whether a usage
   or gate call earns a prompt before it fetches the upgrade-prompt bundle (only to render one), so
   a page that calls nothing, or whose call earns nothing, downloads nothing else; sends the events
   an earlier page left in the outbox itself, and never throws into the host page. */
(function (w, d) {
  "use strict";
  var s = d.currentScript || d.querySelector("script[data-app][src*='holdfast']");
  var base = s ? s.src.replace(/[^/]*$/, "") : "/";
  // Frozen: no other script can point the widget at another app or server. The newest customer
  // token (Holdfast.identify) is read through a getter.
  var token, cfg = Object.freeze({ app: s && s.getAttribute("data-app"), endpoint: (s && s.getAttribute("data-endpoint")) || base.replace(/\/$/, ""), get token() { return token; } });
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
      console.error("Holdfast: the widget could not load", e);
      b.loading = null; var q = b.queue || []; b.queue = [];
      q.forEach(function (c) { c[3](e); });
    }));
  }
  function run(b, c) {
    try {
      var f = b.api[c[0]];
      if (typeof f !== "function") throw new TypeError("Holdfast." + c[0] + " is not available in this version");
      // The cancel dialog is modal: a prompt on screen makes way for it.
      if (c[0] === "cancel" && promptsB.api && promptsB.api.hide_prompts) promptsB.api.hide_prompts();
      Promise.resolve(f(c[1])).then(c[2], c[3]);
    } catch (e) { console.error(e); c[3](e); }
  }
  function drain(b) { var q = b.queue || []; b.queue = []; q.forEach(function (c) { run(b, c); }); }
  function enqueue(c) {
    if (c[0] !== "cancel") return ask(c[0], c[1]).then(c[2], c[3]);
    if (cancelB.api) run(cancelB, c); else { (cancelB.queue = cancelB.queue || []).push(c); load(cancelB); }
  }
  // Holdfast.usage / Holdfast.gate: the server's prompt plan decides (with this customer's latest
  // prompt_shown and prompt_dismissed events still in the outbox, so a prompt shown or snoozed a
  // moment ago counts); usage below half of its limit,
  // under every threshold, is a no without asking. The prompt bundle is fetched to render a
  // prompt, to settle one of its own on screen, or to check a call the server refused.
  function ask(name, o) {
    var q = Object(o), c = q.customer;
    return (name === "usage" && q.metric !== "seats" && q.limit > 0 && q.used >= 0 && q.used * 2 < q.limit
      ? Promise.resolve({ reason: "below_threshold" })
      : fetch(cfg.endpoint + "/v1/apps/" + cfg.app + "/prompts/plan", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(Object.assign({}, q, { ask: name, pending: outbox().filter(function (x) { return idOf(x.customer) === idOf(c) && /^prompt_[sd]/.test(x.event && x.event.type); }).slice(-100).map(function (x) { return x.event; }) })) })
        .then(function (r) { return r.ok ? r.json() : null; }, function () { return null; })
    ).then(function (p) {
      return p && !p.show && !promptsB.api ? { status: "suppressed", reason: p.reason } : load(promptsB).then(function () { return promptsB.api.prompt(name, o, p || void 0); });
    });
  }
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
  // Events an earlier page left in the outbox ([{ customer, event }] in localStorage) go out from
  // here, batch by batch, without WebAssembly; a loaded bundle's outbox takes over. Sent or
  // refused for good (a 4xx but 408 and 429) leaves the outbox; the server drops duplicates.
  function idOf(c) {
    try { return typeof c === "string" ? JSON.parse(atob(c.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).sub : c.id; } catch (e) { return c; }
  }
  function outbox() { try { var l = JSON.parse(localStorage.getItem(key)); return Array.isArray(l) ? l : []; } catch (e) { return []; } }
  function flush() {
    var l = outbox(), c = l[0] && l[0].customer, id = idOf(c), ev = [];
    if (!c || cancelB.api || promptsB.api) return;
    l.forEach(function (x) { if (idOf(x.customer) === id && ev.length < 100) ev.push(x.event); });
    if (typeof token === "string" && idOf(token) === id && typeof c === "string") c = token;
    var body = JSON.stringify({ customer: c, events: ev });
    // keepalive (the request outlives a page left at once) takes bodies up to 64 KiB only.
    fetch(cfg.endpoint + "/v1/apps/" + cfg.app + "/events", { method: "POST", keepalive: body.length < 6e4, headers: { "content-type": "application/json" }, body: body }).then(function (r) {
      if (!r.ok && (r.status < 400 || r.status > 499 || r.status === 408 || r.status === 429)) return;
      return (r.ok ? Promise.resolve({}) : r.json()).then(function (b) {
        var m = /^events\[(\d+)\]/.exec(b.error && b.error.field || ""), gone = m ? [ev[+m[1]]] : ev;
        localStorage.setItem(key, JSON.stringify(outbox().filter(function (x) { return !gone.some(function (g) { return g && x.event && g.id === x.event.id; }); })));
        flush();
      });
    }).catch(function () {});
  }
  (w.requestIdleCallback || function (f) { setTimeout(f, 1); })(flush);
})(window, document);
