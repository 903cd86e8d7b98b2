"""Skyrack flight software. It touches the world only through the interfaces
in flight.interfaces (Clock, Bus, Radio, Payload)."""
