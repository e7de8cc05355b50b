"""The one protocol boundary to Twilio: the TwiML the system emits, the webhook URL layout and the REST client."""
