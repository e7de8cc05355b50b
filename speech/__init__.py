"""Speech (Vosk recognition, audio, pyttsx3 prompts). Arrives with the speech issue; until then menus carry their
spoken phrases in the flow language and every prompt is answered by keys."""
