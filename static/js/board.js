/* The board (/tickets/board/): moves from the cards' buttons, optimistic, and the cards' ages.
 *
 * A move button posts its card's form to the status URL with fragment=card. The card goes to
 * its target column at once (a closed target takes it off the board); the server answers the
 * fresh card, which takes its place, and a tickets-changed event that refreshes the whole
 * board (app.js's live list does the polling). A refusal puts the card back where it was,
 * with the server's reason on it. Without this script the form posts as a plain form and the
 * server redirects back to the board.
 */
(function () {
  "use strict";

  function board() {
    return document.querySelector("[data-board]");
  }

  function say(text, level) {
    document.dispatchEvent(new CustomEvent("showMessage", { detail: { text: text, level: level } }));
  }

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (e) {
      return "";
    }
  }

  function columnOf(key) {
    const root = board();
    return root ? root.querySelector('[data-board-column="' + CSS.escape(key) + '"]') : null;
  }

  // The counts of a column (its heading and the jump link) and its "No tickets." line.
  function adjustCount(column, delta) {
    if (!column) return;
    const key = column.dataset.boardColumn;
    const counters = [column.querySelector("[data-column-count]")];
    const root = board();
    if (root) counters.push(root.querySelector('[data-jump-count="' + CSS.escape(key) + '"]'));
    counters.forEach(function (counter) {
      if (counter) counter.textContent = String(Math.max(0, (parseInt(counter.textContent, 10) || 0) + delta));
    });
    const empty = column.querySelector("[data-column-empty]");
    const cards = column.querySelector("[data-column-cards]");
    if (empty && cards) empty.hidden = cards.children.length > 0;
  }

  function cardFromHtml(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.querySelector("[data-board-card]");
  }

  function dispatchTriggers(response, source) {
    const header = response.headers.get("HX-Trigger");
    if (!header) return;
    let events = {};
    try {
      events = JSON.parse(header);
    } catch (e) {
      header.split(",").forEach(function (name) { events[name.trim()] = null; });
    }
    Object.keys(events).forEach(function (name) {
      const target = source && document.body.contains(source) ? source : document.body;
      target.dispatchEvent(new CustomEvent(name, { bubbles: true, detail: events[name] || {} }));
    });
  }

  function reasonOf(response) {
    const header = response.headers.get("HX-Trigger");
    if (header) {
      try {
        const events = JSON.parse(header);
        if (events.showMessage && events.showMessage.text) return events.showMessage.text;
      } catch (e) { /* the generic reason below */ }
    }
    return "The move was refused (" + response.status + ").";
  }

  function markCard(card, message) {
    card.classList.add("card-error");
    const holder = card.querySelector("[data-card-message]") || card;
    const note = document.createElement("span");
    note.className = "card-message";
    note.setAttribute("role", "alert");
    note.textContent = message;
    holder.appendChild(note);
  }

  // The card whose move was answered, to focus again once the refreshed board is in.
  let focusCardId = null;

  function focusCard(id) {
    const card = document.getElementById("card-" + id);
    const target = card && (card.querySelector(".card-move-buttons button") || card.querySelector("a"));
    if (target) target.focus({ preventScroll: false });
  }

  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (!form.matches || !form.matches("form[data-board-move]")) return;
    const card = form.closest("[data-board-card]");
    const button = event.submitter;
    if (!card || !button || !window.fetch) return; // let the browser post the form
    event.preventDefault();

    const body = new FormData(form);
    body.append(button.name, button.value);
    const source = card.closest("[data-board-column]");
    const list = card.parentNode;
    const nextSibling = card.nextSibling;
    const target = button.dataset.group === "closed" ? null : columnOf(button.value);
    const original = card.cloneNode(true);

    // Optimistic: the card is where it is going, or off the board.
    card.classList.add("is-pending");
    card.querySelectorAll("button").forEach(function (el) { el.disabled = true; });
    card.querySelectorAll(".card-message").forEach(function (el) { el.remove(); });
    card.classList.remove("card-error");
    if (target) target.querySelector("[data-column-cards]").prepend(card);
    else card.remove();
    adjustCount(source, -1);
    adjustCount(target, +1);

    function rollback(message) {
      card.remove();
      adjustCount(target, -1);
      const restored = original.cloneNode(true);
      list.insertBefore(restored, nextSibling && nextSibling.parentNode === list ? nextSibling : null);
      adjustCount(source, +1);
      htmx.process(restored);
      markCard(restored, message);
      say(message, "error");
      const again = restored.querySelector('button[value="' + CSS.escape(button.value) + '"]');
      if (again) again.focus();
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
        if (!response.ok) {
          rollback(reasonOf(response));
          return;
        }
        const fresh = cardFromHtml(text);
        let placed = null;
        if (fresh) {
          const column = columnOf(fresh.dataset.status);
          if (column && card.parentNode) {
            // Where the server says it is now (normally where it was put).
            if (card.closest("[data-board-column]") !== column) {
              adjustCount(card.closest("[data-board-column]"), -1);
              adjustCount(column, +1);
            }
            card.replaceWith(fresh);
            placed = fresh;
            htmx.process(fresh);
          }
        }
        if (!placed) {
          card.remove();
        } else {
          focusCardId = fresh.dataset.boardCard;
          focusCard(focusCardId);
        }
        showAges(placed || document);
        movesAnswered += 1;
        dispatchTriggers(response, placed);
      });
    }).catch(function () {
      rollback("Could not reach the server, so nothing was moved. Try again.");
    });
  });

  // Refreshes of the board and the moves answered meanwhile. A refresh asked for before the
  // latest move was answered shows the board without that move: it is not swapped in, and a
  // new one is asked for once it is done (htmx drops the refresh a move asks for while an
  // earlier one is still on its way, and aborting that one would count as a failed poll).
  let movesAnswered = 0;
  let refreshOwed = false;

  function isBoardRequest(detail) {
    return !!(detail.xhr && detail.xhr.rsBoard);
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    const elt = event.detail.elt;
    if (event.detail.xhr && elt && elt.matches && elt.matches("[data-board]")) {
      event.detail.xhr.rsBoard = true;
      event.detail.xhr.rsMovesAnswered = movesAnswered;
    }
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    if (!isBoardRequest(event.detail)) return;
    const region = board();
    // A move on its way: its own answer asks for the refresh.
    if (region && region.querySelector(".board-card.is-pending")) {
      event.detail.shouldSwap = false;
    } else if (event.detail.xhr.rsMovesAnswered < movesAnswered) {
      event.detail.shouldSwap = false;
      refreshOwed = true;
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    if (!isBoardRequest(event.detail) || !refreshOwed) return;
    refreshOwed = false;
    setTimeout(function () { document.body.dispatchEvent(new CustomEvent("tickets-changed")); }, 0);
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    if (focusCardId && event.detail.target && event.detail.target.matches("[data-board]")) {
      focusCard(focusCardId);
      focusCardId = null;
    }
  });

  // ---------------------------------------------------------------------------------------
  // Ages: the server writes the moment (the same for everyone, whenever it is rendered); this
  // turns it into "3 d 4 h ago" / "for 2 h", kept current.
  // ---------------------------------------------------------------------------------------
  function span(ms) {
    const minutes = Math.max(0, Math.floor(ms / 60000));
    if (minutes < 60) return minutes + " min";
    const hours = Math.floor(minutes / 60);
    if (hours < 24) return hours + " h";
    const days = Math.floor(hours / 24);
    return days + " d" + (days < 7 && hours % 24 ? " " + (hours % 24) + " h" : "");
  }

  function showAges(root) {
    const now = Date.now();
    root.querySelectorAll("time[data-age]").forEach(function (el) {
      const at = Date.parse(el.getAttribute("datetime"));
      if (isNaN(at)) return;
      if (!el.title) el.title = el.textContent.trim();
      el.textContent = el.dataset.age === "for" ? "for " + span(now - at) : span(now - at) + " ago";
    });
  }

  htmx.onLoad(function (elt) {
    if (elt.querySelectorAll) showAges(elt);
  });
  setInterval(function () {
    const root = board();
    if (root) showAges(root);
  }, 60000);
})();
