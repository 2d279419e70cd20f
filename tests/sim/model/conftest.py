import itertools

import pytest

# mode, NAT-T, key bits, ICV bytes, ESN: the whole matrix the issue asks for
MATRIX = list(itertools.product(("tunnel", "transport"), (False, True), (128, 256), (8, 12, 16), (False, True)))


def matrix_id(case):
    mode, natt, bits, icv, esn = case
    return f"{mode}{'-natt' if natt else ''}-aes{bits}-icv{icv * 8}{'-esn' if esn else ''}"


@pytest.fixture(params=MATRIX, ids=matrix_id)
def case(request):
    return request.param
