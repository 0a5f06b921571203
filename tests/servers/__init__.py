"""Real web apps that use masivo_web the way the README shows, run by real servers in
tests/integration/test_server_shutdown.py."""
