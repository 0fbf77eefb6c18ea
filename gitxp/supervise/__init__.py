"""Running a user's program under a recorder: the launch, output capture, signal forwarding."""
