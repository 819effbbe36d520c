/* TKW Portal (emulated). Vanilla JavaScript, no build step; calls the emulator's own JSON APIs on
 * this origin. Everything that came from the API is put on the page as text, never as HTML. */
(function () {
  "use strict";

  var PORTAL_PATH = "/tkw/portal";
  var ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code";
  var ODS_PATTERN = /^[A-Z0-9][A-Z0-9-]{0,15}$/;
  var STORE_ODS = "tkw-portal.ods";
  var STORE_TOKEN = "tkw-portal.token";
  var POLL_MS = 1000;
  var FINISHED = ["passed", "failed", "error"];
  var TABS = ["reports", "receive", "runs", "state", "endpoints"];
  var VERDICTS = { pass: "Passed", warnings: "Passed with warnings", fail: "Failed" };
  var STATES = { initial: "Initial: nothing booked", "appointment-booked": "Appointment booked", "referral-created": "Referral created" };

  // The API root: this page's URL without /tkw/portal, so a deployed stage path (/v1) is kept.
  var API_ROOT = (function () {
    var path = location.pathname;
    var at = path.lastIndexOf(PORTAL_PATH);
    return location.origin + (at >= 0 ? path.slice(0, at) : "");
  })();

  var state = {
    ods: null,
    token: readStore(sessionStorage, STORE_TOKEN),
    bound: null, // int mode: the ODS codes the token's application acts for (null: any)
    generation: 0, // bumped when the organisation changes: late answers for the old one are dropped
    tab: "reports",
    reports: [],
    nextPageToken: null,
    selected: new Set(),
    filters: {},
    suite: null,
    run: null,
    pollTimer: null,
    blobUrl: null,
    loaded: {}
  };

  function $(id) { return document.getElementById(id); }

  function readStore(store, key) {
    try { return store.getItem(key); } catch (e) { return null; }
  }

  function writeStore(store, key, value) {
    try {
      if (value === null) { store.removeItem(key); } else { store.setItem(key, value); }
    } catch (e) { /* storage disabled: the portal still works for this visit */ }
  }

  function uuid() {
    if (window.crypto && typeof crypto.randomUUID === "function") { return crypto.randomUUID(); }
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return x.toString(16).padStart(2, "0"); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function organisationHeader(ods) {
    var org = { resourceType: "Organization", identifier: [{ system: ODS_SYSTEM, value: ods }] };
    return btoa(JSON.stringify(org));
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === null || value === undefined || value === false) { return; }
      if (name === "text") { node.textContent = value; }
      else if (name === "className") { node.className = value; }
      else if (name.slice(0, 2) === "on") { node.addEventListener(name.slice(2), value); }
      else { node.setAttribute(name, value === true ? "" : String(value)); }
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) { return; }
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }

  function badge(kind, label) { return el("span", { className: "badge " + kind, text: label }); }

  function shortTime(iso) {
    if (!iso) { return ""; }
    return String(iso).replace("T", " ").replace(/\.\d+/, "").replace(/(Z|\+00:00)$/, "");
  }

  // -- talking to the emulator -------------------------------------------------------------------

  function ApiError(kind, status, message, code) {
    this.kind = kind; // "unreachable" | "unauthorized" | "http"
    this.status = status;
    this.message = message;
    this.code = code || null;
  }

  function Stale() { this.stale = true; }

  function describeError(status, text) {
    var data = null;
    try { data = JSON.parse(text); } catch (e) { /* not JSON */ }
    if (data && data.resourceType === "OperationOutcome" && data.issue && data.issue.length) {
      var issue = data.issue[0];
      var coding = issue.details && issue.details.coding && issue.details.coding[0];
      return { code: coding ? coding.code : issue.code, message: issue.diagnostics || (coding && coding.display) || "HTTP " + status };
    }
    if (data && (data.message || data.error_description)) {
      return { code: data.error || null, message: data.message || data.error_description };
    }
    return { code: null, message: "The emulator answered HTTP " + status + "." };
  }

  /* One call: fresh X-Request-Id/X-Correlation-Id, the organisation, the token in int mode.
   * Resolves to {status, data}; rejects with ApiError, or Stale when the organisation changed meanwhile. */
  function api(method, path, options) {
    options = options || {};
    var generation = state.generation;
    var headers = {
      "Accept": options.accept || "application/json",
      "X-Request-Id": uuid(),
      "X-Correlation-Id": uuid()
    };
    if (state.ods) { headers["NHSD-End-User-Organisation"] = organisationHeader(state.ods); }
    if (state.token) { headers["Authorization"] = "Bearer " + state.token; }
    var init = { method: method, headers: headers, cache: "no-store", credentials: "same-origin" };
    if (options.body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    return fetch(API_ROOT + path, init).then(function (response) {
      return response.text().then(function (text) { return { response: response, text: text }; });
    }, function () {
      if (generation !== state.generation) { throw new Stale(); }
      throw new ApiError("unreachable", 0, "The emulator did not answer at " + API_ROOT +
        ". Is it running (make run), and is this the right address?");
    }).then(function (got) {
      if (generation !== state.generation) { throw new Stale(); }
      var status = got.response.status;
      if (status >= 200 && status < 300) {
        if (!got.text) { return { status: status, data: null }; }
        if (options.accept && options.accept.indexOf("json") < 0) { return { status: status, data: got.text }; }
        try { return { status: status, data: JSON.parse(got.text) }; } catch (e) {
          throw new ApiError("http", status, "The emulator's answer was not JSON.");
        }
      }
      var why = describeError(status, got.text);
      if (status === 401 && why.code === "SEND_UNAUTHORIZED") {
        throw new ApiError("unauthorized", status, why.message, why.code);
      }
      if (status === 403 && /Missing Authentication Token/i.test(why.message)) {
        why.message = "This emulator has no such endpoint (" + method + " " + path.split("?")[0] + "): is it up to date?";
      }
      throw new ApiError("http", status, why.message, why.code);
    });
  }

  // -- messages ----------------------------------------------------------------------------------

  function say(text) { $("status").textContent = text; }

  function showAlert(title, text) {
    var box = $("alert");
    clear(box);
    box.appendChild(el("h2", { text: title }));
    box.appendChild(el("p", { text: text }));
    box.hidden = false;
  }

  function hideAlert() { clear($("alert")); $("alert").hidden = true; }

  /* Every action goes through here: one place turns failures into something a person can act on. */
  function guard(promise, what) {
    return Promise.resolve(promise).catch(function (err) {
      if (err instanceof Stale) { return; }
      if (err instanceof ApiError && err.kind === "unauthorized") {
        askForToken(state.token ? "The emulator refused the token: " + err.message + " Paste a new one." : null);
        say("The emulator needs an access token.");
        return;
      }
      if (err instanceof ApiError && err.kind === "unreachable") {
        showAlert("The emulator is unreachable", err.message);
        say("");
        return;
      }
      if (err instanceof ApiError) {
        showAlert(what + " failed", err.message + (err.code ? " (" + err.code + ", HTTP " + err.status + ")" : " (HTTP " + err.status + ")"));
        say("");
        return;
      }
      showAlert(what + " failed", String(err && err.message ? err.message : err));
      if (window.console) { console.error(err); }
    });
  }

  // -- identity: organisation and token ----------------------------------------------------------

  function stopPolling() {
    if (state.pollTimer) { clearTimeout(state.pollTimer); state.pollTimer = null; }
  }

  function closeViewer() {
    $("viewer").hidden = true;
    $("viewer-frame").removeAttribute("src");
    $("viewer-frame").title = "Validation report";
    $("viewer-title").textContent = "Report";
    $("viewer-open").href = "#";
    $("viewer-download").href = "#";
    $("viewer-download").setAttribute("download", "");
    if (state.blobUrl) { URL.revokeObjectURL(state.blobUrl); state.blobUrl = null; }
  }

  /* Forget everything shown: nothing of one organisation may stay on screen for another. */
  function clearShown() {
    state.generation += 1;
    stopPolling();
    closeViewer();
    hideAlert();
    say("");
    state.reports = [];
    state.nextPageToken = null;
    state.selected = new Set();
    state.run = null;
    state.loaded = {};
    clear($("reports-body"));
    $("reports-table").hidden = true;
    $("reports-empty").hidden = true;
    $("reports-more").hidden = true;
    $("zip-result").hidden = true;
    clear($("zip-result"));
    $("share-result").hidden = true;
    $("share-link").value = "";
    $("run-view").hidden = true;
    clear($("run-results"));
    clear($("run-links"));
    $("run-error").hidden = true;
    clear($("runs-body"));
    $("runs-table").hidden = true;
    $("runs-empty").hidden = true;
    clear($("state-facts"));
    $("state-facts").hidden = true;
    clear($("endpoints-body"));
    $("endpoints-table").hidden = true;
    $("endpoints-empty").hidden = true;
    $("endpoint-result").hidden = true;
    updateSelection();
  }

  function setOrganisation(raw) {
    var ods = String(raw || "").trim().toUpperCase();
    var input = $("ods");
    var problem = !ODS_PATTERN.test(ods)
      ? "Enter an ODS code: letters and digits (and '-'), up to 16 characters, e.g. A1001."
      : (state.bound && state.bound.indexOf(ods) < 0
        ? "Your application acts only for " + state.bound.join(", ") + ": choose one of these."
        : null);
    if (problem) {
      input.setAttribute("aria-invalid", "true");
      $("ods-error").textContent = problem;
      $("ods-error").hidden = false;
      input.focus();
      return;
    }
    input.removeAttribute("aria-invalid");
    $("ods-error").hidden = true;
    input.value = ods;
    if (ods !== state.ods) { clearShown(); } else { state.loaded[state.tab] = false; }
    state.ods = ods;
    writeStore(localStorage, STORE_ODS, ods);
    document.title = "TKW Portal (emulated): " + ods;
    $("no-org").hidden = true;
    showTab(state.tab, false);
    say("Showing organisation " + ods + ".");
  }

  function askForToken(message) {
    $("token-panel").hidden = false;
    var error = $("token-error");
    error.textContent = message || "";
    error.hidden = !message;
    $("token").focus();
  }

  function setToken(token) {
    state.token = token || null;
    writeStore(sessionStorage, STORE_TOKEN, state.token);
    $("token").value = "";
    if (!state.token) { return; }
    $("token-error").hidden = true;
    $("token-panel").hidden = true;
    state.loaded = {};
    say("Token set.");
    guard(loadOrganisations().then(function () { if (state.ods) { loadTab(state.tab); } }), "Reading your organisations");
  }

  /* int mode: a token sees only its application's organisations; offer exactly those. */
  function loadOrganisations() {
    return api("GET", "/tkw/organisations").then(function (got) {
      var codes = got.data && got.data.ods_codes;
      state.bound = Array.isArray(codes) ? codes : null;
      var options = $("ods-options");
      clear(options);
      (state.bound || []).forEach(function (code) { options.appendChild(el("option", { value: code })); });
      $("ods-hint").textContent = state.bound
        ? "Your application acts for " + state.bound.join(", ") + ". Sent as NHSD-End-User-Organisation on every call."
        : "Sent as NHSD-End-User-Organisation on every call. Kept in this browser.";
      if (state.bound && state.bound.indexOf(state.ods) < 0) {
        clearShown();
        state.ods = null;
        $("ods").value = state.bound[0];
        setOrganisation(state.bound[0]);
      }
    });
  }

  // -- tabs --------------------------------------------------------------------------------------

  function showTab(name, focus) {
    if (TABS.indexOf(name) < 0) { name = "reports"; }
    state.tab = name;
    TABS.forEach(function (tab) {
      var button = $("tab-" + tab);
      var selected = tab === name;
      button.setAttribute("aria-selected", String(selected));
      button.tabIndex = selected ? 0 : -1;
      $("panel-" + tab).hidden = !selected || !state.ods;
    });
    if (focus) { $("tab-" + name).focus(); }
    if (location.hash !== "#" + name) { history.replaceState(null, "", "#" + name); }
    if (state.ods) { loadTab(name); }
  }

  function loadTab(name) {
    if (state.loaded[name]) { return; }
    state.loaded[name] = true;
    if (name === "reports") { guard(loadReports(false), "Loading reports"); }
    if (name === "receive") { guard(loadSuite(), "Loading the receiver suite"); }
    if (name === "runs") { guard(loadRuns(), "Loading receiver runs"); }
    if (name === "state") { guard(loadState(), "Loading the state"); }
    if (name === "endpoints") { guard(loadEndpoints(), "Loading the endpoints"); }
  }

  function onTabKey(event) {
    var at = TABS.indexOf(event.currentTarget.id.replace("tab-", ""));
    var next = null;
    if (event.key === "ArrowRight") { next = (at + 1) % TABS.length; }
    if (event.key === "ArrowLeft") { next = (at - 1 + TABS.length) % TABS.length; }
    if (event.key === "Home") { next = 0; }
    if (event.key === "End") { next = TABS.length - 1; }
    if (next === null) { return; }
    event.preventDefault();
    showTab(TABS[next], true);
  }

  // -- sender reports ----------------------------------------------------------------------------

  function readFilters() {
    return {
      verdict: $("f-verdict").value,
      since: $("f-since").value,
      until: $("f-until").value,
      correlation_id: $("f-correlation").value.trim(),
      scenario: $("f-scenario").value.trim().toLowerCase()
    };
  }

  function loadReports(more) {
    if (!more) { state.filters = readFilters(); }
    var f = state.filters;
    var query = new URLSearchParams();
    ["verdict", "since", "until", "correlation_id"].forEach(function (name) { if (f[name]) { query.set(name, f[name]); } });
    query.set("limit", "50");
    if (more && state.nextPageToken) { query.set("page_token", state.nextPageToken); }
    say("Loading reports…");
    return api("GET", "/tkw/reports?" + query.toString()).then(function (got) {
      var data = got.data || {};
      if (data.organisation && data.organisation !== state.ods) { return; }
      var page = data.reports || [];
      state.reports = more ? state.reports.concat(page) : page;
      state.nextPageToken = data.next_page_token || null;
      if (!more) { state.selected = new Set(); }
      hideAlert();
      renderReports();
    });
  }

  function shownReports() {
    var wanted = state.filters.scenario;
    if (!wanted) { return state.reports; }
    return state.reports.filter(function (r) { return (r.scenario || "").toLowerCase().indexOf(wanted) >= 0; });
  }

  function filtersInUse() {
    var f = state.filters;
    return Boolean(f.verdict || f.since || f.until || f.correlation_id || f.scenario);
  }

  function renderReports() {
    var body = $("reports-body");
    clear(body);
    var shown = shownReports();
    shown.forEach(function (r) { body.appendChild(reportRow(r)); });
    $("reports-table").hidden = shown.length === 0;
    $("reports-more").hidden = !state.nextPageToken;
    var empty = $("reports-empty");
    clear(empty);
    if (shown.length === 0) {
      if (filtersInUse()) {
        empty.appendChild(el("h2", { text: "No reports match these filters" }));
        empty.appendChild(el("p", { text: state.nextPageToken ? "None on the pages loaded so far: load more, or change the filters." : "Change or clear the filters." }));
      } else {
        empty.appendChild(el("h2", { text: "No reports yet for " + state.ods }));
        empty.appendChild(el("p", {}, [
          "Send a BaRS request to ", el("code", { text: API_ROOT + "/booking-and-referral/FHIR/R4/…" }),
          " with NHSD-End-User-Organisation carrying ODS code " + state.ods + ", then choose Refresh."
        ]));
      }
    }
    empty.hidden = shown.length !== 0;
    say(shown.length === 0 ? "No reports shown." :
      shown.length + (shown.length === 1 ? " report" : " reports") + " shown for " + state.ods + (state.nextPageToken ? "; more to load." : "."));
    updateSelection();
  }

  var BARS_BASE = "/booking-and-referral/FHIR/R4";

  function reportRow(r) {
    var path = r.path || "";
    var outbound = r.direction === "outbound";
    var label = outbound ? "Response sent to " + path :
      (r.method || "") + " " + (path.indexOf(BARS_BASE + "/") === 0 ? path.slice(BARS_BASE.length) : path);
    var when = shortTime(r.time);
    var box = el("input", {
      type: "checkbox", className: "select", value: r.id, id: "sel-" + r.id,
      "aria-label": "Select report of " + when + " " + label,
      onchange: function (event) {
        if (event.target.checked) { state.selected.add(r.id); } else { state.selected.delete(r.id); }
        updateSelection();
      }
    });
    box.checked = state.selected.has(r.id);
    var tr = el("tr", { "data-report-id": r.id, "data-verdict": r.verdict, "data-direction": r.direction || "inbound" }, [
      el("td", { "data-label": "Select" }, [box]),
      el("td", { "data-label": "Time (UTC)", text: when }),
      el("td", { "data-label": "Verdict" }, [badge(r.verdict, VERDICTS[r.verdict] || r.verdict)]),
      el("td", { "data-label": "Request", title: (r.method || "") + " " + path },
        outbound ? [badge("outbound", "response sent"), el("code", { text: label })] : [el("code", { text: label })]),
      el("td", { "data-label": "Status", text: r.status === null || r.status === undefined ? "" : String(r.status) }),
      el("td", { "data-label": "Errors / warnings", text: (r.errors || 0) + " / " + (r.warnings || 0) }),
      el("td", { "data-label": "Scenario", className: "scenario", text: r.scenario || "" }),
      el("td", { "data-label": "Correlation id", className: "cid" }, [el("code", { text: r.correlation_id || "" })]),
      el("td", { "data-label": "Actions", className: "actions" }, [
        el("button", { type: "button", className: "link open", text: "Open", "aria-label": "Open report of " + when + " " + label,
          onclick: function () { guard(openReport(r), "Opening the report"); } }),
        el("button", { type: "button", className: "link share", text: "Copy link", "aria-label": "Copy a shareable link to the report of " + when + " " + label,
          onclick: function () { guard(shareReport(r), "Making a link"); } }),
        el("button", { type: "button", className: "link assurance", text: "Share with assurance",
          "aria-label": "Make a link for assurance, valid for days, to the report of " + when + " " + label,
          onclick: function () { guard(shareWithAssurance(r), "Sharing with assurance"); } })
      ])
    ]);
    return tr;
  }

  function updateSelection() {
    var shownIds = shownReports().map(function (r) { return r.id; });
    var chosen = shownIds.filter(function (id) { return state.selected.has(id); }).length;
    var all = $("select-all");
    all.checked = shownIds.length > 0 && chosen === shownIds.length;
    all.indeterminate = chosen > 0 && chosen < shownIds.length;
    all.disabled = shownIds.length === 0;
    $("zip-selected").disabled = state.selected.size === 0;
    $("selected-count").textContent = state.selected.size + " selected";
  }

  function selectAllShown(checked) {
    shownReports().forEach(function (r) { if (checked) { state.selected.add(r.id); } else { state.selected.delete(r.id); } });
    Array.prototype.forEach.call(document.querySelectorAll("#reports-body input.select"), function (box) { box.checked = checked; });
    updateSelection();
  }

  // 202 {"status": "pending"}: the report was issued moments ago and is still being produced.
  function whenProduced(r, got, again) {
    if (got.status !== 202) { return null; }
    say("Report " + r.id + " is still being produced; trying again in a moment…");
    return new Promise(function (resolve) { setTimeout(resolve, 1000); }).then(function () { return again(r); });
  }

  function openReport(r) {
    say("Opening report " + r.id + "…");
    return api("GET", "/tkw/reports/" + encodeURIComponent(r.id), { accept: "text/html" }).then(function (got) {
      var pending = whenProduced(r, got, openReport);
      if (pending) { return pending; }
      closeViewer();
      state.blobUrl = URL.createObjectURL(new Blob([got.data], { type: "text/html" }));
      var frame = $("viewer-frame");
      frame.title = "Validation report " + r.id;
      frame.src = state.blobUrl;
      $("viewer-open").href = state.blobUrl;
      $("viewer-download").href = state.blobUrl;
      $("viewer-download").setAttribute("download", "tkw-report-" + r.id + ".html");
      var path = (r.path || "").indexOf(BARS_BASE + "/") === 0 ? r.path.slice(BARS_BASE.length) : (r.path || "");
      $("viewer-title").textContent = "Report: " + (VERDICTS[r.verdict] || r.verdict) + ", " + (r.method || "") + " " + path;
      $("viewer").hidden = false;
      $("viewer-title").focus();
      say("Report " + r.id + " opened below.");
    });
  }

  function zipSelected() {
    var ids = Array.from(state.selected);
    if (!ids.length) { return Promise.resolve(); }
    say("Packaging " + ids.length + " reports…");
    return api("POST", "/tkw/reports/download", { body: { ids: ids } }).then(function (got) {
      var data = got.data;
      var box = $("zip-result");
      clear(box);
      var minutes = Math.max(1, Math.round((data.expires_in || 900) / 60));
      var link = el("a", { href: data.url, id: "zip-link", download: "tkw-reports.zip", text: "Download zip (" + data.count + (data.count === 1 ? " report" : " reports") + ")" });
      box.appendChild(el("p", {}, [link, " — the link works for " + minutes + " minutes."]));
      if (data.not_found && data.not_found.length) {
        box.appendChild(el("p", { text: data.not_found.length + " selected report(s) no longer exist and were left out." }));
      }
      box.hidden = false;
      link.focus();
      say("Zip of " + data.count + " reports ready.");
    });
  }

  function shareReport(r) {
    say("Making a shareable link…");
    return api("GET", "/tkw/reports/" + encodeURIComponent(r.id) + "/download?link=json").then(function (got) {
      var pending = whenProduced(r, got, shareReport);
      if (pending) { return pending; }
      var data = got.data;
      var input = $("share-link");
      input.value = data.url;
      $("share-id").textContent = r.id;
      $("share-expiry").textContent = Math.max(1, Math.round((data.expires_in || 900) / 60)) + " minutes";
      $("share-result").hidden = false;
      return copyLink();
    });
  }

  /* A link that works for days without a token (ShareLinkDays), listed and withdrawable via /tkw/shares. */
  function shareWithAssurance(r) {
    say("Making a link for assurance…");
    return api("POST", "/tkw/reports/" + encodeURIComponent(r.id) + "/share", { body: {} }).then(function (got) {
      var data = got.data;
      $("share-link").value = data.url;
      $("share-id").textContent = r.id;
      $("share-expiry").textContent = "until " + String(data.expires_at).replace("T", " ").replace(/\.\d+/, "").replace("Z", " UTC") +
        "; anyone with the link can open it";
      $("share-result").hidden = false;
      return copyLink();
    });
  }

  function copyLink() {
    var input = $("share-link");
    var note = $("share-note");
    function manual() {
      input.focus();
      input.select();
      note.textContent = "Select the link and copy it (Ctrl+C or ⌘C).";
      say("Link ready: copy it from the box.");
    }
    if (!navigator.clipboard || !window.isSecureContext) { manual(); return Promise.resolve(); }
    return navigator.clipboard.writeText(input.value).then(function () {
      note.textContent = "Copied to the clipboard.";
      say("Link copied to the clipboard.");
    }, manual);
  }

  // -- receive requests --------------------------------------------------------------------------

  function loadSuite() {
    if (state.suite) { renderSuite(); return Promise.resolve(); }
    say("Loading the receiver suite…");
    return api("GET", "/tkw/receiver-suite").then(function (got) {
      state.suite = got.data;
      renderSuite();
      say(state.suite.tests.length + " tests for " + (state.suite.applications || []).length + " BaRS Applications.");
    });
  }

  var SUITE_LABELS = { happy: "Happy path", error: "Error suite" };

  function applicationLabel(id) {
    var found = (state.suite && state.suite.applications || []).filter(function (a) { return a.id === id; })[0];
    return found ? "Application " + found.id + ": " + found.name : (id ? "Application " + id : "Other tests");
  }

  function renderSuite() {
    var select = $("r-application");
    var suite = state.suite;
    if (!select.options.length) {
      $("suite-name").textContent = "(" + suite.name + (suite.version ? ", version " + suite.version : "") + ")";
      (suite.applications || []).forEach(function (a) {
        select.appendChild(el("option", { value: a.id, text: "Application " + a.id + ": " + a.name + " (" + a.use_case + ")" }));
      });
      select.addEventListener("change", function () { renderTests(); });
    }
    renderTests();
  }

  // The chosen Application's tests: its happy path, then its error suite, each by group.
  function renderTests() {
    var list = $("suite-list");
    var application = $("r-application").value;
    if (list.getAttribute("data-application") === application) { return; }
    clear(list);
    list.setAttribute("data-application", application);
    var chosen = (state.suite.applications || []).filter(function (a) { return a.id === application; })[0];
    $("r-application-hint").textContent = chosen ? chosen.roles + ". " + chosen.description : "";
    ["happy", "error"].forEach(function (kind) {
      var tests = state.suite.tests.filter(function (t) { return t.application === application && t.suite === kind; });
      if (!tests.length) { return; }
      list.appendChild(el("h3", { text: SUITE_LABELS[kind] + " (" + tests.length + ")" }));
      var ul = el("ul", { "data-suite": kind });
      tests.forEach(function (t) {
        var id = "t-" + t.id;
        var also = t.depends_on && t.depends_on.length ? " Also runs " + t.depends_on.join(", ") + " first." : "";
        var expects = "expects HTTP " + t.expected_status + (t.expected_bars_code ? " " + t.expected_bars_code : "");
        ul.appendChild(el("li", {}, [
          el("input", { type: "checkbox", id: id, value: t.id, checked: true, className: "test", "data-suite": kind,
            "aria-describedby": id + "-desc", onchange: countTests }),
          el("div", {}, [
            el("label", { for: id, text: t.name }),
            el("span", { className: "desc", id: id + "-desc", text: (t.description || "") + also }),
            el("code", { className: "req", text: t.request + " → " + expects })
          ])
        ]));
      });
      list.appendChild(ul);
    });
    countTests();
  }

  function testBoxes() { return Array.prototype.slice.call(document.querySelectorAll("#suite-list input.test")); }

  function countTests() {
    var boxes = testBoxes();
    var chosen = boxes.filter(function (b) { return b.checked; }).length;
    $("tests-count").textContent = chosen + " of " + boxes.length + " selected";
  }

  function setAllTests(checked, kind) {
    testBoxes().forEach(function (b) { b.checked = checked && (!kind || b.getAttribute("data-suite") === kind); });
    countTests();
  }

  function formError(message, field) {
    var error = $("run-error");
    error.textContent = message;
    error.hidden = false;
    if (field) { field.setAttribute("aria-invalid", "true"); field.focus(); }
  }

  function startRun(event) {
    event.preventDefault();
    var endpointField = $("r-endpoint");
    var targetField = $("r-target");
    [endpointField, targetField].forEach(function (f) { f.removeAttribute("aria-invalid"); });
    $("run-error").hidden = true;
    var endpoint = endpointField.value.trim();
    var target = targetField.value.trim();
    var url = null;
    try { url = new URL(endpoint); } catch (e) { url = null; }
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
      formError("Enter the receiver's base URL, starting http:// or https://.", endpointField);
      return;
    }
    if (!target) { formError("Enter the receiver's target identifier (its DoS service id).", targetField); return; }
    var tests = testBoxes().filter(function (b) { return b.checked; }).map(function (b) { return b.value; });
    if (!tests.length) { formError("Select at least one test."); return; }
    var application = $("r-application").value;
    var body = { endpoint: endpoint, target_identifier: target, application: application, tests: tests };
    $("run-execute").disabled = true;
    say("Starting the run…");
    guard(api("POST", "/tkw/receiver-runs", { body: body }).then(function (got) {
      rememberRun(got.data.run_id);
      state.run = { run_id: got.data.run_id, status: got.data.status, results: [] };
      state.loaded.runs = false;
      showRun({ run_id: got.data.run_id, status: "queued", endpoint: endpoint, target_identifier: target, results: [], links: {} });
      $("run-title").focus();
      return pollRun(got.data.run_id, state.generation);
    }).catch(function (err) {
      if (err instanceof ApiError && err.kind === "http" && err.status === 400) { formError(err.message); return; }
      throw err;
    }), "Starting the run").then(function () { $("run-execute").disabled = false; });
  }

  function runsKey() { return "tkw-portal.runs." + state.ods; }

  function knownRuns() {
    try { return JSON.parse(readStore(localStorage, runsKey()) || "[]"); } catch (e) { return []; }
  }

  function rememberRun(runId) {
    var runs = knownRuns().filter(function (id) { return id !== runId; });
    runs.unshift(runId);
    writeStore(localStorage, runsKey(), JSON.stringify(runs.slice(0, 100)));
  }

  function pollRun(runId, generation) {
    return api("GET", "/tkw/receiver-runs/" + encodeURIComponent(runId)).then(function (got) {
      if (generation !== state.generation) { return; }
      showRun(got.data);
      if (FINISHED.indexOf(got.data.status) < 0) {
        state.pollTimer = setTimeout(function () { guard(pollRun(runId, generation), "Following the run"); }, POLL_MS);
      }
    });
  }

  function runLinks(links) {
    var names = [["html", "Open HTML report"], ["junit", "JUnit XML"], ["json", "JSON results"], ["zip", "Download zip"]];
    return names.filter(function (n) { return links && links[n[0]]; }).map(function (n) {
      var attrs = { href: links[n[0]], className: "run-link " + n[0], "data-kind": n[0], text: n[1] };
      if (n[0] !== "zip") { attrs.target = "_blank"; attrs.rel = "noopener"; }
      return el("li", {}, [el("a", attrs)]);
    });
  }

  function showRun(run) {
    var view = $("run-view");
    view.hidden = false;
    view.className = "run " + run.status;
    view.setAttribute("data-status", run.status);
    var results = run.results || [];
    var done = results.filter(function (r) { return r.status !== "pending"; }).length;
    var total = results.length || (run.tests ? run.tests.length : 0);
    var passed = results.filter(function (r) { return r.status === "passed"; }).length;
    var failed = results.filter(function (r) { return r.status === "failed"; }).length;
    var finished = FINISHED.indexOf(run.status) >= 0;
    var titles = { queued: "Run queued", running: "Run in progress", passed: "Run passed", failed: "Run failed", error: "Run could not complete" };
    $("run-title").textContent = titles[run.status] || "Run " + run.status;
    var progress = $("run-progress");
    progress.max = Math.max(total, 1);
    progress.value = done;
    progress.setAttribute("aria-label", done + " of " + total + " tests complete");
    var text = finished
      ? "Finished: " + passed + " passed, " + failed + " failed" + (total - passed - failed ? ", " + (total - passed - failed) + " not run" : "") + " of " + total + "."
      : done + " of " + total + " tests complete" + (failed ? " (" + failed + " failed so far)" : "") + "…";
    if ($("run-progress-text").textContent !== text) { $("run-progress-text").textContent = text; }
    var reason = $("run-reason");
    var why = run.reason || "";
    if (/unreachable/i.test(why)) { why += ". Check the receiver's URL and that it is running (a deployed emulator reaches private addresses only with AllowPrivateReceivers=true)."; }
    reason.textContent = why;
    reason.hidden = !why || !finished;
    // Results grouped by Application, then suite (happy path, error suite), in run order.
    var list = $("run-results");
    clear(list);
    var groups = [];
    var byGroup = {};
    results.forEach(function (r) {
      var key = (r.application || "") + "|" + (r.suite || "");
      if (!byGroup[key]) { byGroup[key] = []; groups.push(key); }
      byGroup[key].push(r);
    });
    var rank = function (key) { var p = key.split("|"); return p[0] + (p[1] === "happy" ? "0" : p[1] === "error" ? "1" : "2"); };
    groups.sort(function (a, b) { return rank(a) < rank(b) ? -1 : rank(a) > rank(b) ? 1 : 0; });
    groups.forEach(function (key) {
      var parts = key.split("|");
      var members = byGroup[key];
      var ok = members.filter(function (r) { return r.status === "passed"; }).length;
      list.appendChild(el("h3", { "data-application": parts[0], "data-suite": parts[1],
        text: applicationLabel(parts[0]) + (parts[1] ? ": " + (SUITE_LABELS[parts[1]] || parts[1]) : "") + " (" + ok + " of " + members.length + " passed)" }));
      var ol = el("ol");
      members.forEach(function (r) {
        ol.appendChild(el("li", { "data-test-id": r.test_id, "data-status": r.status }, [
          badge(r.status, r.status), " ", el("strong", { text: r.name }),
          r.message ? el("span", { className: "msg", text: r.message }) : null
        ]));
      });
      list.appendChild(ol);
    });
    var links = $("run-links");
    clear(links);
    runLinks(run.links).forEach(function (li) { links.appendChild(li); });
    links.hidden = !links.childNodes.length;
    if (finished) {
      say("Run finished: " + (run.status === "passed" ? "passed" : run.status) + ". " + text);
    }
  }

  // -- receiver reports --------------------------------------------------------------------------

  function loadRuns() {
    var mine = knownRuns();
    say("Loading receiver runs…");
    return api("GET", "/tkw/receiver-runs?limit=100").then(function (got) {
      var runs = ((got.data && got.data.runs) || []).filter(function (r) { return mine.indexOf(r.run_id) >= 0; });
      var body = $("runs-body");
      clear(body);
      runs.forEach(function (r) { body.appendChild(runRow(r)); });
      $("runs-table").hidden = runs.length === 0;
      var empty = $("runs-empty");
      clear(empty);
      empty.appendChild(el("h2", { text: "No receiver runs yet for " + state.ods }));
      empty.appendChild(el("p", { text: "Start one under Receive requests. Runs started elsewhere (for example with tkw receiver-run --via) are not listed here: receiver runs are not filed under an organisation." }));
      empty.hidden = runs.length !== 0;
      hideAlert();
      say(runs.length + (runs.length === 1 ? " receiver run" : " receiver runs") + " shown.");
    });
  }

  function runRow(r) {
    var s = r.summary || {};
    var cell = el("td", { "data-label": "Reports", className: "run-reports" });
    var button = el("button", { type: "button", className: "link", text: FINISHED.indexOf(r.status) >= 0 ? "Get reports" : "Check progress",
      "aria-label": "Get the reports of the run started " + shortTime(r.created_at),
      onclick: function () {
        guard(api("GET", "/tkw/receiver-runs/" + encodeURIComponent(r.run_id)).then(function (got) {
          clear(cell);
          var items = runLinks(got.data.links);
          if (!items.length) { cell.appendChild(el("span", { text: "No reports yet (" + got.data.status + ")." })); return; }
          var ul = el("ul", { className: "links" });
          items.forEach(function (li) { ul.appendChild(li); });
          cell.appendChild(ul);
          ul.querySelector("a").focus();
        }), "Getting the run's reports");
      } });
    cell.appendChild(button);
    return el("tr", { "data-run-id": r.run_id, "data-status": r.status }, [
      el("td", { "data-label": "Started (UTC)", text: shortTime(r.created_at) }),
      el("td", { "data-label": "Status" }, [badge(r.status, r.status)]),
      el("td", { "data-label": "Receiver" }, [el("code", { text: r.endpoint })]),
      el("td", { "data-label": "Target", text: r.target_identifier }),
      el("td", { "data-label": "Application", text: r.application ? applicationLabel(r.application) : "Several" }),
      el("td", { "data-label": "Passed / failed / total", text: (s.passed || 0) + " / " + (s.failed || 0) + " / " + (s.total || 0) }),
      cell
    ]);
  }

  // -- stateful ----------------------------------------------------------------------------------

  function loadState() {
    say("Loading the state…");
    return api("GET", "/tkw/state").then(function (got) {
      var s = got.data;
      if (s.organisation && s.organisation !== state.ods) { return; }
      var facts = $("state-facts");
      clear(facts);
      [["Organisation (ODS)", s.organisation], ["Patient (NHS number)", s.patient], ["State", STATES[s.state] || s.state],
        ["Appointment id", s.appointment_id || "none"], ["ServiceRequest id", s.service_request_id || "none"],
        ["Next nightly reset", s.resets_at]].forEach(function (pair) {
        facts.appendChild(el("dt", { text: pair[0] }));
        facts.appendChild(el("dd", { text: pair[1] === null || pair[1] === undefined ? "" : String(pair[1]), "data-fact": pair[0] }));
      });
      facts.setAttribute("data-state", s.state);
      facts.hidden = false;
      hideAlert();
      say("State of " + s.organisation + ": " + (STATES[s.state] || s.state) + ".");
    });
  }

  function resetState() {
    var ods = state.ods;
    say("Resetting the state…");
    return api("DELETE", "/tkw/state").then(function () {
      return loadState();
    }).then(function () {
      say("State of " + ods + " reset: " + STATES.initial + ".");
    });
  }

  // -- endpoints (where the emulator sends its responses) ------------------------------------------

  function loadEndpoints() {
    say("Loading the endpoints…");
    return api("GET", "/tkw/endpoints").then(function (got) {
      var data = got.data;
      if (data.organisation && data.organisation !== state.ods) { return; }
      var body = $("endpoints-body");
      clear(body);
      data.endpoints.forEach(function (e) { body.appendChild(endpointRow(e)); });
      $("endpoints-table").hidden = data.endpoints.length === 0;
      var empty = $("endpoints-empty");
      clear(empty);
      empty.appendChild(el("h2", { text: "No endpoints registered for " + state.ods }));
      empty.appendChild(el("p", { text: "Register the base URL of your BaRS API: responses to your requests are sent there." }));
      empty.hidden = data.endpoints.length !== 0;
      hideAlert();
      say(data.endpoints.length + (data.endpoints.length === 1 ? " endpoint" : " endpoints") + " registered for " + state.ods + ".");
    });
  }

  function endpointNotice(text) {
    var box = $("endpoint-result");
    box.textContent = text;
    box.hidden = false;
  }

  function endpointRow(e) {
    var path = "/tkw/endpoints/" + encodeURIComponent(e.service_id);
    return el("tr", { "data-service-id": e.service_id }, [
      el("td", { "data-label": "Service id" }, [el("code", { text: e.service_id })]),
      el("td", { "data-label": "URL" }, [el("code", { text: e.url })]),
      el("td", { "data-label": "TLS-MA", text: e.mutual_tls ? "yes" : "no" }),
      el("td", { "data-label": "Updated (UTC)", text: shortTime(e.updated_at) }),
      el("td", { "data-label": "Actions", className: "actions" }, [
        el("button", { type: "button", className: "link ping", text: "Test", "aria-label": "Test endpoint " + e.service_id,
          onclick: function () {
            guard(api("POST", path + "/ping").then(function (got) {
              var p = got.data;
              endpointNotice(p.reachable ? "GET " + p.url + " answered HTTP " + p.status + " in " + Math.round(p.elapsed_ms) + " ms." :
                "GET " + p.url + " failed (" + p.failure + "): " + p.reason);
              say("Endpoint " + e.service_id + " tested.");
            }), "Testing the endpoint");
          } }),
        el("button", { type: "button", className: "link remove", text: "Remove", "aria-label": "Remove endpoint " + e.service_id,
          onclick: function () {
            guard(api("DELETE", path).then(function () {
              endpointNotice("Endpoint " + e.service_id + " removed.");
              return loadEndpoints();
            }), "Removing the endpoint");
          } })
      ])
    ]);
  }

  function saveEndpoint(event) {
    event.preventDefault();
    var error = $("endpoint-error");
    var service = $("e-service").value.trim() || "default";
    var url = $("e-url").value.trim();
    if (!url) { error.textContent = "Give the base URL of your BaRS API."; error.hidden = false; $("e-url").focus(); return; }
    error.hidden = true;
    var body = { url: url };
    [["client_cert", "e-cert"], ["client_key", "e-key"], ["ca_bundle", "e-ca"]].forEach(function (pair) {
      var pem = $(pair[1]).value.trim();
      if (pem) { body[pair[0]] = pem; }
    });
    guard(api("PUT", "/tkw/endpoints/" + encodeURIComponent(service), { body: body }).then(function (got) {
      endpointNotice("Endpoint " + got.data.service_id + " " + (got.status === 201 ? "registered" : "updated") + ": " + got.data.url);
      ["e-cert", "e-key", "e-ca"].forEach(function (id) { $(id).value = ""; });
      return loadEndpoints();
    }), "Registering the endpoint");
  }

  // -- wiring ------------------------------------------------------------------------------------

  /* The edition badge: which TKW guide table answers where the editions disagree (from _ping). */
  function showEdition() {
    fetch(API_ROOT + BARS_BASE + "/_ping", { cache: "no-store" }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (ping) {
      if (!ping || !ping.tkwEdition) { return; }
      var badge = $("edition");
      badge.textContent = "TKW guide: " + ping.tkwEdition;
      badge.hidden = false;
    }, function () { /* the badge is optional; api() reports an unreachable emulator */ });
  }

  function init() {
    $("api-root").textContent = API_ROOT;
    showEdition();
    $("org-form").addEventListener("submit", function (event) { event.preventDefault(); setOrganisation($("ods").value); });
    $("token-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var token = $("token").value.trim();
      if (!token) { askForToken("Paste the access token first."); return; }
      setToken(token);
    });
    $("token-forget").addEventListener("click", function () {
      state.token = null;
      writeStore(sessionStorage, STORE_TOKEN, null);
      $("token").value = "";
      say("Token forgotten.");
    });
    TABS.forEach(function (tab) {
      var button = $("tab-" + tab);
      button.addEventListener("click", function () { showTab(tab, false); });
      button.addEventListener("keydown", onTabKey);
    });
    $("report-filters").addEventListener("submit", function (event) {
      event.preventDefault();
      var f = readFilters();
      if (f.since && f.until && f.since > f.until) { showAlert("Filters", "Since is after until: nothing can match."); return; }
      closeViewer();
      guard(loadReports(false), "Loading reports");
    });
    $("f-clear").addEventListener("click", function () {
      $("report-filters").reset();
      guard(loadReports(false), "Loading reports");
    });
    $("reports-refresh").addEventListener("click", function () { guard(loadReports(false), "Loading reports"); });
    $("reports-more").addEventListener("click", function () { guard(loadReports(true), "Loading more reports"); });
    $("select-all").addEventListener("change", function (event) { selectAllShown(event.target.checked); });
    $("zip-selected").addEventListener("click", function () { guard(zipSelected(), "Making the zip"); });
    $("share-copy").addEventListener("click", function () { guard(copyLink(), "Copying the link"); });
    $("viewer-close").addEventListener("click", function () { closeViewer(); say("Report closed."); });
    $("tests-all").addEventListener("click", function () { setAllTests(true); });
    $("tests-none").addEventListener("click", function () { setAllTests(false); });
    $("tests-happy").addEventListener("click", function () { setAllTests(true, "happy"); });
    $("tests-error").addEventListener("click", function () { setAllTests(true, "error"); });
    $("run-form").addEventListener("submit", startRun);
    $("runs-refresh").addEventListener("click", function () { guard(loadRuns(), "Loading receiver runs"); });
    $("state-refresh").addEventListener("click", function () { guard(loadState(), "Loading the state"); });
    $("state-reset").addEventListener("click", function () { guard(resetState(), "Resetting the state"); });
    $("endpoint-form").addEventListener("submit", saveEndpoint);
    $("endpoints-refresh").addEventListener("click", function () { guard(loadEndpoints(), "Loading the endpoints"); });

    // Phones start with the filters folded away; wider screens show them.
    if (window.matchMedia && window.matchMedia("(max-width: 42rem)").matches) { $("filter-box").open = false; }
    var tab = location.hash.replace("#", "");
    state.tab = TABS.indexOf(tab) >= 0 ? tab : "reports";
    var saved = readStore(localStorage, STORE_ODS);
    if (state.token) { guard(loadOrganisations(), "Reading your organisations"); }
    if (saved && ODS_PATTERN.test(saved)) {
      $("ods").value = saved;
      setOrganisation(saved);
    } else {
      showTab(state.tab, false);
      $("ods").focus();
    }
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
