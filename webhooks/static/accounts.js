// Accounts page: the routing agent fields show only for agent accounts, and the skills and languages only when
// a new routing agent is made. Without this script every field shows and the server ignores the ones not needed.
"use strict";
(() => {
  const role = document.getElementById("role");
  const agent = document.getElementById("agent_id");
  const agentOnly = document.querySelector("[data-agent-only]");
  const newAgentOnly = document.querySelector("[data-new-agent-only]");
  if (!role || !agent || !agentOnly || !newAgentOnly) return;
  const update = () => {
    agentOnly.hidden = role.value !== "agent";
    newAgentOnly.hidden = agent.value !== "+new";
  };
  role.addEventListener("change", update);
  agent.addEventListener("change", update);
  update();
})();
