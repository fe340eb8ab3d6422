// Keepkit loader: window.Keepkit with cancelFlow(), roadmap() and ready().
// It stays small: the cancellation flow (cancel.js) and the roadmap (roadmap.js) are loaded on
// first use, in parallel with their first API call. Plain JS, no dependencies.
(function (w, d) {
  "use strict";
  var script = d.currentScript;
  var src = script ? new URL(script.src, location.href) : null;
  var base = src ? src.origin : location.origin;
  var siteKey = script && script.getAttribute("data-site");
  var old = w.Keepkit;
  var queue = (old && old.q) || [];
  // The server fills in the content hashes of the parts (immutable, cached for a year).
  var PARTS = { cancel: "__KEEPKIT_V_CANCEL__", roadmap: "__KEEPKIT_V_ROADMAP__" };
  var loading = {};

  // h("button", {"data-kk": "next"}, "text" | [children]): text is only ever textContent.
  function h(tag, attrs, kids) {
    var el = d.createElement(tag);
    for (var k in attrs || {}) {
      if (attrs[k] === false || attrs[k] == null) continue;
      if (k.slice(0, 2) === "on") el.addEventListener(k.slice(2), attrs[k]);
      else el.setAttribute(k, attrs[k] === true ? "" : attrs[k]);
    }
    [].concat(kids == null ? [] : kids).forEach(function (c) {
      el.append(c);
    });
    return el;
  }

  function lang(tag, table) {
    var b = String(tag || navigator.language || "").slice(0, 2).toLowerCase();
    return table[b] ? b : "en";
  }

  function api(path, body, method) {
    var url = base + "/api/v1/widget/" + encodeURIComponent(siteKey) + path;
    var init = { method: method || "POST", credentials: "omit", mode: "cors" };
    if (body) {
      // text/plain keeps this a "simple" CORS request: no preflight round trip.
      init.headers = { "Content-Type": "text/plain;charset=UTF-8" };
      init.body = JSON.stringify(body);
    }
    function go(retry) {
      return fetch(url, init).then(
        function (r) {
          return r.json().catch(function () { return {}; }).then(function (j) {
            if (r.ok) return j;
            var e = (j && j.error) || {};
            var err = new Error("Keepkit: " + (e.message || "request failed (HTTP " + r.status + ")"));
            err.code = e.code || "http_" + r.status;
            err.status = r.status;
            throw err;
          });
        },
        function () {
          // Writes are idempotent, so one retry after a network error is safe.
          if (retry) return go(false);
          throw new Error("Keepkit: the server at " + base + " is unreachable");
        }
      );
    }
    return go(true);
  }

  function load(part) {
    if (!loading[part]) {
      loading[part] = new Promise(function (resolve, reject) {
        var s = d.createElement("script");
        s.src = base + "/widget/v1/" + part + ".js?v=" + PARTS[part];
        s.async = true;
        s.onload = function () { resolve(K["_" + part]); };
        s.onerror = function () {
          delete loading[part];
          reject(new Error("Keepkit: could not load " + part + ".js from " + base));
        };
        d.head.append(s);
      });
    }
    return loading[part];
  }

  function needSite() {
    if (!siteKey) throw new Error("Keepkit: the script tag needs data-site=\"SITE_KEY\"");
  }

  var K = {
    version: "1",
    cancelFlow: function (opts) {
      opts = opts || {};
      try {
        needSite();
        if (!opts.token) throw new Error("Keepkit: cancelFlow({token}) needs a customer token");
      } catch (e) {
        return Promise.reject(e);
      }
      var sid = w.crypto && crypto.randomUUID ? crypto.randomUUID() : null;
      var start = api("/sessions", { token: opts.token, locale: opts.locale || navigator.language || null, session: sid });
      start.catch(function () {});  // handled by the flow
      return load("cancel").then(function (run) { return run(opts, start); });
    },
    roadmap: function (target, opts) {
      try {
        needSite();
        var el = typeof target === "string" ? d.querySelector(target) : target;
        if (!el || !el.nodeType) throw new Error("Keepkit: roadmap() needs an element or a selector that matches one");
      } catch (e) {
        return Promise.reject(e);
      }
      opts = opts || {};
      var board = api("/roadmap", { token: opts.token || null, locale: opts.locale || navigator.language || null });
      board.catch(function () {});
      return load("roadmap").then(function (run) { return run(el, opts, board); });
    },
    ready: function (fn) { fn(K); },
    _: { h: h, api: api, lang: lang, base: base }
  };
  w.Keepkit = K;
  queue.forEach(function (item) {
    try {
      var out = K[item[0]].apply(K, item[1] || []);
      if (item[2]) Promise.resolve(out).then(item[2], item[3]);
    } catch (e) {
      if (item[3]) item[3](e);
    }
  });
})(window, document);
