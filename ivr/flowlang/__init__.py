"""The flow language: YAML source with line marks, schema, model, checking, templating, conditions, schedules, diagrams, edits and scenario tests."""
