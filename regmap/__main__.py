"""`python -m espline.regmap`: the C header and the Markdown register documentation.

Both come from the compiled map (PeakRDL-cheader, PeakRDL-markdown), each with what its tool
leaves out added here: the enumerations; `make regs` runs this.
"""

import argparse
import sys
from pathlib import Path

from . import DEFAULTS, compile


def write_header(path, **params) -> None:
    """PeakRDL-cheader's header, with the map's enumerations (which it leaves out) before its end."""
    from peakrdl_cheader.exporter import CHeaderExporter
    regmap = compile(**params)
    CHeaderExporter().export(regmap.top, str(path), reuse_typedefs=False)
    text = Path(path).read_text()
    end = text.rindex(HEADER_END)
    Path(path).write_text(text[:end] + c_enums(regmap) + text[end:])


#: How PeakRDL-cheader closes the header's `extern "C"` block.
HEADER_END = "\n#ifdef __cplusplus\n}\n#endif\n"


def c_enums(regmap) -> str:
    """Every `enum x_e` of the map as a C enum `<top>__x_e_t` with constants `<TOP>__X__<MEMBER>`
    (e.g. ESPLINE__CMD_OP__COMMIT), named like PeakRDL-cheader's field macros."""
    top = regmap.top.inst_name
    encodings = {f.encode.type_name: f.encode for r in regmap.registers for f in r.fields if f.encode}
    lines = []
    for type_name, encode in encodings.items():
        prefix = f"{top}__{type_name.removesuffix('_e')}".upper()
        lines += ["", f"// enum - {top}.rdl {type_name}", "typedef enum {"]
        for member in encode:
            comment = f" // {' '.join(member.rdl_desc.split())}" if member.rdl_desc else ""
            lines.append(f"    {prefix}__{member.name.upper()} = {member.value},{comment}")
        lines.append(f"}} {top}__{type_name}_t;")
    return "\n".join(lines) + "\n"


def write_markdown(path, **params) -> None:
    """PeakRDL-markdown's pages, then a table of every encoded field's values (which it leaves out)."""
    from peakrdl_markdown import MarkdownExporter
    regmap = compile(**params)
    MarkdownExporter().export(regmap.top, str(path))
    lines = ["", "## Field encodings", "", "|Register|Field|Value|Name|Meaning|", "|---|---|---|---|---|"]
    for reg in regmap.registers:
        for f in reg.fields:
            for member in f.encode or ():
                lines.append(f"|{reg.name}|{f.name}|{member.value}|{member.name}|{member.rdl_desc or ''}|")
    with open(path, "a") as out:
        out.write("\n".join(lines) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m espline.regmap", description=__doc__.splitlines()[0])
    parser.add_argument("--header", metavar="FILE.h", help="write the C header here")
    parser.add_argument("--markdown", metavar="FILE.md", help="write the register documentation here")
    for name, default in DEFAULTS.items():
        parser.add_argument(f"--{name.lower().replace('_', '-')}", dest=name, type=int, default=default,
                            help=f"build parameter {name} (default {default})")
    args = parser.parse_args(argv)
    params = {name: getattr(args, name) for name in DEFAULTS}
    if args.header:
        write_header(args.header, **params)
    if args.markdown:
        write_markdown(args.markdown, **params)
    return 0


if __name__ == "__main__":
    sys.exit(main())
