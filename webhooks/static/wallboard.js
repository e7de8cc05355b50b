// Supervisor wallboard: live queues and agents (Server-Sent Events), times ticking between updates, and an SVG
// chart of the day's calls waiting and service level with the same figures as a table. All text goes in as text.
"use strict";
(() => {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const DAY_MS = 86400000;
  /** A stream quiet for this long is treated as lost (the server sends a snapshot at least every 5 s). */
  const STALE_MS = 15000;
  /** A stream that ended is shown as reconnecting only if it is not back within this time (it ends every 25 s). */
  const RECONNECT_GRACE_MS = 3000;

  const state = { snapshot: null, receivedAt: 0, waiting: null, history: null, live: null, graceTimer: null };
  const $ = (id) => document.getElementById(id);

  // -- helpers ---------------------------------------------------------------------------------------------------
  function svg(tag, attrs = {}, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    return node;
  }

  /** "—" for a figure that does not exist yet, read out as "none yet". */
  function none() {
    return [ivr.el("span", { "aria-hidden": "true" }, "—"), ivr.el("span", { class: "visually-hidden" }, "none yet")];
  }

  function percent(share) {
    return share === null || share === undefined ? null : `${Math.round(share * 1000) / 10}%`;
  }

  function levelClass(share) {
    if (share === null || share === undefined) return "";
    return share >= 0.8 ? "ok" : share >= 0.6 ? "warn" : "error";
  }

  function utcTime(ms, seconds = false) {
    const d = new Date(ms), two = (n) => String(n).padStart(2, "0");
    return `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}` + (seconds ? `:${two(d.getUTCSeconds())}` : "");
  }

  /** A cell whose duration keeps ticking in the browser until the next snapshot. */
  function ticking(seconds) {
    if (seconds === null || seconds === undefined) return ivr.el("td", { class: "num" }, none());
    return ivr.el("td", { class: "num", "data-tick-base": seconds }, ivr.duration(seconds * 1000));
  }

  // -- live part -------------------------------------------------------------------------------------------------
  function renderQueues(snap) {
    const rows = snap.queues.map((q) => {
      const level = percent(q.service_level);
      return ivr.el("tr", { "data-queue": q.queue },
        ivr.el("th", { scope: "row" }, q.queue),
        ivr.el("td", { class: "num wb-waiting" + (q.waiting ? " wb-busy" : "") }, q.waiting),
        q.waiting ? ticking(q.longest_wait_s) : ivr.el("td", { class: "num" }, none()),
        ivr.el("td", { class: `num ${levelClass(q.service_level)}` }, level === null ? none() : level),
        ivr.el("td", { class: "num" }, q.abandon_rate === null ? none() : percent(q.abandon_rate)),
        ivr.el("td", { class: "num" }, q.answered_today),
        ivr.el("td", { class: "num" }, q.abandoned_today),
        ivr.el("td", { class: "num" },
          q.average_speed_of_answer_s === null ? none() : ivr.duration(q.average_speed_of_answer_s * 1000)));
    });
    if (!rows.length) rows.push(ivr.el("tr", {}, ivr.el("td", { colspan: 8, class: "muted" }, "No queues are configured.")));
    $("wb-queues").tBodies[0].replaceChildren(...rows);
  }

  function renderAgents(snap) {
    const rows = snap.agents.map((a) => {
      const skills = Object.entries(a.skills).map(([skill, level]) => `${skill} ${level}`);
      if (a.languages.length) skills.push(`languages: ${a.languages.join(", ")}`);
      return ivr.el("tr", { "data-agent": a.id },
        ivr.el("th", { scope: "row" }, a.name, " ", ivr.el("span", { class: "muted" }, `(${a.id})`)),
        ivr.el("td", {}, ivr.el("span", { class: `badge ${a.status}` }, a.status)),
        ticking(a.in_status_s),
        ivr.el("td", { class: "num" }, `${a.load} of ${a.capacity}`),
        ivr.el("td", {}, skills.length ? skills.join(", ") : none()));
    });
    if (!rows.length) rows.push(ivr.el("tr", {}, ivr.el("td", { colspan: 5, class: "muted" }, "No agents are registered.")));
    $("wb-agents").tBodies[0].replaceChildren(...rows);
    const counts = Object.entries(snap.agents_by_status).sort().map(([status, n]) => `${n} ${status}`);
    $("wb-agent-counts").textContent = counts.length ? counts.join(" · ") : "";
  }

  /** Tell screen-reader users when a queue's number of waiting calls changes (not every tick). */
  function announceWaiting(snap) {
    const now = Object.fromEntries(snap.queues.map((q) => [q.queue, q.waiting]));
    if (state.waiting) {
      const changed = snap.queues.filter((q) => state.waiting[q.queue] !== q.waiting)
        .map((q) => `${q.queue}: ${q.waiting} waiting`);
      if (changed.length) ivr.announce(changed.join(", "));
    }
    state.waiting = now;
  }

  function onSnapshot(snap) {
    state.snapshot = snap;
    state.receivedAt = performance.now();
    renderQueues(snap);
    renderAgents(snap);
    announceWaiting(snap);
    $("wb-updated").textContent = ivr.time(Date.now());
    const controls = $("wb-chart-controls");
    if (snap.day !== controls.dataset.today) {  // a new day began while the page was open
      const following = $("wb-day").value === controls.dataset.today;
      controls.dataset.today = snap.day;
      $("wb-day").max = snap.day;
      if (following) { $("wb-day").value = snap.day; loadHistory(); }
    }
    fillQueueChoice();
    setConnection(true);
  }

  function tick() {
    const elapsed = Math.floor((performance.now() - state.receivedAt) / 1000);
    for (const cell of document.querySelectorAll("[data-tick-base]")) {
      cell.textContent = ivr.duration((Number(cell.dataset.tickBase) + elapsed) * 1000);
    }
    if (state.live && performance.now() - state.receivedAt > STALE_MS) setConnection(false);
  }

  function setConnection(live) {
    clearTimeout(state.graceTimer);
    state.graceTimer = null;
    if (live === state.live) return;
    state.live = live;
    const box = $("wb-connection");
    box.classList.remove("connecting");
    box.classList.toggle("live", live);
    box.classList.toggle("reconnecting", !live);
    $("wb-connection-text").textContent = live ? "Live" : "Reconnecting…";
  }

  function connect() {
    const source = new EventSource($("wb-queues").dataset.endpoint);
    source.addEventListener("snapshot", (event) => onSnapshot(JSON.parse(event.data)));
    source.addEventListener("unavailable", () => setConnection(false));
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) {  // refused (signed out?) or broken: try again ourselves
        setConnection(false);
        setTimeout(connect, 5000);
      } else if (state.live && state.graceTimer === null) {  // the browser reconnects by itself
        state.graceTimer = setTimeout(() => { state.graceTimer = null; setConnection(false); }, RECONNECT_GRACE_MS);
      }
    });
  }

  // -- chart -----------------------------------------------------------------------------------------------------
  function queueNames() {
    const names = new Set(state.snapshot ? state.snapshot.queues.map((q) => q.queue) : []);
    for (const name of state.history ? state.history.queues : []) names.add(name);
    return [...names].sort();
  }

  function fillQueueChoice() {
    const select = $("wb-queue");
    const names = queueNames();
    const current = [...select.options].map((o) => o.value);
    if (names.join("\n") === current.join("\n")) return;
    const chosen = select.value;
    select.replaceChildren(...names.map((name) => ivr.el("option", { value: name }, name)));
    if (names.includes(chosen)) select.value = chosen;
    drawChart();
  }

  async function loadHistory() {
    const controls = $("wb-chart-controls");
    const day = $("wb-day").value;
    if (!day) { $("wb-chart-message").textContent = "Choose a day to see its chart."; return; }
    try {
      state.history = await ivr.request("GET", `${controls.dataset.history}?day=${encodeURIComponent(day)}`);
      $("wb-chart-message").textContent = "";
    } catch (err) {
      $("wb-chart-message").textContent = `Could not load the chart: ${err.message}`;
      return;
    }
    fillQueueChoice();
    drawChart();
  }

  /** A round top for the waiting axis and its step: 5 with steps of 1 for small numbers, else 1/2/5 x 10^k. */
  function niceScale(max) {
    if (max <= 5) return { top: 5, step: 1 };
    const rough = max / 5, power = 10 ** Math.floor(Math.log10(rough));
    const step = [1, 2, 5, 10].map((f) => f * power).find((s) => s >= rough);
    return { top: Math.ceil(max / step) * step, step };
  }

  function drawChart() {
    const chart = $("wb-chart");
    const queue = $("wb-queue").value;
    const history = state.history;
    const day = history ? history.day : $("wb-day").value;
    if (!day) return;
    const points = !history || !queue ? [] : history.samples.filter((s) => s.queues[queue])
      .map((s) => ({ at: s.at, ...s.queues[queue] }));
    const W = 760, H = 300, m = { l: 56, r: 64, t: 16, b: 50 };
    const pw = W - m.l - m.r, ph = H - m.t - m.b;
    const start = Date.parse(`${day}T00:00:00Z`);
    const { top, step } = niceScale(Math.max(0, ...points.map((p) => p.waiting)));
    const x = (t) => m.l + ((t - start) / DAY_MS) * pw;
    const yWaiting = (v) => m.t + ph - (v / top) * ph;
    const yLevel = (v) => m.t + ph - v * ph;
    const fmt = (n) => Math.round(n * 10) / 10;

    const title = queue ? `Calls waiting and service level in queue ${queue} on ${day} (UTC)`
      : `Calls waiting and service level on ${day} (UTC)`;
    chart.replaceChildren(svg("title", { id: "wb-chart-title" }, title), svg("desc", { id: "wb-chart-desc" }, describe(points)));

    const grid = svg("g", { class: "wb-grid" });
    for (let v = 0; v <= top; v += step) {
      grid.append(svg("line", { x1: m.l, x2: W - m.r, y1: fmt(yWaiting(v)), y2: fmt(yWaiting(v)) }));
      grid.append(svg("text", { x: m.l - 8, y: fmt(yWaiting(v)) + 4, class: "wb-tick wb-left" }, v));
    }
    for (const level of [0, 0.25, 0.5, 0.75, 1]) {
      grid.append(svg("text", { x: W - m.r + 8, y: fmt(yLevel(level)) + 4, class: "wb-tick wb-right" }, `${level * 100}%`));
    }
    for (let hour = 0; hour <= 24; hour += 3) {
      const at = fmt(x(start + hour * 3600000));
      grid.append(svg("line", { x1: at, x2: at, y1: m.t + ph, y2: m.t + ph + 5 }));
      grid.append(svg("text", { x: at, y: m.t + ph + 19, class: "wb-tick wb-mid" }, `${String(hour).padStart(2, "0")}:00`));
    }
    grid.append(svg("line", { x1: m.l, x2: W - m.r, y1: m.t + ph, y2: m.t + ph, class: "wb-axis" }));
    chart.append(grid);
    chart.append(svg("text", { x: W / 2, y: H - 6, class: "wb-axis-title wb-mid" }, "Time of day (UTC)"));
    chart.append(svg("text", { x: 14, y: m.t + ph / 2, class: "wb-axis-title wb-mid", transform: `rotate(-90 14 ${m.t + ph / 2})` },
      "Calls waiting"));
    chart.append(svg("text", { x: W - 12, y: m.t + ph / 2, class: "wb-axis-title wb-mid", transform: `rotate(90 ${W - 12} ${m.t + ph / 2})` },
      "Service level"));

    if (points.length) {
      chart.append(svg("polyline", { class: "wb-line-waiting",
        points: points.map((p) => `${fmt(x(p.at))},${fmt(yWaiting(p.waiting))}`).join(" ") }));
      let run = [];
      const flush = () => { if (run.length) chart.append(svg("polyline", { class: "wb-line-sl", points: run.join(" ") })); run = []; };
      for (const p of points) {
        if (p.service_level === null) flush(); else run.push(`${fmt(x(p.at))},${fmt(yLevel(p.service_level))}`);
      }
      flush();
      if (points.length <= 120) {  // markers while they stay readable (and so a lone sample shows)
        for (const p of points) {
          chart.append(svg("circle", { class: "wb-mark-waiting", cx: fmt(x(p.at)), cy: fmt(yWaiting(p.waiting)), r: 3.5 }));
          if (p.service_level !== null) {
            const cx = fmt(x(p.at)), cy = fmt(yLevel(p.service_level));
            chart.append(svg("rect", { class: "wb-mark-sl", x: cx - 3, y: cy - 3, width: 6, height: 6 }));
          }
        }
      }
    } else {
      chart.append(svg("text", { x: m.l + pw / 2, y: m.t + ph / 2, class: "wb-empty wb-mid" }, "No samples recorded"));
    }
    fillTable(queue, day, points);
  }

  function describe(points) {
    if (!points.length) return "No samples were recorded for this queue on this day.";
    const waiting = points.map((p) => p.waiting);
    const last = points[points.length - 1];
    const level = percent(last.service_level);
    return `${points.length} samples from ${utcTime(points[0].at)} to ${utcTime(last.at)} UTC. ` +
      `Calls waiting ranged from ${Math.min(...waiting)} to ${Math.max(...waiting)}; ${last.waiting} at the last sample. ` +
      (level === null ? "No service level yet." : `Service level at the last sample: ${level}.`);
  }

  function fillTable(queue, day, points) {
    $("wb-history-caption").textContent = queue ? `Samples of queue ${queue} on ${day} (UTC)` : `Samples on ${day}`;
    const rows = points.map((p) => ivr.el("tr", {},
      ivr.el("th", { scope: "row" }, utcTime(p.at, true)),
      ivr.el("td", { class: "num" }, p.waiting),
      ivr.el("td", { class: "num" }, p.waiting ? ivr.duration(p.longest_wait_s * 1000) : none()),
      ivr.el("td", { class: "num" }, p.service_level === null ? none() : percent(p.service_level))));
    if (!rows.length) rows.push(ivr.el("tr", {}, ivr.el("td", { colspan: 4, class: "muted" }, "No samples.")));
    $("wb-history-table").tBodies[0].replaceChildren(...rows);
  }

  // -- start -----------------------------------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", () => {
    const controls = $("wb-chart-controls");
    controls.addEventListener("submit", (event) => { event.preventDefault(); loadHistory(); });
    $("wb-day").addEventListener("change", loadHistory);
    $("wb-queue").addEventListener("change", drawChart);
    connect();
    loadHistory();
    setInterval(tick, 1000);
    setInterval(() => { if ($("wb-day").value === controls.dataset.today) loadHistory(); },
      Number(controls.dataset.sampleEvery) * 1000);
  });
})();
