"""The target description gdb reads (``qXfer:features:read:target.xml``): the registers in the
order ``g`` sends them, grouped in gdb's i386 features, with the types they need."""

from __future__ import annotations

from xml.sax.saxutils import escape

_EFLAGS = ["CF", "", "PF", "AF", "ZF", "SF", "TF", "IF", "DF", "OF", "", "", "", "", "NT", "",
           "RF", "VM", "AC", "VIF", "VIP", "ID"]
_MXCSR = ["IE", "DE", "ZE", "OE", "UE", "PE", "DAZ", "IM", "DM", "ZM", "OM", "UM", "PM", "FZ"]

_TYPES = {
    "i386_eflags": "<flags id=\"i386_eflags\" size=\"4\">" + "".join(
        f"<field name=\"{name}\" start=\"{bit}\" end=\"{bit}\"/>"
        for bit, name in enumerate(_EFLAGS) if name) + "</flags>",
    "i386_mxcsr": "<flags id=\"i386_mxcsr\" size=\"4\">" + "".join(
        f"<field name=\"{name}\" start=\"{bit}\" end=\"{bit}\"/>"
        for bit, name in enumerate(_MXCSR)) + "</flags>",
    "vec128": ("<vector id=\"v4f\" type=\"ieee_single\" count=\"4\"/>"
               "<vector id=\"v2d\" type=\"ieee_double\" count=\"2\"/>"
               "<vector id=\"v16i8\" type=\"int8\" count=\"16\"/>"
               "<vector id=\"v8i16\" type=\"int16\" count=\"8\"/>"
               "<vector id=\"v4i32\" type=\"int32\" count=\"4\"/>"
               "<vector id=\"v2i64\" type=\"int64\" count=\"2\"/>"
               "<union id=\"vec128\"><field name=\"v4_float\" type=\"v4f\"/>"
               "<field name=\"v2_double\" type=\"v2d\"/><field name=\"v16_int8\" type=\"v16i8\"/>"
               "<field name=\"v8_int16\" type=\"v8i16\"/><field name=\"v4_int32\" type=\"v4i32\"/>"
               "<field name=\"v2_int64\" type=\"v2i64\"/>"
               "<field name=\"uint128\" type=\"uint128\"/></union>"),
}
_GROUPS = {"org.gnu.gdb.i386.sse": "vector", "org.zeros.paging": "system"}


def target_xml(registers: list[tuple], long_mode: bool) -> str:
    """``registers``: (name, bits, id, feature, type) in ``g`` order (emu.cpu.debug)."""
    features: dict[str, list[str]] = {}
    for number, (name, bits, _id, feature, kind) in enumerate(registers):
        lines = features.setdefault(feature, [])
        if kind in _TYPES and not any(f"id=\"{kind}\"" in line for line in lines):
            lines.append(_TYPES[kind])
        group = _GROUPS.get(feature)
        if name.startswith("f") and name[1:] in ("ctrl", "stat", "tag", "iseg", "ioff",
                                                 "oseg", "ooff", "op"):
            group = "float"
        extra = f" group=\"{group}\"" if group else ""
        lines.append(f"<reg name=\"{escape(name)}\" bitsize=\"{bits}\" type=\"{kind}\" "
                     f"regnum=\"{number}\"{extra}/>")
    body = "".join(f"<feature name=\"{name}\">{''.join(lines)}</feature>"
                   for name, lines in features.items())
    arch = "i386:x86-64" if long_mode else "i386"
    return ("<?xml version=\"1.0\"?><!DOCTYPE target SYSTEM \"gdb-target.dtd\">"
            f"<target version=\"1.0\"><architecture>{arch}</architecture>"
            f"<osabi>GNU/Linux</osabi>{body}</target>")
