// Keepkit roadmap board, loaded by keepkit.js on the first roadmap() call.
// Renders into an open Shadow DOM inside the target; roadmap.css is inlined at __KEEPKIT_CSS__.
(function (K, w, d) {
  "use strict";
  var h = K._.h, api = K._.api;
  var CSS = `__KEEPKIT_CSS__`;
  // Its strings come with each board answer, in the customer's locale; the server fills in
  // the one shown when there is no answer, for every locale ({"de": {"failed": …}, …}).
  var PRE = __KEEPKIT_STRINGS__;

  function anonymousId() {
    try {
      var id = localStorage.getItem("keepkit-anon");
      if (!id && w.crypto && crypto.randomUUID) localStorage.setItem("keepkit-anon", (id = crypto.randomUUID()));
      return id;
    } catch (e) {
      return null;
    }
  }

  K._roadmap = function (target, opts, first) {
    var host = h("keepkit-roadmap", { "data-keepkit": "" });
    var root = host.attachShadow({ mode: "open" });
    var wrap = h("div", { class: "kk" });
    var status = h("p", { class: "err", role: "alert" });
    root.append(h("style", {}, CSS), wrap);
    target.replaceChildren(host);
    var t = PRE[K._.lang(opts.locale, PRE)];
    var token = opts.token || null;
    var rule, fmt;

    // "1 vote", "2 votes", "1.234 Stimmen": the count in the board's locale, its word in the
    // form CLDR's plural rules pick for it (the server sends every form of the locale).
    function tally(n) { return fmt.format(n); }
    function word(n) { return t["votes." + rule.select(n)] || t["votes.other"]; }

    function render(board) {
      t = board.strings;
      rule = new Intl.PluralRules(board.locale);
      fmt = new Intl.NumberFormat(board.locale);
      var cols = h("div", { class: "cols" });
      board.columns.forEach(function (col) {
        var list = h("ul", { "aria-labelledby": "kk-c-" + col.status });
        col.items.forEach(function (it) { list.append(item(it, board.can_vote)); });
        cols.append(h("section", {}, [
          h("h2", { id: "kk-c-" + col.status }, [col.label, h("span", {}, String(col.items.length))]),
          col.items.length ? list : h("p", { class: "empty" }, t.empty)
        ]));
      });
      var parts = [status, cols];
      parts.unshift(h("p", { class: "note" }, board.can_vote ? t.consent : t.login));
      if (board.can_vote) parts.push(suggestForm(board.limits));
      wrap.replaceChildren.apply(wrap, parts);
    }

    // The accessible name starts with what is visible ("12 votes") and names the item;
    // aria-pressed says whether this customer's vote is in.
    function named(it, n) {
      return tally(n) + " " + word(n) + ", " + t.vote + " " + it.title;
    }

    function item(it, canVote) {
      var count = h("b", { "data-kk": "vote-count" }, tally(it.votes));
      var label = h("span", {}, word(it.votes));
      var counted = [count, " ", label];
      var button = h("button", {
        type: "button", class: "v", "data-kk": "vote", "aria-pressed": String(it.voted),
        "aria-label": named(it, it.votes),
        disabled: !it.votable || !canVote, onclick: function () { toggle(it, button, count, label); }
      }, counted);
      var desc = h("div");
      desc.innerHTML = it.description_html;  // sanitised on the server (markdown-it + nh3)
      var meta = [it.status_label].concat(it.target ? [it.target] : [], it.tags || []).join(" · ");
      return h("li", { class: "it", "data-kk": "item", "data-kk-id": it.id }, [
        it.votable ? button : h("span", { class: "v" }, counted),
        h("div", {}, [h("h3", {}, it.title), desc, h("p", { class: "meta" }, meta)])
      ]);
    }

    function toggle(it, button, count, label) {
      function shown(n) {
        count.textContent = tally(n);
        label.textContent = word(n);
        button.setAttribute("aria-label", named(it, n));
      }
      var want = !it.voted;
      // Immediate feedback; the server's answer then sets the exact count.
      it.voted = want;
      button.setAttribute("aria-pressed", String(want));
      shown(it.votes + (want ? 1 : -1));
      var body = { token: token, vote: want, anonymous_id: token ? null : anonymousId() };
      api("/roadmap/items/" + it.id + "/vote", body).then(function (res) {
        it.votes = res.votes;
        it.voted = res.voted;
        shown(res.votes);
        button.setAttribute("aria-pressed", String(res.voted));
        status.textContent = "";
      }, function (err) {
        it.voted = !want;
        button.setAttribute("aria-pressed", String(!want));
        shown(it.votes);
        status.textContent = err.message.replace(/^Keepkit: /, "");
      });
    }

    function suggestForm(lim) {
      var title = h("input", { name: "title", required: true, minlength: String(lim.title_min), maxlength: String(lim.title_max) });
      var details = h("textarea", { name: "description", rows: "3", maxlength: String(lim.description) });
      var sim = h("div", { class: "sim", role: "status" });
      var timer;
      var form = h("form", { hidden: true, onsubmit: function (e) {
        e.preventDefault();
        api("/roadmap/suggestions", { token: token, title: title.value.trim(), description: details.value.trim() })
          .then(function () {
            form.replaceChildren(h("p", { role: "status" }, t.thanks));
          }, function (err) { status.textContent = err.message.replace(/^Keepkit: /, ""); });
      } }, [
        h("label", {}, [t.title, title]), sim, h("label", {}, [t.details, details]),
        h("button", { type: "submit", class: "pri" }, t.send)
      ]);
      title.addEventListener("input", function () {
        clearTimeout(timer);
        timer = setTimeout(function () {
          var q = title.value.trim();
          if (q.length < 3) return sim.replaceChildren();
          api("/roadmap/similar?q=" + encodeURIComponent(q), null, "GET").then(function (res) {
            sim.replaceChildren.apply(sim, res.items.length ? [t.similar, h("ul", {}, res.items.map(function (i) {
              return h("li", {}, i.title);
            }))] : []);
          }, function () {});
        }, 250);
      });
      var open = h("button", { type: "button", class: "sec", "data-kk": "suggest", "aria-expanded": "false", onclick: function () {
        form.hidden = !form.hidden;
        open.setAttribute("aria-expanded", String(!form.hidden));
        if (!form.hidden) title.focus();
      } }, t.suggest);
      return h("div", {}, [open, form]);
    }

    function reload() {
      return api("/roadmap", { token: token, locale: opts.locale || navigator.language || null }).then(render);
    }

    return first.then(render, function (err) {
      wrap.replaceChildren(h("p", { class: "err", role: "alert" }, t.failed));
      throw err;
    }).then(function () {
      return { reload: reload, destroy: function () { host.remove(); } };
    });
  };
})(window.Keepkit, window, document);
