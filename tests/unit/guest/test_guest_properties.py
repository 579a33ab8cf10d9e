"""Property tests: any BMP value up to 3000 UTF-16 units survives build → independent decrypt → reassembly."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.guest import names
from functions.guest.kvp import build_host_items, split_chunks

from ._support import decrypt_all, fixed_private_key, linux_key_b64, reference_checksum

PRIVATE = fixed_private_key()
PUBLIC_B64 = linux_key_b64(PRIVATE.public_key())

# BMP characters without surrogates and NUL (both refused by design)
BMP = st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs",), exclude_characters="\x00")


def publishable(value: str) -> bool:
    stripped = value.rstrip("\r\n")
    if not stripped.strip():
        return False
    # a line feed closing a non-final chunk is refused (the Linux agent would drop it)
    return all(stripped[end - 1] != "\n" for end in range(100, len(stripped), 100))


VALUE = st.text(BMP, min_size=1, max_size=3000).filter(publishable)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(value=VALUE)
def test_single_value_round_trip(value: str) -> None:
    items = build_host_items(PUBLIC_B64, {"ansible_ssh_key": value})
    expected = value.rstrip("\r\n")
    assert decrypt_all(PRIVATE, items) == {"ansible_ssh_key": expected}
    assert items[names.CHECKSUM_KEY] == reference_checksum({"ansible_ssh_key": expected})
    chunk_count = sum(1 for name in items if name.startswith("hlvmm.data.ansible_ssh_key._"))
    assert chunk_count == (0 if len(expected) <= 100 else -(-len(expected) // 100))
    assert chunk_count <= 30


@SETTINGS
@given(
    values=st.dictionaries(st.sampled_from(sorted(names.DATA_KEYS)), st.text(BMP, max_size=400), max_size=15)
)
def test_many_values_round_trip(values: dict[str, str]) -> None:
    values = {key: value for key, value in values.items() if publishable(value) or not value.strip()}
    items = build_host_items(PUBLIC_B64, values)
    expected = {key: value.rstrip("\r\n") for key, value in values.items() if value.strip()}
    assert decrypt_all(PRIVATE, items) == expected
    assert items[names.CHECKSUM_KEY] == reference_checksum(expected)


@settings(max_examples=200, deadline=None)
@given(value=st.text(BMP, max_size=3000))
def test_split_chunks_concatenates_back(value: str) -> None:
    chunks = split_chunks(value)
    assert "".join(chunks) == value
    assert all(len(chunk) <= 100 for chunk in chunks)
    assert len(chunks) == max(1, -(-len(value) // 100))
