"""The operator's grants: submitters and key receivers disjoint per domain across all grants,
checked when the file is read and again on every request; old, wildcard and id forms refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shugu.errors import InvalidInputError
from shugu.pep.policy import (
    GrantListPolicy,
    LinkAction,
    LinkDecision,
    LinkGrant,
    LinkRequest,
    load_grants,
)

SUBMIT, KEY = LinkAction.SUBMIT, LinkAction.RECEIVE_KEY
STUDY = {
    "job": "study-1",
    "domains": ["study-1", "hospital-a"],
    "submitters": ["hospital-a", "pharmacy-b"],
    "key_receivers": ["runner"],
}
OTHER = {"job": "study-2", "domains": ["study-2"], "submitters": ["runner"], "key_receivers": []}


def _write(tmp_path: Path, grants: Any) -> Path:
    path = tmp_path / "pep-links.json"
    path.write_text(json.dumps(grants if isinstance(grants, dict) else {"grants": grants}))
    return path


def _ask(
    policy: GrantListPolicy, name: str, job: str, action: LinkAction, *domains: str
) -> LinkDecision:
    return policy.decide(LinkRequest(f"01{name.upper()}", name, job, action, frozenset(domains)))


def test_a_missing_file_refuses_everything(tmp_path: Path) -> None:
    policy = load_grants(tmp_path / "missing.json")
    assert policy == GrantListPolicy()
    assert _ask(policy, "runner", "j", KEY) is LinkDecision.NOT_GRANTED
    assert _ask(policy, "hospital-a", "j", SUBMIT, "j") is LinkDecision.NOT_GRANTED


def test_submitters_submit_and_key_receivers_receive_keys_never_the_reverse(
    tmp_path: Path,
) -> None:
    policy = load_grants(_write(tmp_path, [STUDY, OTHER]))
    assert policy.grants[0] == LinkGrant(
        "study-1",
        frozenset({"study-1", "hospital-a"}),
        frozenset({"hospital-a", "pharmacy-b"}),
        frozenset({"runner"}),
    )
    allowed, refused = LinkDecision.ALLOWED, LinkDecision.KEY_RECEIVER
    assert _ask(policy, "hospital-a", "study-1", SUBMIT, "study-1") is allowed
    assert _ask(policy, "hospital-a", "study-1", SUBMIT, "hospital-a", "study-1") is allowed
    assert _ask(policy, "runner", "study-1", KEY) is allowed
    # the dictionary attack: the key receiver submits freshly encrypted guesses (global domain)
    assert _ask(policy, "runner", "study-1", SUBMIT, "study-1") is refused
    # ... or moves them through a domain its keys decrypt in, or names its job with a new domain
    assert _ask(policy, "runner", "study-2", SUBMIT, "hospital-a", "study-2") is refused
    assert _ask(policy, "runner", "study-1", SUBMIT, "elsewhere") is refused
    # a key receiver may submit into a domain none of its keys decrypt in
    assert _ask(policy, "runner", "study-2", SUBMIT, "study-2") is allowed
    not_granted = LinkDecision.NOT_GRANTED
    assert _ask(policy, "hospital-a", "study-1", KEY) is not_granted
    assert _ask(policy, "pharmacy-b", "study-1", SUBMIT, "study-9") is not_granted
    assert _ask(policy, "hospital-a", "study-2", SUBMIT, "study-2") is not_granted
    assert _ask(policy, "stranger", "study-1", SUBMIT, "study-1") is not_granted
    # grants name participants, not ids: an id equal to a granted name grants nothing
    impostor = LinkRequest("runner", "mallory", "study-1", KEY, frozenset())
    assert policy.decide(impostor) is not_granted
    assert policy.key_domains("runner") == frozenset({"study-1", "hospital-a"})


@pytest.mark.parametrize(
    ("grants", "expected"),
    [
        pytest.param(
            [STUDY | {"key_receivers": ["runner", "pharmacy-b"]}],
            "pharmacy-b would both submit into domain hospital-a (job study-1) and receive "
            "session keys that decrypt in it (job study-1)",
            id="one-grant",
        ),
        pytest.param(
            [STUDY | {"submitters": ["hospital-a"]}, OTHER | {"domains": ["study-2", "study-1"]}],
            "runner would both submit into domain study-1 (job study-2) and receive session keys "
            "that decrypt in it (job study-1)",
            id="another-job-into-this-domain",
        ),
        pytest.param(
            [
                {"job": "s", "domains": ["s"], "submitters": [], "key_receivers": ["runner"]},
                {"job": "s", "domains": ["h"], "submitters": ["runner"], "key_receivers": []},
            ],
            "runner would both submit into domain h (job s) and receive session keys that "
            "decrypt in it (job s)",
            id="the-same-job-in-two-grants",
        ),
    ],
)
def test_a_file_making_someone_both_is_refused_naming_them(
    tmp_path: Path, grants: list[dict[str, Any]], expected: str
) -> None:
    path = _write(tmp_path, grants)
    with pytest.raises(InvalidInputError) as caught:
        load_grants(path)
    message = str(caught.value)
    assert str(path) in message and expected in message and "never both" in message
    with pytest.raises(InvalidInputError, match="would both submit"):
        GrantListPolicy(_grants(grants))  # built in code: the same rule


def _grants(grants: list[dict[str, Any]]) -> tuple[LinkGrant, ...]:
    """The grants as `LinkGrant`s, without the file's cross-grant check."""
    return tuple(
        LinkGrant(
            g["job"],
            frozenset(g["domains"]),
            frozenset(g["submitters"]),
            frozenset(g["key_receivers"]),
        )
        for g in grants
    )


