// Shared helpers of the console pages: JSON requests carrying the CSRF token, live announcements, times.
"use strict";
const ivr = {
  csrf() { return document.querySelector('meta[name="csrf-token"]').content; },

  /** fetch() for the console's JSON endpoints: same-origin cookies, CSRF header, errors thrown with the
   *  server's message. */
  async request(method, url, body) {
    const options = { method, credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    if (method !== "GET") options.headers["X-CSRFToken"] = ivr.csrf();
    const response = await fetch(url, options);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || `${response.status} ${response.statusText}`);
    return data;
  },

  /** Tell screen-reader users what just changed. */
  announce(text) {
    const region = document.getElementById("live-status");
    if (region) { region.textContent = ""; setTimeout(() => { region.textContent = text; }, 50); }
  },

  /** "4m 05s" from milliseconds. */
  duration(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    return h ? `${h}h ${String(m).padStart(2, "0")}m` : `${m}m ${String(sec).padStart(2, "0")}s`;
  },

  /** Local clock time of an epoch in seconds or milliseconds. */
  time(epoch) {
    const ms = epoch > 1e12 ? epoch : epoch * 1000;
    return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  },

  /** Create an element: ivr.el("td", {class: "num"}, "12"). Text is always set as text, never as HTML. */
  el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) node.addEventListener(k.slice(2), v); else node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  },
};
