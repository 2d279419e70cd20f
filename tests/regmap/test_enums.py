"""The register map's names as Python (espline.regmap.enums): every enumeration, counter and the
magic come from espline.rdl, read independently here from the systemrdl tree."""

from systemrdl.node import FieldNode

from espline import regmap
from espline.gateware.csr.layouts import layout_of
from espline.regmap import enums


def test_every_rdl_enumeration_is_exported_with_its_values():
    top = regmap.compile().top
    rdl = {f.get_property("encode") for f in top.descendants() if isinstance(f, FieldNode)} - {None}
    exported = {name: value for name, value in vars(enums).items() if isinstance(value, type)
                and issubclass(value, enums.enum.IntEnum) and value is not enums.enum.IntEnum}
    assert len(exported) == len(rdl)
    for enc in rdl:
        python = next(e for e in exported.values() if e.__doc__ == f"espline.rdl `{enc.type_name}`")
        assert {m.name.upper(): m.value for m in enc} == {m.name: m.value for m in python}


def test_counters_and_magic_are_the_maps():
    top = regmap.compile().top
    counters = top.get_child_by_name("global_cnt")
    assert enums.COUNTERS == tuple(r.inst_name for r in counters.children())
    assert enums.MAGIC == int.from_bytes(b"ESPL", "big")


def test_encoded_fields_are_enums_in_the_gateware_layouts():
    """`layout_of` gives every encoded field the enum of its `encode` as shape (`flags.dir` a `Dir`)."""
    encoded = [f for f in regmap.compile().top.descendants() if isinstance(f, FieldNode) and f.get_property("encode")]
    assert encoded
    for f in encoded:
        shape = layout_of(f.parent)[f.inst_name].shape
        assert shape.__doc__ == f"espline.rdl `{f.get_property('encode').type_name}`", f.get_path()
