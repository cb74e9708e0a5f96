/* Holdfast loader. One <script async src=".../holdfast.js" data-app="app_..."> tag in the host page.
   Defines window.Holdfast, queues every call made before the WebAssembly bundle is ready (none is
   lost), fetches the bundle on idle or at the first call, and never throws into the host page. */
(function (w, d) {
  "use strict";
  var s = d.currentScript || d.querySelector("script[data-app][src*='holdfast']");
  var base = s ? s.src.replace(/[^/]*$/, "") : "/";
  var cfg = { app: s && s.getAttribute("data-app"), endpoint: (s && s.getAttribute("data-endpoint")) || base.replace(/\/$/, "") };
  var prev = w.Holdfast, queue = (prev && prev.q) || [], api = null, loading = null;
  function load() {
    return loading || (loading = import(base + "holdfast-widget.js").then(function (m) {
      return m.default({ module_or_path: base + "holdfast-widget_bg.wasm" }).then(function () {
        api = m; if (m.configure) m.configure(cfg); drain();
      });
    }).catch(function (e) {
      console.error("Holdfast: the widget could not load", e);
      loading = null; var q = queue; queue = [];
      q.forEach(function (c) { c[3](e); });
    }));
  }
  function run(c) {
    try {
      var f = api[c[0]];
      if (typeof f !== "function") throw new TypeError("Holdfast." + c[0] + " is not available in this version");
      Promise.resolve(f(c[1])).then(c[2], c[3]);
    } catch (e) { console.error(e); c[3](e); }
  }
  function drain() { var q = queue; queue = []; q.forEach(run); }
  function call(name) {
    return function (opts) {
      return new Promise(function (ok, fail) {
        var c = [name, opts, ok, fail];
        if (api) run(c); else { queue.push(c); load(); }
      });
    };
  }
  // Calls queued by the two-line stub before this file arrived: [name, opts, resolve, reject].
  w.Holdfast = { cancel: call("cancel"), usage: call("usage"), gate: call("gate"), ready: function () { return load().then(function () { return !!api; }); }, config: cfg };
  if (queue.length) load();
  else (w.requestIdleCallback || function (f) { setTimeout(f, 1); })(function () { load(); });
})(window, document);
