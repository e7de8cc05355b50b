// Flows console: the YAML editor (line gutter, Tab, checks, review & publish) and the diagram's node finder.
// Caller and flow text only ever reaches the page as text (textContent / ivr.el), never as HTML.
"use strict";

const flowsEditor = {
  form: null, source: null, gutter: null, list: null, summary: null,
  errorLines: new Set(), checkSeq: 0, timer: null, tabLeaves: false, deleting: false,
  PAUSE_MS: 700,

  init(form) {
    this.form = form;
    this.source = document.getElementById("flow-source");
    this.gutter = document.getElementById("flow-gutter");
    this.list = document.getElementById("diagnostics");
    this.summary = document.getElementById("check-summary");
    this.fileInput = document.getElementById("flow-file");
    this.base = Number(form.dataset.base);
    this.source.addEventListener("input", () => { this.renderGutter(); this.scheduleCheck(); });
    this.source.addEventListener("scroll", () => this.syncScroll());
    this.source.addEventListener("keydown", (event) => this.onKey(event));
    this.fileInput.addEventListener("input", () => this.scheduleCheck());
    document.getElementById("check-button").addEventListener("click", () => this.check());
    document.getElementById("review-button").addEventListener("click", () => { this.deleting = false; this.review(); });
    document.getElementById("delete-button")?.addEventListener("click", () => { this.deleting = true; this.review(); });
    document.getElementById("publish-button").addEventListener("click", () => this.publish());
    document.getElementById("review-cancel").addEventListener("click", () => this.closeReview());
    form.addEventListener("submit", (event) => {  // only "Try this draft" submits the form (a real POST)
      if (!event.submitter || event.submitter.id !== "try-button") event.preventDefault();
    });
    this.renderGutter();
    const line = Number(form.dataset.line);
    if (line > 0) this.jumpTo(line);
    if (form.dataset.new !== "true") this.check();
  },

  /** The draft as the endpoints take it: this file's text, or its deletion. */
  draft() {
    const file = this.fileInput.value.trim();
    return this.deleting ? { base: this.base, file, delete: true }
                         : { base: this.base, file, source: this.source.value };
  },

  lineCount() { return this.source.value.split("\n").length; },

  renderGutter() {
    const rows = [];
    for (let n = 1; n <= this.lineCount(); n++) {
      const bad = this.errorLines.has(n);
      // the marker is a character, not only a colour
      rows.push(ivr.el("div", { class: bad ? "gutter-line has-error" : "gutter-line", "data-line": n },
                       bad ? `! ${n}` : String(n)));
    }
    this.gutter.replaceChildren(...rows);
    this.syncScroll();
  },

  syncScroll() { this.gutter.scrollTop = this.source.scrollTop; },

  onKey(event) {
    if (event.key === "Escape") { this.tabLeaves = true; return; }
    if (event.key !== "Tab" || event.ctrlKey || event.altKey || event.metaKey) { this.tabLeaves = false; return; }
    if (this.tabLeaves || event.shiftKey) { this.tabLeaves = false; return; }  // leave the editor as usual
    event.preventDefault();
    const { selectionStart: start, selectionEnd: end } = this.source;
    // setRangeText keeps the textarea's own undo history working in Chromium; an input event follows
    this.source.setRangeText("  ", start, end, "end");
    this.source.dispatchEvent(new Event("input", { bubbles: true }));
  },

  /** Put the cursor at the start of line ``n`` and scroll it into view. */
  jumpTo(n) {
    const lines = this.source.value.split("\n");
    const target = Math.min(Math.max(1, n), lines.length);
    let offset = 0;
    for (let i = 0; i < target - 1; i++) offset += lines[i].length + 1;
    this.source.focus();
    this.source.setSelectionRange(offset, offset);
    const lineHeight = parseFloat(getComputedStyle(this.source).lineHeight) || 20;
    this.source.scrollTop = Math.max(0, (target - 1) * lineHeight - this.source.clientHeight / 3);
    this.syncScroll();
  },

  scheduleCheck() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.check(), this.PAUSE_MS);
  },

  async check() {
    clearTimeout(this.timer);
    const seq = ++this.checkSeq;
    if (!this.draft().file) { this.showMessage("Give the file a name to check it."); return null; }
    this.summary.textContent = "Checking…";
    try {
      const result = await ivr.request("POST", this.form.dataset.checkUrl, this.draft());
      if (seq !== this.checkSeq) return null;  // an older answer arriving after a newer request
      this.showDiagnostics(result);
      return result;
    } catch (error) {
      if (seq === this.checkSeq) this.showMessage(`Could not check: ${error.message}`);
      return null;
    }
  },

  showMessage(text) {
    this.summary.textContent = text;
    this.list.replaceChildren();
  },

  showDiagnostics(result) {
    const file = result.file;
    const mine = result.diagnostics.filter((d) => d.file === file);
    this.errorLines = new Set(mine.filter((d) => d.severity === "error").map((d) => d.line));
    const warnings = result.diagnostics.length - result.errors;
    let text = result.errors ? `${result.errors} error${result.errors === 1 ? "" : "s"}` : "No errors";
    if (warnings) text += `, ${warnings} warning${warnings === 1 ? "" : "s"}`;
    text += result.errors ? ": the draft cannot be published yet." : ".";
    if (result.live_version !== null && result.live_version !== this.base) {
      text += ` Note: version ${result.live_version} went live after v${this.base}, which this edit is based on.`;
    }
    this.summary.textContent = text;
    this.summary.className = result.errors ? "error" : "ok";
    this.list.replaceChildren(...result.diagnostics.map((d) => this.diagnosticItem(d, file)));
    if (result.errors && this.errorLines.size) this.source.setAttribute("aria-invalid", "true");
    else this.source.removeAttribute("aria-invalid");
    this.source.setAttribute("aria-describedby",
      "flow-source-hint check-summary" + (result.diagnostics.length ? " diagnostics" : ""));
    this.renderGutter();
  },

  diagnosticItem(d, file) {
    const prefix = d.severity === "error" ? "" : `${d.severity}: `;
    const where = d.path ? `line ${d.line}: ${d.path}: ` : `line ${d.line}: `;
    const text = `${prefix}${where}${d.message}`;
    const cls = `diagnostic ${d.severity}`;
    if (d.file !== file) return ivr.el("li", { class: cls }, ivr.el("code", {}, d.file), " ", text);
    // a real button: click, Enter or Space jumps to the line
    return ivr.el("li", { class: cls },
      ivr.el("button", { type: "button", class: "link", onclick: () => this.jumpTo(d.line) }, text));
  },

  async review() {
    const status = document.getElementById("publish-status");
    status.textContent = "";
    let result;
    try {
      result = await ivr.request("POST", this.form.dataset.reviewUrl, this.draft());
    } catch (error) {
      this.showMessage(error.message);
      ivr.announce(error.message);
      return;
    }
    this.showDiagnostics(result);
    if (result.errors) {
      if (this.deleting) this.summary.textContent = `Deleting ${result.file} would leave errors: ` +
        "other files still need it (see below).";
      this.deleting = false;
      ivr.announce("The draft has errors: fix them before publishing.");
      this.list.querySelector("button")?.focus();
      return;
    }
    if (!result.diff.length) {
      this.summary.textContent = `Nothing to publish: the draft is the same as live version v${result.live_version}.`;
      return;
    }
    document.getElementById("review-live").textContent = result.live_version;
    document.getElementById("review-heading").textContent =
      this.deleting ? `Review & publish: delete ${result.file}` : "Review & publish";
    document.getElementById("diff").replaceChildren(...result.diff.map((f) => this.fileDiff(f)));
    const section = document.getElementById("review");
    section.hidden = false;
    document.getElementById("review-heading").focus();
  },

  fileDiff(change) {
    const lines = change.lines.map((l) => ivr.el("span", { class: `diff-${l.kind}` }, l.text + "\n"));
    return ivr.el("section", { class: "diff-file", "aria-label": `Changes to ${change.file}` },
      ivr.el("h3", {}, ivr.el("code", {}, change.file), " ",
        ivr.el("span", { class: "muted" },
          `(${change.status}: ${change.added} line${change.added === 1 ? "" : "s"} added, ${change.removed} removed)`)),
      ivr.el("pre", { class: "diff" }, lines));
  },

  closeReview() {
    this.deleting = false;
    document.getElementById("review").hidden = true;
    this.source.focus();
  },

  async publish() {
    const status = document.getElementById("publish-status");
    const button = document.getElementById("publish-button");
    button.disabled = true;
    status.className = "";
    status.textContent = "Publishing…";
    try {
      const body = { ...this.draft(), message: document.getElementById("publish-message").value };
      const result = await ivr.request("POST", this.form.dataset.publishUrl, body);
      status.textContent = `Version ${result.version} is live.`;
      window.location.assign(result.next);
    } catch (error) {
      status.className = "error";
      status.textContent = `Not published: ${error.message}`;
      button.disabled = false;
      this.check();
    }
  },
};

