"""The files derived from the register map: the C header compiles, docs/registers.md is current."""

import shutil
import subprocess
from pathlib import Path

import pytest
from systemrdl.node import FieldNode

from espline import regmap
from espline.regmap.__main__ import write_header, write_markdown

REPO = Path(__file__).resolve().parents[2]

# Addresses as docs/registers.md states them (byte offsets).
C_PROGRAM = """\
#include <stddef.h>
#include "espline.h"
_Static_assert(offsetof(espline_t, id) == 0x000, "id");
_Static_assert(offsetof(espline_t, sa_stage.key[3]) == 0x144, "key[3]");
_Static_assert(offsetof(espline_t, sa_cmd) == 0x180, "sa_cmd");
_Static_assert(offsetof(espline_t, global_cnt.drop_too_big) == 0x478, "drop_too_big");
_Static_assert(offsetof(espline_t, int_enable) == 0x50c, "int_enable");
_Static_assert(ESPLINE__SA_STAGE__FLAGS__ICV_LEN_bp == 16, "icv_len");
unsigned sa_cmd_commit(volatile espline_t *dev, unsigned index) {
    dev->sa_cmd = (index << ESPLINE__SA_CMD__INDEX_bp) | ESPLINE__CMD_OP__COMMIT;
    return dev->sa_status & ESPLINE__SA_STATUS__BUSY_bm;
}
"""


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_c_header_compiles(tmp_path):
    """The header compiles with a program using it, and carries every enumeration of the map (which
    PeakRDL-cheader leaves out) with its values, as `ESPLINE__<ENUM>__<MEMBER>` of type `espline__<enum>_t`."""
    write_header(tmp_path / "espline.h")
    encodings = {f.get_property("encode") for f in regmap.compile().top.descendants() if isinstance(f, FieldNode)}
    checks = [f"_Static_assert(ESPLINE__{enc.type_name.removesuffix('_e').upper()}__{m.name.upper()} == {m.value} "
              f"&& sizeof(espline__{enc.type_name}_t), \"{m.name}\");" for enc in encodings - {None} for m in enc]
    assert checks
    (tmp_path / "use.c").write_text(C_PROGRAM + "\n".join(checks) + "\n")
    subprocess.run(["gcc", "-std=c11", "-Wall", "-Werror", "-c", "use.c", "-o", "use.o"], cwd=tmp_path, check=True)


def test_register_docs_are_current(tmp_path):
    write_markdown(tmp_path / "registers.md")
    assert (tmp_path / "registers.md").read_text() == (REPO / "docs" / "registers.md").read_text(), \
        "docs/registers.md is stale: run `make regs`"
