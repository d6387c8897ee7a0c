"""Transcription on a real local Ray gives what one process gives (marker `ray`)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from shugu.errors import UnavailableError
from shugu.pep.batch import encrypt_batch
from shugu.pep.distributed import Transcryptor
from shugu.pep.group import GroupElement
from shugu.pep.keys import make_global_keys
from shugu.pep.parallel import transcrypt_on_ray

pytestmark = pytest.mark.ray

MOVE = {"domain_from": "holder-a", "domain_to": "job-7", "session_from": None, "session_to": None}


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    import ray

    # Under `uv run`, Ray would re-launch its workers through uv; the venv is already complete.
    os.environ["RAY_ENABLE_UV_RUN_RUNTIME_ENV"] = "0"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_without_a_running_ray_it_says_so() -> None:
    import ray

    assert not ray.is_initialized()
    batch = encrypt_batch([GroupElement.random()], make_global_keys().public)
    with pytest.raises(UnavailableError, match=r"ray\.init"):
        transcrypt_on_ray(batch, Transcryptor.generate("custodian"), **MOVE)  # type: ignore[arg-type]


def test_ray_equals_one_process(local_ray: None) -> None:
    keys = make_global_keys()
    batch = encrypt_batch([GroupElement.random() for _ in range(500)], keys.public)
    custodian = Transcryptor.generate("custodian")
    one = custodian.transcrypt(batch, shuffle=False, **MOVE)  # type: ignore[arg-type]
    on_ray = transcrypt_on_ray(batch, custodian, shuffle=False, chunk=100, **MOVE)  # type: ignore[arg-type]
    assert on_ray.ciphertexts == one.ciphertexts
    assert on_ray.public_key == one.public_key
    assert on_ray.route == ("custodian",)
    shuffled = transcrypt_on_ray(batch, custodian, chunk=64, **MOVE)  # type: ignore[arg-type]
    assert sorted(
        shuffled.ciphertexts[i : i + 64] for i in range(0, len(shuffled.ciphertexts), 64)
    ) == sorted(one.ciphertexts[i : i + 64] for i in range(0, len(one.ciphertexts), 64))
