// Keepkit cancellation flow, loaded by keepkit.js on the first cancelFlow() call.
// Renders inside an open Shadow DOM; cancel.css is inlined at __KEEPKIT_CSS__.
(function (K, w, d) {
  "use strict";
  var h = K._.h, api = K._.api;
  var CSS = `__KEEPKIT_CSS__`;
  // Its strings come with the first API answer, in the customer's locale; the server fills
  // in the few shown before it, for every locale ({"de": {"loading": …}, …}).
  var PRE = __KEEPKIT_STRINGS__;
  var uid = 0;

  K._cancel = function (opts, start) {
    return new Promise(function (resolve, reject) {
      var t = PRE[K._.lang(opts.locale, PRE)];
      var token = opts.token;
      var state = { session: null, reason: null, item: null, busy: false, done: false };
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

      // The promise settles once (as soon as the outcome is final); the dialog may stay open
      // on its closing screen until the customer closes it.
      function settle(fn, value) {
        if (state.done) return;
        state.done = true;
        fn(value);
      }

      function close() {
        if (!host.isConnected) return;
        host.remove();
        if (restore && restore.focus) restore.focus();
      }

      function finish(fn, value) {
        settle(fn, value);
        close();
      }

      function fail(err) {
        finish(reject, err instanceof Error ? err : new Error("Keepkit: " + err));
      }

      function complete(outcome, offer) {
        if (state.busy) return;
        state.busy = true;
        body.setAttribute("aria-busy", "true");
        api("/sessions/" + state.session + "/complete", { token: token, outcome: outcome, offer: offer || null })
          .then(function (res) {
            if (outcome === "dismissed") return finish(resolve, res);
            settle(resolve, res);
            doneStep(res);
          }, fail);
      }

      function doneStep(res) {
        var c = res.outcome === "cancelled", o = res.offer;
        title.textContent = c ? t.doneC : t.doneS;
        body.removeAttribute("aria-busy");
        var ok = h("button", { type: "button", class: "pri", onclick: close }, t.close);
        show([
          h("div", { "data-kk": "done", "data-kk-outcome": res.outcome, role: "status" },
            h("p", {}, c ? t.doneCB : o ? t.got.replace("%(offer)s", function () { return o.title; }) : t.doneSB)),
          h("div", { class: "row" }, ok)
        ], ok);
      }

      function dismiss() {
        if (state.done) return close();
        if (!state.session) {
          return finish(resolve, { outcome: "dismissed", reason: null, comment: null, offer: null, session: null, receipt: null });
        }
        complete("dismissed");
      }

      function radios(name, items, hook, onpick) {
        return items.map(function (it) {
          var input = h("input", { type: "radio", name: name, value: it.id, onchange: function () { onpick(it); } });
          return h("label", { class: "opt", "data-kk": hook, "data-kk-id": it.id }, [input, h("span", {}, it.label || it.title)]);
        });
      }

      function reasons(data) {
        var err = h("p", { class: "err", role: "alert", id: "kk-err" });
        var fuLabel = h("span");
        var fu = h("input", { type: "text", maxlength: String(data.limits.comment), "data-kk": "followup" });
        var fuWrap = h("label", { class: "fld", hidden: true }, [fuLabel, fu]);
        var cLabel = h("span", {}, t.comment);
        var comment = h("textarea", { rows: "3", maxlength: String(data.limits.comment), "data-kk": "comment", "aria-describedby": "kk-err" });
        var list = h("div", { class: "list", role: "radiogroup", "aria-label": t.ask });
        var items = h("fieldset", { class: "list", hidden: true }, [h("legend", {}, t.which)].concat(
          radios("kk-item", data.roadmap || [], "roadmap-item", function (it) { state.item = it; })));
        list.append.apply(list, radios("kk-reason", data.reasons, "reason", pick));
        function pick(r) {
          state.reason = r;
          err.textContent = "";
          fuWrap.hidden = !r.followup;
          fuLabel.textContent = r.followup || "";
          items.hidden = !(r.missing_feature && data.roadmap && data.roadmap.length);
          cLabel.textContent = r.requires_text ? t.commentReq : t.comment;
          comment.required = r.requires_text;
        }
        function next(e) {
          e.preventDefault();
          var r = state.reason;
          var text = comment.value.trim();
          if (!r) { err.textContent = t.pick; return list.querySelector("input").focus(); }
          if (r.requires_text && !text) {
            err.textContent = t.needText;
            comment.setAttribute("aria-invalid", "true");
            return comment.focus();
          }
          if (state.busy) return;
          state.busy = true;
          api("/sessions/" + state.session + "/answer", {
            token: token, reason: r.id, comment: text || null, followup_answer: fu.value.trim() || null,
            roadmap_item: !items.hidden && state.item ? state.item.id : null
          }).then(function (res) {
            state.busy = false;
            res.offer ? offerStep(res.offer) : confirmStep();
          }, fail);
        }
        title.textContent = t.title;
        show([
          h("form", { onsubmit: next, novalidate: true }, [
            h("p", { class: "q" }, t.ask), list, items, fuWrap,
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
        var keep = h("button", { type: "button", class: "pri", "data-kk": "keep", onclick: function () { complete("saved"); } }, t.keep);
        show([
          h("p", {}, t.confirmBody),
          h("div", { class: "row" }, [
            h("button", { type: "button", class: "dng", "data-kk": "confirm-cancel", onclick: function () { complete("cancelled"); } }, t.confirm), keep
          ])
        ], keep);
      }

      start.then(function (data) {
        if (state.done) return;
        state.session = data.session;
        t = data.strings;
        closeBtn.setAttribute("aria-label", t.close);
        if (data.site && /^#[0-9a-fA-F]{6}$/.test(data.site.brand_color)) host.style.setProperty("--kk-brand", data.site.brand_color);
        reasons(data);
      }, fail);
    });
  };
})(window.Keepkit, window, document);
