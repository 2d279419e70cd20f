"""`python -m espline.regmap`: the C header and the Markdown register documentation.

Both come from the compiled map (PeakRDL-cheader, PeakRDL-markdown); `make regs` runs this.
"""

import argparse
import sys

from . import DEFAULTS, compile


def write_header(path, **params) -> None:
    from peakrdl_cheader.exporter import CHeaderExporter
    CHeaderExporter().export(compile(**params).top, str(path), reuse_typedefs=False)


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
