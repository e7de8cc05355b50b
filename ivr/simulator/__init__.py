"""A local stand-in for Twilio: places calls against the IVR (over HTTP or in-process), signs every request,
follows the TwiML, and plays the caller from a script or the terminal."""

from ivr.simulator.agent import SimulatedAgent
from ivr.simulator.call import CallEvent, CallResult, Simulator, SimulatorError
from ivr.simulator.inputs import HANGUP, Caller, GatherInfo, InteractiveCaller, ScriptedCaller
from ivr.simulator.rest import Redirect, TwilioRestStandIn
from ivr.simulator.stream import Answer
from ivr.simulator.transcript import format_event, format_transcript
from ivr.simulator.transport import HttpResponse, HttpTransport, LoopbackServer, Transport, WsgiTransport

__all__ = ["CallEvent", "CallResult", "Simulator", "SimulatorError", "HANGUP", "Caller", "GatherInfo",
           "InteractiveCaller", "ScriptedCaller", "format_event", "format_transcript", "HttpResponse",
           "HttpTransport", "Transport", "WsgiTransport", "LoopbackServer", "Answer", "Redirect", "TwilioRestStandIn", "SimulatedAgent"]
