"""What Twilio calls: voice webhooks, callbacks, media streams and the rendered prompts ``<Play>`` fetches."""
