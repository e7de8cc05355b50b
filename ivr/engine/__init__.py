"""The pure step function: a call's state, the events that happen to it and the instructions it answers with."""