const flowsDiagram = {
  init(figure) {
    this.figure = figure;
    const entry = document.getElementById(`flow-node-${figure.dataset.start}`);
    if (entry) {  // open on the entry node (a wide flow may have it far from the left edge)
      const box = entry.getBoundingClientRect(), frame = figure.getBoundingClientRect();
      figure.scrollLeft += box.left + box.width / 2 - (frame.left + frame.width / 2);
    }
    const finder = document.getElementById("node-finder");
    finder.addEventListener("submit", (event) => {
      event.preventDefault();
      this.show(document.getElementById("node-find").value.trim());
    });
    const fit = document.getElementById("fit-toggle");
    fit.addEventListener("click", () => {  // the whole graph in the window, or drawn at its own size
      const on = fit.getAttribute("aria-pressed") !== "true";
      fit.setAttribute("aria-pressed", String(on));
      figure.classList.toggle("fit", on);
    });
    for (const button of document.querySelectorAll("button.show-node")) {
      button.addEventListener("click", () => this.show(button.dataset.node));
    }
  },

  /** Scroll the diagram to a node, outline it, and focus its link (when it has one). */
  show(name) {
    const result = document.getElementById("node-find-result");
    const node = name ? document.getElementById(`flow-node-${name}`) : null;
    for (const old of this.figure.querySelectorAll(".node.found")) old.classList.remove("found");
    if (!node) { result.textContent = name ? `No node '${name}' in this flow.` : "Type a node name."; return; }
    node.classList.add("found");
    node.scrollIntoView({ block: "center", inline: "center" });
    const link = node.querySelector("a");
    if (link) link.focus(); else this.figure.focus();
    result.textContent = `Showing node ${name}.`;
  },
};

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("flow-editor");
  if (form) flowsEditor.init(form);
  const figure = document.getElementById("diagram");
  if (figure) flowsDiagram.init(figure);
});
