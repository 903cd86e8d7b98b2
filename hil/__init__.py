"""Hardware in the loop: the flight software on a board, linked to the emulator."""