def test_the_old_callers_form_is_refused_with_how_to_rewrite_it(tmp_path: Path) -> None:
    old = {"job": "study-1", "domains": ["study-1"], "callers": ["hospital-a", "runner"]}
    path = _write(tmp_path, [old])
    with pytest.raises(InvalidInputError) as caught:
        load_grants(path)
    message = caught.value.render("en")
    assert message.startswith(f"the PEP link grants in {path} are refused: ")
    assert 'it uses the old form "callers"; rewrite each grant as {"job", "domains", ' in message
    assert '"submitters": [the holders whose data is linked], "key_receivers": [the job' in message
    chinese = caught.value.render("zh_CN")
    assert str(path) in chinese and '"callers"' in chinese and '"key_receivers"' in chinese
    assert "rewrite" not in chinese and "refused" not in chinese  # the reason is translated too


@pytest.mark.parametrize("field", ["submitters", "key_receivers"])
def test_a_wildcard_is_refused(tmp_path: Path, field: str) -> None:
    grant = {"job": "j", "domains": ["j"], "submitters": [], "key_receivers": []} | {field: ["*"]}
    with pytest.raises(InvalidInputError, match=f"'\\*' is not allowed in {field}"):
        load_grants(_write(tmp_path, [grant]))


@pytest.mark.parametrize(
    ("grants", "needle"),
    [
        pytest.param(
            [STUDY | {"submitters": ["01JDQ6ZC5X8B0S2V3W4Y5Z6A7B"]}],
            '"01JDQ6ZC5X8B0S2V3W4Y5Z6A7B" in submitters is not a participant name',
            id="an-id",
        ),
        pytest.param([STUDY | {"key_receivers": ["Runner"]}], "not a participant", id="bad-name"),
        pytest.param(
            [{k: v for k, v in STUDY.items() if k != "key_receivers"}],
            "exactly the keys domains, job, key_receivers, submitters, not domains, job, "
            "submitters",
            id="missing-key",
        ),
        pytest.param([STUDY | {"key_receiver": []}], "exactly the keys", id="unknown-key"),
        pytest.param([STUDY | {"domains": "study-1"}], "domains must be a list", id="not-a-list"),
        pytest.param([STUDY | {"submitters": [1]}], "submitters must be a list", id="not-text"),
        pytest.param([STUDY | {"domains": []}], "names no domain", id="no-domain"),
        pytest.param([STUDY | {"job": "a#b"}], "job name must be", id="bad-job"),
        pytest.param([STUDY | {"domains": ["x\n"]}], "domain name must be", id="bad-domain"),
        pytest.param(["grant"], "exactly the keys", id="not-an-object"),
        pytest.param({"grant": []}, 'must hold {"grants": [...]}', id="no-grants"),
    ],
)
def test_bad_grants_are_refused(tmp_path: Path, grants: Any, needle: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        load_grants(_write(tmp_path, grants))
    assert needle in str(caught.value)


def test_a_file_that_is_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pep-links.json"
    path.write_text("{grants")
    with pytest.raises(InvalidInputError, match="cannot read the PEP link grants"):
        load_grants(path)
