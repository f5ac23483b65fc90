"""The embedded Ray head: start, supervise, connect, read its status."""
