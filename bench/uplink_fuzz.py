"""Fuzz the whole uplink path (CLTU -> SDLS -> FARM-1 -> command dictionary -> dispatcher).

Inputs, in a seeded mix: random octets; authentic CLTUs (the right key, fresh sequence numbers);
authentic CLTUs mutated (bit flips, truncation, inserted or deleted octets); CLTUs signed with a
wrong key; and replays of earlier authentic ones. Invariant: a command executes only if the frame
carrying it was authentic and fresh: each executed command's SDLS sequence number belongs to an
authentic frame and executes once. Prints inputs per second and the rejections by reason.

    python bench/uplink_fuzz.py [--inputs 100000] [--seed 1] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flight.ccsds.farm import Farm
from flight.ccsds.keystore import parse_key_file
from flight.ccsds.sdls import Algorithm, SaParams, SdlsEndpoint, SecurityAssociation
from flight.dictionary import load_commands, load_dictionary
from flight.events import EventReporter
from flight.modes import ModeManager
from flight.params import Parameters
from flight.uplink import Uplink
from ground.command import DEFAULT_SCID, build

KEY = "11" * 32
WRONG = "22" * 32


class _Radio:
    def __init__(self) -> None:
        self.inbox: list[bytes] = []

    def receive(self) -> list[bytes]:
        out, self.inbox = self.inbox, []
        return out


class _Switches:
    def switchable(self, load: str) -> bool:
        return load in ("radio", "battery_heater", "avionics_heater", "payload")

    def set(self, load: str, on: bool) -> bool:
        return True

    def is_on(self, load: str) -> bool:
        return True


def _keys(hexkey: str) -> Any:
    return parse_key_file(f'[[key]]\nid = 1\nkey = "{hexkey}"\n')


def run(inputs: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    commands = load_commands()
    keys, wrong = _keys(KEY), _keys(WRONG)
    sa = SecurityAssociation(SaParams(1, Algorithm.HMAC_SHA256), keys, 1)
    radio = _Radio()
    sink: list[bytes] = []
    events = EventReporter(load_dictionary(), lambda apid, t, p: sink.append(p))
    uplink = Uplink(radio, commands, Farm(DEFAULT_SCID, 0), lambda apid, t, p: sink.append(p), events,
                    ModeManager(events), _Switches(), Parameters(), sdls=SdlsEndpoint(keys, [sa]))  # type: ignore[arg-type]
    authentic: set[int] = set()
    executed: set[int] = set()
    history: list[bytes] = []
    sn = 0
    violations = 0
    kinds = {"random": 0, "authentic": 0, "mutated": 0, "wrong_key": 0, "replay": 0}
    t0 = time.perf_counter()
    for i in range(inputs):
        r = rng.random()
        if r < 0.2:
            data = rng.randbytes(rng.randint(0, 300))
            kinds["random"] += 1
        elif r < 0.4 or not history:
            sn += 1
            name, args = ("ping", {}) if r < 0.3 else ("set_parameter", {"parameter": "soc_safe", "value": 0.3})
            data = build(commands, name, args, keys, sn=sn, bypass=True).cltu
            authentic.add(sn)
            history.append(data)
            kinds["authentic"] += 1
        elif r < 0.75:
            b = bytearray(rng.choice(history))
            op = rng.random()
            if op < 0.5:
                for _ in range(rng.randint(1, 8)):
                    b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
            elif op < 0.75:
                del b[rng.randrange(len(b)):]
            else:
                b.insert(rng.randrange(len(b)), rng.randrange(256))
            data = bytes(b)
            kinds["mutated"] += 1
        elif r < 0.9:
            data = build(commands, "ping", {}, wrong, sn=sn + 1 + rng.randint(0, 5), bypass=True).cltu
            kinds["wrong_key"] += 1
        else:
            data = rng.choice(history)
            kinds["replay"] += 1
        before = uplink.commands_completed + uplink.commands_failed
        radio.inbox.append(data)
        uplink.step(i * 1_000_000)
        if uplink.commands_completed + uplink.commands_failed > before:
            accepted = sa.last_rx_sn
            if accepted not in authentic or accepted in executed:
                violations += 1
            executed.add(accepted)
    wall = time.perf_counter() - t0
    return {
        "inputs": inputs,
        "seed": seed,
        "inputs_per_s": inputs / wall,
        "wall_s": wall,
        "kinds": kinds,
        "commands_executed": len(executed),
        "authentic_frames": len(authentic),
        "violations": violations,
        "rejected": {k: v for k, v in uplink.counters().items() if k.startswith("rejected_") and v},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inputs", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    out = run(args.inputs, args.seed)
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{out['inputs']:,} inputs in {out['wall_s']:.1f} s ({out['inputs_per_s']:,.0f} per s): "
              f"{out['commands_executed']:,} commands executed, all from authentic fresh frames: "
              f"{'yes' if out['violations'] == 0 else 'NO, ' + str(out['violations']) + ' violations'}")
        print("  mix: " + ", ".join(f"{k} {v:,}" for k, v in out["kinds"].items()))
        print("  rejected: " + ", ".join(f"{k[9:]} {v:,}" for k, v in out["rejected"].items()))
    return 0 if out["violations"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
