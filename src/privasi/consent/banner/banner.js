/* privasi cookie banner. Served by privasi with the organisation's settings in place of CONFIG.
   Tags that need consent are written as <script type="text/plain" data-privasi-category="analytics">
   and run only once that category is allowed. window.privasi.consent holds the current choice and
   a "privasi:consent" event fires on document whenever it is set. No cookies: the choice is kept in
   localStorage on the business's own site, and recorded by privasi under a random visitor id. */
(function () {
  "use strict";
  var C = /*CONFIG*/ null;
  if (!C || window.privasi && window.privasi.banner) return;
  var d = document, w = window, KEY = "privasi:" + C.org, host, root, panel, chooser, reopen;
  var me = d.currentScript;
  var lang = (me && me.getAttribute("data-lang")) || (d.documentElement.lang || "").slice(0, 2);
  if (!C.text[lang]) lang = C.lang;
  var T = C.text[lang];
  var gpc = navigator.globalPrivacyControl === true || C.gpc;

  function read() {
    try { return JSON.parse(localStorage.getItem(KEY) || "null"); } catch (e) { return null; }
  }
  function write(value) {
    try { localStorage.setItem(KEY, JSON.stringify(value)); } catch (e) { /* private mode */ }
  }
  function visitor() {
    var bytes = new Uint8Array(16), out = "";
    (w.crypto || w.msCrypto).getRandomValues(bytes);
    for (var i = 0; i < bytes.length; i++) out += ("0" + bytes[i].toString(16)).slice(-2);
    return out;
  }
  function blocked(cat) { return gpc && C.gpcOff.indexOf(cat.id) >= 0; }
  function effective(choices) {
    var out = {};
    C.categories.forEach(function (cat) {
      out[cat.id] = cat.locked || (!!(choices && choices[cat.id]) && !blocked(cat));
    });
    return out;
  }

  function activate(consent) {
    var tags = d.querySelectorAll('script[type="text/plain"][data-privasi-category]');
    Array.prototype.forEach.call(tags, function (tag) {
      if (!consent[tag.getAttribute("data-privasi-category")] || tag.hasAttribute("data-privasi-ran")) return;
      var run = d.createElement("script");
      Array.prototype.forEach.call(tag.attributes, function (a) {
        if (a.name !== "type") run.setAttribute(a.name, a.value);
      });
      run.text = tag.text;
      tag.setAttribute("data-privasi-ran", "");
      tag.parentNode.insertBefore(run, tag.nextSibling);
    });
  }
  function apply(consent) {
    api.consent = consent;
    activate(consent);
    var event;
    try { event = new CustomEvent("privasi:consent", { detail: consent }); } catch (e) {
      event = d.createEvent("CustomEvent");
      event.initCustomEvent("privasi:consent", false, false, consent);
    }
    d.dispatchEvent(event);
  }
  function send(state, method) {
    var body = JSON.stringify({
      visitor: state.visitor, choices: effective(state.choices), method: method, lang: lang,
      rev: C.rev, gpc: gpc, page: location.origin + location.pathname
    });
    try {
      fetch(C.endpoint, { method: "POST", mode: "cors", credentials: "omit", keepalive: true,
        headers: { "Content-Type": "text/plain" }, body: body })["catch"](function () {});
    } catch (e) { /* very old browsers: the local choice still applies */ }
  }
  function decide(choices, method) {
    var old = read();
    var state = { rev: C.rev, visitor: old && old.visitor || visitor(), choices: choices, at: Date.now() };
    write(state);
    send(state, method);
    apply(effective(choices));
    hide();
  }

  function el(tag, attrs, text) {
    var node = d.createElement(tag);
    for (var k in attrs) node.setAttribute(k, attrs[k]);
    if (text) node.textContent = text;
    return node;
  }
  function button(label, action, test) {
    var b = el("button", { type: "button", "class": "b", "data-testid": test }, label);
    b.addEventListener("click", action);
    return b;
  }
  function build() {
    host = el("div", { id: "privasi-banner", "data-privasi": "" });
    root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    root.appendChild(el("style", {}, C.css));
    panel = el("section", { role: "dialog", "aria-labelledby": "pv-t", "class": "p", lang: lang });
    panel.appendChild(el("h2", { id: "pv-t" }, T.title));
    panel.appendChild(el("p", {}, T.body));
    if (gpc) panel.appendChild(el("p", { "class": "g", role: "note", "data-testid": "gpc-note" }, T.gpc));
    chooser = el("fieldset", { "class": "c", hidden: "" });
    chooser.appendChild(el("legend", {}, T.categories));
    var current = (read() || {}).choices || {};
    C.categories.forEach(function (cat) {
      var label = el("label", {}), box = el("input", { type: "checkbox", name: cat.id });
      box.checked = cat.locked || (!!current[cat.id] && !blocked(cat));
      box.disabled = cat.locked || blocked(cat);
      label.appendChild(box);
      label.appendChild(el("strong", {}, cat.name[lang]));
      label.appendChild(el("span", {}, cat.description[lang] + (cat.locked ? " " + T.locked : blocked(cat) ? " " + T.gpcOff : "")));
      chooser.appendChild(label);
    });
    panel.appendChild(chooser);
    var row = el("div", { "class": "r" });
    // Accept, reject and choose look the same: no choice is nudged by size or colour.
    row.appendChild(button(T.accept, function () {
      var all = {};
      C.categories.forEach(function (cat) { all[cat.id] = true; });
      decide(all, "accept_all");
    }, "accept-all"));
    row.appendChild(button(T.reject, function () { decide({}, "reject_all"); }, "reject-all"));
    var choose = button(T.choose, function () {
      if (chooser.hasAttribute("hidden")) {
        chooser.removeAttribute("hidden");
        choose.textContent = T.save;
        return;
      }
      var picked = {};
      Array.prototype.forEach.call(chooser.querySelectorAll("input"), function (box) {
        picked[box.name] = box.checked;
      });
      decide(picked, "choose");
    }, "choose");
    row.appendChild(choose);
    panel.appendChild(row);
    var more = el("a", { href: C.notice, target: "_blank", rel: "noopener" }, T.notice);
    panel.appendChild(el("p", { "class": "n" })).appendChild(more);
    root.appendChild(panel);
    reopen = button(T.reopen, show, "reopen");
    reopen.className = "b o";
    root.appendChild(reopen);
    (d.body || d.documentElement).appendChild(host);
  }
  function show() {
    if (!host) build();
    panel.hidden = false;
    reopen.hidden = true;
  }
  function hide() {
    if (!host) build();
    panel.hidden = true;
    reopen.hidden = false;
  }

  var api = w.privasi = w.privasi || {};
  api.banner = true;
  api.open = function () {
    if (!d.body) return;
    show();
    panel.querySelector("button").focus();
  };
  d.addEventListener("click", function (e) {
    var target = e.target && e.target.closest && e.target.closest("[data-privasi-open]");
    if (target) { e.preventDefault(); api.open(); }
  });

  function start() {
    // Essential cookies only (or none): there is nothing to ask.
    if (!C.categories.some(function (cat) { return !cat.locked; })) return apply(effective({}));
    var state = read();
    if (state && state.rev === C.rev) {
      var consent = effective(state.choices);
      apply(consent);
      // GPC turned on after an earlier "accept": the signal wins, and the record says so.
      var overridden = C.gpcOff.some(function (id) { return state.choices[id] && !consent[id]; });
      if (overridden) {
        state.choices = consent;
        write(state);
        send(state, "gpc");
      }
      hide();
    } else {
      apply(effective({}));
      show();
    }
  }
  if (d.readyState === "loading") d.addEventListener("DOMContentLoaded", start); else start();
})();
