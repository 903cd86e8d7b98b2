"""Hardware in the loop: the flight software on a board, linked to the emulator.

The link, from the wire up (each module's docstring states its part of the wire format):

- `hil.cobs`: COBS byte stuffing, 0x00 frame delimiter.
- `hil.frame`: frames (9-octet header, payload, CRC-32/ISO-HDLC) and the resynchronizing decoder.
- `hil.messages`: message kinds and their payloads (handshake, acks, bus batches, radio, lockstep ticks).
- `hil.link`: the sans-I/O reliable endpoint (handshake, selective repeat, acks, timeouts, statistics).
- `hil.transport`: ports by pyserial URL, and the tap that records link traffic.
- `hil.pump`: the I/O loop that runs an endpoint over a port.
- `hil.relay`: a UART cable in software (pseudo-terminals, baud pacing, bit errors, drops).

Lockstep HIL, above the link:

- `hil.lockstep`: the session between host and board (message order, documents, the declared poll list).
- `hil.host`: `hil serve`, the emulator served to the board tick by tick.
- `hil.board`: the board's link-backed Bus (with RegisterBatch), Radio and Clock.
- `hil.fly`: `hil fly`, the board's loop around the flight software.

Real time and real payload:

- `hil.timesync`: the board's clock in real-time mode, synchronized to the host's simulated time (NTP-style).
- `hil.host` / `hil.fly` / `hil.board`: real-time mode's paced host loop, the board's own-clock loop, and its
  on-demand bus round trips that time out as bus faults (`RealtimeBuses`).
- `hil.real_payload`: jobs as processes on the board and its measured power (INA3221) for the host.
- `hil.burner`: the default payload process, a matrix-multiply loop.
- `hil.board_adapters`: what the board's sysfs says (Pi temperature and throttling, Jetson rails, GPU, mode).
"""
