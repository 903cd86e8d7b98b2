"""Ground tools: telemetry decoding, dictionary export, command building."""
