// The agent console: status, live offers (with a ring), wrap-up, the day's calls. All data comes from the agent
// API with the console session; the event stream says when to look again. Caller data is only ever set as text.
"use strict";
(() => {
  const root = document.getElementById("agent-console");
  if (!root) return;
  const labels = JSON.parse(root.dataset.labels);
  const $ = (id) => document.getElementById(id);
  const state = { me: null, offers: [], skew: 0, shownOffers: new Set(), wrapUpSid: null, status: null,
                  syncing: null, again: false };

  // -- the ring: a Web Audio double tone (2 s on, 4 s off) while an offer is pending --------------------------
  const ring = {
    ctx: null, timer: null,
    muted: localStorage.getItem("ivr.agent.mute") === "1",
    context() {
      const Context = window.AudioContext || window.webkitAudioContext;
      if (!this.ctx && Context) this.ctx = new Context();
      if (this.ctx && this.ctx.state === "suspended") this.ctx.resume().catch(() => {});
      return this.ctx;
    },
    burst() {
      const ctx = this.context();
      if (!ctx || this.muted) return;
      const gain = ctx.createGain();
      gain.gain.setValueAtTime(0.0001, ctx.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.15, ctx.currentTime + 0.05);
      gain.gain.setValueAtTime(0.15, ctx.currentTime + 1.9);
      gain.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + 2.0);
      gain.connect(ctx.destination);
      for (const hz of [440, 480]) {
        const osc = ctx.createOscillator();
        osc.frequency.value = hz;
        osc.connect(gain);
        osc.start();
        osc.stop(ctx.currentTime + 2.0);
      }
    },
    set(on) {
      $("ring-state").hidden = !on;
      root.classList.toggle("ringing", on);
      if (on && !this.timer) { this.burst(); this.timer = setInterval(() => this.burst(), 6000); }
      if (!on && this.timer) { clearInterval(this.timer); this.timer = null; }
    },
  };
  // Browsers let a page make sound only after a user gesture: any click or key press unlocks it.
  for (const kind of ["click", "keydown"]) document.addEventListener(kind, () => ring.context(), { once: true });

  function showMute() {
    $("mute").setAttribute("aria-pressed", ring.muted ? "true" : "false");
  }
  $("mute").addEventListener("click", () => {
    ring.muted = !ring.muted;
    localStorage.setItem("ivr.agent.mute", ring.muted ? "1" : "0");
    showMute();
    ivr.announce(ring.muted ? "Ring muted" : "Ring on");
  });
  showMute();

  function fail(error) { $("console-error").textContent = error ? error.message || String(error) : ""; }
  const serverNow = () => Date.now() + state.skew;

  // -- sync: what the server says now ---------------------------------------------------------------------------
  function midnight() { const d = new Date(); d.setHours(0, 0, 0, 0); return Math.floor(d.getTime() / 1000); }

  async function sync() {
    if (state.syncing) { state.again = true; return state.syncing; }
    state.syncing = (async () => {
      try {
        const [me, offers, history] = await Promise.all([
          ivr.request("GET", "/api/agent"), ivr.request("GET", "/api/agent/offers"),
          ivr.request("GET", `/api/agent/history?since=${midnight()}`)]);
        state.skew = me.now - Date.now();
        state.me = me;
        state.offers = offers.offers;
        renderStatus(); renderOffers(); renderWrapUp(); renderHistory(history.calls);
        fail(null);
      } catch (error) {
        fail(error);
      } finally {
        state.syncing = null;
        if (state.again) { state.again = false; sync(); }
      }
    })();
    return state.syncing;
  }

  function shownStatus() {
    const me = state.me;
    return me.call ? "busy" : me.status;
  }

  function renderStatus() {
    const me = state.me, shown = shownStatus();
    const badge = $("status-badge");
    badge.className = `badge ${shown}`;
    badge.textContent = labels[shown] || shown;
    for (const button of root.querySelectorAll("button[data-status]")) {
      button.setAttribute("aria-pressed", button.dataset.status === me.status ? "true" : "false");
    }
    const call = $("current-call");
    call.hidden = !me.call;
    call.textContent = me.call ? `On a call with ${me.call.caller || "an unknown number"}` +
      (me.call.queue ? ` (queue ${me.call.queue})` : "") : "";
    if (state.status !== null && state.status !== shown) ivr.announce(`You are now ${labels[shown] || shown}`);
    state.status = shown;
    tick();
  }

  function sinceMs() {
    const me = state.me;
    if (me.call && me.call.accepted_at) return me.call.accepted_at * 1000;
    return me.status_since;
  }

  // -- offers ---------------------------------------------------------------------------------------------------
  function section(title, body) {
    return [ivr.el("h4", {}, title), body];
  }

  function offerView(offer, first) {
    const id = `offer-${offer.reservation}`;
    const data = Object.entries(offer.data || {});
    const said = offer.said || [];
    const path = offer.path.filter((node, i, all) => i === 0 || all[i - 1] !== node);  // a node once per visit
    return ivr.el("article", { class: "offer", id, "aria-labelledby": `${id}-title`, "data-reservation": offer.reservation },
      ivr.el("h3", { id: `${id}-title`, tabindex: "-1" }, `Call from ${offer.caller || "an unknown number"}`),
      ivr.el("p", { class: "ringing-label" }, "Ringing"),
      ivr.el("dl", { class: "offer-facts" },
        ivr.el("dt", {}, "Caller"), ivr.el("dd", { class: "caller" }, offer.caller || "unknown"),
        ivr.el("dt", {}, "Language"), ivr.el("dd", {}, offer.language || "unknown"),
        ivr.el("dt", {}, "Queue"), ivr.el("dd", {}, offer.queue || "unknown"),
        ivr.el("dt", {}, "Time to answer"),
        ivr.el("dd", {}, ivr.el("span", { class: "countdown", role: "timer", "data-expires": offer.expires }, ""))),
      section("Path through the flow", path.length
        ? ivr.el("ol", { class: "path" }, path.map((node) => ivr.el("li", {}, node)))
        : ivr.el("p", { class: "muted" }, "No steps recorded.")),
      section("What the caller said", said.length
        ? ivr.el("ul", { class: "said" }, said.map((s) => ivr.el("li", {},
            ivr.el("q", {}, s.text), " ", ivr.el("span", { class: "muted" },
              `at ${s.node}` + (s.intent ? `, understood as ${s.intent}` : "") +
              (typeof s.confidence === "number" ? `, confidence ${Math.round(s.confidence * 100)}%` : "")))))
        : ivr.el("p", { class: "muted" }, "Nothing spoken: the caller used the keypad.")),
      section("Collected data", data.length
        ? ivr.el("dl", { class: "collected" }, data.flatMap(([k, v]) => [ivr.el("dt", {}, k),
            ivr.el("dd", {}, typeof v === "object" ? JSON.stringify(v) : String(v))]))
        : ivr.el("p", { class: "muted" }, "None.")),
      ivr.el("div", { class: "offer-actions" },
        ivr.el("button", { type: "button", class: "accept", "aria-keyshortcuts": first ? "Alt+Shift+A" : null,
                           onclick: () => answer(offer, "accept") }, "Accept"),
        ivr.el("button", { type: "button", class: "secondary decline",
                           "aria-keyshortcuts": first ? "Alt+Shift+D" : null,
                           onclick: () => answer(offer, "decline") }, "Decline")));
  }

  // Alt+Shift+A / Alt+Shift+D act on the first offer from anywhere on the page (handled here rather than with
  // accesskey, whose modifiers differ between browsers and systems)
  document.addEventListener("keydown", (event) => {
    if (!event.altKey || !event.shiftKey || event.ctrlKey || event.metaKey) return;
    const action = { KeyA: "accept", KeyD: "decline" }[event.code];
    const button = action && document.querySelector(`#offers button.${action}[aria-keyshortcuts]`);
    if (button) { event.preventDefault(); button.click(); }
  });

  function renderOffers() {
    const list = $("offers");
    const fresh = state.offers.filter((o) => !state.shownOffers.has(o.reservation));
    list.replaceChildren(...state.offers.map((offer, i) => offerView(offer, i === 0)));
    $("no-offer").hidden = state.offers.length > 0;
    state.shownOffers = new Set(state.offers.map((o) => o.reservation));
    ring.set(state.offers.length > 0);
    if (fresh.length) {
      const offer = fresh[0];
      ivr.announce(`Incoming call from ${offer.caller || "an unknown number"} in queue ${offer.queue || "unknown"}. ` +
                   "Press Alt+Shift+A to accept.");
      const typing = document.activeElement && document.activeElement.matches("input, textarea, select");
      if (!typing) document.querySelector(`#offer-${CSS.escape(offer.reservation)} h3`).focus();
    }
    tick();
  }

  async function answer(offer, action) {
    for (const button of document.querySelectorAll(`#offer-${CSS.escape(offer.reservation)} button`)) {
      button.disabled = true;
    }
    try {
      await ivr.request("POST", `/api/agent/offers/${encodeURIComponent(offer.reservation)}/${action}`);
      ivr.announce(action === "accept" ? `Call from ${offer.caller || "unknown"} accepted: connecting`
                                       : "Call declined");
      fail(null);
    } catch (error) {
      fail(error);
    }
    await sync();
  }

  // -- wrap-up --------------------------------------------------------------------------------------------------
  function renderWrapUp() {
    const pending = state.me.wrap_up;
    $("wrap-up-card").hidden = !pending;
    if (!pending) { state.wrapUpSid = null; return; }
    if (state.wrapUpSid === pending.call_sid) return;  // keep what the agent is typing
    state.wrapUpSid = pending.call_sid;
    $("wrap-up-call").textContent = `Call from ${pending.caller || "an unknown number"}` +
      (pending.queue ? ` in queue ${pending.queue}` : "") + `, accepted at ${ivr.time(pending.accepted_at)}.`;
    $("disposition").replaceChildren(ivr.el("option", { value: "" }, "Choose a disposition…"),
      ...pending.dispositions.map((d) => ivr.el("option", { value: d }, d)));
    $("notes").value = "";
    $("wrap-up-error").textContent = "";
    countNotes();
    const typing = document.activeElement && document.activeElement.matches("input, textarea, select");
    if (!typing) $("wrap-up-heading").focus();
    ivr.announce("The call has ended: wrap-up. Choose a disposition and add notes.");
  }

  function countNotes() {
    $("notes-count").textContent = `${$("notes").value.length} of ${$("notes").maxLength} characters`;
  }
  $("notes").addEventListener("input", countNotes);

  $("wrap-up-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const disposition = $("disposition").value;
    if (!disposition) {
      $("wrap-up-error").textContent = "Choose a disposition.";
      $("disposition").setAttribute("aria-invalid", "true");
      $("disposition").focus();
      return;
    }
    $("disposition").removeAttribute("aria-invalid");
    try {
      await ivr.request("POST", "/api/agent/wrap-up",
                        { call_sid: state.wrapUpSid, disposition, notes: $("notes").value });
      ivr.announce(`Wrap-up saved as ${disposition}`);
      $("wrap-up-error").textContent = "";
      $("status-heading").focus();
    } catch (error) {
      $("wrap-up-error").textContent = error.message;
    }
    await sync();
  });

  // -- history --------------------------------------------------------------------------------------------------
  function renderHistory(calls) {
    $("history-rows").replaceChildren(...calls.map((call) => ivr.el("tr", {},
      ivr.el("td", {}, ivr.time(call.accepted_at)),
      ivr.el("td", {}, call.caller || "unknown"),
      ivr.el("td", {}, call.queue || "—"),
      ivr.el("td", { class: "num" }, typeof call.duration === "number" ? ivr.duration(call.duration * 1000) : "—"),
      ivr.el("td", {}, call.agent_disposition || ivr.el("span", { class: "muted" }, "not wrapped up")),
      ivr.el("td", { class: "notes" }, call.agent_notes || ""))));
    $("history-empty").hidden = calls.length > 0;
    $("history").hidden = calls.length === 0;
  }

  // -- status ---------------------------------------------------------------------------------------------------
  for (const button of root.querySelectorAll("button[data-status]")) {
    button.addEventListener("click", async () => {
      try {
        await ivr.request("POST", "/api/agent/status", { status: button.dataset.status });
        fail(null);
      } catch (error) {
        fail(error);
      }
      await sync();
    });
  }

  // -- clocks: time in status, offers' countdowns -----------------------------------------------------------------
  function tick() {
    if (!state.me) return;
    const since = sinceMs();
    $("status-time").textContent = since ? `for ${ivr.duration(serverNow() - since)}` : "";
    let expired = false;
    for (const node of root.querySelectorAll(".countdown")) {
      const left = Number(node.dataset.expires) - serverNow();
      node.textContent = left > 0 ? `${Math.ceil(left / 1000)} s` : "expired";
      node.classList.toggle("urgent", left < 5000);
      expired = expired || left <= -2000;
    }
    // the server ends an expired offer; look again (every 5 s at most) in case no event said so
    if (expired && !state.syncing && Date.now() - (state.expirySync || 0) > 5000) {
      state.expirySync = Date.now();
      sync();
    }
  }
  setInterval(tick, 1000);

  // -- live updates ---------------------------------------------------------------------------------------------
  let events = null;
  function connect() {
    events = new EventSource("/api/agent/events");
    const source = events;
    source.addEventListener("open", () => { $("connection").textContent = "Live updates: connected"; sync(); });
    source.addEventListener("error", () => {
      $("connection").textContent = "Live updates: reconnecting…";
      // refused (the server is at its stream limit, or the session ended): the browser gives up, we do not
      // meanwhile a plain read every 5 s keeps offers coming
      if (source.readyState === EventSource.CLOSED) {
        setTimeout(() => { if (events === source) { sync(); connect(); } }, 5000);
      }
    });
    for (const kind of ["offer", "offer-ended", "status", "call-ended"]) {
      source.addEventListener(kind, (event) => {
        if (kind === "offer-ended") {
          const data = JSON.parse(event.data);
          if (data.outcome === "timeout") ivr.announce("The offered call timed out and went to another agent");
          if (data.outcome === "cancelled") ivr.announce("The caller hung up");
        }
        sync();
      });
    }
  }
  connect();
  window.addEventListener("pagehide", () => events.close());
  sync();
})();
