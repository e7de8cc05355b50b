// Call history pages: dates and times are shown in the browser's timezone, which the server learns from the
// 'tz' query parameter. A page opened without it is reloaded once with it; the search form carries it on.
"use strict";
(() => {
  let zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
  if (!zone) return;
  for (const input of document.querySelectorAll("input[data-browser-timezone]")) {
    if (!input.value) input.value = zone;
  }
  const url = new URL(window.location.href);
  if (!url.searchParams.get("tz")) {
    url.searchParams.set("tz", zone);
    window.location.replace(url.toString());
  }
})();
