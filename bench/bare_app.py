"""Baseline for bench/webhooks.py: the least a Flask webhook can do — answer TwiML built with VoiceResponse."""

from flask import Flask, Response, request
from twilio.twiml.voice_response import Gather, VoiceResponse

app = Flask(__name__)
_SEQ = {"n": 0}


@app.post("/twilio/<path:_any>")
def answer(_any: str) -> Response:
    _SEQ["n"] += 1
    response = VoiceResponse()
    gather = Gather(action=f"{request.host_url}twilio/continue?seq={_SEQ['n']}&on=gather", num_digits=1,
                    finish_on_key="", timeout=6)
    gather.say("For your account balance, press 1. For our opening hours, press 3.", voice="Polly.Joanna",
               language="en-US")
    response.append(gather)
    response.redirect(f"{request.host_url}twilio/continue?seq={_SEQ['n']}&on=noinput", method="POST")
    return Response(str(response), mimetype="text/xml")
