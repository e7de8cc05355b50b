"""Running the system on one machine: the project's own Redis and the IVR server and workers as processes."""
