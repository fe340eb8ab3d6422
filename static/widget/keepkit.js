// Keepkit widget: window.Keepkit.cancelFlow({token, locale}) -> Promise<Result>.
// Plain JS, no dependencies. Everything renders inside an open Shadow DOM.
// The server inlines keepkit.css at __KEEPKIT_CSS__ and strips comment lines.
(function (w, d) {
  "use strict";
  var script = d.currentScript;
  var base = script ? new URL(script.src, location.href).origin : location.origin;
  var siteKey = script && script.getAttribute("data-site");
  var old = w.Keepkit;
  var queue = (old && old.q) || [];
  var CSS = `__KEEPKIT_CSS__`;
  var STR = {
    en: {
      title: "Before you go", ask: "Why are you cancelling?", comment: "Anything else you want to tell us? (optional)",
      commentReq: "Please tell us the reason", next: "Continue", close: "Close",
      decline: "No thanks, continue cancelling", confirmTitle: "Confirm cancellation",
      confirmBody: "Your subscription will be cancelled.", confirm: "Cancel subscription",
      keep: "Keep my subscription", loading: "Loading…", pick: "Please choose a reason", offer: "An offer for you"
    },
    de: {
      title: "Bevor Sie gehen", ask: "Warum kündigen Sie?", comment: "Möchten Sie uns noch etwas sagen? (optional)",
      commentReq: "Bitte nennen Sie den Grund", next: "Weiter", close: "Schließen",
      decline: "Nein danke, weiter kündigen", confirmTitle: "Kündigung bestätigen",
      confirmBody: "Ihr Abonnement wird gekündigt.", confirm: "Abonnement kündigen",
      keep: "Abonnement behalten", loading: "Wird geladen…", pick: "Bitte wählen Sie einen Grund", offer: "Ein Angebot für Sie"
    },
    fi: {
      title: "Ennen kuin lähdet", ask: "Miksi peruutat tilauksen?", comment: "Haluatko kertoa meille vielä jotain? (valinnainen)",
      commentReq: "Kerro meille syy", next: "Jatka", close: "Sulje",
      decline: "Ei kiitos, jatka peruutusta", confirmTitle: "Vahvista peruutus",
      confirmBody: "Tilauksesi peruutetaan.", confirm: "Peruuta tilaus",
      keep: "Pidä tilaus", loading: "Ladataan…", pick: "Valitse syy", offer: "Tarjous sinulle"
    }
  };
  var uid = 0;

  function lang(tag) {
    var b = String(tag || "").slice(0, 2).toLowerCase();
    return STR[b] ? b : "en";
  }

  // h("button", {"data-kk": "next"}, "text" | [children]) -- text is set as textContent only.
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

  function api(path, body) {
    var url = base + "/api/v1/widget/" + encodeURIComponent(siteKey) + path;
    var init = {
      method: "POST",
      // text/plain keeps this a "simple" CORS request: no preflight round trip.
      headers: { "Content-Type": "text/plain;charset=UTF-8" },
      body: JSON.stringify(body),
      credentials: "omit",
      mode: "cors"
    };
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

  function cancelFlow(opts) {
    opts = opts || {};
    if (!siteKey) return Promise.reject(new Error("Keepkit: the script tag needs data-site=\"SITE_KEY\""));
    if (!opts.token) return Promise.reject(new Error("Keepkit: cancelFlow({token}) needs a customer token"));
    return new Promise(function (resolve, reject) {
      var t = STR[lang(opts.locale || navigator.language)];
      var token = opts.token;
      var sid = w.crypto && crypto.randomUUID ? crypto.randomUUID() : null;
      var state = { session: null, reason: null, offer: null, busy: false, done: false };
      var restore = d.activeElement;
      var host = h("keepkit-flow", { "data-keepkit": "" });
      var root = host.attachShadow({ mode: "open" });
      var titleId = "kk-t" + ++uid;
      var title = h("h2", { id: titleId }, t.title);
      var body = h("div", { class: "body" });
      var closeBtn = h("button", { type: "button", class: "x", "data-kk": "close", "aria-label": t.close, onclick: dismiss }, "×");
      var dialog = h("div", { class: "dlg", role: "dialog", "aria-modal": "true", "aria-labelledby": titleId }, [closeBtn, title, body]);
      root.append(h("style", {}, CSS), h("div", { class: "bg", onclick: function (e) { if (e.target === e.currentTarget) dismiss(); } }, dialog));
      root.addEventListener("keydown", onKey);
      d.body.append(host);
      show([h("p", { class: "muted", role: "status" }, t.loading)], closeBtn);

      function show(nodes, focus) {
        body.replaceChildren.apply(body, nodes);
        (focus || dialog.querySelector("input,textarea,button")).focus();
      }

      function focusables() {
        return [].slice.call(dialog.querySelectorAll("button,input,textarea,a[href]")).filter(function (el) {
          return !el.disabled && el.offsetParent !== null;
        });
      }

      function onKey(e) {
        if (e.key === "Escape") {
          e.preventDefault();
          dismiss();
        } else if (e.key === "Tab") {
          var f = focusables(), first = f[0], last = f[f.length - 1], cur = root.activeElement;
          if (e.shiftKey && (cur === first || !dialog.contains(cur))) { e.preventDefault(); last.focus(); }
          else if (!e.shiftKey && (cur === last || !dialog.contains(cur))) { e.preventDefault(); first.focus(); }
        }
      }

      function finish(fn, value) {
        if (state.done) return;
        state.done = true;
        host.remove();
        if (restore && restore.focus) restore.focus();
        fn(value);
      }

      function fail(err) {
        finish(reject, err instanceof Error ? err : new Error("Keepkit: " + err));
      }

      function complete(outcome, offer) {
        if (state.busy) return;
        state.busy = true;
        body.setAttribute("aria-busy", "true");
        api("/sessions/" + state.session + "/complete", { token: token, outcome: outcome, offer: offer || null })
          .then(function (res) { finish(resolve, res); }, fail);
      }

      function dismiss() {
        if (state.done) return;
        if (!state.session) {
          return finish(resolve, { outcome: "dismissed", reason: null, comment: null, offer: null, session: null, receipt: null });
        }
        complete("dismissed");
      }

      function reasons(data) {
        var err = h("p", { class: "err", role: "alert" });
        var fuLabel = h("span");
        var fu = h("input", { type: "text", maxlength: "2000", "data-kk": "followup" });
        var fuWrap = h("label", { class: "fld", hidden: true }, [fuLabel, fu]);
        var cLabel = h("span", {}, t.comment);
        var comment = h("textarea", { rows: "3", maxlength: "2000", "data-kk": "comment", "aria-describedby": "kk-err" });
        err.id = "kk-err";
        var list = h("div", { class: "list", role: "radiogroup", "aria-label": t.ask });
        data.reasons.forEach(function (r) {
          var input = h("input", { type: "radio", name: "kk-reason", value: r.id, onchange: function () { pick(r); } });
          list.append(h("label", { class: "opt", "data-kk": "reason", "data-kk-id": r.id }, [input, h("span", {}, r.label)]));
        });
        function pick(r) {
          state.reason = r;
          err.textContent = "";
          fuWrap.hidden = !r.followup;
          fuLabel.textContent = r.followup || "";
          cLabel.textContent = r.requires_text ? t.commentReq : t.comment;
          comment.required = r.requires_text;
        }
        function next(e) {
          e.preventDefault();
          var r = state.reason;
          var text = comment.value.trim();
          if (!r) { err.textContent = t.pick; return list.querySelector("input").focus(); }
          if (r.requires_text && !text) {
            err.textContent = t.commentReq;
            comment.setAttribute("aria-invalid", "true");
            return comment.focus();
          }
          if (state.busy) return;
          state.busy = true;
          api("/sessions/" + state.session + "/answer", { token: token, reason: r.id, comment: text || null, followup_answer: fu.value.trim() || null })
            .then(function (res) {
              state.busy = false;
              state.offer = res.offer;
              res.offer ? offerStep(res.offer) : confirmStep();
            }, fail);
        }
        title.textContent = t.title;
        show([
          h("form", { onsubmit: next, novalidate: true }, [
            h("p", { class: "q" }, t.ask), list, fuWrap,
            h("label", { class: "fld" }, [cLabel, comment]), err,
            h("div", { class: "row" }, h("button", { type: "submit", class: "pri", "data-kk": "next" }, t.next))
          ])
        ], list.querySelector("input"));
      }

      function offerStep(o) {
        title.textContent = t.offer;
        var accept = h("button", {
          type: "button", class: "pri", "data-kk": "accept-offer",
          onclick: function () {
            if (o.type === "contact" && o.url) w.open(o.url, "_blank", "noopener");
            complete("saved", o.id);
          }
        }, o.cta || o.title);
        show([
          h("div", { class: "offer", "data-kk-offer": o.type }, [h("h3", {}, o.title), h("p", {}, o.body)]),
          h("div", { class: "row" }, [
            h("button", { type: "button", class: "sec", "data-kk": "decline-offer", onclick: confirmStep }, t.decline), accept
          ])
        ], accept);
      }

      function confirmStep() {
        title.textContent = t.confirmTitle;
        var keep = h("button", { type: "button", class: "pri", onclick: dismiss }, t.keep);
        show([
          h("p", {}, t.confirmBody),
          h("div", { class: "row" }, [
            h("button", { type: "button", class: "dng", "data-kk": "confirm-cancel", onclick: function () { complete("cancelled"); } }, t.confirm), keep
          ])
        ], keep);
      }

      api("/sessions", { token: token, locale: opts.locale || navigator.language || null, session: sid })
        .then(function (data) {
          state.session = data.session;
          t = STR[lang(data.locale)];
          closeBtn.setAttribute("aria-label", t.close);
          if (data.site && /^#[0-9a-fA-F]{6}$/.test(data.site.brand_color)) host.style.setProperty("--kk-brand", data.site.brand_color);
          reasons(data);
        }, fail);
    });
  }

  var K = {
    version: "1",
    cancelFlow: cancelFlow,
    ready: function (fn) { fn(K); }
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
