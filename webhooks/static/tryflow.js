// Try a flow: play the caller of a simulated call. Polls the try's events (any web process answers), shows what
// the caller hears, and sends keys, typed phrases, silence or a hang-up. Text is only ever set as text.
"use strict";
(() => {
  const root = document.getElementById("try");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const eventsUrl = root.dataset.eventsUrl;
  const inputUrl = root.dataset.inputUrl;
  const pad = [...document.querySelectorAll(".try-key")];
  const phrase = $("try-phrase");
  const POLL_MS = 400;
  const state = { after: 0, stepsAfter: 0, turn: null, keys: "", ended: false };

  const STATUS = {
    keys: "Your turn: press keys (dial pad or keyboard), or stay silent.",
    speech: "Your turn: type what the caller says, or press keys, or stay silent.",
    queue: "The caller is waiting in a queue. In a try no agent is offered the call.",
  };

  function line(kind, who, ...text) {
    const item = ivr.el("li", { class: `try-line try-${kind}` }, who ? [ivr.el("span", { class: "who" }, who), " "] : null,
      ...text);
    $("try-transcript").append(item);
    item.scrollIntoView({ block: "nearest" });
  }

  /** Enable what the caller can do at this turn (null: the IVR is busy, or the call ended). */
  function setTurn(turn) {
    state.turn = turn;
    const input = turn ? turn.input : "";
    const dtmf = input === "keys" || input === "speech";
    pad.forEach((b) => { b.disabled = !dtmf; });
    $("try-send-keys").disabled = !dtmf;
    $("try-silence").disabled = !dtmf;
    phrase.disabled = $("try-say").disabled = input !== "speech";
    $("try-agent").hidden = input !== "queue";
    $("try-hangup").disabled = state.ended;
    if (state.ended) return;
    let status = STATUS[input] || "The IVR is answering…";
    if (input === "speech" && turn.model === false) {
      status += ` (No ${turn.language} speech model is installed: real callers can only press keys here.)`;
    }
    $("try-status").textContent = status;  // focus stays where it is: typed digits still go to the dial pad
  }

  function showKeys() { $("try-keys").textContent = state.keys; }

  async function send(body) {
    $("try-error").textContent = "";
    try {
      await ivr.request("POST", inputUrl, body);
      return true;
    } catch (error) {
      $("try-error").textContent = error.message;
      return false;
    }
  }

  async function sendKeys() {
    if (!state.turn || !state.keys) return;
    const keys = state.keys;
    state.keys = "";
    showKeys();
    setTurn(null);
    await send({ kind: "keys", keys });
  }

  /** A key pressed: sent when the prompt has all it takes (its digit count, or its finish key). */
  function press(key) {
    if (!state.turn || !["keys", "speech"].includes(state.turn.input)) return;
    state.keys += key;
    showKeys();
    const wanted = state.turn.num_digits;
    const finish = state.turn.finish_on_key;
    if ((finish && key === finish) || (wanted && state.keys.length >= wanted)) sendKeys();
  }

  function details(step) {
    const skip = new Set(["flow", "node", "kind", "outcome", "at", "prompt"]);
    return Object.entries(step).filter(([k]) => !skip.has(k))
      .map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join("; ");
  }

  function addStep(step) {
    $("try-steps").tBodies[0].append(ivr.el("tr", {},
      ivr.el("td", {}, step.flow || ""), ivr.el("td", {}, step.node || ""), ivr.el("td", {}, step.kind || ""),
      ivr.el("td", {}, step.outcome || ""), ivr.el("td", {}, details(step))));
  }

  function apply(event) {
    switch (event.kind) {
      case "started": line("note", "", `Call placed from ${event.caller} to ${event.called}.`); break;
      case "say": line("ivr", "IVR:", event.text); break;
      case "play": line("ivr", "IVR plays:", event.url); break;
      case "hold": line("hold", "On hold:", event.text); break;
      case "waiting": setTurn(event); break;
      case "caller":
        if (event.phrase !== undefined) line("caller", "Caller says:", `“${event.phrase}”`);
        else if (event.keys) line("caller", "Caller presses:", event.keys);
        else line("caller", "Caller:", "(silence)");
        setTurn(null);
        break;
      case "queued":
        line("note", "", `→ Queued in “${event.queue}”. In a try no agent is offered the call: ` +
          "choose “An agent answers” or hang up.");
        break;
      case "agent-answered": line("note", "", "→ An agent answers (simulated)."); setTurn(null); break;
      case "transfer": line("note", "", `→ Transferred to ${event.target} (a try counts it as answered).`); break;
      case "voicemail": line("note", "", `→ Voicemail recorded (${event.duration} s, simulated).`); break;
      case "ivr-hangup": line("note", "", "→ The IVR hung up."); break;
      case "caller-hangup": line("note", "", "→ The caller hung up."); break;
      case "error": line("error", "Problem:", event.message); break;
      case "ended": {
        state.ended = true;
        setTurn(null);
        const why = event.reason ? ` (${event.reason})` : "";
        $("try-status").textContent = `The call ended: ${event.outcome}${why}.`;
        line("note", "", `The call ended: ${event.outcome}${why}.`);
        ivr.announce("The call ended.");
        break;
      }
      default: break;
    }
  }

  async function poll() {
    try {
      const data = await ivr.request("GET", `${eventsUrl}?after=${state.after}&steps_after=${state.stepsAfter}`);
      state.after = data.next;
      state.stepsAfter = data.steps_next;
      data.steps.forEach(addStep);
      data.events.forEach(apply);
      if (data.state === "ended" && !state.ended) apply({ kind: "ended", outcome: "ended" });
    } catch (error) {
      $("try-error").textContent = error.message;
    }
    if (!state.ended) setTimeout(poll, POLL_MS);
  }

  pad.forEach((button) => button.addEventListener("click", () => press(button.dataset.key)));
  $("try-send-keys").addEventListener("click", sendKeys);
  $("try-silence").addEventListener("click", async () => {
    state.keys = "";
    showKeys();
    setTurn(null);
    await send({ kind: "silence" });
  });
  $("try-agent").addEventListener("click", () => { setTurn(null); send({ kind: "agent" }); });
  $("try-hangup").addEventListener("click", () => send({ kind: "hangup" }));
  $("try-say-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = phrase.value.trim();
    if (!text || !state.turn || state.turn.input !== "speech") return;
    phrase.value = "";
    setTurn(null);
    await send({ kind: "say", text });
  });
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || !"0123456789*#".includes(e.key) || e.key.length !== 1) return;
    if (e.target instanceof HTMLElement && e.target.closest("input, textarea, select")) return;
    const button = pad.find((b) => b.dataset.key === e.key);
    if (!button || button.disabled) return;
    e.preventDefault();
    button.classList.add("pressed");
    setTimeout(() => button.classList.remove("pressed"), 150);
    press(e.key);
  });
  poll();
})();
