"""The orchestration the edges (webhooks, jobs, CLI) call: calls, queueing, publishing, prompts, wallboard, tries, lookups."""
