// Shared by every task page, loaded before the page's own script with <script src="common.js"></script>.
//
// A page reads its instance from the URL query (?session=ID&...) and, once on load and after every change,
// calls report(): that POSTs the page's full state (what its own `async function snapshot()` returns, plus
// `page` from its `const PAGE`, the session and a sequence number) to /state/<session> on the task server.
"use strict";
const Q = new URLSearchParams(location.search);
const SESSION = Q.get("session") || "";
const $ = id => document.getElementById(id);

// The query value `name` parsed as JSON; `fallback` when it is missing or not JSON.
function qjson(name, fallback) {
  const v = Q.get(name);
  if (v === null) return fallback;
  try { return JSON.parse(v); } catch (e) { return fallback; }
}

// Reports go out one after another and are numbered, so a late one never replaces a newer state.
let SEQ = 0, CHAIN = Promise.resolve();
function report() {
  if (!SESSION) return;
  CHAIN = CHAIN.then(async () => {
    const s = await snapshot();
    s.page = PAGE; s.session = SESSION; s.seq = ++SEQ;
    await fetch("/state/" + encodeURIComponent(SESSION), {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(s)});
  }).catch(() => {});
}

// A modal confirmation dialog called `title`, appended to the page: ids confirm (the dialog), confirm-title,
// confirm-text (what it asks, filled in by the page), cancel and ok (its buttons); styled by the page.
function confirmDialog(title) {
  const d = document.createElement("dialog");
  d.id = "confirm";
  d.setAttribute("aria-labelledby", "confirm-title");
  d.setAttribute("aria-describedby", "confirm-text");
  d.innerHTML = '<h2 id="confirm-title"></h2><p id="confirm-text"></p><div class="buttons">' +
    '<button type="button" id="cancel">Cancel</button><button type="button" id="ok" class="primary">OK</button></div>';
  d.querySelector("#confirm-title").textContent = title;
  document.body.appendChild(d);
  return d;
}
