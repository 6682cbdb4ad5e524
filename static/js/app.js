/* Repairshop: the one script of the pages.
 *
 * The strict Content-Security-Policy forbids inline scripts, hx-on and htmx trigger filters,
 * so every behaviour lives here and hangs off htmx events or plain DOM events:
 *   1. messages       showMessage events (sent by the server in HX-Trigger) and local ones
 *   2. live lists     the poll of [data-poll] regions, with back-off and a status line
 *   3. status change  a row's move: optimistic badge, rolled back when the server refuses
 *   4. new ticket     "existing customer" / "new customer" switch and the picker
 */
(function () {
  "use strict";

  // ---------------------------------------------------------------------------------------
  // 1. Messages
  // ---------------------------------------------------------------------------------------
  function showMessage(text, level) {
    const box = document.getElementById("messages");
    if (!box || !text) return;
    const p = document.createElement("p");
    p.className = "message " + (level || "info");
    if (level === "error") p.setAttribute("role", "alert");
    p.textContent = text;
    box.appendChild(p);
    // Keep the area short: the newest five messages are enough.
    while (box.children.length > 5) box.removeChild(box.firstElementChild);
  }

  // The server puts {"showMessage": {"text": ..., "level": ...}} in HX-Trigger; htmx turns it
  // into an event on the element that made the request, which bubbles up to here.
  document.addEventListener("showMessage", function (event) {
    const detail = event.detail || {};
    showMessage(detail.text || detail.value, detail.level);
  });

  function csrfToken() {
    try {
      const headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
      return headers["X-CSRFToken"] || "";
    } catch (e) {
      return "";
    }
  }

  // Requests other than polls that fail: tell the person, don't fail silently.
  document.addEventListener("htmx:responseError", function (event) {
    if (isPoll(event.detail)) return;
    const status = event.detail.xhr.status;
    if (event.detail.xhr.getResponseHeader("HX-Trigger")) return; // the server said why
    if (status === 403) showMessage("You are not allowed to do that.", "error");
    else if (status === 429) showMessage("Too many requests: wait a moment and try again.", "error");
    else showMessage("The server could not answer (" + status + "). Try again in a moment.", "error");
  });
  document.addEventListener("htmx:sendError", function (event) {
    if (isPoll(event.detail)) return;
    showMessage("Could not reach the server. Check the connection and try again.", "error");
  });

  // ---------------------------------------------------------------------------------------
  // 2. Live lists
  // A region marked data-poll carries hx-get (its own URL with the filters and the version it
  // shows) and hx-trigger="poll, tickets-changed from:body". This code fires "poll" on it:
  // every interval while the server answers, and with back-off (1, 2, 4 ... 60 s) while it
  // does not. The server answers 204 when nothing changed, so htmx leaves the page alone.
  // ---------------------------------------------------------------------------------------
  const MAX_BACKOFF_SECONDS = 60;
  const live = { timer: null, failures: 0, lastUpdated: null, ticker: null, offline: false };

  function isPollRegion(elt) {
    return !!(elt && elt.hasAttribute && elt.hasAttribute("data-poll"));
  }

  // htmx re-fires afterRequest on a parent when the region itself was swapped out, with
  // detail.elt set to that parent; the request object is the same, so the mark goes there.
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (isPollRegion(event.detail.elt) && event.detail.xhr) event.detail.xhr.rsPoll = true;
  });

  // A timed poll says so (X-Poll: timer): the server may answer it from a version read up
  // to a second earlier (core.rendered.polled_version). The refresh after a change made on
  // this page (tickets-changed) does not say so, and always compares with the current one.
  document.addEventListener("htmx:configRequest", function (event) {
    const trigger = event.detail.triggeringEvent;
    if (trigger && trigger.type === "poll" && isPollRegion(event.detail.elt)) {
      event.detail.headers["X-Poll"] = "timer";
    }
  });

  function isPoll(detail) {
    return !!(detail && ((detail.xhr && detail.xhr.rsPoll) || isPollRegion(detail.elt)));
  }

  function pollRegion() {
    return document.querySelector("[data-poll]");
  }

  function pollIntervalSeconds() {
    const value = parseFloat(document.body.dataset.pollInterval);
    return value > 0 ? value : 30;
  }

  function schedulePoll(seconds) {
    clearTimeout(live.timer);
    live.nextDelay = seconds;
    live.timer = setTimeout(function () {
      const region = pollRegion();
      if (region) htmx.trigger(region, "poll");
    }, seconds * 1000);
  }

  function statusBox() {
    return document.getElementById("live-status");
  }

  function renderStatus() {
    const box = statusBox();
    if (!box) return;
    if (!pollRegion()) {
      box.hidden = true;
      return;
    }
    box.hidden = false;
    if (live.offline) {
      box.classList.add("offline");
      box.dataset.retryIn = String(live.nextDelay); // for people who ask, and for the tests
      box.textContent = "Offline — retrying in " + live.nextDelay + " s…";
      return;
    }
    box.classList.remove("offline");
    delete box.dataset.retryIn;
    if (live.lastUpdated === null) {
      box.textContent = "Live list";
      return;
    }
    const seconds = Math.max(0, Math.round((Date.now() - live.lastUpdated) / 1000));
    box.textContent = "Live list · updated " + seconds + " s ago";
  }

  function startLive() {
    if (!pollRegion()) return;
    if (live.lastUpdated === null) live.lastUpdated = Date.now(); // the page itself is fresh
    if (!live.timer) schedulePoll(pollIntervalSeconds());
    if (!live.ticker) live.ticker = setInterval(renderStatus, 1000);
    renderStatus();
  }

  document.addEventListener("htmx:afterRequest", function (event) {
    if (!isPoll(event.detail)) return;
    const status = event.detail.xhr ? event.detail.xhr.status : 0;
    if (status >= 200 && status < 400) {
      live.failures = 0;
      live.offline = false;
      live.lastUpdated = Date.now();
      schedulePoll(pollIntervalSeconds());
    } else {
      // Network error, timeout, 5xx (or anything else unexpected): back off.
      live.failures += 1;
      live.offline = true;
      schedulePoll(Math.min(MAX_BACKOFF_SECONDS, Math.pow(2, live.failures - 1)));
    }
    renderStatus();
  });

  // Error answers to a poll are never swapped into the table.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (!isPoll(event.detail)) return;
    if (event.detail.isError) {
      event.detail.shouldSwap = false;
      return;
    }
    // Someone is typing notes in a row: don't pull the form from under their fingers. The
    // version on the page stays old, so the next poll brings the change.
    const region = event.detail.target;
    if (region && region.querySelector("details.status-action[open], tr.is-pending")) {
      event.detail.shouldSwap = false;
    }
  });

  // ---------------------------------------------------------------------------------------
  // 3. Status change, optimistic: a row's move (its button carries the target's label and
  // group) shows the target at once; a refusal puts the row back and says why.
  // ---------------------------------------------------------------------------------------
  function rowFromHtml(html) {
    const template = document.createElement("template");
    template.innerHTML = "<table><tbody>" + html.trim() + "</tbody></table>";
    return template.content.querySelector("tr");
  }

  function dispatchTriggers(response, source) {
    const header = response.headers.get("HX-Trigger");
    if (!header) return;
    let events;
    try {
      events = JSON.parse(header);
    } catch (e) {
      events = {};
      header.split(",").forEach(function (name) { events[name.trim()] = null; });
    }
    Object.keys(events).forEach(function (name) {
      const target = document.body.contains(source) ? source : document.body;
      target.dispatchEvent(new CustomEvent(name, { bubbles: true, detail: events[name] || {} }));
    });
  }

  function markRow(row, message) {
    row.classList.add("row-error");
    const cell = row.querySelector("[data-row-message]") || row.querySelector("td");
    if (!cell) return;
    const note = document.createElement("span");
    note.className = "row-message";
    note.textContent = message;
    cell.appendChild(note);
  }

  function applyOptimistic(row, submitter, completed) {
    row.classList.add("is-pending");
    const badge = row.querySelector("[data-status-badge]");
    const label = submitter && submitter.dataset.statusLabel;
    if (badge && label) {
      badge.textContent = label;
      badge.className = "badge status-" + (submitter.dataset.statusGroup || "");
    } else if (badge && completed !== null) {
      // Part 1's complete / reopen, from a form that posts `completed`.
      badge.textContent = completed ? "Completed" : "Open";
    }
    const details = row.querySelector("details.status-action");
    if (details) details.open = false;
    row.querySelectorAll("button, textarea").forEach(function (el) { el.disabled = true; });
  }

  function replaceRow(oldRow, html) {
    const fresh = rowFromHtml(html);
    if (!fresh) return null;
    oldRow.replaceWith(fresh);
    htmx.process(fresh);
    return fresh;
  }

  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (!form.matches || !form.matches("form[data-status-form]")) return;
    const row = form.closest("tr[data-ticket-row]");
    if (!row || !window.fetch) return; // no row to update: let the browser post the form
    event.preventDefault();

    const body = new FormData(form);
    if (event.submitter && event.submitter.name) body.append(event.submitter.name, event.submitter.value);
    const completed = body.has("completed") ? body.get("completed") === "true" : null;
    const original = row.cloneNode(true);
    applyOptimistic(row, event.submitter, completed);

    function rollback(message) {
      const restored = original.cloneNode(true);
      row.replaceWith(restored);
      htmx.process(restored);
      markRow(restored, message);
      showMessage(message, "error");
    }

    fetch(form.action, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "HX-Request": "true", "X-CSRFToken": csrfToken() },
    }).then(function (response) {
      const redirect = response.headers.get("HX-Redirect");
      if (redirect) {
        window.location.href = redirect; // the session ended: sign in again
        return null;
      }
      return response.text().then(function (text) {
        if (response.ok) {
          const fresh = replaceRow(row, text) || row;
          dispatchTriggers(response, fresh);
          return null;
        }
        let message = "The change was refused (" + response.status + ").";
        const header = response.headers.get("HX-Trigger");
        if (header) {
          try {
            const events = JSON.parse(header);
            if (events.showMessage && events.showMessage.text) message = events.showMessage.text;
          } catch (e) { /* keep the generic message */ }
        }
        if (response.status === 409 && text.trim()) {
          // Someone else changed the ticket: show what it is now, never overwrite silently.
          const fresh = replaceRow(row, text);
          if (fresh) {
            markRow(fresh, message);
            showMessage(message, "error");
            return null;
          }
        }
        rollback(message);
        return null;
      });
    }).catch(function () {
      rollback("Could not reach the server, so nothing was changed. Try again.");
    });
  });

  // ---------------------------------------------------------------------------------------
  // 4. New ticket: existing or new customer, and the picker
  // ---------------------------------------------------------------------------------------
  function applyCustomerMode(root) {
    const checked = root.querySelector("input[name='customer_mode']:checked");
    if (!checked) return;
    root.querySelectorAll("[data-customer-mode]").forEach(function (section) {
      const active = section.dataset.customerMode === checked.value;
      section.hidden = !active;
      // Hidden inputs must not block the submit with "required" or be sent half-filled.
      section.querySelectorAll("input, select, textarea").forEach(function (el) {
        el.disabled = !active;
      });
    });
  }

  document.addEventListener("change", function (event) {
    const target = event.target;
    if (target.name === "customer_mode") {
      const form = target.closest("form");
      if (form) applyCustomerMode(form);
    }
  });

  // The picker's search sits inside the ticket form: Enter there searches, it doesn't submit.
  document.addEventListener("keydown", function (event) {
    const target = event.target;
    if (event.key === "Enter" && target.matches && target.matches("input[data-picker-search]")) {
      event.preventDefault();
      htmx.trigger(target, "search");
    }
  });

  // ---------------------------------------------------------------------------------------
  // Start-up, and again for every piece of page htmx puts in
  // ---------------------------------------------------------------------------------------
  htmx.onLoad(function (elt) {
    // Fallbacks for browsers without JavaScript (a "Search" button beside a live search).
    if (elt.querySelectorAll) {
      elt.querySelectorAll("[data-without-js]").forEach(function (el) { el.hidden = true; });
    }
    const form = elt.querySelector ? elt.querySelector("form[data-ticket-form]") : null;
    if (form) applyCustomerMode(form);
    startLive();
  });
})();
