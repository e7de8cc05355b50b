"""Speech: telephone audio, Twilio Media Streams messages, Vosk recognition, and prompts rendered with pyttsx3
and cached in Redis. No Flask, no routing, no flow knowledge: the HTTP edge feeds it frames and text and gets
events and audio back."""
