"""A readable text table of the dictionary's packets and fields (for `skyrack dict`)."""

from __future__ import annotations

from flight.dictionary.calibration import CalKind
from flight.dictionary.fields import FieldDef
from flight.dictionary.packet import VERIFICATION_SUBTYPES, PacketDef, PacketKind


def _calibration(f: FieldDef) -> str:
    cal = f.calibration
    if cal.kind == CalKind.LINEAR:
        a, b = cal.coefficients
        return f"{a:g} * raw" + (f" + {b:g}" if b else "")
    if cal.kind == CalKind.POLYNOMIAL:
        return "poly(" + ", ".join(f"{c:g}" for c in cal.coefficients) + ")"
    if cal.kind == CalKind.ENUM:
        return " ".join(f"{c}={n}" for c, n in cal.labels)
    return ""


def _limits(f: FieldDef) -> str:
    lim = f.limits
    if lim is None:
        return ""
    parts = [f"{label}{v:g}" for label, v in (("crit<", lim.critical_low), ("warn<", lim.warning_low),
                                               ("warn>", lim.warning_high), ("crit>", lim.critical_high))
             if v is not None]
    return " ".join(parts)


def render_packet(p: PacketDef) -> str:
    if p.kind == PacketKind.HOUSEKEEPING:
        what = f"housekeeping every {p.period_s:g} s, PUS 3/25"
    elif p.kind == PacketKind.VERIFICATION:
        what = f"verification, PUS 1/{p.subtype} ({VERIFICATION_SUBTYPES[p.subtype or 0]})"
    elif p.kind == PacketKind.TRANSFER:
        what = "large message part, PUS 13/2, stored and played back"
    else:
        what = f"event, PUS 5/{'/'.join(map(str, p.subtypes))} by {p.severity_field}"
    lines = [f"APID {p.apid} (0x{p.apid:03x})  {p.name}  {p.length} octets  {what}"]
    if p.description:
        lines.append(f"  {p.description}")
    rows = [("bit", "field", "type", "unit", "calibration", "limits")]
    for f, off in zip(p.fields, p.offsets, strict=True):
        rows.append((str(off), f.name, f.type_name, f.unit, _calibration(f), _limits(f)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return "\n".join(lines)


def render(packets: tuple[PacketDef, ...] | list[PacketDef]) -> str:
    return "\n\n".join(render_packet(p) for p in packets)
