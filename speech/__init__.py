"""Speech: telephone audio, Twilio Media Streams messages, and (with the speech issue) Vosk recognition and
pyttsx3 prompts. No Flask, no routing: the HTTP edge feeds it frames and gets events back."""
